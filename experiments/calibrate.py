"""The calibration search: a grid over the traders' switching and trend parameters, scored by
the method-of-simulated-moments distance of the no-401(k) baseline to Bitcoin.

    crypto401k calibrate [--seeds N] [--years Y] [--workers K]

Every grid point runs the same seeds (common random numbers), so the points differ only in
their parameters. The objective is `experiments.validate.msm_distance` of the seed-averaged
moments, weighted by the inverse bootstrap covariance of Bitcoin's moments. The result and how
it was used are in docs/calibration.md.
"""

from __future__ import annotations

import itertools
from functools import partial

import numpy as np

from experiments.validate import (
    MSM_MOMENTS,
    baseline_run,
    bootstrap_moment_cov,
    check_sweep,
    map_seeds,
    msm_distance,
)
from model import metrics as mt
from model.data import load_btc_close

GRID = {
    "traders.predisposition": [-0.5, -0.3, -0.1],
    "traders.chartist_reaction": [0.25, 0.5, 1.0],
}


def search(seeds: int, years: float, workers: int) -> list[dict]:
    """Score every grid point; rows sorted by MSM distance (best first)."""
    check_sweep(seeds, years, workers)
    _, close = load_btc_close()
    real = mt.stylized_facts(close)
    real_m = np.array([real[k] for k in MSM_MOMENTS])
    cov = bootstrap_moment_cov(mt.log_returns(close))
    rows = []
    for values in itertools.product(*GRID.values()):
        point = dict(zip(GRID, values, strict=True))
        runs = map_seeds(partial(baseline_run, overrides=point), range(seeds), years, workers)
        moments = np.array([[run["facts"][k] for k in MSM_MOMENTS] for run in runs])
        mean = np.nanmean(moments, axis=0)
        rows.append(
            {
                **point,
                "msm_distance": msm_distance(mean, real_m, cov),
                **dict(zip(MSM_MOMENTS, mean.tolist(), strict=True)),
            }
        )
    return sorted(rows, key=lambda r: r["msm_distance"])


def format_rows(rows: list[dict]) -> str:
    keys = [*GRID, "msm_distance", *MSM_MOMENTS]
    short = [k.split(".")[-1] for k in keys]
    lines = ["| " + " | ".join(short) + " |", "|" + "---|" * len(keys)]
    for r in rows:
        lines.append("| " + " | ".join(f"{r[k]:.3g}" for k in keys) + " |")
    return "\n".join(lines)
