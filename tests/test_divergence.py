"""The divergence guard, and a sweep of random parameter points that must find no divergence.

A diverged run (a price beyond `run.divergence_ratio` times its fundamental, or not finite) is
a failure of the model, never data. The property test draws every numeric parameter of the
dynamics at once, each uniformly over its plausible range (`model/ranges.py`: a factor of two
around its default unless a source says otherwise), runs a short, small market, and asserts
that no point diverges.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
import pytest
from crypto401k.experiments.worker import execute
from crypto401k.model.config import Config
from crypto401k.model.model import Crypto401kModel
from crypto401k.model.ranges import EXPLICIT, dynamic_parameters
from hypothesis import HealthCheck, given, settings
from hypothesis import seed as fixed_seed
from hypothesis import strategies as st

from tests.conftest import small_config

TINY = {
    "savers.n_cohorts": 60,
    "savers.n_employers": 6,
    "traders.n_traders": 60,
    "institutions.n_funds": 4,
    "institutions.n_lenders": 2,
    "institutions.n_market_makers": 2,
    "run.steps": 180,
    "run.burn_in_days": 30,
}


PARAMETERS = dynamic_parameters()


@st.composite
def parameter_points(draw) -> dict[str, Any]:
    point: dict[str, Any] = {}
    for key, (kind, lo, hi) in PARAMETERS.items():
        u = draw(st.floats(0.0, 1.0))
        value = lo + u * (hi - lo)
        point[key] = round(value) if kind is int else value
    # the one cross-field rule: a margin limit at or above the target
    inst = "institutions.leverage_target", "institutions.leverage_max"
    if inst[0] in point and inst[1] in point and point[inst[1]] < point[inst[0]]:
        point[inst[0]], point[inst[1]] = point[inst[1]], point[inst[0]]
    return point


def test_the_sweep_covers_every_dynamic_parameter_with_a_range():
    # a parameter added to a dynamic section is drawn too, inside its validated bounds
    assert len(PARAMETERS) >= 70
    for key, (_, lo, hi) in PARAMETERS.items():
        assert math.isfinite(lo) and math.isfinite(hi) and lo <= hi, key
    for key in ("institutions.leverage_max", "market.impact_multiplier", "outside.adjust_speed"):
        assert PARAMETERS[key][1] < PARAMETERS[key][2]
    assert set(EXPLICIT) <= set(PARAMETERS)


# 1,000 points of 120 days in 10 parts of 100 (the default hypothesis profile; issue 17 asks
# for at least 1,000 short runs); HYPOTHESIS_PROFILE=thorough runs 10 x 400 = 4,000 points of
# half a year (docs/testing.md records the last such run). Each part's points are drawn from
# its own fixed seed: the same points on every run (a verdict, not a lottery), and parts that
# pytest-xdist spreads over the cores instead of one test that holds one core for minutes.
# Distinct seeds give distinct points: together as many independent draws as one test of that
# many examples.
THOROUGH = os.environ.get("HYPOTHESIS_PROFILE", "default") == "thorough"
SWEEP_PARTS = 10
SWEEP_POINTS = 4000 if THOROUGH else 1000
SWEEP_DAYS = 180 if THOROUGH else 120


@pytest.mark.parametrize("part", range(SWEEP_PARTS))
def test_no_point_in_the_documented_ranges_diverges(part):
    @fixed_seed(20_251_127 + part)
    @settings(
        max_examples=SWEEP_POINTS // SWEEP_PARTS,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(point=parameter_points(), seed=st.integers(0, 10_000))
    def no_divergence(point, seed):
        cfg = Config().with_overrides({**TINY, "run.steps": SWEEP_DAYS, **point})
        m = Crypto401kModel(cfg, rng=seed)
        m.run()
        assert np.isfinite(m.market.price).all()
        ratio = m.config.run.divergence_ratio
        assert not m.diverged, (
            f"diverged: max |log(P/F)| {m.max_mispricing.max():.2f} > log({ratio}) at {point}"
        )

    no_divergence()


def test_the_guard_flags_a_price_far_from_its_fundamental():
    m = Crypto401kModel(small_config(**{"run.steps": 20}), rng=1)
    m.run_for(5)
    assert not m.diverged
    m.market.log_base = m.market.log_base + math.log(1e6)  # a million-fold gap
    m.step()
    assert m.diverged
    assert m.max_mispricing.max() > math.log(20.0)


def test_a_diverged_run_is_recorded_as_a_failure_not_data():
    task = {
        "point": 0,
        "seed": 1,
        "overrides": {"run.steps": 30, "run.divergence_ratio": 1.0001},
        "window_days": 10,
    }
    record = execute(task)
    assert record["status"] == "diverged"
    assert "diverged" in record["error"] and record["max_log_mispricing"] > 0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_deep_crash_after_an_exchange_failure_does_not_run_away(seed):
    """The browser app's runaway (issue 17): four assets, the largest exchange fails on day
    10, a 90% fall of every fundamental on day 30; BTC reached about 1,000x its fundamental."""
    from crypto401k.model import scenarios

    cfg = scenarios.load("four_assets").with_overrides(
        {
            "exchanges.fail_day": 10,
            "exchanges.fail_exchange": 0,
            "shock.day": 30,
            "shock.fundamental_drop": 0.9,
            "run.steps": 200,
            "savers.n_cohorts": 300,
            "traders.n_traders": 200,
        }
    )
    m = Crypto401kModel(cfg, rng=seed)
    m.run()
    assert not m.diverged, m.max_mispricing
