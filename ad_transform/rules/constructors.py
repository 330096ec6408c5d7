"""Array constructors and conversions.

``np.array``/``np.asarray`` of a (nested) list of differentiated numbers or arrays
pass each element its part of the adjoint (a list of adjoints, like a list display);
of an array, the adjoint itself. Conversions (``x.astype(dtype)``, ``np.float64(x)``)
give the adjoint back in the argument's own dtype (a float32 array cast to float64 gets
a float32 gradient); a cast to an integer or boolean dtype is piecewise constant (zero
gradient).

Arrays made from shapes alone (``zeros``, ``ones``, ``empty``, ``eye``, ``identity``,
``tri``, ``indices`` and the ``*_like`` of another array) carry no derivative. Those
whose values come from numbers are differentiable in them, so that a gradient is never
silently dropped: ``np.full(shape, v)`` and ``np.full_like(x, v)`` in ``v``,
``np.linspace(start, stop)`` in both ends, ``np.arange(start, stop, step)`` in
``start`` and ``step`` (``np.arange(n)`` does not depend on ``n``).
"""

import numpy as np

from ..runtime import (
    arange_adjoint,
    arange_tangent,
    array_adjoint,
    astype_adjoint,
    astype_tangent,
    cast_like,
    full_adjoint,
    linspace_adjoint,
    unless_discrete,
    zero_tangent,
)
from .registry import ARRAY, adjoint, linear_tangents, register_nondifferentiable, tangent


@adjoint(np.array, kind=ARRAY, fresh=True)
def d_array(g, ans, object, dtype=None):
    return array_adjoint(g, object, ans)


@adjoint(np.asarray, kind=ARRAY)
def d_asarray(g, ans, a, dtype=None, order=None):
    return array_adjoint(g, a, ans)


@adjoint(np.asanyarray, kind=ARRAY)
def d_asanyarray(g, ans, a, dtype=None, order=None):
    return array_adjoint(g, a, ans)


@adjoint(np.ascontiguousarray, kind=ARRAY)
def d_ascontiguousarray(g, ans, a, dtype=None):
    return array_adjoint(g, a, ans)


@adjoint(("method", "astype"), kind=None, fresh=lambda given: "copy" not in given)
def d_astype_method(g, ans, self, dtype, order="K", casting="unsafe", subok=True, copy=True):
    return astype_adjoint(g, self, dtype)


@adjoint(np.float64, fresh=True)
def d_float64(g, ans, x):
    return cast_like(g, x)


@adjoint(np.float64, scalar=True)
def d_float64_scalar(g, ans, x):
    return g


@adjoint(np.full, kind=ARRAY, fresh=True)
def d_full(g, ans, shape, fill_value, dtype=None, order="C"):
    return None, full_adjoint(g, fill_value, ans.dtype)


@adjoint(np.full_like, kind=ARRAY, fresh=True)
def d_full_like(g, ans, a, fill_value, dtype=None, order="K", subok=True, shape=None):
    # Only a's shape and dtype are used: no contribution to it.
    return 0.0, full_adjoint(g, fill_value, ans.dtype)


@adjoint(np.linspace, kind=ARRAY, fresh=True)
def d_linspace(g, ans, start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    return (
        unless_discrete(ans, linspace_adjoint(g, start, stop, num, endpoint, axis, False), start),
        unless_discrete(ans, linspace_adjoint(g, start, stop, num, endpoint, axis, True), stop),
    )


@adjoint(np.arange, kind=ARRAY, fresh=True)
def d_arange(g, ans, start, stop=None, step=None, dtype=None):
    return (
        unless_discrete(ans, arange_adjoint(g, start, stop, step, False), start),
        0.0,
        unless_discrete(ans, arange_adjoint(g, start, stop, step, True), step),
    )


# arrays made from a shape alone: new, and without a derivative
FROM_SHAPE = (
    np.zeros,
    np.ones,
    np.empty,
    np.zeros_like,
    np.ones_like,
    np.empty_like,
    np.eye,
    np.identity,
    np.tri,
    np.indices,
)

register_nondifferentiable(*FROM_SHAPE, kind=ARRAY, fresh=True)


# -- tangents (forward mode) ----------------------------------------------------------------
@tangent(np.array)
def t_array(g, ans, object, dtype=None):
    return astype_tangent(g, ans)


@tangent(np.asarray)
def t_asarray(g, ans, a, dtype=None, order=None):
    return astype_tangent(g, ans)


linear_tangents(
    np.asanyarray,
    np.ascontiguousarray,
    np.float64,
)


# Linear in the fill value and the ends, but an integer or boolean result (``dtype=int``,
# ``np.full_like(ints, v)``) truncates them: its tangent is zero, not the call on tangents.
@tangent(np.full)
def t_full(g, ans, shape, fill_value, dtype=None, order="C"):
    return None, unless_discrete(ans, np.full(np.shape(ans), g, dtype=ans.dtype), fill_value)


@tangent(np.full_like)
def t_full_like(g, ans, a, fill_value, dtype=None, order="K", subok=True, shape=None):
    return (
        zero_tangent(ans),
        unless_discrete(ans, np.full(np.shape(ans), g, dtype=ans.dtype), fill_value),
    )


@tangent(np.linspace)
def t_linspace(g, ans, start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    return (
        unless_discrete(
            ans, np.linspace(g, zero_tangent(stop), num, endpoint, False, dtype, axis), start
        ),
        unless_discrete(
            ans, np.linspace(zero_tangent(start), g, num, endpoint, False, dtype, axis), stop
        ),
    )


@tangent(("method", "astype"))
def t_astype_method(g, ans, self, dtype, order="K", casting="unsafe", subok=True, copy=True):
    return astype_tangent(g, ans)


@tangent(np.arange)
def t_arange(g, ans, start, stop=None, step=None, dtype=None):
    return (
        arange_tangent(g, ans, start, stop, step),
        None,
        arange_tangent(g, ans, start, stop, step, True),
    )
