"""The metrics of the several-asset experiments: per-asset names, the event day, cross-asset
correlation, the stablecoin's depeg and who bears it, and plan coins lost at exchanges."""

import numpy as np
import pytest
from crypto401k.experiments.outcomes import event_day, run_metrics
from crypto401k.experiments.registry import metric_info, split_metric
from crypto401k.experiments.spec import load_spec
from crypto401k.model import scenarios
from crypto401k.model.config import ConfigError

SMALL = {
    "scenario": "four_assets",
    "savers.n_cohorts": 150,
    "savers.n_employers": 10,
    "traders.n_traders": 80,
    "savers.allocation": 0.05,
    "regulator.enabled": False,
    "exchanges.failure_rate_annual": 0.0,
    "run.steps": 120,
    # every plan offers crypto and every participant opts in: the plans hold coins to lose
    "savers.offer_share_start": 1.0,
    "savers.offer_share_end": 1.0,
    "savers.uptake": 1.0,
}


def test_per_asset_metric_names():
    assert split_metric("annualized_volatility@DEFI") == ("annualized_volatility", "DEFI")
    assert split_metric("panic_share") == ("panic_share", None)
    assert metric_info("event_drawdown@BTC").label.endswith(", BTC")
    for bad in ("vol", "panic_share@BTC", "annualized_volatility@"):
        with pytest.raises(ValueError, match="unknown"):
            split_metric(bad)


def test_a_per_asset_metric_needs_that_asset_in_the_specs_scenario(tmp_path):
    text = load_spec("assets").model_dump_json()  # a valid spec, rewritten below
    assert "DEFI" in text
    spec = tmp_path / "s.toml"
    spec.write_text(
        'name = "s"\nquestion = "q"\nyears = 0.2\nmetrics = ["annualized_volatility@DEFI"]\n'
        '[grid]\n"savers.allocation" = [0.01]\n'
        '[answer]\nmetric = "annualized_volatility@DEFI"\nsubject = "x"\n'
    )
    with pytest.raises(ConfigError, match="per-asset metrics need a scenario with several"):
        load_spec(str(spec))
    spec.write_text(spec.read_text().replace("years", 'scenario = "mars"\nyears'))
    with pytest.raises(ConfigError, match="scenario = 'mars': must be one of"):
        load_spec(str(spec))


def test_the_event_is_the_first_scheduled_one():
    cfg = scenarios.load("four_assets").with_overrides(
        {"shock.day": 50, "exchanges.fail_day": 30, "stablecoin.shock_day": 40}
    )
    assert event_day(cfg) == 30
    assert event_day(cfg.with_overrides({"exchanges.fail_day": None})) == 40
    assert event_day(scenarios.load("four_assets")) is None
    # an exchange failure without exchanges is no event (the BTC-only scenario has none)
    assert event_day(scenarios.load("btc_only").with_overrides({"shock.day": 7})) == 7


def test_a_crash_in_one_coin_is_measured_per_asset_and_across_assets():
    out = run_metrics(
        {**SMALL, "shock.day": 60, "shock.asset": "DEFI", "shock.fundamental_drop": 0.5}, 3, 50
    )
    # the crash itself: half the fundamental (buyers of the dip soften the price's fall)
    assert out["event_drawdown@DEFI"] < -0.3
    assert out["event_drawdown@DEFI"] < out["event_drawdown@BTC"] <= 0.0
    for k in ("correlation_calm", "correlation_stress"):
        assert -1.0 <= out[k] <= 1.0
    assert out["correlation_rise"] == pytest.approx(
        out["correlation_stress"] - out["correlation_calm"]
    )
    assert {f"annualized_volatility@{a}" for a in ("BTC", "ETH", "DEFI")} <= set(out)
    assert "annualized_volatility@USDC" not in out  # a stablecoin has no market metrics
    assert out["annualized_volatility@BTC"] == out["annualized_volatility"]


def test_a_reserve_loss_never_made_good_is_borne_by_those_who_cannot_redeem():
    overrides = {
        **SMALL,
        "stablecoin.shock_day": 20,
        "stablecoin.shock_reserve_loss": 0.1,
        "stablecoin.backstop_days": None,
    }
    out = run_metrics(overrides, 0, 90)
    assert out["depeg_min_price"] < 0.9 and out["peg_restored"] == 0.0
    assert out["depeg_days"] == 120 - 20 and out["stable_redeemed_share"] > 0.5
    # the hole in the reserve is the holders' loss: first come are paid at par, the last
    # holders are left with coins worth nothing. Savers hold it as the "safe" part of the
    # sleeve and never redeem, so they are among the last
    hole = 0.1 * scenarios.load("four_assets").assets[3].market_cap_usd
    losses = [out[f"stable_loss_{h}_usd"] for h in ("savers", "outside", "institutions")]
    assert sum(losses) == pytest.approx(hole, rel=0.01)
    assert losses[0] > 0
    # traders hold coins only (market makers may hold some: they take the other side)
    assert out["stable_loss_traders_usd"] == 0.0
    made_good = run_metrics({**overrides, "stablecoin.backstop_days": 2}, 0, 90)
    assert made_good["peg_restored"] == 1.0 and made_good["depeg_days"] == 2


@pytest.mark.parametrize("segregated", [True, False])
def test_plan_coins_lost_at_a_failed_exchange_only_without_segregated_custody(segregated):
    overrides = {
        **SMALL,
        "exchanges.fail_day": 60,
        "exchanges.fail_exchange": 0,
        "exchanges.plan_custody_segregated": segregated,
        "savers.n_employers": 40,  # some employers' plans sit at the largest exchange
    }
    out = run_metrics(overrides, 1, 50)
    assert out["exchange_failures"] == 1.0
    assert -1.0 < out["event_week_return"] < 0.0  # the news hits every coin
    if segregated:
        assert out["vanished_savers_usd"] == 0.0
    else:
        assert out["vanished_savers_usd"] > 0.0


def test_runs_without_the_parts_report_nan_not_zero():
    out = run_metrics({"run.steps": 30, "savers.n_cohorts": 100, "traders.n_traders": 50}, 0, 10)
    for k in ("depeg_min_price", "exchange_failures", "vanished_savers_usd", "correlation_calm"):
        assert np.isnan(out[k]), k
    assert not any("@" in k for k in out)


def test_coins_lost_at_a_failed_exchange_are_not_also_counted_as_their_holders_fall():
    from crypto401k.experiments.outcomes import build_model

    m = build_model(
        {**SMALL, "exchanges.fail_day": 30, "exchanges.plan_custody_segregated": False,
         "savers.n_employers": 40},
        1,
    )  # fmt: skip
    m.run_for(30)
    open_coins, p0, pnl0 = m.savers.coins.sum(axis=0), m.market.price.copy(), m.holding_pnl[0]
    m.step()  # the failure day
    lost = m.exchanges.lost_coins[0, 0]
    assert lost.sum() > 0
    # the day's gain is on the coins still held after the loss, not on those that vanished
    expected = (open_coins - lost) @ (m.market.price - p0)
    assert m.holding_pnl[0] - pnl0 == pytest.approx(expected, rel=1e-9)


def test_stablecoin_losses_are_nan_without_an_event():
    out = run_metrics({**SMALL, "run.steps": 40}, 1, 20)
    assert out["depeg_min_price"] == 1.0  # the stablecoin exists and held its peg
    assert all(np.isnan(out[f"stable_loss_{h}_usd"]) for h in ("savers", "outside"))


def test_the_scenario_is_set_once_at_the_top_of_a_spec(tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text(
        'name = "s"\nquestion = "q"\nscenario = "four_assets"\nyears = 0.2\n'
        'metrics = ["annualized_volatility@ETH"]\n[base]\nscenario = "btc_only"\n'
        '[grid]\n"savers.allocation" = [0.01]\n'
        '[answer]\nmetric = "annualized_volatility@ETH"\nsubject = "x"\n'
    )
    with pytest.raises(ConfigError, match=r"base\.scenario: the scenario is set once"):
        load_spec(str(spec))


def test_per_asset_columns_exist_even_when_every_run_failed():
    from crypto401k.experiments.report import collate
    from crypto401k.experiments.spec import grid_points

    spec = load_spec("assets").sized(quick=True)
    points = grid_points(spec)
    failed = [{"point": p.index, "seed": 0, "status": "failed", "error": "x"} for p in points]
    runs = collate(points, failed, spec.metrics)
    assert {"annualized_volatility@BTC", "event_drawdown@DEFI"} <= set(runs.columns)
    assert runs["annualized_volatility@BTC"].isna().all()


def test_the_model_records_the_event_window_however_the_run_is_stepped():
    """The window is the model's record, not the caller's: a run stepped in pieces (a notebook,
    the app) records what `run()` records, and `measure` reads it the way a sweep does."""
    from crypto401k.experiments.outcomes import build_model, measure

    overrides = {**SMALL, "exchanges.fail_day": 30, "exchanges.plan_custody_segregated": False}
    whole = build_model({**overrides, "run.event_window_days": 40}, 2)
    whole.run()
    pieces = build_model({**overrides, "run.event_window_days": 40}, 2)
    for days in (29, 1, 1, 50, 39):
        pieces.run_for(days)
    for m in (whole, pieces):
        w = m.event_window
        assert (w.day, w.days, w.last) == (30, 40, 69)
        assert (w.first_panic[w.first_panic >= 0] >= 30).all()
        assert (w.first_panic <= 69).all()
    a, b = whole.event_window, pieces.event_window
    assert np.array_equal(a.first_panic, b.first_panic) and (a.first_panic >= 0).any()
    assert np.array_equal(a.holding_pnl, b.holding_pnl) and np.isfinite(a.holding_pnl).all()
    assert a.vanished_savers_usd == b.vanished_savers_usd > 0  # plan coins at the exchange
    left, right = measure(whole), measure(pieces)
    assert left.keys() == right.keys()
    assert all(left[k] == right[k] or (np.isnan(left[k]) and np.isnan(right[k])) for k in left)
    sweep = run_metrics(overrides, 2, 40)
    del sweep["_diverged"]
    assert all(left[k] == sweep[k] or (np.isnan(left[k]) and np.isnan(sweep[k])) for k in left)


def test_a_window_past_the_run_s_end_is_cut_there_and_a_run_without_event_records_nothing():
    from crypto401k.experiments.outcomes import build_model, measure

    m = build_model({**SMALL, "shock.day": 100, "shock.fundamental_drop": 0.3}, 1)
    assert m.config.run.event_window_days == 180  # the default: half a year
    with pytest.raises(ValueError, match="finish it first"):
        measure(m)  # its window is still open
    m.run()
    assert (m.event_window.day, m.event_window.last) == (100, 119)
    out = measure(m)
    assert np.isfinite(out["shock_loss_usd"]) and out["shock_loss_usd"] > 0
    quiet = build_model({**SMALL, "run.steps": 30}, 1)
    quiet.run()
    w = quiet.event_window
    assert w.day is None and w.last is None and w.price_before is None
    assert (w.first_panic == -1).all() and np.isnan(w.holding_pnl).all()


def test_the_panic_rate_among_holders_counts_only_the_cohorts_that_held_coins():
    from crypto401k.experiments.outcomes import build_model, measure

    overrides = {
        **SMALL,
        "exchanges.fail_day": 30,
        "exchanges.plan_custody_segregated": False,
        "savers.n_employers": 40,
        "savers.offer_share_start": 0.5,  # some cohorts hold coins, others none
        "savers.uptake": 1.0,
        "run.steps": 120,
        "run.event_window_days": 60,
    }
    m = build_model(overrides, 1)
    m.run_for(30)
    held = (m.savers.coins > 0).any(axis=1)  # at the open of the failure's day
    m.run()
    w, out = m.event_window, measure(m)
    assert np.array_equal(w.held_at_open, held) and 0 < held.sum() < held.size
    panicked = w.first_panic >= 0
    assert out["shock_holders_share"] == held.mean()
    base = held & ~w.panicked_at_open  # holders that could still panic
    assert out["panic_holders_share"] == (panicked & base).sum() / base.sum() > 0
    # without an event both are NaN
    calm = run_metrics({**SMALL, "run.steps": 40}, 1, 20)
    assert np.isnan(calm["panic_holders_share"]) and np.isnan(calm["shock_holders_share"])
