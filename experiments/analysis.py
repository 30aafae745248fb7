"""Statistics of a sweep: small pure functions, arrays or frames in, numbers or frames out.

- `mean_ci`: mean and 95% Student-t confidence interval over seeds (Wilson for 0/1 rates).
- `paired_effect`: treatment minus control, paired by seed (common random numbers), with its
  95% CI and a paired test (t-test; exact McNemar for 0/1; exact sign test if degenerate).
- `holm`: Holm-Bonferroni adjustment of a family of p-values.
- `effect_table`: all of it for every point and metric of a grid sweep.
- `answer_sentence`: the experiment's one-sentence answer, worded by the test's result.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from crypto401k.experiments.registry import metric_info, split_metric
from scipy import stats

ALPHA = 0.05
# verbs for a significant rise / fall, where "raised" and "lowered" would mislead
DIRECTION = {"max_drawdown": ("made shallower", "deepened")}


def is_binary(metric: str) -> bool:
    """A 0/1 outcome (its mean is a rate)."""
    try:
        split_metric(metric)
    except ValueError:
        return False
    return metric_info(metric).unit == "0/1"


def mean_ci(x: np.ndarray, level: float = 0.95, binary: bool = False) -> tuple[float, float, float]:
    """(mean, low, high) of the finite values of x: a Student-t interval, or for a 0/1
    outcome the Wilson score interval of the rate (it stays inside [0, 1]). NaN bounds with
    fewer than two values (one suffices for Wilson)."""
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return (float("nan"),) * 3
    mean = float(x.mean())
    if binary:
        ci = stats.binomtest(int(x.sum()), len(x)).proportion_ci(level, method="wilson")
        return mean, float(ci.low), float(ci.high)
    if len(x) < 2:
        return mean, float("nan"), float("nan")
    sem = float(stats.sem(x))
    if sem == 0.0:  # every value the same: scipy's interval needs a positive scale
        return mean, mean, mean
    low, high = stats.t.interval(level, len(x) - 1, loc=mean, scale=sem)
    return mean, float(low), float(high)


def paired_effect(
    treatment: np.ndarray, control: np.ndarray, binary: bool = False
) -> dict[str, float]:
    """Mean paired difference (treatment - control, element i of each from the same seed),
    its 95% t interval, the median difference, and a two-sided p-value. Pairs with a NaN are
    dropped.

    The test is the paired t-test; for 0/1 outcomes the exact McNemar test (a binomial test
    on the discordant pairs); and when every difference is the same the exact sign test
    (p = 1 if they are all 0), since a t-test is undefined there.
    """
    t = np.asarray(treatment, dtype=float)
    c = np.asarray(control, dtype=float)
    ok = np.isfinite(t) & np.isfinite(c)
    t, c = t[ok], c[ok]
    d = t - c
    mean, lo, hi = mean_ci(d)
    if binary and len(d):
        lo, hi = max(lo, -1.0), min(hi, 1.0)
    if len(d) == 0:
        p = float("nan")
    elif binary:
        up, down = int((t > c).sum()), int((t < c).sum())
        p = float(stats.binomtest(up, up + down, 0.5).pvalue) if up + down else 1.0
    elif np.ptp(d) == 0:
        p = 1.0 if d[0] == 0 else min(1.0, 2.0 * 0.5 ** len(d))
    elif len(d) < 2:
        p = float("nan")
    else:
        p = float(stats.ttest_1samp(d, 0.0).pvalue)
    median = median_of(d)
    return {
        "diff": mean,
        "diff_lo": lo,
        "diff_hi": hi,
        "median_diff": median,
        "p": p,
        "pairs": len(d),
    }


def holm(p: np.ndarray) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (NaN stays NaN, excluded from the family)."""
    p = np.asarray(p, dtype=float)
    out = np.full_like(p, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    order = ok[np.argsort(p[ok], kind="stable")]
    m = len(order)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


def effect_table(
    runs: pd.DataFrame, control_of: dict[int, int | None], metrics: list[str]
) -> pd.DataFrame:
    """One row per (point, metric): n, mean and CI, median, the control's mean, the paired
    effect against the point's control (mean, CI, median), and Holm-adjusted p-values within
    each metric.

    `runs` has columns point, seed, status and the metrics; `control_of` maps each point to
    its control point (None for controls and when the experiment has no control).
    """
    ok = runs[runs["status"] == "ok"]
    rows = []
    for metric in metrics:
        wide = ok.pivot(index="seed", columns="point", values=metric)
        for point, ctrl in control_of.items():
            x = wide[point].to_numpy() if point in wide else np.array([])
            mean, lo, hi = mean_ci(x, binary=is_binary(metric))
            row = {"point": point, "metric": metric, "n": int(np.isfinite(x).sum())}
            row.update(mean=mean, lo=lo, hi=hi, median=median_of(x), control_constant=False)
            if ctrl is not None and ctrl in wide and point in wide:
                c = wide[ctrl].to_numpy()
                row["control_mean"] = mean_ci(c)[0]
                finite = c[np.isfinite(c)]
                row["control_constant"] = bool(len(finite) > 1 and np.ptp(finite) == 0)
                row.update(paired_effect(x, c, binary=is_binary(metric)))
            rows.append(row)
    table = pd.DataFrame(rows)
    for col in ("control_mean", "diff", "diff_lo", "diff_hi", "median_diff", "p", "pairs"):
        if col not in table:
            table[col] = np.nan
    table["p_holm"] = np.nan
    for metric in metrics:
        sel = table["metric"] == metric
        table.loc[sel, "p_holm"] = holm(table.loc[sel, "p"].to_numpy())
    return table


def fmt(x: float, metric: str | None = None) -> str:
    """A number for a table or sentence: percentages for fractions, else 3 significant digits."""
    if x is None or not np.isfinite(x):
        return "n/a"
    unit = metric_info(metric).unit if metric else ""
    if unit.startswith("fraction") and abs(x) < 10:
        return f"{100 * x:.3g}%"
    if unit == "USD":
        return f"${x / 1e9:,.3g}B"
    return f"{x:.3g}"


def fmt_ci(mean: float, lo: float, hi: float, metric: str | None = None) -> str:
    return f"{fmt(mean, metric)} [{fmt(lo, metric)}, {fmt(hi, metric)}]"


def answer_sentence(row: dict[str, Any] | pd.Series, subject: str, metric: str) -> str:
    """'<subject> raised/cut/did not significantly change <metric> from X [CI] to Y [CI] ...'"""
    label = metric_info(metric).label
    if not np.isfinite(row.get("diff", np.nan)):
        return (
            f"{subject}: {label} {fmt_ci(row['mean'], row['lo'], row['hi'], metric)} (no control)."
        )
    significant = np.isfinite(row["p_holm"]) and row["p_holm"] < ALPHA
    if significant:
        up, down = DIRECTION.get(metric, ("raised", "lowered"))
        verb = up if row["diff"] > 0 else down
    else:
        verb = "did not significantly change"
    ctrl = fmt(row["control_mean"], metric)
    treat = fmt_ci(row["mean"], row["lo"], row["hi"], metric)
    effect = fmt_ci(row["diff"], row["diff_lo"], row["diff_hi"], metric)
    if not is_binary(metric) and np.isfinite(row.get("median_diff", np.nan)):
        effect += f", median {fmt(row['median_diff'], metric)}"
    sentence = (
        f"{subject} {verb} {label} ({ctrl} in the control, {treat} with it; paired difference "
        f"{effect}, Holm-adjusted p = {row['p_holm']:.2g}, {int(row['pairs'])} seeds)."
    )
    if significant and bool(row.get("control_constant", False)):
        # e.g. savers' losses where the control holds no crypto: the test cannot fail
        sentence += (
            f" The control is {ctrl} in every seed, so the test only says that the treatment "
            "differs from it at all: judge the effect by its size."
        )
    return sentence


def median_of(x: np.ndarray) -> float:
    """The median of the finite values of x (NaN if none)."""
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    return float(np.median(x)) if len(x) else float("nan")


def across_sentence(groups: dict[str, np.ndarray], subject: str, metric: str) -> str:
    """'<subject>: <metric> was X [CI] (a), Y [CI] (b) ...; the differences are (not)
    significant (Friedman test ...)'. `groups` holds one array per value, aligned by seed."""
    label = metric_info(metric).label
    binary = is_binary(metric)
    parts = [
        f"{fmt_ci(*mean_ci(x, binary=binary), metric)}"
        + ("" if binary else f", median {fmt(median_of(x), metric)}")
        + f" ({name})"
        for name, x in groups.items()
    ]
    arrays = np.array([np.asarray(x, dtype=float) for x in groups.values()])
    arrays = arrays[:, np.all(np.isfinite(arrays), axis=0)]
    n = arrays.shape[1]
    if len(groups) < 2 or n < 2:
        return f"{subject}: {label} was " + ", ".join(parts) + " (too few runs for a test)."
    if len(groups) == 2:
        p, test = paired_effect(arrays[0], arrays[1], binary)["p"], "paired test"
    elif np.all(arrays == arrays[0]):
        p, test = 1.0, "Friedman test"
    else:
        p, test = float(stats.friedmanchisquare(*arrays).pvalue), "Friedman test"
    verdict = "differ significantly" if p < ALPHA else "do not differ significantly"
    return (
        f"{subject}: {label} was " + ", ".join(parts) + f"; these {verdict} "
        f"({test} over {n} paired seeds, p = {p:.2g})."
    )
