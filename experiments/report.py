"""An experiment's report: its runs as one table (runs.parquet), the answer and the statistics
of each treatment (summary.md), written atomically. Pure of the sweep: it reads the records
and the points, and writes files."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from crypto401k.experiments import analysis
from crypto401k.experiments import figures as draw
from crypto401k.experiments.registry import METRICS, metric_info
from crypto401k.experiments.run import FILE_MODE
from crypto401k.experiments.spec import (
    Answer,
    Point,
    Spec,
    control_params,
)


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
    os.fchmod(fd, FILE_MODE)
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


def write_text(path: Path, text: str) -> None:
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


def write_grid(
    spec: Spec,
    points: list[Point],
    runs: pd.DataFrame,
    out: Path,
    quick: bool,
    sections: list[str] = (),
    figures: bool = True,
) -> tuple[list[Path], str]:
    """summary.md and (unless `figures` is False) the figures of a grid experiment's `points`
    and their `runs`; `sections` (markdown lines, e.g. the answers across parameter draws)
    follow the setup."""
    controls = control_map(spec, points)
    table = analysis.effect_table(runs, controls, spec.metrics)
    answer = (QUICK_NOTE if quick else "") + _grid_answer(spec, points, table, runs)
    if figures:
        pngs = draw.grid_figures(runs, spec, out) + draw.effect_figures(runs, spec, controls, out)
    else:
        pngs = []
        draw.remove_figures(out, draw.figure_names(spec.metrics))
    text = grid_summary(spec, points, runs, table, answer, pngs, sections)
    write_text(out / "summary.md", text)
    return [out / "summary.md", *pngs], answer


def across_points(a: Answer, points: list[Point]) -> list[Point]:
    """The points an `across` answer compares: each value of its dimension, the treatment's
    other values fixed, in the spec's order."""
    fixed = {k: v for k, v in a.treatment.items() if k != a.across}
    return [
        p
        for p in points
        if p.params.get(a.across) is not None
        and all(p.params.get(k) == v for k, v in fixed.items())
    ]


def _across_answer(a: Answer, points: list[Point], runs: pd.DataFrame) -> str:
    chosen = across_points(a, points)
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
    sections: list[str] = (),
) -> str:
    keys = list(dict.fromkeys(k for p in points for k in p.params))
    lines = [f"# {spec.name}: {spec.question}", "", f"**Answer.** {answer}", ""]
    lines += _setup_lines(spec, runs)
    lines += list(sections)
    for metric in spec.metrics:
        m = metric_info(metric)
        lines += ["", f"## {m.label} [{m.unit}]", "", f"{m.meaning}.", ""]
        header = [
            "point",
            *keys,
            "n",
            "mean [95% CI]",
            "median",
            "effect vs control [95% CI]",
            "median effect",
            "p (Holm)",
        ]
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
                _median_cell(r["median"], metric),
                effect,
                _median_cell(r["median_diff"], metric),
            ]
            lines.append("| " + " | ".join([*cells, p_txt]) + " |")
    lines += _failures(runs, keys)
    method = (
        "Means with 95% Student-t confidence intervals over seeds (Wilson intervals for 0/1 "
        "outcomes). The effect is the mean of the paired differences treatment - control, run "
        "by run on the same seed (common random numbers), with its 95% t interval; the test is "
        "a two-sided paired t-test (exact McNemar for 0/1 outcomes, the exact sign test when "
        "every difference is equal), Holm-adjusted across the treatments of each metric. "
        "Medians beside the means: over seeds, and of the paired differences (not for 0/1 "
        "outcomes, whose median is 0 or 1). Where the control has the same value in every "
        "seed (savers' losses where the control holds no crypto), the test only asks whether "
        "the treatment differs from that value at all: a significant answer says so, and the "
        "effect's size is what to read. "
        "Fractions are shown in percent (effects in percentage points); USD in billions. "
        "'any' marks a parameter the control ignores."
    )
    return _closing(lines, method, pngs)


def _median_cell(x: float, metric: str) -> str:
    return analysis.fmt(x, metric) if np.isfinite(x) and not analysis.is_binary(metric) else "-"


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
