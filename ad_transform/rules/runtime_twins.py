"""Differentiable twins of runtime helpers: higher-order rules written as plain NumPy.

A helper the generated first-order code calls needs a rule of its own before that code
can be differentiated again (``higher_order.md``). For a helper whose second derivative
is long to derive by hand (the adjoint of a Cholesky factor, of a solve), a *twin* is
the rule: a function computing the same value from primitives that have adjoint and
tangent rules (``np.linalg.solve``, ``@``, ``np.swapaxes``, products with constant
masks). Where the analysis of plain derivative code meets the helper
(``resolve._call_op``), it calls the twin instead, as it would a user's helper; the twin
is differentiated like user code, to any order its primitives allow.

Twins are compiled from their source here as generated code (``emit.compile_functions``,
registered with ``linecache``, marked plain code), so the analysis reads them as it reads
the plain gradient code that calls them. Each twin must compute the helper's value for
every argument the helper accepts, or raise ``ADTransformError`` naming what it does not
cover (never a different number).
"""

from __future__ import annotations

import functools
import inspect
import textwrap
import types

import numpy as np

from .. import runtime
from ..errors import ADTransformError
from ..runtime import cholesky_adjoint, cholesky_tangent, det_adjoint
from ..runtime.higher_order import to_shape_of
from ..runtime.higher_order_2 import tangent_tuple
from ..runtime.scipy import _triangle_used as triangle_used
from ..runtime.signal import _full_offset as full_offset
from .registry import register_nondifferentiable

_TWINS: dict[object, types.FunctionType] = {}  # runtime helper -> its twin's definition


def twin(helper: object):
    """Declare the decorated function the differentiable twin of ``helper``."""

    def register(definition: types.FunctionType) -> types.FunctionType:
        _TWINS[helper] = definition
        return definition

    return register


def twin_of(helper: object) -> types.FunctionType | None:
    """The compiled twin of ``helper`` (a runtime helper), or None if it has none."""
    try:
        definition = _TWINS.get(helper)
    except TypeError:
        return None
    return None if definition is None else _compiled(definition)


@functools.cache
def _compiled(definition: types.FunctionType) -> types.FunctionType:
    from ..callables import mark_plain_code
    from ..emit import compile_functions

    source = textwrap.dedent(inspect.getsource(definition))
    source = "\n".join(line for line in source.splitlines() if not line.startswith("@"))
    plain = {  # the plain helpers call no plain helper themselves
        name: _compiled(helper)
        for name, helper in _PLAIN_HELPERS.items()
        if definition not in _PLAIN_HELPERS.values()
    }
    names = {k: v for k, v in definition.__globals__.items() if not k.startswith("__")}
    globals_ = {"__builtins__": __builtins__, **names, **plain, **_optional_modules(source)}
    function = compile_functions(source + "\n", definition.__name__, globals_, {})[
        definition.__name__
    ]
    function.__defaults__ = definition.__defaults__
    mark_plain_code(function)
    function.ad_transform_origin = (
        f"the twin of runtime.{definition.__name__.removesuffix('_twin')}"
    )
    return function


# SciPy's modules twins name (importing ad_transform does not import SciPy): imported when
# a twin naming one is compiled, which happens only after the user's code called SciPy
_OPTIONAL_MODULES = {"scipy_linalg": "scipy.linalg", "special": "scipy.special"}


def _optional_modules(source: str) -> dict:
    import importlib
    import re

    found = {}
    for name, module in _OPTIONAL_MODULES.items():
        if re.search(rf"\b{name}\.", source):
            found[name] = importlib.import_module(module)
    return found


def lower_half(n):
    """The lower triangle with half the diagonal (``Phi`` of the Cholesky derivatives)."""
    return np.tril(np.ones((n, n))) - 0.5 * np.eye(n)


# -- decompositions -----------------------------------------------------------------------------
@twin(runtime.cholesky_adjoint)
def cholesky_adjoint_twin(g, ans, a, upper=False):
    if upper:
        L = np.swapaxes(ans, -1, -2)
        gL = np.swapaxes(g, -1, -2)
    else:
        L = ans
        gL = g
    half = lower_half(np.shape(L)[-1])
    Lt = np.swapaxes(L, -1, -2)
    phi = (Lt @ gL) * half
    left = np.linalg.solve(Lt, phi)
    s = np.swapaxes(np.linalg.solve(Lt, np.swapaxes(left, -1, -2)), -1, -2)
    sym = (s + np.swapaxes(s, -1, -2)) * half
    if upper:
        return np.swapaxes(sym, -1, -2)
    return sym


@twin(runtime.cholesky_tangent)
def cholesky_tangent_twin(g, ans, upper=False):
    if upper:
        g = np.swapaxes(g, -1, -2)
        ans = np.swapaxes(ans, -1, -2)
    symmetric = np.tril(g) + np.swapaxes(np.tril(g, -1), -1, -2)
    inner = np.linalg.solve(ans, np.swapaxes(np.linalg.solve(ans, symmetric), -1, -2))
    tangent = ans @ (inner * lower_half(np.shape(ans)[-1]))
    if upper:
        return np.swapaxes(tangent, -1, -2)
    return tangent


@twin(runtime.solve_cotangent)
def solve_cotangent_twin(g, a, b):
    check_vectors(a, b)
    transposed = np.swapaxes(a, -1, -2)
    if np.ndim(b) == 1:
        return np.linalg.solve(transposed, np.expand_dims(g, -1))[..., 0]
    return np.linalg.solve(transposed, g)


@twin(runtime.solve_matrix_adjoint)
def solve_matrix_adjoint_twin(gb, x, a, b):
    check_vectors(a, b)
    if np.ndim(b) == 1:
        return -(np.expand_dims(gb, -1) * np.expand_dims(x, -2))
    return -(gb @ np.swapaxes(x, -1, -2))


@twin(runtime.solve_tangent)
def solve_tangent_twin(g, ans, a, b):
    check_vectors(a, b)
    if np.ndim(b) == 1:
        return -np.linalg.solve(a, g @ np.expand_dims(ans, -1))[..., 0]
    return -np.linalg.solve(a, g @ ans)


@twin(runtime.solve_tangent_b)
def solve_tangent_b_twin(g, a, b):
    check_vectors(a, b)
    if np.ndim(b) == 1:
        return np.linalg.solve(a, np.expand_dims(g, -1))[..., 0]
    return np.linalg.solve(a, g)


def check_vectors(a, b) -> None:
    """Refuse NumPy 1's reading of a ``b`` with one axis less than ``a`` as vectors (the
    twins follow NumPy 2's: only a 1-D ``b``)."""
    if np.ndim(b) != 1 and np.ndim(b) == np.ndim(a) - 1 and int(np.__version__[0]) < 2:
        raise ADTransformError(
            "cannot differentiate np.linalg.solve again with NumPy 1 and b a stack of vectors"
        )


@twin(runtime.det_adjoint)
def det_adjoint_twin(g, ans, a):
    if np.any(ans == 0):
        raise ADTransformError(
            "cannot differentiate the adjoint of np.linalg.det again at a singular matrix"
        )
    scale = np.expand_dims(np.expand_dims(g * ans, -1), -1)
    return scale * np.swapaxes(np.linalg.inv(a), -1, -2)


@twin(runtime.slogdet_adjoint)
def slogdet_adjoint_twin(g, a):
    scale = np.expand_dims(np.expand_dims(g[1], -1), -1)
    return scale * np.swapaxes(np.linalg.inv(a), -1, -2)


# -- cumulative products: the recurrences of the helpers, exact where x has zeros -------------
@twin(runtime.cumprod_adjoint)
def cumprod_adjoint_twin(g, ans, x, axis=None):
    shape = np.shape(x)
    if axis is None:
        x = np.ravel(x)
        g = np.ravel(g)
        axis = 0
    xm = np.moveaxis(x, axis, -1)
    gm = np.moveaxis(g, axis, -1)
    n = np.shape(xm)[-1]
    before = [np.ones(np.shape(xm)[:-1])]
    for i in range(1, n):
        before.append(before[i - 1] * xm[..., i - 1])
    running = gm[..., n - 1]
    parts = [running * before[n - 1]]
    for i in range(n - 2, -1, -1):
        running = gm[..., i] + xm[..., i + 1] * running
        parts.append(running * before[i])
    d = np.moveaxis(np.stack(parts[::-1], axis=-1), -1, axis)
    return np.reshape(d, shape)


@twin(runtime.cumprod_tangent)
def cumprod_tangent_twin(t, x, axis=None, nan=False):
    t = np.broadcast_to(t, np.shape(x))
    if nan:
        t = np.where(np.isnan(x), 0.0, t)
        x = np.where(np.isnan(x), 1.0, x)
    if axis is None:
        x = np.ravel(x)
        t = np.ravel(t)
        axis = 0
    xm = np.moveaxis(x, axis, -1)
    tm = np.moveaxis(t, axis, -1)
    previous_y = np.ones(np.shape(xm)[:-1])
    previous_d = np.zeros(np.shape(xm)[:-1])
    parts = []
    for k in range(np.shape(xm)[-1]):
        previous_d = xm[..., k] * previous_d + tm[..., k] * previous_y
        parts.append(previous_d)
        previous_y = previous_y * xm[..., k]
    return np.moveaxis(np.stack(parts, axis=-1), -1, axis)


# -- scipy.special.logsumexp (without b and return_sign) --------------------------------------
@twin(runtime.logsumexp_adjoints)
def logsumexp_adjoints_twin(g, ans, a, axis=None, b=None, keepdims=False, return_sign=False):
    if b is not None or return_sign:
        raise ADTransformError(
            "cannot differentiate the adjoint of scipy.special.logsumexp with b or "
            "return_sign again"
        )
    if axis is not None and not keepdims:
        ans = np.expand_dims(ans, axis)
        g = np.expand_dims(g, axis)
    return g * np.exp(a - ans), None


@twin(runtime.logsumexp_tangent)
def logsumexp_tangent_twin(t, which, ans, a, axis=None, b=None, keepdims=False, return_sign=False):
    if b is not None or return_sign:
        raise ADTransformError(
            "cannot differentiate the tangent of scipy.special.logsumexp with b or "
            "return_sign again"
        )
    kept = ans
    if axis is not None and not keepdims:
        kept = np.expand_dims(ans, axis)
    return np.sum(np.exp(a - kept) * t, axis=axis, keepdims=keepdims)


# checks and shapes: no derivative (a check raises or returns None)
register_nondifferentiable(check_vectors, pure=False)
register_nondifferentiable(lower_half, fresh=True)


# -- symmetric eigendecomposition (distinct eigenvalues: the second derivative does not exist
# at repeated ones in general) -------------------------------------------------------------------
def check_distinct(w) -> None:
    """Refuse repeated eigenvalues (the gap ``1 / (w_j - w_i)`` is not defined there)."""
    w = np.asarray(w)
    gaps = np.where(
        np.eye(w.shape[-1], dtype=bool), np.inf, np.abs(w[..., :, None] - w[..., None, :])
    )
    scale = np.max(np.abs(w), axis=-1, keepdims=True) if w.shape[-1] else 0.0
    tolerance = 32 * max(w.shape[-1], 1) * np.finfo(w.dtype).eps * scale
    if np.any(gaps <= tolerance[..., None]):
        raise ADTransformError(
            "cannot differentiate the adjoint of np.linalg.eigh/eigvalsh again at a matrix "
            "with repeated eigenvalues"
        )


def read_triangle(full, uplo):
    both = full + np.swapaxes(full, -1, -2)
    diagonal = full * np.eye(np.shape(full)[-1])
    if str(uplo).upper() == "U":
        return np.triu(both, 1) + diagonal
    return np.tril(both, -1) + diagonal


@twin(runtime.eigh_adjoint)
def eigh_adjoint_twin(g, ans, a, UPLO="L"):
    w = ans[0]
    q = ans[1]
    # an unused output's adjoint is a zero; shaped like the output, so that its tangent
    # (0.0 where nothing reached it) is shaped too (to_shape_of's tangent rule)
    gw = to_shape_of(g[0], w)
    gq = to_shape_of(g[1], q)
    check_distinct(w)
    n = np.shape(w)[-1]
    eye = np.eye(n)
    middle = np.expand_dims(gw, -1) * eye
    if np.ndim(gq) != 0:
        gap = np.expand_dims(w, -2) - np.expand_dims(w, -1) + eye
        y = np.swapaxes(q, -1, -2) @ gq
        middle = middle + 0.5 * (y - np.swapaxes(y, -1, -2)) * ((1.0 - eye) / gap)
    return read_triangle(q @ middle @ np.swapaxes(q, -1, -2), UPLO)


@twin(runtime.eigvalsh_adjoint)
def eigvalsh_adjoint_twin(g, ans, a, UPLO="L"):
    decomposition = np.linalg.eigh(a, UPLO)
    q = decomposition[1]
    check_distinct(decomposition[0])
    middle = np.expand_dims(g, -1) * np.eye(np.shape(q)[-1])
    return read_triangle(q @ middle @ np.swapaxes(q, -1, -2), UPLO)


# -- scipy.linalg (one square 2-D matrix, as the helpers require) -------------------------------
@twin(runtime.linalg_cholesky_adjoint)
def linalg_cholesky_adjoint_twin(g, ans, a, lower=False):
    return cholesky_adjoint(g * np.ones(np.shape(ans)), ans, a, not lower)


@twin(runtime.det_adjoint_scipy)
def det_adjoint_scipy_twin(g, ans, a):
    return det_adjoint(g, ans, a)


@twin(runtime.solve_triangular_adjoints)
def solve_triangular_adjoints_twin(g, ans, a, trans=0, lower=False, unit_diagonal=False):
    check_square(a)
    transposed = trans not in (0, "N", "n")
    offset = 1 if unit_diagonal else 0
    if lower:
        read = np.tril(a, -offset)
    else:
        read = np.triu(a, offset)
    if unit_diagonal:
        read = read + np.eye(np.shape(a)[0])
    g = g * np.ones(np.shape(ans))
    if transposed:
        gb = np.linalg.solve(read, g)
    else:
        gb = np.linalg.solve(read.T, g)
    if np.ndim(ans) == 1:
        d_op = -np.outer(gb, ans)
    else:
        d_op = -(gb @ ans.T)
    if transposed:
        d_op = d_op.T
    if lower:
        return np.tril(d_op, -offset), gb
    return np.triu(d_op, offset), gb


def check_square(a) -> None:
    if np.ndim(a) != 2 or np.shape(a)[0] != np.shape(a)[1]:
        raise ValueError("scipy.linalg: one square 2-D matrix is differentiated here")


register_nondifferentiable(check_distinct, check_square, pure=False)
# plain-NumPy functions the twins call, compiled and differentiated like them
_PLAIN_HELPERS = {"read_triangle": read_triangle}


# -- the tangents of scipy.linalg, and its inv and solve with the part of a SciPy reads ------
def as_read(a, used, lower):
    """The matrix SciPy solves with (``runtime.scipy._symmetric_as_read``)."""
    if used == "sym":
        if lower:
            half = np.tril(a, -1)
        else:
            half = np.triu(a, 1)
        return half + np.swapaxes(half, -1, -2) + a * np.eye(np.shape(a)[-1])
    if used == "lower":
        return np.tril(a)
    if used == "upper":
        return np.triu(a)
    if used == "diagonal":
        return a * np.eye(np.shape(a)[-1])
    return a


def fold(da, used, lower):
    """``runtime.scipy.fold_to_read_part``: the transpose of ``as_read``."""
    if used == "sym":
        both = da + np.swapaxes(da, -1, -2)
        diagonal = da * np.eye(np.shape(da)[-1])
        if lower:
            return np.tril(both, -1) + diagonal
        return np.triu(both, 1) + diagonal
    if used == "lower":
        return np.tril(da)
    if used == "upper":
        return np.triu(da)
    if used == "diagonal":
        return da * np.eye(np.shape(da)[-1])
    return da


_PLAIN_HELPERS.update(as_read=as_read, fold=fold)


@twin(runtime.scipy_cholesky_tangent)
def scipy_cholesky_tangent_twin(t, ans, lower=False):
    return cholesky_tangent(t * np.ones(np.shape(ans)), ans, not lower)


@twin(runtime.scipy_det_tangent)
def scipy_det_tangent_twin(t, ans, a):
    da = t * np.ones(np.shape(a))
    return ans * np.trace(np.linalg.solve(a, da), axis1=-2, axis2=-1)


@twin(runtime.solve_triangular_tangent)
def solve_triangular_tangent_twin(t, which, ans, a, b, trans=0, lower=False, unit_diagonal=False):
    check_square(a)
    transposed = trans not in (0, "N", "n")
    offset = 1 if unit_diagonal else 0
    if lower:
        read = np.tril(a, -offset)
    else:
        read = np.triu(a, offset)
    if unit_diagonal:
        read = read + np.eye(np.shape(a)[0])
    if transposed:
        read = read.T
    if which == "b":
        return np.linalg.solve(read, t * np.ones(np.shape(b)))
    da = t * np.ones(np.shape(a))
    if lower:
        da = np.tril(da, -offset)
    else:
        da = np.triu(da, offset)
    if transposed:
        da = da.T
    return np.linalg.solve(read, -(da @ ans))


@twin(runtime.scipy_inv_tangent)
def scipy_inv_tangent_twin(t, ans, a, assume_a=None, lower=False):
    da = as_read(t * np.ones(np.shape(a)), triangle_used(assume_a), lower)
    return -ans @ da @ ans


@twin(runtime.scipy_solve_tangent)
def scipy_solve_tangent_twin(t, which, ans, a, b, lower=False, assume_a=None, transposed=False):
    used = triangle_used(assume_a)
    op = as_read(a, used, lower)
    if transposed:
        op = op.T
    if which == "b":
        return np.linalg.solve(op, t * np.ones(np.shape(b)))
    d_op = as_read(t * np.ones(np.shape(a)), used, lower)
    if transposed:
        d_op = d_op.T
    return np.linalg.solve(op, -(d_op @ ans))


@twin(runtime.linalg_inv_adjoint)
def linalg_inv_adjoint_twin(g, ans, a, assume_a=None, lower=False):
    check_square(a)
    da = -(ans.T @ (g * np.ones(np.shape(ans))) @ ans.T)
    return fold(da, triangle_used(assume_a), lower)


@twin(runtime.linalg_solve_adjoints)
def linalg_solve_adjoints_twin(g, ans, a, lower=False, assume_a=None, transposed=False):
    check_square(a)
    used = triangle_used(assume_a)
    op = as_read(a, used, lower)
    if transposed:
        op = op.T
    gb = np.linalg.solve(op.T, g * np.ones(np.shape(ans)))
    if np.ndim(ans) == 1:
        d_op = -np.outer(gb, ans)
    else:
        d_op = -(gb @ ans.T)
    if transposed:
        d_op = d_op.T
    return fold(d_op, used, lower), gb


# -- signal: convolution and differences (linear in g; the other factor of a convolution) ----
@twin(runtime.convolve_adjoints)
def convolve_adjoints_twin(g, a, v, mode="full", correlate=False):
    length = np.size(a) + np.size(v) - 1
    start = full_offset(np.size(a), np.size(v), mode, correlate)
    full = np.pad(g * np.ones(np.shape(g)), (start, length - start - np.size(g)))
    if correlate:
        kernel = v[::-1]
    else:
        kernel = v
    d_a = np.correlate(full, kernel, "valid")
    d_v = np.correlate(full, a, "valid")
    if correlate:
        d_v = d_v[::-1]
    return d_a, d_v


@twin(runtime.diff_adjoints)
def diff_adjoints_twin(g, a, n=1, axis=-1, prepend=None, append=None):
    if prepend is not None or append is not None:
        raise ADTransformError(
            "cannot differentiate the adjoint of np.diff with prepend or append again"
        )
    ndim = np.ndim(a)
    widths = [(1, 1) if i == axis % ndim else (0, 0) for i in range(ndim)]
    for _ in range(n):
        g = -np.diff(np.pad(g, widths), axis=axis)
    return g, None, None


@twin(runtime.eigh_tangent)
def eigh_tangent_twin(t, ans, a, UPLO="L", values_only=False):
    if values_only:
        decomposition = np.linalg.eigh(a, UPLO)
    else:
        decomposition = ans
    w = decomposition[0]
    q = decomposition[1]
    symmetric = read_back(t * np.ones(np.shape(a)), UPLO)
    p = np.swapaxes(q, -1, -2) @ symmetric @ q
    dw = np.diagonal(p, axis1=-2, axis2=-1) * 1.0
    if values_only:
        return dw
    check_distinct(w)
    eye = np.eye(np.shape(w)[-1])
    gap = np.expand_dims(w, -2) - np.expand_dims(w, -1) + eye
    return tangent_tuple((dw, q @ (((1.0 - eye) / gap) * p)))


def read_back(t, uplo):
    """The symmetric matrix NumPy builds from ``uplo``'s triangle of ``t``."""
    if str(uplo).upper() == "U":
        half = np.triu(t, 1)
    else:
        half = np.tril(t, -1)
    return half + np.swapaxes(half, -1, -2) + t * np.eye(np.shape(t)[-1])


_PLAIN_HELPERS.update(read_back=read_back)


# -- nan-aware sums and means: linear in g, x read for its NaNs --------------------------------
@twin(runtime.nan_sum_adjoint)
def nan_sum_adjoint_twin(g, x, axis=None, keepdims=False):
    if axis is not None and not keepdims:
        g = np.expand_dims(g, axis)
    return np.where(np.isnan(x), 0.0, g * np.ones(np.shape(x)))


@twin(runtime.nan_mean_adjoint)
def nan_mean_adjoint_twin(g, x, axis=None, keepdims=False):
    count = np.sum(~np.isnan(x), axis=axis, keepdims=True)
    if axis is not None and not keepdims:
        g = np.expand_dims(g, axis)
    share = g / np.maximum(count, 1)
    return np.where(np.isnan(x), 0.0, share * np.ones(np.shape(x)))


# more twins (SVD, QR, pinv, lstsq, norms, nan-variances; matrix functions, products, eig,
# nan-products, average): registered on import
from . import (  # noqa: E402, F401
    runtime_twins_2,
    runtime_twins_3,
    runtime_twins_4,
    runtime_twins_conversions,
)
