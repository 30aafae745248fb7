"""The policy ladder and the regulator's effects."""

import math

from crypto401k.model.config import RegulatorConfig
from crypto401k.model.policy import CAP, FREEZE, UNWIND, WARNING, PolicyLadder
from crypto401k.model.regulator import effects_of


def _ladder(**kw):
    args = dict(
        threshold=10.0,
        decay=0.9,
        weight=1.0,
        lag_days=5,
        relax_fraction=0.5,
        relax_days=3,
        max_level=4,
    )
    args.update(kw)
    return PolicyLadder(**args)


def test_pressure_accumulates_and_decays():
    ladder = _ladder()
    ladder.update(0, 10.0)
    ladder.update(1, 0.0)
    assert math.isclose(ladder.pressure, 9.0)


def test_action_takes_effect_only_after_the_lag():
    ladder = _ladder(decay=0.999)
    levels = [ladder.update(day, 12.0 if day == 0 else 0.0) for day in range(10)]
    assert levels[:5] == [0] * 5
    assert levels[5:] == [WARNING] * 5
    assert ladder.history == [(5, WARNING)]


def test_escalation_one_rung_per_lag_up_to_the_top():
    ladder = _ladder(decay=1.0 - 1e-9, lag_days=2)
    ladder.update(0, 100.0)  # pressure far above every rung
    levels = [ladder.update(day, 0.0) for day in range(1, 12)]
    assert max(levels) == UNWIND
    assert [lv for _, lv in ladder.history] == [WARNING, CAP, FREEZE, UNWIND]


def test_max_level_bounds_the_ladder():
    ladder = _ladder(decay=1.0 - 1e-9, lag_days=0, max_level=2)
    for day in range(10):
        ladder.update(day, 100.0)
    assert ladder.level == CAP


def test_relaxes_only_after_pressure_stays_low_hysteresis():
    ladder = _ladder(lag_days=0, relax_days=3)
    ladder.update(0, 15.0)
    assert ladder.level == WARNING
    # pressure falls below 0.5 * threshold after a few days, then must stay there 3 days
    levels = [ladder.update(day, 0.0) for day in range(1, 20)]
    first_low = next(d for d in range(1, 20) if 15.0 * 0.9**d < 5.0)
    # levels[i] is day i + 1
    assert levels[first_low] == WARNING  # second low day: still in force
    assert levels[first_low + 1] == 0  # third low day: relaxed
    assert ladder.history[-1][1] == 0


def test_disabled_regulator_never_acts():
    ladder = _ladder(max_level=0, lag_days=0)
    for day in range(20):
        ladder.update(day, 1e9)
    assert ladder.level == 0 and ladder.history == []


def test_effects_escalate_cumulatively():
    cfg = RegulatorConfig(cap_allocation=0.01, leverage_cap=3.0, unwind_days=50)
    assert effects_of(0, cfg).allocation_factor == 1.0
    warn = effects_of(WARNING, cfg)
    assert warn.allocation_factor == cfg.warning_effect and warn.allocation_cap == 1.0
    cap = effects_of(CAP, cfg)
    assert cap.allocation_cap == 0.01 and cap.leverage_cap == 3.0 and not cap.freeze
    freeze = effects_of(FREEZE, cfg)
    assert freeze.freeze and freeze.unwind_rate == 0.0
    unwind = effects_of(UNWIND, cfg)
    assert unwind.freeze and math.isclose(unwind.unwind_rate, 1 / 50)
