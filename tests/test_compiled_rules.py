"""The compiled rules (numba) against the numpy array rules they replaced
(tests/array_rules.py): a model run with the old rules patched in and one with the compiled
rules must give the same records and the same final state, bit for bit (savers, traders,
institutions). Four assets, so that
the products over assets and the sums over rows of several columns are compared too."""

import numpy as np
import pytest
from crypto401k.model import market as market_module
from crypto401k.model import model as model_module
from crypto401k.model import scenarios
from crypto401k.model.agents.institution import InstitutionPopulation
from crypto401k.model.agents.saver import SaverPopulation
from crypto401k.model.agents.trader import TraderPopulation
from crypto401k.model.market import Market
from crypto401k.model.model import Crypto401kModel
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tests import array_rules

INSTITUTION_METHODS = (
    "claims",
    "liabilities",
    "equity",
    "mm_capacity",
    "pay_out",
    "decide",
    "buying_power",
    "draw_credit",
    "repay",
    "resolve_defaults",
    "layoff",
    "close_small",
    "take_flow",
)
CASES = {
    # a crash with leveraged traders, panic and a hair-trigger regulator (its warning, caps and
    # forced unwind), plans opening over the run and the reallocation channel
    "crash": {
        "shock.day": 60,
        "shock.fundamental_drop": 0.6,
        "savers.channel": "payroll+reallocation",
        "savers.offer_share_start": 0.3,
        "savers.offer_ramp_days": 100,
        "savers.uptake": 0.7,
        "traders.leverage_share": 0.3,
        "regulator.threshold": 0.1,
        "regulator.lag_days": 5,
        "regulator.leverage_cap": 1.5,
        # an institution defaults (its creditors take the loss, some may follow) and is
        # replaced: the credit draws, repayments and the default cascade are compared too
        "shock.default_institution": 0,
        "institutions.reentry_days": 30,
    },
    # the plans run into the concentration cap; brokers' credit binds
    "capped": {
        "savers.max_float_share": 0.0002,
        "traders.margin_credit_share": 0.001,
        "traders.leverage_share": 0.3,
        "shock.day": 60,
        "shock.fundamental_drop": 0.5,
    },
}


def _run(overrides: dict, seed: int) -> Crypto401kModel:
    cfg = scenarios.load("four_assets").with_overrides({**overrides, "run.steps": 240})
    m = Crypto401kModel(cfg, rng=seed)
    m.run()
    return m


@pytest.mark.parametrize("case", sorted(CASES))
def test_compiled_rules_give_the_array_rules_model_bit_for_bit(case, monkeypatch):
    compiled = _run(CASES[case], seed=4)
    with monkeypatch.context() as patch:
        patch.setattr(TraderPopulation, "decide", array_rules.trader_decide)
        patch.setattr(TraderPopulation, "settle", array_rules.trader_settle)
        patch.setattr(TraderPopulation, "refill", array_rules.trader_refill)
        patch.setattr(SaverPopulation, "decide", array_rules.saver_decide)
        patch.setattr(SaverPopulation, "settle", array_rules.saver_settle)
        patch.setattr(SaverPopulation, "within_cap", array_rules.within_cap)
        patch.setattr(SaverPopulation, "fill", staticmethod(array_rules.fill))
        patch.setattr(model_module, "supply_scale", array_rules.supply_scale)
        patch.setattr(model_module.Crypto401kModel, "_fear_share", array_rules.model_fear_share)
        patch.setattr(model_module, "column_sums", array_rules.column_sums_of_numpy)
        patch.setattr(Market, "stress", array_rules.market_stress)
        patch.setattr(Market, "record_return", array_rules.market_record_return)
        patch.setattr(Market, "depth_factor", array_rules.market_depth_factor)
        patch.setattr(Market, "counterparty_shares", array_rules.market_counterparty_shares)
        patch.setattr(market_module, "linear_impact", array_rules.linear_impact)
        for name in INSTITUTION_METHODS:
            patch.setattr(InstitutionPopulation, name, getattr(array_rules, f"institution_{name}"))
        array = _run(CASES[case], seed=4)
    a = compiled.datacollector.get_model_vars_dataframe()
    b = array.datacollector.get_model_vars_dataframe()
    # the comparison reaches the branches it is meant to
    assert a.liquidations.iloc[-1] > 0
    if case == "crash":
        assert a.panicked_savers.max() > 0
        assert a.policy_level.max() == 4  # up to the forced unwind
    else:
        held = compiled.savers.coins.sum(axis=0)
        assert (held > 0.9 * compiled.savers.cap_coins).any()
    assert list(a.columns) == list(b.columns)
    for column in a.columns:
        assert np.array_equal(a[column].to_numpy(), b[column].to_numpy(), equal_nan=True), column
    if case == "crash":
        assert a.defaults.iloc[-1] > 0 and compiled.institutions.entries > 0
    for pop in ("savers", "traders", "institutions"):
        for name, value in vars(getattr(compiled, pop)).items():
            if isinstance(value, np.ndarray) and value.dtype != object:
                other = getattr(getattr(array, pop), name)
                assert np.array_equal(value, other, equal_nan=True), f"{pop}.{name}"


@given(
    arrays(np.float64, st.integers(1, 6), elements=st.floats(-1e3, 1e3, width=64)),
    st.floats(0.1, 20.0),
    st.floats(0.0, 1.0),
)
def test_the_compiled_impact_law_is_the_array_one(share, multiplier, kink):
    """Signed zeros, the kink's both sides and a kink of zero: the same bits."""
    kinks = np.full(share.shape, kink)
    new = market_module.linear_impact(share, multiplier, kinks)
    old = array_rules.linear_impact(share, multiplier, kinks)
    assert np.array_equal(new.view(np.int64), old.view(np.int64))
