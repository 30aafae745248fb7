"""Behaviour of the whole model: the 401(k) channels, shocks, the regulator, Mesa APIs."""

import mesa
import numpy as np
import pytest
from crypto401k.model.agents import Institution, RetailTrader, RetirementSaver
from crypto401k.model.agents.institution import LENDER
from crypto401k.model.model import HOLDERS, MODEL_REPORTERS, Crypto401kModel

from tests.conftest import small_config


def _run(**kw):
    m = Crypto401kModel(small_config(**kw))
    m.run()
    return m, m.datacollector.get_model_vars_dataframe()


def test_allocation_zero_means_no_crypto_and_no_loss():
    m, df = _run(
        savers__allocation=0.0,
        savers__channel="payroll+reallocation",
        shock__day=50,
        shock__fundamental_drop=0.6,
    )
    assert (m.savers.coins == 0).all()
    assert (df["saver_crypto_wealth"] == 0).all() and (df["saver_loss"] == 0).all()
    assert (df["flow_savers"] == 0).all() and (df["panicked_savers"] == 0).all()


def test_regulator_that_never_triggers_changes_nothing():
    base = dict(savers__allocation=0.05, shock__day=50, shock__fundamental_drop=0.5)
    _, on = _run(regulator__enabled=True, regulator__threshold=1e6, **base)
    _, off = _run(regulator__enabled=False, **base)
    assert (on["policy_level"] == 0).all()
    cols = [c for c in MODEL_REPORTERS if c != "regulator_pressure"]
    assert on[cols].equals(off[cols])


def test_payroll_inflows_accumulate_crypto():
    m, df = _run(savers__allocation=0.05, savers__panic_rate_crash=0.0)
    assert df["saver_crypto_wealth"].iloc[-1] > 0
    per_day = 0.05 * m.config.savers.contributions_usd_per_year / 365
    assert 0.5 * per_day * 200 < m.ledger.to_market < 1.5 * per_day * 200


def test_reallocation_channel_moves_existing_balances():
    _, payroll = _run(savers__allocation=0.03, savers__panic_rate_crash=0.0)
    m, both = _run(
        savers__allocation=0.03,
        savers__channel="payroll+reallocation",
        savers__reallocation_start_day=0,
        savers__reallocation_days=100,
        savers__panic_rate_crash=0.0,
    )
    assert both["saver_crypto_wealth"].iloc[-1] > 5 * payroll["saver_crypto_wealth"].iloc[-1]
    assert m.ledger.to_market > 0.5 * 0.03 * m.initial_plan_dollars


def test_fundamental_shock_crashes_price_and_savers_lose():
    _, df = _run(
        savers__allocation=0.05,
        savers__channel="payroll+reallocation",
        savers__reallocation_start_day=0,
        savers__reallocation_days=30,
        shock__day=100,
        shock__fundamental_drop=0.6,
    )
    assert df["price"].iloc[101] < 0.6 * df["price"].iloc[99]
    assert df["saver_loss"].iloc[-1] > 0


def test_institution_default_shock_is_recorded_and_passes_losses():
    # an institution alive at day 0 (without re-entry the burn-in may have taken some)
    day0 = Crypto401kModel(small_config(institutions__reentry_days=None))
    i = int(np.flatnonzero(day0.institutions.alive)[0])
    m, df = _run(shock__day=20, shock__default_institution=i, institutions__reentry_days=None)
    assert (i in [j for _, j in m.failed]) and df["defaults"].iloc[-1] >= 1
    assert not m.institutions.alive[i]


def test_a_failed_institution_is_replaced_after_the_reentry_wait():
    kw = {"run__steps": 80, "institutions__reentry_days": 30}
    day0 = Crypto401kModel(small_config(**kw)).institutions
    # a lender (funds may close after losses before day 20; lenders do not)
    i = int(np.flatnonzero(day0.alive & (day0.kind == LENDER))[0])
    m, df = _run(shock__day=20, shock__default_institution=i, **kw)
    alive = df["institutions_alive"].to_numpy()  # row t: after day t-1
    n = m.institutions.n
    assert (20, i) in m.failed
    assert alive[21] < n and m.institutions.alive[i] and m.institutions.entries >= 1
    # the newcomer starts with equity sized to the market and levers up from nothing
    assert m.institutions.equity(m.market.price)[i] > 0


def test_big_crash_with_leverage_causes_liquidations_and_defaults():
    _, df = _run(
        shock__day=20,
        shock__fundamental_drop=0.7,
        # at 4x a fund closes solvent once it has lost 80% (a closure, not a default); at 8x
        # one day of the crash takes it from above that line to below zero
        institutions__leverage_target=8.0,
        institutions__leverage_max=10.0,
        traders__leverage_share=0.3,  # enough leveraged traders to survive the burn-in
    )
    assert df["liquidations"].iloc[-1] > 0
    assert df["defaults"].iloc[-1] > 0


def test_sensitive_regulator_escalates_after_losses():
    _, df = _run(
        savers__allocation=0.05,
        savers__channel="payroll+reallocation",
        savers__reallocation_start_day=0,
        savers__reallocation_days=20,
        shock__day=40,
        shock__fundamental_drop=0.6,
        regulator__threshold=5.0,
        regulator__lag_days=10,
    )
    assert df["policy_level"].max() >= 2
    first_action = int(np.argmax(df["policy_level"].to_numpy() > 0))
    first_alarm = int(np.argmax(df["regulator_pressure"].to_numpy() >= 5.0))
    assert first_action - first_alarm == 10  # acts exactly one lag after pressure crossed


def test_mesa_agents_are_views_of_population_rows():
    m = Crypto401kModel(small_config(savers__allocation=0.05))
    m.run_for(30)
    savers = m.agents_by_type[RetirementSaver]
    traders = m.agents_by_type[RetailTrader]
    insts = m.agents_by_type[Institution]
    assert len(savers) == m.savers.n and len(traders) == m.traders.n
    assert len(insts) == m.institutions.n
    a = savers.to_list()[3]
    assert np.isclose(a.crypto_wealth, m.savers.coins[3] @ m.market.price)
    total = sum(savers.get("crypto_wealth"))
    assert np.isclose(total, m.saver_crypto_wealth)
    assert set(traders.get("strategy")) <= {"fundamentalist", "chartist", "noise"}


def test_runs_under_mesa_batch_run():
    params = {
        "savers.allocation": [0.0, 0.05],
        **{k: v for k, v in {"savers.n_cohorts": 50, "traders.n_traders": 40}.items()},
    }
    results = mesa.batch_run(
        Crypto401kModel,
        parameters=params,
        rng=[1, 2],
        max_steps=20,
        data_collection_period=-1,
        display_progress=False,
        number_processes=1,
    )
    assert len(results) == 4
    assert {r["savers.allocation"] for r in results} == {0.0, 0.05}
    assert all(np.isfinite(r["price"]) for r in results)


def test_agent_data_collection_is_optional():
    m = Crypto401kModel(small_config(run__collect_agent_data=True, run__steps=5))
    m.run()
    savers = m.datacollector.get_agenttype_vars_dataframe(RetirementSaver)
    assert len(savers) == 6 * m.savers.n
    insts = m.datacollector.get_agenttype_vars_dataframe(Institution)
    assert np.isclose(
        insts["wealth"].iloc[-m.institutions.n :].sum(), m.institutions.equity(m.market.price).sum()
    )
    quiet = Crypto401kModel(small_config(run__steps=5))
    quiet.run()
    with pytest.warns(UserWarning, match="No agent-type reporters"):
        assert quiet.datacollector.get_agenttype_vars_dataframe(RetirementSaver).empty


def test_holders_gains_add_up_to_the_change_in_market_value():
    """pnl_<holder> splits every day's revaluation of all coins among the holders."""
    m = Crypto401kModel(small_config(run__steps=200, shock__day=100, shock__fundamental_drop=0.3))
    m.run()
    ts = m.datacollector.get_model_vars_dataframe()
    gains = ts[[f"pnl_{h}" for h in HOLDERS]].sum(axis=1).to_numpy()
    value = np.cumsum(np.r_[0.0, np.diff(ts["price"].to_numpy())]) * m.market.supply[0]
    assert np.allclose(gains, value, rtol=1e-9, atol=1e-3 * m.market.supply[0])
    assert ts["pnl_traders"].iloc[-1] < 0  # a 30% crash costs the traders who hold coins


def test_several_assets_are_recorded_per_asset():
    cfg = small_config(
        assets=[
            {"name": "BTC", "market_cap_usd": 2.2e12, "initial_price_usd": 110_000.0},
            {"name": "ETH", "market_cap_usd": 4.5e11, "initial_price_usd": 3_700.0},
        ],
        market__correlation=[[1.0, 0.75], [0.75, 1.0]],
        savers__menu=[0.7, 0.3],
    )
    m = Crypto401kModel(cfg, rng=2)
    m.run_for(60)
    df = m.datacollector.get_model_vars_dataframe()
    for name in ("price", "fundamental", "log_return", "volatility_30d"):
        assert {f"{name}_BTC", f"{name}_ETH"} <= set(df.columns)
    assert (df.price == df.price_BTC).all()
    # the burn-in holds fundamentals still: day 0's fundamental is the scenario's price
    assert (
        df.fundamental_ETH.iloc[0] == pytest.approx(3_700.0)
        and df.price_ETH.iloc[-1] == m.market.price[1]
    )
    assert not np.array_equal(df.log_return_BTC, df.log_return_ETH)
    one = Crypto401kModel(small_config(), rng=2).datacollector.get_model_vars_dataframe()
    assert not any(c.endswith("_BTC") for c in one.columns)  # one asset: the plain columns
