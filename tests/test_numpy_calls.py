"""numpy's own exp, log and matrix-vector product, called from compiled code, give numpy's
results bit for bit (model/numpy_calls.py), on random arrays and on special values."""

from __future__ import annotations

import numpy as np
import pytest
from crypto401k.model import numpy_calls as nc
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

numpy_s_routines = pytest.mark.skipif(
    not nc.AVAILABLE, reason=f"numpy's routines not callable here: {nc.UNAVAILABLE}"
)

FLOATS = st.floats(allow_nan=True, allow_infinity=True, width=64)
SPECIAL = np.array(
    [
        0.0,
        -0.0,
        1.0,
        -1.0,
        np.inf,
        -np.inf,
        np.nan,
        5e-324,
        -5e-324,
        709.78,
        709.79,
        -745.2,
        -745.1,
        1e-300,
        1e300,
        2.0**-1022,
        np.nextafter(1.0, 2.0),
        np.nextafter(1.0, 0.0),
    ]
)


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal as IEEE bit patterns (so -0.0 differs from 0.0 and NaN equals the same NaN)."""
    return a.shape == b.shape and np.array_equal(a.view(np.int64), b.view(np.int64))


@numpy_s_routines
@pytest.mark.parametrize("name", ["exp", "log", "expm1"])
def test_the_special_values_are_numpy_s(name):
    with np.errstate(all="ignore"):
        assert same_bits(getattr(nc, name)(SPECIAL), getattr(np, name)(SPECIAL))


@numpy_s_routines
@settings(max_examples=200, deadline=None)
@given(x=arrays(np.float64, st.integers(0, 70), elements=FLOATS))
def test_exp_and_log_are_numpy_s_on_any_array(x):
    with np.errstate(all="ignore"):
        assert same_bits(nc.exp(x), np.exp(x))
        assert same_bits(nc.log(x), np.log(x))
        assert same_bits(nc.expm1(x), np.expm1(x))


@numpy_s_routines
def test_a_million_draws_and_every_length_up_to_70_are_numpy_s():
    # on this machine (AVX-512) numpy's exp differs from the C library's for ~5% of these
    x = np.random.default_rng(0).normal(0.0, 3.0, 1_000_000)
    assert same_bits(nc.exp(x), np.exp(x)) and same_bits(nc.log(np.abs(x)), np.log(np.abs(x)))
    hazard = -np.abs(x) * 1e-4  # the savers' panic exponents: small and negative
    assert same_bits(nc.expm1(hazard), np.expm1(hazard))
    for n in range(71):  # the SIMD loops' tails: every length modulo the vector width
        assert same_bits(nc.exp(x[:n].copy()), np.exp(x[:n]))
    two_d = x[:60].reshape(20, 3).copy()
    assert same_bits(nc.exp(two_d), np.exp(two_d))


@numpy_s_routines
@settings(max_examples=200, deadline=None)
@given(
    shape=st.tuples(st.integers(0, 70), st.integers(1, 9)),
    seed=st.integers(0, 2**32 - 1),
    signs=st.booleans(),
)
def test_matvec_is_numpy_s_product_for_every_shape(shape, seed, signs):
    rng = np.random.default_rng(seed)
    a = rng.lognormal(0.0, 3.0, shape)
    x = rng.lognormal(5.0, 2.0, shape[1])
    if signs:  # coins held short, orders that sell
        a *= rng.choice([-1.0, 1.0], shape)
    assert same_bits(nc.matvec(a, x), a @ x)
    assert same_bits(nc.rowdots(a, x), np.array([row @ x for row in a]).reshape(shape[0]))


@numpy_s_routines
def test_matvec_of_the_engine_s_sizes_and_of_zeros():
    rng = np.random.default_rng(7)
    for rows in (1, 2, 3, 60, 1_000, 66_000):
        for cols in (1, 4, 9):
            a, x = rng.normal(0.0, 1e3, (rows, cols)), rng.lognormal(5.0, 2.0, cols)
            assert same_bits(nc.matvec(a, x), a @ x)
    zeros = np.zeros((5, 4))
    assert same_bits(nc.matvec(zeros, np.ones(4)), zeros @ np.ones(4))
    assert same_bits(nc.matvec(-zeros, np.ones(4)), -zeros @ np.ones(4))


@pytest.mark.parametrize(
    ("exp", "matvec"), [(nc.exp, nc.matvec), (nc.exp_in_loops, nc.matvec_in_loops)]
)
def test_strided_arrays_are_refused_not_computed_another_way(exp, matvec):
    a = np.ones((4, 6))
    with pytest.raises(ValueError, match="C-ordered"):
        exp(a[:, ::2])
    with pytest.raises(ValueError, match="C-ordered"):
        matvec(a[:, ::2], np.ones(3))


def test_the_engine_calls_numpy_s_routines_where_it_can():
    chosen = (nc.exp, nc.log, nc.matvec)
    if nc.AVAILABLE:
        assert chosen == (nc.exp_of_numpy, nc.log_of_numpy, nc.matvec_of_numpy)
        assert nc.expm1 is nc.expm1_of_numpy
    else:
        assert chosen == (nc.exp_in_loops, nc.log_in_loops, nc.matvec_in_loops)
        assert nc.expm1 is nc.expm1_in_loops


@settings(max_examples=100, deadline=None)
@given(
    x=arrays(np.float64, st.integers(0, 40), elements=st.floats(-700.0, 700.0, width=64)),
    shape=st.tuples(st.integers(0, 30), st.integers(1, 9)),
    seed=st.integers(0, 2**32 - 1),
)
def test_the_loops_elsewhere_are_numpy_s_to_a_unit_in_the_last_place(x, shape, seed):
    """Where numpy's routines cannot be called the engine uses plain loops: the C
    library's exp and log (within one unit in the last place of numpy's) and each row's
    products added in order (numpy's BLAS adds in its own order)."""
    np.testing.assert_array_max_ulp(nc.exp_in_loops(x), np.exp(x), maxulp=1)
    np.testing.assert_array_max_ulp(nc.expm1_in_loops(x), np.expm1(x), maxulp=1)
    y = np.abs(x) + 1e-300
    np.testing.assert_array_max_ulp(nc.log_in_loops(y), np.log(y), maxulp=1)
    with np.errstate(invalid="ignore"):
        assert np.isnan(nc.log_in_loops(np.array([-1.0, np.nan]))).all()
    rng = np.random.default_rng(seed)
    a, v = rng.lognormal(0.0, 1.0, shape), rng.lognormal(0.0, 1.0, shape[1])
    np.testing.assert_allclose(nc.matvec_in_loops(a, v), a @ v, rtol=1e-13)
    np.testing.assert_allclose(nc.rowdots_in_loops(a, v), a @ v, rtol=1e-13)
