"""The books check of a finished run: every conserved quantity (cash, coins, plan dollars,
the stablecoin's supply and reserve) against its recorded boundary flows, within a stated
tolerance. A run whose books do not balance is a model bug: the CLI exits 1, a sweep records
the run as failed."""

from __future__ import annotations

from typing import Any

import numpy as np
from crypto401k.model.model import Crypto401kModel

# Relative tolerance of the books check at the end of a run. The property tests check every
# step at 1e-11 of the largest gross balance seen; a whole run's rounding stays far below
# 1e-9 of the end's gross balances, and a real leak (a dollar created or lost by a rule) is
# many orders of magnitude larger.
BOOKS_RTOL = 1e-9
BOOKS_ATOL_COINS = 1e-6  # coins: below any holding the model tracks


class BooksError(RuntimeError):
    """The run's books do not balance (a model bug, not a user's mistake)."""


def books_check(m: Crypto401kModel, rtol: float = BOOKS_RTOL) -> dict[str, Any]:
    """Every conserved quantity of `m` against its recorded boundary flows, with the
    tolerance each is held to and a verdict. `ok` is False if any error exceeds its
    tolerance or is not finite (NaN never passes). Errors in USD or coins."""
    b = m.books()
    led = m.ledger
    gross_cash = (
        np.abs(m.traders.cash).sum()
        + np.abs(m.institutions.cash).sum()
        + abs(m.outside_cash)
        + m.institutions.loans.sum()
        + led.to_market
        + led.from_market
        + 1.0
    )
    coins_err = np.asarray(b["coins"], float) - np.asarray(b["coins_expected"], float)
    plan_scale = abs(b["plan_dollars_expected"]) + led.payroll_in + led.to_market + 1.0
    checks: list[tuple[str, float, float]] = [
        ("cash_error_usd", b["cash"] - b["cash_expected"], rtol * gross_cash),
        (
            "plan_dollars_error_usd",
            b["plan_dollars"] - b["plan_dollars_expected"],
            rtol * plan_scale,
        ),
    ]
    coins_tol = rtol * np.abs(np.asarray(b["coins_expected"], float)) + BOOKS_ATOL_COINS
    if "stable_supply" in b:
        # the issuer: its supply is the coins held plus those lost in failed institutions
        # (still outstanding, never redeemed), and its reserve plus shortfall
        lost = float(led.lost_coins[m.stable_index])
        stol = rtol * abs(b["stable_supply"]) + BOOKS_ATOL_COINS
        checks += [
            (
                "stable_supply_vs_held_error",
                b["stable_supply"] - b["stable_coins_held"] - lost,
                stol,
            ),
            (
                "stable_supply_vs_reserve_error",
                b["stable_supply"] - b["stable_reserve_plus_shortfall"],
                stol,
            ),
        ]
    failed = [name for name, err, tol in checks if not abs(err) <= tol]  # NaN fails
    if not np.all(np.abs(coins_err) <= coins_tol):
        failed.append("coins_error")
    out: dict[str, Any] = {name: float(err) for name, err, _ in checks}
    out["coins_error"] = coins_err.tolist()
    out["tolerance"] = {name: float(tol) for name, _, tol in checks}
    out["tolerance"]["coins_error"] = coins_tol.tolist()
    out["rtol"] = rtol
    out["ok"] = not failed
    out["failed"] = failed
    return out


def books_line(books: dict[str, Any]) -> str:
    """The books check as one line of the printed summary."""
    if books["ok"]:
        return f"balanced (every error within {books['rtol']:g} of its gross balance)"
    parts = []
    for name in books["failed"]:
        err, tol = books[name], books["tolerance"][name]
        if isinstance(err, list):
            k = int(np.nanargmax(np.abs(err))) if np.isfinite(err).any() else 0
            err, tol = err[k], tol[k]
        parts.append(f"{name} = {err:.6g} (tolerance {tol:.3g})")
    return "DO NOT BALANCE: " + "; ".join(parts)
