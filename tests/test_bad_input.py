"""Issue 20: every bad input is refused before any work (exit 2, one line naming the field,
its value and what is allowed, nothing written), results are never overwritten by mistake,
and a sweep never hangs.

Most cases call the CLI's `main()` in this process; `simulate` and the sweep are replaced by
functions that fail the test, so a refusal that came only after the work would be caught.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from crypto401k.experiments import books as books_mod
from crypto401k.experiments import calibrate as calibrate_mod
from crypto401k.experiments import experiment as experiment_mod
from crypto401k.experiments import run as run_mod
from crypto401k.experiments import sweep as sweep_mod
from crypto401k.experiments import validate as validate_mod
from crypto401k.experiments.app.inputs import config_from_controls
from crypto401k.experiments.cli import main
from crypto401k.experiments.experiment import FolderLock, run_experiment
from crypto401k.model.config import Config, ConfigError, parameter_table, parse_set_option
from crypto401k.model.model import Crypto401kModel
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import small_config

CLI = [sys.executable, "-m", "crypto401k.experiments.cli"]
SMALL = ["--config", "btc_only", "--steps", "30", "--set", "savers.n_cohorts=50"]
SMALL += ["--set", "traders.n_traders=40", "--set", "savers.n_employers=5"]

SPEC = """
name = "mine"
question = "q?"
seeds = 2
years = 0.4
metrics = ["annualized_volatility"]
[base]
"savers.n_cohorts" = 60
"traders.n_traders" = 60
"savers.n_employers" = 6
[grid]
"savers.allocation" = [0.05]
[control]
"savers.allocation" = 0.0
[answer]
metric = "annualized_volatility"
treatment = { "savers.allocation" = 0.05 }
subject = "Five percent"
"""


def _spec(folder: Path, text: str = SPEC) -> str:
    path = folder / "my.toml"
    path.write_text(text)
    return str(path)


@pytest.fixture
def no_work(monkeypatch):
    """Any simulation or sweep fails the test: a refusal must come before the work."""

    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("work started before the input was refused")

    monkeypatch.setattr(run_mod, "simulate", forbidden)
    monkeypatch.setattr(experiment_mod, "run_sweep", forbidden)
    monkeypatch.setattr(validate_mod, "map_seeds", forbidden)
    monkeypatch.setattr(calibrate_mod, "map_seeds", forbidden)


def _tree(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` with its content (to see that nothing changed)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def refused(argv: list[str], capsys, *expected: str) -> str:
    """main(argv) exits 2 with one line that names each of `expected`; returns the line."""
    assert main(argv) == 2
    captured = capsys.readouterr()
    err = captured.err
    assert err.startswith("crypto401k: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for text in expected:
        assert text in err, (text, err)
    assert any(w in err for w in ("must", "allowed", "choose", "expected", "use ", "wait")), err
    return err


# ---- parameters ------------------------------------------------------------------------------
def _float_fields() -> list[str]:
    """Dotted names of every float parameter (an asset's as assets.0.NAME)."""
    cfg = Config()
    names = []
    for row in parameter_table():
        path = row["parameter"]
        if path.startswith("agencies.rules."):
            continue  # Config() has no rules
        path = path.replace("assets.", "assets.0.", 1) if path.startswith("assets.") else path
        node: Any = cfg
        for part in path.split(".")[:-1]:
            node = node[int(part)] if part.isdigit() else getattr(node, part)
        ann = str(type(node).model_fields[path.split(".")[-1]].annotation)
        if "float" in ann and "list" not in ann and "dict" not in ann:
            names.append(path)
    return names


FLOATS = _float_fields()


def test_every_float_parameter_has_a_finite_range():
    assert len(FLOATS) > 50
    base = Config()
    for name in FLOATS:
        for bad in (float("inf"), float("-inf"), float("nan"), 1e308, -1e308):
            with pytest.raises(ConfigError) as exc:
                base.with_overrides({name: bad})
            msg = str(exc.value)
            assert msg.startswith(f"{name} = {bad}:"), msg
            assert "\n" not in msg


def test_inf_contributions_and_assets_are_refused(tmp_path, capsys, no_work):
    out = tmp_path / "o"
    for item in ("savers.contributions_usd_per_year=inf", "savers.plan_assets_usd=inf"):
        refused(["run", *SMALL, "--set", item, "--out", str(out)], capsys, item.split("=")[0])
    err = refused(["run", "--set", "savers.allocation=nan", "--out", str(out)], capsys)
    assert "savers.allocation = nan: must be a finite number" in err  # not 'nan' in quotes
    assert not out.exists()


def test_a_bool_is_not_a_number_nor_a_number_a_bool(capsys, no_work, tmp_path):
    out = str(tmp_path / "o")
    refused(["run", "--set", "savers.n_cohorts=true", "--out", out], capsys, "n_cohorts", "bool")
    refused(["run", "--set", "regulator.enabled=1", "--out", out], capsys, "true or false")


def test_fund_leverage_stays_within_what_exchanges_offered(capsys, no_work, tmp_path):
    out = str(tmp_path / "o")
    refused(["run", "--set", "institutions.leverage_max=150", "--out", out], capsys, "100")
    refused(["run", "--set", "institutions.leverage_target=80", "--out", out], capsys, "50")


def test_weak_messages_are_clear(capsys, no_work, tmp_path):
    out = str(tmp_path / "o")
    err = refused(["run", "--config", "four_asset", "--out", out], capsys, "'four_asset'")
    assert "four_assets" in err and "btc_only" in err
    refused(["run", "--config", "", "--out", out], capsys, "--config = ''")
    err = refused(["run", "--set", "savers=1", "--out", out], capsys, "savers = 1", "section")
    assert "SaverConfig" not in err and "allocation" in err


def test_an_asset_name_that_would_escape_its_folder_is_refused(tmp_path, capsys, no_work):
    scenario = tmp_path / "s.toml"
    scenario.write_text('[[assets]]\nname = "a/../b"\n')
    refused(["run", "--config", str(scenario), "--out", str(tmp_path / "o")], capsys, "a/../b")


# ---- run --out --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "where",
    ["under_a_file", "/proc/crypto401k-x", "/sys/crypto401k-x", "long", "", "file"],
)
def test_run_out_is_checked_before_the_simulation(tmp_path, capsys, no_work, where):
    (tmp_path / "f").write_text("precious")
    out = {
        "under_a_file": str(tmp_path / "f" / "run"),
        "long": str(tmp_path / ("x" * 300)),
        "file": str(tmp_path / "f"),
    }.get(where, where)
    before = _tree(tmp_path)
    refused(["run", *SMALL, "--out", out], capsys, "--out")
    assert _tree(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]


@pytest.mark.parametrize(
    "what", ["own_config", "folder_named_as_a_file", "own_summary", "symlink", "here", "above"]
)
def test_run_out_never_replaces_what_a_run_did_not_write(
    tmp_path, capsys, no_work, what, monkeypatch
):
    # a run replaces its folder whole: only an earlier run's four plain files may be there
    out = tmp_path / "proj"
    out.mkdir()
    if what == "own_config":  # the user's commented scenario, given as --config too
        (out / "config.toml").write_text("# mine\n[savers]\nallocation = 0.05 # five\n")
    elif what == "folder_named_as_a_file":
        (out / "timeseries.csv").mkdir()
        (out / "timeseries.csv" / "important.txt").write_text("precious")
    elif what == "own_summary":  # the four names, but not a run's summary
        for name in ("timeseries.parquet", "timeseries.csv", "config.toml"):
            (out / name).write_text("x")
        (out / "summary.json").write_text('{"thesis": "mine"}')
    elif what == "symlink":
        (tmp_path / "link").symlink_to(out, target_is_directory=True)
    else:  # the current folder, or one above it
        (out / "inner").mkdir()
        monkeypatch.chdir(out if what == "here" else out / "inner")
    target = {"symlink": str(tmp_path / "link"), "here": ".", "above": ".."}.get(what, str(out))
    before = _tree(tmp_path)
    argv = ["run", *SMALL, "--out", target]
    if what == "own_config":
        argv[1:3] = ["--config", str(out / "config.toml")]
    refused(argv, capsys, "--out", repr(target))
    assert _tree(tmp_path) == before


def test_run_out_replaces_an_earlier_run_s_output(tmp_path, capsys):
    out = tmp_path / "latest"
    assert main(["run", *SMALL, "--out", str(out), "--quiet"]) == 0
    first = (out / "summary.json").read_text()
    assert main(["run", *SMALL, "--seed", "2", "--out", str(out), "--quiet"]) == 0
    assert (out / "summary.json").read_text() != first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest"]


SENSITIVITY = """
name = "mine"
kind = "sensitivity"
question = "q"
seeds = 2
years = 0.1
metrics = ["annualized_volatility", "max_drawdown"]

[sensitivity]
morris_trajectories = 2
sobol_samples = 2
sobol_top = 1
{extra}

[sensitivity.bounds]
{bounds}
"""


@pytest.mark.parametrize(
    ("extra", "bounds", "expected"),
    [
        ('screen_metric = "nope"', '"savers.allocation" = [0.0, 0.05]', ["screen_metric", "nope"]),
        ("", "", ["sensitivity.bounds", "empty"]),
        ("", '"savers.n_cohorts" = [10, 100]', ["sensitivity.bounds.savers.n_cohorts", "integer"]),
        ("", '"savers.allocation" = [0.0, 5.0]', ["sensitivity.bounds.savers.allocation", "1"]),
        ("", '"savers.allocation" = [0.05, 0.01]', ["sensitivity.bounds.savers.allocation"]),
    ],
)
def test_a_sensitivity_spec_is_checked_before_its_runs(
    tmp_path, capsys, no_work, extra, bounds, expected
):
    # each of these stopped a sensitivity analysis after its first runs, or with a traceback
    spec = _spec(tmp_path, SENSITIVITY.format(extra=extra, bounds=bounds))
    before = _tree(tmp_path)
    refused(["experiment", spec, "--out", str(tmp_path / "o")], capsys, *expected)
    assert _tree(tmp_path) == before and not (tmp_path / "o").exists()


@pytest.mark.parametrize("entry", [".crypto401k.lock", "runs"])
def test_an_experiment_folder_with_a_strange_lock_or_runs_is_refused(
    tmp_path, capsys, no_work, entry
):
    # a lock that is a folder, or runs that is a file, gave a traceback
    spec = _spec(tmp_path)
    out = tmp_path / "o"
    out.mkdir()
    (out / "manifest.json").write_text(json.dumps({"experiment": "mine"}))
    if entry == "runs":
        (out / "runs").write_text("x")
    else:
        (out / entry).mkdir()
    before = _tree(tmp_path)
    refused(["experiment", spec, "--out", str(out)], capsys, "--out", repr(entry))
    assert _tree(tmp_path) == before


def test_non_ascii_out_with_an_ascii_terminal_is_no_traceback(tmp_path):
    out = tmp_path / "résultats"
    env = {**os.environ, "PYTHONIOENCODING": "ascii"}
    proc = subprocess.run(
        [*CLI, "run", *SMALL, "--out", str(out)], env=env, capture_output=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    assert b"Traceback" not in proc.stderr
    assert b"r\\xe9sultats" in proc.stdout and (out / "summary.json").exists()


def test_a_killed_runs_temporary_folder_is_removed_by_the_next_run(tmp_path, capsys):
    out = tmp_path / "latest"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # a pid that no longer runs
    stale = tmp_path / f".latest.{run_mod.TMP_TAG}-{dead.pid}"
    stale.mkdir()
    (stale / "timeseries.csv").write_text("half written")
    old = tmp_path / f".latest.{run_mod.OLD_TAG}-{dead.pid}"
    old.mkdir()
    alive = tmp_path / f".latest.{run_mod.TMP_TAG}-{os.getppid()}"  # a live process's
    alive.mkdir()
    assert main(["run", *SMALL, "--out", str(out), "--quiet"]) == 0
    assert not stale.exists() and not old.exists() and alive.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([alive.name, "latest"])


# ---- the books --------------------------------------------------------------------------------
def test_books_check_has_a_tolerance_a_verdict_and_fails_on_nan():
    m = Crypto401kModel(small_config(run__steps=20))
    m.run()
    good = books_mod.books_check(m)
    assert good["ok"] and not good["failed"]
    assert all(abs(good[k]) <= good["tolerance"][k] for k in ("cash_error_usd",))
    assert "balanced" in books_mod.books_line(good)
    m.outside_cash += 1e3 * good["tolerance"]["cash_error_usd"]  # a leak far above rounding
    leak = books_mod.books_check(m)
    assert not leak["ok"] and leak["failed"] == ["cash_error_usd"]
    assert "DO NOT BALANCE" in books_mod.books_line(leak)
    m.outside_cash = float("nan")
    assert not books_mod.books_check(m)["ok"]


def test_a_run_whose_books_do_not_balance_exits_1_and_keeps_its_outputs(
    tmp_path, capsys, monkeypatch
):
    real = books_mod.books_check

    def leaky(m, rtol=books_mod.BOOKS_RTOL):
        m.outside_cash += 1e9  # a billion dollars from nowhere
        return real(m, rtol)

    monkeypatch.setattr(run_mod, "books_check", leaky)  # the name the run's summary calls
    out = tmp_path / "run"
    assert main(["run", *SMALL, "--out", str(out)]) == 1
    captured = capsys.readouterr()
    assert "books        DO NOT BALANCE: cash_error_usd" in captured.out
    assert captured.err.count("\n") == 1 and "cash_error_usd" in captured.err
    books = json.loads((out / "summary.json").read_text())["books"]
    assert books["ok"] is False and books["failed"] == ["cash_error_usd"]


def test_books_check_covers_the_stablecoin():
    cfg = Config.from_toml(
        Path(__file__).parent.parent / "model" / "scenarios" / "four_assets.toml"
    ).with_overrides(
        {"savers.n_cohorts": 50, "traders.n_traders": 40, "savers.n_employers": 5, "run.steps": 15}
    )
    m = Crypto401kModel(cfg)
    m.run()
    books = books_mod.books_check(m)
    assert books["ok"]
    assert {"stable_supply_vs_held_error", "stable_supply_vs_reserve_error"} <= set(books)
    m.stablecoin.supply *= 1.01
    assert not books_mod.books_check(m)["ok"]


def test_a_failed_books_check_is_a_flagged_run_in_a_sweep(monkeypatch):
    from crypto401k.experiments import outcomes, worker

    def broken(m, rtol=books_mod.BOOKS_RTOL):
        return {"ok": False, "failed": ["cash_error_usd"], "cash_error_usd": 5.0,
                "tolerance": {"cash_error_usd": 1.0}, "rtol": rtol}  # fmt: skip

    monkeypatch.setattr(outcomes, "books_check", broken)
    record = worker.execute(
        {"point": 0, "seed": 1, "overrides": {"run.steps": 10, "savers.n_cohorts": 20}}
    )
    assert record["status"] == "failed" and "BooksError" in record["error"]
    assert "cash_error_usd" in record["error"]


# ---- experiment ------------------------------------------------------------------------------
def test_experiment_out_empty_is_refused_not_the_canonical_results(tmp_path, capsys, no_work):
    os.chdir(tmp_path)
    try:
        refused(["experiment", "dampen", "--out", ""], capsys, "--out = ''")
        assert not (tmp_path / "results").exists()
    finally:
        os.chdir(Path(__file__).parent.parent)


def test_experiment_out_must_prove_it_is_an_experiments_folder(tmp_path, capsys, no_work):
    spec = _spec(tmp_path)
    mixed = tmp_path / "mixed"
    (mixed / "runs").mkdir(parents=True)
    (mixed / "src").mkdir()
    (mixed / "README.md").write_text("mine")
    before = _tree(mixed)
    refused(["experiment", spec, "--out", str(mixed)], capsys, str(mixed), "manifest")
    assert _tree(mixed) == before and sorted(p.name for p in mixed.iterdir()) == [
        "README.md",
        "runs",
        "src",
    ]
    other = tmp_path / "other"
    other.mkdir()
    (other / "manifest.json").write_text(json.dumps({"experiment": "dampen"}))
    refused(["experiment", spec, "--out", str(other)], capsys, "'dampen'", "'mine'")
    refused(["experiment", spec, "--out", str(tmp_path / "my.toml" / "x")], capsys, "--out")


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (("years = 0.4", "years = inf"), "years"),
        (("years = 0.4", "years = nan"), "years"),
        (("seeds = 2", "seeds = 1000000000"), "seeds"),
        (('"savers.n_cohorts" = 60', '"savers.n_cohorts" = nan'), "savers.n_cohorts"),
    ],
)
def test_bad_spec_values_are_refused(tmp_path, capsys, no_work, edit, expected):
    spec = _spec(tmp_path, SPEC.replace(*edit))
    refused(["experiment", spec, "--out", str(tmp_path / "o")], capsys, expected)
    assert not (tmp_path / "o").exists()


def test_experiment_flags_have_ranges(tmp_path, capsys, no_work):
    out = str(tmp_path / "o")
    refused(["experiment", "dampen", "--quick", "--seeds", "1000000000", "--out", out], capsys,
            "--seeds = 1000000000")  # fmt: skip
    refused(["experiment", "dampen", "--workers", "100000", "--out", out], capsys, "--workers")
    refused(["experiment", "dampen", "--seeds", "nan", "--out", out], capsys, "--seeds")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("call", "library", "flag"),
    [
        (lambda o: run_experiment("dampen", seeds=0, out=o), "seeds = 0:", "--seeds = 0:"),
        (lambda o: run_experiment("dampen", workers=0, out=o), "workers = 0:", "--workers = 0:"),
        (lambda o: run_experiment("dampen", out=""), "out = '':", "--out = '':"),
        (lambda o: validate_mod.check_sweep(1, -1.0, 1), "years = -1:", "--years = -1:"),
        (lambda o: validate_mod.read_btc_data(o / "none.csv"), "data = ", "--data = "),
    ],
)
def test_the_library_names_parameters_and_the_cli_flags(tmp_path, no_work, call, library, flag):
    """A library call's message names its parameter (`seeds = 0`), not a flag; the command
    line says the same with the flag (`--seeds = 0`)."""
    from crypto401k.experiments.cli import as_flags

    with pytest.raises(ConfigError) as caught:
        call(tmp_path)
    message = str(caught.value)
    assert message.startswith(library) and "--" not in message.split(":")[0]
    assert as_flags(message).startswith(flag)


def test_validate_assets_data_is_named_by_its_flag(tmp_path, capsys, no_work):
    data = tmp_path / "assets.csv"
    data.write_text("date,btc_close\n")
    argv = ["validate", "--assets", "--assets-data", str(data), "--out", str(tmp_path / "v")]
    refused(argv, capsys, "--assets-data = ")


def test_an_experiment_too_big_for_memory_is_refused(tmp_path, capsys, no_work, monkeypatch):
    from crypto401k.model import memory

    monkeypatch.setattr(memory, "available_bytes", lambda: 4_000_000_000)
    text = SPEC.replace('"savers.n_cohorts" = 60', '"savers.n_cohorts" = 5000000')
    text = text.replace('"traders.n_traders" = 60', '"traders.n_traders" = 3000000')
    refused(["experiment", _spec(tmp_path, text), "--out", str(tmp_path / "o")], capsys,
            "memory", "largest point")  # fmt: skip
    assert not (tmp_path / "o").exists()


def test_a_resource_failure_is_not_stored_as_a_permanent_failure(tmp_path):
    tasks = [{"key": "k", "point": 0, "stage": "grid", "seed": s, "overrides": {}} for s in (0, 1)]

    def out_of_memory(task):
        error = "MemoryError: " if task["seed"] == 0 else "ValueError: a real failure"
        return {**{k: v for k, v in task.items() if k != "overrides"}, "status": "failed",
                "error": error}  # fmt: skip

    records = sweep_mod.run_sweep(tasks, tmp_path, workers=1, progress=False, fn=out_of_memory)
    assert records[0].get("lost") and not records[1].get("lost")
    assert sorted(p.name for p in tmp_path.glob("*.json")) == ["k-seed1.json"]
    errno = {"status": "failed", "error": "OSError: [Errno 28] No space left on device"}
    assert sweep_mod.is_resource_failure(errno)
    assert not sweep_mod.is_resource_failure({"status": "failed", "error": "OSError: [Errno 2]"})


def test_a_second_sweep_on_a_locked_folder_is_refused_then_waits(tmp_path, capsys):
    spec = _spec(tmp_path)
    out = tmp_path / "o"
    out.mkdir()
    holder = FolderLock(out)
    try:
        err = refused(["experiment", spec, "--out", str(out), "--quiet"], capsys, "--wait")
        assert f"pid {os.getpid()}" in err
        assert sorted(p.name for p in out.iterdir()) == [experiment_mod.LOCK_FILE]
        threading.Timer(1.0, holder.release).start()
        t0 = time.monotonic()
        result = run_experiment(spec, workers=1, out=out, progress=False, wait=True)
        assert time.monotonic() - t0 >= 0.9 and result.failures == 0
    finally:
        holder.release()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["experiment"] == "mine" and manifest["runs"]["ok"] == 4
    assert not list(out.glob(".tmp-*"))  # temporary files have unique names and are gone


# ---- Dask ------------------------------------------------------------------------------------
def test_unreachable_or_malformed_scheduler_is_one_line_fast(tmp_path):
    spec = _spec(tmp_path)
    for address in ("notaurl", "tcp://127.0.0.1:9"):
        t0 = time.monotonic()
        proc = subprocess.run(
            [*CLI, "experiment", spec, "--scheduler", address, "--out", str(tmp_path / "o")],
            capture_output=True,
            text=True,
            timeout=120,
        )
        took = time.monotonic() - t0
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert address in proc.stderr
        assert took < 60  # was: the message, then ~20 s and a Client.__del__ traceback
        assert not (tmp_path / "o").exists()


def _sleepy(task: dict[str, Any]) -> dict[str, Any]:
    """A task for the Dask test: seed 0 finishes at once, the others take long."""
    time.sleep(0.05 if task["seed"] == 0 else 6.0)
    return {**{k: v for k, v in task.items() if k != "overrides"}, "status": "ok", "error": ""}


def test_a_dask_cluster_that_loses_every_worker_stops_in_bounded_time(tmp_path):
    distributed = pytest.importorskip("distributed")
    tasks = [
        {"key": "k", "point": 0, "stage": "grid", "seed": s, "overrides": {}} for s in range(3)
    ]
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=3, processes=False, dashboard_address=None
    ) as cluster, distributed.Client(cluster, set_as_default=False) as client:  # fmt: skip
        address = cluster.scheduler_address

        def kill_workers_after_the_first_run() -> None:
            while not (tmp_path / "k-seed0.json").exists():
                time.sleep(0.05)
            cluster.scale(0)  # every worker gone; the other runs are in flight

        threading.Thread(target=kill_workers_after_the_first_run, daemon=True).start()
        t0 = time.monotonic()
        with pytest.raises(sweep_mod.SweepStoppedError) as exc:
            sweep_mod.run_sweep(
                tasks, tmp_path, client=client, progress=False, fn=_sleepy, no_worker_s=1.5
            )
        took = time.monotonic() - t0
    message = str(exc.value)
    assert address in message and "\n" not in message and "resume" in message
    assert took < 30  # was: forever
    assert sorted(p.name for p in tmp_path.glob("*.json")) == ["k-seed0.json"]  # kept


# ---- validate and calibrate ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["validate", "--years", "inf"], "--years = inf"),
        (["validate", "--years", "1001"], "--years = 1001"),
        (["validate", "--seeds", "1000000000"], "--seeds"),
        (["calibrate", "--years", "inf"], "--years = inf"),
        (["calibrate", "--years", "nan"], "--years = nan"),
    ],
)
def test_validate_and_calibrate_sizes(tmp_path, capsys, no_work, argv, expected):
    monkey = [*argv, "--out", str(tmp_path / "v")] if argv[0] == "validate" else argv
    err = refused(monkey, capsys, expected)
    assert "run.steps" not in err
    assert not (tmp_path / "v").exists()


@pytest.mark.parametrize("content", ["", "date,close\n", "date,close\n2020-01-01,100\n"])
def test_validate_data_too_short_is_refused(tmp_path, capsys, no_work, content):
    data = tmp_path / "btc.csv"
    data.write_text(content)
    refused(["validate", "--data", str(data), "--out", str(tmp_path / "v")], capsys, "--data")
    assert not (tmp_path / "v").exists()


def test_validate_out_is_checked_before_the_runs(tmp_path, capsys, no_work):
    (tmp_path / "f").write_text("x")
    refused(["validate", "--seeds", "1", "--out", str(tmp_path / "f" / "v")], capsys, "--out")


# ---- the browser app's controls --------------------------------------------------------------
def test_app_controls_are_validated_on_the_server():
    cfg = config_from_controls({"savers.allocation": 0.03, "run.steps": 30})
    assert cfg.savers.allocation == 0.03 and cfg.run.steps == 30
    for bad in (
        {"savers.allocation": 1.5},
        {"savers.allocation": float("nan")},
        {"savers.n_cohorts": True},
        {"no.such": 1},
        {"savers.n_cohorts": "many"},
    ):
        with pytest.raises(ConfigError) as exc:
            config_from_controls(bad)
        assert next(iter(bad)) in str(exc.value)
    with pytest.raises(ConfigError, match="memory"):
        config_from_controls({"savers.n_cohorts": 5_000_000}, available_bytes=10**9)


# ---- fuzz ------------------------------------------------------------------------------------
_ROWS = [r for r in parameter_table() if not r["parameter"].startswith("agencies.rules.")]


def _kind(path: str) -> str:
    node: Any = Config()
    parts = path.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else getattr(node, part)
    ann = str(type(node).model_fields[parts[-1]].annotation)
    if "list" in ann or "dict" in ann:
        return "other"
    if "Literal" in ann:
        return "choice"
    if ann in ("<class 'bool'>", "bool"):
        return "bool"
    if "float" in ann or "int" in ann:
        return "number"
    return "other"


def _path(row: dict) -> str:
    p = row["parameter"]
    return p.replace("assets.", "assets.0.", 1) if p.startswith("assets.") else p


BAD = {
    "number": ["inf", "-inf", "nan", "1e308", "-1e308", "true", "false", "'abc'", "[1]"],
    "bool": ["2", "0.5", "'abc'", "inf", "[true]"],
    "choice": ["'no_such_option'", "nan", "3", "true"],
}
FUZZ_PARAMS = [(_path(r), _kind(_path(r))) for r in _ROWS]
FUZZ_PARAMS = [(p, k) for p, k in FUZZ_PARAMS if k in BAD]


@st.composite
def bad_set(draw):
    path, kind = draw(st.sampled_from(FUZZ_PARAMS))
    return path, draw(st.sampled_from(BAD[kind]))


FLAG_CASES = [
    (["run", "--steps"], ["0", "-5", "1e9", "inf", "x", "true", "365001"], "run.steps"),
    (["run", "--seed"], ["-1", "x", "nan", "1.5"], "run.seed"),
    (["validate", "--seeds"], ["0", "-1", "x", "inf", "1000001"], "--seeds"),
    (["validate", "--years"], ["0", "-1", "inf", "nan", "x", "1e9"], "--years"),
    (["validate", "--workers"], ["0", "x", "100000"], "--workers"),
    (["calibrate", "--seeds"], ["0", "x", "1000001"], "--seeds"),
    (["experiment", "dampen", "--seeds"], ["0", "x", "nan", "1000000000"], "--seeds"),
    (["experiment", "dampen", "--workers"], ["0", "-3", "x", "999999"], "--workers"),
]


@st.composite
def bad_flag(draw):
    head, values, field = draw(st.sampled_from(FLAG_CASES))
    return head, draw(st.sampled_from(values)), field


def _assert_clean_refusal(argv: list[str], field: str, value: str, out: Path, capsys) -> None:
    capsys.readouterr()  # capsys lives across hypothesis's examples: start from nothing
    before = _tree(out.parent)
    assert main(argv) == 2, argv
    err = capsys.readouterr().err
    assert err.startswith("crypto401k: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    assert field in err, (field, err)
    shown = {value.strip("'[]").lower(), repr(parse_set_option(f"k={value}")[1]).lower()}
    assert any(v in err.lower() for v in shown), (value, err)
    assert not out.exists() and _tree(out.parent) == before


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=bad_set())
def test_fuzz_random_bad_values_for_random_parameters(case, tmp_path_factory, capsys):
    path, value = case
    out = tmp_path_factory.getbasetemp() / "fuzz-set" / "o"
    out.parent.mkdir(exist_ok=True)
    argv = ["run", "--config", "btc_only", "--set", f"{path}={value}", "--out", str(out)]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(run_mod, "simulate", lambda cfg: pytest.fail(f"{path}={value} accepted"))
        _assert_clean_refusal(argv, path, value, out, capsys)


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=bad_flag())
def test_fuzz_random_bad_flags(case, tmp_path_factory, capsys):
    head, value, field = case
    out = tmp_path_factory.getbasetemp() / "fuzz-flag" / "o"
    out.parent.mkdir(exist_ok=True)
    argv = [*head, value]
    if head[0] in ("run", "validate", "experiment"):
        argv += ["--out", str(out)]
    with pytest.MonkeyPatch.context() as mp:
        forbidden = lambda *a, **k: pytest.fail(f"{argv} accepted")  # noqa: E731
        mp.setattr(run_mod, "simulate", forbidden)
        mp.setattr(experiment_mod, "run_sweep", forbidden)
        mp.setattr(validate_mod, "map_seeds", forbidden)
        mp.setattr(calibrate_mod, "map_seeds", forbidden)
        _assert_clean_refusal(argv, field, value, out, capsys)


def test_run_still_works_after_every_check(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", *SMALL, "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["books"]["ok"] and np.isfinite(summary["books"]["cash_error_usd"])
    assert "books        balanced" in capsys.readouterr().out
