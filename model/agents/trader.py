"""Retail traders: fundamentalists, chartists and noise traders who switch by herding.

The structure is Franke & Westerhoff's (2012) DCA-HPM model, written for agents on a graph
(with Lux & Marchesi's 1999 herding): every day each trader changes its crypto weight by

    fundamentalist:  phi * (log f - log p) + sigma_f * eps_f(t)
    chartist:        chi * trend           + sigma_c * eps_c(t)
    noise:           0
    every trader:    + sigma_i * eps_i(t) + kappa * (w0 - w)

where eps_f, eps_c are common to the group (sentiment) and eps_i is the trader's own; the
weight stays within [0, leverage] (budget constraint). Fundamentalists and chartists
reconsider at rate nu: a fundamentalist turns chartist with probability nu*exp(-a), a
chartist turns fundamentalist with nu*exp(a), where

    a = alpha_0 + alpha_n * (F - C share among its trader neighbours) + alpha_p * mispricing^2

so traders herd locally and return to fundamentals when the price strays far (structural
stochastic volatility: fat tails and volatility clustering). Leveraged traders are liquidated
(all coins sold) when equity falls below `maintenance_margin` of the initial margin; a loss
beyond their equity is written off by the broker (the outside market's account). Retail money
follows the market: each account relaxes towards its day-0 share of `wealth_share` x the coins'
cap with a mean lag of `refill_days` (deposits, new traders, withdrawals), so the sector does not
drain away through the impact it pays.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from crypto401k.model import numpy_calls
from crypto401k.model.agents.view import RowAgent
from crypto401k.model.config import Config
from crypto401k.model.kernels import VALUE, _maximum, _minimum, _pairwise, compiled
from crypto401k.model.market import calm_reference_vol, cholesky_psd
from crypto401k.model.network import int64_indices
from crypto401k.model.policy import PolicyEffects

FUNDAMENTALIST, CHARTIST, NOISE = 0, 1, 2
STRATEGY_NAMES = ("fundamentalist", "chartist", "noise")
FEAR_DAYS = 30  # a liquidation makes a trader a visible source of fear for a month


class TraderPopulation:
    """State of all retail traders in arrays of shape (n,) or (n, assets)."""

    def __init__(
        self,
        cfg: Config,
        rng: np.random.Generator,
        price0: np.ndarray,
        market_cap: np.ndarray,
        adjacency: sp.csr_array,
    ) -> None:
        t = self.cfg = cfg.traders
        n = self.n = t.n_traders
        self.cap_share = np.asarray(cfg.coin_cap_share)
        # Wealth is Pareto-like (lognormal with a heavy right tail), summing to the share.
        w = rng.lognormal(0.0, 1.0, n)
        self.entry_share = w / w.sum() if n else np.zeros(0)  # each one's share of the sector
        equity = t.wealth_share * market_cap.sum() * self.entry_share
        levered = rng.random(n) < t.leverage_share
        self.leverage = np.where(levered, t.max_leverage, 1.0)  # maximum position / equity
        base = np.where(levered, min(t.leveraged_weight, t.max_leverage), t.initial_weight)
        self.w0 = base[:, None] * self.cap_share[None, :]  # (n, assets): weight returned to
        self.coins = equity[:, None] * self.w0 / price0[None, :]
        self.cash = equity * (1.0 - base)
        self.strategy = rng.choice(3, size=n, p=t.initial_shares).astype(np.int8)
        self.liquidated_day = np.full(n, -(10**9), dtype=np.int64)
        self.liquidations = 0  # cumulative count
        self.bad_debt = 0.0  # USD written off by brokers, cumulative
        self.trend = np.zeros(len(price0))
        self.trend_decay = 0.5 ** (1.0 / t.trend_halflife_days)
        self.adjacency = int64_indices(adjacency)  # trader-to-trader social edges, (n, n)
        # each coin's calm daily volatility (a move beyond it draws attention), as the
        # institutions' margins read it
        self.calm_vol = calm_reference_vol(cfg)
        corr = np.asarray(cfg.market.correlation)
        # lower Cholesky factor of the assets' correlation (None with one asset: no draw change)
        self.shock_chol = cholesky_psd(corr) if len(corr) > 1 else None

    # ---- derived state ---------------------------------------------------------------
    def equity(self, price: np.ndarray) -> np.ndarray:
        return self.coins @ price + self.cash

    def fear(self, day: int) -> np.ndarray:
        return day - self.liquidated_day < FEAR_DAYS

    # ---- the rule ----------------------------------------------------------------------
    def decide(
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

        `credit` (USD) is the most brokers lend to all traders together (without it a
        leveraged trader re-levering into its own gains can buy up the market: issue 17's
        divergence sweep); `last_return` (yesterday's daily log return, shape (assets,))
        raises every noise term by `attention` (`attention_factor`).

        The rule is three compiled passes over the traders (`_switching_index`, `_orders`,
        `_credit_and_margin`) with numpy's `exp` and the holdings' values `coins @ price`
        between them, all in one compiled call (`_trader_rule`, which calls numpy's own
        routines: `model/numpy_calls.py`), so the result is the same, bit for bit, as the
        rule written in numpy array operations (benchmarks/reference.py writes it once
        more, one trader at a time)."""
        t = self.cfg
        n, n_assets = self.coins.shape
        u = rng.random(n)
        eps_common = rng.standard_normal((2, n_assets))
        if self.shock_chol is not None:  # sentiment moves assets together (market.correlation)
            eps_common = eps_common @ self.shock_chol.T
        eps_own = rng.standard_normal((n, n_assets))
        # a big move draws trading (`attention_factor`; x 1.0 is exact: no attention, no move)
        noticed = t.attention > 0.0 and last_return is not None
        last = last_return if noticed else np.zeros(n_assets)

        # strategy switching (noise traders keep their role)
        adj = self.adjacency
        switching = (
            self.strategy,
            adj.indptr,
            adj.indices,
            adj.data,
            t.herding_locality,
            t.predisposition,
            t.herding,
            t.misalignment,
        )
        rule = (
            u,
            t.switching_rate,
            self.coins,
            price,
            self.cash,
            log_fundamental,
            self.trend,
            eps_common,
            eps_own,
            (last, t.attention if noticed else 0.0, self.calm_vol),
            self.cap_share,
            self.w0,
            effects.leverage_cap,
            (
                t.fundamentalist_reaction,
                t.fundamentalist_noise,
                t.chartist_reaction,
                t.chartist_noise,
                t.idiosyncratic_noise,
                t.rebalance_speed,
            ),
            credit,
            self.leverage,
            t.maintenance_margin,
            self.liquidated_day,
            day,
        )
        orders, liquidated = _trader_rule(switching, *rule)
        self.liquidations += liquidated
        return orders

    def settle(self, orders: np.ndarray, price: np.ndarray) -> float:
        """Execute at `price`; write off negative equity of emptied accounts.

        Returns the USD written off today (a loss of the brokers, i.e. the outside account).
        """
        written_off = _settle(self.coins, orders, self.cash, price)
        self.bad_debt += written_off
        return written_off

    def refill(self, price: np.ndarray, coins_cap: float) -> float:
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
        scale = self.cfg.wealth_share * coins_cap  # USD: the sector's target equity
        return _refill(self.cash, self.coins, price, self.entry_share, scale, days)

    def update_trend(self, log_return: np.ndarray) -> None:
        self.trend = self.trend_decay * self.trend + (1.0 - self.trend_decay) * log_return


def attention_factor(
    last_return: np.ndarray, attention: float, reference: float | np.ndarray
) -> np.ndarray:
    """Multiplier of the traders' noise after yesterday's move, shape (assets,) (any shape
    `last_return` and `reference` broadcast to): 1 + attention * max(0, |r| / reference - 1),
    with `reference` each coin's calm daily volatility (> 0). A day's move beyond it draws
    attention and trading the next day (an ARCH-like, one-day memory)."""
    r, ref = np.broadcast_arrays(np.asarray(last_return, float), np.asarray(reference, float))
    # copies: a view of a broadcast array warns when numba reads its flags (numpy 2.5)
    out = _attention(r.ravel().copy(), float(attention), ref.ravel().copy())
    return out.reshape(r.shape)[()]  # a scalar for scalars, as numpy gives


@compiled
def _attention(
    last_return: np.ndarray, attention: float, reference: np.ndarray
) -> np.ndarray:  # pragma: no cover - compiled
    """`attention_factor`, as numpy computes it, element by element."""
    out = np.empty(last_return.shape[0])
    for j in range(out.shape[0]):
        out[j] = 1.0 + attention * _maximum(0.0, np.abs(last_return[j]) / reference[j] - 1.0)
    return out


# ---- the compiled passes of `TraderPopulation.decide` ----------------------------------
# Each repeats the numpy rule's arithmetic operation for operation (no reassociation, no
# fused multiply-add: numba's default), so the orders are the same to the last bit.


@compiled
def _switching_index(
    strategy: np.ndarray,
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    locality: float,
    predisposition: float,
    herding: float,
    misalignment_term: float,
) -> np.ndarray:  # pragma: no cover - compiled
    """The switching index a of each trader, shape (n,): predisposition + herding x the
    herd signal + the misalignment term, clipped to [-50, 50]. The herd signal is
    (F - C) / (F + C) among its trader neighbours (weight `locality`) and over all traders
    (Lux and Marchesi's mean field). The social
    counts walk the CSR adjacency (`indptr`, `indices`, `data`) as scipy's product does."""
    n = strategy.shape[0]
    gf = 0.0
    gc = 0.0
    for i in range(n):
        if strategy[i] == FUNDAMENTALIST:
            gf += 1.0
        elif strategy[i] == CHARTIST:
            gc += 1.0
    glob = (gf - gc) / (gf + gc) if gf + gc > 0 else 0.0
    rest = (1.0 - locality) * glob
    a = np.empty(n)
    for i in range(n):
        nf = 0.0
        nc = 0.0
        for jj in range(indptr[i], indptr[i + 1]):
            other = strategy[indices[jj]]
            nf += data[jj] * (1.0 if other == FUNDAMENTALIST else 0.0)
            nc += data[jj] * (1.0 if other == CHARTIST else 0.0)
        total = nf + nc
        local = (nf - nc) / total if total > 0 else glob
        v = predisposition + herding * (locality * local + rest) + misalignment_term
        a[i] = _minimum(_maximum(v, -50.0), 50.0)
    return a


@compiled
def _orders(
    strategy: np.ndarray,
    u: np.ndarray,
    exp_minus_a: np.ndarray,
    exp_a: np.ndarray,
    rate: float,
    coins: np.ndarray,
    price: np.ndarray,
    equity: np.ndarray,
    mispricing: np.ndarray,
    trend: np.ndarray,
    eps_common: np.ndarray,
    eps_own: np.ndarray,
    loud: np.ndarray,
    cap_share: np.ndarray,
    w0: np.ndarray,
    limit: np.ndarray,
    reactions: tuple[float, float, float, float, float, float],
) -> np.ndarray:  # pragma: no cover - compiled
    """Switch strategies (in place in `strategy`), then each trader's order in coins, shape
    (n, assets), before the brokers' credit and the margin check: the change of weight of
    its strategy, its own noise and its rebalancing, its weights within [0, limit] in total
    (the budget constraint)."""
    f_react, f_noise, c_react, c_noise, own_noise, rebalance = reactions
    n, k = coins.shape
    f_demand = np.empty(k)
    c_demand = np.empty(k)
    for j in range(k):
        f_demand[j] = f_react * mispricing[j] + f_noise * (eps_common[0, j] * loud[j])
        c_demand[j] = c_react * trend[j] + c_noise * (eps_common[1, j] * loud[j])
    orders = np.empty((n, k))
    weight = np.empty(k)
    target = np.empty(k)
    for i in range(n):
        s = strategy[i]
        if s == FUNDAMENTALIST and u[i] < rate * exp_minus_a[i]:
            s = CHARTIST
        elif s == CHARTIST and u[i] < rate * exp_a[i]:
            s = FUNDAMENTALIST
        strategy[i] = s
        eq = equity[i]
        solvent = eq > 0
        for j in range(k):
            weight[j] = (coins[i, j] * price[j]) / eq if solvent else 0.0
            if s == FUNDAMENTALIST:
                d = f_demand[j] * cap_share[j]
            elif s == CHARTIST:
                d = c_demand[j] * cap_share[j]
            else:
                d = 0.0
            d = d + (
                (own_noise * (eps_own[i, j] * loud[j])) * cap_share[j]
                + rebalance * (w0[i, j] - weight[j])
            )
            target[j] = _maximum(weight[j] + d, 0.0)
        total = 0.0 + _pairwise(target, VALUE)  # numpy's row sum (pairwise from 8 assets)
        if total > limit[i]:
            factor = limit[i] / total
            for j in range(k):
                target[j] = target[j] * factor
        for j in range(k):
            orders[i, j] = ((target[j] - weight[j]) * eq) / price[j] if solvent else 0.0
    return orders


@compiled
def _credit_and_margin(
    orders: np.ndarray,
    spend: np.ndarray,
    cash: np.ndarray,
    credit: float,
    coins: np.ndarray,
    position: np.ndarray,
    equity: np.ndarray,
    leverage: np.ndarray,
    maintenance: float,
    liquidated_day: np.ndarray,
    day: int,
) -> int:  # pragma: no cover - compiled
    """In place in `orders` (coins, (n, assets); `spend` is orders @ price, USD): the
    brokers' credit (`broker_credit_scale`), the margin check (`needs_liquidation`: all
    coins sold, `liquidated_day` set) and no sale beyond the coins held. Returns the number
    of traders liquidated."""
    n, k = orders.shape
    debt = np.empty(n)
    more = np.empty(n)
    for i in range(n):
        debt[i] = _maximum(-cash[i], 0.0)
        more[i] = _maximum(_maximum(spend[i] - cash[i], 0.0) - debt[i], 0.0)
    wanted = 0.0 + _pairwise(more, VALUE)
    room = credit - (0.0 + _pairwise(debt, VALUE))
    room = 0.0 if room < 0.0 else room  # Python's max(room, 0.0)
    if not wanted <= room:
        scale = room / wanted
        for i in range(n):
            if more[i] > 0:
                for j in range(k):
                    if orders[i, j] > 0:
                        orders[i, j] = orders[i, j] * scale
    count = 0
    for i in range(n):
        pos = position[i]
        if leverage[i] > 1.0 and pos > 0 and equity[i] < maintenance * pos / leverage[i]:
            for j in range(k):
                orders[i, j] = -coins[i, j]
            liquidated_day[i] = day
            count += 1
        for j in range(k):
            orders[i, j] = _maximum(orders[i, j], -coins[i, j])
    return count


@compiled
def _trader_rule(
    switching: tuple,
    u: np.ndarray,
    rate: float,
    coins: np.ndarray,
    price: np.ndarray,
    cash: np.ndarray,
    log_fundamental: np.ndarray,
    trend: np.ndarray,
    eps_common: np.ndarray,
    eps_own: np.ndarray,
    attention: tuple[np.ndarray, float, np.ndarray],
    cap_share: np.ndarray,
    w0: np.ndarray,
    leverage_cap: float,
    reactions: tuple[float, float, float, float, float, float],
    credit: float,
    leverage: np.ndarray,
    maintenance: float,
    liquidated_day: np.ndarray,
    day: int,
) -> tuple[np.ndarray, int]:  # pragma: no cover - compiled
    """The traders' rule in one compiled call: the switching index, numpy's `exp` of it,
    the holdings' values `coins @ price`, the orders, their values and the brokers' credit
    and margin check. (orders in coins (n, assets), traders liquidated). `exp` and the
    products are numpy's own routines called from here (`model/numpy_calls.py`), so the
    result is what the three passes with numpy's calls between them gave, to the last bit.
    `attention` is yesterday's return, the attention and the calm volatility
    (`attention_factor`; an attention of 0 leaves the noise as it is)."""
    strategy, indptr, indices, data, locality, predisposition, herding, coefficient = switching
    k = price.shape[0]
    mispricing = np.empty(k)  # (assets,), of numpy's log of the price
    square = np.empty(k)
    log_p = numpy_calls.log(price)
    for j in range(k):
        mispricing[j] = log_fundamental[j] - log_p[j]
        square[j] = mispricing[j] * mispricing[j]  # numpy's mispricing**2
    last_return, attention_rate, calm = attention
    loud = _attention(last_return, attention_rate, calm) if attention_rate > 0.0 else np.ones(k)
    misalignment = coefficient * numpy_calls.rowdots(cap_share.reshape((1, k)), square)[0]
    limit = np.empty(leverage.shape[0])
    for i in range(leverage.shape[0]):
        limit[i] = _minimum(leverage[i], leverage_cap)
    a = _switching_index(
        strategy, indptr, indices, data, locality, predisposition, herding, misalignment
    )
    position = numpy_calls.matvec(coins, price)
    equity = position + cash
    orders = _orders(
        strategy, u, numpy_calls.exp(-a), numpy_calls.exp(a), rate, coins, price, equity,
        mispricing, trend, eps_common, eps_own, loud, cap_share, w0, limit, reactions,
    )  # fmt: skip
    count = _credit_and_margin(
        orders, numpy_calls.matvec(orders, price), cash, credit, coins, position, equity,
        leverage, maintenance, liquidated_day, day,
    )  # fmt: skip
    return orders, count


@compiled
def _settle(
    coins: np.ndarray, orders: np.ndarray, cash: np.ndarray, price: np.ndarray
) -> float:  # pragma: no cover - compiled
    """`TraderPopulation.settle` in place (paying `orders @ price`, numpy's product, USD):
    the USD written off, the negative cash of accounts left with no coins."""
    spend = numpy_calls.matvec(orders, price)
    n, k = coins.shape
    broke = np.empty(n)
    m = 0
    for i in range(n):
        empty = True
        for j in range(k):
            coins[i, j] = _maximum(coins[i, j] + orders[i, j], 0.0)
            empty = empty and coins[i, j] == 0.0
        cash[i] = cash[i] - spend[i]
        if cash[i] < 0 and empty:
            broke[m] = cash[i]
            m += 1
            cash[i] = 0.0
    return -(0.0 + _pairwise(broke[:m], VALUE))


@compiled
def _refill(
    cash: np.ndarray,
    coins: np.ndarray,
    price: np.ndarray,
    entry_share: np.ndarray,
    scale: float,
    days: float,
) -> float:  # pragma: no cover - compiled
    """`TraderPopulation.refill` in place (the holdings' value `coins @ price`, numpy's
    product, USD); the USD paid in."""
    value = numpy_calls.matvec(coins, price)
    paid = np.empty(cash.shape[0])
    for i in range(cash.shape[0]):
        paid[i] = (scale * entry_share[i] - (value[i] + cash[i])) / days
        cash[i] = cash[i] + paid[i]
    return 0.0 + _pairwise(paid, VALUE)


class RetailTrader(RowAgent):
    """A retail trader; its state is row `row` of `model.traders`."""

    population = "traders"
    _pop: TraderPopulation

    @property
    def strategy(self) -> str:
        return STRATEGY_NAMES[self._pop.strategy[self.row]]

    @property
    def leverage(self) -> float:
        return float(self._pop.leverage[self.row])

    @property
    def cash(self) -> float:
        return float(self._pop.cash[self.row])

    @property
    def equity(self) -> float:
        return float(self.coins @ self.model.market.price + self.cash)

    @property
    def liquidated(self) -> bool:
        return bool(self.model.day - self._pop.liquidated_day[self.row] < FEAR_DAYS)

    @property
    def wealth(self) -> float:
        """Equity (coins at today's price plus cash), USD."""
        return self.equity
