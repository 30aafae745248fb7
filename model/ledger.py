"""The books of every dollar and coin that crosses the crypto market's boundary.

Inside the market every trade has two sides, so cash and coins only move between accounts.
These flows cross the boundary and are recorded here, so that conservation can be checked to
the cent at any time:

    sum(cash in all market accounts)  = initial + to_market - from_market - lost_cash
                                        + redeemed_usd
    sum(coins in all market accounts) = initial - lost_coins - redeemed_coins
    savers' plan dollars              = initial + payroll_in + other_return
                                        - to_market + from_market - withdrawals_out
                                        - fees_out + rescue_in
    (with a rescue that buys coins, the Treasury's coins count among the market's and
    `rescue_to_market` among its cash flows in)

`lost_cash`/`lost_coins` are what a failed institution loses to fraud or theft (a shock).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass
class Ledger:
    payroll_in: float = 0.0  # USD contributed by payroll (all of it, crypto or not)
    other_return: float = 0.0  # USD earned by the plans' non-crypto assets
    withdrawals_out: float = 0.0  # USD withdrawn by retiring cohorts
    fees_out: float = 0.0  # USD of plan assets paid in reporting costs (an IRS rule)
    rescue_in: float = 0.0  # USD paid into plans by a rescue that compensates losses
    rescue_to_market: float = 0.0  # USD a rescue that buys coins brings into the market
    to_market: float = 0.0  # USD moved from plans into the crypto market to buy
    from_market: float = 0.0  # USD moved from the crypto market back into plans
    lost_cash: float = 0.0  # USD lost in institution failures
    lost_coins: np.ndarray | None = None  # coins lost in institution failures, per asset
    redeemed_usd: float = 0.0  # USD paid by a stablecoin issuer for redeemed coins
    redeemed_coins: np.ndarray | None = None  # coins redeemed (burned), per asset

    def as_dict(self) -> dict[str, float | list[float]]:
        d = asdict(self)
        for key in ("lost_coins", "redeemed_coins"):
            value = getattr(self, key)
            d[key] = [] if value is None else value.tolist()
        return d
