"""Compiled kernels (numba) for the engine's hottest reductions, bit for bit numpy's.

numpy sums a C-ordered (rows, assets) array over its rows one row at a time (the inner loop
runs over the few assets), which costs about 30 ns a row: at the default size, 60 us for
each of the dozens of such sums a four-asset day takes. The kernels here do the same
additions in the same order (an accumulator per column, starting from 0.0, rows in order),
so their results are identical to numpy's to the last bit; tests/test_kernels.py checks it
on random arrays, signed zeros and non-finite values included.

A single-asset (rows, 1) array is not a sequential sum in numpy (it is reduced pairwise as
a contiguous vector), so `column_sums` hands it, and anything not C-ordered float64, back
to numpy. Compiled once per machine (`cache=True`: later processes load the machine code
from `__pycache__`).
"""

from __future__ import annotations

import numba
import numpy as np

SMALL_ROWS = 32  # below this numpy's call is as fast as the kernel's


@numba.njit(cache=True, nogil=True)
def _column_sums(a: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    n, k = a.shape
    out = np.zeros(k)
    for i in range(n):
        for j in range(k):
            out[j] += a[i, j]
    return out


def column_sums(a: np.ndarray) -> np.ndarray:
    """`a.sum(axis=0)` of a 2-D array, shape (columns,), identical to numpy's bit for bit."""
    if (
        a.ndim == 2
        and a.shape[1] > 1
        and a.shape[0] >= SMALL_ROWS
        and a.dtype == np.float64
        and a.flags.c_contiguous
    ):
        return _column_sums(a)
    return a.sum(axis=0)


@numba.njit(cache=True, nogil=True)
def _buy_sell_sums(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
    n, k = a.shape
    buys = np.zeros(k)
    sells = np.zeros(k)
    for i in range(n):
        for j in range(k):
            v = a[i, j]
            # np.maximum(x, 0.0) keeps x when x >= 0 (so -0.0 stays -0.0) or x is NaN
            buys[j] += v if (v >= 0.0 or v != v) else 0.0
            w = -v
            sells[j] += w if (w >= 0.0 or w != w) else 0.0
    return buys, sells


def buy_sell_sums(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`np.maximum(a, 0).sum(axis=0)` and `np.maximum(-a, 0).sum(axis=0)` of a 2-D array
    (coins bought and sold per asset), identical to numpy's bit for bit, in one pass."""
    if (
        a.ndim == 2
        and a.shape[1] > 1
        and a.shape[0] >= SMALL_ROWS
        and a.dtype == np.float64
        and a.flags.c_contiguous
    ):
        return _buy_sell_sums(a)
    return np.maximum(a, 0.0).sum(axis=0), np.maximum(-a, 0.0).sum(axis=0)
