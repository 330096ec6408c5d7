"""Helpers of ``rules/containers.py``: list and dict adjoints as the generated code
builds them (appends, slots of a dict, iteration, ``.values()``/``.items()``), ``sum`` of a
sequence, starred unpacking, ``reversed``/``sorted``, ``min``/``max`` of an iterable and
``zip(*rows)``.
"""

from __future__ import annotations

import numpy as np

from ..errors import ADTransformError
from .adjoints import unbroadcast, zeros_like
from .in_place import fresh_copy
from .operators import _is_sequence, element_adjoints, head_adjoint
from .shape_indexing import index_adjoint
from .values import DictAdjoint, Item, KeyItem, ListAdjoint, _is_zero


def extend_adjoint(g, start: int, values):
    """The adjoint of ``values`` in ``xs.extend(values)``: the adjoints of the elements it
    added to ``xs`` (from ``start`` on), taken out of ``xs``'s adjoint ``g``."""
    added = list(g[start:])
    del g[start:]
    if isinstance(values, np.ndarray):
        out = zeros_like(values)
        for k, element in enumerate(added):
            out[k] += element
        return out
    if isinstance(values, (list, tuple)):
        return ListAdjoint(added)
    raise ADTransformError(
        f"cannot differentiate xs.extend() of a {type(values).__name__}: extend a list, a "
        "tuple or an ndarray"
    )


def truncate(xs: list, length: int) -> None:
    """Undo ``xs.extend(...)``: back to its first ``length`` elements."""
    del xs[length:]


def dict_receiver(x, method: str) -> None:
    """Refuse the adjoint of a dict method (``get``, ``values``, ``items``), chosen by its
    name, for an object that is not a dict (a method of a user class of the same name)."""
    if not isinstance(x, dict):
        raise ADTransformError(
            f"cannot differentiate .{method}() of a {type(x).__name__} object: it was taken "
            "for dict's by its name, and methods of other classes are not differentiated"
        )


def dict_get_adjoint(g, x, key):
    """The adjoint of the dict ``x`` in ``x.get(key, default)``: ``g`` under ``key`` if
    the dict has it (the default was not taken), else zero."""
    dict_receiver(x, "get")
    return KeyItem(key, g) if key in x else DictAdjoint()  # a dict's zero reads keys


def dict_default_adjoint(g, x, key, default=None):
    """The adjoint of ``default`` in ``x.get(key, default)``: ``g`` if the key is missing,
    else zeros shaped like ``default`` (a list default's elements are read from it)."""
    dict_receiver(x, "get")
    return zeros_like(default) if key in x else g


class NO_ITEM:
    """What ``dict_slot`` saves for a key the dict did not have."""


def dict_slot(d: dict, key):
    """What ``d[key] = v`` overwrites (saved for the backward sweep): the old value, or a
    marker where the write adds the key."""
    return fresh_copy(d[key]) if key in d else NO_ITEM


def item_slot(container, index):
    """What ``container[index] = v`` overwrites, for a container whose kind was not known
    when the code was generated: ``dict_slot`` for a dict, else the old item (a copy)."""
    if isinstance(container, dict):
        return dict_slot(container, index)
    return fresh_copy(container[index])


def dict_copy(mapping, names: tuple = (), values: tuple = (), spread: bool = False) -> dict:
    """``dict(mapping, name=value, ...)`` (``spread``: ``dict(**mapping, name=value)``),
    with Python's own checks (keys of ``**`` must be strings and not repeated)."""
    if spread:
        return dict(**mapping, **dict(zip(names, values)))
    return dict(mapping, **dict(zip(names, values)))


def dict_copy_adjoint(g, mapping, names: tuple):
    """The adjoint of ``mapping`` in ``dict_copy``: ``g`` under each of its keys that no
    keyword replaced. Only a dict is followed (``dict(pairs)`` is refused)."""
    if _is_zero(g):
        return 0.0
    if not isinstance(mapping, dict):
        raise ADTransformError(
            f"cannot differentiate dict(...) of a {type(mapping).__name__} object: only a "
            "dict is followed; write a dict comprehension ({k: v for k, v in pairs}) instead"
        )
    return DictAdjoint((key, g[key]) for key in mapping if key not in names)


def dict_copy_values_adjoint(g, names: tuple):
    """The adjoint of the keyword values given to ``dict_copy``: ``g`` under each name."""
    if _is_zero(g):
        return 0.0
    return ListAdjoint(g[name] for name in names)


def restore_slot(d: dict, key, saved) -> None:
    """Undo ``d[key] = v``: put the old value back, or remove a key the write added."""
    if saved is NO_ITEM:
        del d[key]
    else:
        d[key] = saved


def display_value_adjoint(g, keys: tuple, position: int):
    """The adjoint of the value at ``position`` of a dict display whose keys are ``keys``
    (evaluated): ``g`` under its key, or zero where a later entry of the display has the
    same key (Python keeps the last value)."""
    key = keys[position]
    if key in keys[position + 1 :]:
        return 0.0
    return g[key]


def iterated(x, index):
    """The element ``for`` reaches at ``index`` in ``x`` (never run: the primal of a loop
    header over a value whose kind is not known until it runs, see ``iteration_adjoint``)."""
    return x[index]


def dict_key(x, index):
    """The key ``for`` reaches at ``index`` in the dict ``x`` (never run: the primal of a
    loop header over a dict, whose elements are keys and carry no derivative)."""
    return list(x)[index]


def iteration_adjoint(g, x, index):
    """The adjoint of ``x`` for the element a ``for`` loop took at position ``index``: at
    that position of a list, tuple or array (or a dict's values view); the keys a loop
    over a dict or its ``keys()`` takes carry no derivative."""
    if isinstance(x, (dict, type({}.keys()))):
        return 0.0  # a key: a constant (see ``spread``)
    if isinstance(x, (type({}.values()), type({}.items()), set, frozenset)):
        return Item(index, g, len(x))
    return index_adjoint(g, x, index)


def values_adjoint(g, x: dict):
    """The adjoint of the dict ``x`` in ``x.values()``: the adjoint of each value (the
    elements of ``g``, in the dict's order) under its key."""
    dict_receiver(x, "values")
    if _is_zero(g):
        return 0.0
    return DictAdjoint(zip(x.keys(), element_adjoints(g, len(x))))


def items_adjoint(g, x: dict):
    """The adjoint of the dict ``x`` in ``x.items()``: each ``(key, value)`` pair's adjoint
    (an ``Item``, a pair of adjoints or zero) gives its value's under the key."""
    dict_receiver(x, "items")
    if _is_zero(g):
        return 0.0
    pairs = element_adjoints(g, len(x))
    return DictAdjoint((key, 0.0 if _is_zero(p) else p[1]) for key, p in zip(x.keys(), pairs))


def sequence_sum_adjoint(g, x, start=0):
    """The adjoint of ``x`` in builtin ``sum(x, start)`` for a sequence or an array ``x``.

    With a list or tuple ``start`` the sum joins sequences (``sum(rows, [])``): each
    element of ``x`` receives the adjoints of the elements it added."""
    if _is_sequence(start):
        parts = _joined_parts(start, x)
        elements = element_adjoints(g, sum(parts))
        starts = np.cumsum(parts)
        return ListAdjoint(
            ListAdjoint(elements[starts[k] : starts[k + 1]]) for k in range(len(parts) - 1)
        )
    if isinstance(x, (list, tuple, type({}.values()), set, frozenset)):
        return ListAdjoint(unbroadcast(g, element) for element in x)
    if isinstance(x, dict):
        return DictAdjoint()  # the sum of a dict's keys: keys carry no derivative
    return np.broadcast_to(g, np.shape(x))


def sum_start_adjoint(g, x, start):
    """The adjoint of ``start`` in builtin ``sum(x, start)`` (its first elements where the
    sum joins sequences)."""
    if _is_sequence(start):
        _joined_parts(start, x)  # the same error as for x's adjoint
        return head_adjoint(g, len(start))
    return unbroadcast(g, start)


def _joined_parts(start, x) -> list[int]:
    """The lengths of ``start`` and of each element of ``x`` in ``sum(x, start)`` that
    joins lists or tuples; an error where the sum mixes sequences and numbers or arrays."""
    parts = [len(start)]
    for element in x:
        if not _is_sequence(element):
            raise ADTransformError(
                f"cannot differentiate sum() of a {type(element).__name__} onto a "
                f"{type(start).__name__}: it mixes joining sequences and arithmetic"
            )
        parts.append(len(element))
    return parts


# -- containers: joins, starred unpacking, reversed, sorted, min/max of an iterable ------
# Normalize turns ``[*s, *t]``, ``first, *rest = xs``, ``reversed(xs)``, ``max(xs)`` and
# ``zip(*rows)`` into calls of these (primitives with rules in ``rules/containers``); the
# adjoint of what they read from an iterable goes back with ``spread``.


def spread(elements: list, like):
    """The adjoint of the iterable ``like`` from the adjoints of the elements iterating it
    gave, in order: a list adjoint for a list, a tuple or a dict's values or items view;
    an array for an array (its rows); zero for a dict or its keys (keys
    carry no derivative). Anything else (an iterator, a set) is refused."""
    if isinstance(like, (list, tuple, type({}.values()), type({}.items()), set, frozenset)):
        # a view's adjoint lists its elements' (``items_adjoint`` then keys the pairs')
        return ListAdjoint(elements)
    if isinstance(like, np.ndarray):
        out = zeros_like(like)
        for k, element in enumerate(elements):
            if not _is_zero(element):
                out[k] += element
        return out
    if isinstance(like, (dict, type({}.keys()))):
        # keys never depend on the differentiated arguments (``analyze`` refuses a dict
        # keyed by such a value): an adjoint reaching one is that of a constant
        return DictAdjoint() if isinstance(like, dict) else 0.0
    raise ADTransformError(
        f"cannot differentiate the elements of a {type(like).__name__} taken by iterating "
        "it: iterate a list, a tuple, a dict or an ndarray"
    )


def _iterated_length(like) -> int:
    """How many elements iterating ``like`` gave (for the kinds ``spread`` accepts)."""
    try:
        return len(like)
    except TypeError:
        spread([], like)  # the refusal naming the type
        raise


def joined_list(parts: tuple) -> list:
    """``[*s, x, *t]``: the elements of each part (``[x]`` for plain elements), in order."""
    out = []
    for part in parts:
        out.extend(part)
    return out


def joined_tuple(parts: tuple) -> tuple:
    """``(*s, x, *t)``: the elements of each part as a tuple."""
    return tuple(joined_list(parts))


def joined_parts_adjoint(g, parts: tuple):
    """The adjoint of the parts of ``[*s, x, *t]``: each part's elements' adjoints."""
    lengths = [_iterated_length(part) for part in parts]
    elements = element_adjoints(g, sum(lengths))
    out, start = [], 0
    for part, length in zip(parts, lengths):
        out.append(spread(elements[start : start + length], part))
        start += length
    return ListAdjoint(out)


def starred_parts(whole, before: int, after: int) -> tuple:
    """``a, *rest, b = whole``: ``(a, rest, b)`` with ``rest`` a list, or Python's own
    ``ValueError`` where ``whole`` has fewer than ``before + after`` elements."""
    elements = list(whole)
    if len(elements) < before + after:
        raise ValueError(
            f"not enough values to unpack (expected at least {before + after}, got {len(elements)})"
        )
    rest = elements[before : len(elements) - after]
    return (*elements[:before], rest, *elements[len(elements) - after :])


def set_of(*elements) -> set:
    """``{"a", "b"}``: a set display of constants."""
    return set(elements)


def unpacked(whole, count: int):
    """``a, b = whole``: ``whole`` itself when it is a tuple or list of ``count`` elements,
    else the elements iterating it gives (a dict its keys, a view its items) as a tuple;
    Python's own ``ValueError`` where their number is not ``count``."""
    if type(whole) in (tuple, list) and len(whole) == count:
        return whole
    elements = tuple(whole)
    if len(elements) > count:
        raise ValueError(f"too many values to unpack (expected {count})")
    if len(elements) < count:
        raise ValueError(f"not enough values to unpack (expected {count}, got {len(elements)})")
    return elements


def starred_adjoint(g, whole, before: int, after: int):
    """The adjoint of ``whole`` in ``starred_parts(whole, before, after)``."""
    length = _iterated_length(whole)
    if _is_zero(g):
        return 0.0
    parts = element_adjoints(g, before + 1 + after)
    middle = length - before - after
    rest = element_adjoints(parts[before], middle)
    return spread([*parts[:before], *rest, *parts[before + 1 :]], whole)


def reversed_list(x) -> list:
    """``reversed(x)`` as a list of the elements in reverse order (iterated the same)."""
    return list(reversed(x))


def reversed_adjoint(g, x):
    """The adjoint of ``x`` in ``reversed_list(x)``."""
    length = _iterated_length(x)
    if _is_zero(g):
        return 0.0
    return spread(element_adjoints(g, length)[::-1], x)


def sorted_adjoint(g, x, reverse=False):
    """The adjoint of ``x`` in ``sorted(x, reverse=reverse)``: the permutation Python's
    stable sort chose (ties keep their order) sends each element's adjoint back."""
    values = list(x)
    if _is_zero(g):
        return 0.0
    order = sorted(range(len(values)), key=values.__getitem__, reverse=reverse)
    taken = element_adjoints(g, len(values))
    elements = [0.0] * len(values)
    for position, source in enumerate(order):
        elements[source] = taken[position]
    return spread(elements, x)


def max_of(x):
    """``max(x)`` of one iterable (normalize's name for it: ``max`` of two has its own rule)."""
    return max(x)


def min_of(x):
    """``min(x)`` of one iterable."""
    return min(x)


def extreme_of_adjoint(g, ans, x):
    """The adjoint of ``x`` in ``max(x)`` or ``min(x)``: ``g`` to the element(s) equal to
    the result, split equally between ties (the convention of ``max(a, b)``)."""
    values = list(x)
    if _is_zero(g):
        return 0.0
    if isinstance(ans, (tuple, list)):
        # compared item by item: the element Python returned (the first of equal ones)
        # takes the whole adjoint, which may be a list or tuple adjoint itself
        tied = [_position_of_sequence(values, ans)]
        share = g
    else:
        tied = [k for k, v in enumerate(values) if v == ans]
        share = g / len(tied)
    elements = [0.0] * len(values)
    for k in tied:
        elements[k] = share
    return spread(elements, x)


def _position_of_sequence(values: list, ans) -> int:
    """The position of the tuple or list ``ans`` among ``values``: the object itself, or
    (a view such as ``d.items()`` makes its tuples anew) the first with the same items."""
    for same in (
        lambda v: v is ans,
        lambda v: len(v) == len(ans) and all(a is b for a, b in zip(v, ans)),
    ):
        for k, v in enumerate(values):
            if same(v):
                return k
    return next(k for k, v in enumerate(values) if v == ans)


def zip_rows(rows) -> list:
    """``zip(*rows)`` as a list of tuples (iterated the same): the columns of ``rows``."""
    return list(zip(*rows))


def zip_rows_adjoint(g, rows):
    """The adjoint of ``rows`` in ``zip_rows(rows)``: element ``j`` of row ``i`` receives
    the adjoint of element ``i`` of column ``j`` (elements past the shortest row none)."""
    row_list = list(rows)
    if _is_zero(g):
        return 0.0
    lengths = [_iterated_length(row) for row in row_list]
    width = min(lengths, default=0)
    columns = element_adjoints(g, width)
    out = []
    for i, (row, length) in enumerate(zip(row_list, lengths)):
        elements = [
            element_adjoints(columns[j], len(row_list))[i] if j < width else 0.0
            for j in range(length)
        ]
        out.append(spread(elements, row))
    return spread(out, rows)


def conversion_adjoint(g, x):
    """The adjoint of ``x`` in ``list(x)`` or ``tuple(x)``: its elements' adjoints."""
    length = _iterated_length(x)
    if _is_zero(g):
        return 0.0
    return spread(element_adjoints(g, length), x)


# -- sets of differentiated values (issue 12: set comprehensions) ---------------------------
# A set's adjoint is a list adjoint in the set's iteration order (``spread``,
# ``sequence_sum_adjoint`` and ``iteration_adjoint`` treat a set like a list).


def set_adjoint(g, ans, iterable):
    """The adjoint of ``iterable`` in ``set(iterable)`` (``ans`` the set): each member's
    adjoint goes to the element that put it there, the first of the equal elements (a set
    keeps the first one it is given; the later equal ones are dropped and get zero)."""
    values = list(iterable)
    if _is_zero(g):
        return 0.0
    members = element_adjoints(g, len(ans))
    elements = [0.0] * len(values)
    for position, member in enumerate(ans):
        first = next((k for k, v in enumerate(values) if v is member or v == member), None)
        if first is None:
            raise ADTransformError(
                "cannot differentiate a set of differentiated values changed in place after "
                "it was made (add, |=, ...): make a new set instead"
            )
        elements[first] = members[position]
    return spread(elements, iterable)


def copy_adjoint(g, ans, x):
    """The adjoint of ``x`` in ``x.copy()``: ``g`` itself, except for a set, whose copy
    may iterate in another order: each member's adjoint is moved to its place in ``x``."""
    if not isinstance(x, (set, frozenset)) or _is_zero(g):
        return g
    copied = element_adjoints(g, len(ans))
    place = {id(member): position for position, member in enumerate(ans)}
    return ListAdjoint(copied[place[id(member)]] for member in x)


def deepcopy_adjoint(g, x):
    """The adjoint of ``x`` in ``copy.deepcopy(x)``: ``g`` itself (the same values in new
    containers); a set's copy holds new members, which cannot be matched to ``x``'s."""
    if isinstance(x, (set, frozenset)) and not _is_zero(g):
        raise ADTransformError(
            "cannot differentiate copy.deepcopy of a set of differentiated values: write "
            "set(x) or x.copy()"
        )
    return g


def _merge_operand_adjoint(g, ans, x: dict, other, first: bool):
    """The adjoint of the dict ``x`` in ``ans = x | other`` (``first``) or ``other | x``:
    the adjoint of each key's value in ``ans`` goes to the operand it came from, the right
    one where both hold the key (Python's merge keeps the right operand's value)."""
    if ans is x or ans is other:
        raise ADTransformError(
            "cannot differentiate '|=' on a dict of differentiated values: write 'd = d | e'"
        )
    if _is_zero(g):
        return 0.0
    kept = (lambda key: key not in other) if first else (lambda key: True)
    return DictAdjoint({key: g[key] for key in x if key in g and kept(key)})


def set_operand_adjoint(g, ans, x, other, first: bool):
    """The adjoint of the operand ``x`` of ``|``, ``&`` or ``^`` (``other`` the other
    operand, ``first`` whether ``x`` is the left one). On sets, each member of the result
    ``ans`` is an element object of an operand (sets never make new elements): its adjoint
    goes to the operand holding that object, the left one if both do. On anything else
    (integers, boolean arrays) the operators carry no derivative; on dicts ``|`` merges
    (``_merge_operand_adjoint``)."""
    if isinstance(x, dict):
        return _merge_operand_adjoint(g, ans, x, other, first)
    if not isinstance(x, (set, frozenset)) or _is_zero(g):
        return 0.0
    if ans is x or ans is other:
        raise ADTransformError(
            "cannot differentiate an in-place operator ('|=', '&=', '^=') on a set of "
            "differentiated values: write 's = s | t'"
        )
    members = element_adjoints(g, len(ans))
    place = {id(member): position for position, member in enumerate(ans)}
    taken = () if first else {id(member) for member in other}
    return ListAdjoint(
        members[place[id(member)]] if id(member) in place and id(member) not in taken else 0.0
        for member in x
    )
