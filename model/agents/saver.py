"""401(k) participants: payroll buying, target-date rebalancing, panic, retirement.

Each row is a cohort of participants (one `RetirementSaver` agent), with the dollars of real
people behind it: contributions and balances sum to the US totals in the configuration.
The rule is written once over the whole population (`SaverPopulation.decide`), the agents
read their row.

Who may buy: a cohort's plan offers crypto once plans are open (day 0, or the day the DOL's
'plan_access' rule takes effect) and its adoption rank is below the offering share, which
moves linearly from `offer_share_start` to `offer_share_end` over `offer_ramp_days` (capped
by the rule's share). Within offering plans only the cohorts that opted in (`uptake`, drawn
once) buy, reallocate or hold a crypto sleeve: `allocation` is a share of their own accounts.

Daily rule, in order:
1. non-crypto balances earn `other_return_annual`; cohorts age one day; the offering share
   of the day is applied;
2. panicked savers recover at rate 1/`panic_duration_days`; others panic with a hazard that
   rises linearly with their crypto's drawdown from its 1-year high (`panic_rate_crash` at
   `panic_drawdown_scale`), is 5x lower in target-date sleeves, and is multiplied by
   1 + w * (share of social neighbours panicked). A panicking saver sells
   `panic_sell_fraction` of its crypto and stops buying crypto; some stop contributing;
3. on its employer's payday a cohort contributes; `allocation` of it buys crypto (less under a
   regulator's warning, capped, or frozen);
4. in the reallocation channel, `allocation` of an opted-in cohort's balance moves in, phased
   over `reallocation_days` from `reallocation_start_day` days after its plan first offers;
5. target-date sleeves rebalance to their crypto weight every `rebalance_interval_days`
   (contrarian: they buy after falls and sell after rises, Parker-Schoar-Sun 2023);
6. under a forced unwind, savers sell 1/`unwind_days` of their crypto a day;
7. cohorts at retirement age sell all crypto and withdraw; a new cohort of the same
   employer and pay enters at `entry_age`;
8. the plans' buying in an asset is scaled down so that their coins never pass
   `max_float_share` of its supply (again after the fill: dollar buys get more coins when
   the price falls).

Savers keep no cash inside the crypto market overnight: each day's proceeds and leftovers are
swept back into the plan's other assets (the ledger records every dollar that crosses).
"""

from __future__ import annotations

import numpy as np
from crypto401k.model import numpy_calls
from crypto401k.model.agents.view import RowAgent
from crypto401k.model.config import Config, SaverConfig
from crypto401k.model.kernels import (
    POSITIVE,
    VALUE,
    _column_parts,
    _maximum,
    _minimum,
    _pairwise,
    compiled,
)
from crypto401k.model.ledger import Ledger
from crypto401k.model.policy import PolicyEffects

DAYS_PER_YEAR = 365.0


class SaverPopulation:
    """State of all saver cohorts in arrays of shape (n,) or (n, assets)."""

    def __init__(
        self,
        cfg: Config,
        rng: np.random.Generator,
        employer: np.ndarray,
        price0: np.ndarray,
    ) -> None:
        s = self.cfg = cfg.savers
        n = self.n = s.n_cohorts
        self.menu = np.asarray(cfg.menu_weights, dtype=float)
        self.employer = employer
        self.target_date = rng.random(n) < s.target_date_share
        self.age = rng.uniform(s.entry_age, s.retirement_age, n)
        # Relative pay is lognormal; balances grow with years of saving (roughly the
        # age profile of Vanguard's How America Saves 2025: balances rise ~40x from <25 to 65).
        self.pay = rng.lognormal(0.0, 0.6, n)
        years = self.age - s.entry_age
        weights = self.pay * (years + 1.0) ** 1.5
        self.contribution = (
            s.contributions_usd_per_year * self.pay / self.pay.sum() if n else np.zeros(0)
        )  # USD/year
        self.other = s.plan_assets_usd * weights / weights.sum() if n else np.zeros(0)  # USD
        self.eligible = np.zeros(n)  # USD of `other` governed by the target-date sleeve
        self.coins = np.zeros((n, len(price0)))
        self.cash = np.zeros(n)  # intraday only: swept to `other` after settlement
        self.cost = np.zeros(n)  # USD paid for crypto, cumulative (current cohort)
        self.proceeds = np.zeros(n)  # USD received for crypto, cumulative (current cohort)
        self.panicked = np.zeros(n, dtype=bool)
        self.contributing = np.ones(n, dtype=bool)
        # each employer's payday and rebalancing phase, in [0, interval) (`_saver_rule`
        # compares it with day % interval)
        pay_phase = rng.integers(0, s.payday_interval_days, s.n_employers)
        self.pay_phase = np.zeros(n, dtype=np.int64) if s.payday_sync else pay_phase[employer]
        rb_phase = rng.integers(0, s.rebalance_interval_days, s.n_employers)
        self.rebalance_phase = rb_phase[employer] if n else np.zeros(0, dtype=np.int64)
        self.realloc_base = np.zeros(n)
        self.retiring = np.zeros(n, dtype=bool)
        self.retired_loss = 0.0  # USD lost by cohorts that have retired
        self.contributed = np.zeros(n)  # USD contributed today (the fiscal ledger's input)
        self.daily_growth = (1.0 + s.other_return_annual) ** (1.0 / DAYS_PER_YEAR) - 1.0
        # who may buy: plans adopt in the order of a random rank; a cohort opts in once.
        # Drawn from a child stream of the model's generator, always the same number: the
        # parent's draws (every other agent's) stay as they were whatever these parameters
        draws = rng.spawn(1)[0].random((2, n))
        self.adopt_rank = draws[0]  # its plan offers crypto while rank < the offering share
        self.opted_in = draws[1] < s.uptake
        self.open_day: int | None = 0  # day plans opened (None: closed, waiting for a rule)
        self.offer_ceiling = 1.0  # share of plans a 'plan_access' rule lets offer
        self.target_date_only = False  # the DOL's vehicle rule: only target-date sleeves
        self.offering = np.zeros(n, dtype=bool)  # the cohort's plan offers crypto today
        self.first_offer = np.full(n, -1, dtype=np.int64)  # day its plan first offered
        # the concentration cap, coins per asset, shape (assets,): of the day-0 supply
        supply = np.array([a.market_cap_usd / a.initial_price_usd for a in cfg.assets])
        self.cap_coins = s.max_float_share * supply

    # ---- derived state ---------------------------------------------------------------
    def crypto_value(self, price: np.ndarray) -> np.ndarray:
        return self.coins @ price

    def pnl(self, price: np.ndarray) -> np.ndarray:
        """Profit of each cohort's crypto so far, USD: value + proceeds - cost."""
        return self.crypto_value(price) + self.proceeds - self.cost

    def close_marks(self, price: np.ndarray) -> tuple[float, float, float]:
        """The plans at `price` in one compiled call, USD: their crypto
        (`crypto_value(price).sum()`), the rest of their assets (`other.sum()`) and their
        open loss (the cohorts' losses, `np.maximum(0, -pnl(price)).sum()`)."""
        return _close_marks(self.coins, price, self.proceeds, self.cost, self.other)

    def total_loss(self, price: np.ndarray, pnl: np.ndarray | None = None) -> float:
        """Savers' cumulative crypto losses, USD (cohorts in the red, plus retired ones);
        `pnl` is `self.pnl(price)` when the caller has it already."""
        pnl = self.pnl(price) if pnl is None else pnl
        return float(np.maximum(0.0, -pnl).sum() + self.retired_loss)

    def buying(self) -> np.ndarray:
        """Cohorts whose plan offers crypto and who opted in, shape (n,), bool."""
        return self.offering & self.opted_in

    def set_access(self, day: int, ceiling: float, target_date_only: bool) -> None:
        """The agencies' rules on plan access from `day`: at most `ceiling` of plans may
        offer crypto (0: plans closed), only in target-date sleeves if `target_date_only`."""
        if ceiling <= 0.0:
            self.open_day = None
        elif self.open_day is None:
            self.open_day = day
        self.offer_ceiling = ceiling
        self.target_date_only = target_date_only
        self.update_offer(day)

    def update_offer(self, day: int) -> None:
        """Set which cohorts' plans offer crypto on `day` (and when each first did)."""
        _offer(
            day,
            offer_share(self.cfg, day, self.open_day, self.offer_ceiling),
            self.adopt_rank,
            self.target_date_only,  # self-directed savers may no longer buy crypto
            self.target_date,
            self.offering,
            self.first_offer,
        )

    def fill_within_cap(
        self, orders: np.ndarray, decision_price: np.ndarray, price: np.ndarray
    ) -> np.ndarray:
        """`fill(orders, decision_price, price)` with the buys scaled down to the room left
        under the concentration cap (`cap_buys`), in one compiled call, (n, assets)."""
        return _fill_within_cap(orders, decision_price, price, self.coins, self.cap_coins)

    def allocation_now(self, effects: PolicyEffects) -> float:
        """The crypto allocation that policy allows today."""
        if effects.freeze:
            return 0.0
        return min(self.cfg.allocation * effects.allocation_factor, effects.allocation_cap)

    # ---- the rule ----------------------------------------------------------------------
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
        """Orders in coins, shape (n, assets), at the decision price `price`.

        `drawdown` is the menu-weighted fall of prices from their 1-year high (0..1);
        `fear_share` the share of each cohort's social neighbours that panicked.
        """
        s = self.cfg
        u = rng.random((3, self.n))  # fixed number of draws a day: reproducible whatever happens
        self.update_offer(day)
        orders, self.contributed, sums = _saver_rule(
            day,
            u,
            (  # the panic hazard's terms (`panic_hazard`)
                crash_hazard(drawdown, s.panic_rate_crash, s.panic_drawdown_scale),
                s.target_date_panic_factor,
                s.panic_social_weight,
            ),
            fear_share,
            price,
            self.menu,
            self.coins,
            self.cash,
            self.other,
            self.eligible,
            self.age,
            self.panicked,
            self.contributing,
            self.retiring,
            self.buying(),
            self.target_date,
            self.opted_in,
            self.first_offer,
            self.realloc_base,
            self.contribution,
            self.pay_phase,
            self.rebalance_phase,
            (
                self.daily_growth,
                s.retirement_age,
                1.0 / s.panic_duration_days,
                s.stop_contributing_share,
                s.panic_sell_fraction,
                self.allocation_now(effects),
                min(s.allocation, effects.allocation_cap),
                effects.unwind_rate,
            ),
            (
                s.payday_interval_days,
                s.reallocation_days,
                s.reallocation_start_day,
                s.rebalance_interval_days,
            ),
            s.channel == "payroll+reallocation",
            effects.freeze,
            effects.freeze or effects.allocation_factor < 1.0,
            self.cap_coins,
        )
        (growth, payroll, to_crypto, moved, rebalanced), (in_phase, due) = sums
        ledger.other_return += growth
        ledger.payroll_in += payroll
        ledger.to_market += to_crypto
        if in_phase:  # some cohort was in its reallocation phase
            ledger.to_market += moved
        if due:  # some sleeve was due to rebalance
            ledger.to_market += rebalanced
        return orders

    @staticmethod
    def fill(orders: np.ndarray, decision_price: np.ndarray, price: np.ndarray) -> np.ndarray:
        """Coins actually bought (+) or sold (-) at `price`, shape (n, assets).

        Buys are dollar amounts (a payroll deduction buys whatever it buys): the coins
        ordered at `decision_price` are paid for with the same dollars at `price`. Sales are
        coin quantities.
        """
        return _fill(orders, decision_price, price)

    def settle(
        self, delta: np.ndarray, price: np.ndarray, ledger: Ledger
    ) -> tuple[np.ndarray, np.ndarray]:
        """Execute coin changes `delta` at `price`, sweep cash out, retire cohorts that are
        done; return the rows that retired and the balances they withdrew (USD)."""
        swept, rows, withdrawn, retired_loss, withdrawn_total = _settle(
            delta,
            price,
            self.coins,
            self.cash,
            self.cost,
            self.proceeds,
            self.other,
            self.eligible,
            self.target_date,
            self.retiring,
        )
        ledger.from_market += swept
        if rows.size:
            self.retired_loss += retired_loss
            ledger.withdrawals_out += withdrawn_total
            for name in ("other", "eligible", "cost", "proceeds"):
                getattr(self, name)[rows] = 0.0
            self.age[rows] = self.cfg.entry_age
            self.panicked[rows] = False
            self.contributing[rows] = True
            self.retiring[rows] = False
        return rows, withdrawn

    def charge(self, rate_per_year: float, price: np.ndarray, ledger: Ledger) -> None:
        """Take a cost of `rate_per_year` of each cohort's crypto value (a day's share) from
        its plan's other assets (the IRS's reporting and valuation cost)."""
        fee = np.minimum(self.crypto_value(price) * rate_per_year / DAYS_PER_YEAR, self.other)
        self.other -= fee
        np.minimum(self.eligible, self.other, out=self.eligible)
        ledger.fees_out += float(fee.sum())

    def compensate(self, share: float, price: np.ndarray, ledger: Ledger) -> float:
        """A rescue: pay `share` of each cohort's crypto loss so far into its plan; USD."""
        paid = share * np.maximum(0.0, -self.pnl(price))
        self.other += paid
        ledger.rescue_in += float(paid.sum())
        return float(paid.sum())


def offer_share(cfg: SaverConfig, day: int, open_day: int | None, ceiling: float) -> float:
    """Share of plans offering crypto on `day` (fraction): 0 while plans are closed
    (`open_day` None); then linear from `offer_share_start` to `offer_share_end` over
    `offer_ramp_days` after `open_day`, at most `ceiling`."""
    if open_day is None or day < open_day:
        return 0.0
    since = day - open_day
    if since >= cfg.offer_ramp_days:
        return min(cfg.offer_share_end, ceiling)
    ramp = since / cfg.offer_ramp_days
    share = cfg.offer_share_start + (cfg.offer_share_end - cfg.offer_share_start) * ramp
    return min(share, ceiling)


@compiled
def _offer(
    day: int,
    share: float,
    adopt_rank: np.ndarray,
    target_date_only: bool,
    target_date: np.ndarray,
    offering: np.ndarray,
    first_offer: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """`SaverPopulation.update_offer` in place: the cohorts whose plan's adoption rank is
    below `share` offer crypto (only target-date ones if `target_date_only`); the day each
    first did."""
    for i in range(offering.shape[0]):
        offering[i] = adopt_rank[i] < share and (target_date[i] or not target_date_only)
        if offering[i] and first_offer[i] < 0:
            first_offer[i] = day


@compiled
def cap_buys(orders: np.ndarray, held: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """Scale the buy orders (coins, shape (n, assets), C-ordered float64) of each asset by
    one factor so that `held` (coins, shape (assets,)) plus all buys stays at most `cap`
    (shape (assets,)). Sales are kept and not counted as room: the cap holds whatever fills.
    (Compiled; the buys are summed as numpy sums a C-ordered array.)"""
    n, k = orders.shape
    buys = _column_parts(orders, POSITIVE)
    scale = np.ones(k)
    for j in range(k):
        room = _maximum(cap[j] - held[j], 0.0)
        if buys[j] > room:
            scale[j] = room / buys[j]
    out = np.empty((n, k))
    for i in range(n):
        for j in range(k):
            x = orders[i, j]
            out[i, j] = x * scale[j] if x > 0.0 else x
    return out


@compiled
def _fill(orders: np.ndarray, decision_price: np.ndarray, price: np.ndarray) -> np.ndarray:
    n, k = orders.shape
    out = np.empty((n, k))
    for i in range(n):
        for j in range(k):
            x = orders[i, j]
            out[i, j] = (_maximum(x, 0.0) * decision_price[j]) / price[j] + _minimum(x, 0.0)
    return out


@compiled
def _fill_within_cap(
    orders: np.ndarray,
    decision_price: np.ndarray,
    price: np.ndarray,
    coins: np.ndarray,
    cap: np.ndarray,
) -> np.ndarray:  # pragma: no cover - compiled
    return cap_buys(_fill(orders, decision_price, price), _column_parts(coins, VALUE), cap)


@compiled
def _settle(
    delta: np.ndarray,
    price: np.ndarray,
    coins: np.ndarray,
    cash: np.ndarray,
    cost: np.ndarray,
    proceeds: np.ndarray,
    other: np.ndarray,
    eligible: np.ndarray,
    target_date: np.ndarray,
    retiring: np.ndarray,
) -> tuple[float, np.ndarray, np.ndarray, float, float]:
    """`SaverPopulation.settle` in place, but the reset of retired rows: returns the USD
    swept back to the plans, the rows that retire (in order), their balances (USD, a copy),
    the sum of their crypto losses and of their balances. The products with `price` are
    numpy's (`delta @ price`, `np.maximum(delta, 0) @ price`)."""
    n, k = delta.shape
    spend = numpy_calls.matvec(delta, price)
    bought = np.empty((n, k))
    for i in range(n):
        for j in range(k):
            bought[i, j] = _maximum(delta[i, j], 0.0)
    buys = numpy_calls.matvec(bought, price)
    rows = np.empty(n, np.int64)
    loss = np.empty(n)
    out = np.empty(n)
    m = 0
    for i in range(n):
        cost[i] = cost[i] + buys[i]
        proceeds[i] = proceeds[i] + (buys[i] - spend[i])
        for j in range(k):
            coins[i, j] = _maximum(coins[i, j] + delta[i, j], 0.0)  # rounding of full sales
        cash[i] = cash[i] - spend[i]
    swept = 0.0 + _pairwise(cash, VALUE)
    for i in range(n):
        other[i] = other[i] + cash[i]
        eligible[i] = eligible[i] + (_maximum(cash[i], 0.0) if target_date[i] else 0.0)
        eligible[i] = _minimum(eligible[i], other[i])
        cash[i] = 0.0
        empty = True
        for j in range(k):
            empty = empty and coins[i, j] == 0.0
        if retiring[i] and empty:
            rows[m] = i
            loss[m] = _maximum(0.0, -(proceeds[i] - cost[i]))
            out[m] = other[i]
            m += 1
    withdrawn = out[:m].copy()
    return (
        swept,
        rows[:m].copy(),
        withdrawn,
        0.0 + _pairwise(loss[:m], VALUE),
        0.0 + _pairwise(withdrawn, VALUE),
    )


def panic_hazard(
    drawdown: float,
    target_date: np.ndarray,
    fear_share: np.ndarray,
    rate_crash: float,
    drawdown_scale: float,
    target_date_factor: float,
    social_weight: float,
) -> np.ndarray:
    """Daily probability of panic, shape (n,).

    yearly hazard = rate_crash * min(1, drawdown/drawdown_scale)
                    * (target_date_factor if target-date else 1) * (1 + w * fear_share)
    """
    yearly = crash_hazard(drawdown, rate_crash, drawdown_scale)
    return _panic_hazard(yearly, target_date, fear_share, target_date_factor, social_weight)


def crash_hazard(drawdown: float, rate_crash: float, drawdown_scale: float) -> float:
    """The yearly panic hazard of the market's fall alone (`panic_hazard`'s first terms),
    per year: rate_crash * min(1, drawdown / drawdown_scale)."""
    return rate_crash * min(1.0, max(0.0, drawdown) / drawdown_scale)


@compiled
def _panic_hazard(
    yearly: float,
    target_date: np.ndarray,
    fear_share: np.ndarray,
    target_date_factor: float,
    social_weight: float,
) -> np.ndarray:  # pragma: no cover - compiled
    """The daily probability of panic, 1 - exp(-(yearly hazard of each cohort) / DAYS_PER_YEAR)
    computed as -expm1 of the exponent with numpy's expm1 (`numpy_calls`), as the rule
    always used, shape (n,)."""
    exponent = np.empty(fear_share.shape[0])
    for i in range(exponent.shape[0]):
        h = yearly * (target_date_factor if target_date[i] else 1.0)
        h = h * (1.0 + social_weight * fear_share[i])
        exponent[i] = -h / DAYS_PER_YEAR
    x = numpy_calls.expm1(exponent)
    for i in range(x.shape[0]):
        x[i] = -x[i]
    return x


@compiled
def _saver_rule(
    day: int,
    u: np.ndarray,
    panic: tuple[float, float, float],
    fear_share: np.ndarray,
    price: np.ndarray,
    menu: np.ndarray,
    coins: np.ndarray,
    cash: np.ndarray,
    other: np.ndarray,
    eligible: np.ndarray,
    age: np.ndarray,
    panicked: np.ndarray,
    contributing: np.ndarray,
    retiring: np.ndarray,
    buying: np.ndarray,
    target_date: np.ndarray,
    opted_in: np.ndarray,
    first_offer: np.ndarray,
    realloc_base: np.ndarray,
    pay: np.ndarray,
    pay_phase: np.ndarray,
    rebalance_phase: np.ndarray,
    rates: tuple[float, float, float, float, float, float, float, float],
    days: tuple[int, int, int, int],
    reallocating: bool,
    freeze: bool,
    capped: bool,
    cap: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, tuple[tuple[float, ...], tuple[bool, bool]]]:
    """The module's daily rule for every cohort, in place in the state arrays; `u` (3, n)
    the day's uniform draws, `panic` the yearly hazard of the market's fall
    (`crash_hazard`), the target-date factor and the social weight, `fear_share` (n,) as
    `panic_hazard` takes them. Returns the orders in coins (n, assets) within the
    concentration cap `cap` (coins, (assets,)), the USD contributed by each cohort, and
    the day's sums for the ledger (USD: growth of other assets, payroll, payroll to
    crypto, reallocation moved and rebalancing bought) with whether any cohort was in
    those last two steps. Every operation is the numpy rule's, in its order, the products
    and sums numpy's: bit for bit."""
    # the crypto at the open (USD) and the daily panic probability, (n,) each
    value = numpy_calls.matvec(coins, price)
    hazard = _panic_hazard(panic[0], target_date, fear_share, panic[1], panic[2])
    growth_rate, retirement_age, recovery, stop_share, sell_fraction, alloc_now = rates[:6]
    sleeve_weight, unwind = rates[6], rates[7]
    pay_interval, realloc_days, realloc_start, rebalance_interval = days
    n, k = coins.shape
    growth = np.empty(n)
    contribution = np.empty(n)
    to_crypto = np.empty(n)
    moved = np.zeros(n)
    bought = np.empty(n)
    n_due = 0
    orders = np.zeros((n, k))
    grow = 1.0 + growth_rate
    year_day = 1.0 / DAYS_PER_YEAR
    # (day - phase) % interval == 0 is phase == day % interval, as every phase is drawn in
    # [0, interval): one division a day instead of one a cohort (~4 us at 2,000 cohorts)
    pay_today = day % pay_interval
    rebalance_today = day % rebalance_interval
    in_phase = False  # is any cohort in its reallocation phase today?
    if reallocating and not freeze:
        for i in range(n):
            start = first_offer[i] + realloc_start
            if opted_in[i] and first_offer[i] >= 0 and start <= day < start + realloc_days:
                in_phase = True
                break
    for i in range(n):
        # 1. growth of other assets, age
        growth[i] = other[i] * growth_rate
        other[i] = other[i] + growth[i]
        eligible[i] = eligible[i] * grow
        age[i] = age[i] + year_day
        retiring[i] = age[i] >= retirement_age
        # 2. panic and recovery
        if panicked[i] and u[0, i] < recovery:
            panicked[i] = False
            contributing[i] = True
        if not panicked[i] and not retiring[i] and value[i] > 0 and u[1, i] < hazard[i]:
            panicked[i] = True
            if u[2, i] < stop_share:
                contributing[i] = False
            for j in range(k):
                orders[i, j] = orders[i, j] - sell_fraction * coins[i, j]
        alloc = 0.0 if (panicked[i] or retiring[i] or not buying[i]) else alloc_now
        # 3. payroll
        paid = contributing[i] and not retiring[i] and pay_phase[i] == pay_today
        contribution[i] = pay[i] * pay_interval / DAYS_PER_YEAR if paid else 0.0
        to_crypto[i] = contribution[i] * alloc
        other[i] = other[i] + (contribution[i] - to_crypto[i])
        eligible[i] = eligible[i] + (contribution[i] - to_crypto[i])
        cash[i] = cash[i] + to_crypto[i]
        # 4. reallocation of existing balances
        if reallocating and opted_in[i] and first_offer[i] >= 0:
            start = first_offer[i] + realloc_start
            if start == day:
                realloc_base[i] = other[i]
            if in_phase:
                if start <= day < start + realloc_days:
                    step = _minimum(realloc_base[i] / realloc_days, other[i])
                else:
                    step = 0.0
                moved[i] = step * alloc
                other[i] = other[i] - moved[i]
                eligible[i] = eligible[i] + (step - moved[i])
                cash[i] = cash[i] + moved[i]
        elif in_phase:  # outside the channel: nothing moves (x - 0.0, x + (0.0 - 0.0))
            other[i] = other[i] - 0.0
            eligible[i] = eligible[i] + 0.0
            cash[i] = cash[i] + 0.0
        eligible[i] = _minimum(eligible[i], other[i])
        for j in range(k):
            orders[i, j] = orders[i, j] + (cash[i] * menu[j]) / price[j]
    # 5. target-date rebalancing (sleeves due today)
    due_any = False
    for i in range(n):
        if (
            target_date[i]
            and not panicked[i]
            and not retiring[i]
            and rebalance_phase[i] == rebalance_today
        ):
            due_any = True
            break
    if due_any and unwind == 0.0:
        for i in range(n):
            if not (
                target_date[i]
                and not panicked[i]
                and not retiring[i]
                and rebalance_phase[i] == rebalance_today
            ):
                continue
            held = value[i] + cash[i]  # today's payroll purchase counts as held
            target = (sleeve_weight if buying[i] else 0.0) * (held + eligible[i])
            if capped:
                target = _minimum(target, held)
            delta = target - held
            buy = _minimum(_maximum(delta, 0.0), eligible[i])
            bought[n_due] = buy
            n_due += 1
            eligible[i] = eligible[i] - buy
            other[i] = other[i] - buy
            cash[i] = cash[i] + buy
            for j in range(k):
                orders[i, j] = orders[i, j] + (buy * menu[j]) / price[j]
            sell = _minimum(delta, 0.0) / value[i] if value[i] > 0 else 0.0
            for j in range(k):
                orders[i, j] = orders[i, j] + sell * coins[i, j]
    for i in range(n):
        for j in range(k):
            if unwind > 0.0:  # 6. forced unwind
                orders[i, j] = orders[i, j] - unwind * coins[i, j]
            if retiring[i]:  # 7. retirement: sell everything
                orders[i, j] = -coins[i, j]
            orders[i, j] = _maximum(orders[i, j], -coins[i, j])
    sums = (
        0.0 + _pairwise(growth, VALUE),
        0.0 + _pairwise(contribution, VALUE),
        0.0 + _pairwise(to_crypto, VALUE),
        0.0 + _pairwise(moved, VALUE),
        0.0 + _pairwise(bought[:n_due], VALUE),
    )
    # 8. the concentration cap (the unspent cash goes back to the plan at settlement)
    capped_orders = cap_buys(orders, _column_parts(coins, VALUE), cap)
    return capped_orders, contribution, (sums, (in_phase, n_due > 0))


@compiled
def _close_marks(
    coins: np.ndarray, price: np.ndarray, proceeds: np.ndarray, cost: np.ndarray, other: np.ndarray
) -> tuple[float, float, float]:  # pragma: no cover - compiled
    """`SaverPopulation.close_marks`: numpy's product and sums, bit for bit."""
    value = numpy_calls.matvec(coins, price)
    loss = np.empty(value.shape[0])
    for i in range(value.shape[0]):
        loss[i] = _maximum(0.0, -((value[i] + proceeds[i]) - cost[i]))
    return (
        0.0 + _pairwise(value, VALUE),
        0.0 + _pairwise(other, VALUE),
        0.0 + _pairwise(loss, VALUE),
    )


class RetirementSaver(RowAgent):
    """A cohort of 401(k) participants; its state is row `row` of `model.savers`."""

    population = "savers"
    _pop: SaverPopulation

    @property
    def age(self) -> float:
        return float(self._pop.age[self.row])

    @property
    def employer(self) -> int:
        return int(self._pop.employer[self.row])

    @property
    def plan_style(self) -> str:
        return "target_date" if self._pop.target_date[self.row] else "self_directed"

    @property
    def balance(self) -> float:
        """Non-crypto plan balance, USD."""
        return float(self._pop.other[self.row])

    @property
    def crypto_wealth(self) -> float:
        return float(self._pop.coins[self.row] @ self.model.market.price)

    @property
    def panicked(self) -> bool:
        return bool(self._pop.panicked[self.row])

    @property
    def contributing(self) -> bool:
        return bool(self._pop.contributing[self.row])

    @property
    def wealth(self) -> float:
        """Crypto holdings at today's price, USD."""
        return self.crypto_wealth
