"""The regulator: watches retirement losses and acts, late, up an escalating ladder.

Its signal is the savers' open loss on crypto, in basis points of 401(k) plan assets: each
cohort's loss against its cost basis, max(0, cost - proceeds - value), summed over cohorts
(`open_loss_bps`). Gains net against losses (a fall followed by an equal rise leaves no
loss), a cohort in profit adds nothing, and the signal scales with the plans' actual
exposure (at 0% allocation it is 0). Losses that cohorts took with them into retirement
leave the signal: they are no longer in the plans. Cost basis rather than drawdown from a
peak: it is what a participant's statement shows as lost, and a saver who bought below
today's price has lost nothing, however far the price is from its high.

Its pressure is an exponential average of that signal over about a quarter (the cycle of
participants' benefit statements); its steady state is the loss itself, so the threshold is
a loss level (`model/policy.py`). Threshold and lag are set on the DOL's Compliance
Assistance Release 2022-01 (10 Mar 2022, "extreme care", the warning rung), read on Bitcoin's
fall from its Nov 2021 peak as the loss of a plan holding 5% of balances in Bitcoin (the cap
of the first 401(k) crypto offering, ForUsAll's); see docs/regulator.md.

Through its `PolicyLadder` it escalates: warning -> allocation cap -> freeze of
inflows -> forced unwind (itself a fire sale) -> fiscal rescue (off by default:
`max_level` 4), and relaxes only with hysteresis. Optional
market tools: a circuit breaker (applied by the market every day when set) and a leverage
cap from the allocation-cap rung on.
"""

from __future__ import annotations

import math
from datetime import date

import mesa
import numpy as np
from crypto401k.model.config import RegulatorConfig
from crypto401k.model.policy import (
    CAP,
    FREEZE,
    RESCUE,
    RUNG_NAMES,
    UNWIND,
    WARNING,
    PolicyEffects,
    PolicyLadder,
    average,
)

# The episode the threshold is set on: Bitcoin's reported price (USD) from its Nov 2021 peak
# to the DOL's Compliance Assistance Release 2022-01 (10 Mar 2022). Several are the day's
# intraday lows, so the path overstates the fall a little (a higher threshold: less action).
CAR_2022_01 = (
    # Reuters, "Bitcoin falls under $40,000 to a 5-month low", 10 Jan 2022 (record of $69,000
    # in November; the day's low $39,558), https://www.devdiscourse.com/article/
    # science-environment/1877986-bitcoin-falls-under-40000-to-a-5-month-low
    ("2021-11-10", 69_000.0),
    # Sputnik, 16 Nov 2021: $59,200 on CoinMarketCap, https://www.urdupoint.com/en/business/
    # bitcoin-price-fell-by-over-10-first-time-sin-1403015.html
    ("2021-11-16", 59_200.0),
    # Cointelegraph data, 4 Dec 2021: "traded near $47,000 on December 4" after a low of
    # $41,960 on Bitstamp, https://www.cryptovibes.com/blog/2021/12/04/
    # bitcoin-might-consolidate-until-2022-after-a-violent-plunge-sends-it-to-41k/
    ("2021-12-04", 47_000.0),
    ("2022-01-10", 39_558.0),  # Reuters, above
    # Decrypt, "Bitcoin falls below $40,000" (2022): lowest point of 2022 on 24 Jan, $33,800,
    # https://decrypt.co/93268/bitcoin-falls-below-40000
    ("2022-01-24", 33_800.0),
    # CNBC, "Bitcoin drops below $40,000, almost wiping out gains from Biden's crypto
    # executive order", 10 Mar 2022 ($39,637.11, Coin Metrics), https://www.nbcbayarea.com/
    # news/business/money-report/bitcoin-drops-below-40000-almost-wiping-out-gains-from-
    # bidens-crypto-executive-order/2833848/
    ("2022-03-10", 39_637.0),
)
# ForUsAll, the first 401(k) crypto offering (2021), let participants hold up to 5% of their
# balances in crypto (Congressional Research Service, "Cryptocurrency in 401(k) Retirement
# Plans", In Focus IF12153, 1 Jul 2022, https://www.everycrsreport.com/reports/IF12153.html)
CAR_2022_01_EXPOSURE = 0.05


def episode_pressure(
    path: tuple[tuple[str, float], ...], exposure: float, decay: float
) -> np.ndarray:
    """The pressure a plan would have built through a documented fall, day by day.

    The plan holds `exposure` of its balances in the coin, bought at the path's first
    (peak) price: its open loss is exposure x (1 - price / peak), in bps of plan assets, and
    the pressure is its exponential average (`policy.average`). Prices between the reported
    days are interpolated linearly.

    Args:
        path: (ISO date, price USD) pairs in date order; the first is the purchase price.
        exposure: share of plan assets in the coin at the first date.
        decay: the pressure's rho per day.

    Returns:
        Pressure in bps of plan assets, shape (days from the first to the last date + 1,).
    """
    dates = [date.fromisoformat(d) for d, _ in path]
    x = [(d - dates[0]).days for d in dates]
    price = np.interp(np.arange(x[-1] + 1), x, [p for _, p in path])
    loss = 1e4 * exposure * np.maximum(0.0, 1.0 - price / path[0][1])
    pressure = np.zeros(len(loss))
    s = 0.0
    for t, value in enumerate(loss.tolist()):
        s = average(s, value, decay)
        pressure[t] = s
    return pressure


class Regulator(mesa.Agent):
    """The single regulator of the core scenario (not a node of the market graph)."""

    def __init__(self, model: mesa.Model, cfg: RegulatorConfig) -> None:
        super().__init__(model)
        self.cfg = cfg
        self.ladder = PolicyLadder(
            threshold=cfg.threshold,
            decay=cfg.pressure_decay,
            weight=cfg.loss_weight,
            lag_days=cfg.lag_days,
            relax_fraction=cfg.relax_fraction,
            relax_days=cfg.relax_days,
            max_level=cfg.max_level if cfg.enabled else 0,
        )
        self.effects = PolicyEffects.none()

    @property
    def pressure(self) -> float:
        return self.ladder.pressure

    @property
    def level(self) -> int:
        return self.ladder.level

    @property
    def action(self) -> str:
        return RUNG_NAMES[self.ladder.level]

    def observe(self, day: int, loss_bps: float) -> PolicyEffects:
        """Take the savers' open loss (bps of 401(k) plan assets, `open_loss_bps`) and set
        today's effects."""
        level = self.ladder.update(day, loss_bps)
        self.effects = effects_of(level, self.cfg)
        return self.effects


def open_loss_bps(pnl: np.ndarray, plan_assets_usd: float) -> float:
    """Savers' open crypto loss in basis points of plan assets.

    Args:
        pnl: each cohort's crypto profit so far, USD, shape (cohorts,): value + proceeds -
            cost (realized and unrealized; a cohort's gains net its own losses).
        plan_assets_usd: the plans' assets now (crypto and the rest), USD.

    Returns:
        1e4 x sum over cohorts of max(0, -pnl) / plan_assets_usd (0 without plan assets).
    """
    return loss_bps(float(np.maximum(0.0, -pnl).sum()), plan_assets_usd)


def loss_bps(open_loss_usd: float, plan_assets_usd: float) -> float:
    """`open_loss_bps` of the open loss already summed, USD: 1e4 x open_loss_usd /
    plan_assets_usd (0 without plan assets)."""
    if plan_assets_usd <= 0.0:
        return 0.0
    return 1e4 * open_loss_usd / plan_assets_usd


def effects_of(level: int, cfg: RegulatorConfig) -> PolicyEffects:
    """The effects of rung `level` (each rung keeps the lower rungs' effects)."""
    if level <= 0:
        return PolicyEffects.none()
    return PolicyEffects(
        allocation_factor=cfg.warning_effect if level >= WARNING else 1.0,
        allocation_cap=cfg.cap_allocation if level >= CAP else 1.0,
        freeze=level >= FREEZE,
        unwind_rate=1.0 / cfg.unwind_days if level >= UNWIND else 0.0,
        leverage_cap=(
            cfg.leverage_cap if (cfg.leverage_cap is not None and level >= CAP) else math.inf
        ),
        rescue_share=cfg.rescue_share if level >= RESCUE else 0.0,
    )
