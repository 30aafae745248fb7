"""The event window: what a run records about its first scheduled event as it steps.

The event is the first of the run's scheduled events (`event_day`): the shock
(`shock.day`), an exchange's failure (`exchanges.fail_day`) and the stablecoin's reserve
loss (`stablecoin.shock_day`). Its window is the days event .. event + W - 1
(W = `run.event_window_days`), cut at the run's last day. The model calls `open` before the
event's day and `observe` after each day of the window; a run without an event does no work
here. The window's metrics (who panicked first, holders' losses, what vanished) are computed
from these records (crypto401k.experiments.outcomes), the same way for any run: the CLI, a
notebook, `mesa.batch_run` or a sweep.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from crypto401k.model.config import Config
    from crypto401k.model.model import Crypto401kModel


def event_day(cfg: Config) -> int | None:
    """Day of the run's first scheduled event (shock, exchange failure, reserve loss) within
    the run, or None."""
    days = [cfg.shock.day]
    if cfg.exchanges.n_exchanges:
        days.append(cfg.exchanges.fail_day)
    if any(a.kind == "stablecoin" for a in cfg.assets):
        days.append(cfg.stablecoin.shock_day)
    days = [d for d in days if d is not None and d < cfg.run.steps]
    return min(days) if days else None


class EventWindow:
    """The state around a run's first scheduled event, recorded as the model steps.

    Attributes:
        day: the event's day; None when the run has no event (then nothing is recorded).
        days: the window's length W in days (`run.event_window_days`).
        last: the window's last day, min(day + W, run.steps) - 1 (None without an event).
        first_panic: (savers,) int, the day each saver cohort first panicked in the window;
            -1 for cohorts that did not, or that were already panicked when it opened.
        price_before: (assets,) USD per coin, prices at the open of the event's day.
        held_at_open: (savers,) bool, the cohorts holding any coins at that open (only a
            holder can panic: the base of a panic rate among holders).
        panicked_at_open: (savers,) bool, the cohorts already in panic at that open.
        holding_pnl: (holders, assets) USD, each holder's mark-to-market gain over the
            window (model.HOLDERS); NaN until the window closes.
        vanished_usd: USD, at `price_before`, of what failed institutions lost to fraud over
            the window (NaN until it closes).
        vanished_savers_usd: USD, at `price_before`, of plan coins lost in exchange failures
            over the window (NaN until it closes).
    """

    def __init__(self, cfg: Config, n_savers: int, holding_shape: tuple[int, int]) -> None:
        self.day = event_day(cfg)
        self.days = cfg.run.event_window_days
        self.last = None if self.day is None else min(self.day + self.days, cfg.run.steps) - 1
        self.first_panic = np.full(n_savers, -1, dtype=np.int64)
        self.price_before: np.ndarray | None = None
        self.holding_pnl = np.full(holding_shape, np.nan)
        self.vanished_usd = float("nan")
        self.vanished_savers_usd = float("nan")
        self.held_at_open = np.zeros(n_savers, dtype=bool)
        self.panicked_at_open = np.zeros(n_savers, dtype=bool)
        self._marks: tuple[float, float, np.ndarray] | None = None

    def open(self, m: Crypto401kModel) -> None:
        """Record the state at the open of the event's day (before the model simulates it)."""
        self.panicked_at_open = m.savers.panicked.copy()
        self.held_at_open = (m.savers.coins > 0).any(axis=1)
        self.price_before = m.market.price.copy()
        self._marks = (
            lost_value(m, self.price_before),
            savers_lost(m, self.price_before),
            m.holding_pnl_asset.copy(),
        )

    def observe(self, m: Crypto401kModel, day: int) -> None:
        """Record the end of `day`, a day of the window: who panicked first; at its last day,
        the holders' gains and what vanished over the window."""
        new = m.savers.panicked & ~self.panicked_at_open & (self.first_panic < 0)
        self.first_panic[new] = day
        if day == self.last:
            lost_before, savers_before, pnl_before = self._marks
            self.vanished_usd = lost_value(m, self.price_before) - lost_before
            self.vanished_savers_usd = savers_lost(m, self.price_before) - savers_before
            self.holding_pnl = m.holding_pnl_asset - pnl_before


def savers_lost(m: Crypto401kModel, price: np.ndarray) -> float:
    """USD value, at `price`, of the plan coins lost in exchange failures so far."""
    if not m.exchanges.n:
        return 0.0
    return float(m.exchanges.lost_coins[:, 0].sum(axis=0) @ price)


def lost_value(m: Crypto401kModel, price: np.ndarray) -> float:
    """USD value of what failed institutions lost to fraud so far, at `price`."""
    return float(m.ledger.lost_cash + m.ledger.lost_coins @ price)
