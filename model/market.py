"""Price formation and clearing, over an array of assets.

Each day:
1. the fundamental value takes a correlated random-walk step (plus any scheduled shock);
   news reaches quotes at once: the log price moves by the fundamental's innovation;
2. all agents' orders (in coins, signed, at the decision price) are netted per asset;
3. the market maker moves the log price by the net flow over current depth (Lux-Marchesi,
   Farmer-Joshi): linear (Delta log p = M * Q / supply / depth_factor, the inelastic-markets
   multiplier M of Gabaix-Koijen) or square-root in flow over volume (Donier-Bonart);
   a share of that impact is permanent, the rest decays with a half-life (transient impact);
4. every order executes at the new price. The counterparty of the net flow is split between
   the market-maker institutions (by the depth each provides) and the outside market (the
   unmodelled holders), so that coins and cash are conserved exactly.

Depth thins when realized volatility rises above its calm level and when market makers lose
capital (liquidity spirals). A circuit breaker, when set, caps the flow-driven move and scales
every order down to fit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from crypto401k.model import numpy_calls
from crypto401k.model.config import Config
from crypto401k.model.kernels import VALUE, _column_parts, _maximum, _pairwise, compiled

PRICE_FLOOR = 1e-6  # USD/coin: a broken stablecoin's price stays positive and finite


def calm_daily_vol(cfg: Config) -> np.ndarray:
    """Each coin's calm daily volatility, shape (assets,): `market.vol_reference_daily` (the
    first asset's) scaled by the coin's fundamental volatility over the first asset's; 0 for
    a coin without news (a pegged stablecoin)."""
    fund_vol = np.array([a.fundamental_vol_annual for a in cfg.assets])
    return cfg.market.vol_reference_daily * fund_vol / max(fund_vol[0], 1e-12)


def calm_reference_vol(cfg: Config) -> np.ndarray:
    """`calm_daily_vol` with the reference itself for a coin without news (a pegged
    stablecoin): the level each coin's realized move is compared with, shape (assets,)."""
    calm = calm_daily_vol(cfg)
    return np.where(calm > 0.0, calm, cfg.market.vol_reference_daily)


def cholesky_psd(corr: np.ndarray) -> np.ndarray:
    """Lower factor L with L @ L.T == corr (a tiny ridge makes singular matrices work)."""
    return np.linalg.cholesky(corr + 1e-12 * np.eye(len(corr)))


@dataclass
class Clearing:
    """Result of one day's clearing."""

    scale: np.ndarray  # (A,) factor applied to every order (1 unless a breaker or shortage)
    price: np.ndarray  # (A,) execution price = the new price, USD/coin
    net_coins: np.ndarray  # (A,) net coins bought by the agents after scaling
    halted: bool  # the circuit breaker fired today


class Market:
    """State of prices, fundamentals and depth, per asset (arrays of shape (A,))."""

    def __init__(self, cfg: Config, rng: np.random.Generator) -> None:
        self.cfg = cfg.market
        self.rng = rng
        assets = cfg.assets
        self.names = [a.name for a in assets]
        self.n = len(assets)
        p0 = np.array([a.initial_price_usd for a in assets])
        self.supply = np.array([a.market_cap_usd for a in assets]) / p0  # coins
        # daily spot volume / market cap: an asset's own volume, or its cap share of the market's
        caps = np.array([a.market_cap_usd for a in assets])
        volume = np.array(
            [
                a.daily_volume_usd
                if a.daily_volume_usd is not None
                else self.cfg.daily_volume_usd * a.market_cap_usd / caps.sum()
                for a in assets
            ]
        )
        self.turnover = volume / caps
        # share of supply (over depth) beyond which impact turns from linear to square root
        self.kink = self.cfg.impact_kink_turnover * self.turnover
        self.log_base = np.log(p0)  # permanent component of the log price
        self.transient = np.zeros(self.n)  # decaying component of the log price
        self.log_fundamental = np.log(p0)
        self.prev_log_fundamental = self.log_fundamental.copy()
        # a stablecoin's price is its peg (model/stablecoin.py): no news, no flow impact
        self.pegged = np.array([a.kind == "stablecoin" for a in assets])
        self.drift = np.array([a.fundamental_drift_annual for a in assets]) / 365.0
        self.fund_vol = np.array([a.fundamental_vol_annual for a in assets]) / np.sqrt(365.0)
        self.drift[self.pegged] = 0.0
        self.fund_vol[self.pegged] = 0.0
        # news jumps: a common draw, scaled per coin by its fundamental volatility
        # self-exciting (Hawkes) arrival: a day's chance is a baseline plus an excitement
        # that each jump raises and that then decays with `jump_halflife_days`; the baseline
        # is set so that the long-run rate stays `jump_rate_annual` whatever the branching
        branching = self.cfg.jump_branching
        self.jump_chance = self.cfg.jump_rate_annual * (1.0 - branching) / 365.0
        self.jump_decay = 0.5 ** (1.0 / self.cfg.jump_halflife_days)
        # one jump adds `branching` expected later jumps in all, from the next day on:
        # kick * (decay + decay^2 + ...) = branching
        self.jump_kick = branching * (1.0 - self.jump_decay) / self.jump_decay
        self.jump_excitement = 0.0  # extra chance of a jump today, from past jumps
        self.jumped = False  # whether today's fundamental step had a news jump
        base_vol = self.fund_vol[0] if self.fund_vol[0] > 0 else 1.0
        self.jump_scale = self.cfg.jump_size * self.fund_vol / base_vol
        # each coin's calm daily volatility, beyond which its depth thins (as the traders'
        # attention and the lenders' margins read it)
        self.calm_vol = calm_reference_vol(cfg)
        self.peg_price = p0[self.pegged]
        self.chol = cholesky_psd(np.asarray(self.cfg.correlation))
        self.decay = 0.5 ** (1.0 / self.cfg.impact_halflife_days)
        self.ret = np.zeros(self.n)  # last daily log return
        window = self.cfg.vol_window_days
        self._ret_buf = np.zeros((window, self.n))
        self._n_ret = 0
        self.vol = self.calm_vol.copy()  # daily realized vol (calm until returns come in)

    # ---- state ---------------------------------------------------------------------
    # The log price's two parts and the log fundamental are set only through these
    # properties (or in `set_peg`, which clears the caches itself); the prices derived from
    # them are computed once per change, read-only, as a day reads them a dozen times.
    @property
    def log_base(self) -> np.ndarray:
        return self._log_base

    @log_base.setter
    def log_base(self, value: np.ndarray) -> None:
        self._log_base = value
        self._prices = None

    @property
    def transient(self) -> np.ndarray:
        return self._transient

    @transient.setter
    def transient(self, value: np.ndarray) -> None:
        self._transient = value
        self._prices = None

    @property
    def log_fundamental(self) -> np.ndarray:
        return self._log_fundamental

    @log_fundamental.setter
    def log_fundamental(self, value: np.ndarray) -> None:
        self._log_fundamental = value
        self._fundamental = None

    def _price_pair(self) -> tuple[np.ndarray, np.ndarray]:
        if self._prices is None:
            log_price = self._log_base + self._transient
            price = np.exp(log_price)
            log_price.flags.writeable = False
            price.flags.writeable = False
            self._prices = (log_price, price)
        return self._prices

    @property
    def log_price(self) -> np.ndarray:
        """log(USD/coin), shape (A,): the permanent part plus the decaying impact (read-only)."""
        return self._price_pair()[0]

    @property
    def price(self) -> np.ndarray:
        """USD/coin, shape (A,) (read-only)."""
        return self._price_pair()[1]

    @property
    def fundamental(self) -> np.ndarray:
        """Fundamental value, USD/coin, shape (A,) (read-only)."""
        if self._fundamental is None:
            fundamental = np.exp(self._log_fundamental)
            fundamental.flags.writeable = False
            self._fundamental = fundamental
        return self._fundamental

    # ---- step 1: news --------------------------------------------------------------
    def step_fundamental(self, drop: float | np.ndarray = 0.0) -> None:
        """Random-walk step of log fundamentals, with news jumps at `jump_rate_annual` on
        average (self-exciting when `jump_branching` > 0);
        `drop` is a scheduled fractional fall, one for every coin or one per asset, shape
        (A,)."""
        draws = self.rng.standard_normal(self.n)
        self.prev_log_fundamental = self.log_fundamental.copy()
        self.log_fundamental = random_walk(
            self.log_fundamental, self.drift, self.fund_vol, self.chol, draws
        )
        if self.jump_chance > 0.0:  # drawn only when on: without jumps, the same stream
            hit, size = self.rng.random(), self.rng.standard_normal()
            self.jumped = hit < self.jump_chance + self.jump_excitement
            if self.jumped:
                self.log_fundamental = self.log_fundamental + self.jump_scale * size
            self.jump_excitement = self.jump_decay * (
                self.jump_excitement + self.jump_kick * self.jumped
            )
        if drop > 0.0 if type(drop) is float else np.any(np.asarray(drop) > 0.0):
            self.log_fundamental = self.log_fundamental + np.where(
                self.pegged, 0.0, np.log1p(-np.asarray(drop, dtype=float))
            )
        self.log_base = self.log_base + (self.log_fundamental - self.prev_log_fundamental)

    # ---- step 3: impact ------------------------------------------------------------
    def stress(self) -> np.ndarray:
        """Divisor of market makers' depth: 1 + gamma * max(0, vol/calm - 1), shape (A,),
        with `calm` each coin's calm daily volatility (`calm_daily_vol`)."""
        return _stress(self.vol, self.calm_vol, self.cfg.depth_stress_sensitivity)

    def depth_factor(self, mm_capacity: float) -> np.ndarray:
        """Depth relative to calm depth, shape (A,).

        `mm_capacity` is the market makers' quoting capital relative to day 0 (0..1+).
        Their share of depth is divided by 1 + gamma * max(0, vol/calm - 1) (`stress`).
        """
        return _depth_factor(float(mm_capacity), self.cfg.market_maker_depth_share, self.stress())

    def counterparty_shares(self, mm_capacity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Who takes the other side of the net flow: each market maker's share, shape
        (n_institutions, A), and the outside market's, shape (A,); in proportion to depth."""
        mm_share, outside, _ = self._quote(mm_capacity)
        return mm_share, outside

    def quote(self, mm_capacity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The market makers' quotes in one compiled call: each one's share of the net
        flow, shape (n_institutions, A) (`counterparty_shares`), and the day's depth factor,
        shape (A,), `depth_factor(mm_capacity.sum())`, which `clear` takes."""
        mm_share, _, depth = self._quote(mm_capacity)
        return mm_share, depth

    def _quote(self, mm_capacity: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return _counterparty_shares(
            mm_capacity, self.cfg.market_maker_depth_share, self.vol, self.calm_vol,
            self.cfg.depth_stress_sensitivity,
        )  # fmt: skip

    def impact(self, net_coins: np.ndarray, depth: np.ndarray) -> np.ndarray:
        """Flow-driven change of log price for a net purchase of `net_coins`, shape (A,).

        Both laws depend on coins traded relative to supply, so impact is scale-free in
        the price level: spot volume is a constant turnover of market cap (the configured
        dollar volume at day-0 prices). The linear law turns into a square root beyond
        `impact_kink_turnover` days of volume (a fire sale of a large part of the coins).
        """
        if self.cfg.impact_law == "linear":  # `linear_impact` of the share, in one call
            return _linear_move(
                net_coins, self.supply, depth, self.cfg.impact_multiplier, self.kink
            )
        share = net_coins / (self.supply * depth)
        return (
            np.sign(share)
            * self.cfg.sqrt_impact_coefficient
            * self.calm_vol
            * np.sqrt(np.abs(share) / self.turnover)
        )

    def clear(self, net_coins: np.ndarray, depth: np.ndarray, breaker: float | None) -> Clearing:
        """Move prices for the day's net flow (coins, shape (A,)) at `depth` (the depth
        factor, shape (A,): `depth_factor`, or `quote`'s) and return the execution terms."""
        move = self.impact(net_coins, depth)
        scale = np.ones(self.n)
        halted = False
        if breaker is not None:
            big = np.abs(move) > breaker
            if big.any():
                halted = True
                ratio = breaker / np.abs(move[big])
                if self.cfg.impact_law == "linear":  # the flow that moves the price by `breaker`
                    share = np.abs(net_coins[big] / (self.supply[big] * depth[big]))
                    needed = linear_impact_inverse(
                        breaker, self.cfg.impact_multiplier, self.kink[big]
                    )
                    scale[big] = np.minimum(1.0, needed / share)
                else:  # sqrt law: impact goes with the flow's square root
                    scale[big] = ratio**2
                move[big] = np.sign(move[big]) * breaker
        # the permanent part of the move, and the transient part that decays
        self._log_base, self._transient = _apply_move(
            self._log_base, self._transient, move, self.cfg.impact_permanent_share, self.decay
        )
        self._prices = None
        if self.pegged.any():
            self.set_peg(self.peg_price)
        return Clearing(scale, self.price, net_coins * scale, halted)

    def coins_cap(self, price: np.ndarray) -> float:
        """USD value of every coin in circulation at `price` (stablecoins aside)."""
        return _coins_cap(price, self.supply, self.pegged)

    def set_peg(self, price: np.ndarray) -> None:
        """Set the pegged assets' prices (USD/coin, in asset order): flow does not move them."""
        self.peg_price = np.maximum(np.asarray(price, dtype=float), PRICE_FLOOR)
        log_p = np.log(self.peg_price)
        self._log_base[self.pegged] = log_p
        self._transient[self.pegged] = 0.0
        self._log_fundamental[self.pegged] = log_p
        self._prices = None
        self._fundamental = None

    def record_return(self, prev_log_price: np.ndarray) -> None:
        """Store today's log return and update the rolling realized volatility."""
        self.ret = self.log_price - prev_log_price
        window = self._ret_buf.shape[0]
        self._ret_buf[self._n_ret % window] = self.ret
        self._n_ret += 1
        n = min(self._n_ret, window)
        if n >= 2:  # the sample standard deviation over the window, numpy's to the bit
            self.vol = _sample_std(self._ret_buf[:n])


def linear_impact(share: np.ndarray, multiplier: float, kink: np.ndarray) -> np.ndarray:
    """Log-price move of a net flow of `share` of the supply (over depth), shape (A,):
    `multiplier * share` up to `kink`, then a square root, `multiplier * sqrt(kink * |share|)`
    (continuous, concave): a day's flow of many days' volume moves the price by the
    square-root law of large metaorders (Toth et al. 2011; Donier & Bonart 2015), not in
    proportion."""
    kink = np.atleast_1d(np.asarray(kink, dtype=float))
    return _linear_impact(np.asarray(share, dtype=float), float(multiplier), kink)


def linear_impact_inverse(move: float, multiplier: float, kink: np.ndarray) -> np.ndarray:
    """The |share| whose `linear_impact` is `move` (> 0), shape of `kink`."""
    m = move / multiplier
    return np.where(m <= kink, m, m * m / np.where(kink > 0, kink, 1.0))


@compiled
def random_walk(
    log_fundamental: np.ndarray,
    drift: np.ndarray,
    vol: np.ndarray,
    chol: np.ndarray,
    draws: np.ndarray,
) -> np.ndarray:  # pragma: no cover - compiled
    """A day's step of the log fundamentals, shape (A,): `log_fundamental + drift + vol *
    (chol @ draws)`, correlated normal shocks (numpy's product, `numpy_calls.matvec`)."""
    z = numpy_calls.matvec(chol, draws)
    out = np.empty(z.shape[0])
    for j in range(z.shape[0]):
        out[j] = (log_fundamental[j] + drift[j]) + vol[j] * z[j]
    return out


@compiled
def _coins_cap(
    price: np.ndarray, supply: np.ndarray, pegged: np.ndarray
) -> float:  # pragma: no cover
    value = np.empty(price.shape[0])
    for j in range(price.shape[0]):
        value[j] = 0.0 if pegged[j] else price[j] * supply[j]
    return 0.0 + _pairwise(value, VALUE)  # numpy's sum, to the last bit


@compiled
def _stress(vol: np.ndarray, calm: np.ndarray, gamma: float) -> np.ndarray:  # pragma: no cover
    out = np.empty(vol.shape[0])
    for j in range(vol.shape[0]):
        out[j] = 1.0 + gamma * _maximum(0.0, vol[j] / calm[j] - 1.0)
    return out


@compiled
def _depth_factor(
    capacity: float, share: float, stress: np.ndarray
) -> np.ndarray:  # pragma: no cover
    out = np.empty(stress.shape[0])
    for j in range(stress.shape[0]):
        out[j] = (1.0 - share) + (share * capacity) / stress[j]
    return out


@compiled
def _counterparty_shares(
    capacity: np.ndarray, share: float, vol: np.ndarray, calm: np.ndarray, gamma: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """`counterparty_shares` in one call: the stress, the total depth (numpy's sum of the
    capacities), each market maker's share and the outside's, as numpy computed them; and
    the day's depth factor per asset, `depth_factor(capacity.sum())`, shape (assets,)."""
    stress = _stress(vol, calm, gamma)
    total = _depth_factor(0.0 + _pairwise(capacity, VALUE), share, stress)
    mm_share = _maker_shares(capacity, share, stress, total)
    outside = 1.0 - _column_parts(mm_share, VALUE)
    return mm_share, outside, total


@compiled
def _maker_shares(
    capacity: np.ndarray, share: float, stress: np.ndarray, total: np.ndarray
) -> np.ndarray:  # pragma: no cover - compiled
    out = np.empty((capacity.shape[0], stress.shape[0]))
    for i in range(capacity.shape[0]):
        for j in range(stress.shape[0]):
            out[i, j] = ((share * capacity[i]) / stress[j]) / total[j]
    return out


@compiled
def _apply_move(
    log_base: np.ndarray, transient: np.ndarray, move: np.ndarray, keep: float, decay: float
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """New arrays `log_base + keep * move` and `decay * transient + (1 - keep) * move`,
    numpy's operations in numpy's order, in one pass."""
    base = np.empty(move.shape[0])
    trans = np.empty(move.shape[0])
    for j in range(move.shape[0]):
        base[j] = log_base[j] + keep * move[j]
        trans[j] = decay * transient[j] + (1.0 - keep) * move[j]
    return base, trans


@compiled
def _linear_move(
    net_coins: np.ndarray,
    supply: np.ndarray,
    depth: np.ndarray,
    multiplier: float,
    kink: np.ndarray,
) -> np.ndarray:  # pragma: no cover - compiled
    """`linear_impact(net_coins / (supply * depth), multiplier, kink)` in one pass."""
    share = np.empty(net_coins.shape[0])
    for j in range(share.shape[0]):
        share[j] = net_coins[j] / (supply[j] * depth[j])
    return _linear_impact(share, multiplier, kink)


@compiled
def _linear_impact(
    share: np.ndarray, multiplier: float, kink: np.ndarray
) -> np.ndarray:  # pragma: no cover
    out = np.empty(share.shape[0])
    for j in range(share.shape[0]):
        s = share[j]
        a = abs(s)
        k = kink[j] if kink.shape[0] > 1 else kink[0]
        x = np.sqrt(k * a) if a > k else a  # linear up to the kink, then a square root
        sign = 1.0 if s > 0 else (-1.0 if s < 0 else (0.0 if s == 0 else s))  # numpy's sign
        out[j] = (sign * multiplier) * x
    return out


@compiled
def _sample_std(x: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """`x.std(axis=0, ddof=1)` of a C-ordered (n >= 2, A) array, as numpy computes it: the
    mean from numpy's column sums over n, then the squared deviations' sums over n - 1."""
    n, k = x.shape
    mean = _column_parts(x, VALUE) / n
    dev = np.empty((n, k))
    for i in range(n):
        for j in range(k):
            d = x[i, j] - mean[j]
            dev[i, j] = d * d
    return np.sqrt(_column_parts(dev, VALUE) / (n - 1))
