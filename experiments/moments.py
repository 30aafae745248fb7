"""The estimation's moment vector: what the model must reproduce of a daily price series.

Pure functions, numpy in, numbers out. The vector is `validate`'s stylized facts (volatility,
excess kurtosis, Hill tail index, lag-1 return autocorrelation, |r| autocorrelation at lags 1,
10, 50) plus what the estimation adds: |r| autocorrelation at lags 5 and 20 and averaged over
the long lags 51-100 (one lag's value is noisy, their mean is not), and the distribution of
drawdowns: the median and 90th percentile of the largest fall within a 30-day window, over
every 30-day window of the series. A one-path maximum drawdown (validate's fact) is left out:
one episode decides it, so its bootstrap variance says little about a model's.

`bootstrap_cov` is the covariance of the vector over moving-block bootstrap resamples of the
returns (the data's sampling noise); the weighting matrix of the estimation is its inverse,
scaled for the simulation noise (experiments/estimate.py).
"""

from __future__ import annotations

import numpy as np
from crypto401k.model import metrics as mt
from numpy.lib.stride_tricks import sliding_window_view

DRAWDOWN_WINDOW_DAYS = 30
DRAWDOWN_QUANTILES = (0.5, 0.9)
LONG_LAGS = np.arange(51, 101)  # days: the long-memory part of volatility clustering
ABS_LAGS = (1, 5, 10, 20, 50)  # days

MOMENT_NAMES: tuple[str, ...] = (
    "annualized_volatility",
    "excess_kurtosis",
    "hill_tail_index",
    "acf_r_lag1",
    *(f"acf_abs_r_lag{lag}" for lag in ABS_LAGS),
    "acf_abs_r_lags51_100",
    "drawdown30_median",
    "drawdown30_p90",
)
# the minimum series: the long lags and a few drawdown windows beyond them
MIN_DAYS = int(LONG_LAGS[-1]) + 2 * DRAWDOWN_WINDOW_DAYS


def window_drawdowns(prices: np.ndarray, window: int = DRAWDOWN_WINDOW_DAYS) -> np.ndarray:
    """The largest fall from a running peak within each `window`-day stretch of `prices`
    (every start day; shape (len(prices) - window + 1,)), as a positive fraction."""
    p = np.asarray(prices, dtype=float)
    w = sliding_window_view(p, window)
    return 1.0 - (w / np.maximum.accumulate(w, axis=1)).min(axis=1)


def moments(prices: np.ndarray) -> np.ndarray:
    """The moment vector of a daily price series, in MOMENT_NAMES order, shape (k,).
    Drawdowns are positive fractions; autocorrelations as `metrics.autocorrelation`."""
    p = np.asarray(prices, dtype=float)
    r = mt.log_returns(p)
    a = np.abs(r)
    acf = mt.autocorrelation(a, np.concatenate([ABS_LAGS, LONG_LAGS]))
    dd = np.quantile(window_drawdowns(p), DRAWDOWN_QUANTILES)
    return np.array(
        [
            mt.annualized_volatility(r),
            mt.excess_kurtosis(r),
            mt.hill_tail_index(r),
            float(mt.autocorrelation(r, [1])[0]),
            *acf[: len(ABS_LAGS)],
            float(np.mean(acf[len(ABS_LAGS) :])),
            *dd,
        ]
    )


def moments_of_returns(returns: np.ndarray) -> np.ndarray:
    """`moments` of the price path the log `returns` trace from 1."""
    return moments(np.exp(np.concatenate([[0.0], np.cumsum(returns)])))


def block_resample(returns: np.ndarray, block: int, rng: np.random.Generator) -> np.ndarray:
    """One moving-block bootstrap resample of `returns` (same length): blocks of `block`
    consecutive days from uniform starts, concatenated and cut to length."""
    n = len(returns)
    starts = rng.integers(0, n - block + 1, int(np.ceil(n / block)))
    return np.concatenate([returns[s : s + block] for s in starts])[:n]


def bootstrap_cov(returns: np.ndarray, draws: int, block: int, seed: int) -> np.ndarray:
    """Covariance (k x k) of the moment vector over `draws` moving-block bootstrap resamples
    of `returns` with blocks of `block` days; the generator is seeded, so it is reproducible."""
    rng = np.random.default_rng(seed)
    samples = np.array(
        [moments_of_returns(block_resample(returns, block, rng)) for _ in range(draws)]
    )
    return np.cov(samples, rowvar=False)
