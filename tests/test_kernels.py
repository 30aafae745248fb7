"""The compiled kernels give numpy's results bit for bit (model/kernels.py)."""

from __future__ import annotations

import numpy as np
from crypto401k.model.kernels import (
    NEGATIVE,
    POSITIVE,
    SMALL_ROWS,
    VALUE,
    _buy_sell_sums,
    _column_parts,
    _column_sums,
    _vector_sum,
    book_sums,
    buy_sell_sums,
    column_sums,
    holdings,
    supply_scale,
)
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

SPECIAL = st.sampled_from([0.0, -0.0, 1e-300, -1e300, 1.0, -1.0, np.inf, -np.inf, np.nan])
VALUES = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=64), SPECIAL)


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal as IEEE bit patterns (so -0.0 differs from 0.0), NaN where the other is NaN
    (a NaN's sign bit is not a result: numpy itself gives either, by CPU and code path)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or not np.array_equal(np.isnan(a), np.isnan(b)):
        return False
    keep = ~np.isnan(a)
    return bool(np.array_equal(a[keep].view(np.int64), b[keep].view(np.int64)))


@given(
    arrays(
        np.float64,
        st.tuples(st.integers(0, 300), st.integers(1, 9)),
        elements=VALUES,
    )
)
@np.errstate(invalid="ignore", over="ignore")  # inf - inf is NaN in both; sums may overflow to inf
def test_the_kernels_sum_columns_as_numpy_does(a: np.ndarray):
    # the kernels themselves, whatever the size (the wrappers hand small ones to numpy)
    if a.shape[1] > 1:  # numpy reduces a single column pairwise, not row by row
        assert same_bits(_column_sums(a), a.sum(axis=0))
        buys, sells = _buy_sell_sums(a)
        assert same_bits(buys, np.maximum(a, 0.0).sum(axis=0))
        assert same_bits(sells, np.maximum(-a, 0.0).sum(axis=0))
    # every column count (one: pairwise), in blocks of four columns and a remainder
    assert same_bits(_column_parts(a, VALUE), a.sum(axis=0))
    assert same_bits(_column_parts(a, POSITIVE), np.maximum(a, 0.0).sum(axis=0))
    assert same_bits(_column_parts(a, NEGATIVE), np.maximum(-a, 0.0).sum(axis=0))
    for v in (a[:, 0], np.ascontiguousarray(a).reshape(-1)):  # numpy's pairwise sum
        assert same_bits(_vector_sum(v, VALUE), v.sum())
        assert same_bits(_vector_sum(v, POSITIVE), np.maximum(v, 0.0).sum())
        assert same_bits(_vector_sum(v, NEGATIVE), np.maximum(-v, 0.0).sum())
    assert same_bits(column_sums(a), a.sum(axis=0))
    buys, sells = buy_sell_sums(a)
    assert same_bits(buys, np.maximum(a, 0.0).sum(axis=0))
    assert same_bits(sells, np.maximum(-a, 0.0).sum(axis=0))


def test_large_arrays_of_every_layout_match_numpy():
    rng = np.random.default_rng(3)
    shapes = [(SMALL_ROWS, 2), (20, 4), (2_000, 4), (100_000, 3)]
    # a single column is summed pairwise: every branch of it (< 8, <= 128, halves)
    shapes += [
        (n, 1) for n in (SMALL_ROWS, 7, 8, 32, 127, 128, 129, 1_000, 8_193, 100_003, 1_000_000)
    ]
    for shape in shapes:
        a = rng.standard_normal(shape) * 10.0 ** rng.uniform(-8, 8, shape)
        a[rng.random(shape) < 0.3] = -0.0
        for view in (a, np.asfortranarray(a), a[::2], a.astype(np.float32)):
            assert same_bits(column_sums(view), view.sum(axis=0))
            buys, sells = buy_sell_sums(view)
            assert same_bits(buys, np.maximum(view, 0.0).sum(axis=0))
            assert same_bits(sells, np.maximum(-view, 0.0).sum(axis=0))


def test_books_of_every_layout_give_the_array_rules_sums():
    """`book_sums` and `supply_scale` take the engine's books (C-ordered, writeable float64)
    as they are and convert any other: numpy's sums of the C-ordered float64 copy (a
    Fortran-ordered array's own `sum(axis=0)` adds in another order)."""
    from tests import array_rules

    rng = np.random.default_rng(5)
    books = [rng.standard_normal((n, 3)) * 10.0 ** rng.uniform(-3, 3, (n, 3)) for n in (1, 40)]
    books.append(np.zeros((0, 3)))
    outside = np.array([5.0, 0.1, -1.0])
    read_only = books[1].copy()
    read_only.flags.writeable = False
    for variant in (
        lambda q: q,
        np.asfortranarray,
        lambda q: np.repeat(q, 2, axis=0)[::2],
        lambda q: q.astype(np.float32),
        lambda q: read_only if q.shape == read_only.shape else q,
    ):
        odd = [variant(q) for q in books]
        as_c = [np.ascontiguousarray(q, dtype=np.float64) for q in odd]
        assert same_bits(book_sums(odd), np.array([q.sum(axis=0) for q in as_c]))
        for margin in (0.5, 1.0 - 1e-9):
            want = array_rules.supply_scale(as_c, outside, margin)
            assert same_bits(supply_scale(odd, outside, margin), want)


def test_maximum_and_minimum_are_numpy_s_to_the_sign_of_zero():
    """Of two zeros numpy keeps the second operand (np.maximum(0.0, -0.0) is -0.0); NaN in
    either gives NaN. The compiled rules' `_maximum`/`_minimum` must do the same."""
    import numba
    from crypto401k.model.kernels import _maximum, _minimum

    @numba.njit
    def both(a, b):  # pragma: no cover - compiled
        out = np.empty((2, a.shape[0]))
        for i in range(a.shape[0]):
            out[0, i] = _maximum(a[i], b[i])
            out[1, i] = _minimum(a[i], b[i])
        return out

    special = np.array([0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan])
    a, b = (x.ravel() for x in np.meshgrid(special, special))
    got = both(a, b)
    assert same_bits(got[0], np.maximum(a, b))
    assert same_bits(got[1], np.minimum(a, b))


@given(
    st.integers(1, 9).flatmap(
        lambda k: st.tuples(
            *(arrays(np.float64, st.tuples(st.integers(0, 120), st.just(k)), elements=VALUES),) * 3,
            arrays(np.float64, st.just(k), elements=VALUES),
        )
    )
)
@np.errstate(invalid="ignore", over="ignore")
def test_holdings_are_each_population_s_numpy_sums_and_the_outside_s(books):
    savers, traders, institutions, outside = books
    expected = np.vstack([savers.sum(axis=0), traders.sum(axis=0), institutions.sum(axis=0)])
    assert same_bits(holdings(savers, traders, institutions, outside),
                     np.vstack([expected, outside]))  # fmt: skip
