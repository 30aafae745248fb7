"""The estimation's moment vector: what the model must reproduce of a daily price series.

Pure functions, numpy in, numbers out. The vector is `validate`'s stylized facts (volatility,
excess kurtosis, Hill tail index, lag-1 return autocorrelation, |r| autocorrelation at lags 1,
10, 50) plus what the estimation adds: |r| autocorrelation at lags 5 and 20 and averaged over
the long lags 51-100 (one lag's value is noisy, their mean is not), and the distribution of
drawdowns: the median and 90th percentile of the largest fall within a 30-day window, over
every 30-day window of the series. A one-path maximum drawdown (validate's fact) is left out:
one episode decides it, so its bootstrap variance says little about a model's.

The several-asset vector (`asset_moments`, the second stage of the estimate) describes the
joint daily prices of three coins: each one's annualized volatility, each pair's return
correlation and the excess kurtosis of the two smaller coins.

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


# the several-asset vector: the model's coins (first three) against the data's series
ASSET_COINS = ("BTC", "ETH", "DEFI")
_PAIRS = [(i, j) for i in range(len(ASSET_COINS)) for j in range(i + 1, len(ASSET_COINS))]
ASSET_MOMENT_NAMES: tuple[str, ...] = (
    *(f"annualized_volatility@{c}" for c in ASSET_COINS),
    *(f"correlation@{ASSET_COINS[i]}-{ASSET_COINS[j]}" for i, j in _PAIRS),
    *(f"excess_kurtosis@{c}" for c in ASSET_COINS[1:]),
)
# which vector a stage of the estimate fits: its names and its function of prices
MOMENT_SETS: dict[str, tuple[str, ...]] = {"btc": MOMENT_NAMES, "assets": ASSET_MOMENT_NAMES}


def asset_moments(prices: np.ndarray) -> np.ndarray:
    """The several-asset moment vector of daily prices, shape (days, 3) (columns in
    ASSET_COINS order, no NaN), in ASSET_MOMENT_NAMES order, shape (k,)."""
    r = np.diff(np.log(np.asarray(prices, dtype=float)), axis=0)
    corr = np.corrcoef(r, rowvar=False)
    return np.array(
        [
            *(mt.annualized_volatility(r[:, i]) for i in range(r.shape[1])),
            *(corr[i, j] for i, j in _PAIRS),
            *(mt.excess_kurtosis(r[:, i]) for i in range(1, r.shape[1])),
        ]
    )


def moments_of(kind: str, prices: np.ndarray) -> np.ndarray:
    """The moment vector `kind` ("btc": `moments` of one series, shape (days,); "assets":
    `asset_moments`, shape (days, 3))."""
    return moments(prices) if kind == "btc" else asset_moments(prices)


def moments_of_returns(returns: np.ndarray, kind: str = "btc") -> np.ndarray:
    """The moments `kind` of the price path the log `returns` trace from 1 (shape (days,) or
    (days, assets))."""
    r = np.asarray(returns, dtype=float)
    start = np.zeros((1, *r.shape[1:]))
    return moments_of(kind, np.exp(np.concatenate([start, np.cumsum(r, axis=0)])))


def block_resample(returns: np.ndarray, block: int, rng: np.random.Generator) -> np.ndarray:
    """One moving-block bootstrap resample of `returns` (same length): blocks of `block`
    consecutive days from uniform starts, concatenated and cut to length."""
    n = len(returns)
    starts = rng.integers(0, n - block + 1, int(np.ceil(n / block)))
    return np.concatenate([returns[s : s + block] for s in starts])[:n]


def bootstrap_cov(
    returns: np.ndarray, draws: int, block: int, seed: int, kind: str = "btc"
) -> np.ndarray:
    """Covariance (k x k) of the moment vector `kind` over `draws` moving-block bootstrap
    resamples of `returns` (shape (days,) or (days, assets): rows resampled together, so the
    assets' dependence is kept) with blocks of `block` days; the generator is seeded, so it is
    reproducible."""
    rng = np.random.default_rng(seed)
    samples = np.array(
        [moments_of_returns(block_resample(returns, block, rng), kind) for _ in range(draws)]
    )
    return np.cov(samples, rowvar=False)
