"""The public purse's side of 401(k) accounts: income tax on contributions and withdrawals,
by year and in present value: pure functions, and the `FiscalLedger` the model feeds daily.

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

from collections.abc import Iterator
from itertools import groupby
from typing import Any

import numpy as np
from crypto401k.model.config import FiscalConfig
from crypto401k.model.kernels import VALUE, _pairwise, compiled


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


def present_value(amounts: np.ndarray, years: np.ndarray, rate: float) -> float:
    """Present value at year 0 of `amounts` (USD) dated at `years`: numpy's (pairwise) sum of
    `amounts * discount_factors(years, rate)`, the same bits on any number of cores.

    Not `amounts @ discount_factors(...)`: numpy hands the product to OpenBLAS, whose dot
    product splits a vector of more than 10,000 values among its threads and adds their
    parts, so its last bits depend on how many threads OpenBLAS may start (the machine's
    cores, or 1 under `OMP_NUM_THREADS=1`, which Dask's workers and cluster jobs set); a
    run's projected payouts are about 40,000 values (2,000 cohorts x 20 years)."""
    return float(np.sum(np.asarray(amounts, dtype=float) * discount_factors(years, rate)))


def revenue_pv(revenue_by_year: np.ndarray, discount: float) -> float:
    """Present value at year 0 of revenue dated at years 0, 1, 2, ... (USD)."""
    return present_value(revenue_by_year, np.arange(len(revenue_by_year)), discount)


def payout(balance: np.ndarray, growth: float, payout_years: int) -> np.ndarray:
    """Equal yearly withdrawals (first one at once) that exhaust `balance` in `payout_years`
    years while the remainder earns `growth`, USD per year, shape of `balance`."""
    return (
        np.asarray(balance, dtype=float) / discount_factors(np.arange(payout_years), growth).sum()
    )


class FiscalLedger:
    """The Treasury's income tax on 401(k) accounts, with crypto and without it.

    Fed by the model each day: contributions (the Roth part is taxed at once, the
    traditional part's tax is forgone), withdrawals of retiring cohorts (taxed as they are
    paid out over `payout_years`) and rescue spending. A shadow balance per cohort follows
    the same contributions and retirements with no crypto, all at the plan's return: the
    same path without the crypto option. `summary` projects the balances still in the plans
    forward (growth at the plan's return to retirement, then the payouts) and gives present
    values at any discount rate.

    Time: day d is t = (d + 1) / 365 years from the start (its end; cohorts' ages advance
    the same way). Every cash flow is kept with its exact time, so present values are exact.
    """

    KEYS = ("roth", "withdrawal", "withdrawal_without", "rescue", "forgone")

    def __init__(
        self,
        cfg: FiscalConfig,
        pay: np.ndarray,
        balance0: np.ndarray,
        growth: float,
        retirement_age: float,
    ) -> None:
        self.cfg = cfg
        n = len(pay)
        top = pay >= np.quantile(pay, 0.9) if n else np.zeros(0, dtype=bool)
        self.roth = np.full(n, cfg.roth_share)
        self.rate = np.where(top, cfg.tax_rate_top, cfg.tax_rate)  # working marginal rate
        self.retirement_rate = self.rate * cfg.retirement_tax_factor
        self.shadow = np.asarray(balance0, dtype=float).copy()  # USD, no-crypto path
        self.growth = growth
        self.retirement_age = retirement_age
        # each stream's flows as booked: (times, USD) arrays, or two floats for one flow
        self._flows: dict[str, list[tuple[Any, Any]]] = {k: [] for k in self.KEYS}
        self._payout_years = np.arange(cfg.payout_years, dtype=float)  # years after retiring
        # `payout`'s divisor: the same for every payout
        self._annuity = discount_factors(self._payout_years, growth).sum()

    @staticmethod
    def time(day: int) -> float:
        return (day + 1) / 365.0

    def _add(self, key: str, t: np.ndarray | float, amount: np.ndarray | float) -> None:
        if isinstance(t, float | int) and isinstance(amount, float | int):  # one flow
            # kept as two floats; `entries` makes them the arrays every reader sees
            self._flows[key].append((float(t), float(amount)))
            return
        t = np.atleast_1d(np.asarray(t, dtype=float))
        amount = np.broadcast_to(np.asarray(amount, dtype=float), t.shape).copy()
        self._flows[key].append((t, amount))

    def entries(self, key: str) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The stream `key` as (times in years, USD) array pairs, in the order booked."""
        for t, a in self._flows[key]:
            if type(t) is float:  # one flow, stored as floats (`_add`)
                yield np.array([t]), np.array([a])
            else:
                yield t, a

    # ---- the day's events ------------------------------------------------------------
    def grow(self, daily_growth: float) -> None:
        self.shadow += self.shadow * daily_growth  # the same operation as the plans' `other`

    def contribute(self, day: int, contribution: np.ndarray) -> None:
        """Payroll contributions of the day, USD per cohort (crypto part included)."""
        paid, roth_tax, forgone = _contribute(self.shadow, contribution, self.roth, self.rate)
        if paid:
            t = self.time(day)
            self._add("roth", t, roth_tax)
            self._add("forgone", t, forgone)

    def withdraw(self, day: int, rows: np.ndarray, balance: np.ndarray) -> None:
        """Cohorts `rows` retire today with `balance` (USD); their shadows retire too."""
        if not len(rows):
            return
        for key, b in (("withdrawal", balance), ("withdrawal_without", self.shadow[rows])):
            self._payouts(key, self.time(day), rows, b)
        self.shadow[rows] = 0.0

    def spend(self, day: int, usd: float) -> None:
        """Rescue spending (negative: proceeds of selling what a rescue bought)."""
        self._add("rescue", self.time(day), usd)

    def _payouts(self, key: str, t: np.ndarray | float, rows: np.ndarray, b: np.ndarray) -> None:
        """Book the tax on `payout`s of balances `b` (USD) of cohorts `rows` retiring at
        year(s) `t`: each row's `payout_years` yearly withdrawals, in row order. `payout`'s
        divisor is computed once (`_annuity`) and the arrays appended directly: a retirement
        day costs ~15 us instead of ~34 us, with the same operations, so the same bits."""
        years = self._payout_years
        tax = withdrawal_tax(b / self._annuity, self.roth[rows], self.retirement_rate[rows])
        start = np.full(tax.shape, float(t)) if np.ndim(t) == 0 else np.asarray(t, dtype=float)
        self._flows[key].append((np.add.outer(start, years).ravel(), tax.repeat(years.size)))

    # ---- results ---------------------------------------------------------------------
    def projected(self, day: int, balance: np.ndarray, age: np.ndarray) -> FiscalLedger:
        """A copy with the balances still in the plans at the end of `day` paid out: grown
        at the plan's return until each cohort retires, then withdrawn."""
        out = FiscalLedger.__new__(FiscalLedger)
        out.__dict__.update(self.__dict__)
        out._flows = {k: list(v) for k, v in self._flows.items()}
        rows = np.arange(len(balance))
        years = np.maximum(self.retirement_age - np.asarray(age, dtype=float), 0.0)
        grow = (1.0 + self.growth) ** years
        t = self.time(day) + years
        out._payouts("withdrawal", t, rows, np.asarray(balance, dtype=float) * grow)
        out._payouts("withdrawal_without", t, rows, self.shadow * grow)
        return out

    def pv(self, key: str, discount: float) -> float:
        """Present value at day 0 of one stream of cash flows (USD): each booked entry's
        `present_value(amounts, times, discount)`, added in the order booked.

        A run books hundreds of one-flow entries (a payday's contributions); each run of
        them is discounted in one array operation, each value the same product as its
        one-element `present_value`, and the values still added one by one in order, so
        the sum is the same to the last bit (`tests/test_fiscal_ledger.py`), ~10x faster."""
        total = 0.0
        for one_flow, group in groupby(self._flows[key], key=lambda f: type(f[0]) is float):
            if one_flow:
                times, amounts = np.array(list(group)).T
                for value in (amounts * discount_factors(times, discount)).tolist():
                    total += value
            else:
                for t, a in group:
                    total += present_value(a, t, discount)
        return float(total)

    def by_year(self, key: str, years: int) -> np.ndarray:
        """The stream summed by year from the start (year k: k <= t < k + 1), USD."""
        out = np.zeros(years)
        for t, a in self.entries(key):
            np.add.at(out, np.minimum(t.astype(int), years - 1), a)
        return out

    def summary(self, discount: float) -> dict[str, float]:
        """Present values (USD at day 0) of revenue with and without crypto, and the rest."""
        pv = {k: self.pv(k, discount) for k in self.KEYS}
        with_crypto = pv["roth"] + pv["withdrawal"] - pv["rescue"]
        without = pv["roth"] + pv["withdrawal_without"]
        return {
            "revenue_pv": with_crypto,
            "revenue_pv_without_crypto": without,
            "crypto_effect_pv": with_crypto - without,
            "rescue_cost_pv": pv["rescue"],
            "roth_tax_pv": pv["roth"],
            "withdrawal_tax_pv": pv["withdrawal"],
            "tax_forgone_pv": pv["forgone"],
        }


@compiled
def _contribute(
    shadow: np.ndarray, contribution: np.ndarray, roth: np.ndarray, rate: np.ndarray
) -> tuple[bool, float, float]:  # pragma: no cover - compiled
    """`contribute` in one pass: the shadow balances grow by the contributions (in place);
    whether any was paid, and the sums of `contribution_tax`'s two parts (numpy's pairwise
    sums of `rate * roth * c` and `rate * (1 - roth) * c`)."""
    n = contribution.shape[0]
    paid = False
    roth_tax = np.empty(n)
    forgone = np.empty(n)
    for i in range(n):
        c = contribution[i]
        shadow[i] = shadow[i] + c
        paid = paid or c != 0.0  # numpy's any(): NaN counts
        roth_tax[i] = rate[i] * roth[i] * c
        forgone[i] = rate[i] * (1.0 - roth[i]) * c
    if not paid:
        return False, 0.0, 0.0
    return True, 0.0 + _pairwise(roth_tax, VALUE), 0.0 + _pairwise(forgone, VALUE)
