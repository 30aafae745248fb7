"""The government's ledger's section: taxes, discounting, the rescue."""

from __future__ import annotations

from typing import Literal

from crypto401k.model.config.base import P, Section


class FiscalConfig(Section):
    """The government's ledger of 401(k) income tax (`model/fiscal.py`)."""

    roth_share: float = P(
        0.18,
        "fraction",
        "share of each cohort's contributions and balance in Roth accounts (taxed now, "
        "withdrawn tax-free); the rest is traditional (deducted now, taxed at withdrawal)",
        "Roth take-up 15-22% of participants ([PSCA 2024]: 22%; [Vanguard 2018]: 12-13% in "
        "2016-17)",
        ge=0,
        le=1,
    )
    tax_rate: float = P(
        0.22,
        "fraction",
        "marginal income-tax rate of a cohort below the top pay decile",
        "median participant's income $89,000 [Vanguard HAS 2025]: the 22% bracket "
        "[IRS Rev. Proc. 2024-40]",
        ge=0,
        le=1,
    )
    tax_rate_top: float = P(
        0.32,
        "fraction",
        "marginal rate of the cohorts in the top decile of pay",
        "32-37% for the top decile [IRS Rev. Proc. 2024-40]; the lower end",
        ge=0,
        le=1,
    )
    retirement_tax_factor: float = P(
        1.0,
        "-",
        "rate on traditional withdrawals = this x the cohort's working marginal rate",
        "stated assumption: the same bracket in retirement (the textbook case); lower it to "
        "study retirees in lower brackets",
        ge=0,
        le=3,
    )
    discount_rate: float = P(
        0.04,
        "1/year",
        "rate at which the ledger discounts revenue to day 0 (present value)",
        "stated assumption: about the 10-year Treasury yield of 2025 (nominal, as the plan's "
        "return); the fiscal experiment also reports 0.02 and the plan's own return",
        ge=-0.5,
        le=0.5,
    )
    payout_years: int = P(
        20,
        "years",
        "a retiring cohort draws its balance down in equal yearly withdrawals over this many "
        "years (the tax projection)",
        "stated assumption: life expectancy at 65 is about 20 years [SSA life table]",
        ge=1,
        le=60,
    )
    rescue_mode: Literal["compensate", "buy"] = P(
        "compensate",
        "-",
        "a rescue pays savers' losses into their plans ('compensate') or buys coins in the "
        "market over rescue_days ('buy'; the Treasury keeps them, valued at the run's end)",
        "policy treatment (TARP bought assets [CRS R41427]; the SVB backstop made depositors "
        "whole [CRS IF12378])",
    )
    rescue_days: int = P(
        30,
        "days",
        "a 'buy' rescue spreads its purchases over this many days",
        "stated assumption",
        ge=1,
        le=3650,
    )
