"""The four agent types, one module each: state arrays, the vectorized rule, the Mesa view."""

from model.agents.institution import Institution
from model.agents.saver import RetirementSaver
from model.agents.trader import RetailTrader

__all__ = ["Institution", "RetailTrader", "RetirementSaver"]
