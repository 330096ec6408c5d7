"""Helpers of forward mode (``forward.py``): zero tangents and tangents shaped like values.

Invariant the generated code keeps: the tangent of a value has the value's structure
(the shape of an array, the length of a list); these helpers restore it where a rule's
terms alone would not (a scalar tangent of an operand broadcast into an array).
"""

from __future__ import annotations

import numpy as np

from ..errors import ADTransformError
from .values import (
    DictAdjoint,
    Fields,
    Item,
    KeyItem,
    ListAdjoint,
    _float_dtype,
    is_discrete,
    plain_array,
)

__all__ = [
    "abs_tangent",
    "angle_tangent",
    "arange_tangent",
    "as_numpy_operand",
    "astype_tangent",
    "attribute_tangent",
    "average_tangent",
    "average_weights_tangent",
    "cholesky_tangent",
    "complex_tangent",
    "concatenator_tangent",
    "converted_tangent",
    "copy_tangent",
    "cumprod_tangent",
    "deepcopy_tangent",
    "dtype_tangent",
    "einsum_tangent",
    "extreme_of_tangent",
    "fresh_tangent",
    "gradient_tangent",
    "interp_tangent",
    "items_tangent",
    "log_softmax_tangent",
    "logsumexp_tangent",
    "nan_to_num_tangent",
    "norm_tangent",
    "np_pad_tangent",
    "pad_tangent",
    "partition_tangent",
    "polyval_tangent",
    "product_tangent",
    "quantile_tangent",
    "real_if_close_tangent",
    "reduced_tangent",
    "set_operand_tangent",
    "set_tangent",
    "solve_tangent",
    "solve_tangent_b",
    "sort_tangent",
    "sorted_tangent",
    "sum_start_tangent",
    "sum_tangent",
    "summable_zero_tangent",
    "summed_elements_tangent",
    "tangent_like",
    "trapezoid_tangent",
    "unwrap_period_tangent",
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
    """``t`` broadcast to the shape of ``ans`` (a new array where it had to be broadcast, or
    where ``ans`` is an array and ``t`` a number).
    Adjoint containers (``ListAdjoint``, ``Item``, ``Fields``...: sums of adjoints in code
    differentiated again) are sums of tangents of the same structure: ``t`` as it is."""
    containers = (ListAdjoint, DictAdjoint, Item, KeyItem, Fields)  # of generated code
    if isinstance(t, containers) or isinstance(ans, containers):
        return t
    ans = plain_array(ans)  # a masked array's or np.matrix's tangent is not ndarray's
    shape = np.shape(ans)
    if np.shape(t) == shape and (isinstance(t, np.ndarray) or not isinstance(ans, np.ndarray)):
        return t
    # a new array, also for a number tangent of a 0-d array (which may be written into)
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
    if isinstance(t, list):  # a ListAdjoint stays one (its ``+`` adds, a list's joins)
        return (ListAdjoint if isinstance(t, ListAdjoint) else list)(fresh_tangent(v) for v in t)
    return t


# modes in which np.pad's result is a linear function of the array (and of
# constant_values or end_values); "maximum", "minimum", "median" select elements (the
# tangent is the selected element's, not the max of the tangents), "empty" pads with
# whatever memory held, a callable mode is the user's code
_LINEAR_PAD_MODES = ("constant", "edge", "linear_ramp", "mean", "reflect", "symmetric", "wrap")


def np_pad_tangent(t, ans, pad_width, mode="constant", **keywords):
    """The tangent of ``np.pad(x, pad_width, mode, ...)`` from the tangent ``t`` of ``x``
    (and the tangents of ``constant_values`` or ``end_values`` given as keywords): the same
    padding of the tangents, for the modes in which padding is linear; zero for an integer
    or boolean result (truncated). Other modes raise ``ADTransformError``."""
    if not isinstance(mode, str) or mode not in _LINEAR_PAD_MODES:
        raise ADTransformError(
            f"jvp (forward mode) of np.pad with mode={mode!r} is not supported: its padding is "
            f"not linear in the array (supported modes: {', '.join(_LINEAR_PAD_MODES)})"
        )
    if is_discrete(ans):
        return np.zeros(np.shape(ans))
    return np.pad(t, pad_width, mode=mode, **keywords)


def pad_tangent(t: list, xs) -> None:
    """``xs.extend(values)`` with values of no derivative: ``t`` grows by their zero
    tangents, to the length of ``xs``."""
    t.extend(zero_tangent(v) for v in list(xs)[len(t) :])


def reduced_tangent(t, weights, axis=None, keepdims=False):
    """The tangent of a reduction whose partial derivatives are ``weights`` (shaped like
    its operand): ``sum(weights * t)`` over the reduced axes (a list or an array of axes,
    as plain derivative code may pass a tuple through ``array_operand``, read as a tuple)."""
    from .elementwise import times

    if isinstance(axis, (list, np.ndarray)):
        axis = tuple(int(a) for a in np.ravel(axis))
    return np.sum(times(t, weights), axis=axis, keepdims=keepdims)


def sum_tangent(ans, x, y, x_dot, y_dot):
    """The tangent of ``x + y`` where the operands' kinds are known only now: two lists
    or tuples are joined (so are their tangents), numbers and arrays added; adjoints of
    lists and dicts (plain derivative code, differentiated again) add elementwise, so
    their tangents do too."""
    if isinstance(ans, (ListAdjoint, DictAdjoint)):
        return _as_adjoint(x_dot) + _as_adjoint(y_dot)
    if isinstance(ans, (TangentTuple, ElementwiseList)):  # terms added field by field
        return _as_terms(x_dot, type(ans)) + _as_terms(y_dot, type(ans))
    if isinstance(x, (list, tuple)) and isinstance(y, (list, tuple)):
        return list(x_dot) + list(y_dot) if isinstance(ans, list) else tuple(x_dot) + tuple(y_dot)
    return tangent_like(x_dot + y_dot, ans)


def _as_terms(t, kind):
    """A tangent of a ``TangentTuple``/``ElementwiseList`` term as one (a zero stays 0)."""
    if isinstance(t, (int, float)) and t == 0:
        return 0.0
    return kind(t)


def _as_adjoint(t):
    """The tangent of an adjoint container (``zero_tangent`` makes plain lists and dicts
    of it) as an adjoint container, which adds elementwise, at every level."""
    if type(t) in (list, tuple, ListAdjoint):
        return ListAdjoint(_as_adjoint(v) for v in t)
    if type(t) in (dict, DictAdjoint):
        return DictAdjoint((k, _as_adjoint(v)) for k, v in t.items())
    return t


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
    *operands)`` (multilinear: the same product with that operand's tangent ``g``). In the
    interleaved form (``np.einsum(A, [0, 1], B, [1, 2])``) the first operand arrives as
    ``subscripts`` (``position`` -1) and the sublists among the operands."""
    given = [subscripts, *(o for o in operands if o is not None)]
    given[position + 1] = g
    return np.einsum(*given)


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


# -- issue 14: tangents of the remaining primitives (forward mode) --------------------------


def abs_tangent(t, z):
    """The tangent of ``abs(z)``: ``Re(conj(z) t) / |z|`` for complex ``z`` (0 at ``z ==
    0``, the subgradient the adjoint uses), ``sign(z) t`` for real ``z``."""
    from .complex_values import is_complex
    from .elementwise import times

    if not is_complex(z):
        return times(t, np.sign(z))
    r = np.abs(z)
    unit = np.conjugate(z) / np.where(r == 0, 1.0, r)
    return np.real(times(t, unit[()]))


def angle_tangent(t, z, deg=False):
    """The tangent of ``np.angle(z, deg)``: ``Im(conj(z) t) / |z|**2`` (0 at ``z == 0``);
    0 for a real ``z`` (its angle is piecewise constant)."""
    from .complex_values import is_complex
    from .elementwise import times

    if not is_complex(z):
        return zero_tangent(np.angle(z))
    r2 = np.abs(z) ** 2
    d = np.conjugate(z) / np.where(r2 == 0, 1.0, r2)
    if deg:
        d = d * (180.0 / np.pi)
    return np.imag(times(t, d[()]))


def real_if_close_tangent(t, ans):
    """The tangent of ``np.real_if_close(a)``: its real part where the result is real."""
    from .complex_values import is_complex

    return np.real(t) if not is_complex(ans) else t


def nan_to_num_tangent(t, x, copy=True, replaced=None):
    """The term of ``x`` (``replaced`` None) or of a replacement value (``'nan'``,
    ``'posinf'``, ``'neginf'``) in the tangent of ``np.nan_to_num(x, ...)``;
    ``copy=False`` (a change of ``x`` in place) is refused, as by the adjoint."""
    if copy is False and isinstance(x, np.ndarray):
        raise ADTransformError(
            "np.nan_to_num(x, copy=False) changes x in place, which cannot be differentiated "
            "here; use np.nan_to_num(x) (copy=True)"
        )
    xa = np.asarray(x)
    if replaced is None:
        d = np.where(np.isfinite(xa), t, 0.0)
    else:
        test = {"nan": np.isnan, "posinf": np.isposinf, "neginf": np.isneginf}[replaced]
        d = np.where(test(xa), t, 0.0)
    return d if isinstance(x, np.ndarray) else d[()]


def complex_tangent(t, imaginary: bool):
    """The term of ``real`` (or, ``imaginary``, of ``imag``) in the tangent of
    ``complex(real, imag)``."""
    return 1j * t if imaginary else t + 0j


def cumprod_tangent(t, x, axis=None, nan=False):
    """The tangent of ``np.cumprod(x, axis)`` (``nan``: ``np.nancumprod``, NaNs counted as
    1 with tangent 0): ``dy_k = sum_{j <= k} t_j prod_{i <= k, i != j} x_i``, exact where
    ``x`` has zeros (the recurrence ``dy_k = x_k dy_{k-1} + t_k y_{k-1}``)."""
    xa = np.asarray(x)
    ta = np.broadcast_to(np.asarray(t), xa.shape)
    if nan:
        ta = np.where(np.isnan(xa), 0.0, ta)
        xa = np.where(np.isnan(xa), 1.0, xa)
    if axis is None:
        xa, ta, axis = np.ravel(xa), np.ravel(ta), 0
    xm = np.moveaxis(xa, axis, -1)
    tm = np.moveaxis(ta, axis, -1)
    dtype = np.result_type(xm, tm, np.float64 if xm.dtype.kind in "biu" else xm.dtype)
    ym = np.cumprod(xm, axis=-1)
    d = np.zeros(xm.shape, dtype=dtype)
    previous_y = np.ones(xm.shape[:-1], dtype=dtype)
    previous_d = np.zeros(xm.shape[:-1], dtype=dtype)
    for k in range(xm.shape[-1]):
        previous_d = xm[..., k] * previous_d + tm[..., k] * previous_y
        d[..., k] = previous_d
        previous_y = ym[..., k]
    return np.moveaxis(d, -1, axis)


def average_weights_tangent(t, a, axis=None, weights=None, returned=False, keepdims=False):
    """The term of ``weights`` in the tangent of ``np.average(a, axis, weights)``:
    ``sum(t_w (a - avg)) / sum(w)`` (1-D weights along ``axis`` broadcast)."""
    if returned:
        raise ADTransformError("np.average(..., returned=True) is not differentiable")
    a = np.asarray(a)
    axes = tuple(range(a.ndim)) if axis is None else tuple(np.atleast_1d(axis) % max(a.ndim, 1))
    w = np.asarray(weights)
    tw = np.broadcast_to(np.asarray(t), w.shape)
    if w.shape != a.shape:  # 1-D weights along one axis
        along = [w.size if i == axes[0] else 1 for i in range(a.ndim)]
        w, tw = np.reshape(w, along), np.reshape(tw, along)
    w = np.broadcast_to(w, a.shape)
    total = np.sum(w, axis=axes, keepdims=True)
    avg = np.sum(w * a, axis=axes, keepdims=True) / total
    d = np.sum(tw * (a - avg), axis=axes, keepdims=True) / total
    return d if keepdims else np.reshape(d, np.shape(np.sum(a, axis=axes)))


def average_tangent(t, ans, a, axis=None, weights=None, returned=False, keepdims=False):
    """The term of ``a`` in the tangent of ``np.average``: ``sum(w t) / sum(w)``."""
    from .reductions import average_adjoint

    if returned:
        raise ADTransformError("np.average(..., returned=True) is not differentiable")
    partials, _ = average_adjoint(np.ones_like(ans), ans, a, axis, weights, keepdims)
    axes = None if axis is None else axis
    return reduced_tangent(t, partials, axes, keepdims)


def partition_tangent(t, ans, a, axis=-1):
    """The tangent of ``np.partition(a, kth, axis)``: ``t`` in the order the elements of
    ``a`` took (the permutation the adjoint sends back)."""
    from .shape_indexing import gather_permutation

    aa = np.asarray(a)
    ta = np.broadcast_to(np.asarray(t), aa.shape)
    if axis is None:
        aa, ta, axis = np.ravel(aa), np.ravel(ta), 0
    return np.take_along_axis(ta, gather_permutation(aa, ans, axis), axis=axis)


def concatenator_tangent(t, concatenator, items):
    """The tangent of ``np.r_[items]``/``np.c_[items]``: the same concatenation of the
    items' tangents (zeros of an item's shape for a zero tangent, a slice or a number
    without derivative); directive strings are kept."""
    if not isinstance(items, tuple):
        return concatenator[_item_tangent(t, items)]
    tangents = [0.0] * len(items) if _is_plain_zero(t) else list(t)
    return concatenator[
        tuple(
            item if isinstance(item, str) else _item_tangent(ti, item)
            for ti, item in zip(tangents, items, strict=True)
        )
    ]


def _is_plain_zero(t) -> bool:
    return isinstance(t, (int, float)) and t == 0


def _item_tangent(t, item):
    """One item's tangent in ``np.r_``/``np.c_``: shaped like the block the item gives."""
    if isinstance(item, slice):
        return np.zeros(np.shape(np.r_[item]))
    if _is_plain_zero(t) and np.ndim(item) != 0:
        return np.zeros(np.shape(item))
    return t


def arange_tangent(t, ans, start, stop=None, step=None, of_step=False):
    """The term of ``start`` (or ``step``) in the tangent of ``np.arange(start, stop,
    step)``, whose values are ``start + i step``: ``t`` (``i t``); zero for
    ``np.arange(n)`` (``stop`` alone) and for an integer result."""
    ans = np.asarray(ans)
    if stop is None or ans.dtype.kind not in "fc":
        return np.zeros(ans.shape)
    return np.arange(ans.shape[0]) * t if of_step else np.broadcast_to(t, ans.shape) + 0.0


def set_tangent(t, ans, iterable):
    """The tangent of ``set(iterable)``: a list of the members' tangents in the set's
    order (as the adjoint represents a set's), each that of the first equal element (a set
    keeps the first it is given)."""
    values = list(iterable)
    elements = list(_elements_tangent(t, iterable))
    members = []
    for member in ans:
        first = next((k for k, v in enumerate(values) if v is member or v == member), None)
        if first is None:
            raise ADTransformError(
                "cannot differentiate a set of differentiated values changed in place after "
                "it was made (add, |=, ...): make a new set instead"
            )
        members.append(elements[first])
    return members


def set_operand_tangent(t, ans, x, other, first: bool):
    """The term of the operand ``x`` of ``|``, ``&``, ``^`` in the tangent of the result:
    on sets, each member's tangent comes from the operand holding that object (the left
    one if both do), as the adjoint sends it back; on dicts ``|`` merges, each key's
    tangent from the operand whose value the result kept (the right one where both hold
    the key); on anything else no derivative."""
    if isinstance(x, dict) and isinstance(ans, dict):
        if ans is x or ans is other:
            raise ADTransformError(
                "cannot differentiate '|=' on a dict of differentiated values: write 'd = d | e'"
            )
        kept = {key for key in x if not first or key not in other}
        return DictAdjoint(
            {key: t[key] if key in kept else zero_tangent(value) for key, value in ans.items()}
        )
    if not isinstance(x, (set, frozenset)):
        return zero_tangent(ans)
    if ans is x or ans is other:
        raise ADTransformError(
            "cannot differentiate an in-place operator ('|=', '&=', '^=') on a set of "
            "differentiated values: write 's = s | t'"
        )
    mine = {id(member): ti for member, ti in zip(x, _elements_tangent(t, x), strict=True)}
    taken = () if first else {id(member) for member in other}
    return ElementwiseList(
        mine[id(m)] if id(m) in mine and id(m) not in taken else zero_tangent(m) for m in ans
    )


class TangentTuple(tuple):
    """The tangent of a rule's tuple result (``svd``, ``lstsq``, ``np.gradient`` over
    several axes) as one argument's term: the terms of several active arguments add
    element by element (a plain tuple's ``+`` would join them)."""

    def __add__(self, other):
        if isinstance(other, (int, float)) and other == 0:
            return self
        return TangentTuple(a + b for a, b in zip(self, other, strict=True))

    __radd__ = __add__


class ElementwiseList(list):
    """A list tangent as one argument's term: the terms of several active arguments add
    element by element (the tangent of a set, its members' in the set's order, as a term
    of ``|``, ``&``, ``^``; a zero term of ``dict.get``). Python tries this ``__radd__``
    first on ``list + ElementwiseList``, as it subclasses ``list``."""

    def __add__(self, other):
        if isinstance(other, (int, float)) and other == 0:
            return self
        return ElementwiseList(a + b for a, b in zip(self, other, strict=True))

    __radd__ = __add__


def summable_zero_tangent(x):
    """A zero tangent with the structure of ``x`` that, as one argument's term, adds to
    another term element by element: ``[0.0, 0.0] + [a, b]`` is ``[a, b]``, not a list of
    four (``ElementwiseList``, ``TangentTuple``); numbers and arrays as ``zero_tangent``."""
    if isinstance(x, list):
        return ElementwiseList(zero_tangent(v) for v in x)
    if isinstance(x, tuple):
        return TangentTuple(zero_tangent(v) for v in x)
    if isinstance(x, dict):
        raise ADTransformError(
            "jvp (forward mode) does not support dict.get of a dict value with a default "
            "that has a derivative yet"
        )
    return zero_tangent(x)


def copy_tangent(t, ans, x):
    """The tangent of ``copy.copy(x)``: a copy of ``t``; for a set, the members' tangents
    in the copy's order."""
    import copy

    if isinstance(x, (set, frozenset)):
        mine = {id(member): ti for member, ti in zip(x, _elements_tangent(t, x), strict=True)}
        return [mine[id(member)] for member in ans]
    return copy.copy(t)


def deepcopy_tangent(t, x):
    """The tangent of ``copy.deepcopy(x)``: a deep copy of ``t`` (a set's copy holds new
    members, which cannot be matched to ``x``'s: refused, as by the adjoint)."""
    import copy

    if isinstance(x, (set, frozenset)):
        raise ADTransformError(
            "cannot differentiate copy.deepcopy of a set of differentiated values: write "
            "set(x) or x.copy()"
        )
    return copy.deepcopy(t)


def items_tangent(t, x):
    """The tangent of ``x.items()`` for a dict ``x``: a live view of the pairs ``(0.0,
    value tangent)`` (it follows later writes to ``x`` and its tangent, as the view does)."""
    return ItemsTangent(t, x)


class ItemsTangent:
    """The tangent of a dict's ``items()`` view: iterating it gives ``(0.0, t[key])`` for
    each key of the dict (zeros where the dict's tangent is a zero)."""

    def __init__(self, t, x: dict) -> None:
        self.t, self.x = t, x

    def __iter__(self):
        for key, value in self.x.items():
            tangent = self.t[key] if isinstance(self.t, dict) else zero_tangent(value)
            yield (zero_tangent(key), tangent)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, position):
        return list(self)[position]


# -- signal and numerical calculus ----------------------------------------------------------


def trapezoid_tangent(t, which: str, y, x=None, dx=1.0, axis=-1):
    """The term of ``y``, ``x`` or ``dx`` (``which``) in the tangent of
    ``np.trapezoid(y, x, dx, axis) = sum_i h_i m_i`` (steps ``h``, means ``m`` of
    neighbouring ``y``): ``trapezoid(t, x, dx)``, ``sum_i diff(t)_i m_i``, ``t sum_i m_i``."""
    from .signal import _along

    y = np.asarray(y)
    axis = axis % y.ndim
    if which == "y":
        t = np.broadcast_to(t, y.shape)
        return _trapezoid(t, x=x, dx=dx, axis=axis)
    n = y.shape[axis]
    means = (_along(y, axis, 1, n) + _along(y, axis, 0, n - 1)) / 2
    if which == "dx":
        return np.sum(means, axis=axis) * t
    tx = np.broadcast_to(np.asarray(t), np.shape(x))
    if tx.ndim == 1:
        tx = np.reshape(tx, [-1 if i == axis else 1 for i in range(y.ndim)])
    return np.sum(means * np.diff(tx, axis=axis), axis=axis)


def _trapezoid(y, x=None, dx=1.0, axis=-1):
    function = getattr(np, "trapezoid", None) or np.trapz
    return function(y, x=x, dx=dx, axis=axis)


def _in_floats(x) -> np.ndarray:
    """``x`` as an array, integers and booleans in float64: differences and products of
    them in a derivative must not wrap around (``np.uint8(3) - 5``)."""
    a = np.asarray(x)
    return a.astype(np.float64) if a.dtype.kind in "biu" else a


def polyval_tangent(t, which: str, p, x):
    """The term of ``p`` (``polyval(t, x)``) or ``x`` (``p'(x) t``) in the tangent of
    ``np.polyval(p, x)``."""
    if which == "p":
        return np.polyval(np.broadcast_to(t, np.shape(p)), x)
    coefficients = _in_floats(p)  # integer coefficients: the slope must not wrap
    x = _in_floats(x)
    count = coefficients.shape[0]
    slope = np.zeros(())
    for k in range(count - 1):  # Horner's rule on the derivative polynomial
        slope = slope * x + (count - 1 - k) * coefficients[k]
    from .elementwise import times

    return times(t, slope)


_GRADIENT_STEP = 1e-30


def gradient_tangent(t, which, ans, f, spacings, axis=None, edge_order=1):
    """The term of ``f`` (``which == 'f'``) or of the ``which``-th spacing argument in the
    tangent of ``np.gradient(f, *spacings, axis, edge_order)``.

    Linear in ``f``: the same call on ``t``. A scalar spacing ``h`` divides its axis's
    result: ``-ans t / h``. An array of coordinates enters the stencil's weights
    (rational functions of them): their directional derivative by the complex step
    (Squire and Trapp 1998), exact to rounding.
    """
    given = [s for s in spacings if s is not None]
    fa = np.asarray(f)
    axes = tuple(range(fa.ndim)) if axis is None else (axis,) if np.ndim(axis) == 0 else axis
    single = len(axes) == 1
    options = {"axis": axis, "edge_order": edge_order}
    if which == "f":
        out = np.gradient(np.broadcast_to(t, fa.shape) + 0.0, *given, **options)
        return out if single else TangentTuple(out)
    answers = [ans] if single else list(ans)
    k = which
    if len(given) == 1 and np.ndim(given[0]) == 0:
        terms = [-a * t / given[0] for a in answers]  # one spacing for every axis
    else:
        terms = [zero_tangent(a) for a in answers]
        if np.ndim(given[k]) == 0:
            terms[k] = -answers[k] * t / given[k]
        else:
            stepped = list(given)
            stepped[k] = np.asarray(given[k], dtype=np.float64) + 1j * _GRADIENT_STEP * t
            out = np.gradient(fa.astype(np.complex128), *stepped, **options)
            outs = [out] if single else list(out)
            terms[k] = outs[k].imag / _GRADIENT_STEP
    return terms[0] if single else TangentTuple(terms)


def interp_tangent(t, which: str, x, xp, fp, left=None, right=None, period=None):
    """The term of ``x``, ``xp``, ``fp``, ``left`` or ``right`` (``which``) in the tangent
    of ``np.interp``: inside ``[xp_0, xp_-1]`` on the interval ``j`` NumPy's lookup picks
    (``t = (x - xp_j) / h``, slope ``s``): ``s dx``, ``-s ((1 - t) dxp_j + t dxp_{j+1})``,
    ``(1 - t) dfp_j + t dfp_{j+1}``; outside, ``left``/``right`` (or the end values)."""
    if period is not None:
        raise ADTransformError("np.interp(..., period=...) is not differentiable here")
    xa, xpa, fpa = _in_floats(x), _in_floats(xp), _in_floats(fp)  # no integer wrap-around
    xs = xa.ravel()
    count = xpa.shape[0]
    j = np.clip(np.searchsorted(xpa, xs, side="right") - 1, 0, max(count - 2, 0))
    below, above = xs < xpa[0], xs > xpa[-1]
    inside = ~(below | above)
    if count > 1:
        h = xpa[j + 1] - xpa[j]
        safe = np.where(h == 0, 1, h)
        weight = np.where(inside, (xs - xpa[j]) / safe, 0)
        slope = np.where(h == 0, 0, (fpa[j + 1] - fpa[j]) / safe)
        after = j + 1
    else:
        weight, slope, after = np.zeros(xs.shape), np.zeros(xs.shape), j
    if which == "x":
        d = np.where(inside, np.broadcast_to(t, xa.shape).ravel() * slope, 0.0)
    elif which in ("xp", "fp"):
        tp = np.broadcast_to(np.asarray(t), (count,))
        along = (1 - weight) * tp[j] + weight * tp[after]
        if which == "xp":
            d = np.where(inside, -slope * along, 0.0)
        else:
            d = np.where(inside, along, 0.0)
            if left is None:
                d = np.where(below, tp[0], d)
            if right is None:
                d = np.where(above, tp[-1], d)
    else:
        d = np.where(below if which == "left" else above, t, 0.0)
    d = np.reshape(d, xa.shape)
    return d if isinstance(x, np.ndarray) else d[()]


def unwrap_period_tangent(t, ans, p, period):
    """The term of ``period`` in the tangent of ``np.unwrap``: the result adds ``k period``
    to ``p`` with piecewise-constant integers ``k``: ``k t``."""
    return np.rint((np.asarray(ans) - np.asarray(p)) / period) * t


# -- SciPy ---------------------------------------------------------------------------------


def logsumexp_tangent(t, which: str, ans, a, axis=None, b=None, keepdims=False, return_sign=False):
    """The term of ``a`` or ``b`` (``which``) in the tangent of ``scipy.special.logsumexp``:
    with the weights ``w = s exp(a - ans)`` (``s`` the sign), ``sum(b w t_a)`` and
    ``sum(w t_b)`` over ``axis``; with ``return_sign`` the pair ``(tangent, 0)``."""
    from .scipy import _kept, _positive_axes

    value, sign = ans if return_sign else (ans, 1.0)
    a_arr = np.asarray(a)
    shape = a_arr.shape if b is None else np.broadcast_shapes(a_arr.shape, np.shape(b))
    axes = _positive_axes(axis, len(shape))
    with np.errstate(invalid="ignore", over="ignore"):
        weights = np.exp(a_arr - _kept(value, axes, keepdims))
    if return_sign:
        weights = weights * _kept(sign, axes, keepdims)
    t = np.broadcast_to(t, shape)
    if which == "a" and b is not None:
        b_arr = np.broadcast_to(np.asarray(b), shape)
        with np.errstate(invalid="ignore"):
            weights = np.where(b_arr != 0, weights * b_arr, 0.0)
    d = np.sum(np.broadcast_to(weights, shape) * t, axis=axes, keepdims=keepdims)
    d = d if np.ndim(value) else d[()]
    return TangentTuple((d, zero_tangent(sign))) if return_sign else d


def log_softmax_tangent(t, ans, axis=None):
    """The tangent of ``scipy.special.log_softmax(x, axis)``: ``t - sum(softmax t)``."""
    return t - np.sum(np.exp(ans) * t, axis=axis, keepdims=True)


def norm_tangent(which: str, t, position: int, ans, x, loc, scale):
    """The term of argument ``position`` (0 ``x``, 1 ``loc``, 2 ``scale``) in the tangent of
    ``scipy.stats.norm.<which>(x, loc, scale)``: the partial derivative (that of the
    adjoint, ``runtime.scipy.norm_partials``) times ``t``, shaped like the result."""
    from .scipy import norm_partials

    partial = norm_partials(which, ans, x, loc, scale)[position]
    d = np.broadcast_to(partial, np.shape(ans)) * t
    return d if isinstance(ans, np.ndarray) else d[()]
