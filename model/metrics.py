"""Stylized facts and headline measures: small pure functions, numpy in, numbers out.

Conventions: `prices` is a 1-D array of positive prices, one per day; `returns` a 1-D array
of daily log returns. Annualization uses 365 days (crypto trades every day).
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

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
    """Sample excess kurtosis m4 / m2^2 - 3 of the population moments (0 for a Gaussian);
    NaN for a constant series. `scipy.stats.kurtosis(r, bias=True)`, bit for bit."""
    r = np.asarray(returns, dtype=float)
    if not np.ptp(r) > 0:
        return float("nan")
    mean, (m2, m4) = _central_moments(r, (2, 4))
    with np.errstate(all="ignore"):
        vals = np.where(_flat(m2, mean), np.nan, m4 / m2**2.0)
    return float((vals - 3)[()])


def skewness(returns: np.ndarray) -> float:
    """Sample skewness m3 / m2^1.5 of the population moments; NaN for a constant series.
    `scipy.stats.skew(r, bias=True)`, bit for bit."""
    r = np.asarray(returns, dtype=float)
    if not np.ptp(r) > 0:
        return float("nan")
    mean, (m2, m3) = _central_moments(r, (2, 3))
    with np.errstate(all="ignore"):
        vals = np.where(_flat(m2, mean), np.nan, m3 / m2**1.5)
    return float(vals[()])


# The two moments' functions repeat scipy.stats' operations (scipy 1.18's, with which the
# committed results were made) one for one: the metrics keep those bits whatever scipy is
# installed (older ones multiply where 1.18 calls pow), and no process imports scipy.stats
# for them (0.4-0.5 s of every worker's and command's start).
def _central_moments(r: np.ndarray, orders: tuple[int, ...]) -> tuple[np.ndarray, list[np.ndarray]]:
    """The mean (shape (1,)) and the central moments of `orders` (0-d arrays) of series `r`."""
    mean = np.mean(r, axis=0, keepdims=True)
    centred = r - mean
    moments = [
        np.squeeze(np.mean(centred ** np.asarray(k, dtype=r.dtype), axis=0, keepdims=True), 0)
        for k in orders
    ]
    return mean, moments


def _flat(m2: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """scipy's test for a variance lost in rounding: m2 <= (eps * mean)^2 (under the
    callers' errstate)."""
    return m2 <= (np.finfo(np.float64).eps * np.squeeze(mean, 0)) ** 2


def max_drawdown(prices: np.ndarray) -> float:
    """Largest fall from a running peak, as a negative fraction (e.g. -0.83)."""
    p = np.asarray(prices, dtype=float)
    return float((p / np.maximum.accumulate(p) - 1.0).min()) if len(p) else float("nan")


def crash_days(returns: np.ndarray, threshold: float = 0.10) -> int:
    """Days whose simple return is beyond +-`threshold` (a crash day: |r| > 10%)."""
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
    """The stylized facts of a daily price series (`validate`'s; the estimation's moments,
    docs/estimation.md, extend them)."""
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


def hop_distance(adjacency, sources: np.ndarray) -> np.ndarray:
    """Fewest edges from any of `sources` to each node (multi-source breadth-first search).

    `adjacency` is a symmetric scipy sparse matrix (n x n); `sources` node indices.
    Returns an int array of length n: 0 at the sources, -1 where no path exists.
    """
    n = adjacency.shape[0]
    sources = np.asarray(sources, dtype=np.int64)
    # one breadth-first search from a virtual node (index n) linked to every source
    link = sparse.csr_array((np.ones(len(sources)), (np.zeros(len(sources), int), sources)), (1, n))
    graph = sparse.block_array([[sparse.csr_array(adjacency), link.T], [link, None]], format="csr")
    graph.eliminate_zeros()  # a stored zero is no edge
    hops = csgraph.shortest_path(graph, directed=False, unweighted=True, indices=n)[:n] - 1
    return np.where(np.isfinite(hops), hops, -1).astype(np.int64)


def recovery_days(prices: np.ndarray, day: int) -> tuple[int, bool]:
    """Days after `day` until the price is back at its level of the day before (prices[day-1]).

    Returns (days, recovered). If it never recovers, days is the number of days observed
    after `day` (a censored value) and recovered is False.
    """
    p = np.asarray(prices, dtype=float)
    level = p[day - 1]
    after = np.flatnonzero(p[day:] >= level)
    if len(after):
        return int(after[0]), True
    return len(p) - day, False


def window_losses(pnl: np.ndarray, start: int, end: int) -> np.ndarray:
    """Losses (USD, positive = lost) of each holder between two days, from cumulative
    mark-to-market gains `pnl` of shape (days, holders): -(pnl[end] - pnl[start])."""
    pnl = np.asarray(pnl, dtype=float)
    return -(pnl[end] - pnl[start])


def loss_share(losses: np.ndarray, k: int) -> float:
    """Share of the total loss borne by holder k; holders that gained count as zero.
    NaN when nobody lost."""
    pos = np.maximum(np.asarray(losses, dtype=float), 0.0)
    total = pos.sum()
    return float(pos[k] / total) if total > 0 else float("nan")


def cross_asset_facts(prices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each asset's annualized volatility, shape (assets,), over the days it has prices, and
    the correlation matrix of daily log returns, shape (assets, assets), over the days all
    have them. `prices`: (days, assets), NaN where an asset has no price yet."""
    r = np.diff(np.log(prices), axis=0)
    vols = np.array([annualized_volatility(col[np.isfinite(col)]) for col in r.T])
    common = r[np.isfinite(r).all(axis=1)]
    return vols, np.corrcoef(common, rowvar=False)


def mean_pairwise_correlation(returns: np.ndarray) -> float:
    """Mean over asset pairs of the correlation of `returns`, shape (days, assets); NaN with
    fewer than 2 assets, fewer than 3 days, or an asset that did not move."""
    r = np.asarray(returns, dtype=float)
    if r.ndim != 2 or r.shape[1] < 2 or r.shape[0] < 3 or np.any(r.std(axis=0) == 0):
        return float("nan")
    c = np.corrcoef(r, rowvar=False)
    return float(c[np.triu_indices_from(c, k=1)].mean())
