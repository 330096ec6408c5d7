"""Helpers of the conversion rules: casts back to an input's dtype, ``astype``,
``np.array`` of a list, discrete values that have no adjoint.
"""

from __future__ import annotations

import numpy as np

from .adjoints import _complex_value, zeros_like
from .values import (
    ListAdjoint,
    _float_dtype,
    _is_zero,
    integer_valued,
    plain_array,
    truncates,
)


def cast_like(g, x):
    """The adjoint ``g`` in the type of ``x`` (the inverse of a conversion or ``astype``).

    A complex ``g`` for a real ``x`` (``x.astype(complex)``) gives its real part: the
    adjoint of a real value is real (docs/conventions/complex.md), never a silent cast."""
    if _complex_value(g) and not _complex_value(x) and not isinstance(x, (list, tuple)):
        g = g.real
    if isinstance(x, np.ndarray):
        return np.asarray(g, dtype=_float_dtype(x.dtype))
    if isinstance(x, np.generic):
        return _float_dtype(x.dtype).type(g)
    if isinstance(x, (list, tuple)):
        return array_adjoint(g, x)
    return float(g)


def astype_adjoint(g, x, dtype):
    """The adjoint of ``x.astype(dtype)``: ``g`` back in ``x``'s dtype; zero for a cast of
    a non-integer ``x`` to integers or booleans (a piecewise-constant result)."""
    if np.dtype(dtype).kind not in "fc" and not integer_valued(x):
        return zeros_like(x)
    return cast_like(g, x)


def unless_discrete(ans, adjoint, like):
    """``adjoint``, or a zero adjoint of the type of the operand ``like`` where the result
    ``ans`` is an integer or boolean array made from a non-integer ``like``
    (``np.arange(x, dtype=int)``, ``np.full_like(ints, x)``: truncated)."""
    return zeros_like(like) if truncates(ans, like) else adjoint


def array_operand(x):
    """``x`` as a NumPy function sees it: a list or tuple converted to an array (a
    subclass of ndarray: ``values.plain_array``)."""
    return np.asarray(x) if isinstance(x, (list, tuple)) else plain_array(x)


def operand_adjoint(g, x):
    """The adjoint of ``x`` given to a NumPy function whose rule computed ``g`` for
    ``array_operand(x)``: for a list or tuple, split into its elements' adjoints."""
    if not isinstance(x, (list, tuple)) or _is_zero(g):
        return g
    return array_adjoint(np.broadcast_to(g, np.shape(x)), x)


def array_adjoint(g, obj, ans=None):
    """The adjoint of ``np.array(obj)``: for a (nested) list of numbers and arrays, a list
    of the elements' adjoints; for an array or a number, ``g`` in its type. Zero where the
    result ``ans`` is an integer or boolean array (``np.array(x, dtype=int)``)."""
    if truncates(ans, obj):
        return zeros_like(obj)
    if isinstance(obj, (list, tuple)):
        return ListAdjoint(array_adjoint(g[i], element) for i, element in enumerate(obj))
    return cast_like(g, obj)
