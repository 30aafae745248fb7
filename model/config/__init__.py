"""Typed, validated parameters of the crypto401k model.

One `Config` object holds every parameter, grouped in sections. Each field carries its unit,
its meaning and its source (or the stated reason for its value) in the field metadata; the
ODD parameter table and the CLI help are generated from the same metadata, so the docs and
the code cannot drift apart.

Validation happens once, here, at the boundary (scikit-learn's habit): the model trusts a
`Config` it is given. A user's mistake raises `ConfigError` with one message naming the
field, its value and what is allowed.

Money is in US dollars, time in days (one step = one day; crypto trades 365 days a year),
quantities of an asset in coins of that asset.
"""

from __future__ import annotations

from crypto401k.model.config.agencies import (
    AGENCIES,
    AGENCY_SOURCES,
    INSTRUMENT_RANGE,
    INSTRUMENTS,
    AgenciesConfig,
    AgencyConfig,
    RuleConfig,
)
from crypto401k.model.config.agents import InstitutionConfig, SaverConfig, TraderConfig
from crypto401k.model.config.base import P, Section
from crypto401k.model.config.docs import parameter_markdown, parameter_table
from crypto401k.model.config.errors import ConfigError
from crypto401k.model.config.fiscal import FiscalConfig
from crypto401k.model.config.inputs import parse_set_option
from crypto401k.model.config.market import (
    AssetConfig,
    ExchangeConfig,
    MarketConfig,
    OutsideConfig,
    ShockConfig,
    StablecoinConfig,
)
from crypto401k.model.config.network import NetworkConfig
from crypto401k.model.config.regulator import RegulatorConfig
from crypto401k.model.config.run import RunConfig
from crypto401k.model.config.scenario import Config

__all__ = [
    "AGENCIES",
    "AGENCY_SOURCES",
    "INSTRUMENTS",
    "INSTRUMENT_RANGE",
    "AgenciesConfig",
    "AgencyConfig",
    "AssetConfig",
    "Config",
    "ConfigError",
    "ExchangeConfig",
    "FiscalConfig",
    "InstitutionConfig",
    "MarketConfig",
    "NetworkConfig",
    "OutsideConfig",
    "P",
    "RegulatorConfig",
    "RuleConfig",
    "RunConfig",
    "SaverConfig",
    "Section",
    "ShockConfig",
    "StablecoinConfig",
    "TraderConfig",
    "parameter_markdown",
    "parameter_table",
    "parse_set_option",
]
