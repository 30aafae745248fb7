"""Stylized facts of the no-401(k) baseline over a few seeds: a quick check of the defaults.

    python -m experiments.facts [--seeds N] [--years Y]

Prints the mean and range over seeds of each fact next to Bitcoin's (Bitstamp 2014-2020,
DESIGN.md). The full calibration (`crypto401k validate`, with a method-of-simulated-moments
distance against the real series) is the calibration issue's work; this is its first look.
"""

from __future__ import annotations

import argparse
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from model import metrics as mt
from model.model import Crypto401kModel

BITCOIN = {  # DESIGN.md, calibration targets (Bitstamp BTC daily 2014-11..2020-01)
    "annualized volatility": 0.76,
    "excess kurtosis": 6.5,
    "Hill tail index (5%)": 3.2,
    "acf r lag 1": -0.02,
    "acf |r| lag 1": 0.27,
    "acf |r| lag 10": 0.16,
    "acf |r| lag 50": 0.085,
    "max drawdown": -0.83,
}


def baseline_facts(seed: int, years: float) -> list[float]:
    m = Crypto401kModel(rng=seed, **{"savers.allocation": 0.0, "run.steps": int(365 * years)})
    m.run()
    p = m.datacollector.get_model_vars_dataframe()["price"].to_numpy()
    r = mt.log_returns(p)
    return [
        mt.annualized_volatility(r),
        mt.excess_kurtosis(r),
        mt.hill_tail_index(r),
        float(mt.autocorrelation(r, [1])[0]),
        *mt.autocorrelation(np.abs(r), [1, 10, 50]).tolist(),
        mt.max_drawdown(p),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--years", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    with ProcessPoolExecutor(args.workers) as pool:
        rows = np.array(
            list(pool.map(baseline_facts, range(args.seeds), [args.years] * args.seeds))
        )
    print(f"{'fact':24s} {'Bitcoin':>8s} {'model mean':>11s} {'min':>8s} {'max':>8s}")
    for k, (name, real) in enumerate(BITCOIN.items()):
        col = rows[:, k]
        print(f"{name:24s} {real:8.3f} {col.mean():11.3f} {col.min():8.3f} {col.max():8.3f}")


if __name__ == "__main__":
    main()
