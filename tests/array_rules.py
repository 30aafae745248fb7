"""The engine's rules as they were written in numpy array operations before they were
compiled (commit 92ad9e6): the oracle that tests/test_compiled_rules.py holds the compiled
rules to, bit for bit. Functions taking `self` are the populations' methods of then."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from crypto401k.model.agents.saver import DAYS_PER_YEAR, panic_hazard
from crypto401k.model.agents.trader import (
    CHARTIST,
    FUNDAMENTALIST,
    attention_factor,
)
from crypto401k.model.kernels import buy_sell_sums, column_sums
from crypto401k.model.ledger import Ledger
from crypto401k.model.policy import PolicyEffects

from benchmarks.reference import broker_credit_scale

SUPPLY_MARGIN = 0.5


def herd_signal(self) -> np.ndarray:
    """Majority signal (F - C) / (F + C): a blend of each trader's trader neighbours
    (weight `herding_locality`) and the whole population (Lux-Marchesi's mean field)."""
    is_f = (self.strategy == FUNDAMENTALIST).astype(float)
    is_c = (self.strategy == CHARTIST).astype(float)
    nf, nc = self.adjacency @ is_f, self.adjacency @ is_c
    total = nf + nc
    gf, gc = is_f.sum(), is_c.sum()
    global_signal = (gf - gc) / (gf + gc) if gf + gc > 0 else 0.0
    local = np.divide(nf - nc, total, out=np.full(self.n, global_signal), where=total > 0)
    w = self.cfg.herding_locality
    return w * local + (1.0 - w) * global_signal


def trader_decide(
    self,
    day: int,
    price: np.ndarray,
    log_fundamental: np.ndarray,
    effects: PolicyEffects,
    rng: np.random.Generator,
    credit: float = np.inf,
    last_return: np.ndarray | None = None,
) -> np.ndarray:
    """Orders in coins, shape (n, assets), at the decision price `price`.

    `credit` (USD) is the most brokers lend to all traders together
    (`broker_credit_scale`); `last_return` (yesterday's daily log return, shape (assets,))
    raises every noise term by `attention` (`attention_factor`)."""
    t = self.cfg
    n, n_assets = self.coins.shape
    u = rng.random(n)
    eps_common = rng.standard_normal((2, n_assets))
    if self.shock_chol is not None:  # sentiment moves assets together (market.correlation)
        eps_common = eps_common @ self.shock_chol.T
    eps_own = rng.standard_normal((n, n_assets))
    log_p = np.log(price)
    mispricing = log_fundamental - log_p  # (assets,)

    # strategy switching (noise traders keep their role)
    a = np.clip(
        t.predisposition
        + t.herding * herd_signal(self)
        + t.misalignment * float(self.cap_share @ mispricing**2),
        -50.0,
        50.0,
    )
    to_c = (self.strategy == FUNDAMENTALIST) & (u < t.switching_rate * np.exp(-a))
    to_f = (self.strategy == CHARTIST) & (u < t.switching_rate * np.exp(a))
    self.strategy[to_c] = CHARTIST
    self.strategy[to_f] = FUNDAMENTALIST

    equity = self.equity(price)
    solvent = equity > 0
    weight = np.divide(
        self.coins * price[None, :],
        equity[:, None],
        out=np.zeros_like(self.coins),
        where=solvent[:, None],
    )
    demand = np.zeros_like(weight)
    f = self.strategy == FUNDAMENTALIST
    c = self.strategy == CHARTIST
    if t.attention > 0.0 and last_return is not None:  # a big move draws trading
        loud = attention_factor(last_return, t.attention, self.calm_vol)
        eps_common = eps_common * loud[None, :]
        eps_own = eps_own * loud[None, :]
    demand[f] = t.fundamentalist_reaction * mispricing + t.fundamentalist_noise * eps_common[0]
    demand[c] = t.chartist_reaction * self.trend + t.chartist_noise * eps_common[1]
    # a change of weight in each asset in proportion to its share of the coins' cap, so
    # a small token sees flows sized for its cap (x1.0, exactly, with one asset)
    demand *= self.cap_share[None, :]
    demand += t.idiosyncratic_noise * eps_own * self.cap_share[None, :] + t.rebalance_speed * (
        self.w0 - weight
    )

    limit = np.minimum(self.leverage, effects.leverage_cap)
    target = budget_clip(weight + demand, limit)
    orders = np.where(solvent[:, None], (target - weight) * equity[:, None] / price[None, :], 0.0)
    scale = broker_credit_scale(orders, self.cash, price, credit)
    if scale is not None:
        orders = np.where(orders > 0, orders * scale[:, None], orders)

    # margin: leveraged traders below maintenance are liquidated
    liquidate = needs_liquidation(self.coins @ price, equity, self.leverage, t.maintenance_margin)
    if liquidate.any():
        orders[liquidate] = -self.coins[liquidate]
        self.liquidated_day[liquidate] = day
        self.liquidations += int(liquidate.sum())
    return np.maximum(orders, -self.coins)


def budget_clip(weight: np.ndarray, limit: np.ndarray) -> np.ndarray:
    """Clip desired weights (n, assets) to >= 0 and a total of at most `limit` (n,)."""
    w = np.maximum(weight, 0.0)
    total = w.sum(axis=1)
    over = total > limit
    if over.any():
        w[over] *= (limit[over] / total[over])[:, None]
    return w


def needs_liquidation(
    position: np.ndarray, equity: np.ndarray, leverage: np.ndarray, maintenance: float
) -> np.ndarray:
    """Leveraged traders whose equity is below maintenance * initial margin (position/leverage)."""
    return (leverage > 1.0) & (position > 0) & (equity < maintenance * position / leverage)


def within_cap(self, orders: np.ndarray) -> np.ndarray:
    """`orders` (coins, shape (n, assets)) with buys scaled down to the room left under
    the concentration cap."""
    return cap_buys(orders, column_sums(self.coins), self.cap_coins)


def saver_decide(
    self,
    day: int,
    price: np.ndarray,
    drawdown: float,
    fear_share: np.ndarray,
    effects: PolicyEffects,
    rng: np.random.Generator,
    ledger: Ledger,
) -> np.ndarray:
    """Orders in coins, shape (n, assets), at the decision price `price`.

    `drawdown` is the menu-weighted fall of prices from their 1-year high (0..1);
    `fear_share` the share of each cohort's social neighbours that panicked.
    """
    s = self.cfg
    n = self.n
    u = rng.random((3, n))  # fixed number of draws a day: reproducible whatever happens
    growth = self.other * self.daily_growth
    ledger.other_return += float(growth.sum())
    self.other += growth
    self.eligible *= 1.0 + self.daily_growth
    self.age += 1.0 / DAYS_PER_YEAR
    self.retiring = self.age >= s.retirement_age
    self.update_offer(day)
    buying = self.buying()
    value = self.crypto_value(price)
    orders = np.zeros_like(self.coins)

    # 2. panic and recovery
    recover = self.panicked & (u[0] < 1.0 / s.panic_duration_days)
    self.panicked &= ~recover
    self.contributing |= recover
    hazard = panic_hazard(
        drawdown,
        self.target_date,
        fear_share,
        s.panic_rate_crash,
        s.panic_drawdown_scale,
        s.target_date_panic_factor,
        s.panic_social_weight,
    )
    new = ~self.panicked & ~self.retiring & (value > 0) & (u[1] < hazard)
    self.panicked |= new
    self.contributing &= ~(new & (u[2] < s.stop_contributing_share))
    orders[new] -= s.panic_sell_fraction * self.coins[new]

    alloc = np.where(self.panicked | self.retiring | ~buying, 0.0, self.allocation_now(effects))

    # 3. payroll
    paid = (
        self.contributing & ~self.retiring & ((day - self.pay_phase) % s.payday_interval_days == 0)
    )
    contribution = np.where(paid, self.contribution * s.payday_interval_days / DAYS_PER_YEAR, 0.0)
    to_crypto = contribution * alloc
    self.contributed = contribution
    ledger.payroll_in += float(contribution.sum())
    self.other += contribution - to_crypto
    self.eligible += contribution - to_crypto
    self.cash += to_crypto
    ledger.to_market += float(to_crypto.sum())

    # 4. one-off reallocation of existing balances, phased, by opted-in cohorts from
    # `reallocation_start_day` after their plan first offers
    if s.channel == "payroll+reallocation":
        length = s.reallocation_days
        start = self.first_offer + s.reallocation_start_day
        mine = self.opted_in & (self.first_offer >= 0)
        begin = mine & (start == day)
        self.realloc_base[begin] = self.other[begin]
        phase = mine & (start <= day) & (day < start + length)
        if phase.any() and not effects.freeze:
            step = np.where(phase, np.minimum(self.realloc_base / length, self.other), 0.0)
            moved = step * alloc
            self.other -= moved
            self.eligible += step - moved
            self.cash += moved
            ledger.to_market += float(moved.sum())
    np.minimum(self.eligible, self.other, out=self.eligible)

    orders += self.cash[:, None] * self.menu[None, :] / price[None, :]

    # 5. target-date rebalancing
    due = (
        self.target_date
        & ~self.panicked
        & ~self.retiring
        & ((day - self.rebalance_phase) % s.rebalance_interval_days == 0)
    )
    if due.any() and effects.unwind_rate == 0.0:
        # The sleeve's weight is lowered only by a cap: a warning or a freeze stops new
        # money, it does not make the fund sell what it holds.
        weight = min(s.allocation, effects.allocation_cap)
        held = value[due] + self.cash[due]  # today's payroll purchase counts as held
        weights = np.where(buying[due], weight, 0.0)
        target = rebalance_target(held, self.eligible[due], weights)
        if effects.freeze or effects.allocation_factor < 1.0:
            target = np.minimum(target, held)
        delta = target - held
        buy = np.minimum(np.maximum(delta, 0.0), self.eligible[due])
        idx = np.flatnonzero(due)
        self.eligible[idx] -= buy
        self.other[idx] -= buy
        self.cash[idx] += buy
        ledger.to_market += float(buy.sum())
        orders[idx] += buy[:, None] * self.menu[None, :] / price[None, :]
        sell_frac = np.divide(
            np.minimum(delta, 0.0), value[due], out=np.zeros_like(delta), where=value[due] > 0
        )
        orders[idx] += sell_frac[:, None] * self.coins[idx]

    # 6. forced unwind
    if effects.unwind_rate > 0.0:
        orders -= effects.unwind_rate * self.coins

    # 7. retirement: sell everything
    orders[self.retiring] = -self.coins[self.retiring]
    # 8. the concentration cap (the unspent cash goes back to the plan at settlement)
    return within_cap(self, np.maximum(orders, -self.coins))


def fill(orders: np.ndarray, decision_price: np.ndarray, price: np.ndarray) -> np.ndarray:
    """Coins actually bought (+) or sold (-) at `price`, shape (n, assets).

    Buys are dollar amounts (a payroll deduction buys whatever it buys): the coins
    ordered at `decision_price` are paid for with the same dollars at `price`. Sales are
    coin quantities.
    """
    dollars = np.maximum(orders, 0.0) * decision_price[None, :]
    return dollars / price[None, :] + np.minimum(orders, 0.0)


def saver_settle(
    self, delta: np.ndarray, price: np.ndarray, ledger: Ledger
) -> tuple[np.ndarray, np.ndarray]:
    """Execute coin changes `delta` at `price`, sweep cash out, retire cohorts that are
    done; return the rows that retired and the balances they withdrew (USD)."""
    spend = delta @ price
    buys = np.maximum(delta, 0.0) @ price
    self.cost += buys
    self.proceeds += buys - spend
    self.coins += delta
    np.maximum(self.coins, 0.0, out=self.coins)  # rounding of full sales
    self.cash -= spend
    ledger.from_market += float(self.cash.sum())
    self.other += self.cash
    self.eligible += np.where(self.target_date, np.maximum(self.cash, 0.0), 0.0)
    np.minimum(self.eligible, self.other, out=self.eligible)
    self.cash[:] = 0.0

    done = self.retiring & (self.coins.sum(axis=1) == 0.0)
    rows = np.flatnonzero(done)
    withdrawn = self.other[rows].copy()
    if done.any():
        pnl = self.proceeds[done] - self.cost[done]
        self.retired_loss += float(np.maximum(0.0, -pnl).sum())
        ledger.withdrawals_out += float(withdrawn.sum())
        self.other[done] = 0.0
        self.eligible[done] = 0.0
        self.cost[done] = 0.0
        self.proceeds[done] = 0.0
        self.age[done] = self.cfg.entry_age
        self.panicked[done] = False
        self.contributing[done] = True
        self.retiring[done] = False
    return rows, withdrawn


def cap_buys(orders: np.ndarray, held: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """Scale the buy orders (coins, shape (n, assets)) of each asset by one factor so that
    `held` (coins, shape (assets,)) plus all buys stays at most `cap` (shape (assets,)).
    Sales are kept and not counted as room: the cap holds whatever fills."""
    room = np.maximum(cap - held, 0.0)
    buys = buy_sell_sums(orders)[0]
    scale = np.divide(room, buys, out=np.ones_like(buys), where=buys > room)
    return np.where(orders > 0.0, orders * scale[None, :], orders)


def supply_scale(
    orders: list[np.ndarray], outside_coins: np.ndarray, margin: float = SUPPLY_MARGIN
) -> np.ndarray:
    """Factor (per asset) on buy orders so that net buying takes at most `margin` of the
    outside market's coins (1 almost always). Applied to orders before clearing, and to
    fills after it (dollar buys get more coins when the price falls)."""
    sums = [buy_sell_sums(q) for q in orders]
    buys = sum(b for b, _ in sums)
    sells = sum(s for _, s in sums)
    room = margin * np.maximum(outside_coins, 0.0) + sells
    return np.divide(room, buys, out=np.ones_like(buys), where=buys > room)


def neighbour_share(adj: sp.csr_array, flag: np.ndarray, degree: np.ndarray) -> np.ndarray:
    """Share of each node's neighbours whose `flag` is set; 0 for isolated nodes."""
    counts = adj @ flag.astype(float)
    return np.divide(counts, degree, out=np.zeros_like(counts), where=degree > 0)


def rebalance_target(value: np.ndarray, eligible: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Crypto value a target-date sleeve holds after rebalancing, USD.

    The sleeve is crypto value + eligible other assets; it keeps `weight` of it in crypto.
    """
    return weight * (value + eligible)
