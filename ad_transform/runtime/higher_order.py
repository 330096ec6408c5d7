"""Helpers for the rules of runtime helpers (``rules/runtime_helpers.py``): what
differentiating ad_transform's own generated code (second and higher order) needs."""

from __future__ import annotations

import operator

import numpy as np

from ..errors import ADTransformError
from .adjoints import unbroadcast
from .elementwise import over, power_derivative, times
from .shape_indexing import concatenate_adjoint, stack_adjoint
from .values import DictAdjoint, Item, ListAdjoint, is_discrete


def to_shape_of(g, like):
    """The cotangent ``g`` of a value computed from ``like`` by broadcasting or summing,
    brought to ``like``'s shape: summed where ``like`` was broadcast (``unbroadcast``),
    spread where ``like`` was summed (a new array, never a read-only view); a number for a
    number."""
    if isinstance(g, (list, tuple, Item)) or isinstance(like, (list, tuple, Item)):
        return g  # list adjoints: one per element, the structure of like already
    g_shape, shape = np.shape(g), np.shape(like)
    if g_shape == shape:
        return g
    if len(g_shape) <= len(shape) and np.broadcast_shapes(g_shape, shape) == shape:
        return np.array(np.broadcast_to(g, shape))
    return unbroadcast(g, like)


def arithmetic_only(g, x, y, what: str):
    """``g``, after checking that ``x`` and ``y`` (the operands of ``+`` or ``*`` whose kinds
    were not known when the first derivative was generated) are numbers or arrays: the
    derivative of joining or repeating lists is not written."""
    for operand in (x, y):
        if isinstance(operand, (list, tuple, dict)):
            raise ADTransformError(
                f"cannot differentiate {what} of a {type(operand).__name__} again (a second "
                "derivative through joined or repeated lists is not supported)"
            )
    return g


def power_second_derivative(x, y, power=None):
    """``d/dx (y * x**(y - 1)) = y * (y - 1) * x**(y - 2)``: the derivative of
    ``power_derivative(x, y, power)`` in its base (0 where ``y`` is 0 or 1)."""
    return y * power_derivative(x, y - 1, power or np.power)


def power_derivative_exponent(x, y, power=None):
    """``d/dy (y * x**(y - 1)) = x**(y - 1) * (1 + y * log(x))``: the derivative of
    ``power_derivative(x, y)`` in its exponent (IEEE values, no warning)."""
    power = power or np.power
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return power(x, y - 1) * (1 + y * np.log(x))


def power_exponent_partial(x, y, power=None, which: int = 0):
    """The partial derivative of ``power_derivative_exponent(x, y)`` in ``x`` (``which``
    0: ``x**(y - 2) * ((y - 1) * (1 + y*log(x)) + y)``) or in ``y`` (1:
    ``x**(y - 1) * log(x) * (2 + y*log(x))``)."""
    power = power or np.power
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log = np.log(x)
        if which == 0:
            return power(x, y - 2) * ((y - 1) * (1 + y * log) + y)
        return power(x, y - 1) * log * (2 + y * log)


def gathered(g, like, index):
    """The transpose of scattering ``like`` into zeros at ``index`` (``index_adjoint``):
    the cotangent ``g`` read at ``index``, brought to ``like``'s shape; 0 for a zero ``g``."""
    if isinstance(g, (int, float)) and g == 0:
        return 0.0
    if isinstance(g, dict):
        return to_shape_of(g.get(index, 0.0), like)
    return to_shape_of(g[index], like)


def last_item(xs):
    """``xs[-1]``: the adjoint popped for an ``append`` in code to be differentiated again
    (``higher_order.PlainBuilder``: ``xs.pop()`` as a read and a rebinding)."""
    return xs[-1]


def without_last(xs):
    """A new list adjoint of all but the last element of ``xs`` (``xs`` is not changed;
    a sparse ``Item`` is read element by element)."""
    if isinstance(xs, Item):
        return ListAdjoint([xs[k] for k in range(xs.length - 1)])
    return ListAdjoint(xs[:-1])


def dropped_last(xs):
    """``xs`` without its last element, as a new list (the undo of ``xs.append(v)`` in code
    to be differentiated again; the ownership checks of the first derivative guarantee
    that no other name holds ``xs``)."""
    return xs[:-1]


def scattered(g, whole, index, part):
    """The transpose of ``gathered(whole, part, index)``: ``g`` (shaped like ``part``)
    summed to the shape of ``whole[index]`` and put at ``index`` of zeros like ``whole``."""
    from .shape_indexing import index_adjoint

    if isinstance(g, (int, float)) and g == 0:
        return 0.0
    return index_adjoint(to_shape_of(g, whole[index]), whole, index)


def first_items(g):
    """The transpose of ``with_last_zero``: ``g`` without its last element."""
    if isinstance(g, (int, float)) and g == 0:
        return 0.0
    return ListAdjoint(list(g)[:-1])


def item_at_end(g):
    """The transpose of ``last_item_cotangent``: the last element of ``g`` (0 for 0)."""
    if isinstance(g, (int, float)) and g == 0:
        return 0.0
    return g[-1]


def last_item_cotangent(g, xs):
    """The transpose of ``last_item``: ``g`` at the end of zeros shaped like ``xs``."""
    return Item(len(xs) - 1, g, len(xs))


def with_last_zero(g, xs):
    """The transpose of ``without_last``: the cotangent ``g`` and a zero for the last item."""
    if isinstance(g, (int, float)) and g == 0:
        return 0.0
    return ListAdjoint([*g, 0.0])


def conversion_cotangent(g, like):
    """The transpose of ``conversion_adjoint(., like)`` (the elements' adjoints of an
    iterable put into its structure): the cotangent ``g`` as a list of its elements."""
    if isinstance(g, (int, float)) and g == 0:
        return 0.0
    if isinstance(g, dict) or isinstance(like, (dict, set, frozenset)):
        raise ADTransformError(
            f"cannot differentiate the adjoint of iterating a {type(like).__name__} again"
        )
    if isinstance(g, Item):  # ``list(item)`` would never end: Item has no ``__iter__``
        return ListAdjoint([g[k] for k in range(g.length)])
    return ListAdjoint(list(g))


def numeric_operand(g, x):
    """``g`` after checking that ``x`` (an operand given to a NumPy function) is no list or
    tuple: the derivative of ``operand_adjoint``/``array_operand`` on them is not written."""
    if isinstance(x, (list, tuple)):
        raise ADTransformError(
            f"cannot differentiate again the adjoint of a {type(x).__name__} given to a NumPy "
            "function (a second derivative through it): give an array"
        )
    return g


def item_cotangent(g, adjoint, index, value, into=None):
    """The transpose of ``item_adjoint(adjoint, index, value, into)`` (the adjoint of a
    value stored at ``adjoint[index]``) in its adjoint argument: ``g`` scattered into zeros
    shaped like ``adjoint`` at ``index``. Index arrays that may name an item twice, and
    lists and dicts, are refused."""
    from .adjoints import _may_repeat

    if isinstance(g, (int, float)) and g == 0:
        return 0.0
    if is_discrete(into):
        return 0.0
    if not isinstance(adjoint, np.ndarray) or _may_repeat(index):
        raise ADTransformError(
            "cannot differentiate again the adjoint of a value stored into a list, a dict or "
            "at an index array (a second derivative through it)"
        )
    out = np.zeros(adjoint.shape, dtype=np.result_type(adjoint, g))
    out[index] = to_shape_of(g, out[index])
    return out


def reshaped_like(g, like, order="C"):
    """The transpose of ``reshape_adjoint(., x, order)``: ``g`` in the shape of ``like``
    (the adjoint the reshape was given), in the same element order."""
    if isinstance(g, (int, float)) and g == 0:
        return 0.0
    if order not in ("C", "F"):
        raise ADTransformError(
            f"cannot differentiate the adjoint of a reshape with order={order!r} again"
        )
    return np.reshape(g, np.shape(like), order=order)


def outer_factor(g, like, vector, left: bool):
    """The transpose in its adjoint argument of ``outer_adjoint_left(., a, vector)``
    (``left``) or ``outer_adjoint_right(., vector, b)``: an outer product in ``like``'s
    shape (``like`` is the adjoint the helper was given)."""
    if left:
        product = np.outer(np.ravel(g), np.ravel(vector))
    else:
        product = np.outer(np.ravel(vector), np.ravel(g))
    return np.reshape(product, np.shape(like))


def cumulative_sum(g, like, axis=None):
    """The transpose of ``cumsum_adjoint(., x, axis)`` (a reversed cumulative sum): the
    cumulative sum of ``g``, in the shape of ``like``."""
    if axis is None:
        return np.reshape(np.cumsum(np.ravel(g)), np.shape(like))
    return np.cumsum(g, axis)


def joined_pieces(g, arrays, axis=0, stacked=False):
    """The transpose of ``concatenate_adjoint``/``stack_adjoint``: the pieces of the list
    adjoint ``g`` (zeros for a zero piece) concatenated, or stacked, along ``axis``."""
    if isinstance(g, (int, float)) and g == 0:
        return 0.0
    pieces = [
        np.zeros(np.shape(a)) if isinstance(p, (int, float)) and p == 0 else np.asarray(p)
        for p, a in zip(g, arrays)
    ]
    if stacked:
        return np.stack(pieces, axis)
    if axis is None:
        return np.concatenate([np.ravel(p) for p in pieces])
    return np.concatenate(pieces, axis)


def item_added(items, index, value):
    """``items`` with ``value`` added at ``index``, as a new adjoint (``items`` is not
    changed): the rebinding form of ``dxs[i] += g`` in code to be differentiated again.
    ``items``: a list adjoint, a dict adjoint, or a float array indexed by integers and
    slices (an index array could name an element twice)."""
    if isinstance(items, list):
        out = ListAdjoint(items)
    elif isinstance(items, dict):
        out = DictAdjoint(items)
    elif isinstance(items, np.ndarray) and _basic_index(index):
        out = np.array(items, dtype=np.result_type(items, value, np.float64))
    else:
        raise ADTransformError(
            f"cannot differentiate adding into item {index!r} of a {type(items).__name__} "
            "adjoint again (a list or dict adjoint, or an array indexed by integers and "
            "slices, was expected)"
        )
    out[index] = out[index] + value
    return out


def _basic_index(index) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return all(
        (isinstance(p, (slice, int, np.integer)) and not isinstance(p, bool)) or p is None
        for p in parts
    )


def split_pieces(g, arrays, axis=0, stacked=False):
    """The transpose of ``joined_pieces`` in ``g``: the array cotangent ``g`` cut back into
    one piece per array (``stack_adjoint``, or ``concatenate_adjoint``); 0 stays 0."""
    if isinstance(g, (int, float)) and g == 0:
        return 0.0
    if stacked:
        return stack_adjoint(g, arrays, axis)
    return concatenate_adjoint(g, arrays, axis)


def log_derivative(x):
    """``d/dx safe_log(x)``: ``1/x``, and 0 at ``x == 0`` (where ``safe_log`` is the
    constant 0 of its limit)."""
    if isinstance(x, np.ndarray):
        with np.errstate(divide="ignore"):
            return np.where(x == 0, 0.0, 1.0 / np.where(x == 0, 1.0, x))
    return 0.0 if x == 0 else 1.0 / x


def real_sign(z):
    """``sign(z)`` of a real ``z``: the factor of ``abs_adjoint`` (complex ``z`` refused: its
    factor depends on ``z``, whose derivative here is not written)."""
    if np.iscomplexobj(z):
        raise ADTransformError("cannot differentiate the adjoint of abs of a complex value again")
    return np.sign(z)


def in_place_joins_or_adds(target, value) -> bool:
    """Whether ``target += value`` joins lists or tuples (``xs += [v]``) or adds adjoint
    containers element by element (``dxs += ListAdjoint(...)`` in code differentiated
    again), as Python decides (``runtime/operators``), rather than adding numbers."""
    from .operators import _adds_adjoints, _joins

    return _adds_adjoints(target, value) or _joins(target, value, True)


def in_place_adjoint(g, operation, target, value, ans, which: int):
    """The cotangent of ``target`` (``which`` 0) or ``value`` (1) in ``in_place(operation,
    target, value)`` (generated code's ``target op= value`` on values of unknown kinds) for
    the cotangent ``g`` of its result: ``+=``, ``-=``, ``*=`` and ``/=`` on numbers and
    arrays; ``+=`` joining lists or adding adjoint containers
    (``joined_in_place_adjoint``); other operators on lists are refused."""
    operand = (target, value)[which]
    if operation is operator.iadd and in_place_joins_or_adds(target, value):
        from .higher_order_containers import joined_in_place_adjoint

        return joined_in_place_adjoint(g, target, value, which)
    arithmetic_only(g, target, value, "'op=' in generated code")
    if operation is operator.iadd:
        return to_shape_of(g, operand)
    if operation is operator.isub:
        return to_shape_of(g if which == 0 else -g, operand)
    if operation is operator.imul:
        return to_shape_of(times(g, (value, target)[which]), operand)
    if operation is operator.itruediv:
        return to_shape_of(over(g, value) if which == 0 else -over(times(g, ans), value), operand)
    raise ADTransformError(f"cannot differentiate {operation.__name__} in generated code again")


def additive_partial(operation):
    """The partial of ``in_place_adjoint``/``in_place_tangent`` in the values they are
    given (``target``, ``value``, ``ans``): 0 for ``+=`` and ``-=``, whose partials are
    constant; ``*=`` and ``/=`` (whose partials are not) are refused."""
    if operation is operator.iadd or operation is operator.isub:
        return 0.0
    raise ADTransformError(
        f"cannot differentiate '{operation.__name__}' in generated code a fourth time "
        "(only += and -= of values of unknown kinds are taken to that order)"
    )


def in_place_tangent(t, operation, target, value, ans, which: int):
    """The term of ``target``'s (``which`` 0) or ``value``'s (1) tangent ``t`` in the tangent
    of ``in_place(operation, target, value)`` (see ``in_place_adjoint``)."""
    if operation is operator.iadd and in_place_joins_or_adds(target, value):
        from .higher_order_containers import joined_in_place_tangent

        return joined_in_place_tangent(t, target, value, which)
    arithmetic_only(t, target, value, "'op=' in generated code")
    if operation is operator.iadd:
        term = t
    elif operation is operator.isub:
        term = t if which == 0 else -t
    elif operation is operator.imul:
        term = times(t, (value, target)[which])
    elif operation is operator.itruediv:
        term = over(t, value) if which == 0 else -over(times(t, ans), value)
    else:
        raise ADTransformError(f"cannot differentiate {operation.__name__} in generated code again")
    if np.shape(term) != np.shape(ans):
        return np.array(np.broadcast_to(term, np.shape(ans)))
    return term


__all__ = [
    "additive_partial",
    "arithmetic_only",
    "conversion_cotangent",
    "cumulative_sum",
    "dropped_last",
    "first_items",
    "gathered",
    "in_place_adjoint",
    "in_place_joins_or_adds",
    "in_place_tangent",
    "item_added",
    "item_at_end",
    "item_cotangent",
    "joined_pieces",
    "last_item",
    "last_item_cotangent",
    "log_derivative",
    "numeric_operand",
    "outer_factor",
    "power_derivative_exponent",
    "power_exponent_partial",
    "power_second_derivative",
    "real_sign",
    "reshaped_like",
    "scattered",
    "split_pieces",
    "to_shape_of",
    "with_last_zero",
    "without_last",
]


def attribute_cotangent(g, x, name: str):
    """The transpose of ``attribute_adjoint(., x, name)`` (the adjoint of ``x`` in
    ``x.name``, linear in its adjoint): the cotangent ``g`` of that adjoint read at the
    attribute; 0 for a zero ``g``. ``g`` is an adjoint container (``Fields``, an ``Item``
    of a named tuple's field) or a value shaped like ``x``; anything else is refused."""
    from .values import Fields

    if isinstance(g, (int, float)) and not isinstance(g, bool) and g == 0:
        return 0.0
    if isinstance(g, Fields):
        return g[name]
    fields = getattr(type(x), "_fields", None) if isinstance(x, tuple) else None
    if isinstance(fields, tuple) and name in fields and isinstance(g, (Item, list, tuple)):
        return g[fields.index(name)]
    if isinstance(g, dict):
        return g.get(name, 0.0)
    if type(g) is type(x) and name in getattr(g, "__dict__", {}):
        return g.__dict__[name]
    raise ADTransformError(
        f"cannot differentiate the adjoint of the attribute read '.{name}' again: its "
        f"cotangent is a {type(g).__name__}"
    )


def log_softmax_tangent_adjoint(g, ans, axis=None):
    """The transpose of ``t -> log_softmax_tangent(t, ans, axis)`` (``t - sum(p t)`` with
    ``p = exp(ans)``, the softmax): ``g - p sum(g)``, the sums over ``axis``."""
    return g - np.exp(ans) * np.sum(g, axis=axis, keepdims=True)


def log_softmax_tangent_partial(g, t, ans, axis=None):
    """The cotangent of ``ans`` in ``log_softmax_tangent(t, ans, axis)`` for the cotangent
    ``g``: ``-p t sum(g)`` (``p = exp(ans)``); as a tangent (``g`` the tangent of ``ans``):
    ``-sum(p g t)`` broadcast, which :func:`log_softmax_tangent_direction` gives."""
    return -np.exp(ans) * t * np.sum(g, axis=axis, keepdims=True)


def log_softmax_tangent_direction(g, t, ans, axis=None):
    """The derivative of ``log_softmax_tangent(t, ans, axis)`` along ``g`` (a tangent of
    ``ans``): ``-sum(p g t)`` over ``axis``, broadcast to ``ans``'s shape."""
    summed = np.sum(np.exp(ans) * g * t, axis=axis, keepdims=True)
    return -np.broadcast_to(summed, np.shape(ans)).copy()


# -- the partials of the adjoints of max/min and of np.linalg.norm ---------------------------
def _norm_form(x, ord, axis) -> tuple[str, tuple[int, ...]]:
    """``("two", axes)`` for a vector 2-norm (or a Frobenius norm), ``("flat", axes)`` for
    the norms whose adjoint is locally constant in ``x`` (``ord`` 1, inf, -inf, 0);
    anything else (matrix norms, other ``p``) is refused: the second derivative through it
    is not written."""
    x = np.asarray(x)
    if axis is None:
        axes = tuple(range(x.ndim))
        matrix = ord is not None and x.ndim == 2
    else:
        axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
        axes = tuple(sorted(int(a) % x.ndim for a in axes))
        matrix = len(axes) == 2
    if not matrix and (ord in (None, 2) or ord == "fro"):
        return "two", axes
    if ord == "fro" and matrix:
        return "two", axes
    if not matrix and isinstance(ord, (int, float)) and ord in (1, 0, np.inf, -np.inf):
        return "flat", axes
    raise ADTransformError(
        f"cannot differentiate the adjoint of np.linalg.norm(..., ord={ord!r}, axis={axis!r}) "
        "again: the second derivative of this norm is not written (vector 2-norms, the "
        "Frobenius norm and ord 1, inf, -inf, 0 are)"
    )


def norm_adjoint_x_partial(c, g, ans, x, ord=None, axis=None, keepdims=False):
    """The derivative of ``norm_adjoint(g, ans, x, ...)`` (``g x / ans`` for the 2-norm)
    in ``x`` applied to ``c`` (shaped like ``x``): ``g c / ans`` (0 where ``ans`` is 0);
    zeros for the norms whose adjoint is locally constant in ``x``. Symmetric in ``c``, so
    it is both the cotangent and the tangent term of ``x``."""
    form, axes = _norm_form(x, ord, axis)
    if form == "flat" or (isinstance(c, (int, float)) and c == 0):
        return np.zeros(np.shape(x))
    g = _expand_value(g, axes, keepdims)
    ans = _expand_value(ans, axes, keepdims)
    return _divide_or_zero_values(g * c, ans)


def norm_adjoint_ans_cotangent(c, g, ans, x, ord=None, axis=None, keepdims=False):
    """The cotangent of ``ans`` in ``norm_adjoint(g, ans, x)`` for the cotangent ``c``:
    ``-sum(g c x) / ans**2`` over the norm's axes (the 2-norm); 0 for the norms whose
    adjoint does not read ``ans``'s value."""
    form, axes = _norm_form(x, ord, axis)
    if form == "flat" or (isinstance(c, (int, float)) and c == 0):
        return np.zeros(np.shape(ans)) if np.ndim(ans) else 0.0
    g = _expand_value(g, axes, keepdims)
    full = _expand_value(ans, axes, keepdims)
    summed = np.sum(-_divide_or_zero_values(g * c * np.asarray(x), full * full), axis=axes)
    return summed.reshape(np.shape(ans)) if np.ndim(ans) else float(summed)


def norm_adjoint_ans_tangent(t, g, ans, x, ord=None, axis=None, keepdims=False):
    """The derivative of ``norm_adjoint(g, ans, x)`` along ``t`` (a tangent of ``ans``):
    ``-g x t / ans**2`` (the 2-norm); zeros for the norms that do not read ``ans``."""
    form, axes = _norm_form(x, ord, axis)
    if form == "flat" or (isinstance(t, (int, float)) and t == 0):
        return np.zeros(np.shape(x))
    g = _expand_value(g, axes, keepdims)
    full = _expand_value(ans, axes, keepdims)
    t = _expand_value(t, axes, keepdims)
    return -_divide_or_zero_values(g * t * np.asarray(x), full * full)


def _expand_value(v, axes, keepdims):
    from .values import _expand

    return _expand(np.asarray(v, dtype=float), axes, keepdims)


def _divide_or_zero_values(num, den):
    from .reductions import _divide_or_zero

    return _divide_or_zero(num, den)


# -- transposes of adjoints of containers and of softmax ---------------------------------------
def _zero(c) -> bool:
    return isinstance(c, (int, float)) and not isinstance(c, bool) and c == 0


def dict_get_cotangent(c, g, x, key):
    """The transpose of ``dict_get_adjoint(., x, key)`` (``KeyItem(key, g)`` where the dict
    has the key, else a zero): the cotangent ``c`` of that adjoint read at ``key``, shaped
    like ``g``; 0 where the default was taken."""
    if _zero(c) or key not in x:
        return 0.0
    return gathered(c, g, key)


def sequence_sum_cotangent(c, g, x, start=0):
    """The transpose of ``sequence_sum_adjoint(., x, start)`` (the adjoint of ``x`` in
    builtin ``sum(x, start)``: ``g`` to each element): the elements' cotangents in ``c``
    summed to ``g``'s shape; where the sum joins sequences (a list ``start``), the elements'
    list cotangents joined (``joined_sum_cotangent``)."""
    if isinstance(start, (list, tuple)):
        from .higher_order_containers import joined_sum_cotangent

        return joined_sum_cotangent(c, g, x, start)
    if _zero(c) or isinstance(x, dict):
        return 0.0
    if isinstance(c, Item):
        return to_shape_of(c.value, g)
    if isinstance(c, (list, tuple)):
        total = 0.0
        for part in c:
            if not _zero(part):
                total = total + to_shape_of(part, g)
        return total
    return to_shape_of(c, g)


def split_cotangent(c, ary, indices_or_sections, axis=0, how="split"):
    """The transpose of ``split_adjoint(., ary, ...)`` (the pieces' adjoints joined): the
    cotangent ``c`` (shaped like ``ary``) split the same way, a list adjoint of pieces."""
    from .shape_indexing import _SPLITTERS

    if _zero(c):
        return 0.0
    c = np.broadcast_to(c, np.shape(ary))
    if how in ("split", "array_split"):
        parts = _SPLITTERS[how](c, indices_or_sections, axis)
    else:
        parts = _SPLITTERS[how](c, indices_or_sections)
    return ListAdjoint(np.array(p) for p in parts)


def softmax_adjoint_partial(c, g, ans, axis=None):
    """The cotangent of ``ans`` in ``softmax_adjoint(g, ans, axis)`` (``ans (g - sum(g
    ans))``) for the cotangent ``c``: ``c (g - sum(g ans)) - g sum(ans c)``."""
    if _zero(c) or _zero(g):
        return 0.0
    c, g = np.broadcast_to(c, np.shape(ans)), np.broadcast_to(g, np.shape(ans))
    inner = np.sum(g * ans, axis=axis, keepdims=True)
    return c * (g - inner) - g * np.sum(ans * c, axis=axis, keepdims=True)


def softmax_adjoint_direction(t, g, ans, axis=None):
    """The derivative of ``softmax_adjoint(g, ans, axis)`` along ``t`` (a tangent of
    ``ans``): ``t (g - sum(g ans)) - ans sum(g t)``."""
    if _zero(t) or _zero(g):
        return np.zeros(np.shape(ans))
    t, g = np.broadcast_to(t, np.shape(ans)), np.broadcast_to(g, np.shape(ans))
    inner = np.sum(g * ans, axis=axis, keepdims=True)
    return t * (g - inner) - ans * np.sum(g * t, axis=axis, keepdims=True)


def log_softmax_adjoint_partial(c, g, ans, axis=None):
    """The derivative of ``log_softmax_adjoint(g, ans, axis)`` (``g - exp(ans) sum(g)``)
    in ``ans`` applied to ``c``: ``-exp(ans) c sum(g)``; elementwise in ``c``, so both the
    cotangent of ``ans`` and the tangent along ``c``."""
    if _zero(c) or _zero(g):
        return np.zeros(np.shape(ans))
    g = np.broadcast_to(g, np.shape(ans))
    return -np.exp(ans) * c * np.sum(g, axis=axis, keepdims=True)


def values_cotangent(c, x):
    """The transpose of ``values_adjoint(., x)`` (the values' adjoints put under the
    dict's keys): the cotangent ``c`` (a dict adjoint) read key by key, in the dict's
    order, as a list adjoint."""
    if _zero(c):
        return 0.0
    return ListAdjoint(c.get(key, 0.0) if isinstance(c, dict) else c[key] for key in x)


def prod_adjoint_partial(c, g, x, axis=None, keepdims=False):
    """The derivative of ``prod_adjoint(g, x, axis, keepdims)`` (``g`` times the product of
    the other elements) in ``x`` applied to ``c``: element ``i`` gets ``g`` times
    ``sum_{j != i} c_j prod_{k != i, j} x_k`` within its group. Symmetric in ``(i, j)``, so
    it is both the cotangent and the tangent term of ``x``. Exact at zeros (the products
    of the others are formed with ``x_j`` replaced by 1, one ``j`` at a time: quadratic in
    the group's size)."""
    from .reductions import prod_adjoint

    if _zero(c) or _zero(g):
        return np.zeros(np.shape(x))
    x = np.asarray(x, dtype=float)
    c = np.broadcast_to(np.asarray(c, dtype=float), x.shape)
    axes = tuple(range(x.ndim)) if axis is None else _normalized_axes(axis, x.ndim)
    ones = np.ones(np.shape(prod_of(x, axes, keepdims)))
    total = np.zeros(x.shape)
    group = [x.shape[a] for a in axes]
    for position in np.ndindex(*group):
        chosen = [slice(None)] * x.ndim
        for a, p in zip(axes, position):
            chosen[a] = slice(p, p + 1)
        replaced = x.copy()
        replaced[tuple(chosen)] = 1.0
        others = prod_adjoint(ones, replaced, axis, keepdims)  # prod over k != i of x~
        contribution = others * c[tuple(chosen)]
        contribution[tuple(chosen)] = 0.0  # j == i is not a pair
        total = total + contribution
    from .values import _expand

    return total * _expand(np.asarray(g, dtype=float), axes, keepdims)


def _normalized_axes(axis, ndim: int) -> tuple[int, ...]:
    axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    return tuple(sorted(int(a) % ndim for a in axes))


def prod_of(x, axes, keepdims):
    return np.prod(x, axis=axes, keepdims=keepdims)
