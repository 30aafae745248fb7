"""Global sensitivity analysis with SALib: Morris screening, then Sobol indices.

Stage 1 (Morris elementary effects) screens every parameter of `[sensitivity.bounds]`; stage 2
computes first-order and total Sobol indices (Saltelli sampling, Jansen estimators) for the
`sobol_top` parameters with the largest mu* on the screening metric, the others held at their
base values. Each sample point runs the spec's seeds (the same seeds at every point: common
random numbers) and its output is the mean over them, so seed noise is averaged, not indexed.
The sample generators are seeded, so the points are the same on every rerun.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from crypto401k.experiments.extras import require
from crypto401k.experiments.spec import Point, Spec, check_overrides, steps_for


def _salib(module: str) -> Any:
    """A SALib module; one message naming the `sensitivity` extra if SALib is missing."""
    return require(module, "sensitivity", "the sensitivity experiment (Morris, Sobol)")


SAMPLE_SEED = 2025  # the year of the executive order; any fixed seed would do


def problem(bounds: dict[str, tuple[float, float]]) -> dict[str, Any]:
    return {
        "num_vars": len(bounds),
        "names": list(bounds),
        "bounds": [list(b) for b in bounds.values()],
    }


def _points(spec: Spec, names: list[str], x: np.ndarray, stage: str) -> list[Point]:
    steps = steps_for(spec.years)
    points = []
    for i, row in enumerate(x):
        params = {n: float(v) for n, v in zip(names, row, strict=True)}
        overrides = {**spec.fixed_overrides(), **params, "run.steps": steps}
        check_overrides(overrides)
        points.append(Point(index=i, params=params, overrides=overrides, stage=stage))
    return points


def morris_points(spec: Spec) -> tuple[list[Point], np.ndarray]:
    morris = _salib("SALib.sample.morris")

    sens = spec.sensitivity
    prob = problem(sens.bounds)
    x = morris.sample(
        prob, N=sens.morris_trajectories, num_levels=sens.morris_levels, seed=SAMPLE_SEED
    )
    return _points(spec, prob["names"], x, "morris"), x


def sobol_points(spec: Spec, names: list[str]) -> tuple[list[Point], np.ndarray]:
    sobol = _salib("SALib.sample.sobol")

    sens = spec.sensitivity
    prob = problem({n: sens.bounds[n] for n in names})
    x = sobol.sample(prob, sens.sobol_samples, calc_second_order=False, seed=SAMPLE_SEED)
    return _points(spec, names, x, "sobol"), x


def point_means(df: pd.DataFrame, n_points: int, metric: str) -> np.ndarray:
    """Mean of `metric` over seeds for points 0..n_points-1; NaN where a point lacks a seed
    (a failed run): averaging over different seeds would break common random numbers."""
    ok = df[df["status"] == "ok"]
    n_seeds = df["seed"].nunique()
    g = ok.groupby("point")[metric]
    means = g.mean().where(g.count() == n_seeds)
    return means.reindex(range(n_points)).to_numpy(dtype=float)


def noise_share(df: pd.DataFrame, metric: str) -> float:
    """Share of the variance of the point means that seed noise alone would produce:
    mean within-point variance / seeds, over the variance of the point means. Near 0 the
    indices measure the parameters; near 1 they mostly measure noise."""
    ok = df[df["status"] == "ok"]
    g = ok.groupby("point")[metric]
    n = g.count()
    if n.min() < 2:
        return float("nan")
    within = float((g.var(ddof=1) / n).mean())
    between = float(g.mean().var(ddof=1))
    return within / between if between > 0 else float("nan")


def analyse_morris(spec: Spec, x: np.ndarray, df: pd.DataFrame, metric: str) -> pd.DataFrame:
    """mu*, its 95% bootstrap half-width, and sigma per parameter (sorted by mu*)."""
    morris = _salib("SALib.analyze.morris")

    y = point_means(df, len(x), metric)
    names = list(spec.sensitivity.bounds)
    if not np.all(np.isfinite(y)):
        return pd.DataFrame(columns=["parameter", "mu_star", "mu_star_conf", "sigma"])
    si = morris.analyze(
        problem(spec.sensitivity.bounds),
        x,
        y,
        num_levels=spec.sensitivity.morris_levels,
        conf_level=0.95,
        seed=SAMPLE_SEED,
    )
    out = pd.DataFrame(
        {
            "parameter": names,
            "mu_star": si["mu_star"],
            "mu_star_conf": si["mu_star_conf"],
            "sigma": si["sigma"],
        }
    )
    return out.sort_values("mu_star", ascending=False, kind="stable").reset_index(drop=True)


def screen(spec: Spec, morris_table: pd.DataFrame) -> tuple[list[str], bool]:
    """The parameters Sobol analyses: the `sobol_top` largest mu* (in the bounds' order), and
    whether screening worked (if it failed, the first `sobol_top` of the bounds are taken and
    the summary says so)."""
    top = set(morris_table["parameter"].head(spec.sensitivity.sobol_top))
    screened = bool(top)
    if not screened:
        top = set(list(spec.sensitivity.bounds)[: spec.sensitivity.sobol_top])
    return [n for n in spec.sensitivity.bounds if n in top], screened


def analyse_sobol(
    spec: Spec, names: list[str], x: np.ndarray, df: pd.DataFrame, metric: str
) -> pd.DataFrame:
    """First-order S1 and total ST indices with 95% bootstrap half-widths."""
    sobol = _salib("SALib.analyze.sobol")

    y = point_means(df, len(x), metric)
    cols = ["parameter", "S1", "S1_conf", "ST", "ST_conf"]
    if not np.all(np.isfinite(y)) or np.var(y) == 0:
        return pd.DataFrame(columns=cols)
    prob = problem({n: spec.sensitivity.bounds[n] for n in names})
    si = sobol.analyze(prob, y, calc_second_order=False, conf_level=0.95, seed=SAMPLE_SEED)
    out = pd.DataFrame(
        {
            "parameter": names,
            "S1": si["S1"],
            "S1_conf": si["S1_conf"],
            "ST": si["ST"],
            "ST_conf": si["ST_conf"],
        }
    )
    return out.sort_values("ST", ascending=False, kind="stable").reset_index(drop=True)
