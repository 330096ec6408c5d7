"""Helpers of ``rules/linalg.py``: ``@``/``dot``/``tensordot``/``einsum`` adjoints,
``solve``, ``det``/``slogdet``, ``cholesky`` and ``norm``.
"""

from __future__ import annotations

import functools
import math
import string

import numpy as np

from ..errors import ADTransformError
from .adjoints import unbroadcast
from .reductions import _divide_or_zero, _tied
from .values import _dtype_of, _expand, _scalar_like, refuse_complex


def _as_matrix_pair(x, y):
    x2 = x[None, :] if np.ndim(x) == 1 else x
    y2 = y[:, None] if np.ndim(y) == 1 else y
    return x2, y2


def _result_as_matrix(g, x, y):
    if np.ndim(g) == 0 and (np.ndim(x) > 1 or np.ndim(y) > 1):
        # a scalar adjoint of an array result (one still 0: its branch was not taken)
        g = np.broadcast_to(g, _matmul_shape(np.shape(x), np.shape(y)))
    if np.ndim(x) == 1 and np.ndim(y) == 1:
        return np.reshape(g, (1, 1))
    if np.ndim(x) == 1:
        return np.expand_dims(g, -2)
    if np.ndim(y) == 1:
        return np.expand_dims(g, -1)
    return g


def _matmul_shape(x_shape: tuple, y_shape: tuple) -> tuple:
    """The shape of ``x @ y`` for arrays of these shapes (at least one of them 2-D+)."""
    if len(x_shape) == 1:
        return y_shape[:-2] + y_shape[-1:]
    if len(y_shape) == 1:
        return x_shape[:-1]
    return np.broadcast_shapes(x_shape[:-2], y_shape[:-2]) + (x_shape[-2], y_shape[-1])


def _in_kind_of(d, x):
    """``d`` as the adjoint of ``x``: complex where ``x`` is, even when this contribution
    is real (the backward sweep adds later ones into it in place, keeping its dtype)."""
    return d + 0j if np.iscomplexobj(x) and not np.iscomplexobj(d) else d


def _real_ndarrays(*values) -> bool:
    """Whether all ``values`` are plain float ndarrays: the fast paths' case (subclasses
    and complex values take the general paths, which keep a real operand's part)."""
    return all(type(v) is np.ndarray and v.dtype.kind == "f" for v in values)


def _is_matrix_vector(g, x, y) -> bool:
    """Whether ``x @ y`` is a matrix times a vector, a vector times a matrix or a dot
    product of two vectors (ndarrays, no batch), with ``g`` the adjoint of all of it."""
    if not _real_ndarrays(g, x, y):
        return False
    if x.ndim == 2 and y.ndim == 1:
        return g.shape == (x.shape[0],)
    if x.ndim == 1 and y.ndim == 2:
        return g.shape == (y.shape[1],)
    return x.ndim == y.ndim == 1 and g.ndim == 0


def _matrix_vector_left(g, x, y):
    """The adjoint of ``x`` in a matrix-vector ``x @ y`` as written by hand (``None`` for
    any other form): ``outer(g, y)``, ``y @ g`` or ``g * y``."""
    if not _is_matrix_vector(g, x, y):
        return None
    if x.ndim == 2:
        return np.outer(g, y)
    return y @ g if y.ndim == 2 else g * y


def _matrix_vector_right(g, x, y):
    """The adjoint of ``y`` in a matrix-vector ``x @ y`` as written by hand (``None`` for
    any other form): ``x.T @ g``, ``outer(x, g)`` or ``g * x``."""
    if not _is_matrix_vector(g, x, y):
        return None
    if y.ndim == 2:
        return np.outer(x, g)
    return x.T @ g if x.ndim == 2 else g * x


def matmul_adjoint_left(g, x, y):
    """The adjoint of ``x`` in ``x @ y`` (1-D, 2-D, batched; scalars for ``np.dot``)."""
    if _real_ndarrays(g, x, y) and g.ndim == x.ndim == y.ndim == 2 and len(g) == len(x):
        return g @ y.T  # two matrices, g the adjoint of all of x @ y: as written by hand
    vector_form = _matrix_vector_left(g, x, y)
    if vector_form is not None:
        return vector_form
    if np.ndim(x) == 0 or np.ndim(y) == 0:
        return _in_kind_of(unbroadcast(np.sum(g * y) if np.ndim(x) == 0 else g * y, x), x)
    _, y2 = _as_matrix_pair(x, y)
    g2 = _result_as_matrix(g, x, y)
    dx = g2 @ np.swapaxes(y2, -1, -2)
    if np.ndim(x) == 1:
        dx = np.sum(dx, axis=tuple(range(dx.ndim - 1)))
    return _in_kind_of(unbroadcast(dx, x), x)


def matmul_adjoint_right(g, x, y):
    """The adjoint of ``y`` in ``x @ y``."""
    if _real_ndarrays(g, x, y) and g.ndim == x.ndim == y.ndim == 2 and g.shape[1] == y.shape[1]:
        return x.T @ g  # two matrices, g the adjoint of all of x @ y: as written by hand
    vector_form = _matrix_vector_right(g, x, y)
    if vector_form is not None:
        return vector_form
    if np.ndim(x) == 0 or np.ndim(y) == 0:
        return _in_kind_of(unbroadcast(np.sum(g * x) if np.ndim(y) == 0 else g * x, y), y)
    x2, _ = _as_matrix_pair(x, y)
    g2 = _result_as_matrix(g, x, y)
    dy = np.swapaxes(x2, -1, -2) @ g2
    if np.ndim(y) == 1:
        dy = np.sum(dy, axis=tuple(range(dy.ndim - 2)) + (dy.ndim - 1,))
    return _in_kind_of(unbroadcast(dy, y), y)


def dot_adjoint_left(g, a, b):
    """The adjoint of ``a`` in ``np.dot(a, b)``.

    For ``b`` with 3 or more dimensions ``np.dot`` is not ``matmul``: it pairs the last
    axis of ``a`` with the second-to-last of ``b`` and keeps all other axes of both.
    """
    if np.ndim(a) == 0 or np.ndim(b) < 3:
        return matmul_adjoint_left(g, a, b)
    na, nb = np.ndim(a) - 1, np.ndim(b) - 2
    return np.tensordot(g, b, axes=(list(range(na, na + nb + 1)), [*range(nb), nb + 1]))


def dot_adjoint_right(g, a, b):
    """The adjoint of ``b`` in ``np.dot(a, b)``."""
    if np.ndim(a) == 0 or np.ndim(b) < 3:
        return matmul_adjoint_right(g, a, b)
    na = np.ndim(a) - 1
    return np.moveaxis(np.tensordot(a, g, axes=(list(range(na)), list(range(na)))), 0, -2)


def norm_adjoint(g, ans, x, ord=None, axis=None, keepdims=False):
    """The adjoint of ``np.linalg.norm`` (vector and matrix norms); always a new array.

    Vector norms: ``ord`` None/2 (0 at the origin, a subgradient), 1 (``sign(x)``, 0 at
    0), ``inf``/``-inf`` (split equally between tied largest/smallest ``|x_i|``), 0 (a
    count: zero gradient) and any other real ``p``. Matrix norms (a 2-D argument with
    ``ord`` given, or a 2-tuple ``axis``): ``'fro'``, ``'nuc'`` (``U V^T``), 2 and -2 (the
    outer product of the singular vectors of the largest / smallest singular value, split
    equally between tied ones: ``U_B V_B^T / |B|``, independent of the basis LAPACK picks;
    0 where the smallest is 0), 1, -1, ``inf``, ``-inf`` (the column / row of largest or
    smallest absolute sum; ties split equally). ``'nuc'`` leaves out zero singular values
    (as ``abs`` at 0: the minimum-norm subgradient ``U_r V_r^T``). Vector ``ord`` below 1
    (other than 0) and negative: the same formula as ``p >= 1``, refused at an entry 0.
    """
    x = np.asarray(x)
    refuse_complex(x, "np.linalg.norm")
    dtype = _dtype_of(x, g)
    if axis is None:
        axes = tuple(range(x.ndim))
        matrix = ord is not None and x.ndim == 2
    else:
        axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
        axes = tuple(int(a) % x.ndim for a in axes)
        matrix = len(axes) == 2
    g = _expand(np.asarray(g, dtype=dtype), tuple(sorted(axes)), keepdims)
    ans = _expand(np.asarray(ans, dtype=dtype), tuple(sorted(axes)), keepdims)
    if matrix:
        return _matrix_norm_adjoint(g, ans, x.astype(dtype, copy=False), ord, axes)
    sign = np.sign(x).astype(dtype, copy=False)
    if ord in (None, 2) or (ord == "fro" and not matrix):
        return _divide_or_zero(g * x, ans)
    if ord == 1:
        return g * sign
    if ord == np.inf or ord == -np.inf:
        return g * sign * _tied(np.abs(x), ans, tuple(sorted(axes)))
    if ord == 0:
        return np.zeros(x.shape, dtype=dtype)
    if isinstance(ord, (int, float, np.integer, np.floating)) and ord >= 1:
        ratio = _divide_or_zero(np.abs(x), ans)
        return g * sign * ratio ** (ord - 1)
    if isinstance(ord, (int, float, np.integer, np.floating)) and np.all(x != 0):
        # 0 < p < 1 and p < 0: the same formula, defined where no entry is 0
        return g * sign * (np.abs(x) / ans) ** (ord - 1)
    raise ADTransformError(
        f"np.linalg.norm: the vector norm ord={ord!r} has no derivative at an entry 0 "
        "(ord < 1); use ord >= 1, inf, -inf or 0 there"
    )


def _matrix_norm_adjoint(g, ans, x, ord, axes):
    rows, cols = axes
    xm = np.moveaxis(x, (rows, cols), (-2, -1))
    gm = np.moveaxis(g, (rows, cols), (-2, -1))
    am = np.moveaxis(ans, (rows, cols), (-2, -1))
    if ord in (None, "fro"):
        d = _divide_or_zero(gm * xm, am)
    elif ord == "nuc":
        u, s, vh = np.linalg.svd(xm, full_matrices=False)
        d = gm * ((u * (s > _rank_tolerance(s, xm.shape))[..., None, :]) @ vh)
    elif ord in (2, -2):
        u, s, vh = np.linalg.svd(xm, full_matrices=False)
        extreme = s[..., :1] if ord == 2 else s[..., -1:]
        tol = _rank_tolerance(s, xm.shape)
        tied = ((np.abs(s - extreme) <= tol) & (extreme > tol)).astype(s.dtype)
        weights = tied / np.maximum(np.sum(tied, axis=-1, keepdims=True), 1)
        d = gm * ((u * weights[..., None, :]) @ vh)
    elif ord in (1, -1, np.inf, -np.inf):
        over_rows = ord in (1, -1)  # 1-norm: largest absolute column sum
        sums = np.sum(np.abs(xm), axis=-2 if over_rows else -1, keepdims=True)
        d = gm * np.sign(xm) * _tied(sums, am, (-1,) if over_rows else (-2,))
    else:
        raise ADTransformError(f"np.linalg.norm: the matrix norm ord={ord!r} is not supported")
    return np.moveaxis(d, (-2, -1), (rows, cols))


def _rank_tolerance(s, shape):
    """Singular values within this of each other are tied, and below it zero."""
    scale = np.max(s, axis=-1, keepdims=True) if s.shape[-1] else 0.0
    return 32 * max(shape[-2:]) * np.finfo(s.dtype).eps * scale


# -- solves, determinants, decompositions, einsum ------------------------------------


def _tensordot_axes(axes, na, nb):
    if np.ndim(axes) == 0:
        n = int(axes)
        return list(range(na - n, na)), list(range(n))
    axes_a, axes_b = axes
    axes_a = [axes_a] if np.ndim(axes_a) == 0 else list(axes_a)
    axes_b = [axes_b] if np.ndim(axes_b) == 0 else list(axes_b)
    return [int(i) % na for i in axes_a], [int(i) % nb for i in axes_b]


def tensordot_adjoint_left(g, a, b, axes=2):
    """The adjoint of ``a`` in ``np.tensordot(a, b, axes)``."""
    a_in, a, b = a, np.asarray(a), np.asarray(b)
    axes_a, axes_b = _tensordot_axes(axes, a.ndim, b.ndim)
    free_a = [i for i in range(a.ndim) if i not in axes_a]
    free_b = [j for j in range(b.ndim) if j not in axes_b]
    t = np.tensordot(g, b, axes=(list(range(len(free_a), len(free_a) + len(free_b))), free_b))
    order = free_a + [axes_a[axes_b.index(j)] for j in sorted(axes_b)]
    return _scalar_like(np.transpose(t, np.argsort(order)), a_in)


def tensordot_adjoint_right(g, a, b, axes=2):
    """The adjoint of ``b`` in ``np.tensordot(a, b, axes)``."""
    b_in, a, b = b, np.asarray(a), np.asarray(b)
    axes_a, axes_b = _tensordot_axes(axes, a.ndim, b.ndim)
    free_a = [i for i in range(a.ndim) if i not in axes_a]
    free_b = [j for j in range(b.ndim) if j not in axes_b]
    t = np.tensordot(a, g, axes=(free_a, list(range(len(free_a)))))
    order = [axes_b[axes_a.index(i)] for i in sorted(axes_a)] + free_b
    return _scalar_like(np.transpose(t, np.argsort(order)), b_in)


def inner_adjoint_left(g, a, b):
    """The adjoint of ``a`` in ``np.inner(a, b)`` (a product over the last axes)."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return unbroadcast(np.sum(g * b) if np.ndim(a) == 0 else g * b, a)
    return tensordot_adjoint_left(g, a, b, ([np.ndim(a) - 1], [np.ndim(b) - 1]))


def inner_adjoint_right(g, a, b):
    """The adjoint of ``b`` in ``np.inner(a, b)``."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return unbroadcast(np.sum(g * a) if np.ndim(b) == 0 else g * a, b)
    return tensordot_adjoint_right(g, a, b, ([np.ndim(a) - 1], [np.ndim(b) - 1]))


def outer_adjoint_left(g, a, b):
    """The adjoint of ``a`` in ``np.outer(a, b)`` (both flattened)."""
    return _scalar_like(np.reshape(np.asarray(g) @ np.ravel(b), np.shape(a)), a)


def outer_adjoint_right(g, a, b):
    """The adjoint of ``b`` in ``np.outer(a, b)``."""
    return _scalar_like(np.reshape(np.ravel(a) @ np.asarray(g), np.shape(b)), b)


def vdot_adjoint(g, other, x, conjugated=False):
    """The adjoint of ``x`` in ``np.vdot`` (a dot product of the flattened arrays, the
    first one conjugated): ``g conj(other)`` for the second, ``conj(g other)`` for the
    first (``conjugated``), under the convention of docs/conventions/complex.md."""
    d = g * np.ravel(other) if conjugated else g * np.conjugate(np.ravel(other))
    if conjugated:
        d = np.conjugate(d)
    return _scalar_like(np.reshape(d, np.shape(x)), x)


def kron_adjoint(g, a, b, left=True):
    """The adjoint of ``a`` (``left``) or ``b`` in ``np.kron(a, b)``."""
    target = a if left else b
    a, b = np.asarray(a), np.asarray(b)
    nd = max(a.ndim, b.ndim)
    sa = (1,) * (nd - a.ndim) + a.shape
    sb = (1,) * (nd - b.ndim) + b.shape
    g = np.reshape(g, [v for pair in zip(sa, sb) for v in pair])
    if left:
        b_grid = np.reshape(b, [v for n in sb for v in (1, n)])
        d = np.reshape(np.sum(g * b_grid, axis=tuple(range(1, 2 * nd, 2))), a.shape)
    else:
        a_grid = np.reshape(a, [v for n in sa for v in (n, 1)])
        d = np.reshape(np.sum(g * a_grid, axis=tuple(range(0, 2 * nd, 2))), b.shape)
    return _scalar_like(d, target)


def _mT(x):
    return np.swapaxes(x, -1, -2)


def _solves_vectors(a, b) -> bool:
    """Whether ``np.linalg.solve(a, b)`` takes ``b`` as (a stack of) vectors: in NumPy 2
    only a 1-D ``b``; in NumPy 1 also a ``b`` with one axis less than ``a``."""
    return np.ndim(b) == 1 or (_NUMPY_1 and np.ndim(b) == np.ndim(a) - 1)


_NUMPY_1 = int(np.__version__.split(".")[0]) < 2


def solve_cotangent(g, a, b):
    """``solve(a^T, g)``: the adjoint of ``b`` in ``x = np.linalg.solve(a, b)``, before
    un-broadcasting. A triangular ``a`` (``np.linalg.solve(L, y)`` with a Cholesky
    factor) is solved as one, with SciPy when it is installed."""
    if (
        type(g) is np.ndarray
        and g.dtype.kind == "f"
        and g.ndim <= 2
        and g.shape == np.shape(b)
        and (triangle := _triangle_of(a)) is not None
    ):
        solve_triangular = _scipy_solve_triangular()
        if solve_triangular is not None:
            return solve_triangular(a, g, trans="T", lower=triangle == "lower", check_finite=False)
    if _solves_vectors(a, b):
        return np.linalg.solve(_mT(a), np.asarray(g)[..., None])[..., 0]
    return np.linalg.solve(_mT(a), g)


# below this size a general solve costs less than telling whether a matrix is triangular
_TRIANGLE_CHECK_SIZE = 32


def _triangle_of(a) -> str | None:
    """``'lower'`` or ``'upper'`` if ``a`` is one real triangular matrix (of size 32 or
    more), else ``None``. A full matrix is told apart by its corners, at no cost."""
    if type(a) is not np.ndarray or a.ndim != 2 or a.dtype.kind != "f":
        return None
    n = a.shape[0]
    if n < _TRIANGLE_CHECK_SIZE or a.shape[1] != n:
        return None
    if a[0, n - 1] == 0 and _zero_outside_triangle(a, lower=True):
        return "lower"
    if a[n - 1, 0] == 0 and _zero_outside_triangle(a, lower=False):
        return "upper"
    return None


def _zero_outside_triangle(a: np.ndarray, lower: bool) -> bool:
    """Whether the square matrix ``a`` is 0 outside its lower (``lower``) or upper
    triangle (NaN is not 0), read through a boolean mask: no ``np.triu`` copy. A
    Fortran-ordered ``a`` (``L.T``) is read as its C-ordered transpose."""
    if a.flags.f_contiguous and not a.flags.c_contiguous:
        a, lower = a.T, not lower
    n = a.shape[0]
    if n <= _CACHED_MASK_SIZE:
        mask = _outside_triangle(n, lower)
    else:
        mask = _outside_triangle.__wrapped__(n, lower)
    return not a[mask].any()


def solve_matrix_adjoint(gb, x, a, b):
    """The adjoint of ``a`` in ``x = np.linalg.solve(a, b)``: ``-gb x^T``."""
    if _solves_vectors(a, b):
        return -(gb[..., :, None] * np.asarray(x)[..., None, :])
    return -(gb @ _mT(x))


def det_adjoint(g, ans, a):
    """The adjoint of ``np.linalg.det``: ``g`` times the cofactor matrix ``det(a) a^{-T}``.

    For a singular matrix the cofactors come from the SVD (exact for rank ``n - 1``).
    """
    a = np.asarray(a)
    ans = np.asarray(ans)
    g = np.asarray(g)
    if np.all(ans != 0):
        return (g * ans)[..., None, None] * _mT(np.linalg.inv(a))
    u, s, vh = np.linalg.svd(a)
    others = np.ones_like(s)
    n = s.shape[-1]
    if n > 1:
        left = np.cumprod(s[..., :-1], axis=-1)
        right = np.cumprod(s[..., :0:-1], axis=-1)[..., ::-1]
        others[..., 1:] *= left
        others[..., :-1] *= right
    signs = np.linalg.det(u) * np.linalg.det(vh)
    cofactor = signs[..., None, None] * ((u * others[..., None, :]) @ vh)
    return g[..., None, None] * cofactor


def slogdet_adjoint(g, a):
    """The adjoint of ``a`` in ``sign, logabsdet = np.linalg.slogdet(a)``: ``g_logabsdet
    a^{-T}`` (the sign is piecewise constant)."""
    refuse_complex(a, "np.linalg.slogdet")
    g_log = np.asarray(g[1])
    return g_log[..., None, None] * _mT(np.linalg.inv(a))


def cholesky_adjoint(g, ans, a, upper=False):
    """The adjoint of ``np.linalg.cholesky``, for the triangle NumPy reads.

    I. Murray, "Differentiation of the Cholesky decomposition", arXiv:1602.07527 (2016),
    the blocked-free formula of section 3.1: with ``L L^T = A`` and ``Phi`` the lower
    triangle with half the diagonal, ``P = Phi(L^T dL)``, ``S = L^{-T} P L^{-1}`` (two
    triangular solves, no inverse) and ``dA = Phi(S + S^T)``. NumPy reads only the lower
    triangle of ``a`` (the upper one with ``upper=True``), so that is where the gradient
    lies: an off-diagonal entry stands for both symmetric positions.
    """
    refuse_complex(ans, "np.linalg.cholesky")
    L = _mT(ans) if upper else np.asarray(ans)
    gL = _mT(g) if upper else np.asarray(g)
    blas = _triangular_blas(L, gL)
    if blas is not None:
        s = _murray_product_blas(L, gL, *blas)
    else:
        phi = np.tril(_mT(L) @ gL)
        _halve_diagonal(phi)
        s = _solve_lower_transposed(L, _mT(_solve_lower_transposed(L, _mT(phi))))
    da = s + _mT(s)  # S + S^T: symmetric
    _keep_triangle(da, lower=not upper)
    _halve_diagonal(da)
    return da


def _murray_product_blas(L: np.ndarray, gL: np.ndarray, trmm, trsm) -> np.ndarray:
    """``S = L^{-T} Phi(L^T gL) L^{-1}`` for one real lower triangular matrix ``L`` by BLAS
    level 3: a triangular product (``trmm``, half a general product's work) and two
    triangular solves with a matrix right-hand side (``trsm``, one from each side, so no
    transposed copies). Fortran-ordered arrays as BLAS wants them: ``L.T`` of a C-ordered
    ``L`` is ``L^T`` without a copy; ``trmm`` writes into a new array (``gL`` is the
    caller's), the solves into that one."""
    upper_t = L.T  # the upper triangular matrix L^T (its upper triangle is L's lower one)
    phi = trmm(1.0, upper_t, gL, side=0, lower=0, trans_a=0)  # L^T gL, a new array
    _keep_triangle(phi, lower=True)
    _halve_diagonal(phi)
    x = trsm(1.0, upper_t, phi, side=0, lower=0, trans_a=0, overwrite_b=1)  # L^{-T} phi
    return trsm(1.0, upper_t, x, side=1, lower=0, trans_a=1, overwrite_b=1)  # x L^{-1}


def _triangular_blas(L, gL) -> tuple | None:
    """SciPy's BLAS ``trmm`` and ``trsm`` for one real float32/float64 square matrix ``L``
    and an adjoint ``gL`` of its shape, or ``None`` (a stack, another dtype, a zero adjoint,
    no SciPy: NumPy's products and solves)."""
    if not (
        type(L) is np.ndarray
        and type(gL) is np.ndarray
        and L.ndim == 2
        and L.shape == gL.shape
        and L.shape[0] == L.shape[1]
        and L.shape[0] > 0
        and L.dtype.char in "fd"
        and gL.dtype.char in "fd"
    ):
        return None
    get_blas_funcs = _scipy_get_blas_funcs()
    if get_blas_funcs is None:
        return None
    return tuple(get_blas_funcs(("trmm", "trsm"), (L, gL)))


@functools.cache
def _scipy_get_blas_funcs():
    """``scipy.linalg.get_blas_funcs``, or ``None`` without SciPy (imported at the first
    Cholesky adjoint that can use it)."""
    if _scipy_solve_triangular() is None:  # one switch for SciPy's presence (tests)
        return None
    try:
        from scipy.linalg import get_blas_funcs
    except ImportError:
        return None
    return get_blas_funcs


def _keep_triangle(m: np.ndarray, lower: bool) -> None:
    """Zero the strict upper (``lower``) or strict lower triangle of the (stack of) square
    matrices ``m``, in place: ``np.tril``/``np.triu`` without a new array."""
    n = m.shape[-1]
    if n <= _CACHED_MASK_SIZE:
        mask = _outside_triangle(n, lower)
    else:
        mask = _outside_triangle.__wrapped__(n, lower)
    np.copyto(m, 0, where=mask)


_CACHED_MASK_SIZE = 1024  # masks of larger matrices are made per call (n * n bytes)


@functools.lru_cache(maxsize=8)
def _outside_triangle(n: int, lower: bool) -> np.ndarray:
    """The read-only boolean mask of what lies outside the lower (``lower``) or upper
    triangle of an n x n matrix: its strict upper or strict lower triangle."""
    mask = ~np.tri(n, n, 0, dtype=bool) if lower else np.tri(n, n, -1, dtype=bool)
    mask.flags.writeable = False
    return mask


def _halve_diagonal(m: np.ndarray) -> None:
    """Halve the diagonal of the (stack of) square matrices ``m``, in place."""
    n = m.shape[-1]
    if m.ndim == 2 and m.flags.c_contiguous:
        m.reshape(-1)[:: n + 1] *= 0.5  # the diagonal as a strided view
    elif m.ndim == 2 and m.flags.f_contiguous:
        m.T.reshape(-1)[:: n + 1] *= 0.5  # the same diagonal of the C-ordered transpose
    else:
        m[..., np.arange(n), np.arange(n)] *= 0.5


def _solve_lower_transposed(L: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``L^{-T} b`` for a lower triangular ``L`` (a stack of them): a triangular solve
    with SciPy when it is installed, else NumPy's general solver."""
    solve_triangular = _scipy_solve_triangular() if L.ndim == 2 else None
    if solve_triangular is not None and L.dtype.kind == "f":
        return solve_triangular(L, b, trans="T", lower=True, check_finite=False)
    return np.linalg.solve(_mT(L), b)


@functools.cache
def _scipy_solve_triangular():
    """``scipy.linalg.solve_triangular``, or ``None`` without SciPy (an optional extra:
    imported at the first adjoint that can use it, never at ``import ad_transform``)."""
    try:
        from scipy.linalg import solve_triangular
    except ImportError:
        return None
    return solve_triangular


def einsum_adjoint(g, subscripts, k, *operands):
    """The adjoint of operand ``k`` of ``np.einsum(subscripts, *operands)``.

    Another einsum: the other operands and ``g`` contracted to operand ``k``'s labels.
    A label repeated in operand ``k`` (a diagonal, ``'ii'``) is linked through an identity
    matrix; a label that only operand ``k`` has (summed away) is broadcast with ones; an
    ellipsis is spelled out in letters (a broadcast size-1 axis gets a label of its own).
    The plan (subscripts, extra operands, contraction order) is made once per subscripts,
    operand and shapes (``_einsum_adjoint_plan``).
    """
    if not isinstance(subscripts, str):  # the interleaved form: subscripts is operand 0
        return _interleaved_adjoint(g, k + 1, subscripts, *operands)
    arrays = [o if type(o) is np.ndarray else np.asarray(o) for o in operands if o is not None]
    spec, others, extras, path = _einsum_adjoint_plan(subscripts, k, tuple(a.shape for a in arrays))
    mine = arrays[k]
    if type(g) is np.ndarray and g.dtype == mine.dtype and g.dtype.kind in "fc":
        dtype = g.dtype
    else:
        dtype = _dtype_of(mine, g)
    values = [arrays[j] for j in others]
    values.append(g if type(g) is np.ndarray else np.asarray(g))
    for eye, size in extras:
        values.append(np.eye(size, dtype=dtype) if eye else np.ones(size, dtype=dtype))
    if type(path) is tuple:  # a matrix product of two arrays in some layout
        result = _as_matrix_product(path, *values)
    else:
        result = np.einsum(spec, *values, optimize=path)
    if type(result) is not np.ndarray or result.dtype != dtype:
        result = np.asarray(result, dtype=dtype)
    if result.shape != mine.shape:  # an axis of length 1 that einsum broadcast
        result = unbroadcast(result, mine)
    return _scalar_like(result, operands[k])


@functools.lru_cache(maxsize=1024)
def _einsum_adjoint_plan(subscripts: str, k: int, shapes: tuple) -> tuple:
    """How to compute the adjoint of operand ``k`` of ``np.einsum(subscripts, ...)`` with
    operands of these shapes: ``(spec, others, extras, path)``. The einsum ``spec`` reads
    the operands ``others`` (their positions), then ``g``, then one identity matrix
    (``(True, size)``) or vector of ones (``(False, size)``) per entry of ``extras``;
    ``path`` is the ``optimize`` argument: ``False`` for two operands (NumPy's C loop), a
    contraction order found once for more; or, for two operands whose every label is in
    exactly two of the operands and the result, the matrix product that computes it
    (``_matrix_product_plan``)."""
    terms, output, sizes, fresh = _einsum_labels(subscripts, list(shapes))
    target = terms[k]
    others = tuple(j for j in range(len(terms)) if j != k)
    inputs = [terms[j] for j in others] + [output]
    extras = []
    unique = []
    for label in target:
        if label in unique:  # a diagonal: a fresh label tied to the first by an identity
            new = next(fresh)
            sizes[new] = sizes[label]
            unique.append(new)
            inputs.append(label + new)
            extras.append((True, sizes[label]))
        else:
            unique.append(label)
    present = set("".join(inputs))
    for label in unique:
        if label not in present:  # summed away in the forward: broadcast back
            inputs.append(label)
            extras.append((False, sizes[label]))
            present.add(label)
    spec = ",".join(inputs) + "->" + "".join(unique)
    path = False
    if _sizes_agree(terms, shapes, sizes):
        path = _matrix_product_plan(inputs, "".join(unique), sizes) or False
    if len(inputs) > 2:
        ghosts = [np.broadcast_to(np.zeros(()), tuple(sizes[c] for c in t)) for t in inputs]
        path = np.einsum_path(spec, *ghosts, optimize="greedy")[0]
    return spec, others, tuple(extras), path


def _sizes_agree(terms: list[str], shapes: tuple, sizes: dict) -> bool:
    """Whether each label has one size in every operand (no axis of length 1 broadcast
    against a longer one)."""
    return all(
        sizes[label] == n for term, shape in zip(terms, shapes) for label, n in zip(term, shape)
    )


def _matrix_product_plan(inputs: list[str], output: str, sizes: dict) -> tuple | None:
    """``np.einsum(f"{a},{b}->{output}", A, B)`` as one matrix product (BLAS), if it is
    one: every label in exactly two of ``a``, ``b`` and ``output`` (no diagonal, no batch
    axis, no axis summed in one operand alone). The plan for ``_as_matrix_product``:
    ``(swap, left, right, shape, order)``, the operands taken as ``(B, A)`` if ``swap``,
    ``left``/``right`` how each becomes a matrix (an axis order and a 2-D shape, ``None``
    where nothing is to do), ``shape`` the result's axes before the transposition
    ``order`` (``None``: the product's own). The operand order that needs no final
    transposition is preferred."""
    if len(inputs) != 2:
        return None
    a, b = inputs
    labels = a + b + output
    if any(len(set(t)) != len(t) for t in (a, b, output)):
        return None
    if any(labels.count(c) != 2 for c in labels):
        return None
    plans = []
    for swap, (x, y) in ((False, (a, b)), (True, (b, a))):
        contracted = [c for c in x if c in y]
        free_x = [c for c in x if c not in y]
        free_y = [c for c in y if c not in x]
        left = _as_matrix_plan(x, free_x + contracted, free_x, contracted, sizes)
        right = _as_matrix_plan(y, contracted + free_y, contracted, free_y, sizes)
        shape = tuple(sizes[c] for c in free_x + free_y)
        order = tuple((free_x + free_y).index(c) for c in output)
        identity = order == tuple(range(len(order)))
        plans.append((swap, left, right, shape, None if identity else order))
    return next((p for p in plans if p[4] is None), plans[0])


def _as_matrix_plan(term: str, wanted: list[str], rows: list[str], columns: list[str], sizes):
    """How an operand with axes ``term`` becomes the matrix with axes ``wanted`` grouped
    into ``rows`` and ``columns``: ``(axis order or None, 2-D shape or None)``."""
    order = tuple(term.index(c) for c in wanted)
    shape = (math.prod(sizes[c] for c in rows), math.prod(sizes[c] for c in columns))
    flat = len(rows) == 1 and len(columns) == 1
    return (None if order == tuple(range(len(order))) else order, None if flat else shape)


def _as_matrix_product(plan: tuple, first, second):
    """The einsum of two operands a matrix product computes (``_matrix_product_plan``)."""
    swap, left, right, shape, order = plan
    if swap:
        first, second = second, first
    product = _as_matrix(first, *left) @ _as_matrix(second, *right)
    if product.shape != shape:
        product = product.reshape(shape)
    return product if order is None else product.transpose(order)


def _as_matrix(x, order, shape):
    if order is not None:
        x = x.transpose(order)
    return x if shape is None else x.reshape(shape)


def _einsum_labels(subscripts, shapes):
    """Operand and output labels of an einsum, one letter per axis (no ellipsis)."""
    spec = subscripts.replace(" ", "")
    lhs, arrow, rhs = spec.partition("->")
    raw = lhs.split(",")
    used = set(c for c in spec if c.isalpha())
    fresh = iter(c for c in string.ascii_letters if c not in used)
    ellipsis_shapes = []
    for term, shape in zip(raw, shapes):
        if "..." in term:
            before, after = term.split("...")
            ellipsis_shapes.append(tuple(shape[len(before) : len(shape) - len(after)]))
        else:
            ellipsis_shapes.append(())
    n_ell = max((len(s) for s in ellipsis_shapes), default=0)
    ell_labels = [next(fresh) for _ in range(n_ell)]
    broadcast = [1] * n_ell
    for s in ellipsis_shapes:
        for i, n in enumerate(s):
            position = n_ell - len(s) + i
            broadcast[position] = max(broadcast[position], n)
    terms, sizes = [], {}
    for term, shape, ell in zip(raw, shapes, ellipsis_shapes):
        labels = []
        if "..." in term:
            before, after = term.split("...")
            middle = []
            for i, n in enumerate(ell):
                position = n_ell - len(ell) + i
                if n == 1 and broadcast[position] != 1:
                    middle.append(next(fresh))
                else:
                    middle.append(ell_labels[position])
            labels = list(before) + middle + list(after)
        else:
            labels = list(term)
        for label, n in zip(labels, shape):
            sizes[label] = n
        terms.append("".join(labels))
    if arrow:
        output = rhs.replace("...", "".join(ell_labels))
    else:
        counts = {c: lhs.count(c) for c in set(lhs) if c.isalpha()}
        output = "".join(ell_labels) + "".join(sorted(c for c, n in counts.items() if n == 1))
    return terms, output, sizes, fresh


# -- issue 16: cross products, einsum's interleaved form --------------------------------------


def _cross_axes(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """``np.cross``'s axes: ``axis`` given overrides the three others."""
    if axis is not None:
        axisa = axisb = axisc = axis
    return int(axisa), int(axisb), int(axisc)


def _as_3_vectors(v):
    """Vectors along the last axis, a 2-vector given a zero third component."""
    v = np.asarray(v)
    if v.shape[-1] == 2:
        return np.concatenate([v, np.zeros(v.shape[:-1] + (1,), dtype=v.dtype)], axis=-1)
    return v


def cross_adjoint(g, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None, of_b=False):
    """The adjoint of ``a`` (or ``b``, ``of_b``) in ``np.cross(a, b, axisa, axisb, axisc,
    axis)``. With ``c = a x b``: ``<g, a x b> = <a, b x g> = <b, g x a>``, so ``d a = b x g``
    and ``d b = g x a`` (the triple product identity). 2-vectors are 3-vectors with a zero
    third component (of two 2-vectors the result is that third component alone), and
    broadcast vector stacks are summed back."""
    axisa, axisb, axisc = _cross_axes(a, b, axisa, axisb, axisc, axis)
    am = np.moveaxis(np.asarray(a), axisa, -1)
    bm = np.moveaxis(np.asarray(b), axisb, -1)
    g = np.asarray(g)
    if am.shape[-1] == 2 and bm.shape[-1] == 2:  # a scalar (the z component) per pair
        g3 = np.stack([np.zeros_like(g), np.zeros_like(g), g], axis=-1)
    else:
        g3 = np.moveaxis(g, axisc, -1)
    if of_b:
        d, target_moved, target, target_axis = np.cross(g3, _as_3_vectors(am)), bm, b, axisb
    else:
        d, target_moved, target, target_axis = np.cross(_as_3_vectors(bm), g3), am, a, axisa
    d = unbroadcast(d[..., : target_moved.shape[-1]], target_moved)
    d = np.moveaxis(np.asarray(d, dtype=_dtype_of(target, g)), -1, target_axis)
    return _scalar_like(d, target)


def _einsum_letter(label) -> str:
    """The subscript letter of an integer label of einsum's interleaved form (0-25: a-z,
    26-51: A-Z, as NumPy reads them)."""
    return string.ascii_letters[int(label)]


def _interleaved_spec(arguments):
    """``np.einsum(A, [0, 1], B, [1, 2], [0, 2])`` as ``('ab,bc->ac', [A, B], positions)``:
    the subscripts string, the operands and each operand's position among ``arguments``."""
    arguments = [a for a in arguments if a is not None]
    has_output = len(arguments) % 2 == 1
    pairs = arguments[: len(arguments) - 1] if has_output else arguments

    def term(sublist) -> str:
        return "".join("..." if s is Ellipsis else _einsum_letter(s) for s in sublist)

    operands = pairs[0::2]
    spec = ",".join(term(s) for s in pairs[1::2])
    if has_output:
        spec += "->" + term(arguments[-1])
    return spec, operands, list(range(0, len(pairs), 2))


def _interleaved_adjoint(g, position, *arguments):
    """The adjoint of argument ``position`` of ``np.einsum(*arguments)`` in the interleaved
    form (``einsum(A, [0, 1], B, [1, 2], [0, 2])``); a label list has none."""
    spec, operands, positions = _interleaved_spec(arguments)
    if position not in positions:
        raise ADTransformError("np.einsum: a label list of the interleaved form has no adjoint")
    return einsum_adjoint(g, spec, positions.index(position), *operands)
