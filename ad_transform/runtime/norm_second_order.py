"""Second-order terms of ``np.linalg.norm``'s adjoint for the norms ``runtime.higher_order``
leaves out: vector ``p``-norms (``ord=3``, ``1.5``, ...), the nuclear norm, the matrix 2-norm
and -2-norm, and the matrix 1, -1, inf, -inf norms (``rules/runtime_helpers.py`` calls these
in the rule of ``norm_adjoint``; the other norms are passed on to ``higher_order``).

Each is the derivative of ``norm_adjoint(g, ans, x, ord, axis, keepdims)`` in ``x`` (along
``c``, symmetric in ``c``: a Hessian) or in ``ans``:

- vector ``p``-norm, adjoint ``g sign(x) |x|^(p-1) / n^(p-1)``: in ``x``
  ``g (p-1) |x|^(p-2) c / n^(p-1)``, in ``n`` ``-(p-1) g sign(x) |x|^(p-1) / n^p``;
- nuclear norm, adjoint ``g U V^T`` (the orthogonal polar factor): in ``x`` ``g dQ`` with
  ``dQ = U K V^T + (I - U U^T) C V S^-1 V^T``, ``K_ij = (M_ij - M_ji) / (s_i + s_j)``,
  ``M = U^T C V`` (the polar factor's derivative, from the singular vectors' derivatives of
  Townsend 2016, below: their terms in ``s_i - s_j`` cancel; the complement term for tall
  matrices), full rank only;
- matrix 2-norm (-2), adjoint ``g u_k v_k^T`` for the largest (smallest) singular value:
  ``g (du_k v_k^T + u_k dv_k^T)`` with the singular vectors' derivatives
  ``du_k = sum_j u_j (s_k M_jk + s_j M_kj) / (s_k^2 - s_j^2) + (I - U U^T) C v_k / s_k``,
  ``dv_k = sum_j v_j (s_j M_jk + s_k M_kj) / (s_k^2 - s_j^2)`` (Townsend 2016, "Differentiating
  the singular value decomposition"), for a simple, non-zero ``s_k`` only;
- matrix 1, -1, inf, -inf norms: the chosen column or row is locally constant: zero.

Neither matrix form reads ``ans``: its partials there are zero. Where the second derivative
does not exist (an entry 0 of ``x`` for ``1 < p < 2``, a zero norm, a rank-deficient matrix
for ``'nuc'``, a repeated or zero extreme singular value for 2 and -2) it is refused by name.
"""

from __future__ import annotations

import numpy as np

from ..errors import ADTransformError
from . import higher_order


def _form(x, ord, axis):
    """``(form, axes, matrix axes)``: ``'power'``, ``'nuclear'``, ``'spectral'``, ``'flat'`` or
    None (a norm ``higher_order`` differentiates again)."""
    ndim = np.ndim(x)
    if axis is None:
        axes = tuple(range(ndim))
        matrix = ord is not None and ndim == 2
    else:
        axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
        axes = tuple(int(a) % ndim for a in axes)
        matrix = len(axes) == 2
    if matrix:
        forms = {"nuc": "nuclear", 2: "spectral", -2: "spectral"}
        form = "flat" if ord in (1, -1, np.inf, -np.inf) else forms.get(ord)
        return form, tuple(sorted(axes)), axes
    numeric = isinstance(ord, (int, float, np.integer, np.floating)) and not isinstance(ord, bool)
    if numeric and ord not in (1, 2, 0, np.inf, -np.inf):
        return "power", tuple(sorted(axes)), None
    return None, axes, None


def _zero(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v == 0


def norm_adjoint_x_term(c, g, ans, x, ord=None, axis=None, keepdims=False):
    """The derivative of ``norm_adjoint(g, ans, x, ord, axis, keepdims)`` in ``x`` along
    ``c`` (an array shaped like ``x``); the same for the tangent and the cotangent (the
    operator is a Hessian: symmetric). Raises ADTransformError where it does not exist."""
    form, axes, matrix_axes = _form(x, ord, axis)
    if form is None:
        return higher_order.norm_adjoint_x_partial(c, g, ans, x, ord, axis, keepdims)
    if form == "flat" or _zero(c):
        return np.zeros(np.shape(x))
    g = higher_order._expand_value(g, axes, keepdims)
    if form == "power":
        n = _checked_norm(higher_order._expand_value(ans, axes, keepdims), ord)
        xa = np.asarray(x, dtype=float)
        if ord < 2 and np.any(xa == 0):
            raise ADTransformError(
                f"cannot differentiate the adjoint of np.linalg.norm(..., ord={ord!r}) again at "
                "an entry 0 (its second derivative is infinite there for ord < 2)"
            )
        return g * (ord - 1) * np.abs(xa) ** (ord - 2) * c / n ** (ord - 1)
    rows, cols = matrix_axes
    xm = np.moveaxis(np.asarray(x, dtype=float), (rows, cols), (-2, -1))
    cm = np.moveaxis(np.broadcast_to(c, np.shape(x)), (rows, cols), (-2, -1))
    gm = np.moveaxis(g, (rows, cols), (-2, -1))
    if form == "nuclear":
        d = _oriented(_polar_derivative, xm, cm)
    else:
        d = _oriented(lambda a, b: _extreme_pair_derivative(a, b, ord), xm, cm)
    return np.moveaxis(gm * d, (-2, -1), (rows, cols))


def norm_adjoint_ans_cotangent_term(c, g, ans, x, ord=None, axis=None, keepdims=False):
    """The cotangent of ``ans`` in ``norm_adjoint(g, ans, x, ...)`` for the cotangent ``c``:
    ``-(p-1) sum(g c sign(x) |x|^(p-1)) / n^p`` over the norm's axes for a ``p``-norm, 0 for
    the matrix forms (their adjoints do not read ``ans``)."""
    form, axes, _ = _form(x, ord, axis)
    if form is None:
        return higher_order.norm_adjoint_ans_cotangent(c, g, ans, x, ord, axis, keepdims)
    if form != "power" or _zero(c):
        return np.zeros(np.shape(ans)) if np.ndim(ans) else 0.0
    summed = np.sum(_power_ans_partial(g, ans, x, ord, axes, keepdims) * c, axis=axes)
    return summed.reshape(np.shape(ans)) if np.ndim(ans) else float(summed)


def norm_adjoint_ans_tangent_term(t, g, ans, x, ord=None, axis=None, keepdims=False):
    """The derivative of ``norm_adjoint(g, ans, x, ...)`` along ``t`` (a tangent of
    ``ans``): ``-(p-1) g sign(x) |x|^(p-1) t / n^p`` for a ``p``-norm, zeros for the
    matrix forms."""
    form, axes, _ = _form(x, ord, axis)
    if form is None:
        return higher_order.norm_adjoint_ans_tangent(t, g, ans, x, ord, axis, keepdims)
    if form != "power" or _zero(t):
        return np.zeros(np.shape(x))
    t = higher_order._expand_value(t, axes, keepdims)
    return _power_ans_partial(g, ans, x, ord, axes, keepdims) * t


def _power_ans_partial(g, ans, x, ord, axes, keepdims):
    """``d/dn`` of ``g sign(x) |x|^(p-1) / n^(p-1)``, shaped like ``x``."""
    g = higher_order._expand_value(g, axes, keepdims)
    n = _checked_norm(higher_order._expand_value(ans, axes, keepdims), ord)
    xa = np.asarray(x, dtype=float)
    return -(ord - 1) * g * np.sign(xa) * np.abs(xa) ** (ord - 1) / n**ord


def _checked_norm(n, ord):
    if np.any(n == 0):
        raise ADTransformError(
            f"cannot differentiate the adjoint of np.linalg.norm(..., ord={ord!r}) again where "
            "the norm is 0 (it has no second derivative there)"
        )
    return n


def _oriented(derivative, xm, cm):
    """``derivative`` on tall matrices: a wide ``x`` (and ``c``) transposed, and back."""
    if xm.shape[-2] >= xm.shape[-1]:
        return derivative(xm, cm)
    return np.swapaxes(derivative(np.swapaxes(xm, -1, -2), np.swapaxes(cm, -1, -2)), -1, -2)


def _svd_checked(xm):
    """The reduced SVD of ``xm`` and the tolerance below which singular values count as 0."""
    from .linalg import _rank_tolerance

    u, s, vh = np.linalg.svd(xm, full_matrices=False)
    return u, s, vh, _rank_tolerance(s, xm.shape)


def _polar_derivative(xm, cm):
    """The derivative of ``U V^T`` (``x = U S V^T``, tall, full column rank) along ``c``."""
    u, s, vh, tolerance = _svd_checked(xm)
    if np.any(s <= tolerance):
        raise ADTransformError(
            "cannot differentiate the adjoint of np.linalg.norm(..., 'nuc') again at a "
            "rank-deficient matrix (its second derivative does not exist there)"
        )
    ut = np.swapaxes(u, -1, -2)
    v = np.swapaxes(vh, -1, -2)
    m = ut @ cm @ v
    k = (m - np.swapaxes(m, -1, -2)) / (s[..., :, None] + s[..., None, :])
    outside = (cm - u @ (ut @ cm)) @ (v / s[..., None, :]) @ vh
    return u @ k @ vh + outside


def _extreme_pair_derivative(xm, cm, ord):
    """The derivative of ``u_k v_k^T`` for the largest (``ord`` 2) or smallest (-2) singular
    value ``s_k`` of a tall ``x`` along ``c``; ``s_k`` simple and non-zero."""
    u, s, vh, tolerance = _svd_checked(xm)
    k = 0 if ord == 2 else s.shape[-1] - 1
    sk = s[..., k : k + 1]
    gaps = sk**2 - s**2
    others = np.arange(s.shape[-1]) != k
    if np.any(sk <= tolerance) or np.any(np.abs(gaps[..., others]) <= tolerance * sk):
        raise ADTransformError(
            f"cannot differentiate the adjoint of np.linalg.norm(..., ord={ord!r}) again where "
            "the extreme singular value is repeated or 0 (no second derivative there)"
        )
    ut = np.swapaxes(u, -1, -2)
    v = np.swapaxes(vh, -1, -2)
    m = ut @ cm @ v
    m_jk, m_kj = m[..., :, k], m[..., k, :]
    safe = np.where(others, gaps, 1.0)
    a = np.where(others, (sk * m_jk + s * m_kj) / safe, 0.0)
    b = np.where(others, (s * m_jk + sk * m_kj) / safe, 0.0)
    uk, vk = u[..., :, k], v[..., :, k]
    cvk = (cm @ vk[..., None])[..., 0]
    du = (u @ a[..., None])[..., 0] + (cvk - (u @ (ut @ cvk[..., None]))[..., 0]) / sk
    dv = (v @ b[..., None])[..., 0]
    return du[..., :, None] * vk[..., None, :] + uk[..., :, None] * dv[..., None, :]
