"""The Mesa model: populations on the market graph, and the order of a day.

A day (one `step`):
1. scheduled shock: an institution fails (fraud: part of its assets vanish) and/or the
   fundamental value drops;
2. news: fundamentals take their random-walk step and quotes follow at once;
3. the regulator reads savers' open losses at yesterday's close and sets today's policy (or,
   in the agencies scenario, the DOL, SEC, IRS and CFTC read their signals and advance their
   rules);
   a fiscal rescue, the last rung, is paid once;
4. savers, traders and institutions decide their orders at today's quotes (vectorized);
5. the market clears: net flow over depth moves the price; every order executes at the new
   price against market makers and the outside market; retail deposits and withdrawals follow
   the market (traders.refill_days);
6. credit lines are drawn and repaid, defaults cascade over the exposure layer, market
   makers lay off inventory;
7. returns, volatility, losses and flows are recorded (DataCollector); the fiscal ledger
   books the day's contributions, retirements and rescue spending; in the window after the
   run's first scheduled event, `event_window` records who panicked first, each holder's
   gains and what vanished (model/event_window.py).
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import mesa
import networkx as nx
import numpy as np
from crypto401k.model import numpy_calls
from crypto401k.model.agencies import AgencyBoard
from crypto401k.model.agents.exchange import FEAR_DAYS as EXCHANGE_FEAR_DAYS
from crypto401k.model.agents.exchange import Exchange, ExchangePopulation
from crypto401k.model.agents.institution import (
    Institution,
    InstitutionPopulation,
    _mean_fund_leverage_at,
    _mm_capacity_at,
)
from crypto401k.model.agents.saver import RetirementSaver, SaverPopulation
from crypto401k.model.agents.trader import CHARTIST, RetailTrader, TraderPopulation
from crypto401k.model.agents.trader import FEAR_DAYS as TRADER_FEAR_DAYS
from crypto401k.model.agents.view import RowAgent
from crypto401k.model.config import AGENCIES, Config, ConfigError
from crypto401k.model.event_window import EventWindow
from crypto401k.model.fiscal import FiscalLedger
from crypto401k.model.kernels import (
    VALUE,
    _book_sums,
    _maximum,
    _net_flow,
    _pairwise,
    _supply_scale,
    compiled,
    holdings,
)
from crypto401k.model.ledger import Ledger
from crypto401k.model.market import Market, _coins_cap, _depth_factor, _stress
from crypto401k.model.network import (
    employer_assignment,
    fear_share,
    market_graph,
    social_adjacency,
    social_edges,
)
from crypto401k.model.policy import RESCUE, PolicyEffects
from crypto401k.model.records import DayRecords
from crypto401k.model.regulator import Regulator, loss_bps
from crypto401k.model.stablecoin import Stablecoin
from mesa.discrete_space import Network

PEAK_WINDOW = 365  # days over which savers measure their drawdown
SUPPLY_MARGIN = 0.5  # buys may take at most half of the outside market's coins in a day

MODEL_REPORTERS = (
    "price",
    "fundamental",
    "log_return",
    "volatility_30d",
    "depth_usd",
    "flow_savers",
    "flow_traders",
    "flow_institutions",
    "saver_crypto_wealth",
    "saver_loss",
    "saver_loss_share",
    "panicked_savers",
    "fund_leverage",
    "defaults",
    "institutions_alive",
    "liquidations",
    "chartist_share",
    "regulator_pressure",
    "policy_level",
    "halted",
    "pnl_savers",
    "pnl_traders",
    "pnl_institutions",
    "pnl_outside",
)
# with several assets, these are also recorded per asset as <name>_<asset>, e.g. price_ETH
# (the plain columns are the first asset's)
PER_ASSET_REPORTERS = ("price", "fundamental", "log_return", "volatility_30d")
# with a stablecoin: its issuer's supply (coins), reserve (USD), reserve per coin, coins
# redeemed so far, and whether the peg is broken
STABLECOIN_REPORTERS = (
    "stable_supply",
    "stable_reserve",
    "stable_coverage",
    "stable_redeemed",
    "peg_broken",
)
# with exchanges: failures so far, USD lost in them (at each failure day's prices), and the
# current value of the coins savers lost in them
EXCHANGE_REPORTERS = ("exchange_failures", "exchange_lost_usd", "exchange_lost_savers_usd")
# the holders whose mark-to-market gains are recorded (pnl_<holder>, USD, cumulative)
HOLDERS = ("savers", "traders", "institutions", "outside")


class Crypto401kModel(mesa.Model):
    """A crypto market with 401(k) savers, retail traders, institutions and a regulator.

    Args:
        config: the scenario; the default, `Config()` (the `btc_only` scenario), if None.
        rng: the seed (an int) of every random draw; `config.run.seed` if None. The seed is
            recorded as `config.run.seed`, so `Crypto401kModel(m.config)` repeats the run. A
            `numpy.random.Generator` is refused: its state cannot be recorded as a seed.
        **overrides: dotted parameter overrides, e.g. ``**{"savers.allocation": 0.03}``
            (``savers__allocation=0.03`` also works), as `mesa.batch_run` passes them.
    """

    def __init__(
        self, config: Config | None = None, *, rng: int | None = None, **overrides: Any
    ) -> None:
        cfg = config or Config()
        if overrides:
            cfg = cfg.with_overrides({k.replace("__", "."): v for k, v in overrides.items()})
        if rng is not None:  # a copy, not a revalidation: `_seed` checks run.seed's range
            cfg = cfg.model_copy(update={"run": cfg.run.model_copy(update={"seed": _seed(rng)})})
        seed = cfg.run.seed
        super().__init__(rng=seed)
        self.seed = seed
        self.config = cfg
        n_s, n_r = cfg.savers.n_cohorts, cfg.traders.n_traders
        n_i = cfg.n_institutions
        n_x = cfg.exchanges.n_exchanges
        self.n_nodes = n_s + n_r + n_i + n_x

        # the market graph: the engine reads it as a sparse matrix; `graph` and `grid`, its
        # networkx and Mesa forms, are built on first use
        employer = employer_assignment(n_s, cfg.savers.n_employers, self.rng)
        self.social_edges = social_edges(cfg.network, n_s, n_r, n_i, employer, self.random)
        adj = social_adjacency(self.social_edges, self.n_nodes)
        self.social_adj = adj  # csr, n_nodes x n_nodes, social layer only
        self.degree = adj.sum(axis=1)

        # populations (state as arrays; rules over whole populations)
        self.market = Market(cfg, self.rng)
        price0 = self.market.price
        # traders and institutions size their books on the coins' cap (stablecoins aside)
        market_cap = np.where(self.market.pegged, 0.0, price0 * self.market.supply)
        self.savers = SaverPopulation(cfg, self.rng, employer, price0)
        traders_adj = adj[n_s : n_s + n_r][:, n_s : n_s + n_r]
        self.traders = TraderPopulation(cfg, self.rng, price0, market_cap, traders_adj)
        self.institutions = InstitutionPopulation(cfg, self.rng, price0, market_cap)
        self._social = adj  # the social layer's 0/1 adjacency, (nodes, nodes)
        self._savers_degree = self.degree[:n_s]
        self.exchanges = ExchangePopulation(cfg, self.rng, n_r, employer)
        self.first_node = {
            "savers": 0,
            "traders": n_s,
            "institutions": n_s + n_r,
            "exchanges": n_s + n_r + n_i,
        }
        self.exposure_edges = self._exposure_edges(n_s + n_r)

        # the outside market: every coin not held by an agent; cash lent out so far
        held = self.savers.coins.sum(0) + self.traders.coins.sum(0) + self.institutions.coins.sum(0)
        self.outside_coins = self.market.supply - held
        self.outside_cash = self.institutions.outside_cash0
        self.ledger = Ledger(
            lost_coins=np.zeros(self.market.n), redeemed_coins=np.zeros(self.market.n)
        )
        pegged = np.flatnonzero(self.market.pegged)
        self.stable_index = int(pegged[0]) if len(pegged) else None
        self.stablecoin = (
            Stablecoin(cfg.stablecoin, float(self.market.supply[self.stable_index]))
            if self.stable_index is not None
            else None
        )

        # Mesa agents: views of their rows (placed on the graph's nodes when `grid` is built)
        for cls, n in zip(
            (RetirementSaver, RetailTrader, Institution, Exchange),
            (n_s, n_r, n_i, n_x),
            strict=True,
        ):
            cls.create_agents(self, n, row=np.arange(n))
        # the single regulator (the simple scenario), or four agencies in its place
        self.board = AgencyBoard(self, cfg.agencies) if cfg.agencies.enabled else None
        reg_cfg = cfg.regulator.model_copy(update={"enabled": False}) if self.board else None
        self.regulator = Regulator(self, reg_cfg or cfg.regulator)
        self._signals = dict.fromkeys(("DOL", "SEC", "IRS", "CFTC"), 0.0)
        self._signal_marks = (0.0, np.zeros(self.market.n), 0, 0)  # lost cash, coins; liq., def.
        self._market_rules = None
        if self.board is not None:
            self._apply_rules(0)
        self.fiscal = FiscalLedger(
            cfg.fiscal,
            self.savers.pay,
            self.savers.other,
            cfg.savers.other_return_annual,
            cfg.savers.retirement_age,
        )
        # a rescue (paid once): USD a buying rescue still has to spend, per day, days left
        self.rescued_day: int | None = None
        self._rescue_daily = 0.0
        self._rescue_days_left = 0
        self.treasury_coins = np.zeros(self.market.n)  # bought by a rescue
        self.rescue_usd = 0.0  # USD spent on rescue so far

        # running records
        self._peaks = np.tile(price0, (PEAK_WINDOW, 1))
        self._loss_bps = 0.0
        self.holding_pnl = np.zeros(len(HOLDERS))  # USD, cumulative, per holder in HOLDERS
        self.holding_pnl_asset = np.zeros((len(HOLDERS), self.market.n))  # the same per asset
        # the scheduled fundamental fall: every coin's, or one coin's (shock.asset)
        self._shock_drop: float | np.ndarray = cfg.shock.fundamental_drop
        if cfg.shock.asset is not None:
            names = [a.name for a in cfg.assets]
            self._shock_drop = np.zeros(self.market.n)
            self._shock_drop[names.index(cfg.shock.asset)] = cfg.shock.fundamental_drop
        self.failed: list[tuple[int, int]] = []  # (day, institution)
        self._outside_ref: np.ndarray | None = None  # the outside's day-0 coins (H0)
        self._burn_in()
        self._outside_ref = np.maximum(self.outside_coins, 0.0)
        self.max_mispricing = np.zeros(self.market.n)  # max |log(P/F)| so far, per asset
        self.initial_cash = self.total_cash()
        self.initial_coins = self.total_coins()
        self.initial_plan_dollars = float(self.savers.other.sum())
        value, _, open_loss = self.savers.close_marks(self.market.price)
        self._set_records(np.zeros((3, self.market.n)), False, value, open_loss)
        self.asset_names = [a.name for a in cfg.assets]
        self._extra_columns = (
            [f"{name}_{asset}" for name in PER_ASSET_REPORTERS for asset in self.asset_names]
            if len(self.asset_names) > 1
            else []
        )
        if self.stablecoin is not None:
            self._extra_columns += list(STABLECOIN_REPORTERS)
        if n_x:
            self._extra_columns += list(EXCHANGE_REPORTERS)
        if self.board is not None:
            self._extra_columns += [f"{k}_{a}" for k in ("pressure", "stage") for a in AGENCIES]
            self._extra_columns += ["plans_offering"]
        if self.board is not None or cfg.regulator.max_level >= RESCUE:
            self._extra_columns += ["rescue_usd"]
        self._set_extra_records()
        reporters = (*MODEL_REPORTERS, *self._extra_columns)
        per_agent = {"wealth": "wealth"}  # USD: crypto (savers) or equity (others)
        agenttype_reporters = (
            {cls: per_agent for cls in (RetirementSaver, RetailTrader, Institution)}
            if cfg.run.collect_agent_data
            else None
        )
        self.datacollector = DayRecords(reporters, agenttype_reporters)
        # the first scheduled event's window, recorded as the days pass (model/event_window.py)
        self.event_window = EventWindow(cfg, n_s, self.holding_pnl_asset.shape)
        self.running = True
        self.datacollector.collect(self)

    # ---- the graph in networkx and Mesa form (built on first use) ---------------------
    @cached_property
    def graph(self) -> nx.MultiGraph:
        """The market graph: social edges and the day-0 exposure edges (`layer` attribute)."""
        return market_graph(
            self.n_nodes, self.social_edges, self.exposure_edges, self._custody_edges()
        )

    @cached_property
    def grid(self) -> Network:
        """Mesa's `Network` space over `graph`, every agent fixed to its node."""
        grid = Network(self.graph, random=self.random, layout=None)
        for agent in self.agents.select(agent_type=RowAgent):  # the regulator has no node
            agent.cell = grid._cells[agent.node]
        return grid

    # ---- the day -------------------------------------------------------------------------
    @property
    def day(self) -> int:
        """Index of the day being (or last) simulated, from 0."""
        return max(self.steps - 1, 0)

    def step(self) -> None:
        day = self.steps - 1
        window = self.event_window
        if day == window.day:
            window.open(self)
        self._day(day)
        self._set_extra_records()
        self.datacollector.collect(self)
        if window.day is not None and window.day <= day <= window.last:
            window.observe(self, day)
        if self.steps >= self.config.run.steps:
            self.running = False

    def _day(self, day: int) -> None:
        """Simulate one day; a negative `day` is a burn-in day (see `_burn_in`)."""
        cfg = self.config
        warm = day < 0
        market, savers, traders, inst = self.market, self.savers, self.traders, self.institutions

        shock_today = cfg.shock.day is not None and day == cfg.shock.day
        if shock_today and cfg.shock.default_institution is not None:
            self._fail_by_shock(cfg.shock.default_institution, cfg.shock.default_loss)

        prev_price = market.price
        prev_log = market.log_price
        if self.stablecoin is not None and not warm:
            self._stablecoin_day(day)
        # a failed exchange's coins vanish at the open, before the day's gains are counted
        # (the loss is booked as vanished, not also as a fall in their holders' value)
        news = self._exchange_day(day) if self.exchanges.n and not warm else 0.0
        holdings_before = self._holdings()
        drop = self._shock_drop if shock_today else 0.0
        if news > 0.0:
            drop = 1.0 - (1.0 - drop) * (1.0 - news)
        if not warm:  # the burn-in holds the fundamentals still
            market.step_fundamental(drop)
        effects = PolicyEffects.none() if warm else self._policy(day)
        price = market.price
        if effects.rescue_share > 0.0 and self.rescued_day is None:
            self._start_rescue(day, effects.rescue_share, price)
        if warm:  # no 401(k) flows in the burn-in
            saver_orders = np.zeros_like(savers.coins)
        else:  # the savers' drawdown from the 1-year high, their neighbours' fear
            drawdown = menu_drawdown(savers.menu, price, self._peaks)
            fear_share = self._fear_share(day)
            saver_orders = savers.decide(
                day, price, drawdown, fear_share, effects, self.rng, self.ledger
            )
        orders = [
            saver_orders,
            traders.decide(
                day,
                price,
                market.log_fundamental,
                effects,
                self.rng,
                cfg.traders.margin_credit_share * market.coins_cap(market.fundamental),
                market.ret,
            ),
            inst.decide(price, effects, market.vol),
            self._rescue_order(price),
            self._outside_order(price),
        ]
        if self.exchanges.n and self.exchanges.frozen(day).any():  # their customers cannot trade
            frozen_savers, frozen_traders = self.exchanges.customers_frozen(day)
            orders[0][frozen_savers] = 0.0
            orders[1][frozen_traders] = 0.0
        # the books go to the compiled sums as they are: the model's are C-ordered float64
        buy_scale = _supply_scale(tuple(orders), self.outside_coins, SUPPLY_MARGIN)
        orders = scale_buys(orders, buy_scale)
        mm_capacity = inst.mm_capacity(price, market.coins_cap(price))
        mm_share, depth = market.quote(mm_capacity)
        clearing = market.clear(_net_flow(tuple(orders)), depth, cfg.regulator.circuit_breaker)
        if not (clearing.scale == 1.0).all():  # a breaker fired (q * 1.0 is q: skipped)
            orders = [q * clearing.scale[None, :] for q in orders]
        exec_price = clearing.price
        orders[0] = savers.fill_within_cap(orders[0], price, exec_price)
        orders[3] = savers.fill(orders[3], price, exec_price)
        fill_scale = _supply_scale(tuple(orders), self.outside_coins, 1.0 - 1e-9)
        orders = scale_buys(orders, fill_scale)

        if not warm:
            self.fiscal.grow(savers.daily_growth)
            self.fiscal.contribute(day, savers.contributed)
            retired, withdrawn = savers.settle(orders[0], exec_price, self.ledger)
            self.exchanges.saver_lost[retired] = False  # a new cohort lost nothing
            self.fiscal.withdraw(day, retired, withdrawn)
            self._settle_rescue(day, orders[3][0], exec_price)
        rules = self._market_rules
        if not warm and rules is not None and rules.reporting_cost > 0.0:
            savers.charge(self._market_rules.reporting_cost, exec_price, self.ledger)
        self.outside_cash -= traders.settle(orders[1], exec_price)
        # retail money follows the market: deposits come from (withdrawals go to) the outside
        coins_cap = market.coins_cap(exec_price)
        self.outside_cash -= traders.refill(exec_price, coins_cap)
        self.outside_coins += orders[4][0]  # the outside's own order (it pays for it)
        self.outside_cash -= float(orders[4][0] @ exec_price)
        flows = _book_sums(tuple(orders))  # net coins of each book, (books, assets)
        # the institutions settle; market makers and the outside take the other side of the
        # net flow; then layoffs, credit and (on a quiet day) the whole rest of the sequence
        self.outside_cash, done = inst.after_trade(
            orders[2], flows, mm_share, exec_price, coins_cap, self.outside_coins, self.outside_cash
        )
        if not done:  # a default, a closure or a re-entry today
            coins, cash, failed = inst.resolve_defaults(exec_price)
            self.outside_coins += coins
            self.outside_cash += cash
            self.failed += [(day, i) for i in failed]
            coins, cash, _ = inst.close_small(exec_price)
            self.outside_coins += coins
            self.outside_cash += cash
            cap = market.coins_cap(market.price)
            self.outside_cash -= inst.reenter(market.price, cap, self.rng)
            self.outside_cash += inst.pay_out(exec_price, coins_cap)

        # the outside's reference follows its holdings, slowly (none in the burn-in); the
        # savers' 1-year high; gains on the day's opening holdings at the close-to-close
        # price change
        ref = self._outside_ref
        close_books(
            holdings_before,
            market.price,
            prev_price,
            self.holding_pnl,
            self.holding_pnl_asset,
            self._peaks[day % PEAK_WINDOW],
            np.empty(0) if ref is None else ref,
            self.outside_coins,
            1.0 - 0.5 ** (1.0 / cfg.outside.reference_halflife_days),
        )
        market.record_return(prev_log)
        traders.update_trend(market.ret)
        if warm:
            return
        # the regulator's signal for tomorrow: savers' open loss against cost (nets gains)
        value, other, open_loss = savers.close_marks(market.price)
        self._loss_bps = loss_bps(open_loss, other + value)
        self._set_records(flows[:3], clearing.halted, value, open_loss)
        if self.board is not None:
            self._update_signals()

    def _burn_in(self) -> None:
        """Simulate `run.burn_in_days` before day 0 (days -B..-1): traders, institutions and
        the outside trade with the fundamentals held still, no 401(k) flows, no policy and no
        events, so that no result depends on every agent starting at its initial state. The
        counters and the books then start afresh at day 0."""
        days = self.config.run.burn_in_days
        for day in range(-days, 0):
            self._day(day)
        self.traders.liquidations = 0
        self.institutions.defaults = 0
        self.institutions.entries = 0
        self.institutions.closures = 0
        self.ledger = Ledger(
            lost_coins=np.zeros(self.market.n), redeemed_coins=np.zeros(self.market.n)
        )
        self._peaks[:] = self.market.price
        self._loss_bps = 0.0
        self.holding_pnl[:] = 0.0
        self.holding_pnl_asset[:] = 0.0
        self.failed = []

    def _outside_order(self, price: np.ndarray) -> np.ndarray:
        """The outside's own order in coins, shape (1, assets): it trades `outside.adjust_speed`
        of the gap to H0 * (P/F)^-zeta coins (Gabaix & Koijen 2021's inelastic demand), so it
        sells into rallies and buys into falls; H0 starts at its holdings at day 0 (none in
        the burn-in) and follows them with a half-life of `outside.reference_halflife_days`."""
        if self._outside_ref is None:
            return np.zeros((1, self.market.n))
        o = self.config.outside
        return outside_order(
            price,
            self.market.log_fundamental,
            self._outside_ref,
            -o.demand_elasticity,
            o.adjust_speed,
            self.market.pegged,
            self.outside_coins,
        )

    def run(self) -> None:
        """Simulate to the run's last day, `config.run.steps` (Mesa's `step()` runs one day,
        `run_for(n)` n days)."""
        left = self.config.run.steps - self.steps
        if left > 0:
            self.run_for(left)

    # ---- policy: the regulator or the agencies; the rescue ------------------------------
    def _policy(self, day: int) -> PolicyEffects:
        """Today's effects: the single regulator's rung, or the agencies' rules in force."""
        if self.board is None:
            return self.regulator.observe(day, self._loss_bps)
        self.board.observe(day, self._signals)
        return self._apply_rules(day)

    def _apply_rules(self, day: int) -> PolicyEffects:
        """Set the market's state from the agencies' rules in force on `day`."""
        rules = self.board.market_rules(day)
        before = self._market_rules
        self._market_rules = rules
        savers = self.savers
        access = (rules.offer_share, rules.target_date_only)
        if before is None or access != (before.offer_share, before.target_date_only):
            # the safe harbour opens plans (their offering share ramps from then on)
            savers.set_access(day, rules.offer_share, rules.target_date_only)
        if rules.custody and (before is None or not before.custody) and self.exchanges.n:
            self.exchanges.segregate_plans()
        self.exchanges.hazard_factor = rules.hazard_factor
        if before is None or rules.min_cap_usd != before.min_cap_usd:
            savers.menu = qualifying_menu(
                np.asarray(self.config.menu_weights),
                np.array([a.market_cap_usd for a in self.config.assets]),
                rules.min_cap_usd,
            )
        return rules.effects

    def _start_rescue(self, day: int, share: float, price: np.ndarray) -> None:
        """The last rung: the Treasury makes good `share` of savers' losses, by paying them
        into the plans at once or by buying coins over `fiscal.rescue_days`."""
        self.rescued_day = day
        f = self.config.fiscal
        if f.rescue_mode == "compensate":
            paid = self.savers.compensate(share, price, self.ledger)
            self.rescue_usd += paid
            self.fiscal.spend(day, paid)
        else:
            self._rescue_daily = share * self.savers.total_loss(price) / f.rescue_days
            self._rescue_days_left = f.rescue_days

    def _rescue_order(self, price: np.ndarray) -> np.ndarray:
        """The Treasury's buy order in coins, shape (1, assets), in the plans' menu."""
        if self._rescue_days_left <= 0:
            return np.zeros((1, self.market.n))
        return (self._rescue_daily * self.savers.menu / price)[None, :]

    def _settle_rescue(self, day: int, coins: np.ndarray, price: np.ndarray) -> None:
        if self._rescue_days_left <= 0:
            return
        self._rescue_days_left -= 1
        spent = float(coins @ price)
        self.treasury_coins += coins
        self.ledger.rescue_to_market += spent
        self.rescue_usd += spent
        self.fiscal.spend(day, spent)

    def _update_signals(self) -> None:
        """Each agency's signal for tomorrow, in basis points (see model/agencies.py)."""
        cfg, savers, price = self.config, self.savers, self.market.price
        lost_cash, lost_coins, liq, dfl = self._signal_marks
        led = self.ledger
        holding = savers.cost > 0
        hit = float((savers.pnl(price)[holding] < 0).mean()) if holding.any() else 0.0
        coins_cap = self.market.coins_cap(price)
        lost = (led.lost_cash - lost_cash) + float((led.lost_coins - lost_coins) @ price)
        n_r, n_i = max(self.traders.n, 1), max(self.institutions.n, 1)
        self._signals = {
            "DOL": self._loss_bps * (1.0 + cfg.agencies.backlash_breadth * hit),
            "SEC": 1e4 * lost / coins_cap,
            "IRS": 1e4 * abs(self.flow_savers) / cfg.savers.plan_assets_usd,
            "CFTC": 1e4
            * ((self.traders.liquidations - liq) / n_r + (self.institutions.defaults - dfl) / n_i),
        }
        self._signal_marks = (
            led.lost_cash,
            led.lost_coins.copy(),
            self.traders.liquidations,
            self.institutions.defaults,
        )

    def fiscal_summary(self, discount: float | None = None) -> dict[str, Any]:
        """The government's ledger as of now, the plans' balances projected to retirement
        (and a buying rescue's coins sold at today's prices): present values at `discount`
        (default `fiscal.discount_rate`), USD at day 0."""
        rate = self.config.fiscal.discount_rate if discount is None else discount
        return self.projected_ledger().summary(rate)

    def projected_ledger(self) -> FiscalLedger:
        savers, price = self.savers, self.market.price
        balance = savers.other + savers.crypto_value(price)
        ledger = self.fiscal.projected(self.day, balance, savers.age)
        value = float(self.treasury_coins @ price)
        if value:
            ledger.spend(self.day, -value)
        return ledger

    # ---- helpers -------------------------------------------------------------------------
    def _fear_share(self, day: int) -> np.ndarray:
        """Share of each saver's social neighbours in fear (panicked savers, traders
        liquidated within a month, customers of an exchange failed within a month), shape
        (savers,)."""
        x, adj = self.exchanges, self._social
        return savers_fear(
            self.savers.panicked,
            self.traders.liquidated_day,
            day - TRADER_FEAR_DAYS,
            x.failed,
            x.failed_day,
            day - EXCHANGE_FEAR_DAYS,
            x.saver_lost,
            x.saver_exchange,
            x.trader_exchange,
            (adj.indptr, adj.indices, self._savers_degree),
        )

    def _exchange_day(self, day: int) -> float:
        """A scheduled or hazard failure of an exchange; returns today's news drop of the
        fundamentals (0..news_cap): a failure's news arrives over `news_days` days."""
        x = self.exchanges
        k = x.draw_failure(self.rng)
        if (
            self.config.exchanges.fail_day == day
            and not x.failed[self.config.exchanges.fail_exchange]
        ):
            k = self.config.exchanges.fail_exchange
        if k is None:
            return x.news_today(day)
        price = self.market.price
        coins, cash = x.fail(
            k, day, price, self.savers.coins, self.traders.coins, self.traders.cash
        )
        self.ledger.lost_coins += coins
        self.ledger.lost_cash += cash
        # plan participants who lost coins there (not those whose plan held none)
        self.savers.panicked |= (x.saver_exchange == k) & x.saver_lost
        coins_cap = self.market.coins_cap(price)
        x.news_drop(k, coins_cap)
        return x.news_today(day)

    def _custody_edges(self) -> list[tuple[int, int]]:
        """(exchange node, customer node) for every trader and exchange-held plan."""
        x, first = self.exchanges, self.first_node
        pairs = []
        for who, exchange in (("savers", x.saver_exchange), ("traders", x.trader_exchange)):
            rows = np.flatnonzero(exchange >= 0)
            pairs += list(
                zip(
                    (first["exchanges"] + exchange[rows]).tolist(),
                    (first[who] + rows).tolist(),
                    strict=True,
                )
            )
        return pairs

    def _stablecoin_day(self, day: int) -> None:
        """The reserve shock, the backstop and the run; the day's peg price."""
        sc, k = self.stablecoin, self.stable_index
        if self.config.stablecoin.shock_day == day:
            sc.shock(day, self.config.stablecoin.shock_reserve_loss)
        peg_before = float(self.market.price[k])
        coins, paid = sc.step(day, float(self.outside_coins[k]))
        self.outside_coins[k] -= coins  # burned by the issuer
        # redeeming at par what trades below it is the redeemers' gain
        gain = paid - coins * peg_before
        self.holding_pnl[HOLDERS.index("outside")] += gain
        self.holding_pnl_asset[HOLDERS.index("outside"), k] += gain
        self.outside_cash += paid
        self.ledger.redeemed_coins[k] += coins
        self.ledger.redeemed_usd += paid
        self.market.set_peg(np.array([sc.price]))

    def _fail_by_shock(self, i: int, loss: float) -> None:
        inst = self.institutions
        if not inst.alive[i]:
            return
        inst.lose(i, loss, self.ledger)
        coins, cash = inst.fail(i, self.market.price)
        self.outside_coins += coins
        self.outside_cash += cash
        self.failed.append((self.steps - 1, i))

    def _exposure_edges(self, first_node: int) -> list[tuple[int, int, dict[str, Any]]]:
        """The day-0 loans between institutions as (debtor, lender, attributes) edges."""
        inst = self.institutions
        debtor, creditor = np.nonzero(inst.loans[:, : inst.n])
        return [
            (
                first_node + i,
                first_node + j,
                {"lender": first_node + j, "amount": float(inst.loans[i, j])},
            )
            for i, j in zip(debtor.tolist(), creditor.tolist(), strict=True)
        ]

    def _set_records(self, flows: np.ndarray, halted: bool, value: float, open_loss: float) -> None:
        """The day's model reporters; `flows` are the savers', traders' and institutions'
        net coins, rows of shape (3, assets), `value` and `open_loss` the plans' crypto and
        their cohorts' open losses at the close, USD (`SaverPopulation.close_marks`)."""
        price = self.market.price
        (n_chartists, self.panicked_savers, self.institutions_alive), depth, flow_usd, leverage = (
            self._record_marks(flows)
        )
        self.price = float(price[0])
        self.fundamental = float(self.market.fundamental[0])
        self.log_return = float(self.market.ret[0])
        self.volatility_30d = float(self.market.vol[0] * np.sqrt(365.0))
        self.depth_usd = float(
            0.01
            * price[0]
            * self.market.supply[0]
            * depth[0]
            / self.config.market.impact_multiplier
        )  # USD of net flow that moves the price by 1% (linear law)
        self.flow_savers, self.flow_traders, self.flow_institutions = flow_usd.tolist()
        self.saver_crypto_wealth = value
        self.saver_loss = open_loss + self.savers.retired_loss  # as `savers.total_loss`
        self.saver_loss_share = self.saver_loss / self.config.savers.plan_assets_usd
        self.fund_leverage = leverage
        self.defaults = self.institutions.defaults
        self.liquidations = self.traders.liquidations
        self.chartist_share = n_chartists / self.traders.n if self.traders.n else 0.0
        if self.board is None:
            self.regulator_pressure = self.regulator.pressure
            self.policy_level = self.regulator.level
        else:  # the DOL's pressure; the number of rules in force
            self.regulator_pressure = self.board.agencies["DOL"].pressure
            self.policy_level = sum(r.in_force(self.day) for r in self.board.rules)
        self.halted = bool(halted)
        self.pnl_savers, self.pnl_traders, self.pnl_institutions, self.pnl_outside = (
            self.holding_pnl.tolist()
        )

    def _record_marks(
        self, flows: np.ndarray
    ) -> tuple[tuple[int, int, int], np.ndarray, np.ndarray, float]:
        """The records' marks at the close in one compiled call (`record_marks`): the
        counts (chartists, panicked savers, live institutions), the depth factor (assets,)
        at the market makers' capacity (`Market.quote`'s), each of `flows`' rows' USD and the
        funds' mean leverage (`InstitutionPopulation.mean_fund_leverage`)."""
        m, inst, mc = self.market, self.institutions, self.config.market
        return record_marks(
            (m.log_price, m.log_fundamental, m.pegged, self.max_mispricing),
            (self.traders.strategy, self.savers.panicked, inst.alive),
            m.price,
            (m.supply, mc.market_maker_depth_share, m.vol, m.calm_vol, mc.depth_stress_sensitivity),
            (inst.coins, inst.cash, inst.loans, inst.equity0, inst.cap0, inst.kind),
            flows,
        )

    def _set_extra_records(self) -> None:
        """Per-asset columns (with several assets), the exchanges' and the stablecoin's."""
        if len(self.asset_names) > 1:  # PER_ASSET_REPORTERS' columns, asset by asset
            m = self.market
            values = np.concatenate([m.price, m.fundamental, m.ret, m.vol * np.sqrt(365.0)])
            n_columns = len(PER_ASSET_REPORTERS) * len(self.asset_names)
            for column, value in zip(
                self._extra_columns, values.tolist()[:n_columns], strict=False
            ):
                setattr(self, column, value)
        x = self.exchanges
        if x.n:
            self.exchange_failures = int(x.failed.sum())
            self.exchange_lost_usd = float(x.lost_usd.sum())
            self.exchange_lost_savers_usd = float(x.lost_coins[:, 0].sum(0) @ self.market.price)
        if self.board is not None:
            stages = self.board.stages(self.day)
            for a, agency in self.board.agencies.items():
                setattr(self, f"pressure_{a}", agency.pressure)
                setattr(self, f"stage_{a}", stages[a])
            self.plans_offering = float(self.savers.offering.mean()) if self.savers.n else 0.0
        sc = self.stablecoin
        if sc is not None:
            self.stable_supply = sc.supply
            self.stable_reserve = sc.reserve
            self.stable_coverage = sc.coverage
            self.stable_redeemed = sc.redeemed
            self.peg_broken = bool(sc.broken)

    def _holdings(self) -> np.ndarray:
        """Coins held by each holder in HOLDERS, shape (holders, assets)."""
        return holdings(
            self.savers.coins, self.traders.coins, self.institutions.coins, self.outside_coins
        )

    # ---- the divergence guard -------------------------------------------------------------
    @property
    def diverged(self) -> bool:
        """True if any coin's price has left [1/r, r] times its fundamental on a recorded day
        (r = `run.divergence_ratio`), or a price is not finite: a failed run, not data."""
        bound = np.log(self.config.run.divergence_ratio)
        return bool(
            not np.isfinite(self.max_mispricing).all()
            or self.max_mispricing.max() > bound
            or not np.isfinite(self.market.price).all()
        )

    # ---- the books -----------------------------------------------------------------------
    def total_cash(self) -> float:
        """USD in every account of the crypto market (negative balances count negative)."""
        return float(
            self.savers.cash.sum()
            + self.traders.cash.sum()
            + self.institutions.cash.sum()
            + self.outside_cash
        )

    def total_coins(self) -> np.ndarray:
        return (
            self.treasury_coins
            + self.savers.coins.sum(0)
            + self.traders.coins.sum(0)
            + self.institutions.coins.sum(0)
            + self.outside_coins
        )

    def books(self) -> dict[str, Any]:
        """Each conserved quantity next to what the recorded boundary flows say it must be."""
        led = self.ledger
        return {
            "cash": self.total_cash(),
            "cash_expected": self.initial_cash
            + led.to_market
            - led.from_market
            - led.lost_cash
            + led.redeemed_usd
            + led.rescue_to_market,
            "coins": self.total_coins(),
            "coins_expected": self.initial_coins - led.lost_coins - led.redeemed_coins,
            "plan_dollars": float(self.savers.other.sum()),
            "plan_dollars_expected": self.initial_plan_dollars
            + led.payroll_in
            + led.other_return
            - led.to_market
            + led.from_market
            - led.withdrawals_out
            - led.fees_out
            + led.rescue_in,
            **self._stablecoin_books(),
        }

    def _stablecoin_books(self) -> dict[str, float]:
        """The issuer's supply against the coins on the books and its reserve + shortfall."""
        sc = self.stablecoin
        if sc is None:
            return {}
        return {
            "stable_supply": sc.supply,
            "stable_coins_held": float(self.total_coins()[self.stable_index]),
            "stable_reserve_plus_shortfall": sc.reserve + sc.shortfall,
        }


@compiled
def savers_fear(
    panicked: np.ndarray,
    liquidated_day: np.ndarray,
    liquidated_since: int,
    failed: np.ndarray,
    failed_day: np.ndarray,
    failed_since: int,
    saver_lost: np.ndarray,
    saver_exchange: np.ndarray,
    trader_exchange: np.ndarray,
    adjacency: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> np.ndarray:  # pragma: no cover - compiled
    """`fear_share` of the traders liquidated after day `liquidated_since`
    (`TraderPopulation.fear`), the exchanges failed after `failed_since`
    (`ExchangePopulation.recently_failed`) and the savers' venues where they lost coins
    (`saver_customers`), in one call; `adjacency` the social layer's (indptr, indices) and
    the savers' degrees."""
    afraid = np.empty(liquidated_day.shape[0], np.bool_)
    for i in range(afraid.shape[0]):
        afraid[i] = liquidated_day[i] > liquidated_since
    recent = np.empty(failed.shape[0], np.bool_)
    for e in range(recent.shape[0]):
        recent[e] = failed[e] and failed_day[e] > failed_since
    customer = np.empty(saver_exchange.shape[0], np.int64)
    for i in range(customer.shape[0]):
        customer[i] = saver_exchange[i] if saver_lost[i] else -1
    indptr, indices, degree = adjacency
    return fear_share(panicked, afraid, recent, customer, trader_exchange, indptr, indices, degree)


@compiled
def menu_drawdown(
    menu: np.ndarray, price: np.ndarray, peaks: np.ndarray
) -> float:  # pragma: no cover - compiled
    """The menu-weighted fall of `price` (assets,) from its high over the rows of `peaks`
    (days, assets), 0..1: `menu @ np.maximum(0, 1 - price / peaks.max(axis=0))`, numpy's
    product."""
    k = price.shape[0]
    fall = np.empty(k)
    for j in range(k):
        peak = peaks[0, j]
        for d in range(1, peaks.shape[0]):
            peak = _maximum(peak, peaks[d, j])
        fall[j] = _maximum(0.0, 1.0 - price[j] / peak)
    return numpy_calls.rowdots(menu.reshape((1, k)), fall)[0]


@compiled
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
) -> None:  # pragma: no cover - compiled
    """The day's close, in place: the outside's reference (`outside_ref`, (assets,) or
    empty before day 0) moves `follow` of the way to its holdings; today's `price` is the
    savers' `peak_row`; each holder's gains on its opening `holdings` (holders, assets) at
    the change from `prev_price` are added to `pnl` (holders,), numpy's product, and
    `pnl_asset` (holders, assets)."""
    k = price.shape[0]
    for j in range(outside_ref.shape[0]):
        outside_ref[j] = outside_ref[j] + follow * (
            _maximum(outside_coins[j], 0.0) - outside_ref[j]
        )
    change = np.empty(k)
    for j in range(k):
        change[j] = price[j] - prev_price[j]
        peak_row[j] = price[j]
    gains = numpy_calls.matvec(holdings, change)
    for h in range(holdings.shape[0]):
        pnl[h] = pnl[h] + gains[h]
        for j in range(k):
            pnl_asset[h, j] = pnl_asset[h, j] + holdings[h, j] * change[j]


@compiled
def record_marks(
    mispricing: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    counted: tuple[np.ndarray, np.ndarray, np.ndarray],
    price: np.ndarray,
    market: tuple[np.ndarray, float, np.ndarray, np.ndarray, float],
    makers: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float, np.ndarray],
    flows: np.ndarray,
) -> tuple[tuple[int, int, int], np.ndarray, np.ndarray, float]:  # pragma: no cover - compiled
    """The records' marks in one call, each as the population's own rule computes it:
    `max_mispricing` (assets,) raised in place to today's |log(P/F)| of each floating coin
    (`mispricing`: log price, log fundamental, pegged, max_mispricing); the numbers of
    chartists among the traders' strategies, of True in panicked and in alive (`counted`);
    the depth factor (assets,) at the market makers' capacity (`InstitutionPopulation.
    mm_capacity` at the coins' cap, `Market.quote`; `market`: supply, the makers' depth
    share, volatility, calm volatility, stress sensitivity; `makers`: the institutions'
    coins, cash, loans, day-0 equity and cap, kind); each row of `flows` (coins, (rows,
    assets)) in USD, numpy's `row @ price`; and the funds' mean leverage."""
    log_price, log_fundamental, pegged, max_mispricing = mispricing
    for j in range(log_price.shape[0]):
        gap = 0.0 if pegged[j] else np.abs(log_price[j] - log_fundamental[j])
        max_mispricing[j] = _maximum(max_mispricing[j], gap)
    strategy, panicked, alive = counted
    chartists = 0
    for i in range(strategy.shape[0]):
        chartists += strategy[i] == CHARTIST
    counts = (chartists, np.count_nonzero(panicked), np.count_nonzero(alive))
    supply, depth_share, vol, calm, gamma = market
    coins, cash, loans, equity0, cap0, kind = makers
    coins_cap = _coins_cap(price, supply, pegged)
    ratio = coins_cap / cap0 if cap0 > 0 else 1.0  # `InstitutionPopulation._cap_ratio`
    capacity = _mm_capacity_at(coins, price, cash, loans, equity0, ratio, kind, alive)
    depth = _depth_factor(0.0 + _pairwise(capacity, VALUE), depth_share, _stress(vol, calm, gamma))
    leverage = _mean_fund_leverage_at(coins, price, cash, loans, kind, alive)
    return counts, depth, numpy_calls.rowdots(flows, price), leverage


@compiled
def outside_order(
    price: np.ndarray,
    log_fundamental: np.ndarray,
    reference: np.ndarray,
    minus_elasticity: float,
    speed: float,
    pegged: np.ndarray,
    held: np.ndarray,
) -> np.ndarray:  # pragma: no cover - compiled
    """`_outside_order` in one compiled call, numpy's arithmetic to the last bit (numpy's
    `log` and `exp`, `numpy_calls`; numpy's maximum, `kernels`): shape (1, assets)."""
    gap = numpy_calls.log(price) - log_fundamental
    aim = numpy_calls.exp(minus_elasticity * gap)
    k = price.shape[0]
    out = np.empty((1, k))
    for j in range(k):
        order = 0.0 if pegged[j] else speed * (reference[j] * aim[j] - held[j])
        out[0, j] = _maximum(order, -_maximum(held[j], 0.0))
    return out


def qualifying_menu(menu: np.ndarray, cap0_usd: np.ndarray, min_cap_usd: float) -> np.ndarray:
    """The plans' menu with tokens below `min_cap_usd` (day-0 cap) taken out and the rest
    scaled up to sum to 1 (all zeros if none qualifies), shape (assets,)."""
    kept = np.where(cap0_usd >= min_cap_usd, menu, 0.0)
    total = kept.sum()
    return kept / total if total > 0 else kept


def scale_buys(orders: list[np.ndarray], scale: np.ndarray) -> list[np.ndarray]:
    """`orders` (coins, each (rows, assets)) with their buys times `scale` (assets,); the
    same arrays when every factor is 1, as it almost always is (q * 1.0 is q, bit for bit)."""
    if (scale == 1.0).all():
        return orders
    return [np.where(q > 0, q * scale[None, :], q) for q in orders]


def _seed(rng: Any) -> int:
    """`rng` as a seed: an int (numpy's too, not a bool) that `run.seed` allows."""
    if isinstance(rng, bool) or not isinstance(rng, int | np.integer) or not 0 <= rng < 2**63:
        raise ConfigError(
            f"rng = {rng!r}: must be an integer seed in 0..2**63-1, or None for config.run.seed "
            "(a numpy Generator is refused: its state cannot be recorded as the run's seed)"
        )
    return int(rng)
