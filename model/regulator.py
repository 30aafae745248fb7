"""The regulator: watches retirement losses and acts, late, up an escalating ladder.

Its signal is the day's mark-to-market loss of savers' crypto, in basis points of all 401(k)
assets. Through its `PolicyLadder` it escalates: warning -> allocation cap -> freeze of
inflows -> forced unwind (itself a fire sale) -> fiscal rescue (off by default:
`max_level` 4), and relaxes only with hysteresis. Optional
market tools: a circuit breaker (applied by the market every day when set) and a leverage
cap from the allocation-cap rung on.

Real analogue: the DOL's "extreme care" release (March 2022) came months after the late-2021
peak.
"""

from __future__ import annotations

import math

import mesa
from crypto401k.model.config import RegulatorConfig
from crypto401k.model.policy import (
    CAP,
    FREEZE,
    RESCUE,
    RUNG_NAMES,
    UNWIND,
    WARNING,
    PolicyEffects,
    PolicyLadder,
)


class Regulator(mesa.Agent):
    """The single regulator of the core scenario (not a node of the market graph)."""

    def __init__(self, model: mesa.Model, cfg: RegulatorConfig) -> None:
        super().__init__(model)
        self.cfg = cfg
        self.ladder = PolicyLadder(
            threshold=cfg.threshold,
            decay=cfg.pressure_decay,
            weight=cfg.loss_weight,
            lag_days=cfg.lag_days,
            relax_fraction=cfg.relax_fraction,
            relax_days=cfg.relax_days,
            max_level=cfg.max_level if cfg.enabled else 0,
        )
        self.effects = PolicyEffects.none()

    @property
    def pressure(self) -> float:
        return self.ladder.pressure

    @property
    def level(self) -> int:
        return self.ladder.level

    @property
    def action(self) -> str:
        return RUNG_NAMES[self.ladder.level]

    def observe(self, day: int, loss_bps: float) -> PolicyEffects:
        """Take the day's loss signal (bps of 401(k) assets) and set today's effects."""
        level = self.ladder.update(day, loss_bps)
        self.effects = effects_of(level, self.cfg)
        return self.effects


def effects_of(level: int, cfg: RegulatorConfig) -> PolicyEffects:
    """The effects of rung `level` (each rung keeps the lower rungs' effects)."""
    if level <= 0:
        return PolicyEffects.none()
    return PolicyEffects(
        allocation_factor=cfg.warning_effect if level >= WARNING else 1.0,
        allocation_cap=cfg.cap_allocation if level >= CAP else 1.0,
        freeze=level >= FREEZE,
        unwind_rate=1.0 / cfg.unwind_days if level >= UNWIND else 0.0,
        leverage_cap=(
            cfg.leverage_cap if (cfg.leverage_cap is not None and level >= CAP) else math.inf
        ),
        rescue_share=cfg.rescue_share if level >= RESCUE else 0.0,
    )
