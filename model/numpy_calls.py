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

Their addresses change from process to process, so they are registered with LLVM by name
when this module is imported, and compiled code (cached on disk, `model/kernels.py`'s
`compiled`) refers to the names. `tests/test_numpy_calls.py` holds each to numpy's result bit
for bit on random arrays of every size and on special values.
"""

from __future__ import annotations

import ctypes
import glob
import math
import os

import llvmlite.binding as llvm
import numpy as np
from crypto401k.model.kernels import compiled
from numba import types


class _UFuncObject(ctypes.Structure):
    """The head of numpy's PyUFuncObject (numpy/_core/include/numpy/ufuncobject.h)."""

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
        ("name", ctypes.c_char_p),
        ("types", ctypes.POINTER(ctypes.c_ubyte)),
    ]


def float64_loop(ufunc: np.ufunc) -> int:
    """Address of `ufunc`'s inner loop for float64 in and out (a one-input ufunc)."""
    u = _UFuncObject.from_address(id(ufunc))
    if u.name != ufunc.__name__.encode() or (u.nin, u.nout) != (1, 1):
        raise ImportError(f"numpy {np.__version__}: unexpected layout of ufunc {ufunc.__name__}")
    code = np.dtype(np.float64).num
    for i in range(u.ntypes):
        if u.types[2 * i] == code and u.types[2 * i + 1] == code and u.data[i] is None:
            return u.functions[i]
    raise ImportError(f"numpy {np.__version__}: no float64 loop of {ufunc.__name__}")


def _openblas() -> ctypes.CDLL:
    """The OpenBLAS library numpy's wheel ships with (numpy.libs)."""
    libs = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs")
    found = sorted(glob.glob(os.path.join(libs, "libscipy_openblas*.so*")))
    if not found:
        raise ImportError(f"no OpenBLAS in {libs}: numpy's products cannot be reproduced")
    return ctypes.CDLL(found[0])


def _register() -> str:
    """Register the routines' addresses with LLVM; "" when done, else why not."""
    try:
        blas = _openblas()
        routines = (
            ("crypto401k_numpy_exp", float64_loop(np.exp)),
            ("crypto401k_numpy_log", float64_loop(np.log)),
            ("crypto401k_numpy_expm1", float64_loop(np.expm1)),
            ("crypto401k_cblas_dgemv", ctypes.cast(blas.scipy_cblas_dgemv64_, ctypes.c_void_p)),
            ("crypto401k_cblas_ddot", ctypes.cast(blas.scipy_cblas_ddot64_, ctypes.c_void_p)),
        )
    except (ImportError, OSError, AttributeError) as exc:
        return f"{type(exc).__name__}: {exc}"
    for name, address in routines:
        llvm.add_symbol(name, address if isinstance(address, int) else address.value)
    return ""


#: why numpy's routines cannot be called from compiled code here ("" when they can: numpy's
#: wheels for Linux and Windows ship OpenBLAS; on others the engine keeps numpy's own calls)
UNAVAILABLE = _register()
AVAILABLE = not UNAVAILABLE

_LOOP = types.void(types.voidptr, types.voidptr, types.voidptr, types.voidptr)
_numpy_exp = types.ExternalFunction("crypto401k_numpy_exp", _LOOP)
_numpy_log = types.ExternalFunction("crypto401k_numpy_log", _LOOP)
_numpy_expm1 = types.ExternalFunction("crypto401k_numpy_expm1", _LOOP)
_dgemv = types.ExternalFunction(
    "crypto401k_cblas_dgemv",
    types.void(
        types.intc,  # order: 102, column-major
        types.intc,  # transposed: 112
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
    ),
)
_ddot = types.ExternalFunction(
    "crypto401k_cblas_ddot",
    types.float64(types.int64, types.voidptr, types.int64, types.voidptr, types.int64),
)


@compiled
def _unary(loop_id: int, x: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
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
            _numpy_exp(call.ctypes, call[2:].ctypes, call[3:].ctypes, 0)
        elif loop_id == 1:
            _numpy_log(call.ctypes, call[2:].ctypes, call[3:].ctypes, 0)
        else:
            _numpy_expm1(call.ctypes, call[2:].ctypes, call[3:].ctypes, 0)
    return out


@compiled
def exp_of_numpy(x: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """`np.exp(x)` of a C-ordered float64 array, numpy's result bit for bit (same shape)."""
    return _unary(0, x)


@compiled
def log_of_numpy(x: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """`np.log(x)` of a C-ordered float64 array, numpy's result bit for bit (same shape)."""
    return _unary(1, x)


@compiled
def expm1_of_numpy(x: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """`np.expm1(x)` of a C-ordered float64 array, numpy's result bit for bit (same shape)."""
    return _unary(2, x)


@compiled
def _check_matvec(a: np.ndarray, x: np.ndarray) -> None:  # pragma: no cover - compiled
    if not a.flags.c_contiguous or not x.flags.c_contiguous or x.shape[0] != a.shape[1]:
        raise ValueError("matvec takes a C-ordered matrix and a vector of its columns")


@compiled
def matvec_of_numpy(a: np.ndarray, x: np.ndarray) -> np.ndarray:  # pragma: no cover
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
def rowdots_of_numpy(a: np.ndarray, x: np.ndarray) -> np.ndarray:  # pragma: no cover
    """`[row @ x for row in a]`: each row's 1-D product with `x` as numpy computes it
    (`cblas_ddot`), shape (rows,). (Not `a @ x`, which numpy computes with `dgemv`.)"""
    _check_matvec(a, x)
    m, n = a.shape
    out = np.empty(m)
    for i in range(m):
        out[i] = _ddot(n, a[i].ctypes.data, 1, x.ctypes.data, 1) if n > 0 else 0.0
    return out


# ---- where numpy's routines cannot be called: the same functions as plain compiled loops --
@compiled
def exp_in_loops(x: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """`exp` of each element with the C library's exp (not numpy's bits), same shape."""
    if not x.flags.c_contiguous:
        raise ValueError("numpy's loops are called on C-ordered arrays only")
    out = np.empty(x.shape)  # writable even where x is read-only
    flat, into = x.ravel(), out.ravel()
    for i in range(flat.size):
        into[i] = math.exp(flat[i])
    return out


@compiled
def log_in_loops(x: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """`log` of each element with the C library's log (not numpy's bits), same shape."""
    if not x.flags.c_contiguous:
        raise ValueError("numpy's loops are called on C-ordered arrays only")
    out = np.empty(x.shape)  # writable even where x is read-only
    flat, into = x.ravel(), out.ravel()
    for i in range(flat.size):
        v = flat[i]
        into[i] = math.log(v) if v >= 0.0 else np.nan  # numpy's NaN, not an exception
    return out


@compiled
def expm1_in_loops(x: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """`expm1` of each element with the C library's (not numpy's bits), same shape."""
    if not x.flags.c_contiguous:
        raise ValueError("numpy's loops are called on C-ordered arrays only")
    out = np.empty(x.shape)  # writable even where x is read-only
    flat, into = x.ravel(), out.ravel()
    for i in range(flat.size):
        into[i] = math.expm1(flat[i])
    return out


@compiled
def matvec_in_loops(a: np.ndarray, x: np.ndarray) -> np.ndarray:  # pragma: no cover
    """`a @ x`, each row's products added in column order (not BLAS's order), (rows,)."""
    _check_matvec(a, x)
    m, n = a.shape
    out = np.empty(m)
    for i in range(m):
        s = 0.0
        for j in range(n):
            s += a[i, j] * x[j]
        out[i] = s
    return out


@compiled
def rowdots_in_loops(a: np.ndarray, x: np.ndarray) -> np.ndarray:  # pragma: no cover
    """`[row @ x for row in a]`, each row's products added in order, (rows,)."""
    return matvec_in_loops(a, x)


#: what compiled rules call: numpy's own routines where they can be called (then the result
#: is numpy's, bit for bit), else the loops above (deterministic, but not numpy's last bits:
#: on such a platform `tests/test_compiled_rules.py`'s bit-for-bit comparison is skipped)
exp, log, expm1, matvec, rowdots = (
    (exp_of_numpy, log_of_numpy, expm1_of_numpy, matvec_of_numpy, rowdots_of_numpy)
    if AVAILABLE
    else (exp_in_loops, log_in_loops, expm1_in_loops, matvec_in_loops, rowdots_in_loops)
)
