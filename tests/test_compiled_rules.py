"""The compiled rules (numba) against the numpy array rules they replaced
(tests/array_rules.py): a model run with the old rules patched in and one with the compiled
rules must give the same records and the same final state, bit for bit (savers, traders,
institutions). Four assets, so that
the products over assets and the sums over rows of several columns are compared too."""

import numpy as np
import pytest
from crypto401k.model import market as market_module
from crypto401k.model import model as model_module
from crypto401k.model import numpy_calls, scenarios
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
    "close_small",
    "after_trade",
)
SMALL = {"savers.n_cohorts": 300, "traders.n_traders": 150}
# a crash with leveraged traders, panic and a hair-trigger regulator (its warning, caps and
# forced unwind), plans opening over the run and the reallocation channel, and an
# institution's default (its creditors take the loss, some may follow) and its re-entry:
# the credit draws, repayments and the default cascade are compared too
CRASH = {
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
    "shock.default_institution": 0,
    "institutions.reentry_days": 30,
}
NINE = 9  # from 8 assets numpy sums a row pairwise, not one column after another
CASES = {
    "crash": ("four_assets", CRASH),
    # the plans run into the concentration cap; brokers' credit binds
    "capped": (
        "four_assets",
        {
            "savers.max_float_share": 0.0002,
            "traders.margin_credit_share": 0.001,
            "traders.leverage_share": 0.3,
            "shock.day": 60,
            "shock.fundamental_drop": 0.5,
        },
    ),
    # one asset: every sum over rows is numpy's pairwise sum of a single column
    "one_asset": ("btc_only", {**SMALL, **CRASH}),
    # market makers first in number: the layoff's sums over many rows
    "market_makers": (
        "btc_only",
        {
            **SMALL,
            **CRASH,
            "institutions.n_funds": 2,
            "institutions.n_lenders": 1,
            "institutions.n_market_makers": 10,
        },
    ),
    "nine_assets": (
        "btc_only",
        {
            **SMALL,
            **CRASH,
            "traders.leverage_share": 0.6,
            "assets": [
                {
                    "name": f"C{j}",
                    "market_cap_usd": 1e11 * (j + 1),
                    "initial_price_usd": 10.0 * (j + 1),
                    "fundamental_vol_annual": 0.5,
                }
                for j in range(NINE)
            ],
            "market.correlation": [
                [1.0 if i == j else 0.3 for j in range(NINE)] for i in range(NINE)
            ],
            "savers.menu": [1.0 / NINE] * NINE,
        },
    ),
}


def _run(scenario: str, overrides: dict, seed: int, days: int) -> Crypto401kModel:
    cfg = scenarios.load(scenario).with_overrides({**overrides, "run.steps": days})
    m = Crypto401kModel(cfg, rng=seed)
    m.run()
    return m


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal as IEEE bit patterns (so -0.0 is not 0.0), NaN where the other is NaN."""
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind != "f" or b.dtype.kind != "f":
        return a.shape == b.shape and bool(np.array_equal(a, b))
    a, b = a.astype(np.float64), b.astype(np.float64)
    if a.shape != b.shape or not np.array_equal(np.isnan(a), np.isnan(b)):
        return False
    keep = ~np.isnan(a)
    return bool(np.array_equal(a[keep].view(np.int64), b[keep].view(np.int64)))


@pytest.mark.skipif(not numpy_calls.AVAILABLE, reason="numpy's routines not callable here")
@pytest.mark.parametrize("case", sorted(CASES))
def test_compiled_rules_give_the_array_rules_model_bit_for_bit(case, monkeypatch):
    scenario, overrides = CASES[case]
    days = 240 if scenario == "four_assets" else 150
    compiled = _run(scenario, overrides, 4, days)
    with monkeypatch.context() as patch:
        patch.setattr(TraderPopulation, "decide", array_rules.trader_decide)
        patch.setattr(TraderPopulation, "settle", array_rules.trader_settle)
        patch.setattr(TraderPopulation, "refill", array_rules.trader_refill)
        patch.setattr(SaverPopulation, "decide", array_rules.saver_decide)
        patch.setattr(SaverPopulation, "settle", array_rules.saver_settle)
        patch.setattr(SaverPopulation, "close_marks", array_rules.saver_close_marks)
        patch.setattr(SaverPopulation, "update_offer", array_rules.saver_update_offer)
        patch.setattr(SaverPopulation, "fill_within_cap", array_rules.saver_fill_within_cap)
        patch.setattr(SaverPopulation, "fill", staticmethod(array_rules.fill))
        patch.setattr(model_module, "_supply_scale", array_rules.supply_scale)
        patch.setattr(model_module.Crypto401kModel, "_fear_share", array_rules.model_fear_share)
        patch.setattr(model_module.Crypto401kModel, "_record_marks", array_rules.model_record_marks)
        patch.setattr(model_module, "menu_drawdown", array_rules.menu_drawdown)
        patch.setattr(model_module, "close_books", array_rules.close_books)
        patch.setattr(model_module, "_net_flow", array_rules.net_flow)
        patch.setattr(Market, "stress", array_rules.market_stress)
        patch.setattr(Market, "record_return", array_rules.market_record_return)
        patch.setattr(Market, "depth_factor", array_rules.market_depth_factor)
        patch.setattr(Market, "counterparty_shares", array_rules.market_counterparty_shares)
        patch.setattr(Market, "quote", array_rules.market_quote)
        patch.setattr(market_module, "linear_impact", array_rules.linear_impact)
        patch.setattr(market_module, "_linear_move", array_rules.linear_move)
        patch.setattr(market_module, "_apply_move", array_rules.apply_move)
        patch.setattr(market_module, "random_walk", array_rules.random_walk)
        for name in INSTITUTION_METHODS:
            patch.setattr(InstitutionPopulation, name, getattr(array_rules, f"institution_{name}"))
        array = _run(scenario, overrides, 4, days)
    a = compiled.datacollector.get_model_vars_dataframe()
    b = array.datacollector.get_model_vars_dataframe()
    # the comparison reaches the branches it is meant to
    assert a.liquidations.iloc[-1] > 0
    if case == "crash":
        assert a.panicked_savers.max() > 0
        assert a.policy_level.max() == 4  # up to the forced unwind
        assert a.defaults.iloc[-1] > 0 and compiled.institutions.entries > 0
    if case == "capped":
        held = compiled.savers.coins.sum(axis=0)
        assert (held > 0.9 * compiled.savers.cap_coins).any()
    assert list(a.columns) == list(b.columns)
    for column in a.columns:
        assert same_bits(a[column].to_numpy(), b[column].to_numpy()), column
    for pop in ("savers", "traders", "institutions"):
        for name, value in vars(getattr(compiled, pop)).items():
            if isinstance(value, np.ndarray) and value.dtype != object:
                other = getattr(getattr(array, pop), name)
                assert same_bits(value, other), f"{pop}.{name}"
    for name in ("outside_coins", "outside_cash", "holding_pnl"):
        assert same_bits(getattr(compiled, name), getattr(array, name)), name


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


def test_a_nan_in_the_savers_sums_reaches_the_ledger_as_in_the_array_rule():
    """The compiled rule tells the ledger which steps ran by flags, not by a NaN sum, so a
    NaN that arises in a step (here a reallocation base) is booked as the array rule books it."""
    import copy

    from crypto401k.model.ledger import Ledger
    from crypto401k.model.policy import PolicyEffects

    cfg = scenarios.load("btc_only").with_overrides({**SMALL, **CRASH, "run.steps": 60})
    m = Crypto401kModel(cfg, rng=4)
    m.run_for(45)
    day = 45  # plans opened on day 0: reallocation runs from day 30
    savers = m.savers
    start = savers.first_offer + cfg.savers.reallocation_start_day
    phase = savers.opted_in & (savers.first_offer >= 0) & (start <= day)
    phase &= day < start + cfg.savers.reallocation_days
    assert phase.any()
    books = []
    for decide in (SaverPopulation.decide, array_rules.saver_decide):
        pop = copy.deepcopy(savers)
        pop.realloc_base[np.flatnonzero(phase)[0]] = np.nan
        ledger = Ledger(lost_coins=np.zeros(1), redeemed_coins=np.zeros(1))
        rng = np.random.default_rng(1)
        decide(pop, day, m.market.price, 0.1, np.zeros(pop.n), PolicyEffects.none(), rng, ledger)
        books.append(ledger.to_market)
    assert np.isnan(books[0]) and np.isnan(books[1])
