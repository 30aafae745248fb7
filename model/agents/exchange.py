"""Exchanges and custodians: they hold coins and cash for their customers, and can fail.

Every retail trader keeps its coins and cash at one exchange, drawn by market share (share of
the k-th exchange proportional to k^-concentration). A plan's coins sit either with a
segregated qualified custodian (`plan_custody_segregated`: untouched by any exchange failure)
or at one exchange per employer. A failure, scheduled or drawn from a market-wide hazard:

1. loses `loss_share` of every coin and dollar the exchange holds for customers (fraud,
   theft; a hazard's failure is drawn uniformly among the exchanges still open); the
   ledger books the loss, and the exchange records it per holder type and asset;
2. freezes what is left for `freeze_days`: its customers cannot trade (for a plan, the whole
   plan: none of its cohorts buys or sells crypto through the frozen venue, whether or not
   the cohort held coins there);
3. frightens: its customers count as fearful neighbours on the social graph for a month, its
   saver customers panic (a saver cohort is a customer when its plan held coins there on the
   failure day: a plan that offers no crypto, or a cohort that never opted in, lost nothing
   and is nobody's customer), and the news cuts every coin's fundamental value by
   `news_fall(USD lost / coins' market cap)`: `news_scale` x loss^`news_exponent`, concave in
   the loss (exponent below 1) and at most `news_cap`, the largest reaction observed. The law
   is fitted on seven failures from Mt. Gox (2014) to Bybit (2025):
   crypto401k.experiments.calibrate.fit_failure_news and docs/calibration.md. The fall comes
   in equal log steps over `news_days` days from the failure day, as the news did.
"""

from __future__ import annotations

import numpy as np
from crypto401k.model.agents.view import RowAgent
from crypto401k.model.config import Config

FEAR_DAYS = 30  # a failure frightens its customers' neighbours for a month
HOLDER_TYPES = ("savers", "traders")


def news_fall(
    loss: float | np.ndarray, scale: float, exponent: float, cap: float
) -> float | np.ndarray:
    """Fall of every coin's fundamental value (fraction, 0..cap) after a failure that lost
    `loss` (USD lost / coins' market cap, fraction >= 0): min(cap, scale x loss^exponent).

    Concave and increasing in the loss for 0 < exponent <= 1: the first dollars lost carry
    the news that a venue failed, further dollars add less. Same shape as `loss`.
    """
    fall = np.minimum(cap, scale * np.power(np.maximum(loss, 0.0), exponent))
    return float(fall) if np.ndim(fall) == 0 else fall


class ExchangePopulation:
    """State of all exchanges in arrays of shape (n,); customers' exchanges as indices."""

    def __init__(
        self, cfg: Config, rng: np.random.Generator, n_traders: int, employer: np.ndarray
    ) -> None:
        x = self.cfg = cfg.exchanges
        n = self.n = x.n_exchanges
        n_assets = cfg.n_assets
        share = np.arange(1, n + 1, dtype=float) ** -x.concentration
        self.share = share / share.sum() if n else share
        self.trader_exchange = np.full(n_traders, -1, dtype=np.int64)
        self.saver_exchange = np.full(len(employer), -1, dtype=np.int64)
        if n:  # no draws without exchanges: the baseline's random stream is unchanged
            self.trader_exchange = rng.choice(n, size=n_traders, p=self.share)
            plan_exchange = rng.choice(n, size=cfg.savers.n_employers, p=self.share)
            if not x.plan_custody_segregated:
                self.saver_exchange = plan_exchange[employer]
        # saver cohorts that lost coins in a failure (their plan held coins at the venue)
        self.saver_lost = np.zeros(len(employer), dtype=bool)
        self.failed_day = np.full(n, -(10**9), dtype=np.int64)
        self.failed = np.zeros(n, dtype=bool)
        self.hazard_factor = 1.0  # an SEC standard lowers the hazard
        # coins lost per exchange, holder type (HOLDER_TYPES) and asset; USD of cash lost
        self.lost_coins = np.zeros((n, len(HOLDER_TYPES), n_assets))
        self.lost_cash = np.zeros(n)
        self.lost_usd = np.zeros(n)  # value lost at the failure day's prices
        self.news_daily = np.zeros(n)  # each failure's fall of the fundamental per news day

    # ---- derived state ---------------------------------------------------------------
    def frozen(self, day: int) -> np.ndarray:
        """Exchanges whose customers cannot trade today, shape (n,)."""
        return self.failed & (day - self.failed_day < self.cfg.freeze_days)

    def customers_frozen(self, day: int) -> tuple[np.ndarray, np.ndarray]:
        """Savers and traders whose coins are frozen today, shapes (savers,), (traders,)."""
        frozen = np.append(self.frozen(day), False)  # index -1: not at an exchange
        return frozen[self.saver_exchange], frozen[self.trader_exchange]

    def recently_failed(self, day: int) -> np.ndarray:
        """Exchanges that failed within FEAR_DAYS of `day`, shape (n,): their customers are
        a source of fear."""
        return self.failed & (day - self.failed_day < FEAR_DAYS)

    def saver_customers(self) -> np.ndarray:
        """Each saver cohort's exchange as a customer, shape (savers,): its plan's venue if
        the cohort lost coins in a failure there, else -1 (a cohort with nothing at a failed
        venue neither panics at its failure nor frightens its neighbours)."""
        return np.where(self.saver_lost, self.saver_exchange, -1)

    def customers_in_fear(self, day: int) -> tuple[np.ndarray, np.ndarray]:
        """Savers (that lost coins there) and traders whose exchange failed within
        FEAR_DAYS."""
        recent = np.append(self.recently_failed(day), False)
        return recent[self.saver_customers()], recent[self.trader_exchange]

    def custody(self, saver_coins: np.ndarray, trader_coins: np.ndarray) -> np.ndarray:
        """Coins each exchange holds for customers, shape (n, assets)."""
        held = np.zeros((self.n, saver_coins.shape[1]))
        at = self.trader_exchange >= 0
        np.add.at(held, self.trader_exchange[at], trader_coins[at])
        at = self.saver_exchange >= 0
        np.add.at(held, self.saver_exchange[at], saver_coins[at])
        return held

    def segregate_plans(self) -> None:
        """Plan coins at exchanges still open move to segregated custody (an SEC rule);
        those frozen at a failed exchange stay there."""
        at = self.saver_exchange >= 0
        moving = at & ~self.failed[np.maximum(self.saver_exchange, 0)]
        self.saver_exchange[moving] = -1

    # ---- events ------------------------------------------------------------------------
    def draw_failure(self, rng: np.random.Generator) -> int | None:
        """Today's failure from the market-wide hazard, or None (two draws a day). The
        failing exchange is drawn uniformly among those still open: the record's failures
        hit mid-size venues as often as large ones."""
        u = rng.random(2)
        rate = self.cfg.failure_rate_annual
        if rate <= 0 or u[0] >= self.hazard_factor * rate / 365.0:
            return None
        open_ = np.flatnonzero(~self.failed)
        if not len(open_):
            return None
        return int(open_[min(int(u[1] * len(open_)), len(open_) - 1)])

    def fail(
        self,
        k: int,
        day: int,
        price: np.ndarray,
        saver_coins: np.ndarray,
        trader_coins: np.ndarray,
        trader_cash: np.ndarray,
    ) -> tuple[np.ndarray, float]:
        """Exchange `k` fails: customers' holdings there lose `loss_share` (changed in place);
        saver cohorts that held coins there are marked in `saver_lost`. Returns (coins lost
        per asset, USD of cash lost)."""
        loss = self.cfg.loss_share
        self.failed[k] = True
        self.failed_day[k] = day
        self.saver_lost |= (self.saver_exchange == k) & (saver_coins > 0).any(axis=1)
        for h, (coins, at) in enumerate(
            ((saver_coins, self.saver_exchange == k), (trader_coins, self.trader_exchange == k))
        ):
            lost = loss * coins[at]
            coins[at] -= lost
            self.lost_coins[k, h] = lost.sum(axis=0)
        at = (self.trader_exchange == k) & (trader_cash > 0)
        cash_lost = loss * trader_cash[at]
        trader_cash[at] -= cash_lost
        self.lost_cash[k] = float(cash_lost.sum())
        coins_lost = self.lost_coins[k].sum(axis=0)
        self.lost_usd[k] = float(coins_lost @ price) + self.lost_cash[k]
        return coins_lost, self.lost_cash[k]

    def news_drop(self, k: int, coins_cap: float) -> float:
        """Fall of every coin's fundamental value after exchange k's failure, over all its
        news days (0..news_cap): `news_fall` of the USD it lost over the coins' market cap
        (`coins_cap`, USD). Records the fall per news day for `news_today`."""
        x = self.cfg
        fall = 0.0
        if coins_cap > 0:
            fall = news_fall(
                self.lost_usd[k] / coins_cap, x.news_scale, x.news_exponent, x.news_cap
            )
        self.news_daily[k] = 1.0 - (1.0 - fall) ** (1.0 / x.news_days)
        return fall

    def news_today(self, day: int) -> float:
        """Today's fall of every coin's fundamental value (fraction) from the failures whose
        news is still arriving: the product of their daily steps."""
        if not self.failed.any():  # most runs, most days
            return 0.0
        since = day - self.failed_day
        arriving = self.failed & (since >= 0) & (since < self.cfg.news_days)
        if not arriving.any():
            return 0.0
        return float(1.0 - np.prod(1.0 - self.news_daily[arriving]))


class Exchange(RowAgent):
    """An exchange or custodian; its state is row `row` of `model.exchanges`."""

    population = "exchanges"
    _pop: ExchangePopulation

    @property
    def coins(self) -> np.ndarray:
        """Coins held for customers, per asset."""
        m = self.model
        return self._pop.custody(m.savers.coins, m.traders.coins)[self.row]

    @property
    def market_share(self) -> float:
        return float(self._pop.share[self.row])

    @property
    def failed(self) -> bool:
        return bool(self._pop.failed[self.row])

    @property
    def wealth(self) -> float:
        """Value held for customers, USD (an exchange's own equity is not modelled)."""
        return float(self.coins @ self.model.market.price)
