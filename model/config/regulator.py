"""The single regulator's section: pressure, lag and the ladder of rungs."""

from __future__ import annotations

from crypto401k.model.config.base import P, Section


class RegulatorConfig(Section):
    """The regulator's pressure, lag and action ladder (`Regulator`, `model/policy.py`)."""

    enabled: bool = P(True, "-", "whether the regulator acts", "treatment")
    pressure_decay: float = P(
        0.989,
        "per day",
        "rho in S_t = rho*S_(t-1) + (1-rho)*kappa*loss_t: pressure is an exponential average "
        "of savers' open loss, time constant 1/(1-rho) days (about 91)",
        "participants see their losses on quarterly benefit statements: ERISA section "
        "105(a)(1)(A)(i), 29 U.S.C. 1025(a)(1)(A)(i), as amended by the Pension Protection Act "
        "of 2006 (Pub. L. 109-280, section 508): a statement at least once each calendar "
        "quarter to participants who direct their investments; so a quarter's average",
        ge=0,
        lt=1,
    )
    loss_weight: float = P(
        1.0,
        "pressure per bp",
        "kappa: pressure per basis point of 401(k) plan assets that savers have lost against "
        "cost (the pressure's steady state under a constant loss x is kappa*x)",
        "normalisation: pressure is in bps of plan assets",
        ge=0,
        le=1000,
    )
    threshold: float = P(
        124.0,
        "bps of plan assets",
        "pressure (averaged open loss) at which the first action (warning) is set in motion; "
        "rung k needs k times this",
        "the DOL's Compliance Assistance Release 2022-01 [DOL CAR 2022-01] ('extreme care', "
        "10 Mar 2022; EBSA "
        "text in BenefitsLink Retirement Plans Newsletter, 10 Mar 2022, https://benefitslink."
        "com/newsletters/2022/2022_03_10_retirement_bulletin.html) as the warning rung: the "
        "pressure, lag_days before it, of a plan with 5% of balances in Bitcoin (ForUsAll's "
        "cap: Congressional Research Service, 'Cryptocurrency in 401(k) Retirement Plans', "
        "IF12153, 1 Jul 2022) through Bitcoin's fall from its $69,000 peak of 10 Nov 2021 "
        "(reported prices in model/regulator.py CAR_2022_01; docs/ODD.md, 'Regulator')",
        gt=0,
        le=1e15,
    )
    lag_days: int = P(
        30,
        "days",
        "days between the decision to act and the action taking effect",
        "stated assumption: about a month to draft and clear a release like CAR 2022-01, "
        "sub-regulatory guidance issued without notice and comment ('Industry Groups "
        "Push Back: Why the DOL Should Partner with Stakeholders to Revise Its "
        "Cryptocurrency Guidance', LexBlog, 1 May 2022, https://www.lexblog.com/2022/05/01/"
        "industry-groups-push-back-why-the-dol-should-partner-with-stakeholders-to-revise-"
        "its-cryptocurrency-guidance/); rules take longer (the agencies scenario)",
        ge=0,
        le=365_000,
    )
    relax_fraction: float = P(
        0.5,
        "fraction",
        "a rung is relaxed when pressure stays below this share of its threshold",
        "hysteresis; stated assumption",
        ge=0,
        le=1,
    )
    relax_days: int = P(
        180,
        "days",
        "days pressure must stay low before relaxing a rung",
        "regulation loosens slowly [Dagher 2018]",
        ge=1,
        le=365_000,
    )
    warning_effect: float = P(
        0.5,
        "fraction",
        "share of new crypto contributions that continue after a warning",
        "stated assumption",
        ge=0,
        le=1,
    )
    cap_allocation: float = P(
        0.01, "fraction", "allocation cap imposed at rung 2", "assumed: e.g. 5% -> 1%", ge=0, le=1
    )
    rescue_share: float = P(
        1.0,
        "fraction",
        "at rung 5 the Treasury makes good this share of savers' losses (fiscal.rescue_mode)",
        "SVB 2023: uninsured deposits made whole [CRS IF12378]",
        ge=0,
        le=1,
    )
    unwind_days: int = P(
        90,
        "days",
        "forced unwind sells savers' crypto over this many days",
        "stated assumption",
        ge=1,
        le=365_000,
    )
    max_level: int = P(
        4,
        "rung",
        "highest rung the regulator may reach (1 warning, 2 cap, 3 freeze, 4 forced unwind, "
        "5 fiscal rescue)",
        "treatment; the rescue is off by default (the core's results predate it)",
        ge=0,
        le=5,
    )
    circuit_breaker: float | None = P(
        None,
        "log return",
        "halt: the day's price move is capped at this size and orders "
        "scaled to fit (None: no breaker)",
        "optional market tool [Westerhoff 2008]; bounded by 5 (a day's move of 150x)",
        gt=0,
        le=5,
    )
    leverage_cap: float | None = P(
        None,
        "x",
        "from rung 2 on, traders' and funds' leverage is capped here (None: no cap)",
        "optional market tool; bounded by 250x, the largest exchange leverage on offer",
        ge=1,
        le=250,
    )
