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
from crypto401k.experiments.validate import (
    MSM_MOMENTS,
    baseline_run,
    bootstrap_moment_cov,
    check_sweep,
    map_seeds,
    msm_distance,
)
from crypto401k.model import metrics as mt
from crypto401k.model.data import load_btc_close

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


# ---- an exchange failure's news: Bitcoin's week after FTX -------------------------------
FTX_WEEK_RETURN = -0.22  # BTC, 7 days to 13 Nov 2022 (seed-world-facts.md section 4)
FTX_LOST_SHARE = 0.01  # FTX's $8.7-8.9B shortfall against a market of about $850-900B


def failure_week(elasticity: float, seed: int, day: int = 365, exchange: int = 4) -> tuple:
    """(USD lost / coins' cap, Bitcoin's return over the 7 days from the failure) when
    `exchange` (0-based rank by share; the fifth loses about 1% of the cap, FTX's size)
    fails on `day` of the four-asset scenario, with no other failure and no regulator."""
    from crypto401k.experiments.outcomes import build_model

    m = build_model(
        {
            "scenario": "four_assets",
            "regulator.enabled": False,
            "exchanges.failure_rate_annual": 0.0,
            "exchanges.fail_day": day,
            "exchanges.fail_exchange": exchange,
            "exchanges.news_elasticity": elasticity,
            "savers.allocation": 0.03,
            "run.steps": day + 8,
        },
        seed,
    )
    m.run(day)
    coins = ~m.market.pegged
    cap = float(m.market.price[coins] @ m.market.supply[coins])
    before = float(m.market.price[0])
    m.run(8)
    week = float(m.datacollector.get_model_vars_dataframe()["price"].iloc[day + 7])
    return float(m.exchanges.lost_usd[exchange] / cap), week / before - 1.0


def failure_week_slope(elasticity: float, seeds: int) -> float:
    """Bitcoin's week return per 1% of the coins' cap lost: a fit through the origin over
    `seeds` failures of an FTX-sized venue (compare FTX_WEEK_RETURN at FTX_LOST_SHARE)."""
    lost, week = np.array([failure_week(elasticity, s) for s in range(seeds)]).T
    return float(lost @ week / (lost @ lost) * FTX_LOST_SHARE)
