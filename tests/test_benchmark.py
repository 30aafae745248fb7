"""The benchmark command and the memory estimate (no test asserts on wall time)."""

import json
import subprocess
import sys
from pathlib import Path

import crypto401k.model.memory as memory
import pytest
from crypto401k.experiments.cli import main as cli_main
from crypto401k.model.config import ConfigError

from benchmarks import run as bench

ROOT = Path(__file__).resolve().parents[1]


def test_benchmark_command_writes_every_figure(tmp_path, capsys):
    out = tmp_path / "results.json"
    args = ["--sizes", "300", "--years", "0.05", "--sweep-runs", "2", "--sweep-years", "0.02"]
    args += ["--repeat", "2"]  # best of two timings (three by default): the same code path
    assert bench.main([*args, "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    size = report["sizes"]["300"]
    for kind in ("engine", "reference"):
        r = size[kind]
        assert r["agents"] == 300 and r["construction_s"] > 0 and r["us_per_agent_day"] > 0
        assert r["peak_bytes"] > 0
    assert size["engine"]["final_price"] == size["engine"]["final_price"] > 0
    assert size["speedup"] > 0 and size["same_price_after_window"]
    assert len(size["reference_window_us_per_agent_day"]) == 2
    assert [(s["scenario"], s["workers"]) for s in report["sweep"]] == [
        ("btc_only", 1),
        ("btc_only", 2),
        ("four_assets", 1),
        ("four_assets", 2),
    ]
    for name, assets in (("btc_only", 1), ("four_assets", 4)):
        day = report["scenarios"][name]
        assert day["assets"] == assets and day["agents"] > 3_000
        assert len(day["ms_per_day"]) == 2 and day["best_ms_per_day"] == min(day["ms_per_day"])
    assert report["targets"]["four_assets_ms_per_day"]["value"] > 0
    assert all(s["failed"] == 0 and s["runs_per_minute"] > 0 for s in report["sweep"])
    assert report["machine"]["cores"] >= 1
    assert "speed-up" in capsys.readouterr().out


def test_benchmark_refuses_a_size_that_does_not_fit_before_running(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(memory, "available_bytes", lambda: 1_000_000_000)
    out = tmp_path / "results.json"
    assert bench.main(["--sizes", "1000", "3000000", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("benchmark: error: ") and err.count("\n") == 1
    assert "3,000,000 agents" in err and "needs about" in err and "1.00 GB available" in err
    assert not out.exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["--sizes", "10"],
        ["--years", "0"],
        ["--years", "nan"],
        ["--sweep-years", "inf"],
        ["--sweep-runs", "0"],
        ["--repeat", "0"],
        ["--out", "/no/such/folder/results.json"],
    ],
)
def test_benchmark_bad_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        bench.main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("benchmark: error: --") and err.count("\n") == 1


def test_run_refuses_a_scenario_that_does_not_fit(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(memory, "available_bytes", lambda: 2_000_000_000)
    out = tmp_path / "run"
    argv = ["run", "--set", "savers.n_cohorts=100000", "--set", "run.collect_agent_data=true"]
    assert cli_main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "101,020 agents over 3,650 days" in err and "run.collect_agent_data = false" in err
    assert not out.exists()


def _peak(n: int, days: int) -> int:
    code = (
        "from benchmarks.run import peak_bytes, scenario; "
        "from crypto401k.model.model import Crypto401kModel; "
        f"m = Crypto401kModel(scenario({n}, {days}), rng=1); m.run_for({days}); "
        "print(peak_bytes())"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return int(run.stdout)


def test_memory_estimate_bounds_the_measured_peak_and_its_growth():
    # fresh interpreters build 20,000 and 80,000 agents and run a month: each peak lies under
    # the estimate, and the growth per agent under the estimate's but not far under it (an
    # estimate that refuses what fits is no better than none)
    sizes, days = (20_000, 80_000), 30
    peaks = [_peak(n, days) for n in sizes]
    estimates = [memory.estimate_bytes(bench.scenario(n, days)) for n in sizes]
    assert all(p < e for p, e in zip(peaks, estimates, strict=True))
    measured = (peaks[1] - peaks[0]) / (sizes[1] - sizes[0])
    estimated = (estimates[1] - estimates[0]) / (sizes[1] - sizes[0])
    assert 0.5 * estimated < measured < estimated


def test_check_fits_names_the_sizes_and_counts_copies():
    cfg = bench.scenario(10_000, 365)
    need = memory.check_fits(cfg, available=10**12)
    assert need == memory.estimate_bytes(cfg)
    with pytest.raises(ConfigError, match=r"x 4 runs at once: needs about"):
        memory.check_fits(cfg, available=3 * need, copies=4)
