"""Four agencies write the rules: DOL, SEC, IRS and CFTC, each with its own signal and lags.

The executive order only opens the door; each agency then writes its rules through
notice-and-comment rule-making. An agency watches its own signal (in basis points):

- DOL: savers' open loss against cost, in bps of 401(k) plan assets (the core regulator's
  signal, `regulator.open_loss_bps`: gains net losses), times 1 + breadth x the share of
  crypto-holding cohorts under water (backlash grows with how many are hit and how hard);
- SEC: value lost to fraud and exchange failures that day, in bps of the coins' market cap;
- CFTC: traders liquidated and institutions defaulted that day, in bps of their numbers;
- IRS: savers' crypto trading that day, in bps of 401(k) assets (valuation and reporting
  work grows with it).

The DOL's and the IRS's signals are levels (a loss outstanding, a day's trading): their
pressure is the core regulator's exponential average, S_t = rho * S_(t-1) + (1 - rho) *
signal_t, which settles at the signal's level. The SEC's and the CFTC's are events (coins
lost, accounts liquidated, funds defaulted): zero on a day without one, never offset by a
later gain, so their pressure is a decayed count, S_t = rho * S_(t-1) + signal_t: the losses
of about the last 1/(1 - rho) days. A decayed count rises with the events' rate, as it
should, but a day without events adds nothing: it does not integrate noise. A rule
(`RuleConfig`) starts on day 0 if the executive order directs it (trigger 'order'), or
when its lead agency's pressure reaches `rung` x its threshold. Each agency of the rule then
goes through its stages: proposing (`propose_days`), comment (`comment_days`), final rule
(`final_days`). The rule takes effect when every agency has finished, stretched by
coordination: `start + ceil(max(lags) / coordination)`. Rules in force stay in force (a
repeal would be a rule-making of its own, not modelled). An agency with `acts = false` starts
nothing, and a joint rule that names it never takes effect.

What each instrument does to the market is in `config.INSTRUMENTS`; `AgencyBoard.effects`
turns the rules in force into the savers' and leverage `PolicyEffects` and the rest
(plans that offer crypto, custody, exchange hazard, qualifying tokens, reporting cost).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mesa
import numpy as np
from crypto401k.model.config import AGENCIES, AgenciesConfig, AgencyConfig, RuleConfig
from crypto401k.model.policy import PolicyEffects, average

STAGES = ("watching", "proposing", "comment", "final rule", "in force")
# agencies whose signal counts events (a decayed sum); the others average a level
EVENT_SIGNALS = frozenset({"SEC", "CFTC"})


def pressure_step(pressure: float, signal: float, decay: float, events: bool) -> float:
    """One day of an agency's pressure (bps): a decayed count of events, or the exponential
    average of a level (see the module's docstring)."""
    if events:
        return decay * pressure + signal
    return average(pressure, signal, decay)


def agency_lag(cfg: AgencyConfig) -> int:
    """Days from the start of a rule-making to the agency's final rule."""
    return cfg.propose_days + cfg.comment_days + cfg.final_days


def scaled(cfg: AgencyConfig, factor: float) -> AgencyConfig:
    """The agency with every stage lag multiplied by `factor` (rounded to whole days)."""
    if factor == 1.0:
        return cfg
    return cfg.model_copy(
        update={
            k: round(getattr(cfg, k) * factor)
            for k in ("propose_days", "comment_days", "final_days")
        }
    )


def joint_effective_day(start: int, lags: list[int], coordination: float) -> int:
    """Day a rule started on `start` takes effect: when the slowest agency has finished,
    stretched by imperfect coordination (1 = perfect)."""
    return start + math.ceil(max(lags) / coordination)


def stage_on(day: int, start: int | None, cfg: AgencyConfig, effective: int | None) -> str:
    """An agency's stage in one rule on `day` (see STAGES)."""
    if start is None or day < start:
        return "watching"
    if effective is not None and day >= effective:
        return "in force"
    t = day - start
    if t < cfg.propose_days:
        return "proposing"
    if t < cfg.propose_days + cfg.comment_days:
        return "comment"
    return "final rule"  # drafting it, or waiting for the other agencies


@dataclass
class Rule:
    cfg: RuleConfig
    start: int | None = None  # day the rule-making began
    effective: int | None = None  # day it takes effect (None: never, e.g. a partner idle)

    def in_force(self, day: int) -> bool:
        return self.effective is not None and day >= self.effective


@dataclass(frozen=True)
class MarketRules:
    """What the rules in force do beyond `PolicyEffects` (see `config.INSTRUMENTS`)."""

    offer_share: float  # share of employers whose plan offers crypto
    target_date_only: bool  # crypto only through the target-date vehicle
    custody: bool  # plan coins moved to segregated custody
    hazard_factor: float  # factor on the exchange-failure hazard
    min_cap_usd: float  # tokens below this day-0 cap leave the plans' menus
    reporting_cost: float  # per year, of the plans' crypto value
    effects: PolicyEffects


class Agency(mesa.Agent):
    """One agency (not a node of the market graph): its pressure and its rules' stages."""

    def __init__(self, model: mesa.Model, name: str, cfg: AgencyConfig) -> None:
        super().__init__(model)
        self.name = name
        self.cfg = cfg
        self.pressure = 0.0
        self.rules: list[Rule] = []  # the rules it takes part in

    def stage(self, day: int) -> str:
        """The stage of its most advanced unfinished rule; else 'in force' if one of its
        rules is, else 'watching'."""
        stages = [stage_on(day, r.start, self.cfg, r.effective) for r in self.rules]
        busy = [s for s in stages if s not in ("watching", "in force")]
        if busy:
            return max(busy, key=STAGES.index)
        return "in force" if "in force" in stages else "watching"

    def in_force(self, day: int) -> list[str]:
        return [r.cfg.name for r in self.rules if r.in_force(day)]


class AgencyBoard:
    """The four agencies and their rules; `observe` advances them one day."""

    def __init__(self, model: mesa.Model, cfg: AgenciesConfig) -> None:
        self.cfg = cfg
        self.agencies = {
            name: Agency(model, name, scaled(cfg.agency(name), cfg.lag_scale)) for name in AGENCIES
        }
        rules = [
            r for r in cfg.rules if r.trigger == "pressure" or cfg.executive_order
        ]  # without the order, its rules were never asked for
        self.rules = [Rule(r) for r in rules]
        for rule in self.rules:
            for a in rule.cfg.agencies:
                self.agencies[a].rules.append(rule)
        self.history: list[tuple[int, str, str]] = []  # (day, rule, 'start'/'in force')

    def observe(self, day: int, signals: dict[str, float]) -> list[Rule]:
        """Take each agency's signal for the day, start rules, return those that take
        effect today."""
        for name, agency in self.agencies.items():
            agency.pressure = pressure_step(
                agency.pressure, signals[name], agency.cfg.pressure_decay, name in EVENT_SIGNALS
            )
        for rule in self.rules:
            if rule.start is not None:
                continue
            lead = self.agencies[rule.cfg.agencies[0]]
            if not lead.cfg.acts:
                continue
            if rule.cfg.trigger == "order" or lead.pressure >= rule.cfg.rung * lead.cfg.threshold:
                rule.start = day
                self.history.append((day, rule.cfg.name, "start"))
                members = [self.agencies[a].cfg for a in rule.cfg.agencies]
                if all(m.acts for m in members):
                    # coordination stretches only rules that need several agencies
                    coordination = self.cfg.coordination if len(members) > 1 else 1.0
                    rule.effective = joint_effective_day(
                        day, [agency_lag(m) for m in members], coordination
                    )
        new = [r for r in self.rules if r.effective == day]
        for rule in new:
            self.history.append((day, rule.cfg.name, "in force"))
        return new

    def market_rules(self, day: int) -> MarketRules:
        """The combined effect of every rule in force on `day` (the strictest of each
        instrument)."""
        values: dict[str, list[float | None]] = {}
        for rule in self.rules:
            if rule.in_force(day):
                values.setdefault(rule.cfg.instrument, []).append(rule.cfg.value)

        def strictest(name: str, default: float) -> float:
            v = values.get(name)
            return min(float(x) for x in v) if v else default

        if "plan_access" in values:
            offer = max(float(x) for x in values["plan_access"])
        else:
            offer = 0.0 if self.gates_access() else 1.0
        listing = values.get("listing")
        effects = PolicyEffects(
            allocation_factor=strictest("disclosure", 1.0),
            allocation_cap=strictest("allocation_cap", 1.0),
            freeze="freeze" in values,
            unwind_rate=1.0 / strictest("unwind", math.inf) if "unwind" in values else 0.0,
            leverage_cap=strictest("leverage_cap", math.inf),
            rescue_share=max(float(x) for x in values["rescue"]) if "rescue" in values else 0.0,
        )
        return MarketRules(
            offer_share=offer,
            target_date_only="vehicle" in values,
            custody="custody" in values,
            hazard_factor=strictest("exchange_standards", 1.0),
            min_cap_usd=max(float(x) for x in listing) if listing else 0.0,
            reporting_cost=max(float(x) for x in values.get("reporting", [0.0])),
            effects=effects,
        )

    def gates_access(self) -> bool:
        """Whether plans wait for a 'plan_access' rule (the executive-order scenario)."""
        return self.cfg.executive_order and any(
            r.cfg.instrument == "plan_access" for r in self.rules
        )

    def stages(self, day: int) -> dict[str, str]:
        return {name: a.stage(day) for name, a in self.agencies.items()}

    def pressures(self) -> dict[str, float]:
        return {name: a.pressure for name, a in self.agencies.items()}

    def first_effective(self, instrument: str) -> int | None:
        """First day a rule with this instrument is in force (None: never)."""
        days = [
            r.effective
            for r in self.rules
            if r.cfg.instrument == instrument and r.effective is not None
        ]
        return min(days) if days else None


def offering_employers(n_employers: int, share: float) -> np.ndarray:
    """Which employers' plans offer crypto when `share` of them do: the first
    round(share x n) by index (employers are drawn at random, so this is a random set);
    shape (n_employers,), bool."""
    return np.arange(n_employers) < round(share * n_employers)
