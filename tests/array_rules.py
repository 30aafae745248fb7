"""The engine's rules as they were written in numpy array operations before they were
compiled (the savers' and traders' rules of commit 92ad9e6, the rest of the commit before
each was compiled): the oracle that tests/test_compiled_rules.py holds the compiled rules
to, bit for bit. Functions taking `self` are the populations' methods of then."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from crypto401k.model.agents.institution import (
    FUND,
    LAYOFF_RATE,
    LENDER,
    MARKET_MAKER,
)
from crypto401k.model.agents.saver import DAYS_PER_YEAR, offer_share, panic_hazard
from crypto401k.model.agents.trader import CHARTIST, FUNDAMENTALIST
from crypto401k.model.kernels import buy_sell_sums, column_sums
from crypto401k.model.ledger import Ledger
from crypto401k.model.policy import PolicyEffects

from benchmarks.reference import broker_credit_scale

SUPPLY_MARGIN = 0.5


def margin_factor(
    vol: np.ndarray, calm_vol: np.ndarray, weight: np.ndarray, exponent: float
) -> float:
    """Share of their normal borrowing lenders allow today: min(1, (calm / realized)^b) of
    the position-weighted volatility ratio over coins."""
    ratio = float(weight @ (vol / np.maximum(calm_vol, 1e-12)))
    if exponent == 0.0 or ratio <= 1.0:
        return 1.0
    return ratio**-exponent


def attention_factor(
    last_return: np.ndarray, attention: float, reference: float | np.ndarray
) -> np.ndarray:
    """Multiplier of the traders' noise after yesterday's move: 1 + attention * max(0,
    |r| / reference - 1)."""
    return 1.0 + attention * np.maximum(0.0, np.abs(last_return) / reference - 1.0)


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


# ---- the institutions ----


def institution_claims(self) -> np.ndarray:
    """What others owe each institution, USD (n,)."""
    return self.loans[:, : self.n].sum(axis=0)


def institution_liabilities(self) -> np.ndarray:
    return self.loans.sum(axis=1)


def institution_equity(self, price: np.ndarray) -> np.ndarray:
    return self.coins @ price + self.cash + institution_claims(self) - institution_liabilities(self)


def institution_mm_capacity(self, price: np.ndarray, coins_cap: float) -> np.ndarray:
    """Quoting capital of each market maker relative to all market makers' targets, (n,):
    1 in total when every market maker holds its target; less after losses or while
    entrants grow. Depth is measured in coins, so capital is compared with the market's
    size, not with day 0's dollars; a market maker quotes with at most its target."""
    target = self.mm_target(coins_cap)
    total = float(target.sum())
    if total <= 0:
        return np.zeros(self.n)
    quoting = (self.kind == MARKET_MAKER) & self.alive
    e = np.maximum(institution_equity(self, price), 0.0)
    return np.where(quoting, np.minimum(e, target) / total, 0.0)


def institution_pay_out(self, price: np.ndarray, coins_cap: float) -> float:
    """Market makers pay equity above their capital target to their owners, from the
    cash above their cash buffer ((1 - `mm_inventory_weight`) of the target; inventory
    is not sold for it). Without this their capital would grow without bound from the
    spread they earn, and depth with it, so that volatility would decay over a run.
    Updates each market maker's equity peak (its loss limit's reference). Returns the
    USD paid (to the outside)."""
    mms = self.alive & (self.kind == MARKET_MAKER)
    if not mms.any():
        return 0.0
    target = self.mm_target(coins_cap)
    excess = institution_equity(self, price) - target
    spare = self.cash - (1.0 - self.cfg.mm_inventory_weight) * target
    pay = np.where(mms, np.clip(np.minimum(excess, spare), 0.0, None), 0.0)
    self.cash -= pay
    self.equity_peak = np.where(
        mms, np.maximum(self.equity_peak, institution_equity(self, price)), self.equity_peak
    )
    paid = float(pay.sum())
    self.paid_out += paid
    return paid


def institution_decide(
    self, price: np.ndarray, effects: PolicyEffects, vol: np.ndarray
) -> np.ndarray:
    """Orders in coins, shape (n, assets): funds' leverage targeting, lenders' sales.

    `vol` is each asset's realized daily volatility, shape (assets,): above its calm
    level lenders allow less borrowing (procyclical margins).
    """
    orders = np.zeros_like(self.coins)
    funds = self.alive & (self.kind == FUND)
    if funds.any():
        value = self.coins[funds] @ price
        equity = institution_equity(self, price)[funds]
        b = self.cfg.margin_vol_exponent
        allowed = margin_factor(vol, self.calm_vol, self.cap_share, b)
        target = 1.0 + allowed * (self.leverage_target[funds] - 1.0)
        limit = 1.0 + allowed * (self.leverage_max[funds] - 1.0)
        target = np.minimum(target, effects.leverage_cap)
        limit = np.minimum(limit, effects.leverage_cap)
        delta = leverage_order(value, equity, target, limit, self.speed[funds])
        sell = np.divide(np.minimum(delta, 0.0), value, out=np.zeros_like(delta), where=value > 0)
        buy = np.minimum(
            np.maximum(delta, 0.0), institution_buying_power(self, np.flatnonzero(funds))
        )
        orders[funds] = (
            sell[:, None] * self.coins[funds]
            + buy[:, None] * self.cap_share[None, :] / price[None, :]
        )
    lenders = self.alive & (self.kind == LENDER)
    orders[lenders] -= self.coins[lenders] / self.cfg.lender_liquidation_days
    return np.maximum(orders, -self.coins)


def institution_buying_power(self, idx: np.ndarray) -> np.ndarray:
    """USD institutions `idx` can spend today: their own cash plus what their lenders can
    still lend, a lender shared by several borrowers split in proportion to their lines,
    shape (len(idx),)."""
    n = self.n
    own = np.maximum(self.cash[idx], 0.0)
    lines = self.credit[idx, :n] * self.lendable()[None, :]  # each borrower's reach
    demand = self.credit[:, :n].sum(axis=0)  # borrowers' claims on each lender's cash
    share = np.divide(
        self.credit[idx, :n], demand[None, :], out=np.zeros_like(lines), where=demand > 0
    )
    return own + np.minimum(lines, share * self.lendable()[None, :]).sum(axis=1)


def institution_draw_credit(self) -> float:
    """Cover negative cash with loans: first from the borrower's lenders, up to the cash
    they have (in proportion to the borrower's credit lines), the rest from the outside
    (a residual for funds, whose orders were cut to their buying power; the credit line of
    market makers). Returns USD lent by the outside."""
    n = self.n
    neg = np.flatnonzero(self.cash < 0)
    if len(neg) == 0:
        return 0.0
    need = -self.cash[neg]
    free = self.lendable()
    reach = self.credit[neg, :n] * (free > 0)[None, :]
    sums = reach.sum(axis=1, keepdims=True)
    want = need[:, None] * np.divide(reach, sums, out=np.zeros_like(reach), where=sums > 0)
    asked = want.sum(axis=0)
    fill = np.divide(free, asked, out=np.ones(n), where=asked > free)
    draws = want * fill[None, :]
    rest = need - draws.sum(axis=1)
    self.loans[neg, :n] += draws
    self.loans[neg, n] += rest
    self.cash -= draws.sum(axis=0)
    self.cash[neg] = 0.0
    return float(rest.sum())


def institution_repay(self) -> float:
    """Institutions with spare cash pay down their loans pro rata; returns USD paid to the
    outside."""
    n = self.n
    liab = institution_liabilities(self)
    pay = np.where(self.alive & (self.kind != LENDER), np.minimum(self.cash, liab), 0.0)
    pay = np.maximum(pay, 0.0)
    if not (pay > 0).any():
        return 0.0
    share = np.divide(
        self.loans, liab[:, None], out=np.zeros_like(self.loans), where=liab[:, None] > 0
    )
    paid = pay[:, None] * share
    self.loans -= paid
    np.maximum(self.loans, 0.0, out=self.loans)
    self.cash -= pay
    self.cash += paid[:, :n].sum(axis=0)
    return float(paid[:, n].sum())


def institution_resolve_defaults(self, price: np.ndarray) -> tuple[np.ndarray, float, list[int]]:
    """Default every institution with negative equity, cascading through creditors.

    Returns (coins, cash) passed to the outside market and the indices that failed.
    """
    out_coins = np.zeros(self.coins.shape[1])
    out_cash = 0.0
    failed: list[int] = []
    for _ in range(self.n):
        equity = institution_equity(self, price)
        scale = self.coins @ price + np.abs(self.cash) + institution_liabilities(self) + 1.0
        broke = np.flatnonzero(self.alive & (equity < -1e-9 * scale))
        if len(broke) == 0:
            break
        for i in broke:
            c, m = self.fail(int(i), price)
            out_coins += c
            out_cash += m
            failed.append(int(i))
    return out_coins, out_cash, failed


def institution_layoff(
    self, price: np.ndarray, outside_coins: np.ndarray
) -> tuple[np.ndarray, float]:
    """Market makers pass excess inventory to (or refill it from) the outside market at
    the day's price, without price impact. Returns (coins, cash) the outside receives."""
    mms = self.alive & (self.kind == MARKET_MAKER)
    delta = np.where(mms[:, None], LAYOFF_RATE * (self.coins - self.mm_target_coins), 0.0)
    refill = np.maximum(-delta, 0.0).sum(axis=0)
    room = np.maximum(outside_coins, 0.0) * 0.5
    shrink = np.where(refill > room, room / np.where(refill > 0, refill, 1.0), 1.0)
    delta = np.where(delta < 0, delta * shrink[None, :], delta)
    self.coins -= delta
    self.cash += delta @ price
    return delta.sum(axis=0), -float((delta @ price).sum())


def leverage_order(
    value: np.ndarray,
    equity: np.ndarray,
    target: np.ndarray,
    limit: np.ndarray,
    speed: float | np.ndarray,
) -> np.ndarray:
    """Change of position value (USD) a leverage-targeting fund wants, shape (n,).

    Within its limit a fund closes `speed` (one or one per fund) of the gap to
    target * equity; above the limit
    (a margin call) it closes all of it; with no positive equity it sells everything.
    """
    gap = target * equity - value
    lev = np.divide(value, equity, out=np.full_like(value, np.inf), where=equity > 0)
    delta = np.where(lev > limit, gap, speed * gap)
    return np.where(equity > 0, delta, -value)


def trader_settle(self, orders: np.ndarray, price: np.ndarray) -> float:
    """Execute at `price`; write off negative equity of emptied accounts.

    Returns the USD written off today (a loss of the brokers, i.e. the outside account).
    """
    self.coins += orders
    np.maximum(self.coins, 0.0, out=self.coins)
    self.cash -= orders @ price
    broke = (self.cash < 0) & (self.coins.sum(axis=1) == 0.0)
    written_off = float(-self.cash[broke].sum())
    self.cash[broke] = 0.0
    self.bad_debt += written_off
    return written_off


def trader_refill(self, price: np.ndarray, coins_cap: float) -> float:
    """Retail money follows the market: each account's equity relaxes towards its day-0
    share of `wealth_share` x `coins_cap` (USD, the coins' market cap at `price`, USD/coin
    of shape (assets,)) by 1/`refill_days` of the gap a day: deposits (new money, traders)
    below it, withdrawals above it. Without it the sector pays its trading costs to the
    outside market and is never replaced (docs/calibration.md, "The discount").

    Returns the net USD paid in today (from the outside account; negative: paid out).
    """
    days = self.cfg.refill_days
    if days is None or self.n == 0:
        return 0.0
    target = self.cfg.wealth_share * coins_cap * self.entry_share
    paid = (target - self.equity(price)) / days
    self.cash += paid
    return float(paid.sum())


def institution_close_small(self, price: np.ndarray) -> tuple[np.ndarray, float, list[int]]:
    """Close every live fund whose equity is positive but below `fund_exit_equity` of the
    equity it started with, and every market maker below `mm_withdraw_equity` of its
    highest equity since entry (its loss limit: it stops quoting and winds down rather
    than wait, unable to earn, for a recovery). Creditors are repaid in full (it is
    solvent) and the rest goes to its owners, the outside. Not a default; the place is
    taken after `reentry_days`. Returns (coins, cash) passed to the outside market and
    the indices closed."""
    equity = self.equity(price)
    fund = (self.kind == FUND) & (equity < self.cfg.fund_exit_equity * self.equity_ref)
    mm = (self.kind == MARKET_MAKER) & (equity < self.cfg.mm_withdraw_equity * self.equity_peak)
    small = self.alive & (equity > 0) & (fund | mm)
    out_coins = np.zeros(self.coins.shape[1])
    out_cash = 0.0
    closed = [int(i) for i in np.flatnonzero(small)]
    for i in closed:
        c, m = self.fail(i, price)
        out_coins += c
        out_cash += m
    self.defaults -= len(closed)  # a closure, counted apart
    self.closures += len(closed)
    return out_coins, out_cash, closed


# ---- the market ----


def market_stress(self) -> np.ndarray:
    """Divisor of market makers' depth: 1 + gamma * max(0, vol/calm - 1), shape (A,),
    with `calm` each coin's calm daily volatility (`calm_daily_vol`)."""
    excess = np.maximum(0.0, self.vol / self.calm_vol - 1.0)
    return 1.0 + self.cfg.depth_stress_sensitivity * excess


def market_depth_factor(self, mm_capacity: float) -> np.ndarray:
    """Depth relative to calm depth, shape (A,).

    `mm_capacity` is the market makers' quoting capital relative to day 0 (0..1+).
    Their share of depth is divided by 1 + gamma * max(0, vol/calm - 1) (`stress`).
    """
    share = self.cfg.market_maker_depth_share
    return (1.0 - share) + share * mm_capacity / self.stress()


def market_counterparty_shares(self, mm_capacity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Who takes the other side of the net flow: each market maker's share, shape
    (n_institutions, A), and the outside market's, shape (A,); in proportion to depth."""
    total = self.depth_factor(float(mm_capacity.sum()))
    mm = self.cfg.market_maker_depth_share * mm_capacity[:, None] / self.stress()[None, :]
    mm_share = mm / total[None, :]
    return mm_share, 1.0 - mm_share.sum(axis=0)


def apply_move(
    log_base: np.ndarray, transient: np.ndarray, move: np.ndarray, keep: float, decay: float
) -> tuple[np.ndarray, np.ndarray]:
    """The permanent and the transient parts of the log price after a move."""
    return log_base + keep * move, decay * transient + (1.0 - keep) * move


def market_quote(self, mm_capacity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each market maker's share of the net flow and the day's depth factor."""
    mm_share, _ = self.counterparty_shares(mm_capacity)
    return mm_share, self.depth_factor(float(mm_capacity.sum()))


def linear_move(
    net_coins: np.ndarray,
    supply: np.ndarray,
    depth: np.ndarray,
    multiplier: float,
    kink: np.ndarray,
) -> np.ndarray:
    """The linear law's move for a net flow of `net_coins` at `depth` (`Market.impact`)."""
    return linear_impact(net_coins / (supply * depth), multiplier, kink)


def linear_impact(share: np.ndarray, multiplier: float, kink: np.ndarray) -> np.ndarray:
    """Log-price move of a net flow of `share` of the supply (over depth), shape (A,):
    `multiplier * share` up to `kink`, then a square root, `multiplier * sqrt(kink * |share|)`
    (continuous, concave): a day's flow of many days' volume moves the price by the
    square-root law of large metaorders (Toth et al. 2011; Donier & Bonart 2015), not in
    proportion."""
    a = np.abs(share)
    big = a > kink
    root = np.sqrt(np.where(big, kink, 0.0) * np.where(big, a, 0.0))  # 0 where linear
    return np.sign(share) * multiplier * np.where(big, root, a)


def market_record_return(self, prev_log_price: np.ndarray) -> None:
    """Store today's log return and update the rolling realized volatility."""
    self.ret = self.log_price - prev_log_price
    window = self._ret_buf.shape[0]
    self._ret_buf[self._n_ret % window] = self.ret
    self._n_ret += 1
    n = min(self._n_ret, window)
    if n >= 2:
        self.vol = self._ret_buf[:n].std(axis=0, ddof=1)


def institution_take_flow(self, wanted: np.ndarray, price: np.ndarray) -> np.ndarray:
    """Market makers take their share `wanted` (n, assets; coins, + bought) of the day's
    net flow at `price`, but deliver no coins they lack and buy no more than
    `mm_inventory_limit` x their target inventory (risk limits). Returns what they took."""
    room = np.maximum(self.cfg.mm_inventory_limit * self.mm_target_coins - self.coins, 0.0)
    delta = np.minimum(np.maximum(wanted, -self.coins), room)
    self.coins += delta
    self.cash -= delta @ price
    return delta


def model_fear_share(self, day: int) -> np.ndarray:
    """Share of each saver's social neighbours in fear (panicked savers, traders
    liquidated within a month), shape (savers,)."""
    fear = np.zeros(self.n_nodes)
    n_s, n_r = self.savers.n, self.traders.n
    fear[:n_s] = self.savers.panicked
    fear[n_s : n_s + n_r] = self.traders.fear(day)
    if self.exchanges.n:  # customers of a recently failed exchange
        savers_hit, traders_hit = self.exchanges.customers_in_fear(day)
        fear[:n_s] = np.logical_or(fear[:n_s], savers_hit)
        fear[n_s : n_s + n_r] = np.logical_or(fear[n_s : n_s + n_r], traders_hit)
    return neighbour_share(self._social[: self.savers.n], fear, self._savers_degree)


def institution_after_trade(
    self,
    orders: np.ndarray,
    flows: np.ndarray,
    mm_share: np.ndarray,
    price: np.ndarray,
    coins_cap: float,
    outside_coins: np.ndarray,
    outside_cash: float,
) -> tuple[float, bool]:
    """The model's sequence of then, up to the repayments (the institutions settle, market
    makers and the outside take the other side of the net flow, layoffs, credit); the
    rest of the day's sequence always follows, as the methods (resolve_defaults, ...)."""
    self.coins += orders  # the institutions settle their own orders
    np.maximum(self.coins, 0.0, out=self.coins)
    self.cash -= orders @ price
    net = sum(flows)
    mm_delta = institution_take_flow(self, -mm_share * net[None, :], price)
    outside_delta = -net - mm_delta.sum(axis=0)  # the rest goes to the outside market
    outside_coins += outside_delta
    outside_cash -= float(outside_delta @ price)
    coins, cash = institution_layoff(self, price, outside_coins)
    outside_coins += coins
    outside_cash += cash
    outside_cash -= institution_draw_credit(self)
    outside_cash += institution_repay(self)
    return outside_cash, False


def saver_close_marks(self, price: np.ndarray) -> tuple[float, float, float]:
    """The plans' crypto, their other assets and their cohorts' open losses, USD."""
    value = self.crypto_value(price)
    pnl = value + self.proceeds - self.cost
    return float(value.sum()), float(self.other.sum()), float(np.maximum(0.0, -pnl).sum())


def record_counts(
    log_price: np.ndarray,
    log_fundamental: np.ndarray,
    pegged: np.ndarray,
    max_mispricing: np.ndarray,
    strategy: np.ndarray,
    panicked: np.ndarray,
    alive: np.ndarray,
) -> tuple[int, int, int]:
    """The records' largest mispricing so far (in place) and their three counts."""
    gap = np.where(pegged, 0.0, np.abs(log_price - log_fundamental))
    np.maximum(max_mispricing, gap, out=max_mispricing)
    return int(np.bincount(strategy, minlength=3)[1]), int(panicked.sum()), int(alive.sum())


def model_record_marks(
    self, flows: np.ndarray
) -> tuple[tuple[int, int, int], np.ndarray, np.ndarray, float]:
    """The records' marks as the model computed them before `record_marks`: the counts, the
    depth factor of `Market.quote` at the market makers' capacity, each row's `row @ price`
    and the funds' mean leverage."""
    m = self.market
    counts = record_counts(
        m.log_price,
        m.log_fundamental,
        m.pegged,
        self.max_mispricing,
        self.traders.strategy,
        self.savers.panicked,
        self.institutions.alive,
    )
    price = m.price
    _, depth = m.quote(self.institutions.mm_capacity(price, m.coins_cap(price)))
    flow_usd = np.array([row @ price for row in flows])
    return counts, depth, flow_usd, self.institutions.mean_fund_leverage(price)


def menu_drawdown(menu: np.ndarray, price: np.ndarray, peaks: np.ndarray) -> float:
    """The menu-weighted fall of prices from their high over the rows of `peaks`."""
    return float(menu @ np.maximum(0.0, 1.0 - price / peaks.max(axis=0)))


def close_books(
    holdings: np.ndarray,
    price: np.ndarray,
    prev_price: np.ndarray,
    pnl: np.ndarray,
    pnl_asset: np.ndarray,
    peak_row: np.ndarray,
    outside_ref: np.ndarray,
    outside_coins: np.ndarray,
    follow: float,
) -> None:
    """The outside's reference, the savers' high and the holders' gains, in place."""
    if outside_ref.size:
        outside_ref += follow * (np.maximum(outside_coins, 0.0) - outside_ref)
    peak_row[:] = price
    pnl += holdings @ (price - prev_price)
    pnl_asset += holdings * (price - prev_price)[None, :]


def net_flow(orders: list[np.ndarray]) -> np.ndarray:
    """Net coins of all order books together, (assets,)."""
    return sum(q.sum(axis=0) for q in orders)


def saver_update_offer(self, day: int) -> None:
    """Set which cohorts' plans offer crypto on `day` (and when each first did)."""
    share = offer_share(self.cfg, day, self.open_day, self.offer_ceiling)
    self.offering = self.adopt_rank < share
    if self.target_date_only:  # self-directed savers may no longer buy crypto
        self.offering &= self.target_date
    self.first_offer[self.offering & (self.first_offer < 0)] = day


def saver_fill_within_cap(
    self, orders: np.ndarray, decision_price: np.ndarray, price: np.ndarray
) -> np.ndarray:
    """The fill, then the concentration cap."""
    return within_cap(self, fill(orders, decision_price, price))


def random_walk(
    log_fundamental: np.ndarray,
    drift: np.ndarray,
    vol: np.ndarray,
    chol: np.ndarray,
    draws: np.ndarray,
) -> np.ndarray:
    """A day's step of the log fundamentals."""
    return log_fundamental + drift + vol * (chol @ draws)
