"""The registry of an experiment's metrics: each one's label, unit and meaning, and the
per-asset names (`<metric>@<asset>`)."""

from __future__ import annotations

from typing import NamedTuple


class Metric(NamedTuple):
    label: str
    unit: str
    meaning: str


METRICS: dict[str, Metric] = {
    # market
    "annualized_volatility": Metric(
        "annualized volatility", "1/sqrt(year)", "std of daily log returns x sqrt(365)"
    ),
    "excess_kurtosis": Metric("excess kurtosis", "-", "of daily log returns (0 for a Gaussian)"),
    "max_drawdown": Metric("max drawdown", "fraction", "deepest fall from a running peak (<= 0)"),
    "crash_days": Metric("crash days", "days", "days whose simple return is beyond +-10%"),
    "final_price_ratio": Metric("final / initial price", "-", "price at the end over day 0"),
    "max_log_mispricing": Metric(
        "largest mispricing",
        "log units",
        "max over days and coins of |log(price / fundamental)| (the divergence guard's measure)",
    ),
    # savers
    "saver_loss_share": Metric(
        "savers' loss", "fraction of 401(k) assets", "savers' cumulative crypto losses at the end"
    ),
    "saver_peak_panicked_share": Metric(
        "peak panicked cohorts", "fraction of cohorts", "highest share of cohorts in panic"
    ),
    # institutions and traders
    "defaults": Metric("institution defaults", "count", "institutions that failed"),
    "liquidations": Metric("retail liquidations", "count", "leveraged traders liquidated"),
    # regulator
    "policy_acted": Metric("policy acted", "0/1", "the regulator took at least one action"),
    "policy_max_level": Metric("highest policy rung", "rung", "0 none ... 4 forced unwind"),
    "policy_first_day": Metric("first action day", "day", "day of the first action (NaN: none)"),
    "policy_days_active": Metric("days under policy", "days", "days at rung 1 or higher"),
    "forced_unwind": Metric("forced unwind", "0/1", "the regulator reached the forced unwind"),
    # the agencies (and the regulator in the simple scenario)
    "inflow_start_day": Metric(
        "plan inflows start",
        "day",
        "first day plans may buy crypto: 0 unless the executive order makes them wait for a "
        "'plan_access' rule (NaN: not within the run)",
    ),
    "rules_in_force": Metric(
        "rules in force at the end", "count", "agencies' rules (the regulator's rung without them)"
    ),
    "policy_rule_day": Metric(
        "first reactive rule",
        "day",
        "first day a rule started by pressure (or the regulator's first action) takes effect; "
        "a rule started in the run takes effect on its scheduled day even if that is after the "
        "run's last day (NaN: none started)",
    ),
    "trough_day": Metric("day of the trough", "day", "day the deepest drawdown bottoms out"),
    "rule_after_trough": Metric(
        "rule after the damage",
        "0/1",
        "the first reactive rule takes effect after the trough, counting a rule that takes "
        "effect after the run's end (NaN: no rule started)",
    ),
    "backlash_peak": Metric(
        "peak backlash", "pressure", "highest pressure of the DOL (the regulator without agencies)"
    ),
    "rescue_usd": Metric("rescue spending", "USD", "spent on a fiscal rescue (0: none)"),
    # the government's ledger (present values at day 0)
    "revenue_pv_usd": Metric(
        "tax revenue, PV",
        "USD",
        "income tax on 401(k) contributions (Roth) and withdrawals (traditional, projected), "
        "less rescue spending, at fiscal.discount_rate",
    ),
    "revenue_pv_without_crypto_usd": Metric(
        "tax revenue without crypto, PV", "USD", "the same contributions, no crypto option"
    ),
    "crypto_revenue_effect_usd": Metric(
        "crypto's effect on revenue, PV", "USD", "revenue_pv - revenue_pv_without_crypto"
    ),
    "crypto_revenue_effect_2pct_usd": Metric(
        "crypto's effect on revenue, PV at 2%", "USD", "the same, discounted at 2% a year"
    ),
    "crypto_revenue_effect_at_return_usd": Metric(
        "crypto's effect on revenue, PV at the plan's return",
        "USD",
        "the same, discounted at savers.other_return_annual",
    ),
    "rescue_cost_pv_usd": Metric(
        "rescue cost, PV", "USD", "rescue spending less the value of coins it bought"
    ),
    "tax_forgone_pv_usd": Metric(
        "tax forgone on contributions, PV", "USD", "on traditional contributions during the run"
    ),
    # a scheduled event's window, per asset with several assets
    "event_drawdown": Metric(
        "fall after the event",
        "fraction",
        "lowest price in the event window over the price before the event, minus 1 (<= 0)",
    ),
    "event_week_return": Metric(
        "return in the event's week",
        "fraction",
        "price 7 days after the event's day over the price before it, minus 1",
    ),
    # several coins (NaN with one)
    "correlation_calm": Metric(
        "cross-asset correlation, calm",
        "-",
        "mean over coin pairs of the correlation of daily log returns before the event "
        "(the whole run without one)",
    ),
    "correlation_stress": Metric(
        "cross-asset correlation, stress",
        "-",
        "the same over the event window after the event's day (that one day's jump would "
        "otherwise dominate the window)",
    ),
    "correlation_rise": Metric(
        "rise of correlation in stress", "-", "correlation_stress - correlation_calm"
    ),
    # a stablecoin (NaN without one)
    "depeg_min_price": Metric("stablecoin's lowest price", "USD/coin", "over the run"),
    "depeg_days": Metric("days off the peg", "days", "days the peg was broken"),
    "peg_restored": Metric("peg restored", "0/1", "the peg holds at the end of the run"),
    "stable_redeemed_share": Metric(
        "stablecoin redeemed", "fraction", "share of day-0 supply redeemed in runs"
    ),
    "stable_loss_savers_usd": Metric(
        "savers' loss on the stablecoin", "USD", "mark-to-market, over the event window"
    ),
    "stable_loss_traders_usd": Metric(
        "traders' loss on the stablecoin", "USD", "mark-to-market, over the event window"
    ),
    "stable_loss_institutions_usd": Metric(
        "institutions' loss on the stablecoin", "USD", "mark-to-market, over the event window"
    ),
    "stable_loss_outside_usd": Metric(
        "outside holders' loss on the stablecoin",
        "USD",
        "mark-to-market, over the event window, less their gain from redeeming at par",
    ),
    # exchanges (NaN without any)
    "exchange_failures": Metric("exchange failures", "count", "exchanges failed in the run"),
    "vanished_savers_usd": Metric(
        "savers' coins lost at exchanges",
        "USD",
        "plan coins lost in exchange failures within the event window, at pre-event prices",
    ),
    # a scheduled shock (NaN without one)
    "shock_loss_usd": Metric(
        "market loss after the shock", "USD", "all holders' losses and vanished assets (window)"
    ),
    "shock_loss_savers_usd": Metric("savers' loss after the shock", "USD", "over the window"),
    "shock_loss_traders_usd": Metric("traders' loss after the shock", "USD", "over the window"),
    "shock_loss_institutions_usd": Metric(
        "institutions' loss after the shock", "USD", "over the window"
    ),
    "shock_loss_outside_usd": Metric(
        "outside holders' loss after the shock", "USD", "unmodelled holders, over the window"
    ),
    "shock_loss_vanished_usd": Metric(
        "assets vanished in the failure",
        "USD",
        "a failed institution's coins and cash lost to fraud",
    ),
    "shock_saver_share": Metric(
        "savers' share of the loss",
        "fraction",
        "savers' loss / all losses incl. vanished assets (window)",
    ),
    "panic_share": Metric(
        "share of cohorts that panicked after the shock",
        "fraction of cohorts",
        "panicked within the window",
    ),
    "panic_reach_hops": Metric(
        "panic reach", "hops", "farthest panicked cohort from the first panicked, social graph"
    ),
    "panic_holders_share": Metric(
        "share of holders that panicked after the shock",
        "fraction of holding cohorts",
        "of the cohorts holding coins at the event and not already in panic, those that "
        "panicked within the window (NaN: none)",
    ),
    "shock_holders_share": Metric(
        "cohorts holding coins at the shock",
        "fraction of cohorts",
        "cohorts holding any coins at the open of the event's day",
    ),
    "panic_employers_share": Metric(
        "employers reached by panic", "fraction of employers", "with a cohort panicked (window)"
    ),
    "recovery_days": Metric(
        "recovery time (restricted)",
        "days",
        "until the price regains its pre-shock level; a run that never does counts the days "
        "it was observed (read its mean as a restricted mean, next to `recovered`)",
    ),
    "recovered": Metric("recovered", "0/1", "the price regained its pre-shock level"),
}


# computed per coin as <metric>@<asset> when a run has several assets
PER_ASSET = (
    "annualized_volatility",
    "excess_kurtosis",
    "max_drawdown",
    "crash_days",
    "final_price_ratio",
    "event_drawdown",
    "event_week_return",
)


def split_metric(name: str) -> tuple[str, str | None]:
    """'annualized_volatility@DEFI' -> ('annualized_volatility', 'DEFI'); a plain name -> (name,
    None). ValueError naming the allowed metrics if the base is unknown."""
    base, _, asset = name.partition("@")
    if base not in METRICS or (asset and base not in PER_ASSET) or name.endswith("@"):
        raise ValueError(
            f"metric {name!r} is unknown; allowed: {', '.join(METRICS)}, or "
            f"<metric>@<asset> for {', '.join(PER_ASSET)}"
        )
    return base, asset or None


def metric_info(name: str) -> Metric:
    """Label, unit and meaning of a metric, per-asset names included."""
    base, asset = split_metric(name)
    m = METRICS[base]
    return m if asset is None else Metric(f"{m.label}, {asset}", m.unit, f"{m.meaning}; {asset}")
