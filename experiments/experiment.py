"""Run an experiment end to end: spec -> sweep -> runs.parquet, figures, summary.md, manifest.

    results/<name>/
        runs/            one JSON file per finished run (raw; git-ignored; makes resume work)
        runs.parquet     one row per run: stage, point, parameters, seed, status, error, metrics
        manifest.json    spec, seeds, points, code and package versions, machine, wall time
        summary.md       per treatment: mean and 95% CI, paired effect vs control, test; answer
        answers.json     each answer's effect (mean, CI, median), and across parameter draws
        *.png            figures (seaborn), means with 95% CIs over seeds
        draws.json       with --param-draws: the parameter draws (`experiments.draws`)
        draws.parquet    with --param-draws: each answer's effect in each draw

With `param_draws` the grid is run again at N draws of the estimated parameters: the draws are
one more dimension of the sweep (column `param_draw` of runs.parquet; empty at the defaults),
every draw on the same first seeds, and `experiments.robustness` reports how each answer moves
across them. The figures and the per-point tables are the defaults'.

Everything the user can get wrong (spec, parameters, scheduler, output folder) is checked
before the first run starts. This module orchestrates (checks, lock, sweep); `report` writes
runs.parquet and summary.md, `provenance` the manifest's record of code, packages and machine.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import socket
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from crypto401k.experiments import draws as pdraws
from crypto401k.experiments import figures, robustness, sensitivity
from crypto401k.experiments.provenance import code_version, make_manifest
from crypto401k.experiments.report import (
    QUICK_NOTE,
    collate,
    sensitivity_answer,
    sensitivity_summary,
    write_grid,
    write_parquet,
    write_text,
)
from crypto401k.experiments.run import check_out_location
from crypto401k.experiments.spec import (
    DRAW_KEY,
    Point,
    Spec,
    check_overrides,
    grid_points,
    load_spec,
    spec_settings,
)
from crypto401k.experiments.sweep import RUNS_SUBDIR, connect, make_tasks, run_sweep
from crypto401k.experiments.validate import MAX_SEEDS, MAX_WORKERS
from crypto401k.model.config import ConfigError
from crypto401k.model.memory import check_fits

OUTPUT_FILES = ("runs.parquet", "manifest.json", "summary.md")
DRAW_FILES = ("draws.json", "draws.parquet")  # written only by a sweep with parameter draws
LOCK_FILE = ".crypto401k.lock"  # held (flock) by the sweep writing the folder


@dataclass
class DrawPlan:
    """The parameter draws of a sweep: the draws, the seeds each runs, and their points."""

    draws: pdraws.Draws
    seeds: int
    held: dict[str, str]  # estimated parameters the spec sets itself (name -> where)
    points: list[Point]
    base: dict[str, Any]  # the spec's scenario, as {"scenario": name} ({} for BTC-only)

    def record(self) -> dict[str, Any]:
        return {**self.draws.record(self.held, self.base), "seeds_per_draw": self.seeds}


def plan_draws(
    spec: Spec,
    points: list[Point],
    n: int,
    estimate: Path | str | None,
    draw_seeds: int | None,
) -> DrawPlan:
    """Check the draws' settings and the estimate, draw, and make every draw's points
    (numbered after the defaults'); ConfigError naming the setting on any problem."""
    if spec.kind != "grid":
        raise ConfigError(
            f"param_draws = {n}: only for a grid experiment; {spec.name!r} is a sensitivity "
            "analysis, which samples its parameters itself"
        )
    seeds = pdraws.check_draw_sizes(n, spec.seeds, draw_seeds)
    est = pdraws.load_estimate(pdraws.DEFAULT_ESTIMATE if estimate is None else estimate)
    base = {"scenario": spec.scenario} if spec.scenario else {}
    pdraws.check_for(est, base)
    drawn = pdraws.draw(est, n, valid=pdraws.model_accepts(est, base))
    held = held_parameters(spec, est.names)
    dpoints: list[Point] = []
    for d in range(n):
        values = {k: v for k, v in drawn.overrides(d).items() if k not in held}
        under = pdraws.as_overrides(base, values)
        dpoints += grid_points(spec, under, draw=d, first=len(points) * (d + 1))
    return DrawPlan(drawn, seeds, held, dpoints, base)


def held_parameters(spec: Spec, names: tuple[str, ...]) -> dict[str, str]:
    """The estimated parameters the spec sets itself (name -> where), a matrix entry such as
    market.correlation.0.1 when the spec sets the whole matrix."""
    settings = spec_settings(spec)
    out = {}
    for name in names:
        for key, where in settings.items():
            if name == key or name.startswith(key + "."):
                out[name] = where
    return out


@dataclass
class Outcome:
    """What a finished experiment wrote, for the CLI to report."""

    out: Path
    runs: pd.DataFrame
    answer: str
    files: list[Path] = field(default_factory=list)
    wall_time_s: float = 0.0
    robustness: str = ""  # with parameter draws: how the answers move across them

    @property
    def failures(self) -> int:
        return int((self.runs["status"] != "ok").sum())


def default_out(spec: Spec, quick: bool) -> Path:
    """results/<name>/ for a full run; runs/experiments/<name>-quick/ for a quick one (so a
    quick run never overwrites the canonical results)."""
    if quick:
        return Path("runs") / "experiments" / f"{spec.name}-quick"
    return Path("results") / spec.name


def check_out_dir(out: Path, name: str | None = None) -> None:
    """Refuse a folder that exists and is not this experiment's output: it must be new,
    empty, or hold the manifest.json of experiment `name` (any experiment's with None),
    which a sweep writes before its first run."""
    if not out.exists():
        return
    if not out.is_dir():
        raise ConfigError(f"out = {str(out)!r}: exists and is not a directory")
    runs = out / RUNS_SUBDIR  # (a lock that is not a file is FolderLock's to refuse)
    if runs.is_symlink() or (runs.exists() and not runs.is_dir()):
        raise ConfigError(
            f"out = {str(out)!r}: its {RUNS_SUBDIR!r} is not a folder as a sweep writes it; "
            "choose another folder, or remove it"
        )
    names = {p.name for p in out.iterdir()} - {LOCK_FILE}
    if not names:
        return
    try:
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        owner = manifest["experiment"] if isinstance(manifest, dict) else None
    except (OSError, ValueError, KeyError):
        owner = None
    if not isinstance(owner, str):
        raise ConfigError(
            f"out = {str(out)!r}: exists and is not an experiment's folder (no manifest.json "
            f"of one; it holds {', '.join(sorted(names)[:3])}); choose a new or empty folder"
        )
    if name is not None and owner != name:
        raise ConfigError(
            f"out = {str(out)!r}: holds experiment {owner!r}'s results, not {name!r}'s; "
            "choose another folder"
        )


class FolderLock:
    """An exclusive lock on an experiment folder (flock on OUT/.crypto401k.lock, released
    when the process ends, even by SIGKILL). A second sweep on the folder is refused with the
    holder's pid, host and start time, or waits for it (`wait`)."""

    def __init__(self, out: Path, wait: bool = False) -> None:
        self.path = out / LOCK_FILE
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:  # a folder of that name, a place that cannot be written
            raise ConfigError(
                f"out = {str(out)!r}: cannot lock it through {LOCK_FILE!r} "
                f"({exc.strerror or exc}); choose another folder, or remove that entry"
            ) from None
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self._holder()
            if not wait:
                os.close(self.fd)
                raise ConfigError(
                    f"out = {str(out)!r}: another sweep is writing this folder ({holder}); "
                    "wait for it to finish, or pass --wait"
                ) from None
            sys.stderr.write(f"crypto401k: waiting for the sweep writing {out} ({holder})\n")
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        os.ftruncate(self.fd, 0)
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        os.pwrite(self.fd, f"pid {os.getpid()} on {socket.gethostname()} since {stamp}".encode(), 0)

    def _holder(self) -> str:
        try:
            return os.pread(self.fd, 200, 0).decode(errors="replace").strip() or "unknown"
        except OSError:
            return "unknown"

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # closing the descriptor releases the flock
            self.fd = -1

    def __enter__(self) -> FolderLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def check_memory(points: list[Point], workers: int, local: bool) -> None:
    """ConfigError if the largest point's runs, `workers` at once, would not fit in this
    machine's memory (only for local processes: a cluster's workers are elsewhere)."""
    if not local or not points:
        return
    from crypto401k.experiments.spec import check_overrides
    from crypto401k.model.memory import estimate_bytes

    cfgs = [check_overrides(p.overrides) for p in points]
    largest = max(cfgs, key=estimate_bytes)
    try:
        check_fits(largest, copies=workers)
    except ConfigError as exc:
        fewer = ", or fewer --workers" if workers > 1 else ""
        raise ConfigError(f"the experiment's largest point: {exc}{fewer}") from None


def run_experiment(
    ref: str,
    *,
    seeds: int | None = None,
    quick: bool = False,
    workers: int = 2,
    scheduler: str | None = None,
    out: Path | str | None = None,
    progress: bool = True,
    retry_failed: bool = False,
    wait: bool = False,
    param_draws: int | None = None,
    estimate: Path | str | None = None,
    draw_seeds: int | None = None,
    figures: bool = True,
) -> Outcome:
    """Run (or resume) experiment `ref` (a built-in name or a spec file) and write its results.

    Everything the user gives (spec, sizes, memory, output folder, scheduler) is checked
    before anything is written; then the folder is locked for this sweep (`wait`: wait for
    another sweep holding it instead of refusing). `param_draws`: also run the grid at that
    many draws of the parameters of `estimate` (an estimate.json; default
    `draws.DEFAULT_ESTIMATE`), each on the first `draw_seeds` seeds (default: all).
    `figures=False`: the summary without its figures (and no figure of an earlier sweep of
    the folder is left beside it)."""
    if seeds is not None and not 1 <= seeds <= MAX_SEEDS:
        raise ConfigError(f"seeds = {seeds}: must be an integer from 1 to {MAX_SEEDS:,}")
    if not 1 <= workers <= MAX_WORKERS:
        raise ConfigError(f"workers = {workers}: must be an integer from 1 to {MAX_WORKERS}")
    if param_draws is None:
        for name, given in (("estimate", estimate), ("draw_seeds", draw_seeds)):
            if given is not None:
                shown = repr(str(given)) if name == "estimate" else given
                raise ConfigError(f"{name} = {shown}: only with --param-draws N")
    spec = load_spec(ref).sized(quick, seeds)
    x_morris = None
    plan = None
    if spec.kind == "grid":
        points = grid_points(spec)
    else:
        _check_bounds(spec)
        points, x_morris = sensitivity.morris_points(spec)
    if param_draws is not None:
        plan = plan_draws(spec, points, param_draws, estimate, draw_seeds)
    n_runs = len(points) * spec.seeds + (len(plan.points) * plan.seeds if plan else 0)
    check_memory(points + (plan.points if plan else []), min(workers, n_runs), local=not scheduler)
    out = check_out_location(default_out(spec, quick) if out is None else out, inside=True)
    check_out_dir(out, spec.name)
    client = connect(scheduler) if scheduler else None
    try:
        out.mkdir(parents=True, exist_ok=True)
        with FolderLock(out, wait):
            check_out_dir(out, spec.name)  # again: another sweep may have written it meanwhile
            return _run_locked(
                spec,
                points,
                x_morris,
                out,
                quick,
                workers,
                scheduler,
                client,
                progress,
                retry_failed,
                plan,
                figures,
            )
    finally:
        if client is not None:
            client.close(timeout=10)


def _run_locked(
    spec: Spec,
    points: list[Point],
    x_morris: np.ndarray | None,
    out: Path,
    quick: bool,
    workers: int,
    scheduler: str | None,
    client: Any,
    progress: bool,
    retry_failed: bool,
    plan: DrawPlan | None = None,
    figures: bool = True,
) -> Outcome:
    """The sweep and its outputs, with the folder locked."""
    if not (out / "manifest.json").exists():  # the folder's proof that it is an experiment's
        write_text(
            out / "manifest.json",
            json.dumps(
                {"experiment": spec.name, "status": "running", "spec": spec.model_dump()},
                indent=2,
                default=str,
            ),
        )

    started = datetime.now(UTC)
    t0 = time.perf_counter()
    seed_list = list(range(spec.first_seed, spec.first_seed + spec.seeds))
    run_dir = out / RUNS_SUBDIR
    sweep = {
        "workers": workers,
        "client": client,
        "progress": progress,
        "retry_failed": retry_failed,
    }
    version = code_version()
    code = version["git_commit"] and version["git_commit"][:12] + (
        "+dirty" if version["git_dirty"] else ""
    )
    extra: dict[str, Any] = {}
    if spec.kind == "grid":
        tasks = make_tasks(points, seed_list, spec.window_days, code)
        if plan is not None:
            tasks += make_tasks(plan.points, seed_list[: plan.seeds], spec.window_days, code)
        records = run_sweep(tasks, run_dir, label=spec.name, **sweep)
        runs, files, answer, extra = _grid_outputs(spec, points, records, out, quick, plan, figures)
        points = points + (plan.points if plan else [])
    else:
        runs, files, answer, points = _run_sensitivity(
            spec, points, x_morris, seed_list, run_dir, out, sweep, code, quick, figures
        )
    wall = time.perf_counter() - t0
    runs_time = float(runs.pop("wall_time_s").sum())  # timings vary: kept out of the rows
    write_parquet(runs, out / "runs.parquet")
    manifest = make_manifest(
        spec, quick, seed_list, points, runs, started, wall, workers, scheduler
    )
    manifest["runs_time_s"] = round(runs_time, 1)
    if plan is not None:
        record = plan.record()
        manifest["param_draws"] = {k: v for k, v in record.items() if k != "draws"}
    write_text(out / "manifest.json", json.dumps(manifest, indent=2, default=str))
    files = [out / "runs.parquet", out / "manifest.json", *files]
    return Outcome(out=out, runs=runs, answer=answer, files=files, wall_time_s=wall, **extra)


def _grid_outputs(
    spec: Spec,
    points: list[Point],
    records: list[dict[str, Any]],
    out: Path,
    quick: bool,
    plan: DrawPlan | None,
    figures: bool = True,
) -> tuple[pd.DataFrame, list[Path], str, dict[str, Any]]:
    """runs (every run), summary.md and figures (the defaults'), answers.json and, with
    draws, draws.json, draws.parquet and the summary's section on them."""
    all_points = points + (plan.points if plan else [])
    runs = collate(all_points, records, spec.metrics)
    if plan is not None:
        runs[DRAW_KEY] = runs[DRAW_KEY].astype("Int64")  # <NA> at the defaults
    items = robustness.contrasts(spec, points)
    n = len(plan.draws.values) if plan else 0
    rows = robustness.effect_rows(items, all_points, runs, n)
    if plan is None:
        for name in DRAW_FILES:  # a former sweep's draws would not match this summary
            (out / name).unlink(missing_ok=True)
        files, answer = write_grid(spec, points, runs, out, quick, figures=figures)
        return runs, [*files, *robustness.write(out, rows, None)], answer, {}
    record = plan.record()
    at_defaults = runs[runs[DRAW_KEY].isna()].drop(columns=DRAW_KEY)
    summary = robustness.answers(rows)
    lines = robustness.section(summary, record, plan.seeds, runs[runs[DRAW_KEY].notna()])
    files, answer = write_grid(
        spec, points, at_defaults, out, quick, sections=lines, figures=figures
    )
    write_text(out / "draws.json", json.dumps(record, indent=1) + "\n")
    values = pd.DataFrame(record["draws"]).drop(columns="candidates")
    values["draw"] = values["draw"].astype("Int64")
    files += [out / "draws.json", *robustness.write(out, rows, values)]
    return runs, files, answer, {"robustness": robustness.headline(summary)}


# ---- sensitivity -------------------------------------------------------------------------
def _check_bounds(spec: Spec) -> None:
    """Each bound's parameter takes every value the analysis may sample in [low, high]: both
    ends and a point inside that is no whole number (an integer parameter or a switch cannot
    be sampled); errors name the spec and the bound."""
    for name, (lo, hi) in spec.sensitivity.bounds.items():
        where = f"spec {spec.name}: sensitivity.bounds.{name} = {[lo, hi]}"
        if not lo < hi:
            raise ConfigError(f"{where}: must be [low, high] with low < high")
        for v in (lo, hi, lo + (hi - lo) / math.pi):
            try:
                check_overrides({**spec.fixed_overrides(), name: v})
            except ConfigError as exc:
                raise ConfigError(
                    f"{where}: the analysis samples real values in it, and {exc}"
                ) from None


def _run_sensitivity(
    spec: Spec,
    morris_pts: list[Point],
    x_m: np.ndarray,
    seeds: list[int],
    run_dir: Path,
    out: Path,
    sweep: dict[str, Any],
    code: str | None,
    quick: bool,
    draw_figures: bool = True,
) -> tuple[pd.DataFrame, list[Path], str, list[Point]]:
    tasks = make_tasks(morris_pts, seeds, spec.window_days, code)
    morris_runs = collate(
        morris_pts, run_sweep(tasks, run_dir, label="morris", **sweep), spec.metrics
    )
    morris = {m: sensitivity.analyse_morris(spec, x_m, morris_runs, m) for m in spec.metrics}
    names, screened = sensitivity.screen(spec, morris[spec.sensitivity.screen_metric])
    sobol_pts, x_s = sensitivity.sobol_points(spec, names)
    tasks = make_tasks(sobol_pts, seeds, spec.window_days, code)
    sobol_runs = collate(sobol_pts, run_sweep(tasks, run_dir, label="sobol", **sweep), spec.metrics)
    sobol = {m: sensitivity.analyse_sobol(spec, names, x_s, sobol_runs, m) for m in spec.metrics}
    runs = pd.concat([morris_runs, sobol_runs], ignore_index=True)
    answer = (QUICK_NOTE if quick else "") + sensitivity_answer(spec, sobol)
    pngs = figures.sensitivity_figures(morris, sobol, out) if draw_figures else []
    if not draw_figures:
        figures.remove_figures(out, figures.figure_names(spec.metrics, "sensitivity"))
    noise = {
        m: (sensitivity.noise_share(morris_runs, m), sensitivity.noise_share(sobol_runs, m))
        for m in spec.metrics
    }
    text = sensitivity_summary(spec, runs, morris, names, screened, sobol, noise, answer, pngs)
    write_text(out / "summary.md", text)
    return runs, [out / "summary.md", *pngs], answer, [*morris_pts, *sobol_pts]
