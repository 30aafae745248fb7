"""Statistics of a sweep: confidence intervals, paired effects, Holm, the answer's wording."""

from __future__ import annotations

import numpy as np
import pandas as pd
from crypto401k.experiments.analysis import (
    across_sentence,
    answer_sentence,
    effect_table,
    holm,
    mean_ci,
    paired_effect,
)
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats


def test_mean_ci_is_the_student_t_interval():
    x = np.array([1.0, 2.0, 4.0, 7.0])
    mean, lo, hi = mean_ci(x)
    ref = stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
    assert mean == x.mean() and np.allclose([lo, hi], ref)


def test_mean_ci_ignores_nan_and_needs_two_values():
    assert mean_ci(np.array([np.nan, 3.0]))[0] == 3.0
    assert np.isnan(mean_ci(np.array([3.0]))[1])
    assert np.isnan(mean_ci(np.array([]))[0])


def test_paired_effect_finds_a_shift_hidden_by_seed_noise():
    rng = np.random.default_rng(0)
    seed_effect = rng.normal(0, 10, 30)  # large between-seed spread (common to both arms)
    control = seed_effect + rng.normal(0, 0.1, 30)
    treatment = seed_effect + 0.5 + rng.normal(0, 0.1, 30)
    e = paired_effect(treatment, control)
    assert e["diff_lo"] < 0.5 < e["diff_hi"] and e["p"] < 1e-6 and e["pairs"] == 30
    # an unpaired comparison could not see it: the CIs of the means overlap widely
    assert mean_ci(treatment)[1] < mean_ci(control)[2]


def test_paired_effect_of_identical_arms_is_zero_with_p_one():
    x = np.arange(5.0)
    assert paired_effect(x, x) == {
        "diff": 0.0,
        "diff_lo": 0.0,
        "diff_hi": 0.0,
        "median_diff": 0.0,
        "p": 1.0,
        "pairs": 5,
    }


def test_effects_give_the_median_beside_the_mean():
    """One large difference moves the mean, not the median."""
    control = np.zeros(5)
    e = paired_effect(np.array([1.0, 1.0, 1.0, 2.0, 20.0]), control)
    assert e["diff"] == 5.0 and e["median_diff"] == 1.0
    runs = pd.DataFrame(
        {"point": [0] * 5 + [1] * 5, "seed": list(range(5)) * 2, "status": "ok"}
        | {"v": [1.0, 1.0, 1.0, 2.0, 20.0] + [0.0] * 5}
    )
    row = effect_table(runs, {0: 1, 1: None}, ["v"]).iloc[0]
    assert row["mean"] == 5.0 and row["median"] == 1.0 and row["median_diff"] == 1.0


@given(st.lists(st.floats(0, 1), min_size=1, max_size=12))
def test_holm_is_monotone_bounded_and_never_below_raw(p):
    p = np.array(p)
    adj = holm(p)
    assert np.all(adj >= p - 1e-15) and np.all(adj <= 1.0)
    order = np.argsort(p, kind="stable")
    assert np.all(np.diff(adj[order]) >= -1e-15)


def test_holm_matches_the_textbook_example():
    assert np.allclose(holm(np.array([0.01, 0.04, 0.03])), [0.03, 0.06, 0.06])


def _runs() -> pd.DataFrame:
    rows = []
    for seed in range(10):
        base = float(seed)
        rows.append({"point": 0, "seed": seed, "status": "ok", "v": base + 1.0})  # treatment
        rows.append({"point": 1, "seed": seed, "status": "ok", "v": base})  # control
    return pd.DataFrame(rows)


def test_effect_table_pairs_each_point_with_its_control():
    t = effect_table(_runs(), {0: 1, 1: None}, ["v"])
    treat = t[t.point == 0].iloc[0]
    assert treat["diff"] == 1.0 and treat["control_mean"] == 4.5
    assert treat["p_holm"] == 2 * 0.5**10  # a constant shift: exact sign test over 10 seeds
    assert np.isnan(t[t.point == 1].iloc[0]["diff"])


def test_answer_is_worded_by_the_test_not_by_the_sign():
    t = effect_table(_runs(), {0: 1, 1: None}, ["v"])
    row = t[t.point == 0].iloc[0].copy()
    row["metric"] = "annualized_volatility"
    assert " raised annualized volatility" in answer_sentence(row, "X", "annualized_volatility")
    row["p_holm"] = 0.4
    assert "did not significantly change" in answer_sentence(row, "X", "annualized_volatility")
    row["p_holm"], row["diff"] = 0.001, -1.0
    assert " lowered " in answer_sentence(row, "X", "annualized_volatility")


def test_across_sentence_runs_a_friedman_test():
    rng = np.random.default_rng(1)
    same = {k: rng.normal(0, 1, 30) for k in "abc"}
    assert "do not differ significantly" in across_sentence(same, "S", "panic_share")
    shifted = {"a": same["a"], "b": same["a"] + 1.0, "c": same["a"] + 2.0}
    text = across_sentence(shifted, "S", "panic_share")
    assert "differ significantly" in text and "Friedman" in text and "30 paired seeds" in text


def test_binary_outcomes_get_wilson_intervals_and_an_exact_mcnemar_test():
    x = np.array([1.0, 1.0, 1.0])
    mean, lo, hi = mean_ci(x, binary=True)
    assert mean == 1.0 and 0.0 < lo < 1.0 and hi <= 1.0
    # 3 seeds switching 0 -> 1: suggestive, not significant (exact p = 0.25)
    e = paired_effect(np.ones(3), np.zeros(3), binary=True)
    assert e["diff"] == 1.0 and e["p"] == 0.25 and e["diff_hi"] <= 1.0
    e = paired_effect(np.ones(30), np.zeros(30), binary=True)
    assert e["p"] < 1e-8


def test_a_deeper_drawdown_is_called_deeper():
    row = {
        "mean": -0.7,
        "lo": -0.75,
        "hi": -0.65,
        "control_mean": -0.6,
        "diff": -0.1,
        "diff_lo": -0.12,
        "diff_hi": -0.08,
        "p_holm": 1e-6,
        "pairs": 30,
    }
    assert " deepened max drawdown" in answer_sentence(row, "X", "max_drawdown")


def test_a_significant_effect_against_a_constant_control_says_to_judge_its_size():
    rng = np.random.default_rng(2)
    loss = np.abs(rng.normal(1e-5, 1e-5, 30))  # savers' losses; the control holds no crypto
    runs = pd.DataFrame(
        {
            "point": [0] * 30 + [1] * 30,
            "seed": list(range(30)) * 2,
            "status": "ok",
            "saver_loss_share": np.concatenate([loss, np.zeros(30)]),
        }
    )
    table = effect_table(runs, {0: 1, 1: None}, ["saver_loss_share"])
    row = table[table.point == 0].iloc[0]
    assert bool(row["control_constant"]) and row["p_holm"] < 0.05
    text = answer_sentence(row, "Savers", "saver_loss_share")
    assert "raised savers' loss" in text and "0% in every seed" in text and "its size" in text
    # a control that varies over seeds: the usual sentence
    runs.loc[runs.point == 1, "saver_loss_share"] = rng.normal(0, 1e-6, 30)
    row = effect_table(runs, {0: 1, 1: None}, ["saver_loss_share"]).iloc[0]
    assert not row["control_constant"] and "every seed" not in answer_sentence(
        row, "Savers", "saver_loss_share"
    )
