"""The same rules written the plain Mesa way: the reference the vectorized engine is timed
against (`benchmarks/run.py`) and checked against (`tests/test_reference.py`).

Every saver cohort and retail trader is a Python object with its state in attributes and a
`step` of its own; a saver reads its neighbours one by one from Mesa's `Network` space. The
rules are `model/agents/saver.py` and `model/agents/trader.py` line for line, for one asset
(the calibrated core).

What stays the engine's own code, and why the comparison is still fair:
- institutions (20 in every benchmark size), the market clearing, the regulator and the
  books: they do not grow with the population, so they are not what the benchmark measures;
- the day's random numbers are drawn in the same blocks as the engine draws them and handed
  to each agent, so that both give the same price path for the same seed. A per-agent draw
  would make the reference slower still;
- each agent's list of neighbours is read from the space once, when the agents are
  placed (the graph never changes), not every day.
So the speed-up the benchmark reports is, if anything, an underestimate.
"""

from __future__ import annotations

import math
from typing import Any

import mesa
import numpy as np
from crypto401k.model.agents.saver import DAYS_PER_YEAR, SaverPopulation, cap_buys, offer_share
from crypto401k.model.agents.trader import (
    CHARTIST,
    FEAR_DAYS,
    FUNDAMENTALIST,
    TraderPopulation,
    attention_factor,
)
from crypto401k.model.agents.view import RowAgent
from crypto401k.model.config import Config
from crypto401k.model.ledger import Ledger
from crypto401k.model.model import Crypto401kModel
from crypto401k.model.policy import PolicyEffects
from mesa.discrete_space import FixedAgent


class PlainSaver(FixedAgent):
    """One saver cohort with its own state (one asset)."""

    def __init__(self, model: mesa.Model, pop: SaverPopulation, row: int) -> None:
        super().__init__(model)
        self.s = pop.cfg
        self.target_date = bool(pop.target_date[row])
        self.age = float(pop.age[row])
        self.contribution = float(pop.contribution[row])
        self.other = float(pop.other[row])
        self.eligible = float(pop.eligible[row])
        self.coins = float(pop.coins[row, 0])
        self.cash = float(pop.cash[row])
        self.cost = float(pop.cost[row])
        self.proceeds = float(pop.proceeds[row])
        self.panicked = bool(pop.panicked[row])
        self.contributing = bool(pop.contributing[row])
        self.pay_phase = int(pop.pay_phase[row])
        self.rebalance_phase = int(pop.rebalance_phase[row])
        self.realloc_base = float(pop.realloc_base[row])
        self.adopt_rank = float(pop.adopt_rank[row])
        self.opted_in = bool(pop.opted_in[row])
        self.offering = False  # its plan offers crypto today
        self.first_offer = -1  # day its plan first offered crypto (-1: not yet)
        self.retiring = False
        self.daily_growth = pop.daily_growth
        self.menu = float(pop.menu[0])
        self.neighbours: list[Any] = []
        self.fear_today = 0.0  # share of neighbours in fear, set by the model each morning

    def fear_share(self, day: int) -> float:
        """Share of the neighbours in fear, read one by one."""
        if not self.neighbours:
            return 0.0
        afraid = sum(1.0 for other in self.neighbours if other.in_fear(day))
        return afraid / len(self.neighbours)

    def in_fear(self, day: int) -> bool:
        return self.panicked

    def step(
        self,
        day: int,
        price: float,
        drawdown: float,
        effects: PolicyEffects,
        allocation: float,
        u: tuple[float, float, float],
        ledger: Ledger,
    ) -> float:
        """The saver's order in coins at the decision price `price`."""
        s = self.s
        growth = self.other * self.daily_growth
        ledger.other_return += growth
        self.other += growth
        self.eligible *= 1.0 + self.daily_growth
        self.age += 1.0 / DAYS_PER_YEAR
        self.retiring = self.age >= s.retirement_age
        value = self.coins * price
        order = 0.0
        buying = self.offering and self.opted_in

        if self.panicked and u[0] < 1.0 / s.panic_duration_days:
            self.panicked = False
            self.contributing = True
        yearly = s.panic_rate_crash * min(1.0, max(0.0, drawdown) / s.panic_drawdown_scale)
        yearly = yearly * (s.target_date_panic_factor if self.target_date else 1.0)
        yearly = yearly * (1.0 + s.panic_social_weight * self.fear_today)
        hazard = -math.expm1(-yearly / DAYS_PER_YEAR)
        if not self.panicked and not self.retiring and value > 0 and u[1] < hazard:
            self.panicked = True
            if u[2] < s.stop_contributing_share:
                self.contributing = False
            order -= s.panic_sell_fraction * self.coins

        alloc = 0.0 if self.panicked or self.retiring or not buying else allocation

        paid = (
            self.contributing
            and not self.retiring
            and (day - self.pay_phase) % s.payday_interval_days == 0
        )
        contribution = self.contribution * s.payday_interval_days / DAYS_PER_YEAR if paid else 0.0
        to_crypto = contribution * alloc
        ledger.payroll_in += contribution
        self.other += contribution - to_crypto
        self.eligible += contribution - to_crypto
        self.cash += to_crypto
        ledger.to_market += to_crypto

        if s.channel == "payroll+reallocation" and self.opted_in and self.first_offer >= 0:
            start, length = self.first_offer + s.reallocation_start_day, s.reallocation_days
            if day == start:
                self.realloc_base = self.other
            if start <= day < start + length and not effects.freeze:
                step = min(self.realloc_base / length, self.other)
                moved = step * alloc
                self.other -= moved
                self.eligible += step - moved
                self.cash += moved
                ledger.to_market += moved
        self.eligible = min(self.eligible, self.other)

        order += self.cash * self.menu / price

        due = (
            self.target_date
            and not self.panicked
            and not self.retiring
            and (day - self.rebalance_phase) % s.rebalance_interval_days == 0
        )
        if due and effects.unwind_rate == 0.0:
            weight = min(s.allocation, effects.allocation_cap) if buying else 0.0
            held = value + self.cash
            target = weight * (held + self.eligible)
            if effects.freeze or effects.allocation_factor < 1.0:
                target = min(target, held)
            delta = target - held
            buy = min(max(delta, 0.0), self.eligible)
            self.eligible -= buy
            self.other -= buy
            self.cash += buy
            ledger.to_market += buy
            order += buy * self.menu / price
            order += (min(delta, 0.0) / value if value > 0 else 0.0) * self.coins

        if effects.unwind_rate > 0.0:
            order -= effects.unwind_rate * self.coins
        if self.retiring:
            order = -self.coins
        return max(order, -self.coins)

    def settle(self, delta: float, price: float, ledger: Ledger) -> float | None:
        """Execute `delta` coins at `price`, sweep cash out; returns the loss, USD, of a cohort
        that retires today (None for the others)."""
        spend = delta * price
        buys = max(delta, 0.0) * price
        self.cost += buys
        self.proceeds += buys - spend
        self.coins = max(self.coins + delta, 0.0)
        self.cash -= spend
        ledger.from_market += self.cash
        self.other += self.cash
        if self.target_date:
            self.eligible += max(self.cash, 0.0)
        self.eligible = min(self.eligible, self.other)
        self.cash = 0.0
        if not (self.retiring and self.coins == 0.0):
            return None
        loss = max(0.0, -(self.proceeds - self.cost))
        ledger.withdrawals_out += self.other
        self.other = self.eligible = self.cost = self.proceeds = 0.0
        self.age = self.s.entry_age
        self.panicked = self.retiring = False
        self.contributing = True
        return loss


class PlainTrader(FixedAgent):
    """One retail trader with its own state (one asset)."""

    def __init__(self, model: mesa.Model, pop: TraderPopulation, row: int) -> None:
        super().__init__(model)
        self.t = pop.cfg
        self.leverage = float(pop.leverage[row])
        self.w0 = float(pop.w0[row, 0])
        self.coins = float(pop.coins[row, 0])
        self.cash = float(pop.cash[row])
        self.entry_share = float(pop.entry_share[row])
        self.strategy = int(pop.strategy[row])
        self.liquidated_day = int(pop.liquidated_day[row])
        self.neighbours: list[PlainTrader] = []
        self.switch_to = self.strategy

    def in_fear(self, day: int) -> bool:
        return day - self.liquidated_day < FEAR_DAYS

    def choose_strategy(self, u: float, global_signal: float, mispricing_term: float) -> None:
        """Herding over the trader neighbours as they were at the start of the day."""
        t = self.t
        nf = sum(1 for other in self.neighbours if other.strategy == FUNDAMENTALIST)
        nc = sum(1 for other in self.neighbours if other.strategy == CHARTIST)
        local = (nf - nc) / (nf + nc) if nf + nc > 0 else global_signal
        signal = t.herding_locality * local + (1.0 - t.herding_locality) * global_signal
        a = min(max(t.predisposition + t.herding * signal + mispricing_term, -50.0), 50.0)
        self.switch_to = self.strategy
        if self.strategy == FUNDAMENTALIST and u < t.switching_rate * math.exp(-a):
            self.switch_to = CHARTIST
        elif self.strategy == CHARTIST and u < t.switching_rate * math.exp(a):
            self.switch_to = FUNDAMENTALIST

    def decide(
        self,
        price: float,
        mispricing: float,
        trend: float,
        eps_common: tuple[float, float],
        eps_own: float,
        leverage_cap: float,
    ) -> float:
        """The trader's wanted order in coins at the decision price `price` (before the
        brokers' credit and the margin check)."""
        t = self.t
        self.strategy = self.switch_to
        position = self.coins * price
        equity = position + self.cash
        solvent = equity > 0
        weight = position / equity if solvent else 0.0
        demand = 0.0
        if self.strategy == FUNDAMENTALIST:
            demand = t.fundamentalist_reaction * mispricing + t.fundamentalist_noise * eps_common[0]
        elif self.strategy == CHARTIST:
            demand = t.chartist_reaction * trend + t.chartist_noise * eps_common[1]
        demand += t.idiosyncratic_noise * eps_own + t.rebalance_speed * (self.w0 - weight)
        limit = min(self.leverage, leverage_cap)
        target = max(weight + demand, 0.0)
        if target > limit:
            target *= limit / target
        return (target - weight) * equity / price if solvent else 0.0

    def margin_check(self, day: int, price: float, order: float) -> float:
        """A leveraged trader below maintenance sells everything; no sale beyond its coins."""
        position = self.coins * price
        equity = position + self.cash
        if (
            self.leverage > 1.0
            and position > 0
            and equity < self.t.maintenance_margin * position / self.leverage
        ):
            order = -self.coins
            self.liquidated_day = day
            self.model.traders.liquidations += 1
        return max(order, -self.coins)

    def settle(self, order: float, price: float) -> float:
        """Execute at `price`; returns the USD written off if the account is broke."""
        self.coins = max(self.coins + order, 0.0)
        self.cash -= order * price
        if self.cash < 0 and self.coins == 0.0:
            written_off = -self.cash
            self.cash = 0.0
            return written_off
        return 0.0

    def refill(self, price: float, coins_cap: float) -> float:
        """Deposit (or withdraw) 1/refill_days of the gap to the account's share of the
        retail sector's target; returns the USD paid in."""
        target = self.t.wealth_share * coins_cap * self.entry_share
        paid = (target - (self.coins * price + self.cash)) / self.t.refill_days
        self.cash += paid
        return paid


class PlainSavers:
    """The saver agents, seen by the model as a population (its reporters read each agent)."""

    fill = staticmethod(SaverPopulation.fill)

    def __init__(self, pop: SaverPopulation, agents: list[PlainSaver]) -> None:
        self.cfg, self.n, self.menu, self.agents = pop.cfg, pop.n, pop.menu, agents
        self.cap_coins = pop.cap_coins
        self.retired_loss = pop.retired_loss
        # the market's rules only: the fiscal ledger is not fed (no contributions or
        # retirements reach it), so the reference's `fiscal_summary` means nothing
        self.daily_growth = pop.daily_growth
        self.contributed = np.zeros(pop.n)

    def _column(self, name: str) -> np.ndarray:
        return np.array([getattr(a, name) for a in self.agents], dtype=float)

    @property
    def coins(self) -> np.ndarray:
        return self._column("coins")[:, None]

    @property
    def cash(self) -> np.ndarray:
        return self._column("cash")

    @property
    def other(self) -> np.ndarray:
        return self._column("other")

    @property
    def panicked(self) -> np.ndarray:
        return np.array([a.panicked for a in self.agents], dtype=bool)

    def crypto_value(self, price: np.ndarray) -> np.ndarray:
        return self.coins @ price

    def pnl(self, price: np.ndarray) -> np.ndarray:
        return self.crypto_value(price) + self._column("proceeds") - self._column("cost")

    def close_marks(self, price: np.ndarray) -> tuple[float, float, float]:
        value = self.crypto_value(price)
        loss = np.maximum(0.0, -(value + self._column("proceeds") - self._column("cost")))
        return float(value.sum()), float(self.other.sum()), float(loss.sum())

    def total_loss(self, price: np.ndarray, pnl: np.ndarray | None = None) -> float:
        pnl = self.pnl(price) if pnl is None else pnl
        return float(np.maximum(0.0, -pnl).sum() + self.retired_loss)

    def decide(
        self,
        day: int,
        price: np.ndarray,
        drawdown: float,
        fear_share: np.ndarray,
        effects: PolicyEffects,
        rng: np.random.Generator,
        ledger: Ledger,
    ) -> np.ndarray:
        u = rng.random((3, self.n)).T.tolist()
        allocation = SaverPopulation.allocation_now(self, effects)  # reads only self.cfg
        share = offer_share(self.cfg, day, 0, 1.0)  # plans open on day 0, no rule
        for a in self.agents:
            a.offering = a.adopt_rank < share
            if a.offering and a.first_offer < 0:
                a.first_offer = day
        p = float(price[0])
        orders = [
            a.step(day, p, drawdown, effects, allocation, u[i], ledger)
            for i, a in enumerate(self.agents)
        ]
        return self.within_cap(np.array(orders)[:, None])

    def within_cap(self, orders: np.ndarray) -> np.ndarray:
        """The concentration cap on the plans' buying (as `SaverPopulation.within_cap`)."""
        return cap_buys(orders, self.coins.sum(axis=0), self.cap_coins)

    def fill_within_cap(
        self, orders: np.ndarray, decision_price: np.ndarray, price: np.ndarray
    ) -> np.ndarray:
        return self.within_cap(self.fill(orders, decision_price, price))

    def settle(
        self, delta: np.ndarray, price: np.ndarray, ledger: Ledger
    ) -> tuple[np.ndarray, np.ndarray]:
        p = float(price[0])
        losses = [
            a.settle(d, p, ledger) for a, d in zip(self.agents, delta[:, 0].tolist(), strict=True)
        ]
        retired = [x for x in losses if x is not None]  # in agent order, zeros kept: the
        if retired:  # same float sum as the engine's
            self.retired_loss += float(np.sum(retired))
        return np.zeros(0, dtype=np.int64), np.zeros(0)


class PlainTraders:
    """The trader agents, seen by the model as a population."""

    def __init__(self, pop: TraderPopulation, agents: list[PlainTrader]) -> None:
        self.cfg, self.n, self.agents = pop.cfg, pop.n, agents
        self.cap_share, self.trend, self.trend_decay = pop.cap_share, pop.trend, pop.trend_decay
        self.liquidations, self.bad_debt = pop.liquidations, pop.bad_debt
        self.calm_vol = pop.calm_vol

    def update_trend(self, log_return: np.ndarray) -> None:
        self.trend = self.trend_decay * self.trend + (1.0 - self.trend_decay) * log_return

    @property
    def coins(self) -> np.ndarray:
        return np.array([a.coins for a in self.agents])[:, None]

    @property
    def cash(self) -> np.ndarray:
        return np.array([a.cash for a in self.agents])

    @property
    def strategy(self) -> np.ndarray:
        return np.array([a.strategy for a in self.agents], dtype=np.int8)

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
        t = self.cfg
        u = rng.random(self.n).tolist()
        eps_common = rng.standard_normal((2, 1))[:, 0].tolist()
        eps_own = rng.standard_normal((self.n, 1))[:, 0].tolist()
        if t.attention > 0.0 and last_return is not None:  # a big move draws trading
            loud = float(attention_factor(last_return, t.attention, self.calm_vol)[0])
            eps_common = [e * loud for e in eps_common]
            eps_own = [e * loud for e in eps_own]
        mispricing = float(log_fundamental[0] - np.log(price[0]))
        gf = sum(1.0 for a in self.agents if a.strategy == FUNDAMENTALIST)
        gc = sum(1.0 for a in self.agents if a.strategy == CHARTIST)
        global_signal = (gf - gc) / (gf + gc) if gf + gc > 0 else 0.0
        term = t.misalignment * float(self.cap_share[0] * mispricing**2)
        for a, ui in zip(self.agents, u, strict=True):  # everyone reads the start-of-day strategies
            a.choose_strategy(ui, global_signal, term)
        p, trend = float(price[0]), float(self.trend[0])
        # the brokers' credit binds on all traders at once: the decisions first, then the cap
        targets = [
            a.decide(p, mispricing, trend, eps_common, e, effects.leverage_cap)
            for a, e in zip(self.agents, eps_own, strict=True)
        ]
        orders = np.array(targets)[:, None]
        scale = broker_credit_scale(orders, self.cash, price, credit)
        if scale is not None:
            orders = np.where(orders > 0, orders * scale[:, None], orders)
        final = [
            a.margin_check(day, p, o)
            for a, o in zip(self.agents, orders[:, 0].tolist(), strict=True)
        ]
        return np.array(final)[:, None]

    def settle(self, orders: np.ndarray, price: np.ndarray) -> float:
        p = float(price[0])
        written = [a.settle(o, p) for a, o in zip(self.agents, orders[:, 0].tolist(), strict=True)]
        written_off = float(np.sum([w for w in written if w > 0.0]))
        self.bad_debt += written_off
        return written_off

    def refill(self, price: np.ndarray, coins_cap: float) -> float:
        if self.cfg.refill_days is None or self.n == 0:
            return 0.0
        p = float(price[0])
        return float(np.sum([a.refill(p, coins_cap) for a in self.agents]))


class ReferenceModel(Crypto401kModel):
    """`Crypto401kModel` with its savers and traders as plain per-agent Mesa agents.

    Same arguments as `Crypto401kModel`; one asset only.
    """

    def __init__(self, config: Config | None = None, *, rng: int | None = None, **kw: Any):
        super().__init__(config, rng=rng, **kw)
        if self.market.n != 1:
            raise ValueError("the plain Mesa reference implements the one-asset core")
        if self.config.network.topology == "graphml":  # institutions may have social edges
            raise ValueError("the plain Mesa reference implements the generated topologies")
        grid = self.grid  # Mesa's Network space, with the engine's row agents on it
        engine_agents = self.agents.select(
            lambda a: isinstance(a, RowAgent) and a.population in ("savers", "traders")
        )
        savers = [PlainSaver(self, self.savers, r) for r in range(self.savers.n)]
        traders = [PlainTrader(self, self.traders, r) for r in range(self.traders.n)]
        plain = {**dict(enumerate(savers)), **{self.savers.n + r: a for r, a in enumerate(traders)}}
        for agent in engine_agents.to_list():
            agent.detach()  # the plain agents below drive the same rows
        for node, agent in plain.items():
            agent.cell = grid._cells[node]
        for node, agent in plain.items():
            agent.neighbours = [
                other
                for other in grid._cells[node].neighborhood.agents
                if isinstance(agent, PlainSaver) or isinstance(other, PlainTrader)
            ]
        self.savers = PlainSavers(self.savers, savers)
        self.traders = PlainTraders(self.traders, traders)
        self._plain_savers = savers

    def _fear_share(self, day: int) -> np.ndarray:
        if not hasattr(self, "_plain_savers"):  # the burn-in, before the plain agents exist
            return super()._fear_share(day)
        for a in self._plain_savers:
            a.fear_today = a.fear_share(day)
        return np.zeros(self.savers.n)  # unused: each saver keeps its own


def broker_credit_scale(
    orders: np.ndarray, cash: np.ndarray, price: np.ndarray, credit: float
) -> np.ndarray | None:
    """The factor (n,) on each trader's purchases that keeps brokers' margin loans to all
    traders within `credit` (USD) at the decision price; None when nothing binds.

    Margin loans are negative cash. When the day's orders (n, assets) would raise loans by
    more than the room left under `credit`, every trader who would borrow more has its
    purchases cut by the same factor, room / wanted; that cuts its new borrowing by at least
    the factor (sales and its own cash are not cut), so loans stay within the credit. A
    trader already over it can only sell. Brokers' credit is finite: without it a leveraged
    trader re-levering into its own gains can buy up the market (a positive feedback that
    issue 17's divergence sweep found)."""
    debt = np.maximum(-cash, 0.0)
    more = np.maximum(np.maximum(orders @ price - cash, 0.0) - debt, 0.0)
    wanted = float(more.sum())
    room = max(credit - float(debt.sum()), 0.0)
    if wanted <= room:
        return None
    return np.where(more > 0, room / wanted, 1.0)
