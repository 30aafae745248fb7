"""Run an experiment end to end: spec -> sweep -> runs.parquet, figures, summary.md, manifest.

    results/<name>/
        runs/            one JSON file per finished run (raw; git-ignored; makes resume work)
        runs.parquet     one row per run: stage, point, parameters, seed, status, error, metrics
        manifest.json    spec, seeds, points, code and package versions, machine, wall time
        summary.md       per treatment: mean and 95% CI, paired effect vs control, test; answer
        *.png            figures (seaborn), means with 95% CIs over seeds

Everything the user can get wrong (spec, parameters, scheduler, output folder) is checked
before the first run starts.
"""

from __future__ import annotations

import fcntl
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from crypto401k.experiments import analysis, figures, sensitivity
from crypto401k.experiments.outcomes import METRICS, metric_info
from crypto401k.experiments.run import check_out_location
from crypto401k.experiments.spec import (
    Answer,
    Point,
    Spec,
    check_overrides,
    control_params,
    grid_points,
    load_spec,
)
from crypto401k.experiments.sweep import RUNS_SUBDIR, connect, make_tasks, run_sweep
from crypto401k.experiments.validate import MAX_SEEDS, MAX_WORKERS
from crypto401k.model import __version__
from crypto401k.model.config import ConfigError
from crypto401k.model.memory import check_fits

REPO_ROOT = Path(__file__).resolve().parent.parent
OUTPUT_FILES = ("runs.parquet", "manifest.json", "summary.md")
LOCK_FILE = ".crypto401k.lock"  # held (flock) by the sweep writing the folder
PACKAGES = ("mesa", "numpy", "pandas", "networkx", "scipy", "SALib", "dask", "distributed")


@dataclass
class Outcome:
    """What a finished experiment wrote, for the CLI to report."""

    out: Path
    runs: pd.DataFrame
    answer: str
    files: list[Path] = field(default_factory=list)
    wall_time_s: float = 0.0

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
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
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
) -> Outcome:
    """Run (or resume) experiment `ref` (a built-in name or a spec file) and write its results.

    Everything the user gives (spec, sizes, memory, output folder, scheduler) is checked
    before anything is written; then the folder is locked for this sweep (`wait`: wait for
    another sweep holding it instead of refusing)."""
    if seeds is not None and not 1 <= seeds <= MAX_SEEDS:
        raise ConfigError(f"seeds = {seeds}: must be an integer from 1 to {MAX_SEEDS:,}")
    if not 1 <= workers <= MAX_WORKERS:
        raise ConfigError(f"workers = {workers}: must be an integer from 1 to {MAX_WORKERS}")
    spec = load_spec(ref).sized(quick, seeds)
    x_morris = None
    if spec.kind == "grid":
        points = grid_points(spec)
    else:
        _check_bounds(spec)
        points, x_morris = sensitivity.morris_points(spec)
    n_runs = len(points) * spec.seeds
    check_memory(points, min(workers, n_runs), local=not scheduler)
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
) -> Outcome:
    """The sweep and its outputs, with the folder locked."""
    if not (out / "manifest.json").exists():  # the folder's proof that it is an experiment's
        _write_text(
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
    if spec.kind == "grid":
        tasks = make_tasks(points, seed_list, spec.window_days, code)
        records = run_sweep(tasks, run_dir, label=spec.name, **sweep)
        runs = collate(points, records, spec.metrics)
        files, answer = _write_grid(spec, points, runs, out, quick)
    else:
        runs, files, answer, points = _run_sensitivity(
            spec, points, x_morris, seed_list, run_dir, out, sweep, code, quick
        )
    wall = time.perf_counter() - t0
    runs_time = float(runs.pop("wall_time_s").sum())  # timings vary: kept out of the rows
    write_parquet(runs, out / "runs.parquet")
    manifest = _manifest(spec, quick, seed_list, points, runs, started, wall, workers, scheduler)
    manifest["runs_time_s"] = round(runs_time, 1)
    _write_text(out / "manifest.json", json.dumps(manifest, indent=2, default=str))
    files = [out / "runs.parquet", out / "manifest.json", *files]
    return Outcome(out=out, runs=runs, answer=answer, files=files, wall_time_s=wall)


# ---- collation ---------------------------------------------------------------------------
def collate(
    points: list[Point], records: list[dict[str, Any]], spec_metrics: list[str] = ()
) -> pd.DataFrame:
    """One row per run in task order; parameters from the points (not the stored files).
    The per-asset metrics in `spec_metrics` get a column even if no run produced them."""
    by_index = {p.index: p for p in points}
    param_names = list(dict.fromkeys(k for p in points for k in p.params))
    # the fixed metrics, then the per-asset ones (<metric>@<asset>) the runs produced
    metric_names = list(METRICS) + sorted(
        {k for r in records for k in r if "@" in k} | {m for m in spec_metrics if "@" in m}
    )
    rows = []
    for r in records:
        p = by_index[r["point"]]
        row = {"stage": p.stage, "point": p.index, "is_control": p.is_control}
        row.update({k: p.params.get(k) for k in param_names})
        row.update(seed=r["seed"], status=r["status"], error=r.get("error", ""))
        row["code"] = r.get("code")
        row["wall_time_s"] = r.get("wall_time_s", float("nan"))
        row.update({m: r.get(m, float("nan")) for m in metric_names})
        rows.append(row)
    df = pd.DataFrame(rows)
    for k in param_names:
        df[k] = _uniform_column(df[k])
    for m in metric_names:
        df[m] = df[m].astype(float)
    df["code"] = df["code"].astype("string")
    return df


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v))


def _uniform_column(col: pd.Series) -> pd.Series:
    values = [v for v in col if not _missing(v)]
    if values and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return col.astype(float)
    if values and all(isinstance(v, bool) for v in values):
        return col.astype("boolean")
    return pd.Series([None if _missing(v) else str(v) for v in col], dtype="string")


def _unique_tmp(path: Path) -> Path:
    """A fresh temporary file beside `path` (unique: two writers never share one)."""
    fd, tmp = tempfile.mkstemp(prefix=f".tmp-{path.stem}-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    return Path(tmp)


def write_parquet(df: pd.DataFrame, path: Path) -> None:
    """runs.parquet without the timings, so that the same runs give the same file."""
    tmp = _unique_tmp(path)
    try:
        df.drop(columns=["wall_time_s"], errors="ignore").to_parquet(tmp, index=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _write_text(path: Path, text: str) -> None:
    tmp = _unique_tmp(path)
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


# ---- grid experiments --------------------------------------------------------------------
def control_map(spec: Spec, points: list[Point]) -> dict[int, int | None]:
    """Each point's control point (None for the controls themselves, or without a control)."""
    out: dict[int, int | None] = {}
    for p in points:
        twin = control_params(spec, p.params) if spec.control and not p.is_control else None
        # == on values, so a control written 0 matches a grid value 0.0
        out[p.index] = next(
            (q.index for q in points if twin is not None and q.params == twin), None
        )
    return out


def find_point(points: list[Point], params: dict[str, Any]) -> Point | None:
    for p in points:
        if all(p.params.get(k) == v for k, v in params.items()):
            return p
    return None


QUICK_NOTE = "[quick run at CI size: a smoke test, not a result] "


def _write_grid(
    spec: Spec, points: list[Point], runs: pd.DataFrame, out: Path, quick: bool
) -> tuple[list[Path], str]:
    controls = control_map(spec, points)
    table = analysis.effect_table(runs, controls, spec.metrics)
    answer = (QUICK_NOTE if quick else "") + _grid_answer(spec, points, table, runs)
    pngs = figures.grid_figures(runs, spec, out) + figures.effect_figures(runs, spec, controls, out)
    _write_text(out / "summary.md", grid_summary(spec, points, runs, table, answer, pngs))
    return [out / "summary.md", *pngs], answer


def _across_answer(a: Answer, points: list[Point], runs: pd.DataFrame) -> str:
    fixed = {k: v for k, v in a.treatment.items() if k != a.across}
    chosen = [
        p
        for p in points
        if p.params.get(a.across) is not None
        and all(p.params.get(k) == v for k, v in fixed.items())
    ]
    ok = runs[runs["status"] == "ok"]
    wide = ok.pivot(index="seed", columns="point", values=a.metric)
    groups = {str(p.params[a.across]): wide[p.index].to_numpy() for p in chosen if p.index in wide}
    return analysis.across_sentence(groups, a.subject, a.metric)


def _grid_answer(spec: Spec, points: list[Point], table: pd.DataFrame, runs: pd.DataFrame) -> str:
    return " ".join(_one_answer(a, points, table, runs) for a in spec.answers)


def _one_answer(a: Answer, points: list[Point], table: pd.DataFrame, runs: pd.DataFrame) -> str:
    if a.across:
        return _across_answer(a, points, runs)
    point = find_point(points, a.treatment)
    if point is None:
        return f"{a.subject}: the answer's treatment {a.treatment} is not among the points run."
    row = table[(table["point"] == point.index) & (table["metric"] == a.metric)]
    if row.empty or row.iloc[0]["n"] == 0:
        return f"{a.subject}: no successful run, so no answer."
    return analysis.answer_sentence(row.iloc[0], a.subject, a.metric)


def _describe_params(params: dict[str, Any]) -> str:
    return ", ".join(f"{k} = {v}" for k, v in params.items()) or "(base)"


def _setup_lines(spec: Spec, runs: pd.DataFrame) -> list[str]:
    ok = int((runs["status"] == "ok").sum())
    lines = [
        "| | |",
        "|---|---|",
        f"| question | {spec.question} |",
        f"| seeds | {spec.seeds} per point ({spec.first_seed}..{spec.first_seed + spec.seeds - 1});"
        " common random numbers: seed k is the same at every point |",
        f"| horizon | {spec.years:g} years ({round(365 * spec.years)} days) |",
        f"| fixed | {_describe_params(spec.base)} |",
    ]
    if spec.kind == "grid":
        dims = {**spec.grid, **{k: list(v) for k, v in spec.variants.items()}}
        swept = "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in dims.items())
        lines.append(f"| swept | {swept} |")
        if spec.control:
            ignores = (
                f" (ignoring {', '.join(spec.control_ignores)})" if spec.control_ignores else ""
            )
            lines.append(f"| control | {_describe_params(spec.control)}{ignores} |")
    diverged = int((runs["status"] == "diverged").sum())
    lines.append(
        f"| runs | {ok} ok, {len(runs) - ok} failed, of which {diverged} diverged "
        "(a price beyond `run.divergence_ratio` times its fundamental) |"
    )
    return lines


def grid_summary(
    spec: Spec,
    points: list[Point],
    runs: pd.DataFrame,
    table: pd.DataFrame,
    answer: str,
    pngs: list[Path],
) -> str:
    keys = list(dict.fromkeys(k for p in points for k in p.params))
    lines = [f"# {spec.name}: {spec.question}", "", f"**Answer.** {answer}", ""]
    lines += _setup_lines(spec, runs)
    for metric in spec.metrics:
        m = metric_info(metric)
        lines += ["", f"## {m.label} [{m.unit}]", "", f"{m.meaning}.", ""]
        header = ["point", *keys, "n", "mean [95% CI]", "effect vs control [95% CI]", "p (Holm)"]
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        by_point = {p.index: p for p in points}
        for _, r in table[table["metric"] == metric].iterrows():
            p = by_point[int(r["point"])]
            vals = [str(p.params.get(k, "any")) for k in keys]
            name = f"{p.index} (control)" if p.is_control else str(p.index)
            effect = (
                analysis.fmt_ci(r["diff"], r["diff_lo"], r["diff_hi"], metric)
                if np.isfinite(r["diff"])
                else "-"
            )
            p_txt = f"{r['p_holm']:.2g}" if np.isfinite(r["p_holm"]) else "-"
            cells = [
                name,
                *vals,
                str(int(r["n"])),
                analysis.fmt_ci(r["mean"], r["lo"], r["hi"], metric),
            ]
            lines.append("| " + " | ".join([*cells, effect, p_txt]) + " |")
    lines += _failures(runs, keys)
    method = (
        "Means with 95% Student-t confidence intervals over seeds (Wilson intervals for 0/1 "
        "outcomes). The effect is the mean of the paired differences treatment - control, run "
        "by run on the same seed (common random numbers), with its 95% t interval; the test is "
        "a two-sided paired t-test (exact McNemar for 0/1 outcomes, the exact sign test when "
        "every difference is equal), Holm-adjusted across the treatments of each metric. "
        "Fractions are shown in percent (effects in percentage points); USD in billions. "
        "'any' marks a parameter the control ignores."
    )
    return _closing(lines, method, pngs)


def _closing(lines: list[str], method: str, pngs: list[Path]) -> str:
    lines = [*lines, "", "## Method", "", method]
    if pngs:
        lines += ["", "## Figures", ""] + [f"![{p.stem}]({p.name})" for p in pngs]
    return "\n".join(lines) + "\n"


def _failures(runs: pd.DataFrame, keys: list[str]) -> list[str]:
    failed = runs[runs["status"] != "ok"]
    lines = ["", "## Failures", ""]
    if failed.empty:
        return [*lines, "None: every run finished."]
    lines += ["| point | parameters | seed | error |", "|---|---|---|---|"]
    for _, r in failed.iterrows():
        params = ", ".join(f"{k} = {r[k]}" for k in keys if k in r and pd.notna(r[k]))
        lines.append(f"| {r['point']} | {params} | {r['seed']} | {r['error']} |")
    return lines


# ---- sensitivity -------------------------------------------------------------------------
def _check_bounds(spec: Spec) -> None:
    for name, (lo, hi) in spec.sensitivity.bounds.items():
        if not lo < hi:
            raise ConfigError(
                f"spec {spec.name}: sensitivity.bounds.{name} = {[lo, hi]}: low < high"
            )
        for v in (lo, hi):
            check_overrides({**spec.fixed_overrides(), name: v})


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
    pngs = figures.sensitivity_figures(morris, sobol, out)
    noise = {
        m: (sensitivity.noise_share(morris_runs, m), sensitivity.noise_share(sobol_runs, m))
        for m in spec.metrics
    }
    text = sensitivity_summary(spec, runs, morris, names, screened, sobol, noise, answer, pngs)
    _write_text(out / "summary.md", text)
    return runs, [out / "summary.md", *pngs], answer, [*morris_pts, *sobol_pts]


def sensitivity_answer(spec: Spec, sobol: dict[str, pd.DataFrame]) -> str:
    parts = []
    for metric in spec.metrics:
        t = sobol[metric]
        if t.empty:
            parts.append(f"{metric_info(metric).label}: indices could not be computed")
            continue
        top = t.iloc[0]
        parts.append(
            f"{metric_info(metric).label} depends most on {top['parameter']} (total index ST = "
            f"{top['ST']:.2f} ± {top['ST_conf']:.2f}, first order {top['S1']:.2f} ± "
            f"{top['S1_conf']:.2f})"
        )
    return "Among the screened parameters, " + "; ".join(parts) + "."


def sensitivity_summary(
    spec: Spec,
    runs: pd.DataFrame,
    morris: dict[str, pd.DataFrame],
    names: list[str],
    screened: bool,
    sobol: dict[str, pd.DataFrame],
    noise: dict[str, tuple[float, float]],
    answer: str,
    pngs: list[Path],
) -> str:
    sens = spec.sensitivity
    chosen = (
        f"the {sens.sobol_top} largest mu* on {sens.screen_metric}"
        if screened
        else f"screening failed (a point lacks a run), so the first {sens.sobol_top} parameters"
    )
    lines = [f"# {spec.name}: {spec.question}", "", f"**Answer.** {answer}", ""]
    lines += _setup_lines(spec, runs)
    bounds = "; ".join(f"{k} in [{lo:g}, {hi:g}]" for k, (lo, hi) in sens.bounds.items())
    lines += [
        f"| parameters | {bounds} |",
        f"| Morris | {sens.morris_trajectories} trajectories, {sens.morris_levels} levels, "
        f"{len(sens.bounds) + 1} points each |",
        f"| Sobol | N = {sens.sobol_samples}, {sens.sobol_samples * (len(names) + 2)} points; "
        f"parameters: {chosen}: {', '.join(names)} |",
    ]
    for metric in spec.metrics:
        m = metric_info(metric)
        nm, ns = noise[metric]
        lines += [
            "",
            f"## {m.label} [{m.unit}]",
            "",
            f"Seed noise accounts for about {_pct(nm)} of the variance of the Morris point means "
            f"and {_pct(ns)} of the Sobol ones (within-point variance / seeds, over the "
            "variance between points). That is an upper bound: with common random numbers part "
            "of the seed effect is shared by every point and cancels. Near 100%, the indices "
            "cannot be told from noise.",
            "",
            "Morris screening:",
            "",
        ]
        lines += ["| parameter | mu* [95% CI half-width] | sigma |", "|---|---|---|"]
        for _, r in morris[metric].iterrows():
            lines.append(
                f"| {r['parameter']} | {r['mu_star']:.3g} ± {r['mu_star_conf']:.2g} | "
                f"{r['sigma']:.3g} |"
            )
        lines += ["", "Sobol indices:", "", "| parameter | S1 ± 95% | ST ± 95% |", "|---|---|---|"]
        for _, r in sobol[metric].iterrows():
            lines.append(
                f"| {r['parameter']} | {r['S1']:.2f} ± {r['S1_conf']:.2f} | "
                f"{r['ST']:.2f} ± {r['ST_conf']:.2f} |"
            )
    lines += _failures(runs, list(sens.bounds))
    method = (
        "Morris elementary effects (SALib) screen every parameter; mu* is the mean absolute "
        "elementary effect in the metric's unit over the parameter's full range, with a 95% "
        "bootstrap half-width. Sobol indices (Saltelli sampling, SALib) for the most "
        "influential ones, others at their base values; S1 is the share of output variance "
        "explained by the parameter alone, ST including its interactions; ± are 95% "
        "bootstrap half-widths. Every sample point averages the same seeds, so seed noise is "
        "averaged out, not attributed; a point missing a seed is left out of the analysis."
    )
    return _closing(lines, method, pngs)


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%" if np.isfinite(x) else "n/a"


# ---- provenance --------------------------------------------------------------------------
def code_version() -> dict[str, Any]:
    """The package version, and the git commit with a dirty flag when run from a checkout."""
    info: dict[str, Any] = {"package": __version__}
    try:
        commit = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            # outputs (results/) do not make the code dirty
            [
                "git",
                "-C",
                str(REPO_ROOT),
                "status",
                "--porcelain",
                "--untracked-files=no",
                "--",
                ".",
                ":!results",
            ],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        info.update(git_commit=commit, git_dirty=bool(dirty))
    except (OSError, subprocess.SubprocessError):
        info.update(git_commit=None, git_dirty=None)
    return info


def _manifest(
    spec: Spec,
    quick: bool,
    seeds: list[int],
    points: list[Point],
    runs: pd.DataFrame,
    started: datetime,
    wall: float,
    workers: int,
    scheduler: str | None,
) -> dict[str, Any]:
    versions = {}
    for pkg in PACKAGES:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    return {
        "experiment": spec.name,
        "quick": quick,
        "spec": spec.model_dump(),
        "seeds": seeds,
        "points": [
            {
                "stage": p.stage,
                "point": p.index,
                "key": p.key,
                "control": p.is_control,
                "params": p.params,
            }
            for p in points
        ],
        "runs": {
            "total": len(runs),
            "ok": int((runs["status"] == "ok").sum()),
            "failed": int((runs["status"] != "ok").sum()),
        },
        "code": {
            **code_version(),
            # the commits that produced the stored runs (more than one if a sweep resumed
            # across commits)
            "runs_by_commit": runs["code"].fillna("unknown").value_counts().to_dict(),
        },
        "packages": {"python": platform.python_version(), **versions},
        "machine": {
            "platform": platform.platform(),
            "processor": platform.machine(),
            "cpus": os.cpu_count(),
        },
        "execution": {"workers": workers, "scheduler": scheduler, "argv": sys.argv},
        "started_utc": started.isoformat(timespec="seconds"),
        "wall_time_s": round(wall, 2),  # this invocation (a resumed sweep counts only its part)
    }
