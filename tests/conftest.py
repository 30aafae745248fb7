"""Shared helpers: small scenarios that run in a fraction of a second."""

from __future__ import annotations

import os
from typing import Any

from crypto401k.model.config import Config
from hypothesis import HealthCheck, Phase, settings

settings.register_profile(
    "default",
    deadline=None,
    max_examples=20,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough",
    deadline=None,
    max_examples=200,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(  # generate many cases fast, skip shrinking (for hunting bugs)
    "noshrink",
    deadline=None,
    max_examples=40,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

SMALL = {
    "savers.n_cohorts": 200,
    "savers.n_employers": 10,
    "traders.n_traders": 100,
    "institutions.n_funds": 4,
    "institutions.n_lenders": 3,
    "institutions.n_market_makers": 2,
    "run.steps": 200,
    # every plan offers crypto and every participant opts in (the upper bound): the tests of
    # the other rules see the plans' full flows; tests/test_saver_rule.py checks the offering
    # share, its ramp and the uptake at their own values
    "savers.offer_share_start": 1.0,
    "savers.offer_share_end": 1.0,
    "savers.uptake": 1.0,
}


def small_config(**overrides: Any) -> Config:
    """A small scenario; keyword names use '__' for '.', e.g. savers__allocation=0.05."""
    items = dict(SMALL)
    items.update({k.replace("__", "."): v for k, v in overrides.items()})
    return Config().with_overrides(items)
