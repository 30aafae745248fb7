"""A dollar stablecoin: a peg held by a reserve, and the run that follows doubt about it.

The issuer owes $1 for each coin outstanding (`supply`). Against it it holds a reserve of
cash and short bills (`safe`) and, in an algorithmic design, its own volatile token (`risky`,
marked at market). Each day:

1. a scheduled shock freezes or destroys `shock_reserve_loss` of the reserve (USDC's $3.3B
   at SVB, March 2023); a backstop makes a frozen loss good `backstop_days` later, or never;
2. coverage = reserve / supply. While the hole 1 - coverage is at most `depeg_threshold`,
   the coin trades at $1. Beyond it the peg breaks: the coin trades at what a holder can
   expect to recover, coverage * (1 - `panic_discount`), and a run starts: `run_rate` of
   the supply held by those who can redeem (the outside market: issuers redeem only for
   large verified clients) is presented each day and paid at par, first from the safe
   reserve, then by selling the risky reserve, whose price falls with the sale (UST/LUNA);
3. paying par out of a reserve below par lowers coverage for those left, so a run ends only
   when the reserve is made good (coverage back within the threshold: the peg returns).

Identity kept to the cent: supply = reserve + shortfall, where `shortfall` is the recorded
sum of reserve losses net of what was made good. Redeemed coins leave the market's books
(they are burned) and the dollars paid enter them; `Ledger` records both.
"""

from __future__ import annotations

import numpy as np
from crypto401k.model.config import StablecoinConfig


class Stablecoin:
    """State of one stablecoin issuer: supply, reserve (safe and risky), peg and run."""

    def __init__(self, cfg: StablecoinConfig, supply: float) -> None:
        self.cfg = cfg
        self.supply = float(supply)  # coins outstanding (USD owed at par)
        reserve = cfg.reserve_ratio * self.supply
        self.risky = cfg.reserve_risky_share * reserve  # USD, marked at market
        self.safe = reserve - self.risky  # USD: cash and short bills
        self.frozen = 0.0  # USD of reserve frozen by a shock, awaiting a backstop
        self.shortfall = self.supply - reserve  # USD: supply - reserve, as recorded
        self.broken = False
        self.price = 1.0
        self.redeemed = 0.0  # coins redeemed (burned), cumulative
        self.days_broken = 0  # days off peg, cumulative
        self._backstop_day: int | None = None

    @property
    def reserve(self) -> float:
        """USD the issuer can pay with (frozen reserve excluded)."""
        return self.safe + self.risky

    @property
    def coverage(self) -> float:
        """Reserve per coin outstanding (1 = fully backed)."""
        return self.reserve / self.supply if self.supply > 0 else 1.0

    def shock(self, day: int, loss: float) -> None:
        """Freeze (or lose, without a backstop) `loss` of the reserve, safe and risky alike."""
        hit_safe, hit_risky = loss * self.safe, loss * self.risky
        self.safe -= hit_safe
        self.risky -= hit_risky
        self.frozen += hit_safe + hit_risky
        self.shortfall += hit_safe + hit_risky
        if self.cfg.backstop_days is not None:
            self._backstop_day = day + self.cfg.backstop_days

    def step(self, day: int, outside_coins: float) -> tuple[float, float]:
        """One day of peg and run; returns (coins redeemed from the outside market, USD paid)."""
        c = self.cfg
        if self._backstop_day is not None and day >= self._backstop_day:
            self.safe += self.frozen  # made good: the frozen reserve is released
            self.shortfall -= self.frozen
            self.frozen = 0.0
            self._backstop_day = None
        self.broken = 1.0 - self.coverage > c.depeg_threshold
        coins = paid = 0.0
        if self.broken:
            coins = min(c.run_rate * self.supply, max(outside_coins, 0.0))
            paid = self._redeem(coins)
            if paid < coins:  # the reserve ran dry: the rest is not redeemed
                coins = paid
            self.days_broken += 1
        self.broken = 1.0 - self.coverage > c.depeg_threshold
        self.price = 1.0 if not self.broken else max(self.coverage, 0.0) * (1.0 - c.panic_discount)
        return coins, paid

    def _redeem(self, coins: float) -> float:
        """Pay `coins` dollars at par (safe reserve first, then risky sold at a falling
        price); burn what is paid. Returns USD paid."""
        from_safe = min(coins, self.safe)
        self.safe -= from_safe
        need = coins - from_safe
        from_risky = 0.0
        if need > 0 and self.risky > 0:
            from_risky = min(need, self.risky)
            # selling a share x of the risky reserve cuts the price of the rest by exp(-k x)
            sold_share = from_risky / self.risky
            rest = (self.risky - from_risky) * np.exp(-self.cfg.risky_impact * sold_share)
            self.shortfall += self.risky - from_risky - rest  # mark-down of what is left
            self.risky = rest
        paid = from_safe + from_risky
        self.supply -= paid
        self.redeemed += paid
        return paid
