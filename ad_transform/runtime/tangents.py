"""Helpers of forward mode (``forward.py``): zero tangents and tangents shaped like values.

Invariant the generated code keeps: the tangent of a value has the value's structure
(the shape of an array, the length of a list); these helpers restore it where a rule's
terms alone would not (a scalar tangent of an operand broadcast into an array).
"""

from __future__ import annotations

import numpy as np

from ..errors import ADTransformError
from .values import _float_dtype

__all__ = [
    "as_numpy_operand",
    "astype_tangent",
    "attribute_tangent",
    "cholesky_tangent",
    "converted_tangent",
    "dtype_tangent",
    "einsum_tangent",
    "extreme_of_tangent",
    "fresh_tangent",
    "pad_tangent",
    "product_tangent",
    "quantile_tangent",
    "reduced_tangent",
    "solve_tangent",
    "solve_tangent_b",
    "sort_tangent",
    "sorted_tangent",
    "sum_start_tangent",
    "sum_tangent",
    "summed_elements_tangent",
    "tangent_like",
    "zero_tangent",
]


def zero_tangent(x):
    """A zero tangent with the structure of ``x``: 0.0 for a number, float zeros for an
    array, lists, tuples and dicts of zeros for them."""
    if isinstance(x, np.ndarray):
        return np.zeros(x.shape, dtype=_float_dtype(x.dtype))
    if isinstance(x, np.generic):
        return _float_dtype(x.dtype).type(0) if x.dtype.kind != "b" else 0.0
    if isinstance(x, (bool, int, float)) or x is None:
        return 0.0
    if isinstance(x, complex):
        return 0j
    if isinstance(x, list):
        return [zero_tangent(v) for v in x]
    if isinstance(x, tuple):
        return tuple(zero_tangent(v) for v in x)
    if isinstance(x, dict):
        return {k: zero_tangent(v) for k, v in x.items()}
    if isinstance(x, (str, bytes, range, slice)):
        return 0.0
    raise ADTransformError(
        f"forward mode: no tangent for a value of type {type(x).__name__} ({x!r:.60}); "
        "jvp supports numbers, arrays, lists, tuples and dicts of them"
    )


def attribute_tangent(t, x, name: str):
    """The tangent of ``x.name`` for an object whose class was not known when the code was
    generated: the same attribute of its tangent (an object of the same class, as
    ``jvp`` builds for a dataclass or named tuple argument). Refused where the adjoint is
    (a property, a method, a computed attribute: code that was not differentiated)."""
    from .objects import attribute_adjoint

    attribute_adjoint(1.0, x, name)  # raises for an attribute that is not stored data
    if isinstance(t, (int, float)) and t == 0:  # a zero tangent of the whole object
        return zero_tangent(getattr(x, name))
    return getattr(t, name)


def tangent_like(t, ans):
    """``t`` broadcast to the shape of ``ans`` (a new array where it had to be broadcast)."""
    shape = np.shape(ans)
    if np.shape(t) == shape:
        return t
    return np.array(np.broadcast_to(t, shape))


def stored_tangent(t, container):
    """The tangent of a value stored into ``container`` (``a[i] = v``): ``t``, or zero
    where the container is an integer or boolean array (the value is truncated there)."""
    if isinstance(container, np.ndarray) and container.dtype.kind not in "fc":
        return 0.0
    return t


def dtype_tangent(t, ans):
    """The tangent ``t`` of a call given ``dtype=``: zero where its result ``ans`` is an
    integer or boolean value (truncated, so piecewise constant); a tuple result (``retstep``)
    item by item."""
    if isinstance(ans, tuple) and isinstance(t, tuple):
        return tuple(dtype_tangent(ti, ai) for ti, ai in zip(t, ans, strict=True))
    kind = np.asarray(ans).dtype.kind
    return zero_tangent(ans) if kind in "biu" else t


def fresh_tangent(t):
    """``t``, copied if it is an array or a list: the tangent of a new object that is
    changed in place later must not share its data with another tangent."""
    if isinstance(t, np.ndarray):
        return t.copy()
    if isinstance(t, list):
        return [fresh_tangent(v) for v in t]
    return t


def pad_tangent(t: list, xs) -> None:
    """``xs.extend(values)`` with values of no derivative: ``t`` grows by their zero
    tangents, to the length of ``xs``."""
    t.extend(zero_tangent(v) for v in list(xs)[len(t) :])


def reduced_tangent(t, weights, axis=None, keepdims=False):
    """The tangent of a reduction whose partial derivatives are ``weights`` (shaped like
    its operand): ``sum(weights * t)`` over the reduced axes."""
    from .elementwise import times

    return np.sum(times(t, weights), axis=axis, keepdims=keepdims)


def sum_tangent(ans, x, y, x_dot, y_dot):
    """The tangent of ``x + y`` where the operands' kinds are known only now: two lists
    or tuples are joined (so are their tangents), numbers and arrays added."""
    if isinstance(x, (list, tuple)) and isinstance(y, (list, tuple)):
        return list(x_dot) + list(y_dot) if isinstance(ans, list) else tuple(x_dot) + tuple(y_dot)
    return tangent_like(x_dot + y_dot, ans)


def product_tangent(ans, x, y, x_dot, y_dot):
    """The tangent of ``x * y`` where the operands' kinds are known only now: a list or
    tuple repeated by an integer (its tangent repeated), or a product of numbers/arrays."""
    from .elementwise import times

    if isinstance(x, (list, tuple)) and _is_count(y):
        return x_dot * y
    if isinstance(y, (list, tuple)) and _is_count(x):
        return x * y_dot
    x, y, x_dot, y_dot = map(_numpy_operand, (x, y, x_dot, y_dot))  # NumPy converts lists
    return tangent_like(times(x_dot, y) + times(y_dot, x), ans)


def _is_count(value) -> bool:
    """An integer that repeats a list or tuple (``[a, b] * 2``)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _numpy_operand(value):
    """A list or tuple as NumPy's arithmetic sees it (``x * [0.5, 3.0]``)."""
    return np.asarray(value, dtype=float) if isinstance(value, (list, tuple)) else value


def as_numpy_operand(value):
    """A list or tuple operand of an elementwise NumPy function as the array NumPy makes
    of it (``np.log([a, b])``); anything else as it is."""
    return np.asarray(value) if isinstance(value, (list, tuple)) else value


def einsum_tangent(g, position: int, subscripts, *operands):
    """The term of operand ``position`` in the tangent of ``np.einsum(subscripts,
    *operands)`` (multilinear: the same product with that operand's tangent ``g``)."""
    if not isinstance(subscripts, str):
        raise ADTransformError(
            "jvp (forward mode) does not support np.einsum's interleaved form yet: "
            "write the subscripts as a string"
        )
    given = [o for o in operands if o is not None]
    given[position] = g
    return np.einsum(subscripts, *given)


def cholesky_tangent(g, ans, upper=False):
    """The tangent of ``np.linalg.cholesky(a)`` (``L = ans``, ``a = L L^T``): ``L Phi(L^-1
    S L^-T)``, ``Phi`` the lower triangle with half the diagonal and ``S`` the symmetric
    matrix NumPy reads from ``g`` (its lower triangle; ``upper=True``: its upper one)."""
    if upper:
        g, ans = np.swapaxes(g, -1, -2), np.swapaxes(ans, -1, -2)
    lower = np.tril(g)
    symmetric = lower + np.swapaxes(np.tril(g, -1), -1, -2)
    inner = np.linalg.solve(ans, np.swapaxes(np.linalg.solve(ans, symmetric), -1, -2))
    phi = np.tril(inner, -1) + 0.5 * np.tril(np.triu(inner))
    tangent = ans @ phi
    return np.swapaxes(tangent, -1, -2) if upper else tangent


def solve_tangent(g, ans, a, b):
    """The term of ``a`` in the tangent of ``x = np.linalg.solve(a, b)``: ``-a^-1 g x``
    (``b`` a stack of vectors or of matrices, as NumPy takes it)."""
    from .linalg import _solves_vectors

    if _solves_vectors(a, b):
        return -np.linalg.solve(a, (g @ np.asarray(ans)[..., None]))[..., 0]
    return -np.linalg.solve(a, g @ ans)


def solve_tangent_b(g, a, b):
    """The term of ``b`` in the tangent of ``np.linalg.solve(a, b)``: ``a^-1 g``."""
    from .linalg import _solves_vectors

    if _solves_vectors(a, b):
        return np.linalg.solve(a, np.asarray(g)[..., None])[..., 0]
    return np.linalg.solve(a, g)


def _elements_tangent(t, whole):
    """The tangent of the elements iterating ``whole`` gives: ``t``, or zeros where
    ``whole`` is a dict or a keys view (its keys carry no derivative)."""
    from collections.abc import KeysView

    if isinstance(whole, (dict, KeysView)):
        return [zero_tangent(key) for key in whole]
    return t


def converted_tangent(t, whole, convert, *rest):
    """The tangent of ``convert(whole, *rest)`` (``list``, ``tuple``, ``reversed_list``,
    ``starred_parts``, ``zip_rows``: rearrangements of the elements): the same on the
    elements' tangents; a part of ``joined_list``/``joined_tuple`` likewise."""
    from .containers import joined_list, joined_tuple, zip_rows

    if convert in (joined_list, joined_tuple):
        return convert(tuple(_elements_tangent(p, w) for p, w in zip(t, whole, strict=True)))
    if convert is zip_rows:
        return zip_rows([_elements_tangent(r, w) for r, w in zip(t, whole, strict=True)])
    return convert(_elements_tangent(t, whole), *rest)


def astype_tangent(t, ans):
    """The tangent of ``x.astype(dtype)`` (``ans``): ``t`` cast to a float or complex
    dtype; zeros where the result is integer or boolean (no derivative)."""
    if np.asarray(ans).dtype.kind in "fc":
        return np.asarray(t).astype(np.asarray(ans).dtype)
    return zero_tangent(ans)


def extreme_of_tangent(t, ans, x):
    """The tangent of ``max(x)``/``min(x)`` of one iterable: the chosen element's, split
    equally between tied elements (the convention of the adjoint)."""
    chosen = [ti for ti, v in zip(t, list(x), strict=True) if v == ans]
    return sum(chosen) / len(chosen)


def sort_tangent(t, a, axis=-1):
    """The tangent of ``np.sort(a, axis)``: ``t`` in the order that sorts ``a`` (a stable
    order among ties)."""
    if axis is None:
        a, t, axis = np.ravel(a), np.ravel(t), -1
    order = np.argsort(a, axis=axis, kind="stable")
    return np.take_along_axis(np.asarray(t), order, axis=axis)


def sorted_tangent(t, x, reverse=False):
    """The tangent of ``sorted(x, reverse=reverse)``: the elements' tangents in the order
    Python's stable sort puts the elements (ties keep their order, as in the adjoint)."""
    values = list(x)
    elements = _elements_tangent(t, x)
    order = sorted(range(len(values)), key=values.__getitem__, reverse=reverse)
    return [elements[i] for i in order]


def quantile_tangent(t, ans, a, q, axis, method, keepdims, kind):
    """The tangent of a quantile (median, percentile, their nan-variants) of ``a``: per
    quantile ``q``, ``t`` weighted by the partial derivatives (the interpolation weights of
    the selected elements, from the adjoint for an adjoint of ones); several quantiles
    stacked first, as NumPy puts them."""
    from .reductions import quantile_adjoint

    def at(one_q):
        value = np.quantile if kind in ("quantile", "percentile") else np.nanquantile
        scale = 100.0 if kind.endswith("percentile") else 1.0
        one_ans = value(a, one_q / scale, axis=axis, method=method, keepdims=keepdims)
        weights = quantile_adjoint(np.ones_like(one_ans), a, one_q, axis, method, keepdims, kind)
        return reduced_tangent(t, weights, axis, keepdims)

    if np.ndim(q) == 0:
        return at(q)
    qs = np.asarray(q)
    parts = [at(one_q) for one_q in qs.ravel()]
    return np.reshape(np.stack(parts), qs.shape + np.shape(parts[0]))


def summed_elements_tangent(t, x, start):
    """The term of ``x`` in the tangent of ``sum(x, start)``: the sum of its elements'
    tangents (zeros for a dict's keys), joined like the values (``sum(rows, [])``)."""
    return sum(_elements_tangent(t, x), zero_tangent(start))


def sum_start_tangent(t, start):
    """The term of ``start`` in the tangent of ``sum(x, start)`` (a number)."""
    if isinstance(start, (list, tuple)):
        raise ADTransformError(
            "jvp (forward mode) does not support sum(x, start) with a start list that has a "
            "derivative yet"
        )
    return t
