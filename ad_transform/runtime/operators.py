"""Helpers of ``rules/operators.py``: ``+`` and ``*`` on lists and tuples (joins and
repetition) as well as numbers and arrays, decided at run time where the kinds of the
operands were not known when the code was generated.
"""

from __future__ import annotations

import numpy as np

from ..errors import ADTransformError
from .adjoints import unbroadcast, zeros_like
from .elementwise import times
from .tangents import ElementwiseList, TangentTuple
from .values import DictAdjoint, Item, KeyItem, ListAdjoint, _is_zero, plain_array

# -- lists and tuples joined (``+``) and repeated (``*``) --------------------------------
# ``+`` and ``*`` join and repeat lists and tuples (``[a] + [b]``, ``[v] * 3``) and add and
# multiply numbers and arrays. Where the kinds of the operands are known when the code is
# generated, the rules in ``rules/operators`` pick the adjoint; otherwise these helpers look
# at the operands when they run, as Python does.


def _is_sequence(value) -> bool:
    return isinstance(value, (list, tuple))


def element_adjoints(g, length: int) -> list:
    """The adjoints of the ``length`` elements of a list or tuple whose adjoint is ``g``
    (a list adjoint, one element's ``Item``, an array from a NumPy rule, or zero)."""
    if _is_zero(g):
        return [0.0] * length
    if isinstance(g, Item):
        elements = [g[k] for k in range(g.length)]
    else:
        elements = list(g)
    if len(elements) != length:
        raise ADTransformError(
            f"internal error: the adjoint of a sequence of {length} elements has "
            f"{len(elements)}; please report this"
        )
    return elements


def _adjoint_length(g) -> int | None:
    """How many elements the sequence whose adjoint is ``g`` has (None for a zero)."""
    if _is_zero(g):
        return None
    return g.length if isinstance(g, Item) else len(g)


def head_adjoint(g, length: int):
    """The adjoint of ``x`` in ``x + y`` (lists or tuples joined): the adjoints of the
    first ``length`` elements of the result, whose adjoint is ``g``."""
    total = _adjoint_length(g)
    if total is None:
        return ListAdjoint([0.0] * length)
    return ListAdjoint(element_adjoints(g, total)[:length])


def tail_adjoint(g, length: int, like=None):
    """The adjoint of ``y`` in ``x + y`` (``x += y`` on a list: ``y`` any iterable): the
    adjoints of the elements after the first ``length`` of the result, whose adjoint is
    ``g``; an ndarray for an ndarray ``y`` (``xs += array`` extends a list too)."""
    total = _adjoint_length(g)
    if total is None:
        return 0.0
    rest = element_adjoints(g, total)[length:]
    if isinstance(like, np.ndarray):
        out = zeros_like(like)
        for k, element in enumerate(rest):
            out[k] += element
        return out
    return ListAdjoint(rest)


def repetition_adjoint(g, x):
    """The adjoint of the list or tuple ``x`` in ``x * n`` (or ``n * x``): each element
    receives the sum of the adjoints of its ``n`` copies."""
    length = len(x)
    total = _adjoint_length(g)
    if total is None or length == 0:
        return ListAdjoint([0.0] * length)
    elements = element_adjoints(g, total)
    return ListAdjoint(sum(elements[k::length], 0.0) for k in range(length))


def _joins(x, y, in_place: bool) -> bool:
    """Whether ``x + y`` (``x += y`` if ``in_place``) joins sequences, as Python decides:
    two lists or two tuples; a list extended in place by any iterable but a NumPy value
    (with an ndarray or a NumPy scalar NumPy computes the elementwise sum)."""
    if in_place and isinstance(x, list):
        return not isinstance(y, (np.ndarray, np.generic, int, float, complex))
    return _is_sequence(x) and _is_sequence(y)


def _adds_adjoints(x, y) -> bool:
    """Whether ``x + y`` adds adjoint containers (generated first-order code differentiated
    again) or tangent terms of a tuple result (``TangentTuple``, forward-mode code
    differentiated again): elementwise or keywise, never a join, so each operand's
    cotangent is ``g``."""
    containers = (ListAdjoint, DictAdjoint, Item, KeyItem, TangentTuple, ElementwiseList)
    return isinstance(x, containers) or isinstance(y, containers)


def add_adjoint_left(g, x, y, in_place=False):
    """The adjoint of ``x`` in ``x + y`` where the kinds were not known: the first
    elements of ``g`` where ``+`` joined sequences, ``g`` un-broadcast where it added."""
    if _adds_adjoints(x, y):
        return g
    if _joins(x, y, in_place):
        return head_adjoint(g, len(x))
    return _list_operand_adjoint(unbroadcast(g, _as_operand(x)), x)


def add_adjoint_right(g, x, y, in_place=False):
    """The adjoint of ``y`` in ``x + y`` where the kinds were not known (see
    ``add_adjoint_left``)."""
    if _adds_adjoints(x, y):
        return g
    if _joins(x, y, in_place):
        return tail_adjoint(g, len(x), y)
    return _list_operand_adjoint(unbroadcast(g, _as_operand(y)), y)


def _as_operand(x):
    """A list or tuple given to NumPy arithmetic (the other operand is an array): the
    array NumPy makes of it."""
    return np.asarray(x) if isinstance(x, (list, tuple)) else plain_array(x)


def _list_operand_adjoint(g, x):
    """The adjoint of a list or tuple operand of NumPy arithmetic: its elements' parts."""
    if not isinstance(x, (list, tuple)) or _is_zero(g):
        return g
    from .conversions import array_adjoint

    return array_adjoint(np.broadcast_to(g, np.shape(x)), x)


def _repeated(x, y) -> bool:
    """Whether ``x * y`` repeats the sequence ``x`` ``y`` times, as Python decides: a list
    or tuple times anything but an ndarray (an ndarray makes it NumPy arithmetic)."""
    return _is_sequence(x) and not isinstance(y, (np.ndarray, list, tuple))


def mul_adjoint_left(g, x, y):
    """The adjoint of ``x`` in ``x * y`` where the kinds were not known: for a list or
    tuple repeated, the sum of its copies' adjoints; for a count, none (an integer)."""
    if _repeated(x, y):
        return repetition_adjoint(g, x)
    if _repeated(y, x):
        return 0.0
    return _list_operand_adjoint(unbroadcast(times(g, _as_operand(y)), _as_operand(x)), x)


def mul_adjoint_right(g, x, y):
    """The adjoint of ``y`` in ``x * y`` where the kinds were not known (see
    ``mul_adjoint_left``)."""
    if _repeated(y, x):
        return repetition_adjoint(g, y)
    if _repeated(x, y):
        return 0.0
    return _list_operand_adjoint(unbroadcast(times(g, _as_operand(x)), _as_operand(y)), y)
