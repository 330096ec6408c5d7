"""Helpers of ``rules/scipy_special.py``, ``rules/scipy_linalg.py`` and
``rules/scipy_stats.py``.

SciPy is optional: this module is imported with the rest of the runtime (at ``import
ad_transform``), so it never imports SciPy at module level. Each helper imports what it
needs when it runs, which only happens in a gradient of code that called SciPy.
Results keep the float dtype of the inputs (float32 stays float32).
"""

from __future__ import annotations

import math

import numpy as np

from .adjoints import is_zero, unbroadcast
from .elementwise import inexact
from .linalg import _mT, cholesky_adjoint
from .values import ListAdjoint

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


def _float_dtype_of(*values) -> np.dtype:
    """The float dtype NumPy gives a result of these values (float64 for integers)."""
    dtype = np.result_type(*(np.asarray(v).dtype for v in values))
    return dtype if dtype.kind == "f" else np.dtype(np.float64)


def _like(value, *inputs):
    """``value`` in the float dtype of ``inputs``; a NumPy scalar for 0-d results."""
    result = np.asarray(value, dtype=_float_dtype_of(*inputs))
    return result[()] if result.ndim == 0 else result


# -- scipy.special ------------------------------------------------------------------------


def expit_derivative(x, ans):
    """``expit'(x) = expit(x) expit(-x)``: no cancellation in ``1 - expit(x)`` for large
    ``x``, no overflow for large ``|x|``."""
    from scipy.special import expit

    return ans * expit(-np.asarray(x, dtype=_float_dtype_of(x, ans)))


def expit_of(x):
    """``expit(x)`` (the derivative of ``log_expit``), in the dtype of ``x``."""
    from scipy.special import expit

    return _like(expit(x), x)


def erfcx_derivative(x, ans):
    """``erfcx'(x) = 2 x erfcx(x) - 2 / sqrt(pi)``; for ``x > 50``, where the two terms
    cancel, the asymptotic series ``(2/sqrt(pi)) (-1/(2x^2) + 3/(4x^4) - 15/(8x^6) +
    105/(16x^8) - 945/(32x^10))`` (Abramowitz & Stegun 7.1.23), whose next term is below
    ``1e-14`` of the first there."""
    x64 = np.asarray(x, dtype=np.float64)
    large = x64 > 50.0
    with np.errstate(over="ignore", invalid="ignore"):
        direct = 2.0 * x64 * np.asarray(ans, dtype=np.float64) - 2.0 / math.sqrt(math.pi)
        u = 1.0 / np.where(large, x64, 50.0) ** 2
        series = (
            (2.0 / math.sqrt(math.pi))
            * u
            * (-0.5 + u * (0.75 + u * (-1.875 + u * (6.5625 - u * 29.53125))))
        )
    return _like(np.where(large, series, direct), x)


def digamma_of(x):
    """``digamma(x)``, the derivative of ``gammaln`` (in the dtype of ``x``)."""
    from scipy.special import digamma

    return _like(digamma(x), x)


def polygamma_of(n, x):
    """``polygamma(n, x)`` in the float dtype of ``x`` (SciPy computes it in float64)."""
    from scipy.special import polygamma

    return _like(polygamma(n, x), x)


def betaln_derivatives(a, b):
    """``(d/da, d/db) betaln(a, b) = (psi(a) - psi(a + b), psi(b) - psi(a + b))``."""
    from scipy.special import digamma

    both = digamma(np.add(a, b))
    return _like(digamma(a) - both, a, b), _like(digamma(b) - both, a, b)


def log_ndtr_derivative(x, ans):
    """``d/dx log Phi(x) = phi(x) / Phi(x)``, the inverse Mills ratio at ``-x``.

    ``exp(log phi(x) - log Phi(x))`` for ``x > -40`` (the cancellation of two numbers near
    ``-x^2/2`` costs at most ``800 eps``); below, the asymptotic series ``t + 1/t - 2/t^3
    + 10/t^5 - 74/t^7 + 706/t^9`` in ``t = -x`` (Abramowitz & Stegun 26.2.12 / 7.1.23),
    whose next term is below ``1e-16 t``. No overflow at any ``x``.
    """
    x64 = np.asarray(x, dtype=np.float64)
    ans64 = np.asarray(ans, dtype=np.float64)
    near = x64 > -40.0
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        direct = np.exp(-0.5 * x64 * x64 - _LOG_SQRT_2PI - ans64)
        t = np.where(near, 40.0, -x64)
        u = 1.0 / (t * t)
        series = t + (1.0 / t) * (1.0 - u * (2.0 - u * (10.0 - u * (74.0 - u * 706.0))))
    return _like(np.where(near, direct, series), x)


def normal_density(x):
    """``phi(x) = exp(-x^2 / 2) / sqrt(2 pi)``, the derivative of ``ndtr``."""
    x = np.asarray(x)
    dtype = _float_dtype_of(x)
    return _like(np.exp(-0.5 * x.astype(dtype) ** 2 - dtype.type(_LOG_SQRT_2PI)), x)


def xlogy_derivatives(x, y, log1p=False):
    """``(d/dx, d/dy)`` of ``xlogy(x, y) = x log(y)`` (``xlog1py``: ``x log1p(y)``).

    SciPy defines the function as 0 wherever ``x == 0`` (whatever ``y``), so ``d/dy`` is 0
    there, not ``0 / 0``; ``d/dx`` is ``log(y)`` (``-inf`` at ``y == 0``).
    """
    xa, ya = inexact(np.asarray(x)), inexact(np.asarray(y))  # no float16 log of an int8 y
    with np.errstate(divide="ignore", invalid="ignore"):
        dx = np.log1p(ya) if log1p else np.log(ya)
        dy = np.where(xa == 0, 0.0, xa / ((1.0 + ya) if log1p else ya))
    return _like(dx, x, y), _like(dy, x, y)


def _positive_axes(axis, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    return tuple(sorted(int(a) % ndim if ndim else 0 for a in axes))


def _kept(value, axes: tuple[int, ...], keepdims: bool):
    """A reduction's result (or adjoint) with the reduced axes back, as size 1."""
    value = np.asarray(value)
    return value if keepdims or not axes else np.expand_dims(value, axes)


def logsumexp_adjoints(g, ans, a, axis=None, b=None, keepdims=False, return_sign=False):
    """``(d a, d b)`` of ``logsumexp(a, axis, b, keepdims, return_sign)`` (``d b`` None
    without ``b``).

    With ``s`` the sign of the sum (1 without ``return_sign``) and the weights ``w = s
    exp(a - ans)`` (no overflow: ``a <= ans`` up to ``log |b|``): ``d a = g b w`` and
    ``d b = g w``, each summed back to its argument's shape. With ``return_sign`` the
    result is ``(ans, sign)`` and only ``ans`` has a derivative.
    """
    sign = 1.0
    if return_sign:
        ans, sign = ans
        g = 0.0 if is_zero(g) else g[0]
    a_arr = np.asarray(a)
    shape = a_arr.shape if b is None else np.broadcast_shapes(a_arr.shape, np.shape(b))
    axes = _positive_axes(axis, len(shape))
    with np.errstate(invalid="ignore", over="ignore"):
        weights = np.exp(a_arr - _kept(ans, axes, keepdims))
    if return_sign:
        weights = weights * _kept(sign, axes, keepdims)
    spread = np.broadcast_to(_kept(g, axes, keepdims), shape)
    dtype = _float_dtype_of(a_arr, ans)
    if b is None:
        return _as_input_kind(_like(spread * weights, a_arr, ans), a), None
    b_arr = np.asarray(b)
    # an element masked by b == 0 contributes nothing to the sum, however large its a
    # (exp(a - ans) may overflow there: 0 * inf would be NaN)
    with np.errstate(invalid="ignore"):  # inf * 0 where masked: replaced by the 0
        masked = np.where(b_arr != 0, weights * b_arr, 0.0)
    da = unbroadcast(_like(spread * masked, a_arr, ans), a_arr)
    db = unbroadcast(np.asarray(spread * weights, dtype=dtype), np.asarray(b))
    return _as_input_kind(da, a), _as_input_kind(db, b)


def _as_input_kind(adjoint, x):
    """A 0-d array adjoint as a NumPy scalar when the argument was not an array."""
    if isinstance(x, np.ndarray):
        return np.asarray(adjoint).reshape(x.shape)
    return np.asarray(adjoint)[()] if np.ndim(adjoint) == 0 else adjoint


def softmax_adjoint(g, ans, axis=None):
    """The adjoint of ``softmax(x, axis)``: ``ans (g - sum(g ans, axis))``."""
    g = np.broadcast_to(g, np.shape(ans))
    inner = np.sum(g * ans, axis=axis, keepdims=True)
    return _like(ans * (g - inner), ans)


def log_softmax_adjoint(g, ans, axis=None):
    """The adjoint of ``log_softmax(x, axis)``: ``g - exp(ans) sum(g, axis)``."""
    g = np.broadcast_to(g, np.shape(ans))
    return _like(g - np.exp(ans) * np.sum(g, axis=axis, keepdims=True), ans)


# -- scipy.linalg -------------------------------------------------------------------------


def _require_matrix(name: str, a) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(
            f"the gradient of scipy.linalg.{name} is defined here for one square 2-D matrix,"
            f" not an array of shape {a.shape}"
        )
    return a


def _transposes(name: str, trans) -> bool:
    """Whether ``trans`` (solve_triangular: 0/'N', 1/'T', 2/'C') transposes ``a``."""
    if trans in (0, "N", "n"):
        return False
    if trans in (1, 2, "T", "t", "C", "c"):
        return True
    raise ValueError(f"scipy.linalg.{name}: unknown trans={trans!r}")


def _outer_cotangent(gb, x):
    """``-gb x^T`` for a vector or matrix right-hand side: the adjoint of ``A`` in
    ``A x = b`` given the adjoint ``gb`` of ``b``."""
    if np.ndim(x) == 1:
        return -np.multiply.outer(gb, x)
    return -(gb @ _mT(x))


def solve_triangular_adjoints(g, ans, a, trans=0, lower=False, unit_diagonal=False):
    """``(d a, d b)`` of ``x = solve_triangular(a, b, trans, lower, unit_diagonal)``.

    ``op(a) x = b`` with ``op(a)`` ``a`` or ``a^T``: ``d b = op(a)^{-T} g`` (another
    triangular solve), ``d op(a) = -d b x^T`` (Giles 2008, 2.3.1), kept in the triangle
    SciPy reads (not the diagonal with ``unit_diagonal``).
    """
    from scipy.linalg import solve_triangular

    a = _require_matrix("solve_triangular", a)
    transposed = _transposes("solve_triangular", trans)
    g = np.broadcast_to(g, np.shape(ans))
    gb = solve_triangular(
        a, g, trans=0 if transposed else 1, lower=lower, unit_diagonal=unit_diagonal
    )
    d_op = _outer_cotangent(gb, ans)
    da = _mT(d_op) if transposed else d_op
    offset = 1 if unit_diagonal else 0
    da = np.tril(da, -offset) if lower else np.triu(da, offset)
    return _like(da, a, ans), _like(gb, ans)


def _triangle_used(assume_a) -> str | None:
    """Which triangle of ``a`` SciPy reads for this ``assume_a``: 'sym' (one triangle,
    mirrored), 'lower'/'upper' (triangular systems), 'diagonal', or None (all of it)."""
    if assume_a in (None, "gen", "general", "ge"):
        return None
    if assume_a in (
        "sym",
        "symmetric",
        "sy",
        "her",
        "hermitian",
        "he",
        "pos",
        "positive definite",
        "po",
    ):
        return "sym"
    if assume_a in ("lower triangular",):
        return "lower"
    if assume_a in ("upper triangular",):
        return "upper"
    if assume_a in ("diagonal",):
        return "diagonal"
    raise ValueError(
        f"the gradient of scipy.linalg with assume_a={assume_a!r} is not supported (only "
        "'gen', 'sym', 'her', 'pos', 'diagonal', 'lower triangular', 'upper triangular')"
    )


def fold_to_read_part(da, assume_a, lower=False):
    """The adjoint ``da`` of the matrix SciPy solves with, moved to the entries of ``a``
    it reads: for a symmetric ``assume_a`` one triangle stands for both symmetric
    positions (``tril(da + da^T, -1) + diag(da)`` for ``lower``)."""
    used = _triangle_used(assume_a)
    if used is None:
        return da
    if used == "lower":
        return np.tril(da)
    if used == "upper":
        return np.triu(da)
    if used == "diagonal":
        return np.diag(np.diagonal(da)).astype(da.dtype)
    both = da + _mT(da)
    diagonal = np.diag(np.diagonal(da)).astype(da.dtype)
    return (np.tril(both, -1) if lower else np.triu(both, 1)) + diagonal


def linalg_solve_adjoints(g, ans, a, lower=False, assume_a=None, transposed=False):
    """``(d a, d b)`` of ``x = scipy.linalg.solve(a, b, lower, assume_a, transposed)``:
    ``d b = op(a)^{-T} g``, ``d op(a) = -d b x^T`` (Giles 2008, 2.3.1), folded to the
    entries SciPy reads (:func:`fold_to_read_part`)."""
    a = _require_matrix("solve", a)
    g = np.broadcast_to(g, np.shape(ans))
    matrix = _symmetric_as_read(a, assume_a, lower)
    op = matrix.T if transposed else matrix
    gb = np.linalg.solve(op.T, g)
    d_op = _outer_cotangent(gb, ans)
    da = fold_to_read_part(d_op.T if transposed else d_op, assume_a, lower)
    return _like(da, a, ans), _like(gb, ans)


def _symmetric_as_read(a, assume_a, lower):
    """The matrix SciPy actually solves with: for a symmetric ``assume_a``, one triangle
    of ``a`` mirrored; for a triangular or diagonal one, that part of ``a``."""
    used = _triangle_used(assume_a)
    if used == "sym":
        half = np.tril(a, -1) if lower else np.triu(a, 1)
        return half + half.T + np.diag(np.diagonal(a))
    if used == "lower":
        return np.tril(a)
    if used == "upper":
        return np.triu(a)
    if used == "diagonal":
        return np.diag(np.diagonal(a))
    return a


def linalg_inv_adjoint(g, ans, a, assume_a=None, lower=False):
    """The adjoint of ``scipy.linalg.inv(a)``: ``-ans^T g ans^T`` (Giles 2008, 2.2.3),
    folded to the entries SciPy reads."""
    a = _require_matrix("inv", a)
    da = -(ans.T @ np.broadcast_to(g, ans.shape) @ ans.T)
    return _like(fold_to_read_part(da, assume_a, lower), a, ans)


def linalg_cholesky_adjoint(g, ans, a, lower=False):
    """The adjoint of ``scipy.linalg.cholesky(a, lower)`` (Murray 2016), in the triangle
    SciPy reads (the upper one by default, as it returns ``U`` with ``U^T U = a``)."""
    g = np.broadcast_to(g, np.shape(ans))
    return _like(cholesky_adjoint(g, ans, a, upper=not lower), a, ans)


def cho_factor_adjoint(g, ans, a):
    """The adjoint of ``a`` in ``(c, lower) = cho_factor(a, lower)``.

    ``c`` holds the Cholesky factor in one triangle (Murray 2016) and SciPy's copy of the
    other triangle of ``a`` in the other (what LAPACK leaves untouched): its adjoint goes
    to the same entries of ``a``.
    """
    c, lower = ans
    gc = g[0] if not is_zero(g) else 0.0
    if is_zero(gc):
        return np.zeros(np.shape(a), dtype=_float_dtype_of(a, c))
    gc = np.broadcast_to(gc, np.shape(c))
    factor = np.tril(c) if lower else np.triu(c)
    g_factor = np.tril(gc) if lower else np.triu(gc)
    da = cholesky_adjoint(g_factor, factor, a, upper=not lower)
    da = da + (np.triu(gc, 1) if lower else np.tril(gc, -1))
    return _like(da, a, c)


def cho_solve_adjoints(g, ans, c_and_lower):
    """``(d (c, lower), d b)`` of ``x = cho_solve((c, lower), b)``.

    ``A = L L^T`` (``U^T U`` for ``lower=False``) from the triangle of ``c``: ``d b =
    A^{-1} g`` (another ``cho_solve``), ``d A = -d b x^T``, then through the product
    ``d L = (d A + d A^T) L`` (``d U = U (d A + d A^T)``), in that triangle only.
    """
    from scipy.linalg import cho_solve

    c, lower = c_and_lower
    c = _require_matrix("cho_solve", c)
    g = np.broadcast_to(g, np.shape(ans))
    gb = cho_solve((c, lower), g)
    d_matrix = _outer_cotangent(gb, ans)
    sym = d_matrix + d_matrix.T
    dc = np.tril(sym @ np.tril(c)) if lower else np.triu(np.triu(c) @ sym)
    return ListAdjoint([_like(dc, c, ans), 0.0]), _like(gb, ans)


def expm_adjoint(g, a):
    """The adjoint of ``expm(a)``: the Fréchet derivative at ``a^T`` applied to ``g``,
    ``L_exp(a^T, g)`` (Al-Mohy & Higham 2009; ``<g, L(a, e)> = <L(a^T, g), e>``)."""
    from scipy.linalg import expm_frechet

    a = np.asarray(a)
    g = np.broadcast_to(g, a.shape)
    if a.ndim == 2:
        return _like(expm_frechet(a.T, g, compute_expm=False), a)
    flat_a = a.reshape(-1, *a.shape[-2:])
    flat_g = g.reshape(flat_a.shape)
    parts = [expm_frechet(m.T, e, compute_expm=False) for m, e in zip(flat_a, flat_g)]
    return _like(np.reshape(parts, a.shape), a)


def logm_adjoint(g, ans, a):
    """The adjoint of ``logm(a)`` for a real logarithm: ``L_log(a^T, g)``, the Fréchet
    derivative read from the upper right block of ``logm([[a^T, g], [0, a^T]])`` (Higham
    2008, "Functions of Matrices", Theorem 3.6)."""
    from scipy.linalg import logm

    a = _require_matrix("logm", a)
    if np.iscomplexobj(ans):
        raise ValueError(
            "the gradient of scipy.linalg.logm is defined here for a real logarithm only "
            "(this matrix has eigenvalues on the closed negative real axis)"
        )
    n = a.shape[0]
    block = np.zeros((2 * n, 2 * n))
    block[:n, :n] = block[n:, n:] = a.T
    block[:n, n:] = np.broadcast_to(g, a.shape)
    frechet = logm(block)[:n, n:]
    return _like(np.real(frechet), a)


def det_adjoint_scipy(g, ans, a):
    """The adjoint of ``scipy.linalg.det(a)`` (the cofactor matrix, as ``np.linalg.det``)."""
    from .linalg import det_adjoint

    return _like(det_adjoint(g, ans, a), a)


# -- scipy.stats.norm ---------------------------------------------------------------------


def norm_partials(which: str, ans, x, loc, scale):
    """The partial derivatives ``(d/dx, d/dloc, d/dscale)`` of
    ``scipy.stats.norm.<which>(x, loc, scale)`` for ``which`` in ``logpdf``, ``pdf``,
    ``cdf``, ``logcdf``, ``sf``, ``logsf``, broadcast to the result's shape.

    With ``z = (x - loc) / scale`` and ``f`` the function of ``z``, ``d x = f'(z) / s``,
    ``d loc = -d x``, ``d scale = -z d x`` (plus ``-1/scale`` times ``ans``'s own
    factor for the densities: ``log pdf = log phi(z) - log scale``).
    """
    from scipy.special import log_ndtr

    xa, la, sa = (np.asarray(v) for v in (x, loc, scale))
    z = (xa - la) / sa
    if which == "logpdf":
        dz, extra = -z, -1.0
    elif which == "pdf":
        dz, extra = -z * ans, -ans
    elif which == "cdf":
        dz, extra = normal_density(z), 0.0
    elif which == "sf":
        dz, extra = -normal_density(z), 0.0
    elif which == "logcdf":
        dz, extra = log_ndtr_derivative(z, log_ndtr(z)), 0.0
    else:  # logsf(z) = log_ndtr(-z)
        dz, extra = -log_ndtr_derivative(-z, log_ndtr(-z)), 0.0
    shape = np.broadcast_shapes(xa.shape, la.shape, sa.shape)
    d_x = np.broadcast_to(dz / sa, shape)
    return d_x, -d_x, -d_x * z + np.broadcast_to(extra / sa, shape)


def norm_adjoints(which: str, g, ans, x, loc, scale):
    """``(d x, d loc, d scale)`` of ``scipy.stats.norm.<which>(x, loc, scale)``: ``g``
    times the partial derivatives (``norm_partials``), each summed back to its argument's
    shape."""
    xa, la, sa = (np.asarray(v) for v in (x, loc, scale))
    dtype = _float_dtype_of(xa, la, sa)
    shape = np.broadcast_shapes(xa.shape, la.shape, sa.shape)
    gb = np.broadcast_to(g, shape)
    parts = [gb * d for d in norm_partials(which, ans, x, loc, scale)]
    return tuple(
        _as_input_kind(unbroadcast(np.asarray(p, dtype=dtype), np.asarray(v)), v)
        for p, v in zip(parts, (x, loc, scale))
    )
