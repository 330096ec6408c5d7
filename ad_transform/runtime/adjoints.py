"""The pipeline's own helpers: seeds, un-broadcasting, zero adjoints shaped like a value,
the type of the gradients returned, and the adjoint of an element read.
"""

from __future__ import annotations

import numpy as np

from ..errors import ADTransformError
from .tangents import ItemsTangent
from .values import (
    DictAdjoint,
    Fields,
    KeyItem,
    ListAdjoint,
    _float_dtype,
    _is_zero,
    own,
    plain_array,
    truncates,
)


def unbroadcast(g, x):
    """Sum ``g`` down to the shape of ``x``, undoing NumPy broadcasting.

    The adjoint of a real ``x`` is real: a complex ``g`` (``x * 1j``) gives its real part
    (docs/conventions/complex.md)."""
    if type(g) is np.ndarray and type(x) is np.ndarray:
        if g.dtype.kind == "c" and x.dtype.kind != "c":
            g = g.real
        # the common cases, without the generic path's calls: equal shapes, leading axes
        # to sum away (a bias added to a batch), axes of length 1 in x (keepdims)
        g_shape, x_shape = g.shape, x.shape
        if g_shape == x_shape:
            return g
        extra = len(g_shape) - len(x_shape)
        if extra == 1 and g_shape[1:] == x_shape:
            return np.add.reduce(g, 0)
        if extra >= 0 and x_shape:
            axes = list(range(extra))
            for i, m in enumerate(x_shape, extra):
                if m != g_shape[i]:
                    if m != 1:
                        break
                    axes.append(i)
            else:
                summed = np.add.reduce(g, tuple(axes), keepdims=True)
                return summed.reshape(x_shape) if extra else summed
    g, x = plain_array(g), plain_array(x)
    if isinstance(x, (set, frozenset)) and not _is_zero(g):
        raise ADTransformError(
            f"cannot differentiate this operation on a {type(x).__name__} of differentiated "
            "values (only set(), |, &, ^, copy(), and reading the members are supported)"
        )
    if isinstance(g, list) and isinstance(x, list | tuple) and len(g) != len(x):
        raise ADTransformError(
            "cannot differentiate the concatenation of lists or tuples ('xs + ys', "
            "'xs += ys'): use xs.extend(ys) or xs.append(y), or np.concatenate for arrays"
        )
    if _complex_value(g) and not _complex_value(x) and not isinstance(x, (list, tuple, dict)):
        g = g.real
    x_shape = np.shape(x)
    g_shape = np.shape(g)
    if g_shape == x_shape:
        if not x_shape and type(g) is np.ndarray and isinstance(x, float):
            return float(g)  # a 0-d array (np.where of scalars) for a Python float
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
    if _complex_value(ans):
        raise ADTransformError(
            f"grad needs a function with a real scalar output, but it returned the complex "
            f"{type(ans).__name__} {ans!r:.60}; return its np.real, np.imag or np.abs"
        )
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
        f"grad and value_and_grad need a function with a scalar (float) output, but it "
        f"returned {type(ans).__name__} {ans!r:.60}; use vjp(f) for non-scalar outputs (its "
        "pullback takes a cotangent shaped like the value: a dict for a dict)"
    )


def zeros_like(x):
    """A zero gradient of the type and shape of ``x``."""
    if isinstance(x, np.ndarray):
        return np.zeros(x.shape, dtype=_float_dtype(x.dtype))
    if isinstance(x, (list, tuple, set, frozenset, ItemsTangent)):
        # ItemsTangent: forward-mode code's tangent of d.items() (its pairs), differentiated
        # again (reverse over forward)
        return ListAdjoint(zeros_like(element) for element in x)
    if isinstance(x, dict):
        return DictAdjoint((key, zeros_like(value)) for key, value in x.items())
    if isinstance(x, np.generic):
        return _float_dtype(x.dtype).type(0)
    if _is_object(x):
        return Fields()
    return 0.0


def _is_object(x) -> bool:
    """An object of a class that is not a builtin, NumPy's or a number: its adjoint is a
    ``Fields``."""
    return type(x).__module__ not in ("builtins", "fractions", "decimal") and not isinstance(
        x, (np.ndarray, np.generic, int, float, complex)
    )


def container_adjoint(g, x):
    """The adjoint ``g`` of a list or array ``x`` that a helper's backward sweep changes in
    place (an in-out argument): a plain zero from the caller (nothing reached ``x`` after
    the call) becomes zeros shaped like ``x``; any other ``g`` is returned as it is."""
    containers = (np.ndarray, list, dict)
    if isinstance(x, containers) and not isinstance(g, (*containers, KeyItem)) and g == 0:
        return zeros_like(x)
    return g


def as_gradient(dx, x, copy=False, adjoint=False):
    """The gradient ``dx`` with the type and shape of ``x`` (an ndarray for an ndarray).

    An ndarray gradient has the float dtype of ``x``: a float32 argument gets a float32
    gradient even where the function computed in float64. ``copy`` is set where ``dx``
    may be an array someone else holds (the caller's cotangent, another gradient).
    ``adjoint``: for a helper's caller, which adds it to other adjoints: a list or tuple
    gets a ``ListAdjoint``, not a plain list or tuple.
    """
    if type(x) is np.ndarray and type(dx) is np.ndarray:  # the common case, first: one
        dtype = x.dtype  # dtype, so both are real or both complex
        if dx.dtype == dtype and dx.shape == x.shape and dtype.kind in "fc":
            return dx.copy() if copy else dx
    if _complex_value(dx) and not _complex_value(x) and not isinstance(x, (list, tuple, dict)):
        dx = dx.real  # the adjoint of a real value is real (docs/conventions/complex.md)
    if isinstance(x, np.ndarray):
        dtype = _float_dtype(x.dtype)
        if type(dx) is not np.ndarray or dx.shape != x.shape:
            return np.asarray(zeros_like(x) + dx, dtype=dtype)
        if dx.dtype != dtype:
            return dx.astype(dtype)  # float32 in, float32 gradient out (a new array)
        return dx.copy() if copy else dx
    if isinstance(x, (list, tuple)):
        full = zeros_like(x) + dx
        kind = ListAdjoint if adjoint else getattr(type(x), "_make", type(x))  # named tuples
        return kind(as_gradient(d, e, adjoint=adjoint) for d, e in zip(full, x))
    if isinstance(x, dict):
        full = zeros_like(x) + dx
        kind = DictAdjoint if adjoint else dict
        return kind((k, as_gradient(full[k], e, adjoint=adjoint)) for k, e in x.items())
    if isinstance(x, (float, np.floating)) and type(dx) is not type(x):
        return type(x)(dx)  # a float for a float, also where NumPy made dx a 0-d array
    if isinstance(x, int) and not isinstance(x, bool):
        return float(dx)
    if _is_zero(dx) and _is_object(x):  # a helper's object argument: never a bare zero
        return Fields()
    return own(dx) if copy else dx


def _complex_value(value) -> bool:
    """A complex number, or an array or NumPy scalar of complex dtype (lists unconverted)."""
    if isinstance(value, complex):
        return True
    return isinstance(value, (np.ndarray, np.generic)) and value.dtype.kind == "c"


def is_zero(g) -> bool:
    """Whether the adjoint ``g`` is the number 0 (nothing has contributed to it yet)."""
    return isinstance(g, (int, float)) and g == 0


def item_adjoint(g, index, value, into=None):
    """The adjoint of ``value`` in ``into[index] = value``: a copy of ``g[index]``,
    un-broadcast.

    Where an index array names an item more than once, NumPy stores only the last value
    written to it: the other elements of ``value`` receive nothing. An integer or boolean
    array ``into`` truncates what it stores (unless it is an integer): ``value`` receives
    zero."""
    if truncates(into, value):
        return nondifferentiable_zero(value)
    if isinstance(g, (list, dict, KeyItem)):
        return unbroadcast(g[index], value)
    taken = np.array(g[index], dtype=g.dtype)
    if _may_repeat(index) and taken.size > 1:
        taken[~_last_writes(g.shape, index, taken.shape)] = 0.0
    return unbroadcast(taken, value)


def _may_repeat(index) -> bool:
    """Whether ``index`` has an integer index array (or list), which may name an item twice."""
    parts = index if isinstance(index, tuple) else (index,)
    for part in parts:
        if isinstance(part, (list, np.ndarray)) and np.asarray(part).dtype != bool:
            return True
    return False


def _last_writes(shape: tuple, index, written: tuple) -> np.ndarray:
    """Which elements of a value of shape ``written`` stored at ``index`` into an array of
    ``shape`` are still there afterwards: NumPy's own assignment of their positions tells."""
    positions = np.arange(int(np.prod(written)), dtype=np.intp).reshape(written)
    owner = np.full(shape, -1, dtype=np.intp)
    owner[index] = positions
    return owner[index] == positions


def rebound_by_augmented_assignment(value) -> bool:
    """Whether ``value op= v`` surely binds a new value rather than changing ``value`` in
    place: numbers, text, tuples, frozensets and ``None`` (an object may hold an array)."""
    immutable = (int, float, complex, np.number, np.bool_, str, bytes, tuple, frozenset)
    return value is None or isinstance(value, immutable)


def require_number(value, helper, parameter: str) -> None:
    """Refuse, when it runs, a call of ``helper`` that would change ``value`` in place
    (``parameter += ...`` on an array or a list, or on something held by an object: only
    numbers, text, tuples and ``None`` are surely rebound rather than changed)."""
    if not rebound_by_augmented_assignment(value):
        code = helper.__code__
        raise ADTransformError(
            f"cannot differentiate the call of {helper.__name__}() ({code.co_filename}:"
            f"{code.co_firstlineno}): it assigns '... += ...' to '{parameter}' or to something "
            f"'{parameter}' holds (or calls something for its effect on it), which changes its "
            "argument in place, and here "
            f"'{parameter}' is a {type(value).__name__}; change a copy, or return the new value"
        )


def nondifferentiable_zero(y):
    """A zero gradient for an argument the result depends on only piecewise-constantly."""
    return zeros_like(y) if isinstance(y, np.ndarray) else 0.0 * y
