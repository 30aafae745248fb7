"""Institutions: leveraged funds, lenders and market makers, linked by loans.

- **Funds** target a leverage (position / equity) and trade a share `adjust_speed` of the
  gap each day (Greenwood, Landier & Thesmar 2015). Above their margin limit `leverage_max`
  they must sell back to target at once (a margin call): falling prices raise leverage,
  force sales, and sales move prices -- the fire-sale spiral (Thurner, Farmer & Geanakoplos
  2012). Buying beyond their cash draws on credit lines from lenders.
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
"""

from __future__ import annotations

import numpy as np
from crypto401k.model.agents.view import RowAgent
from crypto401k.model.config import Config
from crypto401k.model.ledger import Ledger
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

        # funds: equity levered to target with loans from one or two lenders
        eq_f = split(c.fund_equity_share * total_cap, funds)
        position = c.leverage_target * eq_f
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
        self.deposits0 = self.loans[:, n] * (self.kind == LENDER)
        self.leverage_target = np.full(n, c.leverage_target)
        self.leverage_max = np.full(n, c.leverage_max)

    # ---- derived state ---------------------------------------------------------------
    def claims(self) -> np.ndarray:
        """What others owe each institution, USD (n,)."""
        return self.loans[:, : self.n].sum(axis=0)

    def liabilities(self) -> np.ndarray:
        return self.loans.sum(axis=1)

    def equity(self, price: np.ndarray) -> np.ndarray:
        return self.coins @ price + self.cash + self.claims() - self.liabilities()

    def leverage(self, price: np.ndarray) -> np.ndarray:
        """Position / equity; inf for institutions with no positive equity."""
        e = self.equity(price)
        return np.divide(self.coins @ price, e, out=np.full(self.n, np.inf), where=e > 0)

    def mm_capacity(self, price: np.ndarray) -> np.ndarray:
        """Quoting capital of each market maker relative to all market makers' initial equity."""
        e = self.equity(price)
        is_mm = self.kind == MARKET_MAKER
        quoting = is_mm & self.alive & (e >= self.cfg.mm_withdraw_equity * self.equity0)
        total0 = self.equity0[is_mm].sum()
        if total0 <= 0:
            return np.zeros(self.n)
        return np.where(quoting, e / total0, 0.0)

    # ---- the rule ----------------------------------------------------------------------
    def decide(self, price: np.ndarray, effects: PolicyEffects) -> np.ndarray:
        """Orders in coins, shape (n, assets): funds' leverage targeting, lenders' sales."""
        orders = np.zeros_like(self.coins)
        funds = self.alive & (self.kind == FUND)
        if funds.any():
            value = self.coins[funds] @ price
            equity = self.equity(price)[funds]
            target = np.minimum(self.leverage_target[funds], effects.leverage_cap)
            limit = np.minimum(self.leverage_max[funds], effects.leverage_cap)
            delta = leverage_order(value, equity, target, limit, self.cfg.adjust_speed)
            sell = np.divide(
                np.minimum(delta, 0.0), value, out=np.zeros_like(delta), where=value > 0
            )
            buy = np.maximum(delta, 0.0)
            orders[funds] = (
                sell[:, None] * self.coins[funds]
                + buy[:, None] * self.cap_share[None, :] / price[None, :]
            )
        lenders = self.alive & (self.kind == LENDER)
        orders[lenders] -= self.coins[lenders] / self.cfg.lender_liquidation_days
        return np.maximum(orders, -self.coins)

    def settle(self, orders: np.ndarray, price: np.ndarray) -> None:
        self.coins += orders
        np.maximum(self.coins, 0.0, out=self.coins)
        self.cash -= orders @ price

    # ---- credit and default ------------------------------------------------------------
    def draw_credit(self) -> float:
        """Cover negative cash with new loans from creditors; returns USD lent by the outside."""
        n = self.n
        from_outside = 0.0
        usable = np.append(self.alive, True)  # dead institutions lend nothing
        for round_ in range(n + 2):
            neg = self.cash < 0
            if not neg.any():
                break
            need = -self.cash[neg]
            w = self.credit[neg] * usable[None, :]
            if round_ == n + 1:  # a cycle of broke lenders: the outside steps in
                w[:] = 0.0
            sums = w.sum(axis=1, keepdims=True)
            w = np.where(sums > 0, w / np.where(sums > 0, sums, 1.0), 0.0)
            w[sums[:, 0] == 0, n] = 1.0
            draws = need[:, None] * w
            self.cash[neg] = 0.0
            self.loans[neg] += draws
            self.cash -= draws[:, :n].sum(axis=0)
            from_outside += float(draws[:, n].sum())
        return from_outside

    def repay(self) -> float:
        """Institutions with spare cash pay down their loans pro rata; returns USD paid to the
        outside."""
        n = self.n
        liab = self.liabilities()
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
            equity = self.equity(price)
            scale = self.coins @ price + np.abs(self.cash) + self.liabilities() + 1.0
            broke = np.flatnonzero(self.alive & (equity < -1e-9 * scale))
            if len(broke) == 0:
                break
            for i in broke:
                c, m = self.fail(int(i), price)
                out_coins += c
                out_cash += m
                failed.append(int(i))
        return out_coins, out_cash, failed

    def reenter(self) -> float:
        """New institutions take the places of those dead for `reentry_days`: each starts
        with its predecessor's initial equity in cash (a lender also with its initial
        deposits, owed to the outside), no coins and no loans; funds then lever up and market
        makers refill their inventory gradually. Returns the USD the outside put in."""
        self.days_dead[~self.alive] += 1
        wait = self.cfg.reentry_days
        if wait is None:
            return 0.0
        new = ~self.alive & (self.days_dead >= wait)
        if not new.any():
            return 0.0
        idx = np.flatnonzero(new)
        n = self.n
        injected = np.maximum(self.equity0[idx], 0.0) + self.deposits0[idx]
        self.cash[idx] += injected
        self.loans[idx, n] += self.deposits0[idx]
        self.alive[idx] = True
        self.days_dead[idx] = 0
        self.entries += len(idx)
        return float(injected.sum())

    def lose(self, i: int, fraction: float, ledger: Ledger) -> None:
        """Fraud or theft: `fraction` of i's coins and cash vanish (booked as lost)."""
        lost_coins = fraction * self.coins[i]
        lost_cash = fraction * max(self.cash[i], 0.0)
        ledger.lost_coins = ledger.lost_coins + lost_coins
        ledger.lost_cash += lost_cash
        self.coins[i] -= lost_coins
        self.cash[i] -= lost_cash

    def layoff(self, price: np.ndarray, outside_coins: np.ndarray) -> tuple[np.ndarray, float]:
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
    value: np.ndarray, equity: np.ndarray, target: np.ndarray, limit: np.ndarray, speed: float
) -> np.ndarray:
    """Change of position value (USD) a leverage-targeting fund wants, shape (n,).

    Within its limit a fund closes `speed` of the gap to target * equity; above the limit
    (a margin call) it closes all of it; with no positive equity it sells everything.
    """
    gap = target * equity - value
    lev = np.divide(value, equity, out=np.full_like(value, np.inf), where=equity > 0)
    delta = np.where(lev > limit, gap, speed * gap)
    return np.where(equity > 0, delta, -value)


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
