"""crypto401k: an agent-based model of 401(k) money flowing into a crypto market."""

from model.config import Config, ConfigError
from model.model import Crypto401kModel

__all__ = ["Config", "ConfigError", "Crypto401kModel"]
__version__ = "0.1.0"
