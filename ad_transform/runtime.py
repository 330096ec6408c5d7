"""Helpers the generated code calls at run time.

Kept small and out of the scalar hot path: code specialised for Python numbers
uses plain arithmetic and none of these.
"""

from __future__ import annotations

import numpy as np

from .errors import ADTransformError


def unbroadcast(g, x):
    """Sum ``g`` down to the shape of ``x``, undoing NumPy broadcasting."""
    x_shape = np.shape(x)
    g_shape = np.shape(g)
    if g_shape == x_shape:
        return g
    extra = len(g_shape) - len(x_shape)
    if extra < 0 or any(n < m for n, m in zip(g_shape[extra:], x_shape)):
        # g is smaller than x: an adjoint still at its initial 0 (a branch not taken)
        # or a scalar adjoint of a broadcast result; spread it over x's shape.
        g = np.broadcast_to(g, np.broadcast_shapes(g_shape, x_shape))
        g_shape = g.shape
        extra = len(g_shape) - len(x_shape)
    axes = tuple(range(extra)) + tuple(
        extra + i for i, n in enumerate(x_shape) if n == 1 and g_shape[extra + i] != 1
    )
    summed = np.sum(g, axis=axes)
    if not x_shape:
        return float(summed) if isinstance(x, float) else summed
    return np.reshape(summed, x_shape)


def seed(ans):
    """The adjoint ``1`` of a scalar result; an error pointing at ``vjp`` for anything else."""
    if isinstance(ans, (float, int)) and not isinstance(ans, bool):
        return 1.0
    if (
        isinstance(ans, (np.ndarray, np.generic))
        and np.ndim(ans) == 0
        and np.issubdtype(np.asarray(ans).dtype, np.floating)
    ):
        return np.ones_like(ans)[()]
    if isinstance(ans, (np.ndarray, np.generic)) and np.ndim(ans) == 0:
        return 1.0
    if isinstance(ans, np.ndarray):
        raise ADTransformError(
            f"grad needs a function with a scalar output, but it returned an array of shape "
            f"{ans.shape}; use vjp(f) to pull back an output cotangent instead"
        )
    raise ADTransformError(
        f"grad needs a function with a scalar (float) output, but it returned "
        f"{type(ans).__name__} {ans!r:.60}; use vjp(f) for non-scalar outputs"
    )


def zeros_like(x):
    """A zero gradient of the type and shape of ``x``."""
    if isinstance(x, np.ndarray):
        return np.zeros(x.shape, dtype=_float_dtype(x.dtype))
    if isinstance(x, (list, tuple)):
        return ListAdjoint(zeros_like(element) for element in x)
    if isinstance(x, np.generic):
        return _float_dtype(x.dtype).type(0)
    return 0.0


def _float_dtype(dtype: np.dtype) -> np.dtype:
    return dtype if np.issubdtype(dtype, np.inexact) else np.dtype(np.float64)


def as_gradient(dx, x, copy=False):
    """The gradient ``dx`` with the type and shape of ``x`` (an ndarray for an ndarray).

    ``copy`` is set where ``dx`` may be an array someone else holds (the caller's
    cotangent, another gradient).
    """
    if isinstance(x, np.ndarray):
        if type(dx) is not np.ndarray or dx.shape != x.shape:
            return np.asarray(zeros_like(x) + dx)
        return dx.copy() if copy else dx
    if isinstance(x, (list, tuple)):
        full = zeros_like(x) + dx
        return type(x)(as_gradient(d, e) for d, e in zip(full, x))
    return own(dx) if copy else dx


def item_adjoint(g, index, value):
    """The adjoint of ``value`` in ``a[index] = value``: a copy of ``g[index]``, un-broadcast."""
    if isinstance(g, list):
        return unbroadcast(g[index], value)
    return unbroadcast(np.array(g[index], dtype=g.dtype), value)


def fresh_copy(x):
    """A copy of a list or an array that the backward sweep will change (undo) in place."""
    if isinstance(x, list):
        return list(x)
    return x.copy() if isinstance(x, np.ndarray) else x


def own(x):
    """``x`` itself, or a copy if it is an array someone else may hold."""
    return x.copy() if isinstance(x, np.ndarray) else x


def index_adjoint(g, x, index):
    """The adjoint of ``x[index]``: ``g`` scattered into zeros shaped like ``x``."""
    if isinstance(x, (list, tuple)):
        if not isinstance(index, (int, np.integer)):
            raise ADTransformError(
                f"differentiating through a slice of a {type(x).__name__} is not supported; "
                "index it with integers or use an ndarray"
            )
        return Item(int(index), g, len(x))
    out = np.zeros(np.shape(x), dtype=np.result_type(g, _float_dtype(np.asarray(x).dtype)))
    np.add.at(out, index, g)
    return out


def expand_reduced(g, x, axis=None, keepdims=False):
    """Broadcast the adjoint of a reduction of ``x`` over ``axis`` back to ``x``'s shape."""
    shape = np.shape(x)
    if axis is not None and not keepdims:
        axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
        g = np.expand_dims(g, tuple(a % len(shape) for a in axes))
    return np.broadcast_to(g, shape)


def reduced_count(x, axis=None) -> int:
    """How many elements of ``x`` each result of a reduction over ``axis`` combines."""
    shape = np.shape(x)
    if axis is None:
        return int(np.prod(shape))
    axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    return int(np.prod([shape[a] for a in axes]))


def safe_log(x):
    """``log(x)`` with ``0`` at ``x == 0``: the factor in d/dy x**y, whose limit there is 0."""
    if isinstance(x, np.ndarray):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(x == 0, 0.0, np.log(np.where(x == 0, 1.0, x)))
    if x == 0:
        return 0.0
    return np.log(x) if x < 0 else float(np.log(x))


class ListAdjoint(list):
    """The adjoint of a list or tuple: one adjoint per element, added elementwise.

    ``+=`` adds in place (the backward sweep owns it); ``+`` makes a new one.
    """

    __slots__ = ()

    def __iadd__(self, other):
        if isinstance(other, Item):
            self[other.index] = self[other.index] + other.value
            return self
        if _is_zero(other):
            return self
        if len(other) != len(self):
            raise ValueError(f"adjoints of {len(self)} and {len(other)} elements do not add")
        for k, value in enumerate(other):
            self[k] = self[k] + value
        return self

    def __add__(self, other):
        return ListAdjoint(self).__iadd__(other)

    __radd__ = __add__


class Item:
    """A sparse list adjoint: ``value`` at ``index`` of ``length`` elements (from ``x[i]``)."""

    __slots__ = ("index", "length", "value")

    def __init__(self, index: int, value, length: int) -> None:
        self.index = index if index >= 0 else index + length
        self.value, self.length = value, length

    def __getitem__(self, k):
        return self.value if k == self.index or k + self.length == self.index else 0.0

    def __add__(self, other):
        return ListAdjoint([0.0] * self.length).__iadd__(self).__iadd__(other)

    __radd__ = __add__


def _is_zero(value) -> bool:
    return isinstance(value, (int, float)) and value == 0


def sequence_sum_adjoint(g, x):
    """The adjoint of builtin ``sum(x)`` for a sequence or an array ``x``."""
    if isinstance(x, (list, tuple)):
        return ListAdjoint(unbroadcast(g, element) for element in x)
    return np.broadcast_to(g, np.shape(x))


def _as_matrix_pair(x, y):
    x2 = x[None, :] if np.ndim(x) == 1 else x
    y2 = y[:, None] if np.ndim(y) == 1 else y
    return x2, y2


def _result_as_matrix(g, x, y):
    if np.ndim(x) == 1 and np.ndim(y) == 1:
        return np.reshape(g, (1, 1))
    if np.ndim(x) == 1:
        return np.expand_dims(g, -2)
    if np.ndim(y) == 1:
        return np.expand_dims(g, -1)
    return g


def matmul_adjoint_left(g, x, y):
    """The adjoint of ``x`` in ``x @ y`` (1-D, 2-D, batched; scalars for ``np.dot``)."""
    if np.ndim(x) == 0 or np.ndim(y) == 0:
        return unbroadcast(np.sum(g * y) if np.ndim(x) == 0 else g * y, x)
    _, y2 = _as_matrix_pair(x, y)
    g2 = _result_as_matrix(g, x, y)
    dx = g2 @ np.swapaxes(y2, -1, -2)
    if np.ndim(x) == 1:
        dx = np.sum(dx, axis=tuple(range(dx.ndim - 1)))
    return unbroadcast(dx, x)


def matmul_adjoint_right(g, x, y):
    """The adjoint of ``y`` in ``x @ y``."""
    if np.ndim(x) == 0 or np.ndim(y) == 0:
        return unbroadcast(np.sum(g * x) if np.ndim(y) == 0 else g * x, y)
    x2, _ = _as_matrix_pair(x, y)
    g2 = _result_as_matrix(g, x, y)
    dy = np.swapaxes(x2, -1, -2) @ g2
    if np.ndim(y) == 1:
        dy = np.sum(dy, axis=tuple(range(dy.ndim - 2)) + (dy.ndim - 1,))
    return unbroadcast(dy, y)


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
    """The adjoint of the 2-norm / Frobenius norm; 0 at the origin (a subgradient)."""
    if ord not in (None, 2, "fro") or (ord == 2 and axis is None and np.ndim(x) > 1):
        raise ADTransformError(
            f"np.linalg.norm: only the 2-norm of vectors and the Frobenius norm are "
            f"differentiable so far, not ord={ord!r}"
        )
    if axis is not None and not keepdims:
        axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
        g = np.expand_dims(g, axes)
        ans = np.expand_dims(ans, axes)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ans == 0, 0.0, g * x / np.where(ans == 0, 1.0, ans))
