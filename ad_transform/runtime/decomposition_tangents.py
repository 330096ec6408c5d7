"""Tangents (forward mode) of the matrix decompositions and the functions built on them.

The formulas are the forward-mode results of Giles 2008, "An extended collection of matrix
derivative results for forward and reverse mode algorithmic differentiation" (inverse,
solve, determinant, eigendecompositions), Townsend 2016 (SVD), Walter & Lehmann 2018
(QR) and Golub & Pereyra 1973 (pseudo-inverse); SciPy's matrix functions use their
Fréchet derivatives (Al-Mohy & Higham 2009 for ``expm``, Higham 2008, Theorem 3.6, the
block-triangular form, for ``logm``). Stacks of matrices wherever NumPy takes them.

Each tangent reads the same part of its argument as NumPy/SciPy (one triangle for
``eigh``, ``cholesky``, a symmetric ``assume_a``) and refuses what the adjoint refuses
(complex matrices, ``hermitian`` SVD, ``mode='raw'`` QR, complex eigenvalues); where the
derivative is not determined (repeated eigenvalues or singular values with the vectors
needed, zero singular values) it raises ``ADTransformError`` rather than return a number.
A tuple result's tangent is a ``TangentTuple`` (the terms of several arguments add
element by element).
"""

from __future__ import annotations

import numpy as np

from ..errors import ADTransformError
from .decompositions import _mT, _refuse, _tolerance
from .tangents import TangentTuple, reduced_tangent, zero_tangent
from .values import refuse_complex


def _zero(t) -> bool:
    return isinstance(t, (int, float)) and t == 0


def _inverse_gaps(values, tol, function: str):
    """``F_ij = 1 / (v_j - v_i)`` off the diagonal, 0 on it; refused at repeated values."""
    gap = values[..., None, :] - values[..., :, None]
    off = ~np.eye(values.shape[-1], dtype=bool)
    if np.any((np.abs(gap) <= tol[..., None]) & off):
        _refuse(
            function,
            "repeated values: the tangent of the vectors is not determined in forward mode",
        )
    return np.where(off, 1.0 / np.where(off, gap, 1.0), 0.0)


def _symmetric_from(t, uplo: str):
    """The symmetric matrix NumPy reads from one triangle of ``t`` (``'L'`` or ``'U'``)."""
    if uplo.upper() == "L":
        return np.tril(t) + _mT(np.tril(t, -1))
    return np.triu(t) + _mT(np.triu(t, 1))


# -- eigh / eigvalsh (Giles 2008, 3.1) ------------------------------------------------------


def eigh_tangent(t, ans, a, UPLO="L", values_only=False):
    """The tangent of ``w, V = np.linalg.eigh(a)``: with ``P = V^T dA V`` (``dA`` the
    symmetric matrix read from ``UPLO``'s triangle), ``dw = diag(P)`` and ``dV = V (F o
    P)``, ``F_ij = 1/(w_j - w_i)``; ``values_only``: ``eigvalsh``."""
    refuse_complex(a, "np.linalg.eigh")
    if values_only:
        w, v = np.linalg.eigh(a, UPLO)
    else:
        w, v = ans
    p = _mT(v) @ _symmetric_from(np.broadcast_to(t, np.shape(a)), UPLO) @ v
    dw = np.diagonal(p, axis1=-2, axis2=-1)
    if values_only:
        return dw.copy()
    n = np.shape(a)[-1]
    dv = v @ (_inverse_gaps(w, _tolerance(w, n, n), "eigh") * p)
    return TangentTuple((dw.copy(), dv))


# -- SVD (Townsend 2016) ---------------------------------------------------------------------


def svd_tangent(t, ans, a, full_matrices=True, compute_uv=True, hermitian=False):
    """The tangent of ``np.linalg.svd``: with ``A = U S V^T`` (thin, ``k = min(m, n)``) and
    ``P = U^T dA V``: ``dS = diag(P)``, ``dU = U (F o (P S + S P^T)) + (I - U U^T) dA V
    S^-1``, ``dV = V (F o (S P + P^T S)) + (I - V V^T) dA^T U S^-1`` with ``F_ij = 1/(s_j^2 -
    s_i^2)``. With ``full_matrices`` the complement columns ``B2`` of a square factor
    get the tangent ``-B1 dB1^T B2`` (``B^T dB`` skew, zero in the complement block)."""
    refuse_complex(a, "np.linalg.svd")
    if hermitian:
        _refuse("svd", "hermitian=True is not differentiable here (use hermitian=False)")
    a = np.asarray(a)
    da = np.broadcast_to(t, a.shape)
    m, n = a.shape[-2:]
    k = min(m, n)
    if compute_uv:
        u_full, s, vh_full = ans
    else:
        u_full, s, vh_full = np.linalg.svd(a, full_matrices=False)
    u, v = u_full[..., :, :k], _mT(vh_full[..., :k, :])
    p = _mT(u) @ da @ v
    ds = np.diagonal(p, axis1=-2, axis2=-1).copy()
    if not compute_uv:
        return ds
    tol = _tolerance(s, m, n)
    if np.any(s <= tol):
        _refuse("svd", "a zero singular value: the singular vectors' tangent is not determined")
    squares = _inverse_gaps(s * s, 2 * tol * np.max(s, axis=-1, keepdims=True), "svd")
    s_row = s[..., None, :]
    s_col = s[..., :, None]
    du = u @ (squares * (p * s_row + s_col * _mT(p)))
    dv = v @ (squares * (s_col * p + _mT(p) * s_row))
    du = du + (da @ v - u @ (_mT(u) @ da @ v)) / s_row  # zero where U is square
    dv = dv + (_mT(da) @ u - v @ (_mT(v) @ _mT(da) @ u)) / s_row
    if full_matrices:
        du = _with_complement(u_full, du, k)
        dv = _with_complement(_mT(vh_full), dv, k)
    return TangentTuple((du, ds, _mT(dv)))


def _with_complement(basis, d_first, k: int):
    """The tangent of a square orthogonal ``basis`` whose first ``k`` columns have the
    tangent ``d_first``: the complement columns get ``-B1 dB1^T B2``."""
    if basis.shape[-1] == k:
        return d_first
    first, rest = basis[..., :k], basis[..., k:]
    return np.concatenate([d_first, -first @ _mT(d_first) @ rest], axis=-1)


def svdvals_tangent(t, a):
    """The tangent of ``np.linalg.svdvals(a)``: ``diag(U^T dA V)``."""
    return svd_tangent(t, None, a, False, False)


# -- QR (Walter & Lehmann 2018) -------------------------------------------------------------


def qr_tangent(t, ans, a, mode="reduced"):
    """The tangent of ``np.linalg.qr``: for ``m >= n`` with ``X = Q^T dA R^-1`` and ``W =
    tril(X, -1) - tril(X, -1)^T``: ``dQ = Q W + (I - Q Q^T) dA R^-1``, ``dR = Q^T dA - W R``;
    for ``m < n``, ``A = [A1 | A2]`` with ``A1 = Q R1`` square: ``A1`` as above and ``dR2
    = Q^T dA2 - W R2``; ``mode='complete'`` (``m > n``): the complement columns as for the
    SVD."""
    refuse_complex(a, "np.linalg.qr")
    if mode not in ("reduced", "complete", "r"):
        _refuse("qr", f"mode={mode!r} is not differentiable (use 'reduced', 'complete' or 'r')")
    a = np.asarray(a)
    da = np.broadcast_to(t, a.shape)
    m, n = a.shape[-2:]
    k = min(m, n)
    q_all, r_all = np.linalg.qr(a) if mode == "r" else ans
    q, r = q_all[..., :, :k], r_all[..., :k, :]
    square = r[..., :, :k]
    da1 = da[..., :, :k]
    x = _mT(np.linalg.solve(_mT(square), _mT(_mT(q) @ da1)))  # Q^T dA1 R1^-1
    lower = np.tril(x, -1)
    w = lower - _mT(lower)
    dq = q @ w + _mT(np.linalg.solve(_mT(square), _mT(da1 - q @ (_mT(q) @ da1))))
    dr = _mT(q) @ da - w @ r
    if mode == "r":
        return _padded_rows(dr, r_all)
    if mode == "complete" and m > n:
        return TangentTuple((_with_complement(q_all, dq, k), _padded_rows(dr, r_all)))
    return TangentTuple((dq, dr))


def _padded_rows(dr, r_all):
    """``dR`` with the zero rows ``R`` has beyond ``min(m, n)`` (``mode='complete'``)."""
    extra = r_all.shape[-2] - dr.shape[-2]
    if extra == 0:
        return dr
    zeros = np.zeros((*dr.shape[:-2], extra, dr.shape[-1]))
    return np.concatenate([dr, zeros], axis=-2)


# -- pinv, lstsq (Golub & Pereyra 1973) ---------------------------------------------------


def _pinv_tangent_core(da, a, a_pinv):
    """``d A+ = -A+ dA A+ + A+ A+^T dA^T (I - A A+) + (I - A+ A) dA^T A+^T A+`` (the
    tangent where the rank does not change)."""
    da_t = _mT(da)
    left = a_pinv @ _mT(a_pinv) @ (da_t - da_t @ a @ a_pinv)
    right = (da_t - a_pinv @ a @ da_t) @ _mT(a_pinv) @ a_pinv
    return -a_pinv @ da @ a_pinv + left + right


def pinv_tangent(t, ans, a, rcond=None, hermitian=False, rtol=None):
    """The tangent of ``np.linalg.pinv`` (``hermitian``: the lower triangle is read)."""
    refuse_complex(a, "np.linalg.pinv")
    a = np.asarray(a)
    da = np.broadcast_to(t, a.shape)
    if hermitian:
        a, da = _symmetric_from(a, "L"), _symmetric_from(da, "L")
    return _pinv_tangent_core(da, a, ans)


def lstsq_tangent(t, which: str, ans, a, b, rcond=None):
    """The term of ``a`` or ``b`` (``which``) in the tangent of ``x, residuals, rank, s =
    np.linalg.lstsq(a, b)``: ``x = A+ b`` with the cutoff of ``rank``: ``dx = dA+ b`` or
    ``A+ db``; ``residuals = |b - A x|^2``: ``-2 r.(dA x)`` or ``2 r.db`` (``A^T r = 0``);
    ``s``: ``diag(U^T dA V)``."""
    refuse_complex(a, "np.linalg.lstsq")
    a, b = np.asarray(a), np.asarray(b)
    x, residuals, rank, _ = ans
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    kept = np.arange(s.shape[-1]) < rank
    inverse_s = np.where(kept, 1.0 / np.where(kept, s, 1.0), 0.0)
    a_pinv = (_mT(vh) * inverse_s) @ _mT(u)
    r = b - a @ x
    if which == "b":
        db = np.broadcast_to(t, b.shape)
        dx = a_pinv @ db
        dres = _like(2.0 * np.sum(r * db, axis=0), residuals)
        return TangentTuple((dx, dres, 0.0, np.zeros(s.shape)))
    da = np.broadcast_to(t, a.shape)
    dx = _pinv_tangent_core(da, a, a_pinv) @ b
    dres = _like(-2.0 * np.sum(r * (da @ x), axis=0), residuals)
    ds = np.diagonal(_mT(u) @ da @ _mT(vh), axis1=-2, axis2=-1).copy()
    return TangentTuple((dx, dres, 0.0, ds))


def _like(d_residuals, residuals):
    """The residuals' tangent shaped like them (``(1,)`` for a 1-D ``b``; empty when
    ``lstsq`` returns no residuals)."""
    if not np.size(residuals):
        return zero_tangent(residuals)
    return np.reshape(d_residuals, np.shape(residuals))


# -- matrix_power, multi_dot, tensorsolve, tensorinv, eig -----------------------------------


def matrix_power_tangent(t, a, n):
    """The tangent of ``np.linalg.matrix_power(a, n)``: ``sum_k A^k dA A^(n-1-k)``; for
    ``n < 0`` the same on ``B = A^-1`` with ``dB = -B dA B``."""
    a = np.asarray(a)
    da = np.broadcast_to(t, a.shape)
    if n < 0:
        a = np.linalg.inv(a)
        da = -a @ da @ a
        n = -n
    if n == 0:
        return np.zeros(a.shape)
    powers = [np.broadcast_to(np.eye(a.shape[-1]), a.shape)]
    for _ in range(n - 1):
        powers.append(powers[-1] @ a)
    return sum(powers[k] @ da @ powers[n - 1 - k] for k in range(n))


def multi_dot_tangent(t, arrays):
    """The tangent of ``np.linalg.multi_dot(arrays)``: one product per array with its
    tangent in its place (multilinear)."""
    tangents = [0.0] * len(arrays) if _zero(t) else list(t)
    terms = []
    for position, ti in enumerate(tangents):
        if _zero(ti):
            continue
        replaced = list(arrays)
        replaced[position] = np.broadcast_to(ti, np.shape(arrays[position]))
        terms.append(np.linalg.multi_dot(replaced))
    if not terms:
        return zero_tangent(np.linalg.multi_dot(arrays))
    return sum(terms[1:], terms[0])


def _moved(a, axes):
    """``a`` with ``axes`` moved to the end, as ``np.linalg.tensorsolve`` moves them."""
    if axes is None:
        return a
    order = list(range(a.ndim))
    for k in axes:
        order.remove(k)
        order.insert(a.ndim, k)
    return np.transpose(a, order)


def tensorsolve_tangent(t, which: str, ans, a, b, axes=None):
    """The term of ``a`` or ``b`` in the tangent of ``x = np.linalg.tensorsolve(a, b,
    axes)`` (``tensordot(a, x, x.ndim) = b``): ``dx = tensorsolve(a, db - tensordot(dA,
    x, x.ndim))``."""
    da = _moved(np.broadcast_to(t, np.shape(a)), axes) if which == "a" else None
    a = _moved(np.asarray(a), axes)
    if which == "b":
        return np.linalg.tensorsolve(a, np.broadcast_to(t, np.shape(b)) + 0.0)
    x = np.asarray(ans)
    return np.linalg.tensorsolve(a, -np.tensordot(da, x, x.ndim))


def tensorinv_tangent(t, ans, a, ind=2):
    """The tangent of ``np.linalg.tensorinv(a, ind)``: ``-B dA B`` in the matrix form
    (``a`` as ``prod(shape[:ind]) x prod(shape[ind:])``, ``B`` its inverse)."""
    a = np.asarray(a)
    rows = int(np.prod(a.shape[:ind]))
    da = np.reshape(np.broadcast_to(t, a.shape), (rows, -1))
    inverse = np.reshape(np.asarray(ans), (-1, rows))
    return np.reshape(-inverse @ da @ inverse, np.shape(ans))


def eig_tangent(t, ans, a, values_only=False):
    """The tangent of ``w, V = np.linalg.eig(a)`` for real eigenvalues (Giles 2008, 3.1,
    with NumPy's unit-norm eigenvectors): ``P = V^-1 dA V``, ``dw = diag(P)``, ``dV = W -
    V diag(diag(V^T W))`` with ``W = V (F o P)``, ``F_ij = 1/(w_j - w_i)``;
    ``values_only``: ``eigvals``."""
    refuse_complex(a, "np.linalg.eig")
    a = np.asarray(a)
    w, v = np.linalg.eig(a) if values_only else ans
    function = "eigvals" if values_only else "eig"
    if np.iscomplexobj(w) or np.iscomplexobj(v):
        _refuse(function, "the matrix has complex eigenvalues; only real ones are differentiable")
    p = np.linalg.solve(v, np.broadcast_to(t, a.shape) @ v)
    dw = np.diagonal(p, axis1=-2, axis2=-1).copy()
    if values_only:
        return dw
    n = a.shape[-1]
    full = v @ (_inverse_gaps(w, _tolerance(w, n, n), function) * p)
    dv = full - v * np.sum(v * full, axis=-2, keepdims=True)
    return TangentTuple((dw, dv))


def named_field_tangent(t, x, name: str):
    """The tangent of ``x.<name>`` for a named result of NumPy (``svd(a).S``): the tangent
    at the field's position."""
    fields = getattr(type(x), "_fields", None)
    if not isinstance(x, tuple) or fields is None or name not in fields:
        raise ADTransformError(
            f"reading .{name} of a {type(x).__name__}: only the fields of NumPy's named "
            "results (svd, eigh, qr, eig, slogdet) are differentiable"
        )
    position = fields.index(name)
    return zero_tangent(x[position]) if _zero(t) else t[position]


# -- slogdet, norms, cond: scalars per matrix --------------------------------------------------


def slogdet_tangent(t, ans, a):
    """The tangent of ``sign, logabsdet = np.linalg.slogdet(a)``: ``(0, tr(A^-1 dA))``."""
    da = np.broadcast_to(t, np.shape(a))
    d_log = np.trace(np.linalg.solve(a, da), axis1=-2, axis2=-1)
    return TangentTuple((zero_tangent(ans[0]), d_log))


def vector_norm_tangent(t, ans, x, axis=None, keepdims=False, ord=2):
    """The tangent of ``np.linalg.vector_norm``."""
    from .decompositions import vector_norm_adjoint

    weights = vector_norm_adjoint(np.ones_like(ans), ans, x, axis, keepdims, ord)
    return reduced_tangent(t, weights, axis, keepdims)


def matrix_norm_tangent(t, ans, x, keepdims=False, ord="fro"):
    """The tangent of ``np.linalg.matrix_norm`` (the last two axes)."""
    from .decompositions import matrix_norm_adjoint

    weights = matrix_norm_adjoint(np.ones_like(ans), ans, x, keepdims, ord)
    return reduced_tangent(t, weights, (-2, -1), keepdims)


def cond_tangent(t, ans, x, p=None):
    """The tangent of ``np.linalg.cond`` (one number per matrix)."""
    from .decompositions import cond_adjoint

    weights = cond_adjoint(np.ones_like(ans), ans, x, p)
    return reduced_tangent(t, weights, (-2, -1))


# -- scipy.linalg -----------------------------------------------------------------------------


def _transposes(trans) -> bool:
    from .scipy import _transposes as transposes

    return transposes("solve_triangular", trans)


def solve_triangular_tangent(t, which: str, ans, a, b, trans=0, lower=False, unit_diagonal=False):
    """The term of ``a`` or ``b`` in the tangent of ``x = solve_triangular(a, b, trans,
    lower, unit_diagonal)``: ``op(A) dx = db - op(dA) x`` with ``dA`` the triangle SciPy
    reads (without the diagonal for ``unit_diagonal``)."""
    from scipy.linalg import solve_triangular

    if which == "b":
        rhs = np.broadcast_to(t, np.shape(b))
    else:
        offset = 1 if unit_diagonal else 0
        da = np.broadcast_to(t, np.shape(a))
        da = np.tril(da, -offset) if lower else np.triu(da, offset)
        op = da.T if _transposes(trans) else da
        rhs = -(op @ ans)
    return solve_triangular(a, rhs, trans=trans, lower=lower, unit_diagonal=unit_diagonal)


def scipy_cholesky_tangent(t, ans, lower=False):
    """The tangent of ``scipy.linalg.cholesky(a, lower)`` (the upper triangle read and
    ``U`` returned by default)."""
    from .tangents import cholesky_tangent

    return cholesky_tangent(np.broadcast_to(t, np.shape(ans)), ans, upper=not lower)


def cho_factor_tangent(t, ans, a):
    """The tangent of ``(c, lower) = cho_factor(a, lower)``: the factor's in its triangle,
    ``dA``'s own in the other (``c`` holds a copy of ``a`` there)."""
    c, lower = ans
    dc = scipy_cholesky_tangent(t, np.tril(c) if lower else np.triu(c), lower)
    da = np.broadcast_to(t, np.shape(a))
    other = np.triu(da, 1) if lower else np.tril(da, -1)
    return TangentTuple((dc + other, 0.0))


def cho_solve_tangent(t, which: str, ans, c_and_lower, b):
    """The term of ``(c, lower)`` or ``b`` in the tangent of ``x = cho_solve((c, lower),
    b)``, ``A = L L^T`` (``U^T U``) from ``c``'s triangle: ``A dx = db - dA x``."""
    c, lower = c_and_lower
    factor = np.tril(c) if lower else np.triu(c)
    matrix = factor @ factor.T if lower else factor.T @ factor
    if which == "b":
        rhs = np.broadcast_to(t, np.shape(b))
    else:
        dc = t[0] if not _zero(t) else np.zeros(np.shape(c))
        d_factor = np.tril(dc) if lower else np.triu(dc)
        if lower:
            d_matrix = d_factor @ factor.T + factor @ d_factor.T
        else:
            d_matrix = d_factor.T @ factor + factor.T @ d_factor
        rhs = -(d_matrix @ ans)
    return np.linalg.solve(matrix, rhs)


def scipy_solve_tangent(t, which: str, ans, a, b, lower=False, assume_a=None, transposed=False):
    """The term of ``a`` or ``b`` in the tangent of ``x = scipy.linalg.solve(a, b, lower,
    assume_a, transposed)``: ``op(A) dx = db - op(dA) x`` (Giles 2008, 2.3.1), ``dA`` the
    part of ``t`` SciPy reads."""
    from .scipy import _symmetric_as_read

    matrix = _symmetric_as_read(np.asarray(a), assume_a, lower)
    op = matrix.T if transposed else matrix
    if which == "b":
        return np.linalg.solve(op, np.broadcast_to(t, np.shape(b)))
    da = _symmetric_as_read(np.broadcast_to(t, np.shape(a)), assume_a, lower)
    d_op = da.T if transposed else da
    return np.linalg.solve(op, -(d_op @ ans))


def scipy_inv_tangent(t, ans, a, assume_a=None, lower=False):
    """The tangent of ``scipy.linalg.inv(a)``: ``-B dA B`` (Giles 2008, 2.2.3)."""
    from .scipy import _symmetric_as_read

    da = _symmetric_as_read(np.broadcast_to(t, np.shape(a)), assume_a, lower)
    return -ans @ da @ ans


def scipy_det_tangent(t, ans, a):
    """The tangent of ``scipy.linalg.det(a)``: ``det(A) tr(A^-1 dA)`` (Giles 2008, 2.2.4)."""
    da = np.broadcast_to(t, np.shape(a))
    return ans * np.trace(np.linalg.solve(a, da), axis1=-2, axis2=-1)


def expm_tangent(t, a):
    """The tangent of ``scipy.linalg.expm(a)``: its Fréchet derivative in the direction
    ``t`` (``scipy.linalg.expm_frechet``, Al-Mohy & Higham 2009), per matrix of a stack."""
    from scipy.linalg import expm_frechet

    a = np.asarray(a)
    da = np.broadcast_to(t, a.shape)
    if a.ndim == 2:
        return expm_frechet(a, da, compute_expm=False)
    flat_a, flat_da = a.reshape(-1, *a.shape[-2:]), da.reshape(-1, *a.shape[-2:])
    parts = [expm_frechet(x, d, compute_expm=False) for x, d in zip(flat_a, flat_da, strict=True)]
    return np.reshape(np.stack(parts), a.shape)


def logm_tangent(t, a):
    """The tangent of ``scipy.linalg.logm(a)``: the upper-right block of ``logm([[A, dA],
    [0, A]])`` (Higham 2008, Theorem 3.6)."""
    from scipy.linalg import logm

    a = np.asarray(a)
    n = a.shape[-1]
    block = np.zeros((2 * n, 2 * n), dtype=np.result_type(a, np.float64))
    block[:n, :n] = block[n:, n:] = a
    block[:n, n:] = np.broadcast_to(t, a.shape)
    result = logm(block)
    if np.iscomplexobj(result):
        raise ValueError("scipy.linalg.logm: the tangent of a complex logarithm is not supported")
    return result[:n, n:]
