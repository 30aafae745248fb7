"""Stylized facts and headline measures: small pure functions, numpy in, numbers out.

Conventions: `prices` is a 1-D array of positive prices, one per day; `returns` a 1-D array
of daily log returns. Annualization uses 365 days (crypto trades every day).
"""

from __future__ import annotations

import numpy as np

DAYS_PER_YEAR = 365


def log_returns(prices: np.ndarray) -> np.ndarray:
    """Daily log returns, length len(prices) - 1."""
    p = np.asarray(prices, dtype=float)
    return np.diff(np.log(p))


def annualized_volatility(returns: np.ndarray) -> float:
    """Standard deviation of daily log returns times sqrt(365)."""
    r = np.asarray(returns, dtype=float)
    return float(r.std(ddof=1) * np.sqrt(DAYS_PER_YEAR)) if len(r) > 1 else float("nan")


def excess_kurtosis(returns: np.ndarray) -> float:
    """Sample excess kurtosis (0 for a Gaussian)."""
    r = np.asarray(returns, dtype=float)
    d = r - r.mean()
    var = (d**2).mean()
    return float((d**4).mean() / var**2 - 3.0) if var > 0 else float("nan")


def skewness(returns: np.ndarray) -> float:
    r = np.asarray(returns, dtype=float)
    d = r - r.mean()
    var = (d**2).mean()
    return float((d**3).mean() / var**1.5) if var > 0 else float("nan")


def max_drawdown(prices: np.ndarray) -> float:
    """Largest fall from a running peak, as a negative fraction (e.g. -0.83)."""
    p = np.asarray(prices, dtype=float)
    return float((p / np.maximum.accumulate(p) - 1.0).min()) if len(p) else float("nan")


def crash_days(returns: np.ndarray, threshold: float = 0.10) -> int:
    """Days whose simple return is beyond +-`threshold` (DESIGN.md: |r| > 10%)."""
    r = np.expm1(np.asarray(returns, dtype=float))
    return int((np.abs(r) > threshold).sum())


def autocorrelation(x: np.ndarray, lags: int | list[int] | np.ndarray) -> np.ndarray:
    """Sample autocorrelation of `x` at each lag (biased estimator, as in Cont 2001)."""
    x = np.asarray(x, dtype=float)
    lags = np.atleast_1d(np.asarray(lags))
    d = x - x.mean()
    denom = (d**2).sum()
    out = np.full(len(lags), np.nan)
    if denom == 0:
        return out
    for k, lag in enumerate(lags):
        if 0 < lag < len(x):
            out[k] = (d[:-lag] * d[lag:]).sum() / denom
    return out


def hill_tail_index(returns: np.ndarray, tail: float = 0.05) -> float:
    """Hill estimator of the tail index of |returns| using the largest `tail` share."""
    a = np.sort(np.abs(np.asarray(returns, dtype=float)))[::-1]
    k = int(len(a) * tail)
    if k < 2 or a[k] <= 0:
        return float("nan")
    return float(1.0 / np.mean(np.log(a[:k] / a[k])))


FACT_NAMES = (
    "annualized_volatility",
    "excess_kurtosis",
    "hill_tail_index",
    "acf_r_lag1",
    "acf_abs_r_lag1",
    "acf_abs_r_lag10",
    "acf_abs_r_lag50",
    "acf_abs_r_lag100",
    "max_drawdown",
)


def stylized_facts(prices: np.ndarray) -> dict[str, float]:
    """The stylized facts of a daily price series (the calibration targets of DESIGN.md)."""
    p = np.asarray(prices, dtype=float)
    r = log_returns(p)
    acf_abs = autocorrelation(np.abs(r), [1, 10, 50, 100])
    values = [
        annualized_volatility(r),
        excess_kurtosis(r),
        hill_tail_index(r),
        float(autocorrelation(r, [1])[0]),
        *acf_abs.tolist(),
        max_drawdown(p),
    ]
    return dict(zip(FACT_NAMES, values, strict=True))
