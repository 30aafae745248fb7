"""The four agent types, one module each: state arrays, the vectorized rule, the Mesa view."""

from crypto401k.model.agents.institution import Institution
from crypto401k.model.agents.saver import RetirementSaver
from crypto401k.model.agents.trader import RetailTrader

__all__ = ["Institution", "RetailTrader", "RetirementSaver"]
