"""The performance benchmark: one command, one table, `benchmarks/results.json`.

    .venv/bin/python -m benchmarks.run [--sizes 1000 10000 100000] [--years 10] [--profile]

For each size it times, each in a fresh process (so that peak memory is the run's own):
- the engine (`Crypto401kModel`): construction, then `--years` of days, in a new
  interpreter as `crypto401k run` is (the one-time loading of compiled rules timed; the
  import is not timed but is in the peak memory);
- the plain Mesa reference (`benchmarks/reference.py`: one Python object and one `step`
  per agent) over the first days of the same run, and the engine over the same days, best
  of `--repeat`, the repeats in processes forked from the sweep's fork server (as a sweep's
  workers are: no one-time costs): their ratio is the speed-up;
- peak resident memory of the new interpreters, and its increase over the bare interpreter
  per agent.
Then the built-in scenarios at their own size (3,000-odd agents): milliseconds per simulated
day of `btc_only` and of the four-asset default, best of `--repeat` windows of a year (in a
process forked from the fork server); the
sweep throughput (runs per minute) of both over `--sweep-years` on 1 and 2 local worker
processes, as `crypto401k experiment` runs them; and, with `--profile`, where a default
day's time goes (benchmarks/profile.txt).

Sizes that would not fit in memory are refused before anything runs (exit status 2).
Never run by the tests: they assert results, not wall time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any, NoReturn

import crypto401k.model.memory as memory
from crypto401k.model.config import Config, ConfigError
from crypto401k.model.memory import check_fits, gb

HERE = Path(__file__).resolve().parent
DEFAULT_SIZES = (1_000, 3_000, 10_000, 100_000)
REFERENCE_AGENT_DAYS = 3_000_000  # the reference runs min(365 days, this / agents) days
COHORTS_PER_EMPLOYER = 40  # as in the default scenario (2,000 cohorts, 50 employers)
REFERENCE_BYTES_PER_AGENT = 6_000  # its Python objects, graph and grid: measured ~4,850
TARGETS = {  # issue 6's, then issue 18's ("Ten times more runs per minute")
    "speedup_at_10k": (">=", 20.0),
    "peak_gb_at_100k": ("<", 2.0),
    "construction_s_at_100k": ("<", 10.0),
    "speedup_at_3k": (">=", 150.0),
    "four_assets_ms_per_day": ("<=", 0.4),
    "us_per_agent_day_at_100k": ("<=", 0.1),
    "sweep_btc_only_1_worker_gain": (">=", 10.0),
    "sweep_btc_only_2_workers_gain": (">=", 10.0),
}
# runs per minute of 1-year BTC-only runs before issue 18 (results.json of 2026-11-23, commit
# 82edd0cd, quiet 2-core machine): the base of the sweep targets
SWEEP_BEFORE = {1: 80.96, 2: 163.32}
SCENARIOS = ("btc_only", "four_assets")  # the built-in scenarios timed at their own size


def scenario(n_agents: int, days: int) -> Config:
    """The default scenario scaled to `n_agents` agents: 20 institutions, two thirds of the
    rest saver cohorts and one third retail traders (as in the default), 40 cohorts per
    employer."""
    n_inst = Config().n_institutions
    savers = round(2 * (n_agents - n_inst) / 3)
    return Config().with_overrides(
        {
            "savers.n_cohorts": savers,
            "traders.n_traders": n_agents - n_inst - savers,
            "savers.n_employers": max(1, savers // COHORTS_PER_EMPLOYER),
            "run.steps": days,
        }
    )


def reference_days(n_agents: int) -> int:
    return int(min(365, max(10, REFERENCE_AGENT_DAYS // n_agents)))


def peak_bytes() -> int:
    """Peak resident memory of this process, bytes: Linux's VmHWM, which starts afresh at
    exec (`ru_maxrss` does not: a child inherits its parent's peak), else `ru_maxrss`."""
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb * (1 if sys.platform == "darwin" else 1024)


def measure(kind: str, n_agents: int, days: int, window: int, seed: int) -> dict[str, Any]:
    """Time one model in this (fresh) process: construction, the first `window` days, then
    the rest up to `days`. Returns seconds, rates and memory."""
    from crypto401k.model.model import Crypto401kModel

    from benchmarks.reference import ReferenceModel

    cls = ReferenceModel if kind == "reference" else Crypto401kModel
    cfg = scenario(n_agents, days)
    base = peak_bytes()
    start = time.perf_counter()
    m = cls(cfg, rng=seed)
    construction = time.perf_counter() - start
    recording = [0.0]  # the day's records: computing them, and the DataCollector

    def timed(fn: Any) -> Any:
        def wrapper(*args: Any) -> None:
            t = time.perf_counter()
            fn(*args)
            recording[0] += time.perf_counter() - t

        return wrapper

    m.datacollector.collect = timed(m.datacollector.collect)  # type: ignore[method-assign]
    m._set_records = timed(m._set_records)  # type: ignore[method-assign]
    start = time.perf_counter()
    m.run_for(window)
    window_s = time.perf_counter() - start
    window_price = float(m.market.price[0])
    if days > window:  # Mesa warns on a run of zero days
        m.run_for(days - window)
    run_s = time.perf_counter() - start
    peak = peak_bytes()
    start = time.perf_counter()
    _ = m.graph, m.grid  # networkx graph and Mesa space: built on first use
    graph_s = time.perf_counter() - start
    n = m.n_nodes
    return {
        "kind": kind,
        "agents": n,
        "edges": len(m.social_edges),
        "days": days,
        "construction_s": construction,
        "graph_and_grid_s": graph_s,
        "run_s": run_s,
        "us_per_agent_day": 1e6 * run_s / (n * days),
        "agent_days_per_s": n * days / run_s,
        "window_days": window,
        "window_us_per_agent_day": 1e6 * window_s / (n * window),
        "window_price": window_price,
        "records_share": recording[0] / run_s,
        "peak_bytes": peak,
        "bytes_per_agent": (peak - base) / n,
        "final_price": float(m.market.price[0]),
    }


def _call(job: tuple[Any, tuple[Any, ...]]) -> dict[str, Any]:
    fn, args = job
    return fn(*args)


def in_fresh_process(*args: Any, fn: Any = None, spawn: bool = False) -> dict[str, Any]:
    """`fn(*args)` (default `measure`) in a new process of its own.

    spawn=True: a new interpreter, which imports the model and loads its compiled rules
    itself, as `crypto401k run` does: its peak memory is a user's run's whole footprint, and
    its construction and first days include the one-time loading. Otherwise forked from the
    sweep's fork server (`experiments.sweep._context`), a fresh interpreter that has imported
    the model and loaded the rules once, as every sweep worker is: the timing of days
    without the one-time costs (and ~2.5 s of CPU less per measurement)."""
    if spawn:
        with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
            return pool.submit(fn or measure, *args).result()
    from crypto401k.experiments.sweep import in_processes

    for _, done in in_processes(1, _call, [(fn or measure, args)]):
        return done.result()
    raise AssertionError("unreachable: one job, one result")


def sweep_in_fresh_process(workers: int, runs: int, years: float, name: str) -> dict[str, Any]:
    """`sweep_throughput` in a new interpreter, as a user's `crypto401k experiment` runs: its
    workers' fork server starts with it (a pool's worker may not start processes itself)."""
    code = (
        "import json, sys; from benchmarks.run import sweep_throughput; "
        "print(json.dumps(sweep_throughput(*json.loads(sys.argv[1]))))"
    )
    args = json.dumps([workers, runs, years, name])
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    done = subprocess.run(
        [sys.executable, "-c", code, args], capture_output=True, text=True, check=True, env=env
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def scenario_day(name: str, days: int, repeat: int, seed: int = 1) -> dict[str, Any]:
    """Milliseconds per simulated day of built-in scenario `name` at its own size, in this
    (fresh) process: `repeat` windows of `days` days after a 30-day warm-up (which pays any
    compilation); the best window counts, as the machine's other work only slows one."""
    from crypto401k.model import scenarios
    from crypto401k.model.model import Crypto401kModel

    cfg = scenarios.load(name).with_overrides({"run.steps": 30 + days * repeat})
    start = time.perf_counter()
    m = Crypto401kModel(cfg, rng=seed)
    construction = time.perf_counter() - start
    m.run_for(30)
    windows = []
    for _ in range(repeat):
        start = time.perf_counter()
        m.run_for(days)
        windows.append(1e3 * (time.perf_counter() - start) / days)
    return {
        "scenario": name,
        "agents": m.n_nodes,
        "assets": m.market.n,
        "construction_s": construction,
        "days": days,
        "ms_per_day": windows,
        "best_ms_per_day": min(windows),
        "us_per_agent_day": 1e3 * min(windows) / m.n_nodes,
    }


def sweep_throughput(
    workers: int, runs: int, years: float, name: str = "btc_only"
) -> dict[str, Any]:
    """Runs per minute of built-in scenario `name` on `workers` local processes, including the
    workers' start-up, as `crypto401k experiment` runs them."""
    from crypto401k.experiments.sweep import run_sweep

    steps = round(365 * years)
    tasks = [
        {
            "key": f"bench{seed}",
            "point": 0,
            "stage": "benchmark",
            "seed": seed,
            "window_days": min(180, steps),
            "code": None,
            "overrides": {"scenario": name, "run.steps": steps},
        }
        for seed in range(runs)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        records = run_sweep(tasks, Path(tmp), workers=workers, progress=False)
        wall = time.perf_counter() - start
    failed = sum(r["status"] != "ok" for r in records)
    return {
        "scenario": name,
        "workers": workers,
        "runs": runs,
        "years": years,
        "wall_s": wall,
        "runs_per_minute": 60 * runs / wall,
        "failed": failed,
    }


def profile(name: str, days: int, out: Path) -> None:
    """pyinstrument's call tree of `days` days of built-in scenario `name` (after its
    construction and a 30-day warm-up, which are not profiled): where a day's time goes."""
    from crypto401k.model import scenarios
    from crypto401k.model.model import Crypto401kModel
    from pyinstrument import Profiler

    m = Crypto401kModel(scenarios.load(name).with_overrides({"run.steps": 30 + days}), rng=1)
    m.run_for(30)
    profiler = Profiler(interval=0.0001)
    profiler.start()
    m.run_for(days)
    profiler.stop()
    head = f"{days} days of the {name} scenario ({m.n_nodes:,} agents, {m.market.n} assets)\n"
    out.write_text(head + profiler.output_text(unicode=True, color=False, show_all=False))


def machine() -> dict[str, Any]:
    import mesa
    import networkx
    import numpy
    import scipy

    cpu = platform.processor()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = [
            ln.split(":", 1)[1].strip()
            for ln in cpuinfo.read_text().splitlines()
            if ln.startswith("model name")
        ]
        cpu = names[0] if names else cpu
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            cwd=HERE,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "commit": commit,
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 1e9, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "networkx": networkx.__version__,
        "mesa": mesa.__version__,
    }


def check_targets(
    sizes: dict[int, dict[str, Any]],
    days: dict[str, dict[str, Any]] | None = None,
    sweeps: list[dict[str, Any]] = (),
) -> dict[str, Any]:
    """Each target of issues 6 and 18 with the measured value, where it was measured."""
    values = {}
    if 10_000 in sizes:
        values["speedup_at_10k"] = sizes[10_000]["speedup"]
    if 3_000 in sizes:
        values["speedup_at_3k"] = sizes[3_000]["speedup"]
    if days and "four_assets" in days:
        values["four_assets_ms_per_day"] = days["four_assets"]["best_ms_per_day"]
    for s in sweeps:
        if s["scenario"] == "btc_only" and s["years"] == 1.0 and s["workers"] in SWEEP_BEFORE:
            name = f"sweep_btc_only_{s['workers']}_worker{'s' if s['workers'] > 1 else ''}_gain"
            values[name] = s["runs_per_minute"] / SWEEP_BEFORE[s["workers"]]
    if 100_000 in sizes:
        big = sizes[100_000]["engine"]
        values["us_per_agent_day_at_100k"] = big["us_per_agent_day"]
        values["peak_gb_at_100k"] = big["peak_bytes"] / 1e9
        values["construction_s_at_100k"] = big["construction_s"]
    out = {}
    for name, value in values.items():
        op, bound = TARGETS[name]
        met = value >= bound if op == ">=" else value < bound
        out[name] = {"value": value, "target": f"{op} {bound:g}", "met": bool(met)}
    return out


def table(
    sizes: dict[int, dict[str, Any]],
    sweeps: list[dict[str, Any]],
    days: dict[str, dict[str, Any]] | None = None,
) -> str:
    head = (
        f"{'agents':>8} {'edges':>8} {'build s':>8} {'graph s':>8} {'days':>5} "
        f"{'us/agent-day':>13} {'agent-days/s':>13} {'ref days':>8} {'ref us/a-d':>11} "
        f"{'speed-up':>9} "
        f"{'peak MB':>8} {'B/agent':>8} {'records':>8}"
    )
    lines = [head, "-" * len(head)]
    for n, r in sizes.items():
        e, ref = r["engine"], r["reference"]
        lines.append(
            f"{n:>8,} {e['edges']:>8,} {e['construction_s']:>8.2f} {e['graph_and_grid_s']:>8.2f} "
            f"{e['days']:>5} "
            f"{e['us_per_agent_day']:>13.3f} {e['agent_days_per_s']:>13,.0f} "
            f"{ref['window_days']:>8} {min(r['reference_window_us_per_agent_day']):>11.2f} "
            f"{r['speedup']:>8.1f}x {e['peak_bytes'] / 1e6:>8.0f} "
            f"{e['bytes_per_agent']:>8.0f} {e['records_share']:>7.1%}"
        )
    lines.append("")
    same = all(r["same_price_after_window"] for r in sizes.values())
    lines.append(
        "engine and reference: "
        + ("the same price" if same else "DIFFERENT prices")
        + " after the reference's days, at every size"
    )
    for d in (days or {}).values():
        lines.append(
            f"{d['scenario']}: {d['agents']:,} agents, {d['assets']} asset(s): "
            f"{d['best_ms_per_day']:.3f} ms per simulated day, best of "
            f"{len(d['ms_per_day'])} windows of {d['days']} days "
            f"({d['us_per_agent_day']:.3f} us/agent-day)"
        )
    for s in sweeps:
        lines.append(
            f"sweep: {s['scenario']}, {s['workers']} worker(s): {s['runs_per_minute']:.1f} "
            f"runs/min ({s['runs']} runs of {s['years']:g} year(s), {s['wall_s']:.1f} s)"
        )
    return "\n".join(lines)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit status 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"benchmark: error: {message}\n")
        raise SystemExit(2)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = _Parser(prog="python -m benchmarks.run", description=__doc__.split("\n")[0])
    p.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=list(DEFAULT_SIZES),
        help="population sizes, agents (default: " + " ".join(str(n) for n in DEFAULT_SIZES) + ")",
    )
    p.add_argument("--years", type=float, default=10.0, help="simulated years per size")
    p.add_argument(
        "--repeat", type=int, default=3, help="timings of the window per model (the best counts)"
    )
    p.add_argument("--sweep-runs", type=int, default=40, help="runs per sweep measurement")
    p.add_argument("--sweep-years", type=float, default=1.0, help="years per sweep run")
    p.add_argument(
        "--profile",
        action="store_true",
        help="also write benchmarks/profile.txt (pyinstrument, a year of the four-asset default)",
    )
    p.add_argument("--out", default=str(HERE / "results.json"), help="the JSON results file")
    args = p.parse_args(argv)
    for flag, value, low, high in (
        ("--sizes", min(args.sizes), 100, 10_000_000),
        ("--years", args.years, 1 / 365, 100),
        ("--repeat", args.repeat, 1, 100),
        ("--sweep-runs", args.sweep_runs, 1, 100_000),
        ("--sweep-years", args.sweep_years, 1 / 365, 100),
    ):
        if not (math.isfinite(value) and low <= value <= high):
            p.error(f"{flag} = {value:g}: must be a number from {low:.3g} to {high:g}")
    out_dir = Path(args.out).resolve().parent
    if not out_dir.is_dir() or not os.access(out_dir, os.W_OK):
        p.error(f"--out = {args.out}: {out_dir} is not a writable folder")
    if args.profile and importlib.util.find_spec("pyinstrument") is None:
        p.error("--profile: needs pyinstrument (pip install -e '.[dev]')")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = sorted(set(args.sizes))
    days = max(1, round(365 * args.years))
    sweep_steps = max(1, round(365 * args.sweep_years))
    try:  # refuse, before anything runs, a size that would not fit
        for n in sizes:
            check_fits(scenario(n, days))
            check_fits(scenario(n, reference_days(n)), bytes_per_agent=REFERENCE_BYTES_PER_AGENT)
        check_fits(Config().with_overrides({"run.steps": sweep_steps}), copies=2)
    except ConfigError as exc:
        sys.stderr.write(f"benchmark: error: {exc}\n")
        return 2
    have = memory.available_bytes()
    print(f"benchmark: sizes {sizes}, {days} days each; {gb(have or 0)} available", flush=True)

    results: dict[int, dict[str, Any]] = {}
    for n in sizes:
        window = min(reference_days(n), days)
        print(f"  {n:,} agents: engine ...", flush=True)
        # the first of each in a new interpreter (its memory and construction as a user's
        # `crypto401k run` has them), the repeats forked from the fork server (`in_fresh_process`)
        engine = in_fresh_process("engine", n, days, window, 1, spawn=True)
        print(
            f"  {n:,} agents: plain Mesa reference, {window} days x {args.repeat} ...", flush=True
        )
        reference = [in_fresh_process("reference", n, window, window, 1, spawn=True)]
        engine_windows = [engine["window_us_per_agent_day"]]
        for _ in range(args.repeat - 1):
            reference.append(in_fresh_process("reference", n, window, window, 1))
            again = in_fresh_process("engine", n, window, window, 1)
            engine_windows.append(again["window_us_per_agent_day"])
        best_reference = min(r["window_us_per_agent_day"] for r in reference)
        results[n] = {
            "engine": engine,
            "reference": reference[0],
            "engine_window_us_per_agent_day": engine_windows,
            "reference_window_us_per_agent_day": [r["window_us_per_agent_day"] for r in reference],
            "speedup": best_reference / min(engine_windows),
            "same_price_after_window": engine["window_price"] == reference[0]["window_price"],
        }
    scenario_days = {}
    for name in SCENARIOS:
        print(f"  {name} at its own size, {args.repeat} x {min(days, 365)} days ...", flush=True)
        scenario_days[name] = in_fresh_process(name, min(days, 365), args.repeat, fn=scenario_day)
    sweeps = []
    for name in SCENARIOS:
        for workers in (1, 2):
            print(f"  sweep throughput, {name}, {workers} worker(s) ...", flush=True)
            # several workers: in a new interpreter, whose fork server starts with the sweep
            # (one worker runs in the process, which has imported the model either way)
            measure_sweep = sweep_throughput if workers == 1 else sweep_in_fresh_process
            sweeps.append(measure_sweep(workers, args.sweep_runs, args.sweep_years, name))
    if args.profile:
        print("  profile of a year of the four-asset default ...", flush=True)
        profile("four_assets", 365, HERE / "profile.txt")

    report = {
        "machine": machine(),
        "command": "python -m benchmarks.run " + " ".join(argv or sys.argv[1:]),
        "sizes": {str(n): r for n, r in results.items()},
        "scenarios": scenario_days,
        "sweep": sweeps,
        "targets": check_targets(results, scenario_days, sweeps),
    }
    out = Path(args.out)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(report, indent=2) + "\n")
    tmp.replace(out)
    print()
    print(table(results, sweeps, scenario_days))
    print()
    for name, t in report["targets"].items():
        print(f"target {name}: {t['value']:.3g} ({t['target']}): {'met' if t['met'] else 'MISSED'}")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
