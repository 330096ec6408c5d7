"""Differentiable twins, third part: matrix functions (``expm``, ``logm``), products
(``inner``, ``vdot``, ``kron``, ``cross``, ``matrix_power``, ``tensorinv``,
``tensorsolve``), the real eigendecomposition (``eig``, ``eigvals``), ``cho_factor`` and
``cho_solve``'s tangent, and the nan-aware products and sums (``nanprod``, ``nancumsum``,
``nancumprod``) and ``np.average``.

As in ``rules/runtime_twins.py``: each twin computes its helper's value from primitives and
helpers that have rules, or raises ``ADTransformError`` for what it does not cover. The
Fréchet derivatives of ``expm`` and ``logm`` are read from the upper right block of the
function of ``[[A, E], [0, A]]`` (Higham 2008, "Functions of Matrices", Theorem 3.6; the
adjoint is the derivative at ``A^T`` applied to the cotangent, Al-Mohy & Higham 2009), so
their derivatives are again ``expm``/``logm`` of a larger block; the eigendecomposition's
as in Giles 2008, sec. 3.1, with NumPy's unit-norm eigenvectors.
"""

from __future__ import annotations

import numpy as np

from .. import runtime
from ..errors import ADTransformError
from ..runtime import cholesky_adjoint, cumprod_adjoint, cumsum_adjoint, prod_adjoint
from ..runtime.decompositions import _tolerance
from ..runtime.higher_order_2 import list_adjoint, tangent_tuple
from .registry import register_nondifferentiable
from .runtime_twins import _PLAIN_HELPERS, twin

scipy_linalg = None  # SciPy's module, given to the twins when they are compiled (runtime_twins)


def mT(x):
    """The transpose of the last two axes (a stack of matrices)."""
    return np.swapaxes(x, -1, -2)


# -- checks and layouts (no derivative) ---------------------------------------------------------
def check_one_matrix(a, function) -> None:
    """Refuse a stack of matrices or a non-square one (the block form takes one)."""
    if np.ndim(a) != 2 or np.shape(a)[0] != np.shape(a)[1] or np.iscomplexobj(a):
        raise ADTransformError(
            f"cannot differentiate the derivative of {function} again except of one real "
            "square 2-D matrix"
        )


def check_real_logarithm(value) -> None:
    if np.iscomplexobj(value) and np.any(np.imag(value) != 0):
        raise ValueError(
            "the gradient of scipy.linalg.logm is defined here for a real logarithm only "
            "(this matrix has eigenvalues on the closed negative real axis)"
        )


def check_real_eigen(w, v) -> None:
    """Refuse non-real, repeated eigenvalues and (numerically) defective matrices."""
    if np.iscomplexobj(w) or np.iscomplexobj(v):
        raise ADTransformError(
            "cannot differentiate the derivative of np.linalg.eig again: the matrix has "
            "non-real eigenvalues"
        )
    n = np.shape(w)[-1]
    tol = _tolerance(np.asarray(w), n, n)
    gaps = np.abs(w[..., :, None] - w[..., None, :])
    repeated = (gaps <= tol[..., None]) & ~np.eye(n, dtype=bool)
    condition = np.linalg.cond(v)
    if np.any(repeated) or np.any(~np.isfinite(condition)) or np.any(condition > 1e8):
        raise ADTransformError(
            "cannot differentiate the derivative of np.linalg.eig again at a matrix with "
            "repeated eigenvalues or without a well-conditioned eigenbasis"
        )


def check_real(*values) -> None:
    if any(np.iscomplexobj(v) for v in values):
        raise ADTransformError(
            "cannot differentiate the adjoint of np.vdot again for non-real values"
        )


def check_plain_cross(a, b, axisa, axisb, axisc, axis) -> None:
    """The twin of ``cross_adjoint`` covers 3-vectors along the last axis of two arrays of
    one shape."""
    defaults = axisa == -1 and axisb == -1 and axisc == -1 and axis is None
    if not defaults or np.shape(a) != np.shape(b) or np.shape(a)[-1] != 3:
        raise ADTransformError(
            "cannot differentiate the adjoint of np.cross again except for 3-vectors along "
            "the last axis of two arrays of the same shape"
        )


def contracted_axes(first, last):
    """``list(range(first, last))``: the axes a tensordot contracts."""
    return list(range(first, last))


def kron_layout(a, b):
    """The shapes and axes the adjoints of ``np.kron(a, b)`` use: ``g`` with the axes of
    ``a`` and ``b`` interleaved, ``b`` and ``a`` spread on them, the axes summed."""
    nd = max(np.ndim(a), np.ndim(b))
    sa = (1,) * (nd - np.ndim(a)) + tuple(np.shape(a))
    sb = (1,) * (nd - np.ndim(b)) + tuple(np.shape(b))
    interleaved = [v for pair in zip(sa, sb, strict=True) for v in pair]
    b_grid = [v for n in sb for v in (1, n)]
    a_grid = [v for n in sa for v in (n, 1)]
    return interleaved, b_grid, a_grid, tuple(range(1, 2 * nd, 2)), tuple(range(0, 2 * nd, 2))


def tensor_rows(a, ind):
    return int(np.prod(np.shape(a)[:ind]))


def tensorsolve_order(a, axes):
    """The axes order ``np.linalg.tensorsolve`` moves ``a`` to, and its inverse."""
    order = list(range(np.ndim(a)))
    if axes is not None:
        for k in axes:
            order.remove(k)
            order.insert(np.ndim(a), k)
    return order, [int(i) for i in np.argsort(order)]


def average_layout(a, axis, weights):
    """The reduced axes of ``np.average``, the shape its weights are read in, the other
    axes (1-D weights are summed over them) and the number of reduced elements."""
    ndim = np.ndim(a)
    axes = (
        tuple(range(ndim))
        if axis is None
        else tuple(int(k) % max(ndim, 1) for k in np.atleast_1d(axis))
    )
    shape = np.shape(a)
    if weights is not None and np.shape(weights) != shape:
        shape = tuple(np.size(weights) if i == axes[0] else 1 for i in range(ndim))
    others = tuple(i for i in range(ndim) if i != axes[0])
    count = int(np.prod([np.shape(a)[k] for k in axes]))
    return axes, shape, others, count


def zero_term(t) -> bool:
    """Whether a tangent term is the number 0 (no tangent of a tuple's fields)."""
    return isinstance(t, (int, float)) and t == 0


def check_average(returned) -> None:
    if returned:
        raise ADTransformError("np.average(..., returned=True) is not differentiable")


register_nondifferentiable(
    check_one_matrix,
    check_real_logarithm,
    check_real_eigen,
    check_real,
    check_plain_cross,
    check_average,
    pure=False,
)
register_nondifferentiable(
    zero_term, contracted_axes, kron_layout, tensor_rows, tensorsolve_order, average_layout
)


# -- expm, logm: the block form (one real square matrix) -----------------------------------------
def upper_block(top_left, top_right):
    """``[[top_left, top_right], [0, top_left]]`` (no integer names: a third derivative
    reads every name of the second-order code from its tape as a possible value)."""
    top = np.concatenate([top_left, top_right], axis=1)
    bottom = np.concatenate([np.zeros_like(top_left), top_left], axis=1)
    return np.concatenate([top, bottom], axis=0)


def upper_right(block):
    """The upper right quarter of ``block``."""
    return np.split(np.split(block, 2, axis=0)[0], 2, axis=1)[1]


_PLAIN_HELPERS.update(upper_block=upper_block, upper_right=upper_right)


@twin(runtime.expm_adjoint)
def expm_adjoint_twin(g, a):
    check_one_matrix(a, "scipy.linalg.expm")
    return upper_right(scipy_linalg.expm(upper_block(np.transpose(a), g * np.ones_like(a))))


@twin(runtime.expm_tangent)
def expm_tangent_twin(t, a):
    check_one_matrix(a, "scipy.linalg.expm")
    return upper_right(scipy_linalg.expm(upper_block(a, t * np.ones_like(a))))


@twin(runtime.logm_adjoint)
def logm_adjoint_twin(g, ans, a):
    check_one_matrix(a, "scipy.linalg.logm")
    check_real_logarithm(ans)
    logarithm = scipy_linalg.logm(upper_block(np.transpose(a), g * np.ones_like(a)))
    check_real_logarithm(logarithm)
    return np.real(upper_right(logarithm))


@twin(runtime.logm_tangent)
def logm_tangent_twin(t, a):
    check_one_matrix(a, "scipy.linalg.logm")
    logarithm = scipy_linalg.logm(upper_block(a, t * np.ones_like(a)))
    check_real_logarithm(logarithm)
    return upper_right(logarithm)


# -- products: bilinear, the other factor's transpose -------------------------------------------
@twin(runtime.inner_adjoint_left)
def inner_adjoint_left_twin(g, a, b):
    if np.ndim(a) == 0:
        return np.sum(g * b)
    if np.ndim(b) == 0:
        return g * b
    axes = (contracted_axes(np.ndim(a) - 1, np.ndim(g)), contracted_axes(0, np.ndim(b) - 1))
    return np.tensordot(g, b, axes)


@twin(runtime.inner_adjoint_right)
def inner_adjoint_right_twin(g, a, b):
    if np.ndim(a) == 0:
        return g * a
    if np.ndim(b) == 0:
        return np.sum(g * a)
    free = contracted_axes(0, np.ndim(a) - 1)
    return np.moveaxis(np.tensordot(a, g, (free, free)), 0, -1)


@twin(runtime.vdot_adjoint)
def vdot_adjoint_twin(g, other, x, conjugated=False):
    check_real(g, other, x)
    return np.reshape(g * np.ravel(other), np.shape(x))


@twin(runtime.kron_adjoint)
def kron_adjoint_twin(g, a, b, left=True):
    layout = kron_layout(a, b)
    g = np.reshape(g, layout[0])
    if left:
        return np.reshape(np.sum(g * np.reshape(b, layout[1]), axis=layout[3]), np.shape(a))
    return np.reshape(np.sum(g * np.reshape(a, layout[2]), axis=layout[4]), np.shape(b))


@twin(runtime.cross_adjoint)
def cross_adjoint_twin(g, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None, of_b=False):
    check_plain_cross(a, b, axisa, axisb, axisc, axis)
    if of_b:
        return np.cross(g, a)
    return np.cross(b, g)


@twin(runtime.matrix_power_adjoint)
def matrix_power_adjoint_twin(g, ans, a, n):
    if n == 0:
        return np.zeros(np.shape(a))
    if n > 0:
        base = a
    else:
        base = np.linalg.inv(a)
    power = abs(n)
    base_t = mT(base)
    powers = [np.eye(np.shape(a)[-1]) * np.ones(np.shape(a))]
    for i in range(power - 1):
        powers.append(powers[i] @ base_t)
    total = powers[0] @ g @ powers[power - 1]
    for k in range(1, power):
        total = total + powers[k] @ g @ powers[power - 1 - k]
    if n < 0:
        return -(base_t @ total @ base_t)
    return total


@twin(runtime.matrix_power_tangent)
def matrix_power_tangent_twin(t, a, n):
    da = t * np.ones(np.shape(a))
    if n == 0:
        return np.zeros(np.shape(a))
    if n < 0:
        a = np.linalg.inv(a)
        da = -(a @ da @ a)
        n = -n
    powers = [np.eye(np.shape(a)[-1]) * np.ones(np.shape(a))]
    for i in range(n - 1):
        powers.append(powers[i] @ a)
    total = powers[0] @ da @ powers[n - 1]
    for k in range(1, n):
        total = total + powers[k] @ da @ powers[n - 1 - k]
    return total


@twin(runtime.tensorinv_adjoint)
def tensorinv_adjoint_twin(g, ans, a, ind=2):
    inverse = np.reshape(ans, (-1, tensor_rows(a, ind)))
    g_matrix = np.reshape(g, np.shape(inverse))
    return np.reshape(-(mT(inverse) @ g_matrix @ mT(inverse)), np.shape(a))


@twin(runtime.tensorinv_tangent)
def tensorinv_tangent_twin(t, ans, a, ind=2):
    rows = tensor_rows(a, ind)
    da = np.reshape(t * np.ones(np.shape(a)), (rows, -1))
    inverse = np.reshape(ans, (-1, rows))
    return np.reshape(-(inverse @ da @ inverse), np.shape(ans))


@twin(runtime.tensorsolve_adjoint)
def tensorsolve_adjoint_twin(g, ans, a, b, axes=None):
    orders = tensorsolve_order(a, axes)
    moved = np.transpose(a, orders[0])
    matrix = np.reshape(moved, (np.size(b), -1))
    gb = np.linalg.solve(mT(matrix), np.reshape(g, (-1,)))
    g_matrix = -np.outer(gb, np.reshape(ans, (-1,)))
    ga = np.transpose(np.reshape(g_matrix, np.shape(moved)), orders[1])
    return ga, np.reshape(gb, np.shape(b))


@twin(runtime.tensorsolve_tangent)
def tensorsolve_tangent_twin(t, which, ans, a, b, axes=None):
    orders = tensorsolve_order(a, axes)
    moved = np.transpose(a, orders[0])
    if which == "b":
        return np.linalg.tensorsolve(moved, t * np.ones(np.shape(b)))
    da = np.transpose(t * np.ones(np.shape(a)), orders[0])
    return np.linalg.tensorsolve(moved, -np.tensordot(da, ans, np.ndim(ans)))


# -- eig, eigvals (real distinct eigenvalues; Giles 2008, 3.1) ------------------------------------
@twin(runtime.eig_adjoint)
def eig_adjoint_twin(g, ans, a):
    w = ans[0]
    v = ans[1]
    gw = g[0]
    gv = g[1]
    check_real_eigen(w, v)
    eye = np.eye(np.shape(w)[-1])
    middle = np.expand_dims(gw, -1) * eye
    if np.ndim(gv) != 0:
        gv = gv - v * np.sum(v * gv, axis=-2, keepdims=True)
        y = mT(v) @ gv
        gap = np.expand_dims(w, -2) - np.expand_dims(w, -1) + eye
        middle = middle + y * ((1.0 - eye) / gap)
    return np.linalg.solve(mT(v), middle @ mT(v))


@twin(runtime.eigvals_adjoint)
def eigvals_adjoint_twin(g, ans, a):
    decomposition = np.linalg.eig(a)
    v = decomposition[1]
    check_real_eigen(decomposition[0], v)
    middle = np.expand_dims(g, -1) * np.eye(np.shape(v)[-1])
    return np.linalg.solve(mT(v), middle @ mT(v))


@twin(runtime.eig_tangent)
def eig_tangent_twin(t, ans, a, values_only=False):
    if values_only:
        decomposition = np.linalg.eig(a)
    else:
        decomposition = ans
    w = decomposition[0]
    v = decomposition[1]
    check_real_eigen(w, v)
    p = np.linalg.solve(v, (t * np.ones(np.shape(a))) @ v)
    dw = np.diagonal(p, axis1=-2, axis2=-1) * 1.0
    if values_only:
        return dw
    eye = np.eye(np.shape(w)[-1])
    gap = np.expand_dims(w, -2) - np.expand_dims(w, -1) + eye
    full = v @ (((1.0 - eye) / gap) * p)
    return tangent_tuple((dw, full - v * np.sum(v * full, axis=-2, keepdims=True)))


# -- scipy.linalg.cho_factor / cho_solve ----------------------------------------------------------
@twin(runtime.cho_factor_adjoint)
def cho_factor_adjoint_twin(g, ans, a):
    c = ans[0]
    lower = ans[1]
    gc = g[0]
    if np.ndim(gc) == 0:
        return np.zeros(np.shape(a))
    gc = gc * np.ones(np.shape(c))
    if lower:
        return cholesky_adjoint(np.tril(gc), np.tril(c), a, False) + np.triu(gc, 1)
    return cholesky_adjoint(np.triu(gc), np.triu(c), a, True) + np.tril(gc, -1)


@twin(runtime.cho_factor_tangent)
def cho_factor_tangent_twin(t, ans, a):
    c = ans[0]
    lower = ans[1]
    da = t * np.ones(np.shape(a))
    if lower:
        dc = runtime.scipy_cholesky_tangent(da, np.tril(c), True) + np.triu(da, 1)
    else:
        dc = runtime.scipy_cholesky_tangent(da, np.triu(c), False) + np.tril(da, -1)
    return tangent_tuple((dc, 0.0))


@twin(runtime.cho_solve_adjoints)
def cho_solve_adjoints_twin(g, ans, c_and_lower):
    c = c_and_lower[0]
    lower = c_and_lower[1]
    check_one_matrix(c, "scipy.linalg.cho_solve")
    if lower:
        factor = np.tril(c)
        matrix = factor @ mT(factor)
    else:
        factor = np.triu(c)
        matrix = mT(factor) @ factor
    gb = np.linalg.solve(matrix, g * np.ones(np.shape(ans)))
    if np.ndim(ans) == 1:
        d_matrix = -np.outer(gb, ans)
    else:
        d_matrix = -(gb @ mT(ans))
    both = d_matrix + mT(d_matrix)
    if lower:
        return list_adjoint((np.tril(both @ factor), 0.0)), gb
    return list_adjoint((np.triu(factor @ both), 0.0)), gb


@twin(runtime.cho_solve_tangent)
def cho_solve_tangent_twin(t, which, ans, c_and_lower, b):
    c = c_and_lower[0]
    lower = c_and_lower[1]
    if lower:
        factor = np.tril(c)
        matrix = factor @ mT(factor)
    else:
        factor = np.triu(c)
        matrix = mT(factor) @ factor
    if which == "b":
        return np.linalg.solve(matrix, t * np.ones(np.shape(b)))
    if zero_term(t):
        return np.linalg.solve(matrix, np.zeros(np.shape(ans)))
    dc = t[0] * np.ones(np.shape(c))
    if lower:
        d_factor = np.tril(dc)
        d_matrix = d_factor @ mT(factor) + factor @ mT(d_factor)
    else:
        d_factor = np.triu(dc)
        d_matrix = mT(d_factor) @ factor + mT(factor) @ d_factor
    return np.linalg.solve(matrix, -(d_matrix @ ans))


# -- nan-aware products and sums, np.average ------------------------------------------------------
@twin(runtime.nan_prod_adjoint)
def nan_prod_adjoint_twin(g, x, axis=None, keepdims=False):
    nan = np.isnan(x)
    return np.where(nan, 0.0, prod_adjoint(g, np.where(nan, 1.0, x), axis, keepdims))


@twin(runtime.nan_cumsum_adjoint)
def nan_cumsum_adjoint_twin(g, x, axis=None):
    return np.where(np.isnan(x), 0.0, cumsum_adjoint(g, x, axis))


@twin(runtime.nan_cumprod_adjoint)
def nan_cumprod_adjoint_twin(g, ans, x, axis=None):
    nan = np.isnan(x)
    return np.where(nan, 0.0, cumprod_adjoint(g, ans, np.where(nan, 1.0, x), axis))


@twin(runtime.average_adjoint)
def average_adjoint_twin(g, ans, a, axis=None, weights=None, keepdims=False, returned=False):
    check_average(returned)
    layout = average_layout(a, axis, weights)
    if axis is not None and not keepdims:
        g = np.expand_dims(g, layout[0])
        ans = np.expand_dims(ans, layout[0])
    if weights is None:
        return g * np.ones(np.shape(a)) / layout[3], None
    w = np.reshape(weights, layout[1])
    total = np.sum(w * np.ones(np.shape(a)), axis=layout[0], keepdims=True)
    da = g * w / total * np.ones(np.shape(a))
    dw = g * (a - ans) / total
    if np.shape(weights) != np.shape(a):
        dw = np.reshape(np.sum(dw, axis=layout[2]), np.shape(weights))
    return da, dw


@twin(runtime.average_tangent)
def average_tangent_twin(t, ans, a, axis=None, weights=None, returned=False, keepdims=False):
    check_average(returned)
    partials = runtime.average_adjoint(np.ones(np.shape(ans)), ans, a, axis, weights, keepdims)
    return np.sum(t * partials[0], axis=axis, keepdims=keepdims)


@twin(runtime.average_weights_tangent)
def average_weights_tangent_twin(t, a, axis=None, weights=None, returned=False, keepdims=False):
    check_average(returned)
    layout = average_layout(a, axis, weights)
    w = np.reshape(weights, layout[1]) * np.ones(np.shape(a))
    tw = np.reshape(t * np.ones(np.shape(weights)), layout[1])
    total = np.sum(w, axis=layout[0], keepdims=True)
    average = np.sum(w * a, axis=layout[0], keepdims=True) / total
    d = np.sum(tw * (a - average), axis=layout[0], keepdims=True) / total
    if keepdims:
        return d
    return np.reshape(d, np.shape(np.sum(a, axis=layout[0])))
