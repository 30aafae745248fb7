"""numba's on-disk cache of the compiled rules, invalidated by any change of the model's code.

numba keys a cached function by its own file only (a hash of that file's bytes): a rule in
`model/model.py` that calls, and inlines, a function of `model/network.py` keeps its old
machine code after `network.py` changes. A process would then run yesterday's rule under
today's `source_hash`, silently. The locators here are numba's own (the folder it would
choose: `NUMBA_CACHE_DIR`, the package's `__pycache__`, or the user's cache when that is
read-only), with one change: a function's stamp is its file's hash together with a hash of
every Python file of the model, so that any edit recompiles every rule once. (A user who
sets `NUMBA_CACHE_LOCATOR_CLASSES` replaces numba's list, these included; the code's hash is
taken once per process, so a process should not outlive an edit of the model it runs.)
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from numba.core import caching

MODEL_DIR = Path(__file__).resolve().parent


def code_hash(directory: Path) -> str:
    """SHA-256 (hex) over the relative path and bytes of every `.py` file under `directory`
    (`__pycache__` aside), in path order."""
    digest = hashlib.sha256()
    files = sorted(p for p in directory.rglob("*.py") if "__pycache__" not in p.parts)
    for p in files:
        digest.update(p.relative_to(directory).as_posix().encode())
        digest.update(b"\0")
        digest.update(p.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


@cache
def model_code_hash() -> str:
    """`code_hash` of the model package, computed once per process (~2 ms)."""
    return code_hash(MODEL_DIR)


class _ModelCode:
    """A locator mixin: only the model's functions, stamped with the whole model's code."""

    def get_source_stamp(self):
        return (super().get_source_stamp(), model_code_hash())

    @classmethod
    def from_function(cls, py_func, py_file):
        if not Path(py_file).resolve().is_relative_to(MODEL_DIR):
            return None  # not the model's: numba's own locators follow
        return super().from_function(py_func, py_file)


class UserProvidedLocator(_ModelCode, caching.UserProvidedCacheLocator):
    """`NUMBA_CACHE_DIR`, when set."""


class InTreeLocator(_ModelCode, caching.InTreeCacheLocator):
    """The package's `__pycache__`, when writable."""


class UserWideLocator(_ModelCode, caching.UserWideCacheLocator):
    """The user's cache folder, for a read-only install."""


LOCATORS = (UserProvidedLocator, InTreeLocator, UserWideLocator)
# numba tries its locators in order; the model's go first (in numba's order of the three)
if caching.CacheImpl._locator_classes[: len(LOCATORS)] != list(LOCATORS):
    caching.CacheImpl._locator_classes[:0] = LOCATORS
