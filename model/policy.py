"""A policy ladder: political pressure, a lag, escalating rungs, and hysteresis.

The regulator of the core owns one ladder (the simple scenario); the four agencies
(`model/agencies.py`) keep the same pressure law for their level signals but write rules
through staged rule-making. The ladder knows nothing about markets: it turns a daily signal
into a rung number.

    S_t = rho * S_(t-1) + (1 - rho) * kappa * signal_t

The pressure is an exponential average of the signal (time constant 1/(1 - rho) days), not a
sum: under a constant signal x it settles at kappa * x, whatever rho is, so a threshold on
the pressure is a threshold on the signal's level, held for a while. A sum (S = rho * S +
signal, the law before issue 17) settles at x / (1 - rho): a small daily signal that never
nets out, such as gross daily losses, then climbs over any threshold in a calm market.

Rung k (1..max_level) is set in motion when S_t >= k * threshold and no action is pending;
it takes effect `lag_days` later, whatever the pressure is then (rules arrive after the
damage). A rung is relaxed one step when the pressure has stayed below
`relax_fraction * level * threshold` for `relax_days` consecutive days (hysteresis: it relaxes
much later than it tightens; Dagher 2018).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

WARNING, CAP, FREEZE, UNWIND, RESCUE = 1, 2, 3, 4, 5
RUNG_NAMES = {
    0: "none",
    WARNING: "warning",
    CAP: "allocation cap",
    FREEZE: "inflow freeze",
    UNWIND: "forced unwind",
    RESCUE: "fiscal rescue",
}


def average(pressure: float, signal: float, decay: float) -> float:
    """One day of the exponential average: decay * pressure + (1 - decay) * signal (same unit
    as the signal; its steady state under a constant signal is that signal)."""
    return decay * pressure + (1.0 - decay) * signal


@dataclass
class PolicyLadder:
    threshold: float
    decay: float
    weight: float
    lag_days: int
    relax_fraction: float
    relax_days: int
    max_level: int
    pressure: float = 0.0
    level: int = 0
    pending_level: int | None = None
    pending_due: int | None = None
    low_days: int = 0
    history: list[tuple[int, int]] = field(default_factory=list)  # (day, new level)

    def update(self, day: int, signal: float) -> int:
        """Advance one day with today's signal; return the rung in force."""
        self.pressure = average(self.pressure, self.weight * signal, self.decay)
        idle = self.pending_level is None and self.level < self.max_level
        if idle and self.pressure >= (self.level + 1) * self.threshold:
            self.pending_level = self.level + 1
            self.pending_due = day + self.lag_days
        if self.pending_level is not None:
            if day >= self.pending_due:
                self.level = self.pending_level
                self.pending_level = self.pending_due = None
                self.low_days = 0
                self.history.append((day, self.level))
        elif self.level > 0:
            if self.pressure < self.relax_fraction * self.level * self.threshold:
                self.low_days += 1
                if self.low_days >= self.relax_days:
                    self.level -= 1
                    self.low_days = 0
                    self.history.append((day, self.level))
            else:
                self.low_days = 0
        return self.level


@dataclass(frozen=True)
class PolicyEffects:
    """What the rung in force does to the market's participants."""

    allocation_factor: float = 1.0  # share of new crypto contributions that continue
    allocation_cap: float = 1.0  # upper bound on allocation and target-date weight
    freeze: bool = False  # no new money into crypto
    unwind_rate: float = 0.0  # share of savers' crypto sold per day (forced unwind)
    leverage_cap: float = math.inf  # traders' and funds' leverage bound
    rescue_share: float = 0.0  # share of savers' losses the Treasury makes good (once)

    @classmethod
    def none(cls) -> PolicyEffects:
        return cls()
