"""The headline metrics of one run, and the function a sweep's workers execute.

`execute(task)` builds the model for one (parameter point, seed) pair, simulates it, and
returns one flat record: the task's identity, `status` ("ok" or "failed"), and every metric in
`METRICS` (NaN where a metric does not apply, e.g. shock metrics in a run without a shock).
It never raises for a failing run: the error is returned so that the sweep goes on.

Who bears a shock's loss: each holder's mark-to-market loss on the coins it held, day by day,
over the window (days shock..shock + window - 1), plus the assets that vanished when an
institution failed (fraud). Losses are booked to the holder of the coins whose value fell;
credit losses passed on through defaults move a loss between holders and are not counted
twice. The holders add up to the fall in the value of all coins, plus what vanished.

The shock metrics are measured from the run's scheduled event: the first of `shock.day`, an
exchange's `exchanges.fail_day` and the stablecoin's `stablecoin.shock_day`.

With several assets, the per-asset metrics (`PER_ASSET`) are also computed for every coin,
named `<metric>@<asset>` (e.g. `annualized_volatility@DEFI`); the plain name is the first
asset's. Cross-asset correlation is the mean over coin pairs of the correlation of daily log
returns, before the event (calm) and in its window after the event's own day (stress).
Stablecoin metrics describe the asset of kind "stablecoin": its lowest price, the days its
peg was broken, and each holder's loss on it over the event window.

Panic reach is measured from the cohorts that panicked first after the shock (hops on the
social graph); cohorts that panic on their own far away also count, so compare it across
networks of similar size, next to `panic_share`.
"""

from __future__ import annotations

import time
import traceback
from typing import Any, NamedTuple

import numpy as np
from crypto401k.experiments.run import BooksError, books_check, books_line
from crypto401k.model import metrics as mt
from crypto401k.model import scenarios
from crypto401k.model.config import Config
from crypto401k.model.model import HOLDERS, Crypto401kModel


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
    "crash_days": Metric("crash days", "days", "days with |log return| > 10%"),
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
        "first day a rule started by pressure (or the regulator's first action) takes effect "
        "(NaN: none)",
    ),
    "trough_day": Metric("day of the trough", "day", "day the deepest drawdown bottoms out"),
    "rule_after_trough": Metric(
        "rule after the damage",
        "0/1",
        "the first reactive rule takes effect after the trough (NaN: no rule)",
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


def event_day(cfg) -> int | None:
    """Day of the run's first scheduled event (shock, exchange failure, reserve loss)."""
    days = [cfg.shock.day]
    if cfg.exchanges.n_exchanges:
        days.append(cfg.exchanges.fail_day)
    if any(a.kind == "stablecoin" for a in cfg.assets):
        days.append(cfg.stablecoin.shock_day)
    days = [d for d in days if d is not None and d < cfg.run.steps]
    return min(days) if days else None


def execute(task: dict[str, Any]) -> dict[str, Any]:
    """Run one task {"point", "seed", "overrides", "window_days", ...}; return its record.

    The record holds every key of the task but "overrides", plus status, error, wall_time_s
    and the metrics. Runs in worker processes, so it takes and returns plain data.
    """
    record = {k: v for k, v in task.items() if k != "overrides"}
    start = time.perf_counter()
    try:
        values = run_metrics(task["overrides"], task["seed"], task.get("window_days", 180))
        record.update(status="ok", error="", **values)
        if values.pop("_diverged"):  # a failure of the model, never data
            record.update(status="diverged", error=_diverged_error(values, task["overrides"]))
    except Exception as exc:  # a failing run is data, not a crash of the sweep
        last = traceback.extract_tb(exc.__traceback__)[-1]
        record.update(
            status="failed",
            error=f"{type(exc).__name__}: {exc} ({last.filename.rsplit('/', 1)[-1]}:{last.lineno})",
            **dict.fromkeys(METRICS, float("nan")),
        )
    record["wall_time_s"] = time.perf_counter() - start
    return record


def _diverged_error(values: dict[str, Any], overrides: dict[str, Any]) -> str:
    ratio = base_config(overrides.get("scenario")).run.divergence_ratio
    ratio = overrides.get("run.divergence_ratio", ratio)
    return (
        f"diverged: a price left [1/{ratio:g}, {ratio:g}] times its fundamental "
        f"(max |log(P/F)| = {values['max_log_mispricing']:.2f})"
    )


def build_model(overrides: dict[str, Any], seed: int) -> Crypto401kModel:
    """The model of one run: the overrides on their scenario (`scenario` key: a built-in name
    or a TOML file; the BTC-only defaults without one)."""
    overrides = dict(overrides)
    scenario = overrides.pop("scenario", None)
    return Crypto401kModel(base_config(scenario), rng=seed, **overrides)


def base_config(scenario: str | None) -> Config:
    """`Config()` for None, else the built-in scenario or TOML file (ConfigError if bad)."""
    if scenario is None:
        return Config()
    return scenarios.load(scenario)


def run_metrics(overrides: dict[str, Any], seed: int, window_days: int) -> dict[str, float]:
    """Simulate one configuration and compute every metric of `METRICS` (and, with several
    assets, the per-asset ones)."""
    m = build_model(overrides, seed)
    cfg = m.config
    shock_day = event_day(cfg)
    first_panic = np.full(m.savers.n, -1, dtype=np.int64)
    panicked_before = np.zeros(m.savers.n, dtype=bool)
    vanished = vanished_savers = 0.0
    pnl_window = np.full_like(m.holding_pnl_asset, np.nan)  # NaN without an event
    for day in range(cfg.run.steps):
        if day == shock_day:
            panicked_before = m.savers.panicked.copy()
            price_before = m.market.price.copy()
            lost_before = _lost_value(m, price_before)
            savers_lost_before = _savers_lost(m, price_before)
            pnl_before = m.holding_pnl_asset.copy()
        m.step()
        # the window: days shock_day .. shock_day + window_days - 1
        if shock_day is not None and shock_day <= day < shock_day + window_days:
            new = m.savers.panicked & ~panicked_before & (first_panic < 0)
            first_panic[new] = day
        if shock_day is not None and day == min(shock_day + window_days, cfg.run.steps) - 1:
            vanished = _lost_value(m, price_before) - lost_before
            vanished_savers = _savers_lost(m, price_before) - savers_lost_before
            pnl_window = m.holding_pnl_asset - pnl_before

    books = books_check(m)
    if not books["ok"]:  # a model bug: the sweep records the run as failed, saying what is off
        raise BooksError(f"the books do not balance: {books_line(books)}")
    ts = m.datacollector.get_model_vars_dataframe()
    prices = ts["price"].to_numpy()
    levels = ts["policy_level"].to_numpy()
    acted = levels > 0
    out = _price_metrics(prices, shock_day, window_days)
    out["max_log_mispricing"] = float(m.max_mispricing.max())
    out["_diverged"] = m.diverged
    out.update(
        saver_loss_share=float(ts["saver_loss_share"].iloc[-1]),
        saver_peak_panicked_share=float(ts["panicked_savers"].max() / m.savers.n),
        defaults=float(ts["defaults"].iloc[-1]),
        liquidations=float(ts["liquidations"].iloc[-1]),
        policy_acted=float(acted.any()),
        policy_max_level=float(levels.max()),
        policy_first_day=float(np.argmax(acted) - 1) if acted.any() else float("nan"),
        policy_days_active=float(acted[1:].sum()),
        forced_unwind=float((levels >= 4).any()),
    )
    out.update(_policy_metrics(m, ts))
    out.update(_fiscal_metrics(m))
    out.update(_shock_metrics(m, ts, shock_day, window_days, first_panic, vanished))
    out.update(_asset_metrics(m, ts, shock_day, window_days))
    out.update(_stablecoin_metrics(m, ts, pnl_window))
    out["exchange_failures"] = float(m.exchanges.failed.sum()) if m.exchanges.n else float("nan")
    out["vanished_savers_usd"] = (
        vanished_savers if m.exchanges.n and shock_day is not None else float("nan")
    )
    return out


def _price_metrics(prices: np.ndarray, shock_day: int | None, window_days: int) -> dict:
    """The per-asset metrics of one price series (row t: the price after day t-1)."""
    r = mt.log_returns(prices)
    out = {
        "annualized_volatility": mt.annualized_volatility(r),
        "excess_kurtosis": mt.excess_kurtosis(r),
        "max_drawdown": mt.max_drawdown(prices),
        "crash_days": float(mt.crash_days(r)),
        "final_price_ratio": float(prices[-1] / prices[0]),
        "event_drawdown": float("nan"),
        "event_week_return": float("nan"),
    }
    if shock_day is not None:
        before = prices[shock_day]
        window = prices[shock_day + 1 : shock_day + window_days + 1]
        out["event_drawdown"] = float(min(window.min() / before - 1.0, 0.0))
        week = shock_day + 7
        if week < len(prices):
            out["event_week_return"] = float(prices[week] / before - 1.0)
    return out


def _asset_metrics(m: Crypto401kModel, ts, shock_day: int | None, window_days: int) -> dict:
    """Per-coin metrics (<metric>@<asset>) and cross-asset correlation, calm and stress."""
    out = dict.fromkeys(["correlation_calm", "correlation_stress", "correlation_rise"], np.nan)
    coins = [a.name for a in m.config.assets if a.kind == "coin"]
    if len(m.config.assets) < 2:
        return out
    for name in coins:
        for k, v in _price_metrics(ts[f"price_{name}"].to_numpy(), shock_day, window_days).items():
            out[f"{k}@{name}"] = v
    if len(coins) < 2:
        return out
    r = np.diff(np.log(ts[[f"price_{name}" for name in coins]].to_numpy()), axis=0)
    if shock_day is None:
        out["correlation_calm"] = mt.mean_pairwise_correlation(r)
        return out
    out["correlation_calm"] = mt.mean_pairwise_correlation(r[:shock_day])
    stress = r[shock_day + 1 : shock_day + window_days]
    out["correlation_stress"] = mt.mean_pairwise_correlation(stress)
    out["correlation_rise"] = out["correlation_stress"] - out["correlation_calm"]
    return out


def _policy_metrics(m: Crypto401kModel, ts) -> dict[str, float]:
    """When plan money may flow, when policy reacts, and whether after the damage."""
    steps = m.config.run.steps
    prices = ts["price"].to_numpy()
    trough = int(np.argmin(prices / np.maximum.accumulate(prices))) - 1  # row t: day t - 1
    if m.board is None:
        opens: float = 0.0
        reactive = [day for day, level in m.regulator.ladder.history if level > 0]
    else:
        first = m.board.first_effective("plan_access")
        opens = np.nan if first is None else float(first)
        opens = opens if m.board.gates_access() else 0.0
        reactive = [
            r.effective
            for r in m.board.rules
            if r.cfg.trigger == "pressure" and r.effective is not None
        ]
    reactive = [d for d in reactive if d < steps]
    rule_day = float(min(reactive)) if reactive else np.nan
    if not np.isnan(opens) and opens >= steps:
        opens = np.nan
    return {
        "inflow_start_day": opens,
        "rules_in_force": float(ts["policy_level"].iloc[-1]),
        "policy_rule_day": rule_day,
        "trough_day": float(max(trough, 0)),
        "rule_after_trough": float(rule_day > trough) if reactive else np.nan,
        "backlash_peak": float(ts["regulator_pressure"].max()),
        "rescue_usd": float(m.rescue_usd),
    }


def _fiscal_metrics(m: Crypto401kModel) -> dict[str, float]:
    ledger = m.projected_ledger()
    s = ledger.summary(m.config.fiscal.discount_rate)
    effect = {
        rate: ledger.summary(rate)["crypto_effect_pv"]
        for rate in (0.02, m.config.savers.other_return_annual)
    }
    return {
        "revenue_pv_usd": s["revenue_pv"],
        "revenue_pv_without_crypto_usd": s["revenue_pv_without_crypto"],
        "crypto_revenue_effect_usd": s["crypto_effect_pv"],
        "crypto_revenue_effect_2pct_usd": effect[0.02],
        "crypto_revenue_effect_at_return_usd": effect[m.config.savers.other_return_annual],
        "rescue_cost_pv_usd": s["rescue_cost_pv"],
        "tax_forgone_pv_usd": s["tax_forgone_pv"],
    }


def _stablecoin_metrics(m: Crypto401kModel, ts, pnl_window: np.ndarray) -> dict:
    keys = [k for k in METRICS if k.startswith(("depeg_", "peg_", "stable_"))]
    if m.stablecoin is None:
        return dict.fromkeys(keys, float("nan"))
    k = m.stable_index
    name = m.config.assets[k].name
    sc = m.stablecoin
    out = {
        "depeg_min_price": float(ts[f"price_{name}"].min()),
        "depeg_days": float(sc.days_broken),
        "peg_restored": float(not sc.broken),
        "stable_redeemed_share": float(sc.redeemed / m.market.supply[k]),
    }
    for h, holder in enumerate(HOLDERS):
        out[f"stable_loss_{holder}_usd"] = float(-pnl_window[h, k])
    return out


def _savers_lost(m: Crypto401kModel, price: np.ndarray) -> float:
    """USD value, at `price`, of the plan coins lost in exchange failures so far."""
    if not m.exchanges.n:
        return 0.0
    return float(m.exchanges.lost_coins[:, 0].sum(axis=0) @ price)


def _lost_value(m: Crypto401kModel, price: np.ndarray) -> float:
    """USD value of what failed institutions lost to fraud so far, at `price`."""
    return float(m.ledger.lost_cash + m.ledger.lost_coins @ price)


def _shock_metrics(
    m: Crypto401kModel,
    ts,
    shock_day: int | None,
    window_days: int,
    first_panic: np.ndarray,
    vanished: float,
) -> dict[str, float]:
    keys = [k for k in METRICS if k.startswith(("shock_", "panic_", "recover"))]
    if shock_day is None:
        return dict.fromkeys(keys, float("nan"))
    # row t of the time series is the state after day t-1 (row 0: before day 0)
    # row t is the state after day t-1: the window's days S..S+W-1 run from row S to S+W
    pnl = ts[[f"pnl_{h}" for h in HOLDERS]].to_numpy()
    losses = mt.window_losses(pnl, shock_day, shock_day + window_days)
    out = {f"shock_loss_{h}_usd": float(x) for h, x in zip(HOLDERS, losses, strict=True)}
    out["shock_loss_vanished_usd"] = vanished
    losses = np.append(losses, vanished)
    out["shock_loss_usd"] = float(losses.sum())
    out["shock_saver_share"] = mt.loss_share(losses, HOLDERS.index("savers"))

    panicked = first_panic >= 0
    out["panic_share"] = float(panicked.mean())
    employers = m.savers.employer
    n_employers = m.config.savers.n_employers
    out["panic_employers_share"] = float(len(np.unique(employers[panicked])) / n_employers)
    if panicked.any():
        origins = np.flatnonzero(first_panic == first_panic[panicked].min())
        hops = mt.hop_distance(m.social_adj, origins)[: m.savers.n]
        out["panic_reach_hops"] = float(hops[panicked].max())
    else:
        out["panic_reach_hops"] = 0.0
    days, recovered = mt.recovery_days(ts["price"].to_numpy(), shock_day + 1)
    out["recovery_days"] = float(days)
    out["recovered"] = float(recovered)
    return out
