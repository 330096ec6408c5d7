"""Transposes of the list, set and container helpers of generated code (issue 14): what
the rules of ``rules/runtime_twins_containers.py`` call.

Each helper of first-order and forward-mode code these serve (``head_adjoint``,
``repetition_adjoint``, ``set_adjoint``, ``sorted_tangent``, ...) is linear in its first
argument, an adjoint or a tangent: it copies, selects, permutes or sums the elements of
a list (or the rows of an array) and never multiplies them by a value. Its transpose, a
function here, moves a cotangent back along the same positions: where the helper sends
element ``j`` of its argument to element ``i`` of its result, the transpose sends
element ``i`` of the cotangent to element ``j``. The permutations and positions are read
from the primal values (a sort order, the first of equal set members, a length), which
are locally constant away from ties: their partials are zero there, as for ``np.sort``.

A zero cotangent (the number 0) gives 0, as everywhere in ``runtime``. Cotangents of a
list are ``ListAdjoint`` (one element per element, an element's zero the number 0), of
an array an array of its shape.
"""

from __future__ import annotations

from collections.abc import KeysView

import numpy as np

from ..errors import ADTransformError
from .containers import (
    conversion_adjoint,
    joined_list,
    joined_parts_adjoint,
    joined_tuple,
    reversed_adjoint,
    reversed_list,
    spread,
    starred_adjoint,
    starred_parts,
    zip_rows,
    zip_rows_adjoint,
)
from .elementwise import times
from .higher_order import gathered, to_shape_of
from .operators import _adjoint_length, element_adjoints, head_adjoint, tail_adjoint
from .shape_indexing import _JOIN_AXIS, _PROMOTE, append_adjoint, joined_adjoint
from .tangents import (
    ElementwiseList,
    TangentTuple,
    converted_tangent,
    copy_tangent,
    set_operand_tangent,
    set_tangent,
    sorted_tangent,
)
from .values import KeyItem, ListAdjoint, _is_zero

__all__ = [
    "add_adjoint_cotangent",
    "added_adjoint",
    "append_adjoint_or_zero",
    "append_cotangent",
    "copy_cotangent",
    "copy_tangent_or_zero",
    "extreme_of_cotangent",
    "head_cotangent",
    "item_method_cotangent",
    "items_cotangent",
    "iteration_cotangent",
    "joined_adjoint_or_zero",
    "joined_cotangent",
    "joined_in_place_adjoint",
    "joined_in_place_tangent",
    "joined_parts_cotangent",
    "joined_sum_cotangent",
    "mul_left_cotangent",
    "mul_right_cotangent",
    "rearranged_cotangent",
    "rearranged_tangent",
    "repetition_cotangent",
    "set_members",
    "set_operand_members",
    "set_operand_tangent_or_zero",
    "set_tangent_or_zero",
    "sorted_cotangent",
    "sorted_tangent_or_zero",
    "spread_cotangent",
    "spread_or_zero",
    "starred_cotangent",
    "sum_start_cotangent",
    "sum_tangent_cotangent",
    "sum_tangent_term",
    "tail_cotangent",
    "zip_rows_cotangent",
]


def _like_adjoint(elements: list, adjoint):
    """``elements`` (one cotangent per element) in the structure of ``adjoint``: an array
    of its shape for an array adjoint (rows from the elements, zeros for a zero), a
    ``ListAdjoint`` for a list adjoint or an ``Item``."""
    if isinstance(adjoint, np.ndarray):
        out = np.zeros(adjoint.shape, dtype=np.result_type(adjoint, np.float64))
        for k, element in enumerate(elements):
            if not _is_zero(element):
                out[k] += element
        return out
    return ListAdjoint(elements)


# -- lists joined (``a + b``) and repeated (``[x] * 3``) -----------------------------------------
def head_cotangent(c, adjoint, length: int):
    """The transpose of ``head_adjoint(., length)`` (the first ``length`` elements of the
    adjoint of ``x + y``): ``c``'s elements, then zeros for the rest of ``adjoint``.

    ``c``: a list cotangent of ``length`` elements (or 0); ``adjoint``: the list adjoint
    ``head_adjoint`` was given (a ``ListAdjoint``, an ``Item`` or an array). Returns a
    cotangent of ``adjoint``'s structure, or 0."""
    total = _adjoint_length(adjoint)
    if _is_zero(c) or total is None:
        return 0.0
    return _like_adjoint([*element_adjoints(c, length), *[0.0] * (total - length)], adjoint)


def tail_cotangent(c, adjoint, length: int, like=None):
    """The transpose of ``tail_adjoint(., length, like)`` (the elements after the first
    ``length`` of the adjoint of ``x + y``): zeros for the first ``length``, then ``c``'s
    elements (the rows of ``c`` where ``y`` is an array, summed to each element's shape)."""
    total = _adjoint_length(adjoint)
    if _is_zero(c) or total is None:
        return 0.0
    given = element_adjoints(adjoint, total)[length:]
    if isinstance(like, np.ndarray):
        rest = [0.0 if _is_zero(e) else to_shape_of(c[k], e) for k, e in enumerate(given)]
    else:
        rest = element_adjoints(c, total - length)
    return _like_adjoint([*[0.0] * length, *rest], adjoint)


def repetition_cotangent(c, adjoint, x):
    """The transpose of ``repetition_adjoint(., x)`` (element ``k`` of ``x`` receives the
    sum of the adjoints of its copies ``k, k + n, ...``): each copy receives the cotangent
    of the element it repeats."""
    length, total = len(x), _adjoint_length(adjoint)
    if _is_zero(c) or total is None or length == 0:
        return 0.0
    elements = element_adjoints(c, length)
    return _like_adjoint([elements[j % length] for j in range(total)], adjoint)


def joined_in_place_adjoint(g, target, value, which: int):
    """The cotangent of ``target`` (``which`` 0) or ``value`` (1) in ``target += value``
    where it joins lists or tuples (the first ``len(target)`` elements of ``g``, or the
    rest: ``head_adjoint``, ``tail_adjoint``) or adds adjoint containers element by element
    (``g`` itself)."""
    from .operators import _adds_adjoints

    if _adds_adjoints(target, value):
        return g
    return head_adjoint(g, len(target)) if which == 0 else tail_adjoint(g, len(target), value)


def joined_in_place_tangent(t, target, value, which: int):
    """The term of ``target``'s (``which`` 0) or ``value``'s (1) tangent ``t`` in the tangent
    of ``target += value`` where it joins lists or tuples: ``t``'s elements at their place
    in the joined list, zeros elsewhere, as an ``ElementwiseList`` (the two terms add
    element by element); ``t`` itself where adjoint containers add element by element."""
    from .operators import _adds_adjoints

    if _adds_adjoints(target, value):
        return t
    before, after = (0, len(value)) if which == 0 else (len(target), 0)
    own = [0.0] * len((target, value)[which]) if _is_zero(t) else list(t)
    return ElementwiseList([*[0.0] * before, *own, *[0.0] * after])


def add_adjoint_cotangent(c, adjoint, x, y, in_place=False, which: int = 0):
    """The transpose of ``add_adjoint_left(., x, y, in_place)`` (``which`` 0) or
    ``add_adjoint_right`` (1), the adjoints of ``x + y`` whose kinds were known only when
    it ran: ``c`` itself where adjoint containers added element by element; where lists or
    tuples joined, ``c`` at the first ``len(x)`` elements or after them
    (``head_cotangent``, ``tail_cotangent``); where numbers or arrays added, ``c``
    broadcast back to ``adjoint``'s shape. A list or tuple in NumPy arithmetic (``[a, b] +
    array``) is refused by name."""
    from .higher_order import arithmetic_only
    from .operators import _adds_adjoints, _joins

    if _adds_adjoints(x, y):
        return c
    if _joins(x, y, in_place):
        if which == 0:
            return head_cotangent(c, adjoint, len(x))
        return tail_cotangent(c, adjoint, len(x), y)
    if _is_zero(c):
        return 0.0
    return to_shape_of(arithmetic_only(c, x, y, "+"), adjoint)


def added_adjoint(g, x, y, in_place=False, which: int = 0):
    """``add_adjoint_left(g, x, y, in_place)`` (``which`` 0) or ``add_adjoint_right`` (1):
    the transpose of ``add_adjoint_cotangent``."""
    from .operators import add_adjoint_left, add_adjoint_right

    return (add_adjoint_left, add_adjoint_right)[which](g, x, y, in_place)


def mul_left_cotangent(c, adjoint, x, y):
    """The transpose of ``mul_adjoint_left(., x, y)`` (the adjoint of ``x`` in ``x * y``
    whose kinds were known only when it ran): where ``x`` is a list or tuple repeated
    ``y`` times, each copy takes its element's cotangent (``repetition_cotangent``); where
    ``x`` is the count, 0; where numbers multiplied, ``c y`` broadcast to ``adjoint``'s
    shape. A list in NumPy arithmetic is refused by name."""
    from .higher_order import arithmetic_only
    from .operators import _repeated

    if _repeated(x, y):
        return repetition_cotangent(c, adjoint, x)
    if _repeated(y, x) or _is_zero(c):
        return 0.0
    return to_shape_of(times(arithmetic_only(c, x, y, "*"), y), adjoint)


def mul_right_cotangent(c, adjoint, x, y):
    """The transpose of ``mul_adjoint_right(., x, y)`` (see ``mul_left_cotangent``)."""
    from .higher_order import arithmetic_only
    from .operators import _repeated

    if _repeated(y, x):
        return repetition_cotangent(c, adjoint, y)
    if _repeated(x, y) or _is_zero(c):
        return 0.0
    return to_shape_of(times(arithmetic_only(c, x, y, "*"), x), adjoint)


def _sum_form(ans, x, y) -> str:
    """How ``sum_tangent(ans, x, y, ...)`` added the tangents of ``x + y``: element by element
    (adjoint containers, tangent terms), joined (two lists or tuples), or as numbers."""
    from .values import DictAdjoint

    if isinstance(ans, (ListAdjoint, DictAdjoint, TangentTuple, ElementwiseList)):
        return "elementwise"
    if isinstance(x, (list, tuple)) and isinstance(y, (list, tuple)):
        return "joined"
    return "numbers"


def sum_tangent_cotangent(c, ans, x, y, like, which: int):
    """The transpose of ``sum_tangent(ans, x, y, x_dot, y_dot)`` in ``x_dot`` (``which`` 0,
    ``like`` the tangent ``x_dot``) or ``y_dot`` (1): ``c`` itself where the tangents added
    element by element; its first ``len(x)`` elements, or the rest, where they were joined
    (``xs + ys``, ``xs += ys``); ``c`` summed to ``like``'s shape where numbers added."""
    form = _sum_form(ans, x, y)
    if form == "elementwise":
        return c
    if form == "joined":
        return head_adjoint(c, len(x)) if which == 0 else tail_adjoint(c, len(x))
    return 0.0 if _is_zero(c) else to_shape_of(c, like)


def sum_tangent_term(t, ans, x, y, which: int):
    """The derivative of ``sum_tangent(ans, x, y, x_dot, y_dot)`` along ``t``, a tangent of
    ``x_dot`` (``which`` 0) or ``y_dot`` (1): ``t`` where the tangents added element by
    element; ``t``'s elements at their place in the joined list, zeros elsewhere (an
    ``ElementwiseList``: the two terms add element by element) where they were joined;
    ``t`` broadcast to ``ans``'s shape where numbers added."""
    from .tangents import tangent_like

    form = _sum_form(ans, x, y)
    if form == "elementwise":
        return t
    if form == "joined":
        own = [0.0] * len((x, y)[which]) if _is_zero(t) else list(t)
        before, after = (0, len(y)) if which == 0 else (len(x), 0)
        return ElementwiseList([*[0.0] * before, *own, *[0.0] * after])
    return tangent_like(t, ans)


def sum_start_cotangent(c, adjoint, start):
    """The transpose of ``sum_start_adjoint(., x, start)`` (the adjoint of ``start`` in
    builtin ``sum(x, start)``): ``c`` at the first elements where the sum joins sequences
    (``head_cotangent``), else ``c`` broadcast to ``adjoint``'s shape (the transpose of
    ``unbroadcast``)."""
    if isinstance(start, (list, tuple)):
        return head_cotangent(c, adjoint, len(start))
    if _is_zero(c):
        return 0.0
    return to_shape_of(c, adjoint)


def joined_sum_cotangent(c, adjoint, x, start):
    """The transpose of ``sequence_sum_adjoint(., x, start)`` where ``sum(x, start)`` joins
    lists (``sum(rows, [])``: each element of ``x`` receives the adjoints of the elements
    it added): zeros for ``start``'s elements, then each element's list cotangent in ``c``
    joined, in ``adjoint``'s structure."""
    if _is_zero(c):
        return 0.0
    rows = list(x)
    elements = [0.0] * len(start)
    for row, part in zip(rows, element_adjoints(c, len(rows)), strict=True):
        elements.extend(element_adjoints(part, len(row)))
    return _like_adjoint(elements, adjoint)


# -- NumPy's joins of arrays ---------------------------------------------------------------------
def append_cotangent(c, adjoint, arr, values, axis=None, of_values=False):
    """The transpose of ``append_adjoint(., arr, values, axis, of_values)`` (the part of
    the adjoint of ``np.append(arr, values, axis)`` that belongs to ``arr``, or to
    ``values``): ``c`` put at that part of zeros shaped like ``adjoint`` (flattened
    without an axis)."""
    if _is_zero(c):
        return 0.0
    out = np.zeros(np.shape(adjoint), dtype=np.result_type(adjoint, c, np.float64))
    if axis is None:
        cut = np.size(arr)
        out[slice(cut, None) if of_values else slice(None, cut)] = np.ravel(c)
        return out
    axis = int(axis) % out.ndim
    where = [slice(None)] * out.ndim
    cut = np.shape(arr)[axis]
    where[axis] = slice(cut, None) if of_values else slice(None, cut)
    out[tuple(where)] = np.reshape(c, out[tuple(where)].shape)
    return out


def joined_cotangent(c, adjoint, arrays, how: str):
    """The transpose of ``joined_adjoint(., arrays, how)`` (the adjoint of ``np.hstack``,
    ``vstack``, ``dstack`` or ``column_stack`` of ``arrays`` cut into pieces): the pieces
    of the list cotangent ``c`` (zeros for a zero piece) promoted as the join promotes its
    arrays and joined along the same axis, in ``adjoint``'s shape."""
    if _is_zero(c):
        return 0.0
    if how == "column_stack":
        shapes = [(np.size(a), 1) if np.ndim(a) < 2 else np.shape(a) for a in arrays]
        axis = 1
    else:
        shapes = [np.shape(_PROMOTE[how](np.asarray(a))) for a in arrays]
        axis = _JOIN_AXIS.get(how, 0 if len(shapes[0]) == 1 else 1)
    pieces = [
        np.zeros(shape) if _is_zero(piece) else np.reshape(piece, shape)
        for piece, shape in zip(element_adjoints(c, len(arrays)), shapes, strict=True)
    ]
    return np.reshape(np.concatenate(pieces, axis), np.shape(adjoint))


# -- the elements of iterables ----------------------------------------------------------------
def spread_cotangent(c, elements: list, like):
    """The transpose of ``spread(., like)`` (the elements' adjoints put into the
    structure of the iterable ``like``): the cotangent ``c`` of that structure read element
    by element, a ``ListAdjoint`` of ``len(elements)``; 0 for a dict or its keys (whose
    adjoint ``spread`` makes zero). An array's rows are summed to each element's shape
    (``spread`` adds an element into its row, broadcasting it); a zero element takes none."""
    if _is_zero(c) or isinstance(like, (dict, KeysView)):
        return 0.0
    if isinstance(like, np.ndarray):
        return ListAdjoint(
            0.0 if _is_zero(e) else to_shape_of(c[k], e) for k, e in enumerate(elements)
        )
    return ListAdjoint(element_adjoints(c, len(elements)))


def iteration_cotangent(c, adjoint, x, index):
    """The transpose of ``iteration_adjoint(., x, index)`` (the adjoint of the element a
    ``for`` loop took at ``index`` of ``x``, put at that position): ``c`` read at
    ``index`` in ``adjoint``'s shape; 0 for a dict or its keys (keys carry no derivative)."""
    if _is_zero(c) or isinstance(x, (dict, KeysView)):
        return 0.0
    return gathered(c, adjoint, index)


def rearranged_tangent(t, whole, convert, before=None, after=None):
    """``converted_tangent(t, whole, convert, ...)`` (the tangent of ``list(whole)``,
    ``tuple``, ``reversed_list``, ``starred_parts(whole, before, after)``, ``zip_rows``,
    ``joined_list``/``joined_tuple``: the same rearrangement of the elements' tangents) with
    its optional counts spelled out; 0 for a zero ``t``."""
    if _is_zero(t):
        return 0.0
    rest = () if before is None else (before, after)
    return converted_tangent(t, whole, convert, *rest)


def rearranged_cotangent(c, whole, convert, before=None, after=None):
    """The transpose of ``converted_tangent(., whole, convert, ...)`` in its tangent: the
    adjoint of the rearrangement ``convert`` (``conversion_adjoint`` of ``list``/``tuple``,
    ``reversed_adjoint``, ``starred_adjoint``, ``zip_rows_adjoint``,
    ``joined_parts_adjoint``), which sends each element's cotangent back to where it came
    from; a dict or its keys get 0 (``spread``). Any other ``convert`` is refused by name."""
    if _is_zero(c):
        return 0.0
    if convert in (list, tuple):
        return conversion_adjoint(c, whole)
    if convert is reversed_list:
        return reversed_adjoint(c, whole)
    if convert is starred_parts:
        return starred_adjoint(c, whole, before, after)
    if convert is zip_rows:
        return zip_rows_adjoint(c, whole)
    if convert in (joined_list, joined_tuple):
        return joined_parts_adjoint(c, whole)
    raise ADTransformError(
        f"cannot differentiate the tangent of {getattr(convert, '__name__', convert)!r} "
        "again: its transpose is not written"
    )


def _elements_of(c, like) -> list:
    """The elements' cotangents of ``c``, the cotangent of the adjoint ``spread`` made for
    the iterable ``like`` (zeros for a dict or its keys, whose adjoint is zero)."""
    length = len(like)
    if _is_zero(c) or isinstance(like, (dict, KeysView)):
        return [0.0] * length
    return element_adjoints(c, length)


def starred_cotangent(c, whole, before: int, after: int):
    """The transpose of ``starred_adjoint(., whole, before, after)`` (the adjoint of
    ``a, *rest, b = whole``): ``c``'s elements as ``(a, rest, b)``'s cotangent, ``rest`` a
    list cotangent of its own."""
    if _is_zero(c):
        return 0.0
    elements = _elements_of(c, whole)
    stop = len(elements) - after
    return ListAdjoint([*elements[:before], ListAdjoint(elements[before:stop]), *elements[stop:]])


def zip_rows_cotangent(c, rows):
    """The transpose of ``zip_rows_adjoint(., rows)`` (the adjoint of ``zip(*rows)``: the
    columns' adjoints sent back to the rows): column ``j`` takes element ``j`` of each row's
    cotangent in ``c`` (columns stop at the shortest row)."""
    if _is_zero(c):
        return 0.0
    row_list = list(rows)
    cotangents = [_elements_of(r, row) for r, row in zip(_elements_of(c, row_list), row_list)]
    width = min((len(row) for row in row_list), default=0)
    return ListAdjoint(ListAdjoint(r[j] for r in cotangents) for j in range(width))


def joined_parts_cotangent(c, parts: tuple):
    """The transpose of ``joined_parts_adjoint(., parts)`` (the adjoint of ``[*s, x, *t]``
    sent back to its parts): each part's elements' cotangents from ``c``, joined in order."""
    if _is_zero(c):
        return 0.0
    elements = []
    for part_cotangent, part in zip(element_adjoints(c, len(parts)), parts, strict=True):
        elements.extend(_elements_of(part_cotangent, part))
    return ListAdjoint(elements)


def extreme_of_cotangent(c, ans, x):
    """The transpose of ``extreme_of_adjoint(., ans, x)`` (the adjoint of ``max(x)`` or
    ``min(x)`` to the element(s) equal to the result, shared equally by ties): the mean of
    the tied elements' cotangents (the cotangent of the element Python returned, for a
    sequence result)."""
    from .containers import _position_of_sequence

    values = list(x)
    if _is_zero(c) or isinstance(x, (dict, KeysView)):
        return 0.0
    elements = element_adjoints(c, len(values))
    if isinstance(ans, (tuple, list)):
        return elements[_position_of_sequence(values, ans)]
    tied = [elements[k] for k, v in enumerate(values) if v == ans]
    return sum(tied[1:], tied[0]) / len(tied)


# -- sorted() and copies ----------------------------------------------------------------------
def sorted_cotangent(c, x, reverse=False):
    """The transpose of ``sorted_adjoint(., x, reverse)`` (the adjoint of ``sorted(x)``
    sent back through the sort's permutation): ``c``'s elements (one per element of ``x``)
    in sorted order, a ``ListAdjoint``. Python's stable sort, as in ``sorted_adjoint``;
    0 where ``x`` is a dict or its keys (keys carry no derivative)."""
    if _is_zero(c) or isinstance(x, (dict, KeysView)):
        return 0.0
    values = list(x)
    elements = element_adjoints(c, len(values))
    order = sorted(range(len(values)), key=values.__getitem__, reverse=reverse)
    return ListAdjoint(elements[i] for i in order)


def copy_cotangent(c, ans, x):
    """The transpose of ``copy_adjoint(., ans, x)`` (the adjoint of ``x`` in ``x.copy()``):
    ``c`` itself, except for a set, whose members' cotangents (in ``x``'s order) move to
    their places in the copy ``ans``. Also ``copy_tangent`` with a zero ``t`` allowed."""
    if _is_zero(c) or not isinstance(x, (set, frozenset)):
        return c
    mine = {id(member): e for member, e in zip(x, element_adjoints(c, len(x)), strict=True)}
    return ListAdjoint(mine[id(member)] for member in ans)


# -- sets --------------------------------------------------------------------------------------
def _first_positions(values: list, members) -> list[int]:
    """For each member of a set, the position of the first of ``values`` that put it there
    (the same object or an equal one: a set keeps the first it is given)."""
    positions = []
    for member in members:
        first = next((k for k, v in enumerate(values) if v is member or v == member), None)
        if first is None:
            raise ADTransformError(
                "cannot differentiate a set of differentiated values changed in place after "
                "it was made (add, |=, ...): make a new set instead"
            )
        positions.append(first)
    return positions


def set_members(c, ans, iterable):
    """The transpose of ``set_adjoint(., ans, iterable)`` (each member's adjoint sent to
    the first element of ``iterable`` equal to it): each member of the set ``ans`` takes
    the cotangent of that element, a ``ListAdjoint`` in the set's order. It is also
    ``set_tangent`` with a zero ``t`` allowed (0 for a set of a dict's keys)."""
    if _is_zero(c) or isinstance(iterable, (dict, KeysView)):
        return 0.0
    values = list(iterable)
    elements = element_adjoints(c, len(values))
    return ListAdjoint(elements[k] for k in _first_positions(values, ans))


def set_operand_members(c, ans, x, other, first: bool, tangent: bool = False):
    """The transpose of ``set_operand_adjoint(., ans, x, other, first)`` (the members'
    adjoints of ``ans = x | other`` (``&``, ``^``) sent to the operand ``x`` holding each
    member object, the left one if both do): each member of ``ans`` takes the cotangent
    of that member of ``x``, 0 where ``x`` does not give it. With ``tangent``, an
    ``ElementwiseList`` (a term of the tangent of ``ans``: ``set_operand_tangent`` with a
    zero ``t`` allowed). 0 where ``x`` is no set (no derivative)."""
    if _is_zero(c) or not isinstance(x, (set, frozenset)):
        return 0.0
    mine = {id(member): e for member, e in zip(x, element_adjoints(c, len(x)), strict=True)}
    taken = () if first else {id(member) for member in other}
    members = (mine[id(m)] if id(m) in mine and id(m) not in taken else 0.0 for m in ans)
    return ElementwiseList(members) if tangent else ListAdjoint(members)


# -- dict items and ndarray.item ------------------------------------------------------------
def items_cotangent(c, x: dict):
    """The transpose of ``items_adjoint(., x)`` (the values' adjoints of ``x.items()``'s
    pairs put under their keys): a ``ListAdjoint`` of one pair cotangent ``[0, c[key]]``
    per key of ``x``, in the dict's order (keys carry no derivative)."""
    if _is_zero(c):
        return 0.0
    if not isinstance(c, (dict, KeyItem)):
        raise ADTransformError(
            f"cannot differentiate the adjoint of dict.items() again: its cotangent is a "
            f"{type(c).__name__}"
        )
    pairs = []
    for key in x:
        value = c.get(key, 0.0) if isinstance(c, dict) else c[key]
        pairs.append(0.0 if _is_zero(value) else ListAdjoint([0.0, value]))
    return ListAdjoint(pairs)


def item_method_cotangent(c, x, index=None):
    """The transpose of ``item_method_adjoint(., x, index)`` (the adjoint of ``x.item(i)``
    or ``x.item(i, j)``: zeros like ``x`` with the adjoint at that element): ``c`` read at
    that element, a number (``x.item()`` of a one-element ``x``: its only element)."""
    if _is_zero(c):
        return 0.0
    c = np.asarray(c)
    if index is None:
        return c.reshape(())[()]
    if len(index) == 1:
        return c.flat[index[0]]
    return c[tuple(index)]


# -- the helpers again, with a zero first argument allowed ----------------------------------
# The tangent of a helper linear in its first argument is the same helper on that argument's
# tangent, which second-order code may hold as the number 0 (an adjoint nothing reached on
# this run); these give 0 for it and are otherwise the helper itself (the same rules).
def _or_zero(helper):
    def or_zero(t, *args):
        return 0.0 if _is_zero(t) else helper(t, *args)

    or_zero.__name__ = or_zero.__qualname__ = f"{helper.__name__}_or_zero"
    or_zero.__doc__ = f"``{helper.__name__}(t, ...)``, and 0 for a zero ``t``."
    return or_zero


append_adjoint_or_zero = _or_zero(append_adjoint)
joined_adjoint_or_zero = _or_zero(joined_adjoint)
spread_or_zero = _or_zero(spread)
set_tangent_or_zero = _or_zero(set_tangent)
set_operand_tangent_or_zero = _or_zero(set_operand_tangent)
sorted_tangent_or_zero = _or_zero(sorted_tangent)
copy_tangent_or_zero = _or_zero(copy_tangent)
