"""numpy's own arithmetic, callable from compiled rules, bit for bit.

A compiled pass (numba) computes `exp` and `log` with the C library, and a product of a
matrix and a vector as a loop; numpy computes them with its SIMD loops (chosen for this CPU
when numpy loads: with AVX-512 they differ from the C library's in the last bit, for about
one input in twenty for `exp`) and with OpenBLAS's `dgemv`, whose order of additions is its
own. So far the engine left these to numpy between its compiled passes, which is why a day
is ~50 compiled calls with numpy's calls in between (BENCHMARKS.md). The functions here are
the same machine code numpy runs, called from compiled code:

- `exp(x)`, `log(x)`, `expm1(x)`: numpy's float64 inner loops, found through the ufunc's
  table of loops;
- `matvec(a, x)`: `a @ x` for a C-ordered (rows, columns) float64 matrix and a vector, as
  numpy's `matmul` computes it: `cblas_dgemv` of the OpenBLAS numpy ships with (`cblas_ddot`
  for one row, as numpy does); `rowdots(a, x)`: each row's 1-D product `row @ x`
  (`cblas_ddot`).

Compiled code calls them by name (`crypto401k_numpy_exp`, ...): their addresses change from
process to process, so they are registered with LLVM when this module is imported, and
cached machine code (`model/kernels.py`'s `compiled`) finds them in every process. The
names are always registered, so that no cached code can call a missing symbol: to numpy's
routines where they are found and, called once on probe values at import, give numpy's
results (`AVAILABLE`); otherwise to compiled stand-ins with the same C signatures (the C
library's functions, each row's products added in order: deterministic, within a unit in
the last place of numpy's, but not numpy's bits; `UNAVAILABLE` says why). numpy's wheels for
Linux (and Windows, untested here) ship OpenBLAS in `numpy.libs`; elsewhere (macOS's
Accelerate, a conda numpy) the stand-ins run, and `tests/test_compiled_rules.py`'s
bit-for-bit comparisons with numpy are skipped. `tests/test_numpy_calls.py` holds each
routine to numpy's result bit for bit on random arrays of every size and on special values.
"""

from __future__ import annotations

import ctypes
import functools
import glob
import math
import os
from typing import Any

import llvmlite.binding as llvm
import numpy as np
from crypto401k.model.kernels import compiled
from numba import carray, cfunc, types
from numba.core.errors import TypingError
from numba.extending import intrinsic, overload

# ---- the C signatures compiled code calls ---------------------------------------------------
# a ufunc inner loop: (char **args, npy_intp const *dimensions, npy_intp const *steps, data)
LOOP = types.void(
    types.CPointer(types.intp),
    types.CPointer(types.intp),
    types.CPointer(types.intp),
    types.voidptr,
)
# cblas_dgemv (ILP64): order, transposed, M, N, alpha, A, lda, x, incx, beta, y, incy
GEMV = types.void(
    types.intc,
    types.intc,
    types.int64,
    types.int64,
    types.float64,
    types.voidptr,
    types.int64,
    types.voidptr,
    types.int64,
    types.float64,
    types.voidptr,
    types.int64,
)
# cblas_ddot (ILP64): n, x, incx, y, incy
DOT = types.float64(types.int64, types.voidptr, types.int64, types.voidptr, types.int64)
NAMES = {
    "exp": "crypto401k_numpy_exp",
    "log": "crypto401k_numpy_log",
    "expm1": "crypto401k_numpy_expm1",
    "dgemv": "crypto401k_cblas_dgemv",
    "ddot": "crypto401k_cblas_ddot",
}


# ---- the stand-ins: the same signatures, compiled here --------------------------------------
@intrinsic
def _doubles_at(typingctx, address):
    """A float64 pointer at an integer address or a void pointer."""
    sig = types.CPointer(types.float64)(address)

    def codegen(context, builder, signature, args):
        pointer = context.get_value_type(types.CPointer(types.float64))
        if isinstance(signature.args[0], types.Integer):
            return builder.inttoptr(args[0], pointer)
        return builder.bitcast(args[0], pointer)

    return sig, codegen


def _exp_stand_in(args, dims, steps, data):  # pragma: no cover - compiled
    n = dims[0]
    x, y = carray(_doubles_at(args[0]), n), carray(_doubles_at(args[1]), n)
    for i in range(n):
        y[i] = math.exp(x[i])


def _log_stand_in(args, dims, steps, data):  # pragma: no cover - compiled
    n = dims[0]
    x, y = carray(_doubles_at(args[0]), n), carray(_doubles_at(args[1]), n)
    for i in range(n):
        y[i] = math.log(x[i]) if x[i] >= 0.0 else np.nan  # numpy's NaN, not an exception


def _expm1_stand_in(args, dims, steps, data):  # pragma: no cover - compiled
    n = dims[0]
    x, y = carray(_doubles_at(args[0]), n), carray(_doubles_at(args[1]), n)
    for i in range(n):
        y[i] = math.expm1(x[i])


def _dgemv_stand_in(
    order, trans, n, m, alpha, a, lda, x, incx, beta, y, incy
):  # pragma: no cover - compiled
    # only as `matvec` calls it: a C-ordered (m, n) matrix, alpha 1, beta 0, unit strides
    rows, xs, out = (
        carray(_doubles_at(a), (m, lda)),
        carray(_doubles_at(x), n),
        carray(_doubles_at(y), m),
    )
    for i in range(m):
        s = 0.0
        for j in range(n):
            s += rows[i, j] * xs[j]
        out[i] = s


def _ddot_stand_in(n, x, incx, y, incy):  # pragma: no cover - compiled
    xs, ys = carray(_doubles_at(x), n), carray(_doubles_at(y), n)
    s = 0.0
    for j in range(n):
        s += xs[j] * ys[j]
    return s


_STAND_IN_SOURCES = {
    "exp": (LOOP, _exp_stand_in),
    "log": (LOOP, _log_stand_in),
    "expm1": (LOOP, _expm1_stand_in),
    "dgemv": (GEMV, _dgemv_stand_in),
    "ddot": (DOT, _ddot_stand_in),
}


@functools.cache
def stand_ins() -> dict[str, Any]:
    """The stand-ins as C functions (numba `cfunc`s, cached on disk), compiled or loaded on
    first use: only where numpy's routines are not found, and by their tests (loading them
    at every import cost each process ~0.1 s)."""
    return {name: cfunc(sig, cache=True)(fn) for name, (sig, fn) in _STAND_IN_SOURCES.items()}


# ---- numpy's routines -------------------------------------------------------------------------
class _UFuncObject(ctypes.Structure):
    """The head of numpy 2's PyUFuncObject (numpy/_core/include/numpy/ufuncobject.h)."""

    _fields_ = [
        ("ob_refcnt", ctypes.c_ssize_t),
        ("ob_type", ctypes.c_void_p),
        ("nin", ctypes.c_int),
        ("nout", ctypes.c_int),
        ("nargs", ctypes.c_int),
        ("identity", ctypes.c_int),
        ("functions", ctypes.POINTER(ctypes.c_void_p)),
        ("data", ctypes.POINTER(ctypes.c_void_p)),
        ("ntypes", ctypes.c_int),
        ("reserved1", ctypes.c_int),
        ("name", ctypes.c_void_p),
        ("types", ctypes.POINTER(ctypes.c_ubyte)),
    ]


def float64_loop(ufunc: np.ufunc) -> int:
    """Address of `ufunc`'s inner loop for float64 in and out (a one-input ufunc)."""
    u = _UFuncObject.from_address(id(ufunc))
    if (u.nin, u.nout, u.nargs) != (1, 1, 2) or not u.name or not 0 < u.ntypes < 64:
        raise ImportError(f"numpy {np.__version__}: unexpected layout of ufunc {ufunc.__name__}")
    if ctypes.string_at(u.name) != ufunc.__name__.encode():
        raise ImportError(f"numpy {np.__version__}: unexpected layout of ufunc {ufunc.__name__}")
    code = np.dtype(np.float64).num
    for i in range(u.ntypes):
        if u.types[2 * i] == code and u.types[2 * i + 1] == code and u.data[i] is None:
            return u.functions[i]
    raise ImportError(f"numpy {np.__version__}: no float64 loop of {ufunc.__name__}")


@functools.cache
def _openblas() -> ctypes.CDLL:
    """The OpenBLAS library numpy's wheel ships with (numpy.libs)."""
    libs = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs")
    found = sorted(glob.glob(os.path.join(libs, "libscipy_openblas64_*.so*")))
    found += sorted(glob.glob(os.path.join(libs, "libscipy_openblas64_*.dll")))  # Windows
    if not found:
        raise ImportError(f"no OpenBLAS in {libs}: numpy's products cannot be reproduced")
    return ctypes.CDLL(found[0])


def blas_threads(n: int | None = None) -> int:
    """The number of threads numpy's OpenBLAS may start in this process, after setting it to
    `n` if given; 0 where numpy has another BLAS (then nothing is set). A sweep's workers
    run on one (`experiments.sweep.in_processes`)."""
    try:
        blas = _openblas()
        if n is not None:
            blas.scipy_openblas_set_num_threads64_(int(n))
        return int(blas.scipy_openblas_get_num_threads64_())
    except (ImportError, OSError, AttributeError):
        return 0


def _numpy_s() -> dict[str, int]:
    """The addresses of numpy's routines (ImportError, OSError, AttributeError if absent)."""
    blas = _openblas()
    return {
        "exp": float64_loop(np.exp),
        "log": float64_loop(np.log),
        "expm1": float64_loop(np.expm1),
        "dgemv": ctypes.cast(blas.scipy_cblas_dgemv64_, ctypes.c_void_p).value,
        "ddot": ctypes.cast(blas.scipy_cblas_ddot64_, ctypes.c_void_p).value,
    }


def _probe(addresses: dict[str, int]) -> None:
    """Call each routine once through ctypes on values where numpy's loops and the C
    library's differ, and on matrices of one row, one column and several; ImportError
    unless every result is numpy's, bit for bit (so a numpy that no longer calls them is
    never taken for one that does)."""
    x = np.random.default_rng(2026).normal(0.0, 3.0, 257)
    as_int = ctypes.POINTER(ctypes.c_ssize_t)
    loop = ctypes.CFUNCTYPE(None, as_int, as_int, as_int, ctypes.c_void_p)
    for name, ufunc, values in (
        ("exp", np.exp, x),
        ("log", np.log, np.abs(x) + 1e-3),
        ("expm1", np.expm1, -np.abs(x) * 1e-4),
    ):
        out = np.empty_like(values)
        call = np.array([values.ctypes.data, out.ctypes.data, values.size, 8, 8], np.intp)
        loop(addresses[name])(
            call.ctypes.data_as(as_int),
            call[2:].ctypes.data_as(as_int),
            call[3:].ctypes.data_as(as_int),
            None,
        )
        if not np.array_equal(out.view(np.int64), ufunc(values).view(np.int64)):
            raise ImportError(f"numpy's {name} loop found is not the one numpy calls")
    gemv = ctypes.CFUNCTYPE(
        None,
        ctypes.c_int,
        ctypes.c_int,
        *(ctypes.c_int64,) * 2,
        ctypes.c_double,
        ctypes.c_void_p,
        ctypes.c_int64,
        ctypes.c_void_p,
        ctypes.c_int64,
        ctypes.c_double,
        ctypes.c_void_p,
        ctypes.c_int64,
    )(addresses["dgemv"])
    dot = ctypes.CFUNCTYPE(
        ctypes.c_double, ctypes.c_int64, ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p,
        ctypes.c_int64,
    )(addresses["ddot"])  # fmt: skip
    for m, n in ((2, 1), (3, 4), (17, 9), (60, 4)):
        a, v, out = x[: m * n].reshape(m, n).copy(), np.exp(x[:n]), np.empty(m)
        gemv(102, 112, n, m, 1.0, a.ctypes.data, n, v.ctypes.data, 1, 0.0, out.ctypes.data, 1)
        row = dot(n, a.ctypes.data, 1, v.ctypes.data, 1)
        if not (
            np.array_equal(out.view(np.int64), (a @ v).view(np.int64))
            and np.float64(row).view(np.int64) == (a[0] @ v).view(np.int64)
        ):
            raise ImportError("the OpenBLAS found is not the one numpy's products use")


def _register() -> str:
    """Register the five names with LLVM: numpy's routines if found and checked, else the
    stand-ins. Returns "" or why numpy's are not used."""
    try:
        addresses = _numpy_s()
        _probe(addresses)
        why = ""
    except (ImportError, OSError, AttributeError) as exc:
        addresses = {name: stand_in.address for name, stand_in in stand_ins().items()}
        why = f"{type(exc).__name__}: {exc}"
    for name, address in addresses.items():
        llvm.add_symbol(NAMES[name], address)
    return why


#: why numpy's routines are not what compiled code calls here ("" when they are)
UNAVAILABLE = _register()
AVAILABLE = not UNAVAILABLE

_exp = types.ExternalFunction(NAMES["exp"], LOOP)
_log = types.ExternalFunction(NAMES["log"], LOOP)
_expm1 = types.ExternalFunction(NAMES["expm1"], LOOP)
_dgemv = types.ExternalFunction(NAMES["dgemv"], GEMV)
_ddot = types.ExternalFunction(NAMES["ddot"], DOT)


# ---- what compiled rules call -------------------------------------------------------------
def _float64(x):  # pragma: no cover - its overload runs when compiled code is typed
    pass


@overload(_float64)
def _float64_only(x):
    """Refuse, when compiled code is typed, an array that is not float64."""
    if not (isinstance(x, types.Array) and x.dtype == types.float64):
        raise TypingError(f"numpy_calls takes float64 arrays, not {x}")
    return lambda x: None


@compiled
def _unary(loop_id: int, x: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    _float64(x)
    if not x.flags.c_contiguous:  # numpy may take another path through a strided array
        raise ValueError("numpy's loops are called on C-ordered arrays only")
    out = np.empty(x.shape)  # writable even where x is read-only
    call = np.empty(5, np.intp)  # args (in, out), the length, the strides (in, out)
    call[0] = x.ctypes.data
    call[1] = out.ctypes.data
    call[2] = x.size
    call[3] = 8
    call[4] = 8
    if x.size > 0:
        if loop_id == 0:
            _exp(call.ctypes, call[2:].ctypes, call[3:].ctypes, 0)
        elif loop_id == 1:
            _log(call.ctypes, call[2:].ctypes, call[3:].ctypes, 0)
        else:
            _expm1(call.ctypes, call[2:].ctypes, call[3:].ctypes, 0)
    return out


@compiled
def exp(x: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """`np.exp(x)` of a C-ordered float64 array, numpy's result bit for bit (same shape)."""
    return _unary(0, x)


@compiled
def log(x: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """`np.log(x)` of a C-ordered float64 array, numpy's result bit for bit (same shape)."""
    return _unary(1, x)


@compiled
def expm1(x: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """`np.expm1(x)` of a C-ordered float64 array, numpy's result bit for bit (same shape)."""
    return _unary(2, x)


@compiled
def _check_matvec(a: np.ndarray, x: np.ndarray) -> None:  # pragma: no cover - compiled
    _float64(a)
    _float64(x)
    if not a.flags.c_contiguous or not x.flags.c_contiguous or x.shape[0] != a.shape[1]:
        raise ValueError("matvec takes a C-ordered matrix and a vector of its columns")


@compiled
def matvec(a: np.ndarray, x: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """`a @ x` of a C-ordered float64 matrix (rows, columns) and a contiguous vector
    (columns,), numpy's result bit for bit, shape (rows,)."""
    _check_matvec(a, x)
    m, n = a.shape
    out = np.empty(m)
    if m == 0:
        return out
    if n == 0:
        out[:] = 0.0
    elif m == 1:  # numpy's matmul takes one row as a dot product
        out[0] = _ddot(n, a.ctypes.data, 1, x.ctypes.data, 1)
    else:  # numpy's matmul: the row-major matrix as a transposed column-major one
        _dgemv(102, 112, n, m, 1.0, a.ctypes.data, n, x.ctypes.data, 1, 0.0, out.ctypes.data, 1)
    return out


@compiled
def rowdots(a: np.ndarray, x: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """`[row @ x for row in a]`: each row's 1-D product with `x` as numpy computes it
    (`cblas_ddot`), shape (rows,). (Not `a @ x`, which numpy computes with `dgemv`.)"""
    _check_matvec(a, x)
    m, n = a.shape
    out = np.empty(m)
    for i in range(m):
        out[i] = _ddot(n, a[i].ctypes.data, 1, x.ctypes.data, 1) if n > 0 else 0.0
    return out
