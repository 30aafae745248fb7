"""Compiled kernels (numba) for the engine's hottest reductions, bit for bit numpy's.

numpy sums a C-ordered (rows, assets) array over its rows one row at a time (the inner loop
runs over the few assets), which costs about 30 ns a row: at the default size, 60 us for
each of the dozens of such sums a four-asset day takes. The kernels here do the same
additions in the same order (an accumulator per column, starting from 0.0, rows in order),
so their results are identical to numpy's to the last bit; tests/test_kernels.py checks it
on random arrays, signed zeros and non-finite values included.

A single-asset (rows, 1) array is not a sequential sum in numpy: it is reduced as a
contiguous vector, by numpy's pairwise summation (blocks of up to 128 values summed by 8
accumulators, halves of longer runs summed separately, `pairwise_sum` in numpy's
loops_utils.h), which `_pairwise` repeats step for step. Anything not C-ordered float64 goes
back to numpy. Compiled once per machine (`cache=True`: later processes load the machine
code from `__pycache__`), and again after any change of the model's code
(`model/compile_cache.py`: numba alone would keep a rule that inlines a changed function of
another file).

The block's 8 accumulators stay an array and its mode a run-time argument: eight scalar
accumulators with the mode a constant in three inlined copies sum 3,000 values in 1.5 us
instead of 2.0, but every rule inlines the sums, and the install's compilation of the
engine took 120 s instead of 39 (28 Nov 2026; the scalars alone: 63 s, no faster).
"""

from __future__ import annotations

import numba
import numpy as np
from crypto401k.model import compile_cache  # noqa: F401  (the cache follows the model's code)

# every compiled pass: cached on disk per machine, releasing the GIL, and numpy's error model
# (a division by zero gives inf or NaN, as numpy does, not an exception)
compiled = numba.njit(cache=True, nogil=True, error_model="numpy")

FLOAT64 = np.dtype(np.float64)
SMALL_ROWS = 1  # even a row or a few: one kernel call costs less than numpy's two to four
# what a sum adds of each value x: x itself, max(x, 0) or max(-x, 0), as numpy's maximum
# (which keeps x when x >= 0, so -0.0 stays -0.0, or when x is NaN)
VALUE, POSITIVE, NEGATIVE = 0, 1, 2


@numba.njit(inline="always")
def _part(v: float, mode: int) -> float:  # pragma: no cover - compiled
    if mode == POSITIVE:  # np.maximum(v, 0.0)
        return _maximum(v, 0.0)
    if mode == NEGATIVE:  # np.maximum(-v, 0.0)
        return _maximum(-v, 0.0)
    return v


# numpy's `maximum` and `minimum` of two floats, as its x86 loops compute them: the first
# operand when it is strictly larger (smaller) or NaN, else the second, so that of two
# zeros the second is kept (np.maximum(0.0, -0.0) is -0.0, np.maximum(-0.0, 0.0) is 0.0)
@numba.njit(inline="always")
def _maximum(a: float, b: float) -> float:  # pragma: no cover - compiled
    return a if (a > b or a != a) else b


@numba.njit(inline="always")
def _minimum(a: float, b: float) -> float:  # pragma: no cover - compiled
    return a if (a < b or a != a) else b


@compiled
def _block(a: np.ndarray, lo: int, n: int, mode: int) -> float:  # pragma: no cover
    """numpy's sum of a block of at most 128 values, a[lo : lo + n]: below 8 values one
    accumulator, else 8 accumulators combined as a tree, then the rest one by one."""
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += _part(a[i], mode)
        return res
    r = np.empty(8)
    for j in range(8):
        r[j] = _part(a[lo + j], mode)
    i = 8
    end = n - n % 8
    while i < end:
        for j in range(8):
            r[j] += _part(a[lo + i + j], mode)
        i += 8
    res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
    while i < n:
        res += _part(a[lo + i], mode)
        i += 1
    return res


@compiled
def _pairwise(a: np.ndarray, mode: int) -> float:  # pragma: no cover - compiled
    """numpy's pairwise sum of `_part` of the 1-D array `a`: a run of more than 128 values
    is the sum of its halves (the first half a multiple of 8 long), each summed so in turn.
    numpy recurses; here an explicit stack walks the same tree (numba cannot cache recursive
    functions), adding the same partial sums in the same order."""
    n = a.shape[0]
    if n <= 128:
        return _block(a, 0, n, mode)
    los = np.empty(64, np.int64)  # each open run's start, length, stage, left half's sum
    lens = np.empty(64, np.int64)
    stage = np.empty(64, np.int64)
    left = np.empty(64)
    d = 0
    los[0], lens[0], stage[0] = 0, n, 0
    ret = 0.0
    while True:
        lo, m = los[d], lens[d]
        half = m // 2
        half -= half % 8
        if m <= 128:  # a block: sum it, return to the run it is half of
            ret = _block(a, lo, m, mode)
            d -= 1
        elif stage[d] == 0:  # open the first half
            stage[d] = 1
            d += 1
            los[d], lens[d], stage[d] = lo, half, 0
            continue
        elif stage[d] == 1:  # the first half's sum is in; open the second
            left[d] = ret
            stage[d] = 2
            d += 1
            los[d], lens[d], stage[d] = lo + half, m - half, 0
            continue
        else:  # both halves in
            ret = left[d] + ret
            d -= 1
        if d < 0:
            return ret


@compiled
def _vector_sum(a: np.ndarray, mode: int) -> float:  # pragma: no cover - compiled
    return 0.0 + _pairwise(a, mode)  # numpy starts from the identity, 0.0


@compiled
def _column_parts(a: np.ndarray, mode: int) -> np.ndarray:  # pragma: no cover - compiled
    """`_part` of each column of the 2-D array `a` summed as numpy sums it over the rows,
    shape (columns,): pairwise when `a` has one column, else row after row from 0.0 (up to
    four columns at a time, each in its own register)."""
    n, k = a.shape
    out = np.zeros(k)
    if k == 1:
        out[0] = 0.0 + _pairwise(a[:, 0], mode)
        return out
    for j in range(0, k, 4):
        m = min(4, k - j)
        s0 = s1 = s2 = s3 = 0.0
        for i in range(n):
            s0 += _part(a[i, j], mode)
            if m > 1:
                s1 += _part(a[i, j + 1], mode)
            if m > 2:
                s2 += _part(a[i, j + 2], mode)
            if m > 3:
                s3 += _part(a[i, j + 3], mode)
        out[j] = s0
        if m > 1:
            out[j + 1] = s1
        if m > 2:
            out[j + 2] = s2
        if m > 3:
            out[j + 3] = s3
    return out


@compiled
def _column_sums(a: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    return _column_parts(a, VALUE)


def _compiled(a: np.ndarray) -> bool:
    """Whether the kernels take `a`: a 2-D C-ordered float64 array of enough rows."""
    return (
        a.ndim == 2 and a.shape[0] >= SMALL_ROWS and a.dtype == np.float64 and a.flags.c_contiguous
    )


def column_sums(a: np.ndarray) -> np.ndarray:
    """`a.sum(axis=0)` of a 2-D array, shape (columns,), identical to numpy's bit for bit."""
    return _column_sums(a) if _compiled(a) else a.sum(axis=0)


@compiled
def _buy_sell_sums(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
    return _column_parts(a, POSITIVE), _column_parts(a, NEGATIVE)


def buy_sell_sums(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`np.maximum(a, 0).sum(axis=0)` and `np.maximum(-a, 0).sum(axis=0)` of a 2-D array
    (coins bought and sold per asset), identical to numpy's bit for bit, in one pass."""
    if _compiled(a):
        return _buy_sell_sums(a)
    return np.maximum(a, 0.0).sum(axis=0), np.maximum(-a, 0.0).sum(axis=0)


@compiled
def _supply_scale(
    orders: tuple[np.ndarray, ...], outside_coins: np.ndarray, margin: float
) -> np.ndarray:  # pragma: no cover - compiled
    k = outside_coins.shape[0]
    buys = np.zeros(k)
    sells = np.zeros(k)
    for q in orders:  # each book's sums, then added book after book, as numpy's sum() did
        buys += _column_parts(q, POSITIVE)
        sells += _column_parts(q, NEGATIVE)
    scale = np.ones(k)
    for j in range(k):
        room = margin * _maximum(outside_coins[j], 0.0) + sells[j]
        if buys[j] > room:
            scale[j] = room / buys[j]
    return scale


def supply_scale(orders: list[np.ndarray], outside_coins: np.ndarray, margin: float) -> np.ndarray:
    """Factor (per asset) on buy orders so that net buying takes at most `margin` of the
    outside market's coins: (margin * outside coins + all sales) / all buys where the buys
    exceed it, else 1. `orders` are coins, each (rows, assets), C-ordered float64."""
    return _supply_scale(tuple(_book(q) for q in orders), outside_coins, margin)


@compiled
def _book_sums(orders: tuple[np.ndarray, ...]) -> np.ndarray:  # pragma: no cover - compiled
    out = np.empty((len(orders), orders[0].shape[1]))
    for b, q in enumerate(orders):
        out[b] = _column_parts(q, VALUE)
    return out


@compiled
def holdings(
    savers: np.ndarray, traders: np.ndarray, institutions: np.ndarray, outside: np.ndarray
) -> np.ndarray:  # pragma: no cover - compiled
    """Coins held by savers, traders, institutions (each population's `column_sums`) and
    the outside market (`outside`, (assets,)), shape (4, assets), in one call."""
    out = np.empty((4, outside.shape[0]))
    out[0] = _column_parts(savers, VALUE)
    out[1] = _column_parts(traders, VALUE)
    out[2] = _column_parts(institutions, VALUE)
    out[3] = outside
    return out


def book_sums(orders: list[np.ndarray]) -> np.ndarray:
    """Net coins of each order book, shape (books, assets): row b is `column_sums` of
    `orders[b]` (each (rows, assets), C-ordered float64), in one call."""
    return _book_sums(tuple(_book(q) for q in orders))


@compiled
def _net_flow(orders: tuple[np.ndarray, ...]) -> np.ndarray:  # pragma: no cover - compiled
    net = np.zeros(orders[0].shape[1])  # Python's sum() of the books' sums starts from 0
    for q in orders:
        net += _column_parts(q, VALUE)
    return net


def net_flow(orders: list[np.ndarray]) -> np.ndarray:
    """Net coins of all order books together, shape (assets,): `sum(book_sums(orders))`,
    the books' sums added book after book, in one call."""
    return _net_flow(tuple(_book(q) for q in orders))


def _book(q: np.ndarray) -> np.ndarray:
    """An order book as the compiled sums take it: C-ordered, writeable float64 (the same
    array when it is one already, as every book of the engine is)."""
    if type(q) is np.ndarray and q.dtype == FLOAT64 and q.flags.carray:
        return q  # checked in a few attribute reads: np.require costs ~2 us a call
    return np.require(q, dtype=np.float64, requirements=("C", "W"))
