"""Parameter draws from an estimate (experiments.draws) and how the answers move across them
(experiments.robustness): the draws' distribution and reproducibility, the draws dimension
through the sweep (resume included), the sign-survival shares, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from crypto401k.experiments import draws as pd_draws
from crypto401k.experiments import robustness
from crypto401k.experiments.cli import main
from crypto401k.experiments.experiment import run_experiment
from crypto401k.experiments.spec import DRAW_KEY, Point, grid_points, load_spec
from crypto401k.model.config import Config, ConfigError
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

NOISE_BOX = [0.04, 0.16]  # model.ranges: traders.chartist_noise
IMPACT_BOX = [2.5, 10.0]  # model.ranges: market.impact_multiplier
DEFAULTS = (
    pd_draws.default_value(Config(), "traders.chartist_noise"),
    pd_draws.default_value(Config(), "market.impact_multiplier"),
)


def estimate_json(
    theta=DEFAULTS, cov=((0.0009, 0.0), (0.0, 4.0)), boxes=(NOISE_BOX, IMPACT_BOX)
) -> dict:
    """An estimate.json as `crypto401k estimate` writes it (the fields the draws read)."""
    names = ["traders.chartist_noise", "market.impact_multiplier"][: len(theta)]
    return {
        "theta": dict(zip(names, theta, strict=True)),
        "parameters": [
            {"parameter": n, "estimate": t, "se": 0.0, "box": list(b), "identified": False}
            for n, t, b in zip(names, theta, boxes, strict=True)
        ],
        "covariance": [list(r) for r in cov],
        "settings": {},
    }


def write_estimate(tmp_path: Path, data: dict | str, name: str = "estimate.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


# ---- the draws ------------------------------------------------------------------------------
def test_draws_are_reproducible_and_the_first_k_of_n_plus_one_are_the_n(tmp_path):
    est = pd_draws.load_estimate(write_estimate(tmp_path, estimate_json()))
    five = pd_draws.draw(est, 5)
    assert np.array_equal(five.values, pd_draws.draw(est, 5).values)
    six = pd_draws.draw(est, 6)
    assert np.array_equal(six.values[:5], five.values)
    assert not np.array_equal(six.values[5], five.values[4])
    assert five.overrides(0) == {
        "traders.chartist_noise": five.values[0, 0],
        "market.impact_multiplier": five.values[0, 1],
    }
    other = pd_draws.draw(est, 5, seed=pd_draws.DRAW_SEED + 1)
    assert not np.array_equal(other.values, five.values)


@given(
    st.floats(0.04, 0.16),
    st.floats(1e-6, 0.2),
    st.floats(2.5, 10.0),
    st.floats(1e-3, 20.0),
    st.floats(-0.95, 0.95),
)
def test_every_draw_lies_in_its_box(t0, s0, t1, s1, rho):
    cov = np.array([[s0**2, rho * s0 * s1], [rho * s0 * s1, s1**2]])
    est = pd_draws.Estimate(
        path="x",
        sha256="0",
        names=("traders.chartist_noise", "market.impact_multiplier"),
        theta=np.array([t0, t1]),
        cov=cov,
        low=np.array([NOISE_BOX[0], IMPACT_BOX[0]]),
        high=np.array([NOISE_BOX[1], IMPACT_BOX[1]]),
    )
    d = pd_draws.draw(est, 20)
    assert ((d.values >= est.low) & (d.values <= est.high)).all()
    assert (d.candidates >= 1).all() and 0 < d.acceptance() <= 1


def test_one_parameter_draws_follow_the_truncated_normal(tmp_path):
    """Rejection keeps the normal's shape inside the box: a KS test against scipy's
    truncated normal, and about the normal's mass in the box as the acceptance rate."""
    lo, hi = NOISE_BOX
    theta, se = 0.05, 0.03  # near the low end: about a third of the mass falls outside
    data = estimate_json(theta=(theta,), cov=((se**2,),), boxes=(NOISE_BOX,))
    d = pd_draws.draw(pd_draws.load_estimate(write_estimate(tmp_path, data)), 2000)
    a, b = (lo - theta) / se, (hi - theta) / se
    assert (
        stats.kstest(d.values[:, 0], stats.truncnorm(a, b, loc=theta, scale=se).cdf).pvalue > 0.01
    )
    mass = stats.norm.cdf(b) - stats.norm.cdf(a)
    assert abs(d.acceptance() - mass) < 0.03


def test_draws_keep_the_correlation_of_the_covariance(tmp_path):
    s0, s1, rho = 0.005, 0.5, -0.8  # narrow against the boxes: truncation does not bite
    cov = ((s0**2, rho * s0 * s1), (rho * s0 * s1, s1**2))
    mid = (0.1, 6.25)  # the boxes' middles, 7 or more standard deviations from either edge
    data = estimate_json(theta=mid, cov=cov)
    d = pd_draws.draw(pd_draws.load_estimate(write_estimate(tmp_path, data)), 800)
    assert abs(np.corrcoef(d.values.T)[0, 1] - rho) < 0.05
    assert np.allclose(d.values.std(axis=0), [s0, s1], rtol=0.1)
    assert (d.candidates == 1).all()


def test_a_parameter_without_a_variance_is_uniform_on_its_box_on_the_search_scale(tmp_path):
    """NaN on the diagonal: the box alone bounds it; the impact box spans a factor of 4, so
    it is uniform in log; the other parameter keeps its normal."""
    nan = float("nan")
    data = estimate_json(cov=((0.0001, nan), (nan, nan)))
    path = write_estimate(tmp_path, json.dumps(data))  # NaN as JSON's NaN, as estimate writes
    est = pd_draws.load_estimate(path)
    assert est.unknown.tolist() == [False, True]
    d = pd_draws.draw(est, 1500)
    u = np.log(d.values[:, 1] / IMPACT_BOX[0]) / np.log(IMPACT_BOX[1] / IMPACT_BOX[0])
    assert stats.kstest(u, "uniform").pvalue > 0.01
    assert abs(d.values[:, 0].std() - 0.01) < 0.001
    record = d.record()
    assert [p["drawn"] for p in record["parameters"]] == ["truncated normal", "uniform on the box"]
    assert record["parameters"][1]["se"] is None


def test_an_estimate_away_from_the_defaults_is_named(tmp_path):
    at_defaults = pd_draws.load_estimate(write_estimate(tmp_path, estimate_json()))
    assert pd_draws.off_defaults(at_defaults) == []
    # the defaults as written (a few significant digits) count as the estimate
    rounded = estimate_json(theta=(DEFAULTS[0] * 1.001, DEFAULTS[1]))
    near = pd_draws.load_estimate(write_estimate(tmp_path, rounded, "near.json"))
    assert pd_draws.off_defaults(near) == []
    away = estimate_json(theta=(DEFAULTS[0] * 1.01, DEFAULTS[1]))
    est = pd_draws.load_estimate(write_estimate(tmp_path, away, "away.json"))
    assert pd_draws.off_defaults(est) == [
        {
            "parameter": "traders.chartist_noise",
            "estimate": DEFAULTS[0] * 1.01,
            "default": DEFAULTS[0],
        }
    ]


def test_a_zero_covariance_draws_the_estimate_itself(tmp_path):
    est = pd_draws.load_estimate(write_estimate(tmp_path, estimate_json(cov=((0, 0), (0, 0)))))
    assert (pd_draws.draw(est, 3).values == DEFAULTS).all()


def test_too_little_mass_in_the_box_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(pd_draws, "MAX_CANDIDATES", 512)
    data = estimate_json(theta=(0.04,), cov=((1e4,),), boxes=(NOISE_BOX,))
    est = pd_draws.load_estimate(write_estimate(tmp_path, data))
    with pytest.raises(ConfigError, match="fewer than 1 in 512"):
        pd_draws.draw(est, 1)


# ---- the sweep ---------------------------------------------------------------------------
SPEC = """
name = "tiny"
question = "q?"
seeds = 2
years = 0.3
metrics = ["annualized_volatility", "max_drawdown"]
[base]
"savers.n_cohorts" = 40
"traders.n_traders" = 40
"savers.n_employers" = 4
"institutions.n_funds" = 2
"institutions.n_lenders" = 2
"institutions.n_market_makers" = 2
"savers.offer_share_start" = 1.0
"savers.uptake" = 1.0
"traders.fundamentalist_reaction" = 0.05
[grid]
"savers.allocation" = [0.05]
[control]
"savers.allocation" = 0.0
[answer]
metric = "annualized_volatility"
treatment = { "savers.allocation" = 0.05 }
subject = "Five percent"
"""


def write_spec(tmp_path: Path, text: str = SPEC) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(text)
    return path


def test_a_draw_goes_below_the_spec_and_pairs_with_its_own_control(tmp_path):
    """A draw's values go under every point, except a parameter the spec sets itself; each
    draw's treatment has the same draw's control."""
    spec = load_spec(str(write_spec(tmp_path)))
    base = grid_points(spec)
    under = {"traders.chartist_noise": 0.1, "traders.fundamentalist_reaction": 0.09}
    drawn = grid_points(spec, under, draw=4, first=10)
    assert [p.index for p in drawn] == [10, 11]
    assert all(p.params[DRAW_KEY] == 4 for p in drawn)
    assert all(p.overrides["traders.chartist_noise"] == 0.1 for p in drawn)
    # the spec's own base wins: its value, not the draw's
    assert all(p.overrides["traders.fundamentalist_reaction"] == 0.05 for p in drawn)
    assert {p.key for p in drawn}.isdisjoint(p.key for p in base)
    # the defaults' points are unchanged by the draws' machinery (stored runs stay valid)
    assert [p.key for p in base] == [p.key for p in grid_points(spec, None)]
    from crypto401k.experiments.report import control_map

    controls = control_map(spec, base + drawn)
    assert controls[10] == 11 and controls[0] == 1


def test_a_several_asset_estimate_draws_volatilities_and_whole_correlation_matrices(tmp_path):
    """The second stage's names (`estimate --assets`): a coin's volatility, and a correlation
    entry that becomes the scenario's whole matrix with that entry (both sides) replaced."""
    from crypto401k.experiments.experiment import plan_draws

    names = ["assets.1.fundamental_vol_annual", "market.correlation.0.1"]
    data = {
        "theta": dict(zip(names, [0.6, 0.8], strict=True)),
        "parameters": [
            {"parameter": names[0], "box": [0.3, 1.2]},
            {"parameter": names[1], "box": [0.5, 0.95]},
        ],
        "covariance": [[0.01, 0.0], [0.0, 0.0025]],
    }
    est = write_estimate(tmp_path, data)
    text = SPEC.replace('question = "q?"', 'question = "q?"\nscenario = "four_assets"')
    spec = load_spec(str(write_spec(tmp_path, text)))
    points = grid_points(spec)
    plan = plan_draws(spec, points, 2, est, None)
    values = pd_draws.draw(pd_draws.load_estimate(est), 2).values
    from crypto401k.model import scenarios

    shipped = scenarios.load("four_assets").market.correlation
    for p in plan.points:
        d = p.params[DRAW_KEY]
        corr = p.overrides["market.correlation"]
        assert corr[0][1] == corr[1][0] == values[d, 1]
        assert corr[0][2] == corr[2][0] == shipped[0][2]  # the scenario's other entries stay
        assert corr[1][2] == shipped[1][2] and corr[0][1] != shipped[0][1]
        assert p.overrides["assets.1.fundamental_vol_annual"] == values[d, 0]
    # the same estimate on a BTC-only experiment: no ETH, no matrix entry (0, 1)
    btc = load_spec(str(write_spec(tmp_path)))
    with pytest.raises(ConfigError, match=r"assets\.1\.fundamental_vol_annual"):
        plan_draws(btc, grid_points(btc), 2, est, None)


def test_a_candidate_the_model_refuses_is_drawn_again(tmp_path):
    """`valid` truncates like the boxes: refusing everything above the estimate leaves the
    lower half of the normal; drawn correlation entries always make a correlation matrix."""
    data = estimate_json(theta=(0.1,), cov=((0.02**2,),), boxes=(NOISE_BOX,))
    est = pd_draws.load_estimate(write_estimate(tmp_path, data))
    d = pd_draws.draw(est, 50, valid=lambda v: v[0] <= 0.1)
    assert (d.values <= 0.1).all() and d.candidates.sum() > 50
    names = ["market.correlation.0.1", "market.correlation.0.2", "market.correlation.1.2"]
    wide = {
        "theta": dict(zip(names, [0.9, 0.9, 0.55], strict=True)),
        "parameters": [{"parameter": n, "box": [0.5, 0.95]} for n in names],
        "covariance": np.diag([0.2**2] * 3).tolist(),
    }
    est = pd_draws.load_estimate(write_estimate(tmp_path, wide, "corr.json"))
    base = {"scenario": "four_assets"}
    d = pd_draws.draw(est, 40, valid=pd_draws.model_accepts(est, base))
    for i in range(40):
        corr = np.array(pd_draws.as_overrides(base, d.overrides(i))["market.correlation"])
        assert np.linalg.eigvalsh(corr).min() > -1e-9
    unchecked = pd_draws.draw(est, 40)
    assert not all(  # without the check some draws would not be correlation matrices
        np.linalg.eigvalsh(
            np.array(pd_draws.as_overrides(base, unchecked.overrides(i))["market.correlation"])
        ).min()
        > -1e-9
        for i in range(40)
    )


def test_a_parameter_the_spec_sets_is_held_not_drawn(tmp_path):
    from crypto401k.experiments.experiment import plan_draws

    est = write_estimate(tmp_path, estimate_json())
    text = SPEC.replace(
        '"savers.uptake" = 1.0', '"savers.uptake" = 1.0\n"traders.chartist_noise" = 0.11'
    )
    spec = load_spec(str(write_spec(tmp_path, text)))
    plan = plan_draws(spec, grid_points(spec), 3, est, None)
    assert plan.held == {"traders.chartist_noise": "base"}
    assert all(p.overrides["traders.chartist_noise"] == 0.11 for p in plan.points)
    assert len({p.overrides["market.impact_multiplier"] for p in plan.points}) == 3
    row = plan.record()["parameters"][0]
    assert row["held_by_spec"] == "base"


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """The tiny spec with 3 draws of 1 seed each, then extended to 4 draws (a resume)."""
    tmp = tmp_path_factory.mktemp("swept")
    spec = write_spec(tmp)
    cov = ((0.02**2, 0.0), (0.0, 2.0**2))
    est = write_estimate(tmp, estimate_json(theta=(0.1, 6.0), cov=cov))
    assert DEFAULTS != (0.1, 6.0)  # the summary warns that the estimate is not the defaults
    kw = dict(workers=1, progress=False, estimate=est, draw_seeds=1, figures=False)
    out = tmp / "out"
    three = run_experiment(str(spec), out=out, param_draws=3, **kw)
    files = sorted(p.name for p in (out / "runs").glob("*.json"))
    three_parquet = pd.read_parquet(out / "draws.parquet")
    four = run_experiment(str(spec), out=out, param_draws=4, **kw)
    return {
        "spec": spec,
        "est": est,
        "out": out,
        "three": three,
        "files_three": files,
        "draws_three": three_parquet,
        "four": four,
        "kw": kw,
    }


def test_draws_run_through_the_sweep_as_one_more_dimension(swept):
    runs = swept["four"].runs
    at_defaults = runs[runs[DRAW_KEY].isna()]
    drawn = runs[runs[DRAW_KEY].notna()]
    # 2 points x 2 seeds at the defaults; 4 draws x 2 points x the first seed
    assert len(at_defaults) == 4 and len(drawn) == 8
    assert sorted(drawn[DRAW_KEY].unique()) == [0, 1, 2, 3]
    assert (drawn["seed"] == 0).all()
    assert (runs["status"] == "ok").all()
    out = swept["out"]
    record = json.loads((out / "draws.json").read_text())
    assert len(record["draws"]) == 4 and record["seeds_per_draw"] == 1
    est = pd_draws.load_estimate(swept["est"])
    assert record["estimate"]["sha256"] == est.sha256
    values = np.array([[d[n] for n in est.names] for d in record["draws"]])
    assert np.array_equal(values, pd_draws.draw(est, 4).values)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["param_draws"]["seeds_per_draw"] == 1 and "draws" not in manifest["param_draws"]


def test_the_draws_effects_are_each_draws_paired_runs(swept):
    runs = swept["four"].runs
    table = pd.read_parquet(swept["out"] / "draws.parquet")
    assert table["draw"].isna().sum() == 1 and sorted(table["draw"].dropna()) == [0, 1, 2, 3]
    for _, row in table.dropna(subset=["draw"]).iterrows():
        mine = runs[(runs[DRAW_KEY] == row["draw"]) & (runs["seed"] == 0)]
        t = mine[~mine["is_control"]]["annualized_volatility"].item()
        c = mine[mine["is_control"]]["annualized_volatility"].item()
        assert row["diff"] == pytest.approx(t - c) and row["pairs"] == 1
        drawn = json.loads((swept["out"] / "draws.json").read_text())["draws"][int(row["draw"])]
        assert row["traders.chartist_noise"] == drawn["traders.chartist_noise"]
    summary = (swept["out"] / "summary.md").read_text()
    assert "## Across parameter draws" in summary and "4 of 4" in summary
    # the fixture's estimate (0.1, 6.0) is not the defaults: the summary says so
    assert "**Warning.** The draws are centred on the estimate" in summary
    if DEFAULTS[0] != 0.1:
        assert f"`traders.chartist_noise` 0.1 (default {DEFAULTS[0]:.4g})" in summary
    answers = json.loads((swept["out"] / "answers.json").read_text())
    assert answers[0]["across_draws"]["draws"] == 4
    assert "across 4 parameter draws" in swept["four"].robustness


def test_more_draws_reuse_the_first_draws_runs_and_a_lost_run_is_rerun(swept):
    out = swept["out"]
    now = sorted(p.name for p in (out / "runs").glob("*.json"))
    assert set(swept["files_three"]) <= set(now) and len(now) == len(swept["files_three"]) + 2
    four = pd.read_parquet(out / "draws.parquet")
    pd.testing.assert_frame_equal(four.iloc[:4], swept["draws_three"])
    for f in sorted((out / "runs").glob("*.json"))[:3]:
        f.unlink()
    again = run_experiment(str(swept["spec"]), out=out, param_draws=4, **swept["kw"])
    pd.testing.assert_frame_equal(again.runs, swept["four"].runs)


def test_without_draws_the_folder_loses_its_stale_draw_files(swept, tmp_path):
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(swept["out"], out)
    result = run_experiment(str(swept["spec"]), out=out, workers=1, progress=False, figures=False)
    assert not (out / "draws.json").exists() and not (out / "draws.parquet").exists()
    assert "Across parameter draws" not in (out / "summary.md").read_text()
    assert json.loads((out / "answers.json").read_text())[0]["across_draws"] is None
    assert DRAW_KEY not in result.runs and len(result.runs) == 4


# ---- the report ----------------------------------------------------------------------------
def _rows(d0: float, effects: list[tuple[float, float, float]], se: float = 0.1) -> pd.DataFrame:
    """effect_rows' shape: the defaults' effect d0, then (diff, lo, hi) per draw."""
    rows = [{"draw": None, "diff": d0, "diff_lo": d0 - 1, "diff_hi": d0 + 1, "se": se}]
    rows += [
        {"draw": i, "diff": e, "diff_lo": lo, "diff_hi": hi, "se": se}
        for i, (e, lo, hi) in enumerate(effects)
    ]
    df = pd.DataFrame(rows)
    df["draw"] = df["draw"].astype("Int64")
    return df


def test_sign_survival_shares_on_a_constructed_case():
    effects = [
        (2.0, 1.0, 3.0),  # same sign, interval above 0
        (0.5, -0.5, 1.5),  # same sign, interval across 0
        (-1.0, -2.0, -0.5),  # flipped, interval below 0
        (3.0, 0.1, 5.9),  # same sign, above 0
        (float("nan"), float("nan"), float("nan")),  # a draw whose runs all failed
    ]
    a = robustness.across_draws(_rows(1.0, effects))
    assert a["draws"] == 5 and a["with_effect"] == 4
    assert a["same_sign"] == 0.75
    assert a["same_sign_excludes_zero"] == 0.5
    assert a["opposite_excludes_zero"] == 0.25
    assert a["median"] == pytest.approx(1.25)
    assert a["p05"] == pytest.approx(np.percentile([2.0, 0.5, -1.0, 3.0], 5))
    assert a["seed_noise_share"] == pytest.approx(0.01 / np.var([2.0, 0.5, -1.0, 3.0], ddof=1))
    # a negative effect at the defaults: the same draws, read from the other side
    b = robustness.across_draws(_rows(-1.0, effects))
    assert b["same_sign"] == 0.25
    assert b["same_sign_excludes_zero"] == 0.25
    assert b["opposite_excludes_zero"] == 0.5
    # an effect of exactly 0 at the defaults: "same sign" is an effect of exactly 0
    z = robustness.across_draws(_rows(0.0, [(0.0, 0.0, 0.0), (1.0, 0.5, 1.5)]))
    assert z["same_sign"] == 0.5 and np.isnan(z["same_sign_excludes_zero"])
    assert z["opposite_excludes_zero"] == 0.5
    assert robustness.across_draws(_rows(1.0, [])) is None


def test_effect_rows_pair_each_draw_with_its_own_control():
    """Constructed runs: the treatment is +1 over the control at the defaults and +d in draw
    d; a pairing with the wrong draw's control would give another number."""
    params = [{"x": 1.0}, {"x": 0.0}]
    points = [Point(index=i, params=p, overrides={}) for i, p in enumerate(params)]
    for d in range(3):
        for i, p in enumerate(params):
            points.append(
                Point(index=2 * (d + 1) + i, params={**p, DRAW_KEY: d}, overrides={}, is_control=i)
            )
    rows = []
    for p in points:
        d = p.params.get(DRAW_KEY)
        for seed in range(4):
            level = 10.0 * (0 if d is None else d + 1) + seed  # seed noise shared by the pair
            shift = (1.0 if d is None else float(d)) if p.params["x"] == 1.0 else 0.0
            rows.append({"point": p.index, "seed": seed, "status": "ok", "m": level + shift})
    runs = pd.DataFrame(rows)
    c = robustness.Contrast(1, "S", "annualized_volatility", "vs control", params[0], params[1])
    runs = runs.rename(columns={"m": "annualized_volatility"})
    table = robustness.effect_rows([c], points, runs, draws=3)
    assert table["diff"].tolist() == [1.0, 0.0, 1.0, 2.0]
    assert table["pairs"].tolist() == [4, 4, 4, 4]
    assert table["se"].tolist() == [0.0] * 4


def test_an_across_answer_contrasts_each_value_with_the_first(tmp_path):
    text = SPEC.replace('"savers.allocation" = [0.05]', '"savers.allocation" = [0.01, 0.03, 0.05]')
    text = text.replace('[control]\n"savers.allocation" = 0.0\n', "")
    text = text.replace(
        'treatment = { "savers.allocation" = 0.05 }', 'across = "savers.allocation"'
    )
    spec = load_spec(str(write_spec(tmp_path, text)))
    items = robustness.contrasts(spec, grid_points(spec))
    assert [c.label for c in items] == [
        "savers.allocation = 0.03 - 0.01",
        "savers.allocation = 0.05 - 0.01",
    ]
    assert all(c.reference == {"savers.allocation": 0.01} for c in items)


# ---- bad input ------------------------------------------------------------------------------
GOOD_EST = estimate_json()
BAD_ESTIMATES = [
    ("not json {", "not valid JSON"),
    (json.dumps([1, 2]), "needs the fields theta, parameters and covariance"),
    (json.dumps({**GOOD_EST, "covariance": [[1.0]]}), "must be 2 x 2"),
    (json.dumps({**GOOD_EST, "covariance": [[1.0, 0.5], [0.0, 1.0]]}), "not symmetric"),
    (json.dumps({**GOOD_EST, "covariance": [[1.0, 2.0], [2.0, 1.0]]}), "positive semidefinite"),
    (
        json.dumps({**GOOD_EST, "theta": {**GOOD_EST["theta"], "market.impact_multiplier": 11}}),
        "theta.market.impact_multiplier = 11",
    ),
    (
        json.dumps(GOOD_EST).replace("traders.chartist_noise", "traders.chartist_nois"),
        "traders.chartist_nois",
    ),
    (json.dumps(GOOD_EST).replace("[2.5, 10.0]", "[10.0, 2.5]"), "low < high"),
]


@pytest.mark.parametrize(("text", "expected"), BAD_ESTIMATES)
def test_a_bad_estimate_file_exits_2_before_anything_runs(tmp_path, capsys, text, expected):
    out = tmp_path / "out"
    est = write_estimate(tmp_path, text)
    argv = ["experiment", str(write_spec(tmp_path)), "--param-draws", "3", "--out", str(out)]
    assert main([*argv, "--estimate", str(est), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"crypto401k: error: --estimate = {str(est)!r}: ")
    assert expected in err and err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--param-draws", "0"], "--param-draws = 0: must be an integer from 1 to 1,000"),
        (["--param-draws", "1001"], "--param-draws = 1001"),
        (["--param-draws", "two"], "--param-draws = 'two': must be an integer"),
        (
            ["--param-draws", "2", "--draw-seeds", "3"],
            "--draw-seeds = 3: must be an integer from 1",
        ),
        (["--param-draws", "2", "--draw-seeds", "0"], "--draw-seeds = 0"),
        (["--param-draws", "2", "--estimate", "nowhere.json"], "no such file"),
        (["--draw-seeds", "1"], "--draw-seeds = 1: only with --param-draws"),
        (["--estimate", "e.json"], "--estimate = 'e.json': only with --param-draws"),
    ],
)
def test_bad_draw_flags_exit_2_before_anything_runs(tmp_path, capsys, flags, named):
    out = tmp_path / "out"
    argv = ["experiment", str(write_spec(tmp_path)), "--out", str(out), "--quiet"]
    if "--param-draws" in flags and "--estimate" not in flags:
        flags = [*flags, "--estimate", str(write_estimate(tmp_path, GOOD_EST))]
    assert main([*argv, *flags]) == 2
    err = capsys.readouterr().err
    assert named in err and err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()


def test_draws_are_refused_for_a_sensitivity_analysis(tmp_path, capsys):
    est = write_estimate(tmp_path, GOOD_EST)
    out = tmp_path / "out"
    argv = ["experiment", "sensitivity", "--quick", "--param-draws", "2", "--estimate", str(est)]
    assert main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--param-draws = 2: only for a grid experiment" in err
    assert not out.exists()


def test_the_default_estimate_is_the_committed_one_under_results(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no results/estimate/estimate.json here
    argv = ["experiment", str(write_spec(tmp_path)), "--param-draws", "2", "--out", "o"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "--estimate = 'results/estimate/estimate.json': no such file" in err
    assert not (tmp_path / "o").exists()
