"""The headline metrics of one run: every metric of the registry (`registry.METRICS`; NaN
where a metric does not apply, e.g. shock metrics in a run without a shock), computed from a
finished model's records: its daily time series and its event window
(`model.event_window`, recorded as the model steps). `measure` reads any finished run, from
the CLI, a notebook or `mesa.batch_run`; `run_metrics` builds and runs one (parameter point,
seed) pair for the sweep's workers (through `worker.execute`).

Who bears a shock's loss: each holder's mark-to-market loss on the coins it held, day by day,
over the window (days shock..shock + window - 1, `run.event_window_days`, cut at the run's
end), plus the assets that vanished when an institution failed (fraud). Losses are booked to
the holder of the coins whose value fell; credit losses passed on through defaults move a
loss between holders and are not counted twice. The holders add up to the fall in the value
of all coins, plus what vanished.

The shock metrics are measured from the run's scheduled event: the first of `shock.day`, an
exchange's `exchanges.fail_day` and the stablecoin's `stablecoin.shock_day`
(`model.event_window.event_day`).

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

from typing import Any

import numpy as np
from crypto401k.experiments.books import BooksError, books_check, books_line
from crypto401k.experiments.registry import METRICS
from crypto401k.model import metrics as mt
from crypto401k.model import scenarios
from crypto401k.model.config import Config
from crypto401k.model.event_window import event_day
from crypto401k.model.model import HOLDERS, Crypto401kModel

__all__ = ["base_config", "build_model", "event_day", "measure", "run_metrics"]


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
    """Simulate one configuration, its event window `window_days` long (the experiment's
    window, as `run.event_window_days`), and return `measure` of it plus `_diverged`.
    BooksError if the run's books do not balance."""
    m = build_model({**overrides, "run.event_window_days": window_days}, seed)
    m.run()
    books = books_check(m)
    if not books["ok"]:  # a model bug: the sweep records the run as failed, saying what is off
        raise BooksError(f"the books do not balance: {books_line(books)}")
    out = measure(m)
    out["_diverged"] = m.diverged
    return out


def measure(m: Crypto401kModel) -> dict[str, float]:
    """Every metric of `METRICS` (and, with several assets, the per-asset ones) of a finished
    run (at `run.steps`), from its records: the daily time series and the event window.
    ValueError for a run not yet at its last day (its event window may still be open)."""
    if m.steps < m.config.run.steps:
        raise ValueError(
            f"measure: the run is at day {m.steps} of run.steps = {m.config.run.steps}; "
            "finish it first (m.run())"
        )
    ts = m.datacollector.get_model_vars_dataframe()
    window = m.event_window
    shock_day, window_days = window.day, window.days
    prices = ts["price"].to_numpy()
    levels = ts["policy_level"].to_numpy()
    acted = levels > 0
    out = _price_metrics(prices, shock_day, window_days)
    out["max_log_mispricing"] = float(m.max_mispricing.max())
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
    out.update(_shock_metrics(m, ts))
    out.update(_asset_metrics(m, ts, shock_day, window_days))
    out.update(_stablecoin_metrics(m, ts))
    out["exchange_failures"] = float(m.exchanges.failed.sum()) if m.exchanges.n else float("nan")
    out["vanished_savers_usd"] = (
        window.vanished_savers_usd if m.exchanges.n and shock_day is not None else float("nan")
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
        ladder = m.regulator.ladder
        reactive = [day for day, level in ladder.history if level > 0]
        if ladder.pending_level is not None and ladder.pending_level > 0:
            reactive.append(ladder.pending_due)  # set in motion, due after the run's end
    else:
        first = m.board.first_effective("plan_access")
        opens = np.nan if first is None else float(first)
        opens = opens if m.board.gates_access() else 0.0
        # a rule started by pressure has its day fixed when it starts: one that takes effect
        # after the run's last day still comes after any trough in the run (counting only
        # the rules in force by the end would censor the slow ones)
        reactive = [
            r.effective
            for r in m.board.rules
            if r.cfg.trigger == "pressure" and r.effective is not None
        ]
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


def _stablecoin_metrics(m: Crypto401kModel, ts) -> dict:
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
    pnl_window = m.event_window.holding_pnl  # NaN without an event
    for h, holder in enumerate(HOLDERS):
        out[f"stable_loss_{holder}_usd"] = float(-pnl_window[h, k])
    return out


def _shock_metrics(m: Crypto401kModel, ts) -> dict[str, float]:
    keys = [k for k in METRICS if k.startswith(("shock_", "panic_", "recover"))]
    window = m.event_window
    shock_day, first_panic, vanished = window.day, window.first_panic, window.vanished_usd
    if shock_day is None:
        return dict.fromkeys(keys, float("nan"))
    # row t of the time series is the state after day t-1 (row 0: before day 0): the
    # window's days S..L (L = its last day) run from row S to row L + 1
    pnl = ts[[f"pnl_{h}" for h in HOLDERS]].to_numpy()
    losses = mt.window_losses(pnl, shock_day, window.last + 1)
    out = {f"shock_loss_{h}_usd": float(x) for h, x in zip(HOLDERS, losses, strict=True)}
    out["shock_loss_vanished_usd"] = vanished
    losses = np.append(losses, vanished)
    out["shock_loss_usd"] = float(losses.sum())
    out["shock_saver_share"] = mt.loss_share(losses, HOLDERS.index("savers"))

    panicked = first_panic >= 0
    out["panic_share"] = float(panicked.mean())
    # the same among the cohorts that held coins when the event came (only holders panic;
    # at the flows' true size few cohorts hold any, and the share above is mostly theirs)
    held = window.held_at_open
    out["shock_holders_share"] = float(held.mean())
    held = held & ~window.panicked_at_open  # a cohort already in panic cannot panic anew
    out["panic_holders_share"] = (
        float((panicked & held).sum() / held.sum()) if held.any() else np.nan
    )
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
