"""A content hash of the model's code and built-in data: a stored run is reused only by the
model that made it.

Sweeps and the estimate store each run under a key (`experiments.spec.Point.key`,
`experiments.estimate.point_key`) so that a killed command resumes where it stopped. The
key holds the point's overrides; this hash adds the model itself, so that after a change of
rules or of defaults a resumed command runs the points again instead of mixing runs of two
models. Edits outside `model/` (experiments, docs, tests) keep stored runs valid.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

MODEL_DIR = Path(__file__).resolve().parent
SUFFIXES = (".py", ".toml", ".csv", ".json")


def source_hash(directory: Path) -> str:
    """SHA-256 (first 16 hex digits) over the relative path and bytes of every source and
    data file (`SUFFIXES`) under `directory`, in path order."""
    digest = hashlib.sha256()
    files = sorted(
        p
        for p in directory.rglob("*")
        if p.is_file() and p.suffix in SUFFIXES and "__pycache__" not in p.parts
    )
    for path in files:
        digest.update(path.relative_to(directory).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


@cache
def model_source_hash() -> str:
    """`source_hash` of the installed model package, computed once per process."""
    return source_hash(MODEL_DIR)
