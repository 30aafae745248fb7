"""numpy's own exp, log and matrix-vector product, called from compiled code, give numpy's
results bit for bit (model/numpy_calls.py), on random arrays and on special values."""

from __future__ import annotations

import ctypes
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from crypto401k.model import numpy_calls as nc
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numba.core.errors import TypingError

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


def test_strided_arrays_and_other_dtypes_are_refused_not_computed_another_way():
    a = np.ones((4, 6))
    with pytest.raises(ValueError, match="C-ordered"):
        nc.exp(a[:, ::2])
    with pytest.raises(ValueError, match="C-ordered"):
        nc.matvec(a[:, ::2], np.ones(3))
    for bad in (np.arange(3), np.ones(3, np.float32)):  # would be read as float64 bytes
        with pytest.raises(TypingError, match="float64"):
            nc.exp(bad)
    with pytest.raises(TypingError, match="float64"):
        nc.matvec(np.ones((2, 2), np.int64), np.ones(2))


def _stand_in(name: str, x: np.ndarray) -> np.ndarray:
    """A stand-in loop called through ctypes, as compiled code calls it by its C signature."""
    out = np.empty_like(x)
    call = np.array([x.ctypes.data, out.ctypes.data, x.size, 8, 8], np.intp)
    as_int = ctypes.POINTER(ctypes.c_ssize_t)
    nc.stand_ins()[name].ctypes(
        call.ctypes.data_as(as_int), call[2:].ctypes.data_as(as_int),
        call[3:].ctypes.data_as(as_int), None,
    )  # fmt: skip
    return out


def _stand_in_matvec(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    m, n = a.shape
    out = np.empty(m)
    nc.stand_ins()["dgemv"].ctypes(
        102, 112, n, m, 1.0, a.ctypes.data, n, x.ctypes.data, 1, 0.0, out.ctypes.data, 1
    )
    return out


@settings(max_examples=100, deadline=None)
@given(
    x=arrays(np.float64, st.integers(0, 40), elements=st.floats(-700.0, 700.0, width=64)),
    shape=st.tuples(st.integers(0, 30), st.integers(1, 9)),
    seed=st.integers(0, 2**32 - 1),
)
def test_the_stand_ins_are_numpy_s_to_a_unit_in_the_last_place(x, shape, seed):
    """Where numpy's routines are not found the same names call these: the C library's
    exp, log and expm1 (within one unit in the last place of numpy's) and each row's
    products added in order (numpy's BLAS adds in its own order)."""
    np.testing.assert_array_max_ulp(_stand_in("exp", x), np.exp(x), maxulp=1)
    np.testing.assert_array_max_ulp(_stand_in("expm1", x), np.expm1(x), maxulp=1)
    y = np.abs(x) + 1e-300
    np.testing.assert_array_max_ulp(_stand_in("log", y), np.log(y), maxulp=1)
    assert np.isnan(_stand_in("log", np.array([-1.0, np.nan]))).all()
    rng = np.random.default_rng(seed)
    a, v = rng.lognormal(0.0, 1.0, shape), rng.lognormal(0.0, 1.0, shape[1])
    np.testing.assert_allclose(_stand_in_matvec(a, v), a @ v, rtol=1e-13)
    dot = nc.stand_ins()["ddot"].ctypes(shape[1], v.ctypes.data, 1, v.ctypes.data, 1)
    np.testing.assert_allclose(dot, v @ v, rtol=1e-13)


def test_without_numpy_s_routines_the_same_compiled_code_runs_on_the_stand_ins():
    """A process that finds no OpenBLAS (as on macOS or with a conda numpy) registers the
    stand-ins under the same names: the compiled rules cached by a process that found
    numpy's routines load and run (no missing symbol), within rounding of numpy's."""
    code = """
import glob, numpy as np
real_glob = glob.glob
glob.glob = lambda pattern, **k: [] if "openblas" in pattern else real_glob(pattern, **k)
from crypto401k.model import numpy_calls as nc
assert not nc.AVAILABLE and "OpenBLAS" in nc.UNAVAILABLE, nc.UNAVAILABLE
x = np.random.default_rng(1).normal(0.0, 3.0, 1000)
np.testing.assert_array_max_ulp(nc.exp(x), np.exp(x), maxulp=1)
a = np.abs(x[:60]).reshape(15, 4)
np.testing.assert_allclose(nc.matvec(a, np.ones(4)), a @ np.ones(4), rtol=1e-13)
from crypto401k.model.config import Config
from crypto401k.model.model import Crypto401kModel
m = Crypto401kModel(Config().with_overrides({"savers.n_cohorts": 60, "traders.n_traders": 60,
    "savers.n_employers": 6, "run.steps": 30, "run.burn_in_days": 10}), rng=1)
m.run()
assert np.isfinite(m.market.price).all()
print("ok")
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
        cwd=Path(__file__).resolve().parents[1],
    )  # fmt: skip
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
