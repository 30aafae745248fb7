"""The experiment runner end to end: specs, sweeps, resume after a kill, Dask, outputs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from crypto401k.experiments import outcomes, worker
from crypto401k.experiments.cli import main
from crypto401k.experiments.experiment import run_experiment
from crypto401k.experiments.registry import METRICS
from crypto401k.experiments.spec import builtin_names, grid_points, load_spec

EXPERIMENTS = [
    "dampen",
    "contagion",
    "backlash",
    "topology",
    "sensitivity",
    "assets",
    "exchange_failure",
    "stablecoin_run",
    "agencies",
    "fiscal",
]
CLI = [sys.executable, "-m", "crypto401k.experiments.cli"]


class QuickRuns(dict):
    """Built-in experiments in quick mode, each run on first use (then kept for the module).

    Lazy, so that with pytest-xdist each worker runs only the experiments of the tests it
    was given (tests/conftest.py groups them by experiment)."""

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root

    def __missing__(self, name: str) -> Path:
        out = self.root / name
        # in-process (--workers 1): that every experiment writes its outputs does not need a
        # pool; results not depending on the workers is tested below
        argv = ["experiment", name, "--quick", "--quiet", "--workers", "1"]
        assert main([*argv, "--out", str(out)]) == 0
        self[name] = out
        return out


@pytest.fixture(scope="module")
def quick(tmp_path_factory) -> QuickRuns:
    """The built-in experiments in quick mode, each run once for the module when first used."""
    return QuickRuns(tmp_path_factory.mktemp("quick"))


# ---- specs -------------------------------------------------------------------------------
def test_the_experiments_are_built_in():
    assert set(EXPERIMENTS) <= set(builtin_names())
    for name in EXPERIMENTS:
        spec = load_spec(name)
        assert spec.name == name
        assert spec.seeds >= 30 or spec.kind == "sensitivity"


def test_dampen_grid_has_one_control_for_twenty_four_treatments():
    spec = load_spec("dampen")
    points = grid_points(spec)
    controls = [p for p in points if p.is_control]
    # 3 allocations x 2 channels x 2 plan styles x 2 flow sizes, and one control: with no
    # allocation the flows' size has nothing to act on
    assert len(points) == 25 and len(controls) == 1
    assert controls[0].overrides["savers.allocation"] == 0.0
    assert len({p.key for p in points}) == 25  # distinct runs get distinct files
    upper = [p for p in points if p.params.get("flows") == "upper_bound"]
    assert len(upper) == 12 and all(p.overrides["savers.uptake"] == 1.0 for p in upper)


def test_variants_expand_to_bundles_of_overrides():
    spec = load_spec("contagion")
    points = grid_points(spec)
    lender = [p for p in points if p.params.get("shock") == "lender default"]
    assert lender and all(p.overrides["shock.default_institution"] == 10 for p in lender)
    assert all(
        "shock.default_institution" not in p.overrides
        for p in points
        if p.params.get("shock") == "fundamental drop 30%"
    )


def write_spec(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "my.toml"
    path.write_text(text)
    return path


GOOD = """
name = "mine"
question = "q?"
seeds = 2
years = 0.4
metrics = ["annualized_volatility"]
[base]
"savers.n_cohorts" = 60
"traders.n_traders" = 60
"savers.n_employers" = 6
"run.burn_in_days" = 20
[grid]
"savers.allocation" = [0.02, 0.05]
[control]
"savers.allocation" = 0.0
[answer]
metric = "annualized_volatility"
treatment = { "savers.allocation" = 0.05 }
subject = "Five percent"
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            GOOD.replace(
                '"savers.allocation" = [0.02, 0.05]',
                '"savers.allocation" = [0.02, 0.05]\n"traders.herdin" = [1.0]',
            ),
            "traders.herdin",
        ),
        (
            GOOD.replace('"savers.allocation" = [0.02, 0.05]', '"savers.allocation" = []'),
            "grid is empty",
        ),
        (
            GOOD.replace('"savers.allocation" = [0.02, 0.05]', '"savers.allocation" = [2.0]'),
            "savers.allocation",
        ),
        (GOOD.replace("seeds = 2", "seeds = 2\ncolour = 1"), "'colour' is unknown"),
        (GOOD.replace('metrics = ["annualized_volatility"]', 'metrics = ["vol"]'), "'vol'"),
        (GOOD.replace("years = 0.4", "years = -1"), "years"),
        ("name = ", "not valid TOML"),
    ],
)
def test_bad_spec_exits_2_before_anything_runs(tmp_path, capsys, text, expected):
    out = tmp_path / "out"
    code = main(["experiment", str(write_spec(tmp_path, text)), "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert expected in err and err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()


def test_unknown_experiment_name_lists_the_built_in_ones(tmp_path, capsys):
    assert main(["experiment", "dampn", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "dampn" in err and "dampen" in err and "sensitivity" in err


def test_unreachable_scheduler_exits_2_before_anything_runs(tmp_path, capsys):
    out = tmp_path / "out"
    spec = write_spec(tmp_path, GOOD)
    args = ["experiment", str(spec), "--scheduler", "tcp://127.0.0.1:9", "--out", str(out)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "--scheduler" in err and "tcp://127.0.0.1:9" in err
    assert not out.exists()


def test_bad_flags_and_foreign_out_dir_exit_2(tmp_path, capsys):
    spec = str(write_spec(tmp_path, GOOD))
    assert main(["experiment", spec, "--seeds", "x"]) == 2
    assert main(["experiment", spec, "--workers", "0"]) == 2
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    assert main(["experiment", spec, "--out", str(foreign)]) == 2
    assert sorted(p.name for p in foreign.iterdir()) == ["thesis.tex"]
    assert "--out" in capsys.readouterr().err


# ---- outputs -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", EXPERIMENTS)
def test_quick_experiment_writes_every_output(quick, name):
    out = quick[name]
    runs = pd.read_parquet(out / "runs.parquet")
    manifest = json.loads((out / "manifest.json").read_text())
    summary = (out / "summary.md").read_text()
    spec = load_spec(name).sized(quick=True)
    assert len(runs) == manifest["runs"]["total"] == len(manifest["points"]) * spec.seeds
    assert (runs["status"] == "ok").all()
    assert set(METRICS) <= set(runs.columns)
    assert not runs.duplicated(["stage", "point", "seed"]).any()
    for m in spec.metrics:
        assert runs[m].notna().any(), m
    assert {"code", "packages", "machine", "wall_time_s", "seeds", "spec"} <= set(manifest)
    assert manifest["packages"]["mesa"].startswith("3.5")
    assert "**Answer.**" in summary and "[quick run" in summary
    pngs = sorted(out.glob("*.png"))
    assert pngs and all(p.stat().st_size > 5000 for p in pngs)
    assert all(f"({p.name})" in summary for p in pngs)


def test_summary_reports_ci_and_effect_against_control(quick):
    summary = (quick["dampen"] / "summary.md").read_text()
    assert "effect vs control [95% CI]" in summary and "(control)" in summary
    runs = pd.read_parquet(quick["dampen"] / "runs.parquet")
    ctrl = runs[runs["is_control"]]
    assert (ctrl["savers.allocation"] == 0.0).all() and ctrl["savers.channel"].isna().all()


def test_common_random_numbers_pair_treatments_by_seed(quick):
    """Same seed, same fundamental path: only the parameters differ between treatments."""
    from crypto401k.model.model import Crypto401kModel

    paths = []
    for alloc in (0.0, 0.05):
        m = Crypto401kModel(
            rng=7, **{"savers.allocation": alloc, "run.steps": 60, "savers.n_cohorts": 50}
        )
        m.run()
        paths.append(m.datacollector.get_model_vars_dataframe()["fundamental"].to_numpy())
    assert np.array_equal(paths[0], paths[1])


def test_results_read_back_with_pandas_and_duckdb(quick):
    """The two example queries of the README."""
    import duckdb  # a dev dependency

    path = quick["dampen"] / "runs.parquet"
    df = pd.read_parquet(path)
    by_pandas = df[df.status == "ok"].groupby("savers.allocation")["annualized_volatility"].mean()
    rows = duckdb.sql(
        f"""SELECT "savers.allocation", avg(annualized_volatility)
            FROM '{path}' WHERE status = 'ok' GROUP BY 1 ORDER BY 1"""
    ).fetchall()
    assert [r[0] for r in rows] == list(by_pandas.index)
    assert np.allclose([r[1] for r in rows], by_pandas.to_numpy())


# ---- the runner ----------------------------------------------------------------------------
def test_result_does_not_depend_on_workers_or_on_resuming(tmp_path):
    spec = write_spec(tmp_path, GOOD)
    one = run_experiment(str(spec), workers=1, out=tmp_path / "one", progress=False, figures=False)
    two = run_experiment(str(spec), workers=2, out=tmp_path / "two", progress=False, figures=False)
    pd.testing.assert_frame_equal(one.runs, two.runs)
    # lose two finished runs; the rerun makes exactly those again
    files = sorted((tmp_path / "one" / "runs").glob("*.json"))
    for f in files[:2]:
        f.unlink()
    files[2].write_text('{"key": "truncated')  # a corrupt file counts as not finished
    again = run_experiment(
        str(spec), workers=1, out=tmp_path / "one", progress=False, figures=False
    )
    pd.testing.assert_frame_equal(one.runs, again.runs)


def test_no_figures_writes_the_same_summary_without_them_and_leaves_none_behind(tmp_path):
    spec = str(write_spec(tmp_path, GOOD))
    out = tmp_path / "o"
    drawn = run_experiment(spec, workers=1, out=out, progress=False)
    with_figures = (out / "summary.md").read_text()
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert pngs == ["annualized_volatility.png", "annualized_volatility_effect.png"]
    assert all(out / p in drawn.files for p in pngs)
    # the same folder again (its runs read back) without figures: the earlier ones go too,
    # a picture of the user's own stays
    (out / "mine.png").write_bytes(b"not ours")
    assert main(["experiment", spec, "--out", str(out), "--quiet", "--no-figures"]) == 0
    without = (out / "summary.md").read_text()
    assert [p.name for p in out.glob("*.png")] == ["mine.png"] and ".png" not in without
    assert without == with_figures[: with_figures.index("\n\n## Figures")] + "\n"


def test_an_experiment_s_files_get_the_mode_its_figures_get(tmp_path):
    # files written through mkstemp (0o600) were unreadable to the group that could read the
    # figures beside them; every file now gets what open() gives under the umask
    spec = str(write_spec(tmp_path, GOOD))
    out = tmp_path / "o"
    run_experiment(spec, workers=1, out=out, progress=False)
    umask = os.umask(0o022)
    os.umask(umask)
    modes = {
        str(p.relative_to(out)): p.stat().st_mode & 0o777 for p in out.rglob("*") if p.is_file()
    }
    assert any(k.startswith("runs/") for k in modes) and "manifest.json" in modes
    assert "runs.parquet" in modes and any(k.endswith(".png") for k in modes)
    assert set(modes.values()) == {0o666 & ~umask}, modes


def test_a_failing_run_is_recorded_and_the_sweep_goes_on(tmp_path, monkeypatch):
    real = outcomes.run_metrics

    def flaky(overrides, seed, window_days):
        if seed == 1 and overrides["savers.allocation"] == 0.05:
            raise FloatingPointError("price went to zero")
        return real(overrides, seed, window_days)

    monkeypatch.setattr(outcomes, "run_metrics", flaky)
    spec = write_spec(tmp_path, GOOD)
    result = run_experiment(str(spec), workers=1, out=tmp_path / "o", progress=False, figures=False)
    failed = result.runs[result.runs["status"] == "failed"]
    assert len(failed) == 1 and failed.iloc[0]["seed"] == 1
    assert "FloatingPointError: price went to zero" in failed.iloc[0]["error"]
    assert result.failures == 1 and len(result.runs) == 6
    summary = (tmp_path / "o" / "summary.md").read_text()
    assert "price went to zero" in summary and "5 ok, 1 failed" in summary


# the interrupted sweep: 3 points x KILL_SEEDS runs of KILL_YEARS each (about 4 s of runs
# on the 2-core machine). Short runs are enough: the misses this test once had (every run
# finished before the interrupt) came from the child inheriting an ignored SIGINT, not from
# the machine being slow to poll; the child now gets the default SIGINT.
KILL_SEEDS = 6
KILL_YEARS = 0.5


def _kill_spec() -> str:
    return GOOD.replace("seeds = 2", f"seeds = {KILL_SEEDS}").replace(
        "years = 0.4", f"years = {KILL_YEARS}"
    )


def _interrupted_then_resumed(tmp_path: Path, sig: int, workers: int) -> pd.DataFrame:
    out = tmp_path / f"killed-{sig}"
    spec = write_spec(tmp_path, _kill_spec())
    cmd = [*CLI, "experiment", str(spec), "--quiet", "--no-figures", "--workers", str(workers)]
    cmd += ["--out", str(out)]
    # a user's shell gives the command the default SIGINT; this worker may ignore it (a
    # Dask or server test before it in the same process can leave SIGINT ignored, and an
    # ignored signal is inherited), so the child gets the default back
    proc = subprocess.Popen(
        cmd,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        # finished runs only: not a writer's ".tmp-*.json", which an interrupt may remove
        done = len(list((out / "runs").glob("[!.]*.json"))) if (out / "runs").exists() else 0
        if done >= 3 or proc.poll() is not None:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the sweep finished before it could be interrupted"
    proc.send_signal(sig)
    proc.wait(timeout=60)
    finished = len(list((out / "runs").glob("[!.]*.json")))
    assert 3 <= finished < 3 * KILL_SEEDS
    assert not (out / "runs.parquet").exists()
    subprocess.run(cmd, check=True, timeout=300)
    return pd.read_parquet(out / "runs.parquet")


@pytest.mark.parametrize(("sig", "workers"), [(signal.SIGKILL, 1), (signal.SIGINT, 2)])
def test_killed_sweep_resumes_to_the_same_runs_parquet(tmp_path, sig, workers):
    resumed = _interrupted_then_resumed(tmp_path, sig, workers)
    spec = write_spec(tmp_path, _kill_spec())
    whole = run_experiment(
        str(spec), workers=1, out=tmp_path / "whole", progress=False, figures=False
    )
    pd.testing.assert_frame_equal(resumed, whole.runs)
    assert len(resumed) == 3 * KILL_SEEDS and not resumed.duplicated(["point", "seed"]).any()
    assert not [
        p for p in (tmp_path / f"killed-{sig}" / "runs").iterdir() if p.name.startswith(".tmp")
    ]


def test_dask_local_cluster_gives_the_same_runs(tmp_path):
    import distributed

    spec = write_spec(tmp_path, GOOD)
    local = run_experiment(
        str(spec), workers=1, out=tmp_path / "local", progress=False, figures=False
    )
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        remote = run_experiment(
            str(spec),
            scheduler=cluster.scheduler_address,
            out=tmp_path / "dask",
            progress=False,
            figures=False,
        )
    pd.testing.assert_frame_equal(local.runs, remote.runs)
    manifest = json.loads((tmp_path / "dask" / "manifest.json").read_text())
    assert manifest["execution"]["scheduler"] == cluster.scheduler_address


def test_quick_default_out_never_touches_results(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = write_spec(tmp_path, GOOD)
    assert main(["experiment", str(spec), "--quick", "--quiet", "--workers", "1"]) == 0
    assert (tmp_path / "runs" / "experiments" / "mine-quick" / "summary.md").exists()
    assert not (tmp_path / "results").exists()


def test_cli_prints_the_answer(tmp_path, capsys):
    spec = write_spec(tmp_path, GOOD)
    assert (
        main(["experiment", str(spec), "--out", str(tmp_path / "o"), "--workers", "1", "--quiet"])
        == 0
    )
    code = subprocess.run(
        [
            *CLI,
            "experiment",
            str(spec),
            "--out",
            str(tmp_path / "o"),
            "--workers",
            "1",
            "--no-figures",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ},
    )
    assert code.returncode == 0
    assert "Five percent" in code.stdout and "6 runs ok, 0 failed" in code.stdout


def die_on_seed_1(task):
    """A worker that dies (as if killed by the OOM killer) on seed 1."""
    if task["seed"] == 1:
        os._exit(1)
    return worker.execute(task)


def test_a_dead_worker_loses_only_its_runs_and_a_rerun_retries_them(tmp_path):
    from crypto401k.experiments.spec import Spec
    from crypto401k.experiments.sweep import make_tasks, run_sweep

    spec = load_spec(str(write_spec(tmp_path, GOOD.replace("seeds = 2", "seeds = 3"))))
    assert isinstance(spec, Spec)
    tasks = make_tasks(grid_points(spec), [0, 1, 2], spec.window_days)
    run_dir = tmp_path / "runs"
    first = run_sweep(tasks, run_dir, workers=2, progress=False, fn=die_on_seed_1)
    lost = [r for r in first if r["status"] == "failed"]
    assert lost and all("worker lost" in r["error"] for r in lost)
    assert any(r["seed"] == 1 for r in lost)
    assert len(list(run_dir.glob("*.json"))) == len(first) - len(lost)  # lost runs not written
    again = run_sweep(tasks, run_dir, workers=2, progress=False)
    assert all(r["status"] == "ok" for r in again) and len(again) == len(tasks)


def test_retry_failed_reruns_recorded_failures(tmp_path, monkeypatch):
    real = outcomes.run_metrics

    def broken(overrides, seed, window_days):
        raise RuntimeError("transient")

    monkeypatch.setattr(outcomes, "run_metrics", broken)
    spec = str(write_spec(tmp_path, GOOD))
    first = run_experiment(spec, workers=1, out=tmp_path / "o", progress=False, figures=False)
    assert first.failures == 6
    monkeypatch.setattr(outcomes, "run_metrics", real)
    kept = run_experiment(spec, workers=1, out=tmp_path / "o", progress=False, figures=False)
    assert kept.failures == 6  # a recorded failure is a result: kept unless asked
    retried = run_experiment(
        spec, workers=1, out=tmp_path / "o", progress=False, retry_failed=True, figures=False
    )
    assert retried.failures == 0


@pytest.mark.parametrize(
    ("replace", "expected"),
    [
        (('"savers.allocation" = 0.05 }', '"savers.allocation" = 0.07 }'), "answer.treatment"),
        (
            (
                'metric = "annualized_volatility"\ntreatment',
                'metric = "annualized_volatility"\nacross = "x"\ntreatment',
            ),
            "answer.across",
        ),
        (("seeds = 2", 'seeds = 2\ncontrol_ignores = ["savers.channel"]'), "control_ignores"),
        (("[base]", '[base]\n"shock.day" = 100'), "window"),
    ],
)
def test_spec_mistakes_found_only_after_a_sweep_are_caught_before(
    tmp_path, capsys, replace, expected
):
    text = GOOD.replace(*replace)
    assert text != GOOD
    out = tmp_path / "out"
    assert main(["experiment", str(write_spec(tmp_path, text)), "--out", str(out)]) == 2
    assert expected in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("name", ["dampen", "backlash", "fiscal"])
def test_the_upper_bound_of_flows_is_the_upper_bound_scenario(name):
    from crypto401k.model import scenarios
    from crypto401k.model.config import Config

    spec = load_spec(name)
    assert Config().with_overrides(spec.variants["flows"]["upper_bound"]) == scenarios.load(
        "upper_bound"
    )
    assert spec.variants["flows"]["true_size"] == {}
