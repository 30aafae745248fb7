"""How an experiment's answers move across parameter draws (`experiments.draws`).

Every answer is one or more *contrasts*, a treatment point against a reference point, paired
by seed: an answer against the control is the treatment against its control twin; an answer
`across` a dimension is each of its values against the first (e.g. boom - calm, crash - calm).
A contrast's effect is the mean of the paired differences over seeds, as in summary.md.

At the defaults it is measured on all the spec's seeds; in parameter draw d on the same points
with d's parameter values and the first S seeds (common random numbers: the comparison in
each draw is paired, and every draw sees the same seeds). Across draws the report gives the
effects' median and 5-95% range, and the share of draws in which the effect keeps the sign it
has at the defaults, with and without its 95% seed interval excluding zero.

    draws.parquet   one row per (contrast, draw), the defaults' row with draw <NA>: the effect
                    (mean, 95% CI, median, standard error, p, pairs) and the draw's parameters
    answers.json    one entry per contrast: the effect at the defaults and across the draws
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from crypto401k.experiments import analysis
from crypto401k.experiments.registry import metric_info
from crypto401k.experiments.report import (
    across_points,
    control_map,
    find_point,
    write_parquet,
    write_text,
)
from crypto401k.experiments.spec import DRAW_KEY, Point, Spec, Value


@dataclass(frozen=True)
class Contrast:
    """A treatment point against a reference point (params at the defaults, no draw)."""

    answer: int  # the answer's number in the spec, from 1
    subject: str
    metric: str
    label: str
    treatment: dict[str, Value]
    reference: dict[str, Value]


def contrasts(spec: Spec, points: list[Point]) -> list[Contrast]:
    """The contrasts of the spec's answers among `points` (the defaults' points). An answer
    whose treatment has no control, or an `across` answer with one value, has none."""
    controls = control_map(spec, points)
    by_index = {p.index: p for p in points}
    out = []
    for n, a in enumerate(spec.answers, 1):
        if a.across:
            chosen = across_points(a, points)
            first = chosen[0] if chosen else None
            for p in chosen[1:]:
                label = f"{a.across} = {p.params[a.across]} - {first.params[a.across]}"
                out.append(Contrast(n, a.subject, a.metric, label, p.params, first.params))
            continue
        point = find_point(points, a.treatment)
        ctrl = controls.get(point.index) if point is not None else None
        if ctrl is not None:
            out.append(
                Contrast(n, a.subject, a.metric, "vs control", point.params, by_index[ctrl].params)
            )
    return out


def _identity(params: dict[str, Value]) -> str:
    return json.dumps({k: v for k, v in params.items() if k != DRAW_KEY}, sort_keys=True)


def effect_rows(
    items: list[Contrast], points: list[Point], runs: pd.DataFrame, draws: int = 0
) -> pd.DataFrame:
    """One row per (contrast, draw): the defaults (draw <NA>) and draws 0..draws-1.

    `points`: the defaults' and the draws' points; `runs`: their runs (collated). Columns:
    answer, subject, metric, contrast, draw, diff, diff_lo, diff_hi, median_diff, se, p,
    pairs (se: the standard error of the mean difference over the draw's seeds)."""
    where = {(p.params.get(DRAW_KEY), _identity(p.params)): p.index for p in points}
    ok = runs[runs["status"] == "ok"]
    wide = {m: ok.pivot(index="seed", columns="point", values=m) for m in {c.metric for c in items}}
    rows = []
    for c in items:
        w = wide[c.metric]
        for d in [None, *range(draws)]:
            t = where.get((d, _identity(c.treatment)))
            r = where.get((d, _identity(c.reference)))
            x = w[t].to_numpy() if t in w else np.full(len(w), np.nan)
            y = w[r].to_numpy() if r in w else np.full(len(w), np.nan)
            row: dict[str, Any] = {
                "answer": c.answer,
                "subject": c.subject,
                "metric": c.metric,
                "contrast": c.label,
                "draw": d,
            }
            row.update(analysis.paired_effect(x, y, binary=analysis.is_binary(c.metric)))
            diffs = (x - y)[np.isfinite(x - y)]
            row["se"] = float(diffs.std(ddof=1) / np.sqrt(len(diffs))) if len(diffs) > 1 else np.nan
            rows.append(row)
    cols = ["answer", "subject", "metric", "contrast", "draw", "diff", "diff_lo", "diff_hi"]
    cols += ["median_diff", "se", "p", "pairs"]
    df = pd.DataFrame(rows, columns=cols)
    df["draw"] = df["draw"].astype("Int64")
    df["pairs"] = df["pairs"].astype(int)
    return df


def _excludes_zero(lo: np.ndarray, hi: np.ndarray, side: float) -> np.ndarray:
    """Intervals that exclude zero on `side` (+1 above, -1 below, 0 either); NaN: no."""
    with np.errstate(invalid="ignore"):
        above, below = lo > 0, hi < 0
    return above if side > 0 else below if side < 0 else above | below


SHARE_KEYS = (
    "median",
    "p05",
    "p95",
    "same_sign",
    "same_sign_excludes_zero",
    "opposite_excludes_zero",
    "seed_noise_share",
)


def across_draws(rows: pd.DataFrame) -> dict[str, Any] | None:
    """The effect's distribution over the draws of one contrast (its rows of `effect_rows`)
    against its sign at the defaults; None without draws.

    same_sign: share of the draws with an effect whose effect has the defaults' sign (for an
    effect of exactly 0 at the defaults: is 0); same_sign_excludes_zero: and whose 95% seed
    interval excludes zero on that side; opposite_excludes_zero: whose interval excludes zero
    on the other side (either side for a 0 effect at the defaults). seed_noise_share: the mean
    squared standard error over the variance of the effects across draws (near or above 1,
    the spread across draws is the seeds' noise, not the parameters')."""
    at_defaults = rows[rows["draw"].isna()]
    drawn = rows[rows["draw"].notna()]
    if drawn.empty:
        return None
    d0 = float(at_defaults["diff"].iloc[0]) if len(at_defaults) else np.nan
    have = drawn[np.isfinite(drawn["diff"].to_numpy(dtype=float))]
    e = have["diff"].to_numpy(dtype=float)
    lo, hi = have["diff_lo"].to_numpy(dtype=float), have["diff_hi"].to_numpy(dtype=float)
    out: dict[str, Any] = {"draws": len(drawn), "with_effect": len(e)}
    if len(e) == 0 or not np.isfinite(d0):
        return {**out, **dict.fromkeys(SHARE_KEYS, float("nan"))}
    sign = float(np.sign(d0))
    same = np.sign(e) == sign
    se = have["se"].to_numpy(dtype=float)
    se = se[np.isfinite(se)]
    spread = float(np.var(e, ddof=1)) if len(e) > 1 else float("nan")
    noise = float(np.mean(se**2)) if len(se) else float("nan")
    out.update(
        median=float(np.median(e)),
        p05=float(np.percentile(e, 5)),
        p95=float(np.percentile(e, 95)),
        same_sign=float(same.mean()),
        same_sign_excludes_zero=(
            float((same & _excludes_zero(lo, hi, sign)).mean()) if sign else float("nan")
        ),
        opposite_excludes_zero=float(_excludes_zero(lo, hi, -sign).mean()),
        seed_noise_share=noise / spread if spread > 0 else float("nan"),
    )
    return out


def answers(rows: pd.DataFrame) -> list[dict[str, Any]]:
    """answers.json: per contrast, the effect at the defaults and across the draws."""
    out = []
    for (n, label), g in rows.groupby(["answer", "contrast"], sort=False):
        base = g[g["draw"].isna()].iloc[0]
        defaults = {
            k: _plain(base[k])
            for k in ("diff", "diff_lo", "diff_hi", "median_diff", "se", "p", "pairs")
        }
        out.append(
            {
                "answer": int(n),
                "subject": base["subject"],
                "metric": base["metric"],
                "contrast": label,
                "defaults": defaults,
                "across_draws": _json_safe(across_draws(g)),
            }
        )
    return out


def _json_safe(d: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if d is None else {k: _plain(v) for k, v in d.items()}


def _plain(x: Any) -> Any:
    """A JSON value: NaN as None, numpy scalars as Python numbers."""
    if isinstance(x, int | np.integer):
        return int(x)
    x = float(x)
    return x if np.isfinite(x) else None


def write(out: Path, rows: pd.DataFrame, draw_values: pd.DataFrame | None) -> list[Path]:
    """answers.json, and with draws draws.parquet (`rows` joined with each draw's values)."""
    summary = answers(rows)
    write_text(out / "answers.json", json.dumps(summary, indent=2, allow_nan=False) + "\n")
    files = [out / "answers.json"]
    if draw_values is not None:
        table = rows.merge(draw_values, on="draw", how="left")
        write_parquet(table, out / "draws.parquet")
        files.insert(0, out / "draws.parquet")
    return files


# ---- summary.md --------------------------------------------------------------------------
def _pct(x: float) -> str:
    return f"{100 * x:.0f}%" if np.isfinite(x) else "n/a"


def section(
    summary: list[dict[str, Any]],
    record: dict[str, Any],
    draw_seeds: int,
    draw_runs: pd.DataFrame,
) -> list[str]:
    """The summary's "Across parameter draws" section: per contrast the effect at the defaults
    and across the draws; the parameters drawn; the draws' failed runs."""
    est = record["estimate"]
    n = len(record["draws"])
    per_draw = 1 / record["acceptance"] if record["acceptance"] > 0 else float("nan")
    lines = [
        "",
        "## Across parameter draws",
        "",
        f"The experiment rerun at {n} draws of the estimated parameters (`{est['path']}`, "
        f"sha256 {est['sha256'][:12]}), each from the estimate's normal distribution (theta, "
        "covariance) restricted to the parameters' plausible boxes (draws outside are drawn "
        f"again: {per_draw:.2g} candidate vectors per draw on average; draw seed "
        f"{record['seed']}), "
        f"at every point of the grid with the first {draw_seeds} seeds (common random numbers "
        "within each draw). A contrast's effect is the mean paired difference over seeds, as "
        "in the tables below; *same sign* counts the draws whose effect has the sign of the "
        "effect at the defaults, *CI excludes 0* those whose 95% seed interval also excludes "
        "zero, *flips* those whose interval excludes zero on the other side. *Seed noise* is "
        "the mean squared standard error over the variance of the effects across draws: near "
        "or above 100%, the spread across draws is the seeds' noise, not the parameters'.",
        "",
        "| answer | contrast | at the defaults: mean [95% CI] | median | across draws: median "
        "[5%, 95%] | same sign | same sign, CI excludes 0 | flips | draws | seed noise |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in summary:
        m, d, a = s["metric"], s["defaults"], s["across_draws"] or {}
        x = {k: _num(a.get(k)) for k in SHARE_KEYS}
        at = analysis.fmt_ci(*(_num(d[k]) for k in ("diff", "diff_lo", "diff_hi")), m)
        ends = f"{analysis.fmt(x['p05'], m)}, {analysis.fmt(x['p95'], m)}"
        label = f"{s['answer']}. {s['subject']} ({metric_info(m).label})"
        cells = [
            label,
            s["contrast"],
            at,
            analysis.fmt(_num(d["median_diff"]), m),
            f"{analysis.fmt(x['median'], m)} [{ends}]",
            _pct(x["same_sign"]),
            _pct(x["same_sign_excludes_zero"]),
            _pct(x["opposite_excludes_zero"]),
            f"{a.get('with_effect', 0)} of {a.get('draws', n)}",
            _pct(x["seed_noise_share"]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    if not summary:
        lines.append("| (no answer with a control or an `across` dimension) | | | | | | | | | |")
    off = [o for o in record["estimate_not_default"] if not _held(record, o["parameter"])]
    if off:
        listed = ", ".join(
            f"`{o['parameter']}` {o['estimate']:.4g} (default {o['default']:.4g})" for o in off
        )
        lines += [
            "",
            "**Warning.** The draws are centred on the estimate, but the estimate is not the "
            f"model's defaults, at which the rest of this summary runs: {listed}. The two "
            "columns then describe different centres; set the defaults to the estimate first.",
        ]
    lines += _parameter_lines(record)
    lines += _failure_lines(draw_runs)
    return lines


def _held(record: dict[str, Any], name: str) -> bool:
    return any(p["parameter"] == name and p["held_by_spec"] for p in record["parameters"])


def _num(x: Any) -> float:
    return float("nan") if x is None else float(x)


def _parameter_lines(record: dict[str, Any]) -> list[str]:
    values = pd.DataFrame(record["draws"])
    lines = [
        "",
        "The parameters drawn:",
        "",
        "| parameter | estimate | s.e. | plausible box | drawn | draws: 5% / median / 95% |",
        "|---|---|---|---|---|---|",
    ]
    for p in record["parameters"]:
        name = p["parameter"]
        v = values[name].to_numpy(dtype=float)
        q = np.percentile(v, [5, 50, 95])
        se = f"{p['se']:.3g}" if p["se"] is not None else "unknown"
        drawn = p["drawn"] if not p["held_by_spec"] else f"held by the spec ({p['held_by_spec']})"
        lines.append(
            f"| `{name}` | {p['estimate']:.4g} | {se} | [{p['box'][0]:g}, {p['box'][1]:g}] | "
            f"{drawn} | {q[0]:.4g} / {q[1]:.4g} / {q[2]:.4g} |"
        )
    return lines


def _failure_lines(draw_runs: pd.DataFrame) -> list[str]:
    failed = draw_runs[draw_runs["status"] != "ok"]
    diverged = int((failed["status"] == "diverged").sum())
    text = (
        f"Runs at the draws: {len(draw_runs) - len(failed)} ok, {len(failed)} failed, of which "
        f"{diverged} diverged. A draw's effect uses its successful pairs; a draw without one "
        "is left out of the shares (the *draws* column counts those with an effect)."
    )
    if len(failed):
        worst = failed.groupby(DRAW_KEY).size().sort_values(ascending=False).head(10)
        text += " Draws with failed runs (runs failed): " + ", ".join(
            f"{int(d)} ({k})" for d, k in worst.items()
        )
        text += "."
    return ["", text]


def headline(summary: list[dict[str, Any]]) -> str:
    """One line per contrast for the command line: the effect across draws and its sign."""
    lines = []
    for s in summary:
        m = s["metric"]
        if s["across_draws"] is None:
            continue
        a = {k: _num(v) if k in SHARE_KEYS else v for k, v in s["across_draws"].items()}
        lines.append(
            f"across {a['draws']} parameter draws, answer {s['answer']} ({s['contrast']}): "
            f"median effect {analysis.fmt(a['median'], m)} [5-95%: {analysis.fmt(a['p05'], m)}, "
            f"{analysis.fmt(a['p95'], m)}]; the defaults' sign in {_pct(a['same_sign'])} of "
            f"draws, with a 95% seed interval excluding 0 in "
            f"{_pct(a['same_sign_excludes_zero'])}"
        )
    return "\n".join(lines)
