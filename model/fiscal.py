"""The public purse's side of 401(k) accounts: income tax on contributions and withdrawals,
by year and in present value (issue 9's ledger; pure functions, not yet wired into the model).

Each contribution is split between a traditional (pre-tax) and a Roth account by the
cohort's Roth share:

- traditional: the contribution is deducted, so no tax is collected on it now (the tax at the
  cohort's marginal rate is *forgone*); the balance, with whatever it earned, is taxed as
  ordinary income when it is withdrawn, at the retirement rate;
- Roth: the contribution is taxed now at the marginal rate; qualified withdrawals are
  tax-free, so nothing the balance earns (crypto gains included) is ever taxed.

Revenue here is what the Treasury collects from these two channels, dated by year from the
start of the run; crypto changes it only through the traditional balances it makes larger or
smaller. Retirements lie decades beyond a ten-year market run, so a balance still in the plan
at the run's end is projected forward on stated assumptions: it grows at the plan's return
until the cohort retires and is then withdrawn in equal real payments over `payout_years`.

Units: USD, years, rates per year. Shapes: one value per cohort, (cohorts,).
"""

from __future__ import annotations

import numpy as np


def discount_factors(years: np.ndarray, rate: float) -> np.ndarray:
    """1 / (1 + rate)^years, elementwise (years may be fractional)."""
    return (1.0 + rate) ** -np.asarray(years, dtype=float)


def contribution_tax(
    contribution: np.ndarray, roth_share: np.ndarray, tax_rate: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(tax collected now on the Roth part, tax forgone now on the traditional part), USD,
    each of shape (cohorts,)."""
    c = np.asarray(contribution, dtype=float)
    roth = np.asarray(roth_share, dtype=float)
    rate = np.asarray(tax_rate, dtype=float)
    return rate * roth * c, rate * (1.0 - roth) * c


def withdrawal_tax(balance: np.ndarray, roth_share: np.ndarray, tax_rate: np.ndarray) -> np.ndarray:
    """Tax collected when `balance` is withdrawn: its traditional part at `tax_rate`, USD."""
    b = np.asarray(balance, dtype=float)
    return np.asarray(tax_rate, dtype=float) * (1.0 - np.asarray(roth_share, dtype=float)) * b


def projected_withdrawal_tax_pv(
    balance: np.ndarray,
    roth_share: np.ndarray,
    years_to_retirement: np.ndarray,
    *,
    growth: float,
    tax_rate: np.ndarray,
    discount: float,
    payout_years: int,
    now: float = 0.0,
) -> np.ndarray:
    """Present value at year 0 of the tax on balances still in the plan at year `now`.

    Each balance grows at `growth` for `years_to_retirement` years, then is paid out in
    `payout_years` equal annual withdrawals at the start of each year, the remainder growing
    at `growth` meanwhile; each withdrawal's traditional part is taxed at `tax_rate`.
    Shape (cohorts,).
    """
    if payout_years < 1:
        raise ValueError(f"payout_years = {payout_years}: must be at least 1")
    b = np.asarray(balance, dtype=float)
    t = np.maximum(np.asarray(years_to_retirement, dtype=float), 0.0)
    at_retirement = b * (1.0 + growth) ** t
    k = np.arange(payout_years, dtype=float)
    # equal payments P at years 0..n-1 after retirement exhaust the balance at `growth`:
    # P * sum_k (1 + g)^-k = balance
    payment = at_retirement / discount_factors(k, growth).sum()
    pv_payments = payment * discount_factors(k, discount).sum()
    pv = pv_payments * discount_factors(now + t, discount)
    return withdrawal_tax(pv, roth_share, tax_rate)


def revenue_pv(revenue_by_year: np.ndarray, discount: float) -> float:
    """Present value at year 0 of revenue dated at years 0, 1, 2, ... (USD)."""
    r = np.asarray(revenue_by_year, dtype=float)
    return float(r @ discount_factors(np.arange(len(r)), discount))
