"""Helpers of ``rules/constructors.py``: the adjoints of ``full``, ``linspace``,
``arange`` and ``np.r_``/``np.c_``.
"""

from __future__ import annotations

import numpy as np

from ..errors import ADTransformError
from .adjoints import nondifferentiable_zero, unbroadcast
from .conversions import cast_like
from .values import ListAdjoint, _dtype_of, _scalar_like, integer_valued


def full_adjoint(g, fill_value, dtype=None):
    """The adjoint of ``fill_value`` in ``np.full(shape, fill_value)``: ``g`` summed over
    the copies (zero for an integer or boolean ``dtype`` and a non-integer value)."""
    if dtype is not None and np.dtype(dtype).kind not in "fc" and not integer_valued(fill_value):
        return nondifferentiable_zero(fill_value)
    return unbroadcast(g, fill_value)


def linspace_adjoint(g, start, stop, num=50, endpoint=True, axis=0, of_stop=False):
    """The adjoint of ``start`` (or ``stop``) in ``np.linspace``: the samples are
    ``start + t (stop - start)`` with ``t = i / (num - 1)`` (``i / num`` without the
    endpoint)."""
    num = int(num)
    div = (num - 1) if endpoint else num
    t = np.arange(num) / div if div > 0 else np.zeros(num)
    weights = t if of_stop else 1.0 - t
    d = np.moveaxis(np.asarray(g), axis, -1) @ weights.astype(_dtype_of(g), copy=False)
    target = stop if of_stop else start
    return cast_like(unbroadcast(d, target), target)


def arange_adjoint(g, start, stop=None, step=None, of_step=False):
    """The adjoint of ``start`` (or ``step``) in ``np.arange(start, stop, step)``: the
    values are ``start + i step``. ``np.arange(n)`` (``stop`` alone) does not depend on
    ``n`` but through its length: zero."""
    if stop is None:
        return cast_like(0.0, start)
    g = np.asarray(g)
    d = np.sum(g * np.arange(g.shape[0])) if of_step else np.sum(g)
    return cast_like(d, step if of_step else start)


def concatenator_adjoint(g, concatenator, items):
    """The adjoint of ``np.r_[items]`` or ``np.c_[items]``: one piece of ``g`` per item.

    Each item alone (``np.r_[item]``) is the block it contributes: a scalar becomes one
    element (``1x1`` for ``np.c_``), a vector a column for ``np.c_``, a slice the range
    it spells. The blocks are joined along ``concatenator.axis``; ``g`` is cut back along
    that axis and each piece reshaped like its item. Slices are constants (``None``).
    """
    if not isinstance(items, tuple):  # np.r_[v]: one item, one adjoint
        return concatenator_adjoint(g, concatenator, (items,))[0]
    if isinstance(items[0], str) and items[0] not in ("r", "c"):
        return ListAdjoint([None, *_directed_adjoints(g, concatenator, items)])
    if any(isinstance(item, str) for item in items):
        raise ADTransformError(
            "a matrix directive string ('r', 'c') in np.r_/np.c_ is not supported; use "
            "np.concatenate"
        )
    blocks = [np.shape(concatenator[item]) for item in items]
    axis = concatenator.axis
    cuts = np.cumsum([shape[axis] for shape in blocks])[:-1]
    pieces = np.split(np.asarray(g), cuts, axis=axis)
    return ListAdjoint(
        None if isinstance(item, slice) else _scalar_like(np.reshape(piece, np.shape(item)), item)
        for piece, item in zip(pieces, items)
    )


def _directed_adjoints(g, concatenator, items):
    """The adjoints of the items of ``np.r_['0,2', a, b]`` (an axis directive first).

    The blocks' placement follows the directive (axis, minimum dimensions, where a 1-D
    item's axis goes), so NumPy places them itself: each item in turn is replaced by the
    numbers 1, 2, ... of its elements and all others by zeros; the difference with all
    zeros (slices give the same numbers in both, and cancel exactly) marks where each
    element of the item went, and ``g`` there is added back to the element.
    """
    g = np.asarray(g)
    zeros = [item if isinstance(item, (str, slice)) else np.zeros(np.shape(item)) for item in items]
    base = concatenator[tuple(zeros)]
    adjoints = []
    for k, item in enumerate(items[1:], 1):
        if isinstance(item, slice):
            adjoints.append(None)
            continue
        numbered = list(zeros)
        numbered[k] = np.arange(1.0, np.size(item) + 1.0).reshape(np.shape(item))
        where = np.asarray(concatenator[tuple(numbered)] - base, dtype=np.intp)
        taken = where > 0
        d = np.zeros(np.size(item), dtype=_dtype_of(item, g))
        np.add.at(d, where[taken] - 1, np.broadcast_to(g, where.shape)[taken])
        adjoints.append(cast_like(_scalar_like(np.reshape(d, np.shape(item)), item), item))
    return adjoints
