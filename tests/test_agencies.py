"""The four agencies (model/agencies.py): staged rule-making, joint rules and coordination,
the executive order's timing of plan inflows, and agencies that never act."""

import math

import numpy as np
import pytest
from crypto401k.model.agencies import agency_lag, joint_effective_day, pressure_step, stage_on
from crypto401k.model.config import AgencyConfig, Config, ConfigError
from crypto401k.model.model import Crypto401kModel
from crypto401k.model.regulator import open_loss_bps
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import small_config

ORDER_ONLY = [  # the executive order's three rules, no pressure rules
    {"name": "safe harbour", "agencies": ["DOL"], "instrument": "plan_access", "value": 1.0,
     "trigger": "order"},
    {"name": "plan custody", "agencies": ["SEC", "DOL"], "instrument": "custody",
     "trigger": "order"},
    {"name": "reporting", "agencies": ["IRS"], "instrument": "reporting", "value": 0.001,
     "trigger": "order"},
]  # fmt: skip


def agencies_config(steps: int = 400, **overrides) -> Config:
    base = {
        "agencies.enabled": True,
        "savers.allocation": 0.03,
        "run.steps": steps,
        **overrides,
    }
    return small_config(**{k.replace(".", "__"): v for k, v in base.items()})


def run(cfg: Config, seed: int = 5):
    m = Crypto401kModel(cfg, rng=seed)
    m.run()
    return m, m.datacollector.get_model_vars_dataframe()


lags = st.integers(0, 2000)


@settings(max_examples=200, deadline=None)
@given(start=st.integers(0, 5000), a=lags, b=lags, coordination=st.floats(0.01, 1.0))
def test_a_joint_rule_never_takes_effect_before_both_lags(start, a, b, coordination):
    day = joint_effective_day(start, [a, b], coordination)
    assert day >= start + a and day >= start + b
    assert joint_effective_day(start, [a, b], 1.0) == start + max(a, b)
    # worse coordination never makes it sooner
    assert joint_effective_day(start, [a, b], coordination / 2) >= day


@settings(max_examples=100, deadline=None)
@given(p=st.integers(0, 400), c=st.integers(0, 100), f=st.integers(0, 400), day=lags)
def test_stages_follow_the_lags_in_order(p, c, f, day):
    cfg = AgencyConfig(propose_days=p, comment_days=c, final_days=f)
    effective = agency_lag(cfg)
    stage = stage_on(day, 0, cfg, effective)
    expected = (
        "proposing" if day < p else "comment" if day < p + c else "final rule"
        if day < p + c + f else "in force"
    )  # fmt: skip
    assert stage == expected
    assert stage_on(day, None, cfg, None) == "watching"


def _first(df, column, value):
    hits = np.flatnonzero(df[column].to_numpy() == value)
    return int(hits[0]) - 1 if len(hits) else None  # row k is the end of day k - 1


def test_joint_dol_sec_rule_takes_effect_exactly_at_the_slower_lag_with_perfect_coordination():
    lag = {"DOL": 150, "SEC": 230}
    overrides = {
        "agencies.rules": ORDER_ONLY,
        "agencies.dol.propose_days": 100, "agencies.dol.comment_days": 20,
        "agencies.dol.final_days": 30,
        "agencies.sec.propose_days": 150, "agencies.sec.comment_days": 30,
        "agencies.sec.final_days": 50,
        "exchanges.n_exchanges": 5, "exchanges.plan_custody_segregated": False,
    }  # fmt: skip
    m, df = run(agencies_config(**overrides))
    rule = next(r for r in m.board.rules if r.cfg.name == "plan custody")
    assert rule.start == 0 and rule.effective == max(lag.values())
    # the DOL's own rule (the safe harbour) is in force at its lag; it then waits for the
    # SEC in 'final rule' on the joint one, and both are in force at the SEC's lag
    assert m.board.first_effective("plan_access") == lag["DOL"]
    stages = df["stage_DOL"].to_numpy()
    assert set(stages[lag["DOL"] + 1 : lag["SEC"] + 1]) == {"final rule"}
    assert _first(df, "stage_DOL", "in force") == lag["SEC"]
    assert _first(df, "stage_SEC", "in force") == lag["SEC"]
    assert (m.exchanges.saver_exchange == -1).all()  # plan coins moved to custody
    # with worse coordination it comes later, never sooner
    m2, _ = run(agencies_config(**overrides, **{"agencies.coordination": 0.5}))
    later = next(r for r in m2.board.rules if r.cfg.name == "plan custody")
    assert later.effective == 2 * max(lag.values())
    # ... and it stretches only joint rules: the DOL's own safe harbour keeps its lag
    assert m2.board.first_effective("plan_access") == lag["DOL"]


def test_under_the_executive_order_inflows_start_when_the_dol_rule_is_final():
    overrides = {
        "agencies.rules": ORDER_ONLY,
        "agencies.dol.propose_days": 60, "agencies.dol.comment_days": 30,
        "agencies.dol.final_days": 60,
    }  # fmt: skip
    m, df = run(agencies_config(**overrides))
    opens = m.board.first_effective("plan_access")
    assert opens == 150
    flows = df["flow_savers"].to_numpy()[1:]  # flow of day k is row k + 1
    assert (flows[:opens] == 0).all()
    assert (flows[opens:] > 0).any()
    assert df["plans_offering"].iloc[opens] == 0.0 and df["plans_offering"].iloc[-1] == 1.0


def _drop_columns(df, prefix):
    return df[[c for c in df.columns if not c.endswith(prefix)]]


def test_an_agency_that_never_acts_changes_nothing():
    # the IRS never acting == the IRS's rules never written
    idle, a = run(agencies_config(**{"agencies.irs.acts": False}))
    rules = [r.model_dump() for r in Config().agencies.rules if r.agencies != ["IRS"]]
    _, b = run(agencies_config(**{"agencies.rules": rules}))
    assert idle.board.agencies["IRS"].stage(399) == "watching"
    pd_equal = _drop_columns(a, "_IRS").equals(_drop_columns(b, "_IRS"))
    assert pd_equal
    # no agency acting, without the order == no regulator at all
    none = {f"agencies.{k}.acts": False for k in ("dol", "sec", "irs", "cftc")}
    _, c = run(agencies_config(**none, **{"agencies.executive_order": False}))
    _, d = run(small_config(savers__allocation=0.03, run__steps=400, regulator__enabled=False))
    same = ["price", "flow_savers", "flow_traders", "saver_loss", "liquidations", "pnl_savers"]
    assert c[same].equals(d[same])


def test_a_joint_rule_with_an_idle_partner_never_takes_effect():
    m, df = run(agencies_config(**{"agencies.rules": ORDER_ONLY, "agencies.dol.acts": False}))
    custody = next(r for r in m.board.rules if r.cfg.name == "plan custody")
    assert custody.start == 0 and custody.effective is None
    assert (df["plans_offering"] == 0).all() and (df["flow_savers"] == 0).all()


# a crash that liquidates leveraged traders: the CFTC's signal
CRASH = {"shock.day": 20, "shock.fundamental_drop": 0.5}


def test_the_cftc_leverage_cap_binds_once_in_force():
    rules = [{"name": "cap", "agencies": ["CFTC"], "instrument": "leverage_cap", "value": 1.2,
              "trigger": "pressure", "rung": 1}]  # fmt: skip
    m, df = run(
        agencies_config(
            steps=400,
            **{"agencies.rules": rules, "agencies.cftc.threshold": 1e-9,
               "agencies.cftc.propose_days": 10, "agencies.cftc.comment_days": 0,
               "agencies.cftc.final_days": 0, "agencies.executive_order": False, **CRASH},
        )
    )  # fmt: skip
    start = m.board.first_effective("leverage_cap")
    assert start is not None
    # funds steer to the cap (prices move them around it between rebalancings)
    _, free = run(
        agencies_config(
            steps=400, **{"agencies.rules": [], "agencies.executive_order": False, **CRASH}
        )
    )
    after = df["fund_leverage"].to_numpy()[start + 40 :]
    after = after[after > 0]  # days with live funds (0: every fund failed in the crash)
    assert len(after) > 50 and abs(after.mean() - 1.2) < 0.1
    assert np.quantile(after, 0.95) < 1.2 + 0.2
    # without the rule funds lever beyond it (re-entered funds start unlevered, so compare
    # the upper part of the distribution, not the mean)
    unruled = free["fund_leverage"].to_numpy()[start + 40 :]
    assert np.quantile(unruled[unruled > 0], 0.75) > 1.2 + 0.2


def test_the_dol_vehicle_rule_leaves_crypto_to_the_target_date_sleeves():
    rules = [*ORDER_ONLY[:1], {"name": "vehicle", "agencies": ["DOL"], "instrument": "vehicle",
                               "trigger": "order"}]  # fmt: skip
    lags = {"agencies.dol.propose_days": 30, "agencies.dol.comment_days": 0,
            "agencies.dol.final_days": 0, "savers.target_date_share": 0.5}  # fmt: skip
    m, _ = run(agencies_config(steps=200, **{"agencies.rules": rules, **lags}))
    s = m.savers
    assert (s.offering == s.target_date).all() and 0 < s.target_date.sum() < s.n
    bought = s.cost > 0
    assert bought.any() and not (bought & ~s.target_date).any()


@pytest.mark.parametrize(
    ("rules", "field"),
    [
        ([{"agencies": ["FED"], "instrument": "disclosure", "value": 0.5}], "0.agencies"),
        ([{"agencies": ["DOL"], "instrument": "bailout"}], "0.instrument"),
        ([{"agencies": ["DOL"], "instrument": "leverage_cap", "value": 2.0}], "0.instrument"),
        ([{"agencies": ["DOL"], "instrument": "disclosure", "value": 1.5}], "0.value"),
        ([{"agencies": ["DOL", "DOL"], "instrument": "freeze"}], "0.agencies"),
    ],
)  # fmt: skip
def test_bad_rules_name_the_field(rules, field):
    with pytest.raises(ConfigError, match=r"agencies\.rules\." + field.replace(".", r"\.")):
        Config.from_dict({"agencies": {"rules": rules}})


def test_coordination_must_be_positive():
    with pytest.raises(ConfigError, match=r"agencies\.coordination"):
        Config.from_dict({"agencies": {"coordination": 0.0}})
    assert math.isfinite(Config().agencies.dol.threshold)


@settings(max_examples=100, deadline=None)
@given(
    level=st.floats(0.0, 1e4),
    decay=st.floats(0.0, 0.995),
    quiet=st.integers(1, 400),
)
def test_level_pressure_settles_at_the_level_and_event_pressure_only_decays_between_events(
    level, decay, quiet
):
    s = 0.0
    for _ in range(1 + math.ceil(math.log(1e-9) / math.log(decay)) if decay > 0 else 1):
        s = pressure_step(s, level, decay, events=False)
    assert math.isclose(s, level, rel_tol=1e-8, abs_tol=1e-9)  # not level / (1 - decay)
    e = pressure_step(0.0, level, decay, events=True)  # one event of size `level`
    assert e == level
    for _ in range(quiet):  # days without events add nothing
        before, e = e, pressure_step(e, 0.0, decay, events=True)
        assert e <= before
    assert math.isclose(e, level * decay**quiet, rel_tol=1e-9, abs_tol=1e-300)


def test_the_dol_reads_the_regulator_s_netted_loss_widened_by_breadth():
    cfg = agencies_config(
        steps=200,
        **{
            "agencies.executive_order": False,  # plans offer crypto from day 0
            "savers.allocation": 0.05,
            "shock.day": 60,
            "shock.fundamental_drop": 0.5,
        },
    )
    m = Crypto401kModel(cfg, rng=3)
    breadth = cfg.agencies.backlash_breadth
    seen = []
    for _ in range(200):
        m.step()
        s, price = m.savers, m.market.price
        loss = open_loss_bps(s.pnl(price), float(s.other.sum() + s.crypto_value(price).sum()))
        holding = s.cost > 0
        hit = float((s.pnl(price)[holding] < 0).mean()) if holding.any() else 0.0
        assert m._signals["DOL"] == loss * (1.0 + breadth * hit)
        seen.append(loss)
    assert max(seen) > 0.0
    # the DOL's pressure is the average of its signal: never above the largest signal
    assert m.board.agencies["DOL"].pressure <= max(seen) * (1.0 + breadth)


@pytest.mark.parametrize("propose_days", [10, 1000])
def test_a_reactive_rule_that_takes_effect_after_the_run_still_counts_after_the_trough(
    propose_days,
):
    from crypto401k.experiments.outcomes import measure

    rules = [{"name": "cap", "agencies": ["CFTC"], "instrument": "leverage_cap", "value": 1.2,
              "trigger": "pressure", "rung": 1}]  # fmt: skip
    m, _ = run(
        agencies_config(
            steps=300,
            **{"agencies.rules": rules, "agencies.cftc.threshold": 1e-9,
               "agencies.cftc.propose_days": propose_days, "agencies.cftc.comment_days": 0,
               "agencies.cftc.final_days": 0, "agencies.executive_order": False, **CRASH},
        )
    )  # fmt: skip
    (rule,) = m.board.rules
    assert rule.start is not None and rule.effective == rule.start + propose_days
    out = measure(m)
    # the rule's own day, even after the run's last day (300): a slow rule is not censored
    assert out["policy_rule_day"] == rule.effective
    assert out["rule_after_trough"] == float(rule.effective > out["trough_day"])
    if rule.effective >= 300:
        assert out["rule_after_trough"] == 1.0


@pytest.mark.parametrize("lag_days", [10, 1000])
def test_the_regulator_s_action_due_after_the_run_also_counts(lag_days):
    from crypto401k.experiments.outcomes import measure

    cfg = small_config(
        run__steps=300,
        savers__allocation=0.03,
        regulator__enabled=True,
        regulator__threshold=1e-9,
        regulator__lag_days=lag_days,
        **{k.replace(".", "__"): v for k, v in CRASH.items()},
    )
    m, _ = run(cfg)
    ladder = m.regulator.ladder
    out = measure(m)
    due = [d for d, level in ladder.history if level > 0] + (
        [ladder.pending_due] if ladder.pending_level else []
    )
    assert due and out["policy_rule_day"] == min(due)
    if lag_days == 1000:  # set in motion in the run, in force only after it
        assert not ladder.history and out["policy_rule_day"] >= 300
        assert out["rule_after_trough"] == 1.0
