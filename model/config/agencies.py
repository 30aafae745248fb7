"""The four agencies and their rules, declared as data (DOL, SEC, IRS, CFTC)."""

from __future__ import annotations

from typing import Literal

from crypto401k.model.config.base import P, Section
from crypto401k.model.config.errors import (
    _field_error,
)
from pydantic import (
    Field,
    model_validator,
)

AGENCIES = ("DOL", "SEC", "IRS", "CFTC")


# each agency's instruments (model/agencies.py applies them); a rule's first agency leads
# it and must own its instrument. value: what the rule's `value` means ("-": no value)
INSTRUMENTS: dict[str, dict[str, str]] = {
    "DOL": {
        "plan_access": "fiduciary safe harbour: share of plans that may offer crypto once it "
        "is in force, a ceiling on the savers' offering ramp, which starts that day (fraction; "
        "the executive-order scenario's inflows wait for it)",
        "vehicle": "crypto only through the plan's target-date (professionally managed) "
        "vehicle: self-directed savers of the plans may no longer buy it (-)",
        "disclosure": "disclosure and suitability: share of savers' new crypto contributions "
        "that continue (fraction)",
        "allocation_cap": "cap on the crypto allocation and target-date weight (fraction)",
        "freeze": "no new money into crypto (-)",
        "unwind": "forced unwind: savers sell their crypto over this many days (days)",
        "rescue": "fiscal rescue, the last rung of the backlash: share of savers' losses the "
        "Treasury makes good, as fiscal.rescue_mode says (fraction)",
    },
    "SEC": {
        "custody": "segregated qualified custody of plan assets from then on (-)",
        "exchange_standards": "listing and disclosure standards: factor on the hazard of "
        "exchange failure (fraction)",
        "listing": "only tokens with a market cap at day 0 of at least this qualify for plan "
        "menus (USD)",
    },
    "IRS": {
        "reporting": "valuation and reporting cost inside plans, per year of the plans' crypto "
        "value, paid from the plans' other assets (fraction/year)",
    },
    "CFTC": {
        "leverage_cap": "cap on traders' and funds' leverage (x)",
    },
}


# allowed range of a rule's value, per instrument: (low, high); None: the rule has no value
INSTRUMENT_RANGE: dict[str, tuple[float, float] | None] = {
    "plan_access": (0.0, 1.0),
    "disclosure": (0.0, 1.0),
    "allocation_cap": (0.0, 1.0),
    "freeze": None,
    "vehicle": None,
    "unwind": (1.0, 36500.0),
    "rescue": (0.0, 1.0),
    "custody": None,
    "exchange_standards": (0.0, 1.0),
    "listing": (0.0, 1e15),
    "reporting": (0.0, 0.1),
    "leverage_cap": (1.0, 1000.0),
}


class AgencyConfig(Section):
    """One agency's pressure and rule-making lags (`Agency`, `model/agencies.py`)."""

    acts: bool = P(True, "-", "whether the agency writes rules at all", "treatment")
    pressure_decay: float = P(
        0.989,
        "per day",
        "rho: the DOL's and IRS's pressure averages their level signal, S_t = rho*S_(t-1) + "
        "(1-rho)*signal_t; the SEC's and CFTC's counts their events, S_t = rho*S_(t-1) + "
        "signal_t (model/agencies.py)",
        "as regulator.pressure_decay: a quarter's memory (quarterly benefit statements, ERISA "
        "section 105(a)(1)(A)(i), 29 U.S.C. 1025(a)(1)(A)(i))",
        ge=0,
        lt=1,
    )
    threshold: float = P(
        124.0,
        "bps",
        "pressure at which the agency's rung-1 rule is set in motion (rung k: k times this)",
        "the DOL's: as regulator.threshold (its signal is the same open loss, in bps of plan "
        "assets, set on CAR 2022-01); the others' in AGENCY_SOURCES",
        gt=0,
        le=1e15,
    )
    propose_days: int = P(
        236,
        "days",
        "from the decision to act to the notice of proposed rule-making",
        "[EO 14330] (7 Aug 2025) to the DOL's NPRM (31 Mar 2026) [DOL NPRM 2026]: 236 days",
        ge=0,
        le=36500,
    )
    comment_days: int = P(
        62,
        "days",
        "the public comment period",
        "DOL NPRM 31 Mar 2026 to comments due 1 Jun 2026 [DOL NPRM 2026]",
        ge=0,
        le=36500,
    )
    final_days: int = P(
        303,
        "days",
        "from the close of comments to the final rule, in force on publication",
        "median notice-and-comment rule: about 12 months from proposal to final "
        "[Yackee & Yackee 2012]: 365 - 62 days",
        ge=0,
        le=36500,
    )


# where an agency's default differs from the DOL's (the field's own source), its source
AGENCY_SOURCES = {
    "agencies.sec.propose_days": "stated assumption: no SEC deadline in [EO 14330]; set as the "
    "CFTC's [MoFo 2025]",
    "agencies.sec.threshold": "stated assumption: an FTX-sized loss (about 1% of the coins' "
    "cap, 100 bps) sets its first rule in motion",
    "agencies.irs.propose_days": "stated assumption: the 180-day deadline of [EO 14330]",
    "agencies.irs.threshold": "stated assumption: the IRS writes its rules when the order "
    "directs it, not under pressure",
    "agencies.cftc.propose_days": "CFTC 'crypto sprint' (4 Aug 2025) to the first leveraged "
    "spot product on a DCM (8 Dec 2025): about 4 months [MoFo 2025]",
    "agencies.cftc.threshold": "stated assumption: above the start-up burst of liquidations "
    "(traders' initial leverage, about 600 bps), so it reacts to defaults and later waves",
}


def _sec() -> AgencyConfig:
    return AgencyConfig(propose_days=120, threshold=100.0)


def _irs() -> AgencyConfig:
    return AgencyConfig(propose_days=180, threshold=1e6)


def _cftc() -> AgencyConfig:
    return AgencyConfig(propose_days=120, threshold=1000.0)


class RuleConfig(Section):
    """One rule: who writes it, with which instrument, and what starts it."""

    name: str = P("rule", "-", "the rule's name (for the records)", "label")
    agencies: list[str] = P(
        ["DOL"],
        "-",
        "agencies that must all finish their rule-making (the first leads and owns the instrument)",
        "[EO 14330] directs the DOL to act 'in coordination with' the SEC and Treasury",
        min_length=1,
    )
    instrument: str = P("disclosure", "-", "what the rule does (see INSTRUMENTS)", "treatment")
    value: float | None = P(None, "instrument's unit", "the instrument's setting", "treatment")
    trigger: Literal["order", "pressure"] = P(
        "pressure",
        "-",
        "'order': started on day 0 by the executive order; 'pressure': started when the "
        "lead agency's pressure reaches rung x its threshold",
        "treatment",
    )
    rung: int = P(
        1, "rung", "pressure level (in thresholds) that starts the rule", "treatment", ge=1, le=10
    )


def _default_rules() -> list[RuleConfig]:
    r = RuleConfig
    return [
        r(
            name="safe harbour",
            agencies=["DOL"],
            instrument="plan_access",
            value=1.0,
            trigger="order",
        ),
        r(name="plan custody", agencies=["SEC", "DOL"], instrument="custody", trigger="order"),
        r(name="reporting", agencies=["IRS"], instrument="reporting", value=0.001, trigger="order"),
        r(name="disclosure", agencies=["DOL"], instrument="disclosure", value=0.5, rung=1),
        r(name="allocation cap", agencies=["DOL"], instrument="allocation_cap", value=0.01, rung=2),
        r(name="inflow freeze", agencies=["DOL"], instrument="freeze", rung=3),
        r(name="forced unwind", agencies=["DOL"], instrument="unwind", value=90.0, rung=4),
        r(name="fiscal rescue", agencies=["DOL"], instrument="rescue", value=1.0, rung=5),
        r(
            name="exchange standards",
            agencies=["SEC"],
            instrument="exchange_standards",
            value=0.5,
            rung=1,
        ),
        r(name="listing standard", agencies=["SEC"], instrument="listing", value=1e11, rung=2),
        r(name="leverage cap", agencies=["CFTC"], instrument="leverage_cap", value=20.0, rung=1),
        r(name="margin rule", agencies=["CFTC"], instrument="leverage_cap", value=5.0, rung=2),
    ]


class AgenciesConfig(Section):
    """Four agencies that write rules with their own lags (`model/agencies.py`); when
    enabled they replace the single regulator."""

    enabled: bool = P(
        False,
        "-",
        "four agencies (DOL, SEC, IRS, CFTC) instead of the single regulator",
        "treatment; the single regulator is the simple scenario (the default)",
    )
    executive_order: bool = P(
        True,
        "-",
        "the run starts on the day of the executive order: rules with trigger 'order' start "
        "on day 0, and plans offer crypto only once a 'plan_access' rule is in force",
        "[EO 14330], 7 Aug 2025",
    )
    coordination: float = P(
        1.0,
        "fraction",
        "a joint rule takes effect max(lags of its agencies) / coordination days after it "
        "starts (1: perfect coordination)",
        "treatment: the 'coordination efficiency among multiple agencies' of [Dunleavy 2025]",
        gt=0,
        le=1,
    )
    lag_scale: float = P(
        1.0,
        "-",
        "factor on every agency's stage lags (propose, comment, final; rounded to days)",
        "treatment: faster (0.5) or slower (2) rule-making than the observed lags",
        gt=0,
        le=10,
    )
    backlash_breadth: float = P(
        1.0,
        "-",
        "the DOL's signal is savers' loss (bps of plan assets) x (1 + this x share of "
        "crypto-holding cohorts under water): backlash grows with how many are hit",
        "stated assumption: breadth can double the signal",
        ge=0,
        le=100,
    )
    dol: AgencyConfig = Field(default_factory=AgencyConfig)
    sec: AgencyConfig = Field(default_factory=_sec)
    irs: AgencyConfig = Field(default_factory=_irs)
    cftc: AgencyConfig = Field(default_factory=_cftc)
    rules: list[RuleConfig] = Field(default_factory=_default_rules)

    @model_validator(mode="after")
    def _check_rules(self) -> AgenciesConfig:
        for k, rule in enumerate(self.rules):
            where = f"agencies.rules.{k}"
            for a in rule.agencies:
                if a not in AGENCIES:
                    raise _field_error(
                        f"{where}.agencies",
                        rule.agencies,
                        f"agency names among {', '.join(AGENCIES)}",
                    )
            if len(set(rule.agencies)) != len(rule.agencies):
                raise _field_error(f"{where}.agencies", rule.agencies, "distinct agency names")
            lead = rule.agencies[0]
            if rule.instrument not in INSTRUMENTS[lead]:
                raise _field_error(
                    f"{where}.instrument",
                    rule.instrument,
                    f"one of {lead}'s instruments ({', '.join(INSTRUMENTS[lead])})",
                )
            bounds = INSTRUMENT_RANGE[rule.instrument]
            if bounds is None and rule.value is not None:
                raise _field_error(
                    f"{where}.value",
                    rule.value,
                    f"unset: instrument '{rule.instrument}' takes no value",
                )
            if bounds is not None and (
                rule.value is None or not bounds[0] <= rule.value <= bounds[1]
            ):
                raise _field_error(
                    f"{where}.value",
                    rule.value,
                    f"a number in [{bounds[0]:g}, {bounds[1]:g}] for "
                    f"instrument '{rule.instrument}'",
                )
        return self

    def agency(self, name: str) -> AgencyConfig:
        return getattr(self, name.lower())
