"""The optional parts and the extra that installs each: a missing one is one clear message.

`pip install crypto401k` is the model, single runs, validation and the experiments on local
processes. The browser app (`[app]`), Dask clusters (`[dask]`) and the sensitivity analysis
(`[sensitivity]`, SALib) are extras; `[all]` installs every one (`.ci/install` does).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from crypto401k.model.config import ConfigError

EXTRAS = {"app": "solara", "dask": "distributed", "sensitivity": "SALib"}


class MissingExtraError(ConfigError):
    """An optional part was asked for without its extra installed (the CLI exits 2)."""


def require(module: str, extra: str, purpose: str) -> ModuleType:
    """`module`, imported; MissingExtraError naming `extra` when it is not installed.

    `purpose` says what needs it, e.g. "the sensitivity experiment (Morris, Sobol)"."""
    try:
        return importlib.import_module(module)
    except ImportError:
        top = module.split(".")[0]
        raise MissingExtraError(
            f"{purpose} needs {top}, an optional part: install it with "
            f"pip install 'crypto401k[{extra}]'"
        ) from None
