"""Institutions: leveraged funds, lenders and market makers, linked by loans.

- **Funds** target a leverage (position / equity) and trade a share of the gap each day
  (Greenwood, Landier & Thesmar 2015). Above their margin limit they must sell back to target
  at once (a margin call): falling prices raise leverage, force sales, and sales move prices
  -- the fire-sale spiral (Thurner, Farmer & Geanakoplos 2012). Funds differ: each draws its
  target, its margin buffer and its speed (no clones that fail on the same day), and starts
  below its target. Lenders scale the borrowing they allow down when volatility rises above
  its calm level (procyclical margins: Adrian & Shin 2010; Aymanns & Farmer 2015).
- **Credit is finite.** Buying beyond its cash draws on a fund's credit lines, and a lender
  lends only the cash it has: a fund's buy order is cut to its cash plus what its lenders can
  still lend. Only a residual (the execution price above the decision price) falls to the
  outside.
- **Lenders** fund the funds and each other (the exposure layer) and take deposits from the
  outside. They hold no coins by choice: collateral seized in a default is sold off at
  1/`lender_liquidation_days` of it a day.
- **Market makers** stand on the other side of the day's net flow with the outside market,
  in proportion to the depth they provide. They stop quoting when their equity falls below
  `mm_withdraw_equity` of its initial value, which thins depth in stress.

Loans are an explicit matrix `loans[i, j]` = what institution i owes j (column n = the
outside market), so every dollar lent left the lender's cash. An institution whose equity
turns negative defaults: its coins, cash and claims pass to its creditors pro rata to what
it owes them, and each creditor loses the unrecovered part of its claim (Eisenberg & Noe
2001 recovery, resolved sequentially); a creditor pushed below zero defaults in turn.
Institutions are few (tens to hundreds), so the loan matrix is dense.

A failed institution is replaced after `reentry_days` by a new one sized to the market it
enters: `entry_equity_share` of its predecessor's day-0 equity times the coins' cap now over
day 0, with freshly drawn traits.
"""

from __future__ import annotations

import numpy as np
from crypto401k.model import numpy_calls
from crypto401k.model.agents.view import RowAgent
from crypto401k.model.config import Config
from crypto401k.model.kernels import (
    NEGATIVE,
    VALUE,
    _column_parts,
    _maximum,
    _minimum,
    _pairwise,
    compiled,
)
from crypto401k.model.ledger import Ledger
from crypto401k.model.market import calm_daily_vol
from crypto401k.model.policy import PolicyEffects

FUND, LENDER, MARKET_MAKER = 0, 1, 2
KIND_NAMES = ("fund", "lender", "market_maker")
LAYOFF_RATE = 0.1  # market makers pass 10%/day of excess inventory to the outside market


class InstitutionPopulation:
    """State of all institutions; arrays of shape (n,), (n, assets) and (n, n+1)."""

    def __init__(
        self, cfg: Config, rng: np.random.Generator, price0: np.ndarray, market_cap: np.ndarray
    ) -> None:
        c = self.cfg = cfg.institutions
        self.kind = np.concatenate(
            [
                np.full(c.n_funds, FUND),
                np.full(c.n_lenders, LENDER),
                np.full(c.n_market_makers, MARKET_MAKER),
            ]
        ).astype(np.int8)
        n = self.n = len(self.kind)
        n_assets = len(price0)
        self.cap_share = np.asarray(cfg.coin_cap_share)
        total_cap = float(market_cap.sum())
        self.coins = np.zeros((n, n_assets))
        self.cash = np.zeros(n)
        self.loans = np.zeros((n, n + 1))  # loans[i, j]: i owes j; column n: the outside
        self.credit = np.zeros((n, n + 1))  # whom i draws new credit from (rows sum to 1)
        self.alive = np.ones(n, dtype=bool)
        self.defaults = 0
        self.entries = 0
        self.closures = 0  # funds closed after deep losses (not defaults)
        self.days_dead = np.zeros(n, dtype=np.int64)

        funds = np.flatnonzero(self.kind == FUND)
        lenders = np.flatnonzero(self.kind == LENDER)
        mms = np.flatnonzero(self.kind == MARKET_MAKER)

        def split(total: float, idx: np.ndarray) -> np.ndarray:
            w = rng.lognormal(0.0, 0.5, len(idx))
            return total * w / w.sum() if len(idx) else w

        # lenders: equity plus outside deposits, some lent to other lenders
        eq_l = split(c.lender_equity_share * total_cap, lenders)
        deposits = (c.lender_leverage - 1.0) * eq_l
        self.cash[lenders] = eq_l + deposits
        self.loans[lenders, n] = deposits
        for a, j in enumerate(lenders):  # j lends to some other lenders
            others = lenders[lenders != j]
            chosen = others[rng.random(len(others)) < c.interbank_density]
            if len(chosen):
                amount = c.interbank_share * (eq_l[a] + deposits[a]) / len(chosen)
                self.loans[chosen, j] += amount
                self.cash[chosen] += amount
                self.cash[j] -= amount * len(chosen)
        lender_liab = self.loans[lenders]
        sums = lender_liab.sum(axis=1, keepdims=True)
        self.credit[lenders] = np.divide(
            lender_liab, sums, out=np.zeros_like(lender_liab), where=sums > 0
        )

        # funds' traits: target, margin limit and speed differ fund by fund
        self.leverage_target = np.ones(n)
        self.leverage_max = np.ones(n)
        self.speed = np.zeros(n)
        self._draw_traits(funds, rng)
        # funds: equity levered (below target) with loans from one or two lenders
        eq_f = split(c.fund_equity_share * total_cap, funds)
        start = rng.uniform(c.initial_leverage_low, 1.0, len(funds))
        position = (1.0 + start * (self.leverage_target[funds] - 1.0)) * eq_f
        self.coins[funds] = position[:, None] * self.cap_share[None, :] / price0[None, :]
        for a, i in enumerate(funds):
            if len(lenders):
                k = min(len(lenders), 1 + int(rng.random() < 0.5))
                chosen = rng.choice(lenders, size=k, replace=False)
                self.credit[i, chosen] = 1.0 / k
            else:
                self.credit[i, n] = 1.0
            self.cash[i] = eq_f[a] - position[a]  # negative: drawn from credit lines below

        # market makers: inventory and cash, credit from the outside
        eq_m = split(c.mm_equity_share * total_cap, mms)
        self.coins[mms] = (
            (c.mm_inventory_weight * eq_m)[:, None] * self.cap_share[None, :] / (price0[None, :])
        )
        self.cash[mms] = (1.0 - c.mm_inventory_weight) * eq_m
        self.credit[mms, n] = 1.0
        self.mm_target_coins = self.coins.copy()

        self.draw_credit()
        # every loan from the outside so far left the outside's cash
        self.outside_cash0 = -float(self.loans[:, n].sum())
        self.equity0 = self.equity(price0)
        self.equity_ref = self.equity0.copy()  # a market maker's quoting reference
        self.paid_out = 0.0  # USD market makers have paid to their owners (the outside)
        self.equity_peak = self.equity0.copy()  # a market maker's highest equity since entry
        self.deposits0 = self.loans[:, n] * (self.kind == LENDER)
        self.cap0 = total_cap  # USD, the coins' cap at day 0 (entrants are sized against it)
        # calm daily volatility of each coin: the market's reference scaled by the coin's
        # fundamental volatility relative to the first asset's (procyclical margins)
        self.calm_vol = calm_daily_vol(cfg)

    def _draw_traits(self, idx: np.ndarray, rng: np.random.Generator) -> None:
        """Draw target leverage, margin limit and adjustment speed for funds `idx`."""
        c, k = self.cfg, len(idx)
        if k == 0:
            return
        borrow = (c.leverage_target - 1.0) * np.exp(c.leverage_dispersion * rng.standard_normal(k))
        buffer = (c.leverage_max - c.leverage_target) * rng.uniform(
            1.0 - c.margin_buffer_dispersion, 1.0 + c.margin_buffer_dispersion, k
        )
        self.leverage_target[idx] = 1.0 + borrow
        self.leverage_max[idx] = self.leverage_target[idx] + buffer
        self.speed[idx] = c.adjust_speed * rng.uniform(
            1.0 - c.adjust_speed_dispersion, 1.0 + c.adjust_speed_dispersion, k
        )

    # ---- derived state ---------------------------------------------------------------
    def claims(self) -> np.ndarray:
        """What others owe each institution, USD (n,)."""
        return _claims(self.loans)

    def liabilities(self) -> np.ndarray:
        """What each institution owes, USD (n,)."""
        return _liabilities(self.loans)

    def equity(self, price: np.ndarray) -> np.ndarray:
        """Coins at `price` + cash + claims - liabilities, USD (n,)."""
        return _equity_at(self.coins, price, self.cash, self.loans)

    def leverage(self, price: np.ndarray) -> np.ndarray:
        """Position / equity; inf for institutions with no positive equity."""
        e = self.equity(price)
        return np.divide(self.coins @ price, e, out=np.full(self.n, np.inf), where=e > 0)

    def mean_fund_leverage(self, price: np.ndarray) -> float:
        """Mean leverage of the live funds with positive equity (0 if none)."""
        return _mean_fund_leverage_at(
            self.coins, price, self.cash, self.loans, self.kind, self.alive
        )

    def mm_target(self, coins_cap: float) -> np.ndarray:
        """Each market maker's capital target, USD (n,): its day-0 equity scaled by the
        coins' cap now over day 0's (0 for other kinds). A firm commits capital to making a
        market in proportion to that market's size; an entrant starts below its target
        and grows to it from what it earns."""
        return _mm_target(self.equity0, self._cap_ratio(coins_cap), self.kind)

    def _cap_ratio(self, coins_cap: float) -> float:
        """The coins' cap now over day 0's (1 without a day-0 cap)."""
        return coins_cap / self.cap0 if self.cap0 > 0 else 1.0

    def mm_capacity(self, price: np.ndarray, coins_cap: float) -> np.ndarray:
        """Quoting capital of each market maker relative to all market makers' targets, (n,):
        1 in total when every market maker holds its target; less after losses or while
        entrants grow. Depth is measured in coins, so capital is compared with the market's
        size, not with day 0's dollars; a market maker quotes with at most its target."""
        return _mm_capacity_at(
            self.coins,
            price,
            self.cash,
            self.loans,
            self.equity0,
            self._cap_ratio(coins_cap),
            self.kind,
            self.alive,
        )

    def pay_out(self, price: np.ndarray, coins_cap: float) -> float:
        """Market makers pay equity above their capital target to their owners, from the
        cash above their cash buffer ((1 - `mm_inventory_weight`) of the target; inventory
        is not sold for it). Without this their capital would grow without bound from the
        spread they earn, and depth with it, so that volatility would decay over a run.
        Updates each market maker's equity peak (its loss limit's reference). Returns the
        USD paid (to the outside)."""
        paid = _pay_out_at(
            self.coins,
            price,
            self.cash,
            self.loans,
            self.equity0,
            self._cap_ratio(coins_cap),
            1.0 - self.cfg.mm_inventory_weight,
            self.kind,
            self.alive,
            self.equity_peak,
        )
        self.paid_out += paid
        return paid

    # ---- the rule ----------------------------------------------------------------------
    def decide(self, price: np.ndarray, effects: PolicyEffects, vol: np.ndarray) -> np.ndarray:
        """Orders in coins, shape (n, assets): funds' leverage targeting, lenders' sales.

        `vol` is each asset's realized daily volatility, shape (assets,): above its calm
        level lenders allow less borrowing (procyclical margins).
        """
        return _decide_at(
            self.coins,
            price,
            self.cash,
            self.loans,
            vol,
            self.calm_vol,
            self.cfg.margin_vol_exponent,
            effects.leverage_cap,
            self.leverage_target,
            self.leverage_max,
            self.speed,
            self.credit,
            self.kind,
            self.alive,
            self.cap_share,
            float(self.cfg.lender_liquidation_days),
        )

    # ---- credit and default ------------------------------------------------------------
    def lendable(self) -> np.ndarray:
        """Cash each institution can lend now, USD (n,): a live lender's positive cash."""
        return _lendable(self.cash, self.kind, self.alive)

    def buying_power(self, idx: np.ndarray) -> np.ndarray:
        """USD institutions `idx` can spend today: their own cash plus what their lenders can
        still lend, a lender shared by several borrowers split in proportion to their lines,
        shape (len(idx),)."""
        idx = np.asarray(idx)
        idx = np.flatnonzero(idx) if idx.dtype == bool else idx.astype(np.int64)
        return _buying_power(idx, self.cash, self.credit, self.kind, self.alive)

    def draw_credit(self) -> float:
        """Cover negative cash with loans: first from the borrower's lenders, up to the cash
        they have (in proportion to the borrower's credit lines), the rest from the outside
        (a residual for funds, whose orders were cut to their buying power; the credit line of
        market makers). Returns USD lent by the outside."""
        return _draw_credit(self.cash, self.loans, self.credit, self.kind, self.alive)

    def repay(self) -> float:
        """Institutions with spare cash pay down their loans pro rata; returns USD paid to the
        outside."""
        return _repay(self.cash, self.loans, self.kind, self.alive)

    def fail(self, i: int, price: np.ndarray) -> tuple[np.ndarray, float]:
        """Default of institution i. Its coins, cash and claims go to its creditors pro rata
        to what it owes them, up to what it owes; anything beyond goes to its owners (the
        outside). Returns (coins, cash) passed to the outside market."""
        n = self.n
        owed = self.loans[i].copy()
        total_owed = owed.sum()
        claims_col = self.loans[:, i].copy()
        assets = float(self.coins[i] @ price + self.cash[i] + claims_col.sum())
        to_creditors = 0.0 if total_owed <= 0 or assets <= 0 else min(1.0, total_owed / assets)
        share = np.zeros(n + 1)
        if total_owed > 0:
            share = to_creditors * owed / total_owed
        share[n] += 1.0 - to_creditors  # owners' residual, or everything if nothing owed
        out_coins = self.coins[i] * share[n]
        out_cash = self.cash[i] * share[n]
        self.coins[:n] += share[:n, None] * self.coins[i][None, :]
        self.cash[:n] += share[:n] * self.cash[i]
        self.loans[:, i] = 0.0
        self.loans += claims_col[:, None] * share[None, :]
        self.loans[i, :] = 0.0
        np.fill_diagonal(self.loans[:, :n], 0.0)  # a claim on oneself cancels
        self.coins[i] = 0.0
        self.cash[i] = 0.0
        self.alive[i] = False
        self.defaults += 1
        return out_coins, out_cash

    def resolve_defaults(self, price: np.ndarray) -> tuple[np.ndarray, float, list[int]]:
        """Default every institution with negative equity, cascading through creditors.

        Returns (coins, cash) passed to the outside market and the indices that failed.
        """
        out_coins = np.zeros(self.coins.shape[1])
        out_cash = 0.0
        failed: list[int] = []
        for _ in range(self.n):
            broke = _broke_at(self.coins, price, self.cash, self.loans, self.alive)
            if len(broke) == 0:
                break
            for i in broke:
                c, m = self.fail(int(i), price)
                out_coins += c
                out_cash += m
                failed.append(int(i))
        return out_coins, out_cash, failed

    def close_small(self, price: np.ndarray) -> tuple[np.ndarray, float, list[int]]:
        """Close every live fund whose equity is positive but below `fund_exit_equity` of the
        equity it started with, and every market maker below `mm_withdraw_equity` of its
        highest equity since entry (its loss limit: it stops quoting and winds down rather
        than wait, unable to earn, for a recovery). Creditors are repaid in full (it is
        solvent) and the rest goes to its owners, the outside. Not a default; the place is
        taken after `reentry_days`. Returns (coins, cash) passed to the outside market and
        the indices closed."""
        small = _small(
            self.equity(price),
            self.kind,
            self.alive,
            self.cfg.fund_exit_equity,
            self.equity_ref,
            self.cfg.mm_withdraw_equity,
            self.equity_peak,
        )
        out_coins = np.zeros(self.coins.shape[1])
        out_cash = 0.0
        closed = small.tolist()
        for i in closed:
            c, m = self.fail(i, price)
            out_coins += c
            out_cash += m
        self.defaults -= len(closed)  # a closure, counted apart
        self.closures += len(closed)
        return out_coins, out_cash, closed

    def reenter(self, price: np.ndarray, coins_cap: float, rng: np.random.Generator) -> float:
        """New institutions take the places of those dead for `reentry_days`, sized to the
        market they enter: `entry_equity_share` of the predecessor's day-0 equity (and a
        lender's deposits, owed to the outside) times the coins' cap now over day 0, in cash,
        with no coins or loans and, for a fund, freshly drawn traits; funds then lever up and
        market makers fill their inventory gradually. Returns the USD the outside put in."""
        self.days_dead[~self.alive] += 1
        wait = self.cfg.reentry_days
        if wait is None:
            return 0.0
        new = ~self.alive & (self.days_dead >= wait)
        if not new.any():
            return 0.0
        idx = np.flatnonzero(new)
        n = self.n
        scale = self.cfg.entry_equity_share * (coins_cap / self.cap0 if self.cap0 > 0 else 1.0)
        equity = scale * np.maximum(self.equity0[idx], 0.0)
        deposits = scale * self.deposits0[idx]
        self.cash[idx] += equity + deposits
        self.loans[idx, n] += deposits
        self.equity_ref[idx] = equity
        self.equity_peak[idx] = equity
        self._draw_traits(idx[self.kind[idx] == FUND], rng)
        mms = idx[self.kind[idx] == MARKET_MAKER]
        if len(mms):  # the inventory it aims for, at today's prices
            weight = self.cfg.mm_inventory_weight * self.equity_ref[mms]
            self.mm_target_coins[mms] = (
                weight[:, None] * self.cap_share[None, :] / np.maximum(price, 1e-300)[None, :]
            )
        self.alive[idx] = True
        self.days_dead[idx] = 0
        self.entries += len(idx)
        return float((equity + deposits).sum())

    def lose(self, i: int, fraction: float, ledger: Ledger) -> None:
        """Fraud or theft: `fraction` of i's coins and cash vanish (booked as lost)."""
        lost_coins = fraction * self.coins[i]
        lost_cash = fraction * max(self.cash[i], 0.0)
        ledger.lost_coins = ledger.lost_coins + lost_coins
        ledger.lost_cash += lost_cash
        self.coins[i] -= lost_coins
        self.cash[i] -= lost_cash

    def after_trade(
        self,
        orders: np.ndarray,
        flows: np.ndarray,
        mm_share: np.ndarray,
        price: np.ndarray,
        coins_cap: float,
        outside_coins: np.ndarray,
        outside_cash: float,
    ) -> tuple[float, bool]:
        """The institutions' books after the day's trades at `price`, in one compiled call:
        they settle their `orders` (n, assets); market makers take their share `mm_share`
        (n, assets) of the net of the order books `flows` (books, assets), but deliver no
        coins they lack and buy no more than `mm_inventory_limit` x their target inventory
        (risk limits), and the outside market takes the rest; market makers pass excess
        inventory to (or refill it from) the outside at `price`, without price impact
        (`LAYOFF_RATE` of the gap a day); `draw_credit`, `repay`. Then, on a day with no
        default, no closure and no place to refill today (nearly every day), the rest of
        the day's sequence too (nothing passes to the outside; the dead wait a day more) and
        `pay_out` at `coins_cap`.
        `outside_coins` (assets,) is updated in place; returns the outside's cash, USD, and
        whether the day's sequence is done (else `resolve_defaults`, `close_small`,
        `reenter` and `pay_out` follow, as methods)."""
        c = self.cfg
        outside_cash, done, paid = _after_trade(
            orders,
            flows,
            mm_share,
            price,
            self.coins,
            self.cash,
            self.loans,
            self.credit,
            self.kind,
            self.alive,
            self.mm_target_coins,
            self.equity0,
            self.equity_ref,
            self.equity_peak,
            self.days_dead,
            -1 if c.reentry_days is None else c.reentry_days,
            outside_coins,
            outside_cash,
            (
                c.mm_inventory_limit,
                self._cap_ratio(coins_cap),
                1.0 - c.mm_inventory_weight,
                c.fund_exit_equity,
                c.mm_withdraw_equity,
            ),
        )
        if done:
            self.paid_out += paid
        return outside_cash, done


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


@compiled
def margin_factor(
    vol: np.ndarray, calm_vol: np.ndarray, weight: np.ndarray, exponent: float
) -> float:  # pragma: no cover - compiled
    """Share of their normal borrowing lenders allow today: min(1, (calm / realized)^b) of
    the position-weighted volatility ratio over coins (Aymanns & Farmer 2015's leverage rule;
    b = 1/2 for value at risk). 1 in calm markets, falls as volatility rises. `vol`,
    `calm_vol` (daily) and `weight` have shape (assets,)."""
    ratio = np.empty((1, vol.shape[0]))
    for j in range(vol.shape[0]):
        ratio[0, j] = vol[j] / _maximum(calm_vol[j], 1e-12)
    r = numpy_calls.rowdots(ratio, weight)[0]  # `weight @ ratio`, numpy's product
    if exponent == 0.0 or r <= 1.0:
        return 1.0
    return r**-exponent


class Institution(RowAgent):
    """A fund, lender or market maker; its state is row `row` of `model.institutions`."""

    population = "institutions"
    _pop: InstitutionPopulation

    @property
    def kind(self) -> str:
        return KIND_NAMES[self._pop.kind[self.row]]

    @property
    def alive(self) -> bool:
        return bool(self._pop.alive[self.row])

    @property
    def cash(self) -> float:
        return float(self._pop.cash[self.row])

    @property
    def equity(self) -> float:
        return float(self._pop.equity(self.model.market.price)[self.row])

    @property
    def leverage(self) -> float:
        return float(self._pop.leverage(self.model.market.price)[self.row])

    @property
    def wealth(self) -> float:
        """Equity, USD."""
        return self.equity


# ---- compiled passes ---------------------------------------------------------------------
# Each repeats the numpy code it replaced operation for operation, sums included (a row of
# `loans` is summed pairwise, a column row after row, as numpy does), so the results are the
# same to the last bit. The products with prices (`coins @ price`) stay numpy's (BLAS).


@compiled
def _claims(loans: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    n = loans.shape[0]
    out = np.zeros(n)
    for i in range(n):
        for j in range(n):
            out[j] += loans[i, j]
    return out


@compiled
def _liabilities(loans: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    n = loans.shape[0]
    out = np.empty(n)
    for i in range(n):
        out[i] = 0.0 + _pairwise(loans[i], VALUE)
    return out


@compiled
def _equity(
    value: np.ndarray, cash: np.ndarray, loans: np.ndarray
) -> np.ndarray:  # pragma: no cover
    claims = _claims(loans)
    liabilities = _liabilities(loans)
    out = np.empty(value.shape[0])
    for i in range(value.shape[0]):
        out[i] = ((value[i] + cash[i]) + claims[i]) - liabilities[i]
    return out


@compiled
def _equity_at(
    coins: np.ndarray, price: np.ndarray, cash: np.ndarray, loans: np.ndarray
) -> np.ndarray:  # pragma: no cover - compiled
    """`_equity` of the positions `coins @ price` (numpy's product, `numpy_calls`)."""
    return _equity(numpy_calls.matvec(coins, price), cash, loans)


@compiled
def _mm_target(
    equity0: np.ndarray, ratio: float, kind: np.ndarray
) -> np.ndarray:  # pragma: no cover - compiled
    """`mm_target`: a market maker's day-0 equity x `ratio`, 0 for other kinds."""
    out = np.empty(equity0.shape[0])
    for i in range(equity0.shape[0]):
        out[i] = equity0[i] * ratio if kind[i] == MARKET_MAKER else 0.0
    return out


@compiled
def _mm_capacity_at(
    coins: np.ndarray,
    price: np.ndarray,
    cash: np.ndarray,
    loans: np.ndarray,
    equity0: np.ndarray,
    ratio: float,
    kind: np.ndarray,
    alive: np.ndarray,
) -> np.ndarray:  # pragma: no cover - compiled
    """`mm_capacity` in one call: equity, target and capacity."""
    equity = _equity_at(coins, price, cash, loans)
    return _mm_capacity(equity, _mm_target(equity0, ratio, kind), kind, alive)


@compiled
def _pay_out_at(
    coins: np.ndarray,
    price: np.ndarray,
    cash: np.ndarray,
    loans: np.ndarray,
    equity0: np.ndarray,
    ratio: float,
    buffer_share: float,
    kind: np.ndarray,
    alive: np.ndarray,
    equity_peak: np.ndarray,
) -> float:  # pragma: no cover - compiled
    """`pay_out` in one call: the positions (numpy's product), the targets, the payout."""
    value = numpy_calls.matvec(coins, price)
    target = _mm_target(equity0, ratio, kind)
    return _pay_out(value, cash, loans, target, buffer_share, kind, alive, equity_peak)


@compiled
def _mean_fund_leverage_at(
    coins: np.ndarray,
    price: np.ndarray,
    cash: np.ndarray,
    loans: np.ndarray,
    kind: np.ndarray,
    alive: np.ndarray,
) -> float:  # pragma: no cover - compiled
    """`mean_fund_leverage` in one call (the positions' product once, for both uses)."""
    value = numpy_calls.matvec(coins, price)
    return _mean_fund_leverage(value, _equity(value, cash, loans), kind, alive)


@compiled
def _broke_at(
    coins: np.ndarray, price: np.ndarray, cash: np.ndarray, loans: np.ndarray, alive: np.ndarray
) -> np.ndarray:  # pragma: no cover - compiled
    """`_broke` of the positions `coins @ price`."""
    return _broke(numpy_calls.matvec(coins, price), cash, loans, alive)


@compiled
def _mm_capacity(
    equity: np.ndarray, target: np.ndarray, kind: np.ndarray, alive: np.ndarray
) -> np.ndarray:  # pragma: no cover - compiled
    n = equity.shape[0]
    out = np.zeros(n)
    total = 0.0 + _pairwise(target, VALUE)
    if total <= 0:
        return out
    for i in range(n):
        if kind[i] == MARKET_MAKER and alive[i]:
            out[i] = _minimum(_maximum(equity[i], 0.0), target[i]) / total
    return out


@compiled
def _pay_out(
    value: np.ndarray,
    cash: np.ndarray,
    loans: np.ndarray,
    target: np.ndarray,
    buffer_share: float,
    kind: np.ndarray,
    alive: np.ndarray,
    equity_peak: np.ndarray,
) -> float:  # pragma: no cover - compiled
    n = cash.shape[0]
    any_mm = False
    for i in range(n):
        any_mm = any_mm or (alive[i] and kind[i] == MARKET_MAKER)
    if not any_mm:
        return 0.0
    equity = _equity(value, cash, loans)
    pay = np.zeros(n)
    for i in range(n):
        if alive[i] and kind[i] == MARKET_MAKER:
            excess = equity[i] - target[i]
            spare = cash[i] - buffer_share * target[i]
            pay[i] = _maximum(_minimum(excess, spare), 0.0)
        cash[i] = cash[i] - pay[i]
    equity = _equity(value, cash, loans)
    for i in range(n):
        if alive[i] and kind[i] == MARKET_MAKER:
            equity_peak[i] = _maximum(equity_peak[i], equity[i])
    return 0.0 + _pairwise(pay, VALUE)


@compiled
def _lendable(
    cash: np.ndarray, kind: np.ndarray, alive: np.ndarray
) -> np.ndarray:  # pragma: no cover
    n = cash.shape[0]
    out = np.zeros(n)
    for i in range(n):
        if alive[i] and kind[i] == LENDER:
            out[i] = _maximum(cash[i], 0.0)
    return out


@compiled
def _buying_power(
    idx: np.ndarray, cash: np.ndarray, credit: np.ndarray, kind: np.ndarray, alive: np.ndarray
) -> np.ndarray:  # pragma: no cover - compiled
    n = cash.shape[0]
    free = _lendable(cash, kind, alive)
    demand = np.zeros(n)  # borrowers' claims on each lender's cash
    for i in range(n):
        for j in range(n):
            demand[j] += credit[i, j]
    out = np.empty(len(idx))
    row = np.empty(n)
    for a in range(len(idx)):
        i = idx[a]
        for j in range(n):
            line = credit[i, j] * free[j]  # the borrower's reach
            share = credit[i, j] / demand[j] if demand[j] > 0 else 0.0
            row[j] = _minimum(line, share * free[j])
        out[a] = _maximum(cash[i], 0.0) + (0.0 + _pairwise(row, VALUE))
    return out


@compiled
def _institution_orders(
    funds: np.ndarray,
    value: np.ndarray,
    equity: np.ndarray,
    allowed: float,
    leverage_cap: float,
    leverage_target: np.ndarray,
    leverage_max: np.ndarray,
    speed: np.ndarray,
    coins: np.ndarray,
    cash: np.ndarray,
    credit: np.ndarray,
    kind: np.ndarray,
    alive: np.ndarray,
    cap_share: np.ndarray,
    price: np.ndarray,
    liquidation_days: float,
) -> np.ndarray:  # pragma: no cover - compiled
    """`InstitutionPopulation.decide` for live funds `funds` (their positions `value`, USD)
    and lenders; `equity` (n,) USD. Orders in coins, shape (n, assets)."""
    n, k = coins.shape
    orders = np.zeros((n, k))
    power = _buying_power(funds, cash, credit, kind, alive)
    for a in range(len(funds)):
        i = funds[a]
        e = equity[i]
        target = _minimum(1.0 + allowed * (leverage_target[i] - 1.0), leverage_cap)
        limit = _minimum(1.0 + allowed * (leverage_max[i] - 1.0), leverage_cap)
        # leverage_order: the change of position value a fund wants, USD
        gap = target * e - value[a]
        lev = value[a] / e if e > 0 else np.inf
        delta = gap if lev > limit else speed[i] * gap
        if not e > 0:
            delta = -value[a]
        sell = _minimum(delta, 0.0) / value[a] if value[a] > 0 else 0.0
        buy = _minimum(_maximum(delta, 0.0), power[a])
        for j in range(k):
            orders[i, j] = sell * coins[i, j] + (buy * cap_share[j]) / price[j]
    for i in range(n):
        if alive[i] and kind[i] == LENDER:
            for j in range(k):
                orders[i, j] = orders[i, j] - coins[i, j] / liquidation_days
        for j in range(k):
            orders[i, j] = _maximum(orders[i, j], -coins[i, j])
    return orders


@compiled
def _decide_at(
    coins: np.ndarray,
    price: np.ndarray,
    cash: np.ndarray,
    loans: np.ndarray,
    vol: np.ndarray,
    calm_vol: np.ndarray,
    exponent: float,
    leverage_cap: float,
    leverage_target: np.ndarray,
    leverage_max: np.ndarray,
    speed: np.ndarray,
    credit: np.ndarray,
    kind: np.ndarray,
    alive: np.ndarray,
    cap_share: np.ndarray,
    liquidation_days: float,
) -> np.ndarray:  # pragma: no cover - compiled
    """`InstitutionPopulation.decide` in one call: the live funds, their positions (a
    product over their rows only), equity and lenders' margin factor, then the orders."""
    n, k = coins.shape
    m = 0
    for i in range(n):
        m += alive[i] and kind[i] == FUND
    funds = np.empty(m, np.int64)
    held = np.empty((m, k))
    a = 0
    for i in range(n):
        if alive[i] and kind[i] == FUND:
            funds[a] = i
            held[a] = coins[i]
            a += 1
    if m:
        value = numpy_calls.matvec(held, price)
        equity = _equity_at(coins, price, cash, loans)
        allowed = margin_factor(vol, calm_vol, cap_share, exponent)
    else:
        value, equity, allowed = np.zeros(0), np.zeros(n), 1.0
    return _institution_orders(
        funds,
        value,
        equity,
        allowed,
        leverage_cap,
        leverage_target,
        leverage_max,
        speed,
        coins,
        cash,
        credit,
        kind,
        alive,
        cap_share,
        price,
        liquidation_days,
    )


@compiled
def _draw_credit(
    cash: np.ndarray, loans: np.ndarray, credit: np.ndarray, kind: np.ndarray, alive: np.ndarray
) -> float:  # pragma: no cover - compiled
    """`InstitutionPopulation.draw_credit` in place; the USD lent by the outside."""
    n = cash.shape[0]
    neg = np.flatnonzero(cash < 0)
    m = len(neg)
    if m == 0:
        return 0.0
    free = _lendable(cash, kind, alive)
    want = np.empty((m, n))
    reach = np.empty(n)
    for a in range(m):
        i = neg[a]
        for j in range(n):
            reach[j] = credit[i, j] * (1.0 if free[j] > 0 else 0.0)
        total = 0.0 + _pairwise(reach, VALUE)
        for j in range(n):
            want[a, j] = -cash[i] * (reach[j] / total if total > 0 else 0.0)
    asked = np.zeros(n)
    for a in range(m):
        for j in range(n):
            asked[j] += want[a, j]
    rest = np.empty(m)
    drawn = np.zeros(n)
    row = np.empty(n)
    for a in range(m):
        i = neg[a]
        for j in range(n):
            fill = free[j] / asked[j] if asked[j] > free[j] else 1.0
            row[j] = want[a, j] * fill
            drawn[j] += row[j]
        rest[a] = -cash[i] - (0.0 + _pairwise(row, VALUE))
        for j in range(n):
            loans[i, j] = loans[i, j] + row[j]
        loans[i, n] = loans[i, n] + rest[a]
    for j in range(n):
        cash[j] = cash[j] - drawn[j]
    for a in range(m):
        cash[neg[a]] = 0.0
    return 0.0 + _pairwise(rest, VALUE)


@compiled
def _repay(
    cash: np.ndarray, loans: np.ndarray, kind: np.ndarray, alive: np.ndarray
) -> float:  # pragma: no cover - compiled
    """`InstitutionPopulation.repay` in place; the USD paid to the outside."""
    n = cash.shape[0]
    liab = _liabilities(loans)
    pay = np.zeros(n)
    paying = False
    for i in range(n):
        if alive[i] and kind[i] != LENDER:
            pay[i] = _minimum(cash[i], liab[i])
        pay[i] = _maximum(pay[i], 0.0)
        paying = paying or pay[i] > 0
    if not paying:
        return 0.0
    received = np.zeros(n)
    outside = np.empty(n)
    for i in range(n):
        for j in range(n + 1):
            paid = pay[i] * (loans[i, j] / liab[i] if liab[i] > 0 else 0.0)
            loans[i, j] = _maximum(loans[i, j] - paid, 0.0)
            if j < n:
                received[j] += paid
            else:
                outside[i] = paid
    for i in range(n):
        cash[i] = cash[i] - pay[i]
    for i in range(n):
        cash[i] = cash[i] + received[i]
    return 0.0 + _pairwise(outside, VALUE)


@compiled
def _broke(
    value: np.ndarray, cash: np.ndarray, loans: np.ndarray, alive: np.ndarray
) -> np.ndarray:  # pragma: no cover - compiled
    """Live institutions whose equity is negative beyond rounding (1e-9 of their book)."""
    equity = _equity(value, cash, loans)
    liab = _liabilities(loans)
    out = np.empty(value.shape[0], np.int64)
    m = 0
    for i in range(value.shape[0]):
        scale = ((value[i] + np.abs(cash[i])) + liab[i]) + 1.0
        if alive[i] and equity[i] < -1e-9 * scale:
            out[m] = i
            m += 1
    return out[:m]


@compiled
def _layoff(
    coins: np.ndarray,
    target_coins: np.ndarray,
    kind: np.ndarray,
    alive: np.ndarray,
    outside_coins: np.ndarray,
) -> np.ndarray:  # pragma: no cover - compiled
    """Coins each market maker passes to the outside (in place in `coins`), (n, assets)."""
    n, k = coins.shape
    delta = np.zeros((n, k))
    for i in range(n):
        if alive[i] and kind[i] == MARKET_MAKER:
            for j in range(k):
                delta[i, j] = LAYOFF_RATE * (coins[i, j] - target_coins[i, j])
    refill = _column_parts(delta, NEGATIVE)  # numpy's column sums (pairwise with one asset)
    for j in range(k):
        room = _maximum(outside_coins[j], 0.0) * 0.5
        shrink = room / (refill[j] if refill[j] > 0 else 1.0) if refill[j] > room else 1.0
        for i in range(n):
            if delta[i, j] < 0:
                delta[i, j] = delta[i, j] * shrink
            coins[i, j] = coins[i, j] - delta[i, j]
    return delta


@compiled
def _small(
    equity: np.ndarray,
    kind: np.ndarray,
    alive: np.ndarray,
    fund_exit: float,
    equity_ref: np.ndarray,
    mm_withdraw: float,
    equity_peak: np.ndarray,
) -> np.ndarray:  # pragma: no cover - compiled
    """Live solvent funds below `fund_exit` of their starting equity and market makers
    below `mm_withdraw` of their peak (`close_small`), in index order."""
    out = np.empty(equity.shape[0], np.int64)
    m = 0
    for i in range(equity.shape[0]):
        e = equity[i]
        fund = kind[i] == FUND and e < fund_exit * equity_ref[i]
        mm = kind[i] == MARKET_MAKER and e < mm_withdraw * equity_peak[i]
        if alive[i] and e > 0 and (fund or mm):
            out[m] = i
            m += 1
    return out[:m]


@compiled
def _mean_fund_leverage(
    value: np.ndarray, equity: np.ndarray, kind: np.ndarray, alive: np.ndarray
) -> float:  # pragma: no cover - compiled
    """numpy's mean of position / equity over live funds with a finite leverage."""
    lev = np.empty(value.shape[0])
    m = 0
    for i in range(value.shape[0]):
        x = value[i] / equity[i] if equity[i] > 0 else np.inf
        if alive[i] and kind[i] == FUND and np.isfinite(x):
            lev[m] = x
            m += 1
    return (0.0 + _pairwise(lev[:m], VALUE)) / m if m else 0.0


@compiled
def _take_flow(
    wanted: np.ndarray, limit: float, target_coins: np.ndarray, coins: np.ndarray
) -> np.ndarray:  # pragma: no cover - compiled
    """`take_flow`'s coins, (n, assets), added to `coins` in place."""
    n, k = coins.shape
    delta = np.empty((n, k))
    for i in range(n):
        for j in range(k):
            room = _maximum(limit * target_coins[i, j] - coins[i, j], 0.0)
            delta[i, j] = _minimum(_maximum(wanted[i, j], -coins[i, j]), room)
            coins[i, j] = coins[i, j] + delta[i, j]
    return delta


@compiled
def _after_trade(
    orders: np.ndarray,
    flows: np.ndarray,
    mm_share: np.ndarray,
    price: np.ndarray,
    coins: np.ndarray,
    cash: np.ndarray,
    loans: np.ndarray,
    credit: np.ndarray,
    kind: np.ndarray,
    alive: np.ndarray,
    mm_target_coins: np.ndarray,
    equity0: np.ndarray,
    equity_ref: np.ndarray,
    equity_peak: np.ndarray,
    days_dead: np.ndarray,
    wait: int,
    outside_coins: np.ndarray,
    outside_cash: float,
    limits: tuple[float, float, float, float, float],
) -> tuple[float, bool, float]:  # pragma: no cover - compiled
    """`InstitutionPopulation.after_trade`: each step as its method (and the model's
    `_counterparties`) computes it, in the same order, the outside's books included."""
    mm_limit, ratio, buffer_share, fund_exit, mm_withdraw = limits
    n, k = coins.shape
    # settle the institutions' own orders
    for i in range(n):
        for j in range(k):
            coins[i, j] = _maximum(coins[i, j] + orders[i, j], 0.0)
    spent = numpy_calls.matvec(orders, price)
    for i in range(n):
        cash[i] = cash[i] - spent[i]
    # market makers take their share of the net flow, the outside market the rest
    net = np.empty(k)
    for j in range(k):
        net[j] = 0.0  # Python's sum() of the books' rows starts from 0
        for b in range(flows.shape[0]):
            net[j] = net[j] + flows[b, j]
    wanted = np.empty((n, k))
    for i in range(n):
        for j in range(k):
            wanted[i, j] = -mm_share[i, j] * net[j]
    taken = _take_flow(wanted, mm_limit, mm_target_coins, coins)
    paid = numpy_calls.matvec(taken, price)
    for i in range(n):
        cash[i] = cash[i] - paid[i]
    took = _column_parts(taken, VALUE)
    rest = np.empty((1, k))
    for j in range(k):
        rest[0, j] = -net[j] - took[j]
        outside_coins[j] = outside_coins[j] + rest[0, j]
    outside_cash = outside_cash - numpy_calls.rowdots(rest, price)[0]
    # market makers lay off excess inventory; credit drawn and repaid
    laid = _layoff(coins, mm_target_coins, kind, alive, outside_coins)
    usd = numpy_calls.matvec(laid, price)
    for i in range(n):
        cash[i] = cash[i] + usd[i]
    laid_sums = _column_parts(laid, VALUE)
    for j in range(k):
        outside_coins[j] = outside_coins[j] + laid_sums[j]
    outside_cash = outside_cash + -(0.0 + _pairwise(usd, VALUE))
    outside_cash = outside_cash - _draw_credit(cash, loans, credit, kind, alive)
    outside_cash = outside_cash + _repay(cash, loans, kind, alive)
    # a default, a closure or a place to refill: the rest of the day is the methods'
    if len(_broke_at(coins, price, cash, loans, alive)) > 0:
        return outside_cash, False, 0.0
    equity = _equity_at(coins, price, cash, loans)
    if len(_small(equity, kind, alive, fund_exit, equity_ref, mm_withdraw, equity_peak)) > 0:
        return outside_cash, False, 0.0
    for i in range(n):  # a place whose wait ends today (`reenter`; wait < 0: no re-entry)
        if not alive[i] and 0 <= wait <= days_dead[i] + 1:
            return outside_cash, False, 0.0
    # none: nothing passes to the outside (resolve_defaults, close_small: 0 coins and 0 USD
    # added, twice; reenter: the dead wait a day more, 0 USD), then the market makers' payout
    for i in range(n):
        if not alive[i]:
            days_dead[i] += 1
    for _ in range(2):
        for j in range(k):
            outside_coins[j] = outside_coins[j] + 0.0
        outside_cash = outside_cash + 0.0
    outside_cash = outside_cash - 0.0
    payout = _pay_out_at(
        coins, price, cash, loans, equity0, ratio, buffer_share, kind, alive, equity_peak
    )
    return outside_cash + payout, True, payout
