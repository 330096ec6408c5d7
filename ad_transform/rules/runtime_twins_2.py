"""Differentiable twins of more runtime helpers (second part of ``rules/runtime_twins.py``):
the adjoints and tangents of ``svd``, ``qr``, ``pinv``, ``lstsq``, NumPy 2's norms,
``cond``, ``nanvar``/``nanstd``.

Each twin computes the helper's value from primitives that have rules (``@``,
``np.linalg.solve``/``pinv``/``svd``/``qr``, ``np.tril``, products with constant masks) and
runtime helpers that have rules or twins in turn (``norm_adjoint``, ``pinv_adjoint``), so
the helper's second (and higher) derivatives follow from theirs. Where the helper handles
a degenerate point by a convention (a zero or repeated singular value, a rank-deficient
matrix), the twin refuses it by name: the second derivative does not exist there in
general. Formulas: Townsend 2016 (SVD), Walter & Lehmann 2018 (QR), Golub & Pereyra 1973
(pseudo-inverse), as in ``runtime/decompositions.py`` and
``runtime/decomposition_tangents.py``.
"""

from __future__ import annotations

import numpy as np

from .. import runtime
from ..errors import ADTransformError
from ..runtime import norm_adjoint, pinv_adjoint, pinv_tangent, svd_adjoint, svd_tangent
from ..runtime.decompositions import _tolerance
from ..runtime.higher_order import to_shape_of
from ..runtime.higher_order_2 import tangent_tuple
from .registry import register_nondifferentiable
from .runtime_twins import _PLAIN_HELPERS, read_triangle, twin


def mT(x):
    """The transpose of the last two axes (a stack of matrices)."""
    return np.swapaxes(x, -1, -2)


# -- checks (no derivative: each returns None or raises) ---------------------------------------
def check_real_svd(a, hermitian) -> None:
    """Refuse what the twins of the SVD do not cover: non-real matrices, ``hermitian``."""
    # no string constant of a function twins call may name the type of non-real numbers:
    # complex_flows reads their sources for complex sources
    if np.iscomplexobj(a) or hermitian:
        raise ADTransformError(
            "cannot differentiate np.linalg.svd again for a non-real matrix or hermitian=True"
        )


def check_singular_values(s, m, n) -> None:
    """Refuse zero or repeated singular values (the inverse gaps ``1 / (s_j^2 - s_i^2)`` and
    ``1 / s_i`` are not defined there)."""
    s = np.asarray(s)
    tol = _tolerance(s, m, n)
    gaps = np.where(
        np.eye(s.shape[-1], dtype=bool), np.inf, np.abs(s[..., :, None] - s[..., None, :])
    )
    if np.any(s <= tol) or np.any(gaps <= tol[..., None]):
        raise ADTransformError(
            "cannot differentiate the derivative of np.linalg.svd again at a matrix with a "
            "zero or repeated singular value"
        )


def check_complement(basis, cotangent, k) -> None:
    """Refuse a function of the columns of a full/complete orthogonal factor beyond ``k``
    that depends on the basis chosen for them (the skew part of ``B2^T gB2`` not 0)."""
    rest = np.asarray(basis)[..., k:]
    inner = np.swapaxes(rest, -1, -2) @ np.asarray(cotangent)[..., k:]
    scale = float(np.max(np.abs(cotangent), initial=0.0))
    if np.any(np.abs(inner - np.swapaxes(inner, -1, -2)) > 1e-8 * scale + 1e-300):
        raise ADTransformError(
            "cannot differentiate the adjoint of np.linalg.svd/qr again: the function depends "
            "on the basis chosen for the orthogonal complement (full_matrices/complete)"
        )


def check_qr(r, m, n, mode) -> None:
    """Refuse ``mode='raw'`` and dependent first ``min(m, n)`` columns."""
    if mode not in ("reduced", "complete", "r"):
        raise ADTransformError(f"cannot differentiate np.linalg.qr with mode={mode!r} again")
    k = min(m, n)
    diagonal = np.abs(np.diagonal(np.asarray(r)[..., :k, :k], axis1=-2, axis2=-1))
    if np.any(diagonal <= _tolerance(diagonal, m, n)):
        raise ADTransformError(
            "cannot differentiate the derivative of np.linalg.qr again: the first min(m, n) "
            "columns of the matrix are (numerically) dependent"
        )


def check_full_rank(a, rank, function) -> None:
    """Refuse a matrix without full rank (``pinv``/``lstsq`` are not differentiable where
    the rank changes; at a constant lower rank the helpers' convention has no twin)."""
    a = np.asarray(a)
    if np.iscomplexobj(a):
        raise ADTransformError(f"cannot differentiate {function} again for a non-real matrix")
    if rank is None:
        rank = np.linalg.matrix_rank(a)
    if np.any(np.asarray(rank) < min(a.shape[-2:])):
        raise ADTransformError(
            f"cannot differentiate the derivative of {function} again at a matrix without full rank"
        )


def norm_axes(x, axis):
    """The reduced axes of a vector norm, or raises for several axes given as a tuple."""
    if axis is None or np.ndim(axis) == 0:
        return axis
    if len(axis) == 1:
        return int(axis[0])
    raise ADTransformError(
        "cannot differentiate the derivative of np.linalg.vector_norm again over a tuple of "
        "several axes (use one axis or axis=None)"
    )


register_nondifferentiable(
    check_real_svd, check_singular_values, check_complement, check_qr, check_full_rank, pure=False
)
register_nondifferentiable(norm_axes)


def inverse_square_gaps(s):
    """``F_ij = 1 / (s_j^2 - s_i^2)`` off the diagonal, 0 on it (distinct ``s``)."""
    eye = np.eye(np.shape(s)[-1])
    squares = s * s
    return (1.0 - eye) / (np.expand_dims(squares, -2) - np.expand_dims(squares, -1) + eye)


def folded(basis, cotangent, k):
    """The cotangent of the first ``k`` columns of an orthogonal ``basis`` whose other
    columns only span the complement: ``gB1 - B2 gB2^T B1``."""
    check_complement(basis, cotangent, k)
    rest = basis[..., :, k:]
    return (
        cotangent[..., :, :k]
        - rest @ np.swapaxes(cotangent[..., :, k:], -1, -2) @ basis[..., :, :k]
    )


def with_complement(basis, d_first, k):
    """The tangent of a square orthogonal ``basis`` whose first ``k`` columns have the
    tangent ``d_first``: ``-B1 dB1^T B2`` for the others."""
    rest = basis[..., :, k:]
    return np.concatenate(
        [d_first, -(basis[..., :, :k] @ np.swapaxes(d_first, -1, -2) @ rest)], axis=-1
    )


def qr_core(q, r, gq, gr):
    """``gA = (gQ + Q copyltu(M)) R^-T`` with ``M = R gR^T - gQ^T Q`` (``m >= n``)."""
    inner = r @ np.swapaxes(gr, -1, -2) - np.swapaxes(gq, -1, -2) @ q
    copyltu = np.tril(inner) + np.swapaxes(np.tril(inner, -1), -1, -2)
    return np.swapaxes(np.linalg.solve(r, np.swapaxes(gq + q @ copyltu, -1, -2)), -1, -2)


_PLAIN_HELPERS.update(
    mT=mT,
    inverse_square_gaps=inverse_square_gaps,
    folded=folded,
    with_complement=with_complement,
    qr_core=qr_core,
)


# -- SVD (Townsend 2016; distinct positive singular values) ------------------------------------
@twin(runtime.svd_adjoint)
def svd_adjoint_twin(g, ans, a, full_matrices=True, compute_uv=True, hermitian=False):
    check_real_svd(a, hermitian)
    m = np.shape(a)[-2]
    n = np.shape(a)[-1]
    k = min(m, n)
    if compute_uv:
        u = ans[0]
        s = ans[1]
        vh = ans[2]
        # an unused output's adjoint is a zero; shaped like the output, so that its tangent
        # (0.0 where nothing reached it) is shaped too (to_shape_of's tangent rule)
        gu = to_shape_of(g[0], u)
        gs = to_shape_of(g[1], s)
        gv = to_shape_of(g[2], vh)
    else:
        decomposition = np.linalg.svd(a, full_matrices=False)
        u = decomposition[0]
        s = decomposition[1]
        vh = decomposition[2]
        gu = 0.0
        gs = g
        gv = 0.0
    check_singular_values(s, m, n)
    if np.ndim(gv) != 0:
        gv = mT(gv)
        if full_matrices and n > k:
            gv = folded(mT(vh), gv, k)
    if np.ndim(gu) != 0 and full_matrices and m > k:
        gu = folded(u, gu, k)
    u = u[..., :, :k]
    vh = vh[..., :k, :]
    v = mT(vh)
    eye = np.eye(k)
    gaps = inverse_square_gaps(s)
    s_row = np.expand_dims(s, -2)
    s_col = np.expand_dims(s, -1)
    middle = np.expand_dims(gs, -1) * eye
    if np.ndim(gu) != 0:
        j = mT(u) @ gu
        middle = middle + gaps * (j - mT(j)) * s_row
    if np.ndim(gv) != 0:
        kk = mT(v) @ gv
        middle = middle + s_col * (gaps * (kk - mT(kk)))
    result = u @ middle @ vh
    if np.ndim(gu) != 0 and m > k:
        result = result + ((gu - u @ j) / s_row) @ vh
    if np.ndim(gv) != 0 and n > k:
        result = result + (u / s_row) @ mT(gv - v @ kk)
    return result


@twin(runtime.svd_tangent)
def svd_tangent_twin(t, ans, a, full_matrices=True, compute_uv=True, hermitian=False):
    check_real_svd(a, hermitian)
    da = t * np.ones(np.shape(a))
    m = np.shape(a)[-2]
    n = np.shape(a)[-1]
    k = min(m, n)
    if compute_uv:
        u_full = ans[0]
        s = ans[1]
        vh_full = ans[2]
    else:
        decomposition = np.linalg.svd(a, full_matrices=False)
        u_full = decomposition[0]
        s = decomposition[1]
        vh_full = decomposition[2]
    u = u_full[..., :, :k]
    v = mT(vh_full[..., :k, :])
    p = mT(u) @ da @ v
    ds = np.diagonal(p, axis1=-2, axis2=-1) * 1.0
    if not compute_uv:
        return ds
    check_singular_values(s, m, n)
    gaps = inverse_square_gaps(s)
    s_row = np.expand_dims(s, -2)
    s_col = np.expand_dims(s, -1)
    du = u @ (gaps * (p * s_row + s_col * mT(p)))
    dv = v @ (gaps * (s_col * p + mT(p) * s_row))
    du = du + (da @ v - u @ (mT(u) @ da @ v)) / s_row
    dv = dv + (mT(da) @ u - v @ (mT(v) @ mT(da) @ u)) / s_row
    if full_matrices and m > k:
        du = with_complement(u_full, du, k)
    if full_matrices and n > k:
        dv = with_complement(mT(vh_full), dv, k)
    return tangent_tuple((du, ds, mT(dv)))


@twin(runtime.svdvals_tangent)
def svdvals_tangent_twin(t, a):
    return svd_tangent(t, None, a, False, False)


# -- QR (Walter & Lehmann 2018; the first min(m, n) columns independent) ------------------------
@twin(runtime.qr_adjoint)
def qr_adjoint_twin(g, ans, a, mode="reduced"):
    m = np.shape(a)[-2]
    n = np.shape(a)[-1]
    k = min(m, n)
    if mode == "r":
        decomposition = np.linalg.qr(a)
        q = decomposition[0]
        r = decomposition[1]
        gq = 0.0
        gr = g
    else:
        q = ans[0]
        r = ans[1]
        gq = g[0]
        gr = g[1]
    check_qr(r, m, n, mode)
    if mode == "complete" and m > n:
        if np.ndim(gq) != 0:
            gq = folded(q, gq, k)
        q = q[..., :, :k]
        r = r[..., :k, :]
        if np.ndim(gr) != 0:
            gr = gr[..., :k, :]
    gq = gq * np.ones(np.shape(q))
    gr = gr * np.ones(np.shape(r))
    if m >= n:
        return qr_core(q, r, gq, gr)
    gq = gq + a[..., :, k:] @ mT(gr[..., :, k:])
    gx = qr_core(q, r[..., :, :k], gq, gr[..., :, :k])
    return np.concatenate([gx, q @ gr[..., :, k:]], axis=-1)


@twin(runtime.qr_tangent)
def qr_tangent_twin(t, ans, a, mode="reduced"):
    m = np.shape(a)[-2]
    n = np.shape(a)[-1]
    k = min(m, n)
    if mode == "r":
        decomposition = np.linalg.qr(a)
        q_all = decomposition[0]
        r_all = decomposition[1]
    else:
        q_all = ans[0]
        r_all = ans[1]
    check_qr(r_all, m, n, mode)
    q = q_all[..., :, :k]
    r = r_all[..., :k, :]
    da = t * np.ones(np.shape(a))
    square = r[..., :, :k]
    da1 = da[..., :, :k]
    x = mT(np.linalg.solve(mT(square), mT(mT(q) @ da1)))
    lower = np.tril(x, -1)
    w = lower - mT(lower)
    dq = q @ w + mT(np.linalg.solve(mT(square), mT(da1 - q @ (mT(q) @ da1))))
    dr = mT(q) @ da - w @ r
    extra = np.shape(r_all)[-2] - k
    if extra > 0:
        dr = np.concatenate([dr, np.zeros(np.shape(r_all)[:-2] + (extra, n))], axis=-2)
    if mode == "r":
        return dr
    if mode == "complete" and m > n:
        dq = with_complement(q_all, dq, k)
    return tangent_tuple((dq, dr))


# -- pinv and lstsq (Golub & Pereyra 1973; full rank) -----------------------------------------
@twin(runtime.pinv_adjoint)
def pinv_adjoint_twin(g, ans, a, rcond=None, hermitian=False, rtol=None):
    check_full_rank(a, None, "np.linalg.pinv")
    if hermitian:
        a = np.tril(a) + mT(np.tril(a, -1))
    g = g * np.ones(np.shape(ans))
    m = np.shape(a)[-2]
    n = np.shape(a)[-1]
    pt = mT(ans)
    gt = mT(g)
    left = np.eye(m) - a @ ans
    right = np.eye(n) - ans @ a
    result = -(pt @ g @ pt) + left @ gt @ ans @ pt + pt @ ans @ gt @ right
    if hermitian:
        return read_triangle(0.5 * (result + mT(result)), "L")
    return result


@twin(runtime.pinv_tangent)
def pinv_tangent_twin(t, ans, a, rcond=None, hermitian=False, rtol=None):
    check_full_rank(a, None, "np.linalg.pinv")
    da = t * np.ones(np.shape(a))
    if hermitian:
        a = np.tril(a) + mT(np.tril(a, -1))
        da = np.tril(da) + mT(np.tril(da, -1))
    da_t = mT(da)
    left = ans @ mT(ans) @ (da_t - da_t @ a @ ans)
    right = (da_t - ans @ a @ da_t) @ mT(ans) @ ans
    return -(ans @ da @ ans) + left + right


@twin(runtime.lstsq_adjoint)
def lstsq_adjoint_twin(g, ans, a, b, rcond=None):
    x = ans[0]
    residuals = ans[1]
    check_full_rank(a, ans[2], "np.linalg.lstsq")
    gx = to_shape_of(g[0], x)  # shaped, so are their tangents (see svd_adjoint_twin)
    gres = to_shape_of(g[1], residuals)
    gs = to_shape_of(g[3], ans[3])
    a_pinv = np.linalg.pinv(a)
    ga = np.zeros(np.shape(a))
    gb = np.zeros(np.shape(b))
    if np.ndim(gx) != 0:
        if np.ndim(b) == 1:
            gx2 = np.expand_dims(gx, -1)
            b2 = np.expand_dims(b, -1)
        else:
            gx2 = gx
            b2 = b
        ga = ga + pinv_adjoint(gx2 @ mT(b2), a_pinv, a)
        gb = gb + np.reshape(mT(a_pinv) @ gx2, np.shape(b))
    if np.ndim(gres) != 0 and np.size(residuals) > 0:
        r = b - a @ x
        if np.ndim(b) == 2:
            weighted = r * gres
            ga = ga - 2.0 * (weighted @ mT(x))
        else:
            weighted = r * gres[0]
            ga = ga - 2.0 * np.outer(weighted, x)
        gb = gb + 2.0 * weighted
    if np.ndim(gs) != 0:
        ga = ga + svd_adjoint(gs, None, a, False, False)
    return ga, gb


@twin(runtime.lstsq_tangent)
def lstsq_tangent_twin(t, which, ans, a, b, rcond=None):
    x = ans[0]
    residuals = ans[1]
    check_full_rank(a, ans[2], "np.linalg.lstsq")
    a_pinv = np.linalg.pinv(a)
    r = b - a @ x
    if which == "b":
        db = t * np.ones(np.shape(b))
        if np.size(residuals) > 0:
            dres = np.reshape(2.0 * np.sum(r * db, axis=0), np.shape(residuals))
        else:
            dres = np.zeros(np.shape(residuals))
        return tangent_tuple((a_pinv @ db, dres, 0.0, np.zeros(np.shape(ans[3]))))
    da = t * np.ones(np.shape(a))
    dx = pinv_tangent(da, a_pinv, a) @ b
    if np.size(residuals) > 0:
        dres = np.reshape(-2.0 * np.sum(r * (da @ x), axis=0), np.shape(residuals))
    else:
        dres = np.zeros(np.shape(residuals))
    return tangent_tuple((dx, dres, 0.0, svd_tangent(da, None, a, False, False)))


# -- NumPy 2's norms and cond: through np.linalg.norm's adjoint (which has a rule) -------------
@twin(runtime.vector_norm_adjoint)
def vector_norm_adjoint_twin(g, ans, x, axis=None, keepdims=False, ord=2):
    axis = norm_axes(x, axis)
    if axis is not None:
        return norm_adjoint(g, ans, x, ord, axis, keepdims)
    flat = np.ravel(x)
    d = norm_adjoint(np.reshape(g, ()), np.reshape(ans, ()), flat, ord, 0, False)
    return np.reshape(d, np.shape(x))


@twin(runtime.vector_norm_tangent)
def vector_norm_tangent_twin(t, ans, x, axis=None, keepdims=False, ord=2):
    weights = runtime.vector_norm_adjoint(np.ones(np.shape(ans)), ans, x, axis, keepdims, ord)
    return np.sum(t * weights, axis=axis, keepdims=keepdims)


@twin(runtime.matrix_norm_adjoint)
def matrix_norm_adjoint_twin(g, ans, x, keepdims=False, ord="fro"):
    return norm_adjoint(g, ans, x, ord, (-2, -1), keepdims)


@twin(runtime.matrix_norm_tangent)
def matrix_norm_tangent_twin(t, ans, x, keepdims=False, ord="fro"):
    weights = runtime.matrix_norm_adjoint(np.ones(np.shape(ans)), ans, x, keepdims, ord)
    return np.sum(t * weights, axis=(-2, -1), keepdims=keepdims)


@twin(runtime.cond_adjoint)
def cond_adjoint_twin(g, ans, x, p=None):
    if p is None or p == 2 or p == -2:
        s = np.linalg.svd(x, compute_uv=False)
        k = np.shape(s)[-1]
        first = np.arange(k) == 0
        last = np.arange(k) == k - 1
        big = s[..., :1]
        small = s[..., -1:]
        if p == -2:
            gs = np.expand_dims(g, -1) * (last / big - first * small / big**2)
        else:
            gs = np.expand_dims(g, -1) * (first / small - last * big / small**2)
        return svd_adjoint(gs, None, x, False, False)
    inverse = np.linalg.inv(x)
    n_x = np.linalg.norm(x, p, axis=(-2, -1))
    n_inv = np.linalg.norm(inverse, p, axis=(-2, -1))
    d_x = norm_adjoint(g * n_inv, n_x, x, p, (-2, -1), False)
    d_inv = norm_adjoint(g * n_x, n_inv, inverse, p, (-2, -1), False)
    return d_x - mT(inverse) @ d_inv @ mT(inverse)


@twin(runtime.cond_tangent)
def cond_tangent_twin(t, ans, x, p=None):
    weights = runtime.cond_adjoint(np.ones(np.shape(ans)), ans, x, p)
    return np.sum(t * weights, axis=(-2, -1))


# -- nanvar, nanstd: the mean and count over each slice's numbers --------------------------------
def nan_centered(x, axis, ddof, correction):
    """``x`` minus the mean of its numbers (0 at the NaNs) and ``1 / (count - ddof)``."""
    numbers = ~np.isnan(x)
    count = np.sum(numbers, axis=axis, keepdims=True)
    mean = np.sum(np.where(numbers, x, 0.0), axis=axis, keepdims=True) / np.maximum(count, 1)
    if correction is None:
        dof = count - ddof
    else:
        dof = count - correction
    return np.where(numbers, x - mean, 0.0), 1.0 / dof


_PLAIN_HELPERS.update(nan_centered=nan_centered)


@twin(runtime.nan_var_adjoint)
def nan_var_adjoint_twin(g, x, axis=None, ddof=0, keepdims=False, correction=None):
    parts = nan_centered(x, axis, ddof, correction)
    if axis is not None and not keepdims:
        g = np.expand_dims(g, axis)
    return g * parts[0] * (2.0 * parts[1])


@twin(runtime.nan_std_adjoint)
def nan_std_adjoint_twin(g, ans, x, axis=None, ddof=0, keepdims=False, correction=None):
    parts = nan_centered(x, axis, ddof, correction)
    if axis is not None and not keepdims:
        g = np.expand_dims(g, axis)
        ans = np.expand_dims(ans, axis)
    zero = ans == 0
    return np.where(zero, 0.0, g * parts[0] * parts[1] / np.where(zero, 1.0, ans))
