"""Stylized facts of the no-401(k) baseline over a few seeds: a quick check of the defaults.

    python -m experiments.facts [--seeds N] [--years Y]

Prints the mean and range over seeds of each fact next to Bitcoin's, computed from the
shipped Bitstamp series (model/data/, 2014-11..2020-01). The full calibration (`crypto401k
validate`, with a method-of-simulated-moments distance against the real series) is the
calibration issue's work; this is its first look.
"""

from __future__ import annotations

import argparse
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from model import metrics as mt
from model.data import load_btc_close
from model.model import Crypto401kModel

FACTS = (
    "annualized volatility",
    "excess kurtosis",
    "Hill tail index (5%)",
    "acf r lag 1",
    "acf |r| lag 1",
    "acf |r| lag 10",
    "acf |r| lag 50",
    "max drawdown",
)


def facts_of(prices: np.ndarray) -> list[float]:
    """The stylized facts of a daily price series, in the order of FACTS."""
    r = mt.log_returns(prices)
    return [
        mt.annualized_volatility(r),
        mt.excess_kurtosis(r),
        mt.hill_tail_index(r),
        float(mt.autocorrelation(r, [1])[0]),
        *mt.autocorrelation(np.abs(r), [1, 10, 50]).tolist(),
        mt.max_drawdown(prices),
    ]


def baseline_facts(seed: int, years: float) -> list[float]:
    m = Crypto401kModel(rng=seed, **{"savers.allocation": 0.0, "run.steps": int(365 * years)})
    m.run()
    return facts_of(m.datacollector.get_model_vars_dataframe()["price"].to_numpy())


def map_seeds(fn, seeds, years: float, workers: int) -> list:
    """fn(seed, years) for each seed, in order; in `workers` spawned processes (fork is
    unsafe once numpy's threads exist), or in this process when workers is 1."""
    seeds = list(seeds)
    if workers <= 1:
        return [fn(s, years) for s in seeds]
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        return list(pool.map(fn, seeds, [years] * len(seeds)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--years", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    rows = np.array(map_seeds(baseline_facts, range(args.seeds), args.years, args.workers))
    real = facts_of(load_btc_close()[1])
    print(f"{'fact':24s} {'Bitcoin':>8s} {'model mean':>11s} {'min':>8s} {'max':>8s}")
    for k, name in enumerate(FACTS):
        col = rows[:, k]
        print(f"{name:24s} {real[k]:8.3f} {col.mean():11.3f} {col.min():8.3f} {col.max():8.3f}")


if __name__ == "__main__":
    main()
