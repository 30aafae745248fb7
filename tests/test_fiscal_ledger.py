"""The government's ledger inside the model (FiscalLedger fed by Crypto401kModel): a
closed-form present value to the cent with no crypto, the traditional/Roth equivalence,
the counterfactual without crypto, and rescue spending."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from crypto401k.model import numpy_calls
from crypto401k.model.model import Crypto401kModel
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import small_config

PLAN = {  # a small plan, so that a cent is a meaningful tolerance
    "savers.n_cohorts": 30,
    "savers.plan_assets_usd": 1e6,
    "savers.contributions_usd_per_year": 1e5,
    "savers.allocation": 0.0,
}


def plan_config(steps: int, **overrides):
    items = {**PLAN, "run.steps": steps, **overrides}
    return small_config(**{k.replace(".", "__"): v for k, v in items.items()})


def closed_form_pv(m0: Crypto401kModel, steps: int, g: float, d: float) -> float:
    """Revenue PV from the day-0 state alone: each cohort's balance and paydays, growth at
    g, withdrawals at retirement as `payout_years` equal payments, discounting at d."""
    cfg = m0.config
    s, f = cfg.savers, cfg.fiscal
    sv, fl = m0.savers, m0.fiscal
    interval = s.payday_interval_days
    n_pay = f.payout_years
    k = np.arange(n_pay)
    annuity = ((1 + d) ** -k).sum() / ((1 + g) ** -k).sum()  # PV of payouts per unit
    total = 0.0
    for i in range(sv.n):
        rate, ret_rate, roth = fl.rate[i], fl.retirement_rate[i], fl.roth[i]
        c = sv.contribution[i] * interval / 365.0
        # day j is time (j + 1)/365; the cohort is a0 + (j + 1)/365 old on day j
        a0 = sv.age[i]
        retire_day = int(np.ceil((s.retirement_age - a0) * 365.0 - 1.0))
        paydays = [j for j in range(steps) if (j - sv.pay_phase[i]) % interval == 0]
        cohorts = []  # (day-0-equivalent age, balance at t=0, paydays, retirement time)
        if retire_day < steps:
            t_r = (retire_day + 1) / 365.0
            cohorts.append((sv.other[i], [j for j in paydays if j < retire_day], t_r))
            # the successor enters at entry age and is projected to retire after the run
            cohorts.append((0.0, [j for j in paydays if j > retire_day],
                            t_r + s.retirement_age - s.entry_age))  # fmt: skip
        else:
            cohorts.append((sv.other[i], paydays, s.retirement_age - a0))
        for b0, days, t_ret in cohorts:
            t = (np.array(days) + 1) / 365.0
            balance = b0 * (1 + g) ** t_ret + (c * (1 + g) ** (t_ret - t)).sum()
            total += ret_rate * (1 - roth) * balance * annuity * (1 + d) ** -t_ret
            total += (rate * roth * c * (1 + d) ** -t).sum()
    return total


@pytest.mark.parametrize("steps", [400, 1200])
def test_no_crypto_fixed_return_matches_the_closed_form_to_the_cent(steps):
    cfg = plan_config(steps, **{"savers.retirement_age": 30.0, "savers.entry_age": 22.0})
    m0 = Crypto401kModel(cfg, rng=3)
    g, d = cfg.savers.other_return_annual, 0.03
    expected = closed_form_pv(m0, steps, g, d)
    m = Crypto401kModel(cfg, rng=3)
    m.run()
    retired = int((m.savers.age < m0.savers.age).sum())
    assert retired > 0  # some cohorts retired within the run and were replaced
    summary = m.fiscal_summary(discount=d)
    assert summary["revenue_pv"] == pytest.approx(expected, abs=0.01)
    # with no crypto the counterfactual is the same path, to the last bit
    assert summary["crypto_effect_pv"] == 0.0


@settings(max_examples=15, deadline=None)
@given(tax=st.floats(0.05, 0.5), g=st.floats(0.0, 0.08), steps=st.integers(30, 500))
def test_traditional_and_roth_give_the_same_pv_at_equal_rates_discounting_at_the_return(
    tax, g, steps
):
    """Roth taxes each contribution now; traditional taxes it, grown at g, later: at
    discount g the same. The only difference is the day-0 balances, whose Roth tax was paid
    before the run: traditional collects tax x (their sum) more."""
    pv = {}
    for roth in (0.0, 1.0):
        cfg = plan_config(
            steps,
            **{"fiscal.roth_share": roth, "fiscal.tax_rate": tax, "fiscal.tax_rate_top": tax,
               "savers.other_return_annual": g, "savers.retirement_age": 45.0},
        )  # fmt: skip
        m = Crypto401kModel(cfg, rng=11)
        b0 = float(m.savers.other.sum())
        m.run()
        pv[roth] = m.fiscal_summary(discount=g)["revenue_pv"]
    assert pv[0.0] - pv[1.0] == pytest.approx(tax * b0, abs=0.01)


@pytest.mark.parametrize("shock_day", [100, 350])
def test_crypto_changes_the_tax_base_in_the_direction_of_the_plans_gain(shock_day):
    """Crypto's gain or loss against the same contributions kept in the plan's other assets
    changes the traditional balances, so future revenue moves the same way. A crash on day
    100 is bought and recovers (a gain); one on day 350 is not (a loss)."""
    cfg = small_config(savers__allocation=0.05, shock__day=shock_day, run__steps=400,
                       shock__fundamental_drop=0.6, regulator__enabled=False)  # fmt: skip
    m = Crypto401kModel(cfg, rng=2)
    m.run()
    s = m.fiscal_summary()
    price = m.market.price
    gain = float((m.savers.other + m.savers.crypto_value(price)).sum() - m.fiscal.shadow.sum())
    assert abs(gain) > 1e8  # plans hold crypto at the true-size flows: a smaller gain
    assert np.sign(s["crypto_effect_pv"]) == np.sign(gain)
    # a dollar more in the plans is worth its future tax: a fraction of a dollar
    assert 0.05 < s["crypto_effect_pv"] / gain < 1.0
    assert s["revenue_pv"] - s["revenue_pv_without_crypto"] == s["crypto_effect_pv"]


@pytest.mark.parametrize("mode", ["compensate", "buy"])
def test_a_rescue_is_spending_on_the_ledger_and_the_books_still_balance(mode):
    cfg = small_config(
        savers__allocation=0.05, shock__day=60, shock__fundamental_drop=0.6, run__steps=300,
        regulator__max_level=5, regulator__threshold=0.1, regulator__lag_days=0,
        fiscal__rescue_mode=mode, fiscal__rescue_days=20,
    )  # fmt: skip
    m = Crypto401kModel(cfg, rng=2)
    m.run()
    assert m.rescued_day is not None and m.rescue_usd > 0
    b = m.books()
    assert b["cash"] == pytest.approx(b["cash_expected"], abs=1e-2, rel=1e-12)
    assert b["plan_dollars"] == pytest.approx(b["plan_dollars_expected"], abs=1e-2, rel=1e-12)
    np.testing.assert_allclose(b["coins"], b["coins_expected"], rtol=1e-12, atol=1e-9)
    s = m.fiscal_summary()
    if mode == "compensate":
        t = (m.rescued_day + 1) / 365.0
        assert s["rescue_cost_pv"] == pytest.approx(
            m.rescue_usd * (1 + cfg.fiscal.discount_rate) ** -t
        )
    else:  # the Treasury's coins are worth something at the end: the net cost is less
        assert m.treasury_coins.sum() > 0
        assert 0 < s["rescue_cost_pv"] < m.rescue_usd or s["rescue_cost_pv"] < 0
    df = m.datacollector.get_model_vars_dataframe()
    assert df["rescue_usd"].iloc[-1] == m.rescue_usd
    assert df["policy_level"].max() == 5


def test_bad_fiscal_input_is_rejected_with_the_field():
    from crypto401k.model.config import Config, ConfigError

    for field, value in [("roth_share", 1.2), ("tax_rate", -0.1), ("payout_years", 0)]:
        with pytest.raises(ConfigError, match=f"fiscal.{field}"):
            Config.from_dict({"fiscal": {field: value}})


@settings(max_examples=30, deadline=None)
@given(
    balances=st.lists(st.floats(0.0, 1e9), min_size=1, max_size=5),
    day=st.integers(0, 3650),
    payout_years=st.integers(1, 30),
    growth=st.floats(0.0, 0.1),
)
def test_a_retirement_books_the_payout_formulas_taxes_bit_for_bit(
    balances, day, payout_years, growth
):
    """`withdraw` books, for each retiring cohort in order, `payout_years` yearly payouts
    (`fiscal.payout`) taxed by `fiscal.withdrawal_tax`, from the day's time on, and retires
    the shadow balances the same way."""
    from crypto401k.model.config import FiscalConfig
    from crypto401k.model.fiscal import FiscalLedger, payout, withdrawal_tax

    n = len(balances) + 2
    rng = np.random.default_rng(day)
    cfg = FiscalConfig().model_copy(update={"payout_years": payout_years})
    ledger = FiscalLedger(cfg, rng.lognormal(size=n), rng.uniform(0, 1e6, n), growth, 65.0)
    rows = np.arange(1, 1 + len(balances))
    balance = np.array(balances)
    shadow = ledger.shadow[rows].copy()
    ledger.withdraw(day, rows, balance)
    t = (day + 1) / 365.0
    times = np.repeat(t, len(rows))[:, None] + np.arange(payout_years)[None, :]
    for key, b in (("withdrawal", balance), ("withdrawal_without", shadow)):
        tax = withdrawal_tax(
            payout(b, growth, payout_years), ledger.roth[rows], ledger.retirement_rate[rows]
        )
        [(booked_t, booked)] = ledger.entries(key)
        assert booked_t.tobytes() == times.ravel().tobytes()
        assert booked.tobytes() == np.repeat(tax, payout_years).tobytes()
    assert (ledger.shadow[rows] == 0.0).all()
    # a numpy integer day books the same flows
    again = FiscalLedger(cfg, rng.lognormal(size=n), rng.uniform(0, 1e6, n), growth, 65.0)
    again.withdraw(np.int64(day), rows, balance)
    [(booked_t, booked)] = again.entries("withdrawal")
    assert booked_t.tobytes() == times.ravel().tobytes() and booked.size == booked_t.size


def test_present_values_are_the_sum_over_entries_bit_for_bit():
    """`pv` discounts runs of one-flow entries together: the same bits as each entry's own
    product added in order (the definition), on a run with paydays and retirements."""
    m = Crypto401kModel(plan_config(400, **{"savers.allocation": 0.05}), rng=3)
    m.run()
    ledger = m.projected_ledger()
    assert any(type(t) is float for t, _ in ledger._flows["roth"])  # one-flow entries
    assert any(type(t) is not float for t, _ in ledger._flows["withdrawal"])  # payouts
    for discount in (0.0, 0.02, 0.037):
        for key in ledger.KEYS:
            want = 0.0  # added one by one (Python 3.12's sum() of floats compensates)
            for t, a in ledger.entries(key):  # the definition: numpy's sum of the products
                want += float(np.sum(a * (1.0 + discount) ** -t))
            assert np.float64(ledger.pv(key, discount)).tobytes() == np.float64(want).tobytes()


# a four-asset run of 12,003 cohorts (so that numpy's products of the savers' holdings,
# 12,003 x 4, are above OpenBLAS's threshold for threads, in blocks that do not divide the
# rows) in a new interpreter with OpenBLAS on `threads` threads: its fiscal summary (hex
# floats), a hash of its records and state, the longest booked entry and OpenBLAS's threads
ON_THREADS = """
import hashlib, json
from crypto401k.model import numpy_calls, scenarios
from crypto401k.model.model import Crypto401kModel

m = Crypto401kModel(scenarios.load("four_assets").with_overrides(
    {"run.steps": 3, "run.burn_in_days": 5, "savers.n_cohorts": 12_003}), rng=3)
m.run()
ledger = m.projected_ledger()
records = m.datacollector.get_model_vars_dataframe().to_numpy(float)
state = [m.savers.coins, m.savers.other, m.traders.coins, m.institutions.coins, records]
print(json.dumps({
    "summary": {k: float(v).hex() for k, v in ledger.summary(0.03).items()},
    "run": hashlib.sha256(b"".join(a.tobytes() for a in state)).hexdigest(),
    "longest": max(len(a) for t, a in ledger.entries("withdrawal")),
    "threads": numpy_calls.blas_threads(),
}))
"""


@pytest.mark.skipif(not numpy_calls.AVAILABLE, reason="numpy's OpenBLAS not found here")
def test_a_run_is_the_same_on_any_number_of_blas_threads():
    """A run's records, state and present values are the same bits with numpy's OpenBLAS on
    one thread (a sweep's or Dask's worker, a cluster job under OMP_NUM_THREADS=1) as on
    two: the present values never go through OpenBLAS's dot product, which splits a vector
    of more than 10,000 values among its threads and adds their parts
    (`fiscal.present_value`), and its threaded products of a matrix and a vector give each
    row what one thread gives."""
    out = {}
    for threads in (1, 2):
        env = {**os.environ, "OPENBLAS_NUM_THREADS": str(threads), "OMP_NUM_THREADS": "1"}
        done = subprocess.run(
            [sys.executable, "-c", ON_THREADS], env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr[-2000:]
        out[threads] = json.loads(done.stdout.strip().splitlines()[-1])
    assert out[1]["threads"] == 1
    if out[2]["threads"] < 2:  # OpenBLAS counts the CPUs this process may use
        pytest.skip("OpenBLAS starts one thread here: no second count to compare")
    assert out[1]["longest"] > 10_000  # the payouts: thousands of cohorts x 20 years
    assert out[1]["summary"] == out[2]["summary"]
    assert out[1]["run"] == out[2]["run"]
