"""Model-level invariants, as property tests over random valid configurations (hypothesis).

- conservation: every step, cash and coins across all accounts change only by the recorded
  boundary flows (payroll in, withdrawals out, fraud losses);
- prices stay positive and finite, including in extreme configurations;
- the same seed gives the same output bit for bit.
"""

import numpy as np
import pytest
from crypto401k.model.model import Crypto401kModel
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import small_config

STEPS = 80

scenarios = st.fixed_dictionaries(
    {
        "savers__n_cohorts": st.integers(0, 60),
        "traders__n_traders": st.integers(0, 60),
        "institutions__n_funds": st.integers(0, 4),
        "institutions__n_lenders": st.integers(0, 3),
        "institutions__n_market_makers": st.integers(0, 3),
        "savers__allocation": st.floats(0.0, 1.0),
        "savers__channel": st.sampled_from(["payroll", "payroll+reallocation"]),
        "savers__reallocation_start_day": st.integers(0, 20),
        "savers__reallocation_days": st.integers(1, 60),
        "savers__target_date_share": st.floats(0.0, 1.0),
        "savers__rebalance_interval_days": st.integers(1, 30),
        "savers__payday_sync": st.booleans(),
        "savers__panic_rate_crash": st.floats(0.0, 50.0),
        "savers__retirement_age": st.floats(26.0, 70.0),
        "traders__leverage_share": st.floats(0.0, 1.0),
        "traders__max_leverage": st.floats(1.0, 50.0),
        "traders__chartist_noise": st.floats(0.0, 0.3),
        "traders__chartist_reaction": st.floats(0.0, 3.0),
        "institutions__leverage_target": st.floats(1.0, 10.0),
        "institutions__lender_leverage": st.floats(1.0, 50.0),
        "market__impact_law": st.sampled_from(["linear", "sqrt"]),
        "market__impact_multiplier": st.floats(0.5, 30.0),
        "market__impact_permanent_share": st.floats(0.0, 1.0),
        "market__depth_stress_sensitivity": st.floats(0.0, 10.0),
        "network__topology": st.sampled_from(
            ["barabasi_albert", "watts_strogatz", "erdos_renyi", "stochastic_block"]
        ),
        "regulator__threshold": st.floats(0.01, 100.0),
        "regulator__lag_days": st.integers(0, 30),
        "regulator__circuit_breaker": st.none() | st.floats(0.01, 0.5),
        "regulator__leverage_cap": st.none() | st.floats(1.0, 5.0),
        "shock__day": st.none() | st.integers(0, STEPS - 1),
        "shock__fundamental_drop": st.floats(0.0, 0.95),
        "shock__default_loss": st.floats(0.0, 1.0),
        "run__seed": st.integers(0, 2**31 - 1),
    }
)


def _build(params: dict, fail_first: bool) -> Crypto401kModel:
    n_inst = (
        params["institutions__n_funds"]
        + params["institutions__n_lenders"]
        + params["institutions__n_market_makers"]
    )
    if params["institutions__leverage_target"] > 3.0:
        params["institutions__leverage_max"] = params["institutions__leverage_target"] * 1.5
    params["shock__default_institution"] = 0 if (fail_first and n_inst) else None
    if params["savers__retirement_age"] <= 25.0:
        params["savers__retirement_age"] = 26.0
    return Crypto401kModel(small_config(run__steps=STEPS, **params))


def _assert_books_balance(m: Crypto401kModel, largest: float = 0.0) -> float:
    """Books balance to float64 rounding of the largest gross balances seen so far (relative
    1e-11); returns that largest gross balance."""
    b = m.books()
    gross_cash = (
        np.abs(m.traders.cash).sum()
        + np.abs(m.institutions.cash).sum()
        + abs(m.outside_cash)
        + m.institutions.loans.sum()
    )
    largest = max(largest, gross_cash + m.ledger.to_market + m.ledger.from_market + 1.0)
    assert abs(b["cash"] - b["cash_expected"]) <= 1e-11 * largest
    assert np.allclose(b["coins"], b["coins_expected"], rtol=1e-11, atol=1e-6)
    scale_plan = b["plan_dollars_expected"] + m.ledger.payroll_in + m.ledger.to_market + 1.0
    assert abs(b["plan_dollars"] - b["plan_dollars_expected"]) <= 1e-11 * scale_plan
    return largest


@given(params=scenarios, fail_first=st.booleans())
def test_cash_and_coins_are_conserved_every_step(params, fail_first):
    m = _build(params, fail_first)
    largest = _assert_books_balance(m)
    for _ in range(STEPS):
        m.step()
        largest = _assert_books_balance(m, largest)
        # no account holds negative coins
        assert (m.savers.coins >= 0).all() and (m.traders.coins >= 0).all()
        assert (m.institutions.coins >= 0).all()
        assert (m.outside_coins >= -1e-12 * m.market.supply).all()  # float rounding only
        assert (m.savers.cash == 0).all()


@given(params=scenarios, fail_first=st.booleans())
def test_prices_positive_and_finite(params, fail_first):
    m = _build(params, fail_first)
    m.run()
    df = m.datacollector.get_model_vars_dataframe()
    assert np.isfinite(df.select_dtypes("number").to_numpy()).all()
    assert (df["price"] > 0).all() and (df["fundamental"] > 0).all()


@pytest.mark.parametrize(
    "extreme",
    [
        {
            "savers__allocation": 1.0,
            "savers__channel": "payroll+reallocation",
            "savers__reallocation_start_day": 0,
            "savers__reallocation_days": 5,
        },
        {
            "traders__leverage_share": 1.0,
            "traders__max_leverage": 50.0,
            "traders__leveraged_weight": 50.0,
            "shock__day": 10,
            "shock__fundamental_drop": 0.9,
        },
        {
            "savers__allocation": 1.0,
            "traders__max_leverage": 50.0,
            "traders__leverage_share": 1.0,
            "institutions__leverage_target": 50.0,
            "institutions__leverage_max": 100.0,
            "shock__day": 30,
            "shock__fundamental_drop": 0.9,
            "shock__default_institution": 0,
            "regulator__threshold": 0.01,
            "regulator__lag_days": 0,
        },
    ],
)
def test_extreme_configurations_keep_prices_finite_and_books_balanced(extreme):
    m = Crypto401kModel(small_config(run__steps=300, **extreme))
    largest = 0.0
    for _ in range(300):
        m.step()
        largest = _assert_books_balance(m, largest)
    df = m.datacollector.get_model_vars_dataframe()
    assert np.isfinite(df.select_dtypes("number").to_numpy()).all()
    assert (df["price"] > 0).all()


@given(seed=st.integers(0, 2**31 - 1))
def test_same_seed_same_output_bit_for_bit(seed):
    cfg = small_config(run__steps=60, run__seed=seed, savers__allocation=0.05)
    a, b = Crypto401kModel(cfg), Crypto401kModel(cfg)
    a.run()
    b.run()
    da = a.datacollector.get_model_vars_dataframe()
    db = b.datacollector.get_model_vars_dataframe()
    assert da.equals(db)
    assert np.array_equal(a.savers.coins, b.savers.coins)


def test_different_seed_different_path():
    a = Crypto401kModel(small_config(run__seed=1))
    b = Crypto401kModel(small_config(run__seed=2))
    a.run()
    b.run()
    assert not np.array_equal(
        a.datacollector.get_model_vars_dataframe()["price"],
        b.datacollector.get_model_vars_dataframe()["price"],
    )


def test_rng_argument_overrides_config_seed():
    a = Crypto401kModel(small_config(run__seed=1), rng=5)
    b = Crypto401kModel(small_config(run__seed=5))
    a.run_for(30)
    b.run_for(30)
    assert a.price == b.price
    # the seed is recorded: the model rebuilt from its own config repeats the run
    assert a.config.run.seed == a.seed == 5
    c = Crypto401kModel(a.config)
    c.run_for(30)
    assert c.price == a.price


@pytest.mark.parametrize("bad", [np.random.default_rng(3), 2.5, "7", True, -1, 2**63])
def test_rng_takes_only_an_integer_seed(bad):
    with pytest.raises(ValueError, match=r"^rng = .*: must be an integer seed"):
        Crypto401kModel(small_config(), rng=bad)


def test_rng_takes_a_numpy_integer():
    assert Crypto401kModel(small_config(), rng=np.int64(9)).config.run.seed == 9


@given(days=st.integers(0, 40), more=st.integers(0, 40))
def test_run_goes_to_the_last_day_wherever_it_starts(days, more):
    """`run()` ends on day `run.steps` whatever `step`/`run_for` did before, and is the same
    path as stepping day by day."""
    steps = days + more + 1
    a = Crypto401kModel(small_config(run__steps=steps))
    if days:
        a.run_for(days)
    a.run()
    b = Crypto401kModel(small_config(run__steps=steps))
    for _ in range(steps):
        b.step()
    assert a.steps == b.steps == steps
    assert a.datacollector.get_model_vars_dataframe().equals(
        b.datacollector.get_model_vars_dataframe()
    )
