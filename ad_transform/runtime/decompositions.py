"""Helpers of ``rules/decompositions.py``: adjoints of ``svd``, ``eigh``/``eigvalsh``,
``qr``, ``pinv``, ``lstsq``, ``matrix_power``, ``eig``/``eigvals``, ``multi_dot``,
``tensorsolve``, ``tensorinv``, ``cond`` and NumPy 2's ``vector_norm``/``matrix_norm``.

Degenerate points (repeated eigenvalues or singular values, zero singular values) follow
one convention, checked at run time: a coefficient ``1 / (s_j - s_i)`` of a repeated pair
is taken as 0. That is the exact gradient when the function does not depend on the
basis chosen inside the repeated eigenspace (the skew part of the eigenvector cotangent
vanishes there) and its cotangent is the same for every repeated value (a symmetric
function of them, such as a sum). Any other cotangent at a degenerate point raises
``ADTransformError`` naming the function: the gradient is not determined there (it is
not a silent NaN nor an arbitrary basis-dependent number).
"""

from __future__ import annotations

import numpy as np

from ..errors import ADTransformError
from .values import _dtype_of, refuse_complex


def _mT(x):
    return np.swapaxes(x, -1, -2)


def _parts(g, n: int) -> list:
    """The cotangents of the ``n`` fields of a tuple result (``None`` for a zero)."""
    parts = []
    for k in range(n):
        part = g[k]
        if np.ndim(part) == 0 and part == 0:
            parts.append(None)
        else:
            parts.append(np.asarray(part))
    return parts


def _diag(v):
    """A stack of diagonal matrices from a stack of vectors."""
    return v[..., :, None] * np.eye(v.shape[-1], dtype=v.dtype)


def _tolerance(values, rows: int, cols: int):
    """The gap below which two eigenvalues/singular values count as repeated (and a
    singular value as zero): ``32 max(m, n) eps max|s|`` per matrix of the stack."""
    eps = np.finfo(values.dtype).eps
    scale = np.max(np.abs(values), axis=-1, keepdims=True) if values.shape[-1] else 0.0
    return 32 * max(rows, cols, 1) * eps * scale


def _pair_mask(values, tol):
    """``repeated[..., i, j]``: ``i != j`` and ``|v_i - v_j| <= tol``."""
    gap = np.abs(values[..., :, None] - values[..., None, :])
    return (gap <= tol[..., None]) & ~np.eye(values.shape[-1], dtype=bool)


def _small(x, scale, dtype) -> bool:
    """Whether every entry of ``x`` is negligible next to ``scale`` (a cotangent size)."""
    return bool(np.all(np.abs(x) <= np.sqrt(np.finfo(dtype).eps) * scale + np.finfo(dtype).tiny))


def _scale(*arrays) -> float:
    sizes = [float(np.max(np.abs(a), initial=0.0)) for a in arrays if a is not None]
    return max(sizes, default=0.0)


def _refuse(function: str, reason: str):
    raise ADTransformError(f"np.linalg.{function}: {reason}")


def _inverse_gap(values, tol, function: str, cotangent_of_rotation, values_cotangent):
    """``1 / (v_j - v_i)`` off the diagonal, 0 on it and for repeated pairs, after checking
    that the cotangents allow it at repeated pairs (see the module docstring)."""
    repeated = _pair_mask(values, tol)
    gap = values[..., None, :] - values[..., :, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        inverse = np.where(repeated | np.eye(values.shape[-1], dtype=bool), 0.0, 1.0 / gap)
    if np.any(repeated):
        dtype = values.dtype
        if cotangent_of_rotation is not None:
            scale = _scale(cotangent_of_rotation)
            if not _small(np.where(repeated, cotangent_of_rotation, 0.0), scale, dtype):
                _refuse(
                    function,
                    "the function depends on the basis of the eigenvectors/singular vectors "
                    "of a repeated eigenvalue/singular value (not determined there): its "
                    "gradient does not exist at this point",
                )
        if values_cotangent is not None:
            spread = values_cotangent[..., :, None] - values_cotangent[..., None, :]
            if not _small(np.where(repeated, spread, 0.0), _scale(values_cotangent), dtype):
                _refuse(
                    function,
                    "the function weighs repeated eigenvalues/singular values differently: "
                    "its gradient cannot be found from the decomposition at this point (it "
                    "does not exist for the larger of two equal ones; a function smooth "
                    "there, such as U S V^T, needs another formula)",
                )
    return inverse.astype(values.dtype, copy=False)


def _fold_complement(basis, cotangent, k: int, function: str):
    """The cotangent of the first ``k`` columns of an orthogonal ``basis`` when the last
    ones only span the orthogonal complement of the first (``full_matrices`` SVD,
    ``mode='complete'`` QR): the function must not depend on the basis of that complement
    (the skew part of ``B2^T gB2`` vanishes); its cotangent ``gB2`` then moves to the first
    columns as ``-B2 gB2^T B1``."""
    first, rest = basis[..., :k], basis[..., k:]
    g_first, g_rest = cotangent[..., :k], cotangent[..., k:]
    inner = _mT(rest) @ g_rest
    if not _small(inner - _mT(inner), _scale(g_rest), basis.dtype):
        _refuse(
            function,
            "the function depends on the basis chosen for the orthogonal complement (the "
            "columns beyond min(m, n) of a full/complete factor), which is not determined",
        )
    return g_first - rest @ _mT(g_rest) @ first


# -- SVD ------------------------------------------------------------------------------


def svd_adjoint(g, ans, a, full_matrices=True, compute_uv=True, hermitian=False):
    """The adjoint of ``np.linalg.svd`` (Townsend 2016, "Differentiating the singular value
    decomposition", eq. for real matrices; stacks of matrices too).

    With ``A = U S V^T`` (thin, ``k = min(m, n)``), ``J = U^T gU``, ``K = V^T gV``:
    ``gA = U [C + diag(gS)] V^T + (I - U U^T) gU S^-1 V^T + U S^-1 gV^T (I - V V^T)`` where
    ``C_ij = ((J - J^T)_ij s_j + s_i (K - K^T)_ij) / (s_j^2 - s_i^2)``, split into
    ``(J - J^T + K - K^T)_ij / 2(s_j - s_i)`` (a joint rotation of the pair, undetermined
    at a repeated ``s``: taken as 0 after checking the function does not depend on it) and
    ``(J - J^T - K + K^T)_ij / 2(s_j + s_i)``. Zero singular values (``s <= tol``) carry
    no determined derivative but in a square matrix of rank ``n - 1`` (the pair ``u_i v_i^T``
    is determined up to a joint sign: the derivative on LAPACK's side of the kink of
    ``|sigma|``, exact for functions smooth in the signed value such as ``U S V^T``);
    elsewhere their cotangent and their singular vectors' must be zero.
    """
    refuse_complex(a, "np.linalg.svd")
    if hermitian:
        _refuse("svd", "hermitian=True is not differentiable here (use hermitian=False)")
    a = np.asarray(a)
    m, n = a.shape[-2:]
    k = min(m, n)
    dtype = _dtype_of(a, g if not compute_uv else 0.0)
    if not compute_uv:
        u, s, vh = np.linalg.svd(a, full_matrices=False)
        gu, gs, gvh = None, np.asarray(g), None
    else:
        u, s, vh = ans
        gu, gs, gvh = _parts(g, 3)
        if full_matrices and gu is not None and m > k:
            gu = _fold_complement(u, gu, k, "svd")
        if full_matrices and gvh is not None and n > k:
            gvh = _mT(_fold_complement(_mT(vh), _mT(gvh), k, "svd"))
        u, vh = u[..., :, :k], vh[..., :k, :]
    result = _svd_core(u, s, _mT(vh), gu, gs, None if gvh is None else _mT(gvh), m, n, "svd")
    return result.astype(dtype, copy=False)


def _svd_core(u, s, v, gu, gs, gv, m, n, function):
    """``gA`` from the thin factors ``u (m, k)``, ``s (k,)``, ``v (n, k)`` and cotangents
    (``None``: zero)."""
    k = s.shape[-1]
    tol = _tolerance(s, m, n)
    zero = s <= tol
    gs = np.zeros_like(s) if gs is None else gs
    undetermined = zero & ((m != n) | (np.sum(zero, axis=-1, keepdims=True) > 1))
    if np.any(undetermined) and not _small(np.where(undetermined, gs, 0.0), _scale(gs), s.dtype):
        _refuse(
            function,
            "the function uses a zero singular value of a matrix that is not square or "
            "whose rank is two or more below full: its derivative is not determined there",
        )
    if gu is None and gv is None:
        _inverse_gap(s, tol, function, None, gs)
        return (u * gs[..., None, :]) @ _mT(v)
    j = _mT(u) @ gu if gu is not None else np.zeros(s.shape + (k,), s.dtype)
    kk = _mT(v) @ gv if gv is not None else np.zeros(s.shape + (k,), s.dtype)
    js, ks = j - _mT(j), kk - _mT(kk)
    inverse_difference = _inverse_gap(s, tol, function, js + ks, gs)
    both_zero = zero[..., :, None] & zero[..., None, :]
    total = s[..., :, None] + s[..., None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        inverse_sum = np.where(both_zero, 0.0, 1.0 / total)
    if np.any(both_zero & ~np.eye(k, dtype=bool)) and not _small(
        np.where(both_zero, js - ks, 0.0), _scale(js, ks), s.dtype
    ):
        _refuse(function, "the function uses the singular vectors of zero singular values")
    middle = 0.5 * (js + ks) * inverse_difference + 0.5 * (js - ks) * inverse_sum + _diag(gs)
    result = u @ middle @ _mT(v)
    inverse_s = np.where(zero, 0.0, 1.0 / np.where(zero, 1.0, s))
    if gu is not None and m > k:
        outside = gu - u @ j
        if not _small(np.where(zero[..., None, :], outside, 0.0), _scale(gu), s.dtype):
            _refuse(function, "the function uses left singular vectors of zero singular values")
        result = result + (outside * inverse_s[..., None, :]) @ _mT(v)
    if gv is not None and n > k:
        outside = gv - v @ kk
        if not _small(np.where(zero[..., None, :], outside, 0.0), _scale(gv), s.dtype):
            _refuse(function, "the function uses right singular vectors of zero singular values")
        result = result + (u * inverse_s[..., None, :]) @ _mT(outside)
    return result


# -- symmetric eigenproblem -----------------------------------------------------------


def _read_triangle(gradient, uplo):
    """The gradient of a function of the symmetric matrix NumPy builds from one triangle
    of ``a`` (``UPLO='L'``: the lower one): an off-diagonal entry stands for both
    symmetric positions, the other triangle gets 0."""
    both = gradient + _mT(gradient)
    diagonal = _diag(np.diagonal(gradient, axis1=-2, axis2=-1))
    if str(uplo).upper() == "U":
        return np.triu(both, 1) + diagonal
    return np.tril(both, -1) + diagonal


def eigh_adjoint(g, ans, a, UPLO="L"):
    """The adjoint of ``w, Q = np.linalg.eigh(a, UPLO)`` (Giles 2008, sec. 3.1; Seeger et
    al. 2017): ``gA = Q (diag(gw) + F o skew(Q^T gQ)) Q^T`` with ``F_ij = 1/(w_j - w_i)``
    (0 at repeated eigenvalues, see the module docstring), put in the triangle NumPy
    reads."""
    refuse_complex(a, "np.linalg.eigh")
    a = np.asarray(a)
    w, q = ans
    gw, gq = _parts(g, 2)
    dtype = _dtype_of(a, 0.0)
    return _eigh_core(w, q, gw, gq, a.shape[-1], "eigh", UPLO).astype(dtype, copy=False)


def eigvalsh_adjoint(g, ans, a, UPLO="L"):
    """The adjoint of ``np.linalg.eigvalsh``: ``Q diag(gw) Q^T`` in the triangle read."""
    refuse_complex(a, "np.linalg.eigvalsh")
    a = np.asarray(a)
    w, q = np.linalg.eigh(a, UPLO)
    dtype = _dtype_of(a, 0.0)
    result = _eigh_core(w, q, np.asarray(g), None, a.shape[-1], "eigvalsh", UPLO)
    return result.astype(dtype, copy=False)


def _eigh_core(w, q, gw, gq, n, function, uplo):
    tol = _tolerance(w, n, n)
    gw = np.zeros_like(w) if gw is None else gw
    if gq is None:
        _inverse_gap(w, tol, function, None, gw)
        middle = _diag(gw)
    else:
        y = _mT(q) @ gq
        skew = 0.5 * (y - _mT(y))
        middle = _diag(gw) + skew * _inverse_gap(w, tol, function, skew, gw)
    return _read_triangle(q @ middle @ _mT(q), uplo)


# -- QR ------------------------------------------------------------------------------


def qr_adjoint(g, ans, a, mode="reduced"):
    """The adjoint of ``np.linalg.qr`` (Walter & Lehmann 2018; Seeger et al. 2017; the wide
    case as in Liao et al. 2019): for ``m >= n``, ``M = R gR^T - gQ^T Q`` and
    ``gA = (gQ + Q copyltu(M)) R^-T``; for ``m < n``, ``A = [X | Y]`` with ``X = Q R1``
    square and ``Y = Q R2``: ``gY = Q gR2`` and ``X`` as above with ``gQ + Y gR2^T``.
    ``mode='complete'`` (``m > n``): the extra columns of ``Q`` only span the complement.
    ``mode='raw'`` is refused; the first ``min(m, n)`` columns must have full rank."""
    refuse_complex(a, "np.linalg.qr")
    a = np.asarray(a)
    m, n = a.shape[-2:]
    k = min(m, n)
    dtype = _dtype_of(a, 0.0)
    if mode == "r":
        q, r = np.linalg.qr(a)
        gq, gr = None, np.asarray(g)
    elif mode in ("reduced", "complete"):
        q, r = ans
        gq, gr = _parts(g, 2)
        if mode == "complete" and m > n:
            if gq is not None:
                gq = _fold_complement(q, gq, k, "qr")
            q, r = q[..., :, :k], r[..., :k, :]
            gr = None if gr is None else gr[..., :k, :]
    else:
        _refuse("qr", f"mode={mode!r} is not differentiable (use 'reduced', 'complete' or 'r')")
    gq = np.zeros(q.shape, q.dtype) if gq is None else gq
    gr = np.zeros(r.shape, r.dtype) if gr is None else gr
    diagonal = np.abs(np.diagonal(r[..., :, :k], axis1=-2, axis2=-1))
    if np.any(diagonal <= _tolerance(diagonal, m, n)):
        _refuse("qr", "the first min(m, n) columns of the matrix are (numerically) dependent")
    if m >= n:
        return _qr_square_or_tall(q, r, gq, gr).astype(dtype, copy=False)
    y_part = a[..., :, k:]
    gq = gq + y_part @ _mT(gr[..., :, k:])
    gx = _qr_square_or_tall(q, r[..., :, :k], gq, gr[..., :, :k])
    return np.concatenate([gx, q @ gr[..., :, k:]], axis=-1).astype(dtype, copy=False)


def _qr_square_or_tall(q, r, gq, gr):
    m_inner = r @ _mT(gr) - _mT(gq) @ q
    copyltu = np.tril(m_inner) + _mT(np.tril(m_inner, -1))
    b = gq + q @ copyltu
    return _mT(np.linalg.solve(r, _mT(b)))  # b R^-T


# -- pseudo-inverse and least squares --------------------------------------------------


def _pinv_core(g, a, a_pinv, function):
    """Golub & Pereyra (1973), "The differentiation of pseudo-inverses", eq. 4.12:
    ``gA = -P^T g P^T + (I - A P) g^T P P^T + P^T P g^T (I - P A)`` with ``P = pinv(A)``,
    exact where the rank is locally constant. At a rank-deficient matrix (where ``pinv``
    is not continuous) it is the derivative along the matrices of that rank: exact for
    ``pinv(B @ C)`` with ``B``, ``C`` of full rank. A cutoff that drops singular values
    that are not zero is refused (its derivative is another formula)."""
    m, n = a.shape[-2:]
    truncated = a @ a_pinv @ a
    eps = np.finfo(a.dtype).eps
    size = np.max(np.abs(a), axis=(-2, -1), keepdims=True)
    if np.any(np.abs(a - truncated) > 64 * max(m, n) * eps * size):
        _refuse(
            function,
            "the cutoff (rcond/rtol) drops singular values that are not zero; the "
            "derivative of that truncation is not implemented (use a smaller cutoff)",
        )
    pt = _mT(a_pinv)
    gt = _mT(g)
    left = np.eye(m, dtype=a.dtype) - a @ a_pinv
    right = np.eye(n, dtype=a.dtype) - a_pinv @ a
    return -(pt @ g @ pt) + left @ gt @ a_pinv @ pt + pt @ a_pinv @ gt @ right


def pinv_adjoint(g, ans, a, rcond=None, hermitian=False, rtol=None):
    """The adjoint of ``np.linalg.pinv`` (see ``_pinv_core``); ``hermitian=True`` reads
    the lower triangle, as NumPy does."""
    refuse_complex(a, "np.linalg.pinv")
    a = np.asarray(a)
    dtype = _dtype_of(a, g)
    work = a.astype(np.result_type(ans.dtype, a.dtype), copy=False)
    if hermitian:
        work = np.tril(work) + _mT(np.tril(work, -1))
    result = _pinv_core(np.asarray(g), work, ans, "pinv")
    if hermitian:
        result = _read_triangle(0.5 * (result + _mT(result)), "L")
    return result.astype(dtype, copy=False)


def lstsq_adjoint(g, ans, a, b, rcond=None):
    """The adjoints of ``a`` and ``b`` in ``x, residuals, rank, s = np.linalg.lstsq(a, b)``.

    ``x = pinv(A) b`` with the cutoff of ``rank`` (Golub & Pereyra for ``A``,
    ``pinv(A)^T gx`` for ``b``); ``residuals = |b - A x|^2`` (the envelope theorem:
    ``-2 r x^T`` and ``2 r``); ``s`` through the SVD."""
    refuse_complex(a, "np.linalg.lstsq")
    a, b = np.asarray(a), np.asarray(b)
    gx, gres, _, gs = _parts(g, 4)
    x, residuals, rank, _ = ans
    work = a.astype(x.dtype, copy=False)
    u, s_full, vh = np.linalg.svd(work, full_matrices=False)
    kept = np.arange(s_full.shape[-1]) < rank
    inverse_s = np.where(kept, 1.0 / np.where(kept, s_full, 1.0), 0.0)
    a_pinv = (_mT(vh) * inverse_s) @ _mT(u)
    ga = np.zeros(a.shape, x.dtype)
    gb = np.zeros(b.shape, x.dtype)
    if gx is not None:
        column = b.ndim == 1
        gx2 = gx[:, None] if column else gx
        b2 = b[:, None] if column else b
        ga = ga + _pinv_core(gx2 @ _mT(b2), work, a_pinv, "lstsq")
        gb = gb + (_mT(a_pinv) @ gx2).reshape(b.shape)
    if gres is not None and np.size(residuals):
        r = b - work @ x
        weighted = r * gres if b.ndim == 2 else r * gres[0]
        ga = ga - 2 * (weighted[:, None] * x[None, :] if b.ndim == 1 else weighted @ _mT(x))
        gb = gb + 2 * weighted
    if gs is not None:
        m, n = a.shape
        ga = ga + _svd_core(u, s_full, _mT(vh), None, gs, None, m, n, "lstsq")
    return ga.astype(_dtype_of(a, 0.0), copy=False), gb.astype(_dtype_of(b, 0.0), copy=False)


# -- powers, products, general eigenproblem, tensorsolve ---------------------------------


def matrix_power_adjoint(g, ans, a, n):
    """The adjoint of ``np.linalg.matrix_power(a, n)``: ``sum_k (A^T)^k g (A^T)^(n-1-k)``
    for ``n > 0``; for ``n < 0`` that of ``inv(A)^|n|`` and then ``-B^T gB B^T``."""
    a = np.asarray(a)
    dtype = _dtype_of(a, g)
    n = int(n)
    g = np.asarray(g)
    if n == 0:
        return np.zeros(a.shape, dtype)
    base = a if n > 0 else np.linalg.inv(a)
    power = abs(n)
    powers_t = [np.broadcast_to(np.eye(a.shape[-1], dtype=base.dtype), base.shape)]
    for _ in range(power - 1):
        powers_t.append(powers_t[-1] @ _mT(base))
    g_base = sum(powers_t[k] @ g @ powers_t[power - 1 - k] for k in range(power))
    if n < 0:
        inverse_t = _mT(base)
        g_base = -(inverse_t @ g_base @ inverse_t)
    return np.asarray(g_base, dtype=dtype)


def multi_dot_adjoint(g, ans, arrays):
    """The adjoints of the arrays of ``np.linalg.multi_dot(arrays)`` (a 1-D first array
    is a row, a 1-D last one a column): ``(A_1 ... A_{i-1})^T g (A_{i+1} ... A_N)^T``."""
    arrays = [np.asarray(x) for x in arrays]
    first_vector, last_vector = arrays[0].ndim == 1, arrays[-1].ndim == 1
    mats = list(arrays)
    if first_vector:
        mats[0] = mats[0][None, :]
    if last_vector:
        mats[-1] = mats[-1][:, None]
    g2 = np.asarray(g, dtype=np.result_type(*mats, g))
    if first_vector and last_vector:
        g2 = np.reshape(g2, (1, 1))
    elif first_vector:
        g2 = g2[None, :]
    elif last_vector:
        g2 = g2[:, None]
    prefix = [np.eye(mats[0].shape[0], dtype=g2.dtype)]
    for x in mats[:-1]:
        prefix.append(prefix[-1] @ x)
    suffix = [np.eye(mats[-1].shape[1], dtype=g2.dtype)]
    for x in reversed(mats[1:]):
        suffix.append(x @ suffix[-1])
    suffix.reverse()
    adjoints = []
    for i, x in enumerate(arrays):
        d = _mT(prefix[i]) @ g2 @ _mT(suffix[i])
        adjoints.append(np.reshape(d, x.shape).astype(_dtype_of(x, g), copy=False))
    return adjoints


def eig_adjoint(g, ans, a):
    """The adjoint of ``w, V = np.linalg.eig(a)`` for real eigenvalues (Giles 2008, sec.
    3.1, with NumPy's unit-norm eigenvectors): ``gV' = gV - V diag(diag(V^T gV))``, then
    ``gA = V^-T (diag(gw) + F o (V^T gV')) V^T``, ``F_ij = 1/(w_j - w_i)``. Complex
    eigenvalues and defective matrices are refused."""
    refuse_complex(a, "np.linalg.eig")
    w, v = ans
    gw, gv = _parts(g, 2)
    return _eig_core(np.asarray(a), w, v, gw, gv, "eig")


def eigvals_adjoint(g, ans, a):
    """The adjoint of ``np.linalg.eigvals`` (real eigenvalues): ``V^-T diag(g) V^T``."""
    refuse_complex(a, "np.linalg.eigvals")
    w, v = np.linalg.eig(a)
    return _eig_core(np.asarray(a), w, v, np.asarray(g), None, "eigvals")


def _eig_core(a, w, v, gw, gv, function):
    if np.iscomplexobj(w) or np.iscomplexobj(v):
        _refuse(function, "the matrix has complex eigenvalues; only real ones are differentiable")
    n = a.shape[-1]
    dtype = _dtype_of(a, 0.0)
    condition = np.linalg.cond(v)
    if np.any(~np.isfinite(condition)) or np.any(condition > 1 / np.sqrt(np.finfo(v.dtype).eps)):
        _refuse(function, "the matrix is (numerically) not diagonalizable")
    gw = np.zeros_like(w) if gw is None else gw
    tol = _tolerance(w, n, n)
    if gv is None:
        _inverse_gap(w, tol, function, None, gw)
        middle = _diag(gw)
    else:
        gv = gv - v * np.sum(v * gv, axis=-2, keepdims=True)
        y = _mT(v) @ gv
        off = y * ~np.eye(n, dtype=bool)
        middle = _diag(gw) + y * _inverse_gap(w, tol, function, off, gw)
    result = np.linalg.solve(_mT(v), middle @ _mT(v))
    return result.astype(dtype, copy=False)


def tensorsolve_adjoint(g, ans, a, b, axes=None):
    """The adjoints of ``a`` and ``b`` in ``x = np.linalg.tensorsolve(a, b, axes)``: the
    reshaped ``solve`` (``gb = solve(A^T, g)``, ``gA = -gb x^T``)."""
    a, b = np.asarray(a), np.asarray(b)
    if axes is not None:
        all_axes = list(range(a.ndim))
        for k in axes:
            all_axes.remove(k)
            all_axes.insert(a.ndim, k)
        moved = np.transpose(a, all_axes)
    else:
        all_axes, moved = list(range(a.ndim)), a
    size = int(np.prod(b.shape))
    matrix = np.reshape(moved, (size, -1))
    gb = np.linalg.solve(_mT(matrix), np.reshape(np.asarray(g), (-1,)))
    g_matrix = -np.outer(gb, np.reshape(ans, (-1,)))
    g_moved = np.reshape(g_matrix, moved.shape)
    ga = np.transpose(g_moved, np.argsort(all_axes))
    return ga.astype(_dtype_of(a, g), copy=False), np.reshape(gb, b.shape).astype(
        _dtype_of(b, g), copy=False
    )


def named_field_adjoint(g, x, name: str):
    """The adjoint of ``x`` in ``x.<name>`` for a named tuple ``x`` (``svd(a).S``,
    ``eigh(a).eigenvectors``): ``g`` at the field's position."""
    from .values import Item

    fields = getattr(type(x), "_fields", None)
    if not isinstance(x, tuple) or fields is None or name not in fields:
        raise ADTransformError(
            f"reading .{name} of a {type(x).__name__}: only the fields of NumPy's named "
            "results (svd, eigh, qr, eig) are differentiable"
        )
    return Item(fields.index(name), g, len(x))


# -- NumPy 2's norms, tensorinv, cond ---------------------------------------------------


def vector_norm_adjoint(g, ans, x, axis=None, keepdims=False, ord=2):
    """The adjoint of ``np.linalg.vector_norm``: a vector norm over ``axis`` (all axes,
    or several, taken together as one vector), by ``norm_adjoint`` on the flattened axes."""
    refuse_complex(x, "np.linalg.vector_norm")
    from .linalg import norm_adjoint

    x = np.asarray(x)
    axes = tuple(range(x.ndim)) if axis is None else (axis,) if np.ndim(axis) == 0 else axis
    axes = tuple(sorted(int(k) % x.ndim for k in axes)) if x.ndim else ()
    kept_shape = tuple(1 if k in axes else n for k, n in enumerate(x.shape))
    g = np.reshape(np.asarray(g), kept_shape)
    ans = np.reshape(np.asarray(ans), kept_shape)
    others = [k for k in range(x.ndim) if k not in axes]
    moved = np.transpose(x, others + list(axes))
    flat = np.reshape(moved, moved.shape[: len(others)] + (-1,))
    g_flat = np.reshape(np.transpose(g, others + list(axes)), flat.shape[:-1] + (1,))
    ans_flat = np.reshape(np.transpose(ans, others + list(axes)), flat.shape[:-1] + (1,))
    d = norm_adjoint(g_flat, ans_flat, flat, ord, -1, True)
    return np.transpose(np.reshape(d, moved.shape), np.argsort(others + list(axes)))


def matrix_norm_adjoint(g, ans, x, keepdims=False, ord="fro"):
    """The adjoint of ``np.linalg.matrix_norm``: ``norm(x, ord, axis=(-2, -1))``."""
    refuse_complex(x, "np.linalg.matrix_norm")
    from .linalg import norm_adjoint

    return norm_adjoint(g, ans, x, ord, (-2, -1), keepdims)


def tensorinv_adjoint(g, ans, a, ind=2):
    """The adjoint of ``np.linalg.tensorinv``: that of ``inv`` on the reshaped matrix,
    ``-B^T g B^T``."""
    a = np.asarray(a)
    rows = int(np.prod(a.shape[:ind]))
    inverse = np.reshape(ans, (-1, rows))
    g_matrix = np.reshape(np.asarray(g), inverse.shape)
    d = -(_mT(inverse) @ g_matrix @ _mT(inverse))
    return np.reshape(d, a.shape).astype(_dtype_of(a, g), copy=False)


def cond_adjoint(g, ans, x, p=None):
    """The adjoint of ``np.linalg.cond``: for ``p`` None/2/-2 the ratio of the extreme
    singular values through the SVD (a tie of the extremes is refused, as for ``svd``);
    for the other norms ``norm(x, p) norm(inv(x), p)`` by the product rule."""
    refuse_complex(x, "np.linalg.cond")
    from .linalg import norm_adjoint

    x = np.asarray(x)
    dtype = _dtype_of(x, g)
    g = np.asarray(g)
    if p is None or p in (2, -2):
        u, s, vh = np.linalg.svd(x, full_matrices=False)
        big, small = s[..., :1], s[..., -1:]
        k = s.shape[-1]
        first = np.arange(k) == 0
        last = np.arange(k) == k - 1
        if p == -2:  # s_min / s_max
            gs = g[..., None] * (last / big - first * small / big**2)
        else:
            gs = g[..., None] * (first / small - last * big / small**2)
        m, n = x.shape[-2:]
        return _svd_core(u, s, _mT(vh), None, gs, None, m, n, "cond").astype(dtype, copy=False)
    inverse = np.linalg.inv(x)
    n_x = np.linalg.norm(x, p, axis=(-2, -1))
    n_inv = np.linalg.norm(inverse, p, axis=(-2, -1))
    d_x = norm_adjoint(g * n_inv, n_x, x, p, (-2, -1), False)
    d_inv = norm_adjoint(g * n_x, n_inv, inverse, p, (-2, -1), False)
    inverse_t = _mT(inverse)
    return (d_x - inverse_t @ d_inv @ inverse_t).astype(dtype, copy=False)
