"""crypto401k: an agent-based model of 401(k) money flowing into a crypto market."""

from importlib.metadata import version
from typing import Any

from crypto401k.model.config import Config, ConfigError

__all__ = ["Config", "ConfigError", "Crypto401kModel"]
__version__ = version("crypto401k")


def __getattr__(name: str) -> Any:
    # the model (and Mesa, scipy, numba under it) is imported on first use, so that reading
    # or checking a configuration, and the command line's usage errors, start in a fraction
    # of the time
    if name == "Crypto401kModel":
        from crypto401k.model.model import Crypto401kModel

        return Crypto401kModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
