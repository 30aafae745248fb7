"""crypto401k: an agent-based model of 401(k) money flowing into a crypto market."""

from importlib.metadata import version

from crypto401k.model.config import Config, ConfigError
from crypto401k.model.model import Crypto401kModel

__all__ = ["Config", "ConfigError", "Crypto401kModel"]
__version__ = version("crypto401k")
