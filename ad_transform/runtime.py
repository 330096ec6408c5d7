"""Helpers the generated code calls at run time.

Kept out of the scalar hot path: code specialised for Python numbers uses plain
arithmetic and none of these. First the pipeline's own (seeds, un-broadcasting, the
type of gradients, list adjoints), then those the NumPy rules in ``rules/`` call, by
family: elementwise functions (``times``/``over``, the guard behind the where trap),
reductions, shapes and indexing, conversions, linear algebra. They keep the float
dtype of their inputs (float32 stays float32; Python numbers do not promote).
"""

from __future__ import annotations

import math
import string
import sys

import numpy as np

from .errors import ADTransformError


class UNBOUND:
    """The value of a variable the user's code has not bound on the path taken."""


def check_bound(value, name: str) -> None:
    """Raise ``UnboundLocalError`` as Python does where the user's code reads ``name``."""
    if value is UNBOUND:
        if sys.version_info >= (3, 11):
            message = (
                f"cannot access local variable {name!r} where it is not associated with a value"
            )
        else:
            message = f"local variable {name!r} referenced before assignment"
        raise UnboundLocalError(message)


def raise_exception(exception, *cause):
    """``raise exception`` / ``raise exception from cause``, as the user's code does."""
    if cause:
        raise exception from cause[0]
    raise exception


def reraise_current():
    """A bare ``raise``: the exception being handled, or ``RuntimeError`` if there is none."""
    raise  # re-raises what the caller is handling, as the user's code does


def set_global(namespace: dict, name: str, value) -> None:
    """``global name; name = value`` in the user's code: the module's variable changes."""
    namespace[name] = value


def set_cell(cell, value) -> None:
    """``nonlocal name; name = value`` in the user's code: the enclosing variable changes."""
    cell.cell_contents = value


def matches_sequence(subject, length: int, at_least: bool = False) -> bool:
    """Whether ``subject`` matches a ``match`` sequence pattern of ``length`` items (at least
    that many with a ``*rest``): a sequence that is not text, as Python decides."""
    from collections.abc import Sequence

    if not isinstance(subject, Sequence) or isinstance(subject, (str, bytes, bytearray)):
        return False
    return len(subject) >= length if at_least else len(subject) == length


def super_of(cls: type, obj):
    """``super()`` in a method of ``cls`` whose first parameter holds ``obj``: the proxy
    ``super(cls, obj)`` (the lowered form, which runs outside the class body)."""
    return super(cls, obj)


def has_attribute(subject, name: str) -> bool:
    """``hasattr(subject, name)`` in a lowered ``match`` class pattern of a user class: it
    looks the attribute up and keeps nothing; the only code it can run is a property's
    getter, which the pattern's read of the attribute runs (and is followed) too."""
    return hasattr(subject, name)


def narrowed(subject, cls: type, name: str):
    """``subject`` after a lowered ``match`` class pattern ``cls(name=...)`` tested
    ``isinstance(subject, cls)``: the object itself, whose attribute ``name`` the
    differentiated code reads as ``cls`` defines it. An instance of a subclass passes only
    where ``name`` is an attribute of the instance alone (no class along either MRO
    defines it, no ``__getattr__``/``__getattribute__``): a subclass may define it anew."""
    kind = type(subject)
    if kind is cls or (
        not any(name in vars(k) for k in (*kind.__mro__, *cls.__mro__))
        and kind.__getattribute__ is object.__getattribute__
        and getattr(kind, "__getattr__", None) is None
    ):
        return subject
    raise ADTransformError(
        f"cannot differentiate the 'match' class pattern {cls.__qualname__}({name}=...): the "
        f"subject is an instance of its subclass {kind.__qualname__}, and '{name}' is not "
        "only an attribute of the instance there"
    )


def unbroadcast(g, x):
    """Sum ``g`` down to the shape of ``x``, undoing NumPy broadcasting."""
    if type(g) is np.ndarray and type(x) is np.ndarray:
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
        f"grad needs a function with a scalar (float) output, but it returned "
        f"{type(ans).__name__} {ans!r:.60}; use vjp(f) for non-scalar outputs"
    )


def zeros_like(x):
    """A zero gradient of the type and shape of ``x``."""
    if isinstance(x, np.ndarray):
        return np.zeros(x.shape, dtype=_float_dtype(x.dtype))
    if isinstance(x, (list, tuple, set, frozenset)):
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


def _float_dtype(dtype: np.dtype) -> np.dtype:
    return dtype if np.issubdtype(dtype, np.inexact) else np.dtype(np.float64)


def as_gradient(dx, x, copy=False, adjoint=False):
    """The gradient ``dx`` with the type and shape of ``x`` (an ndarray for an ndarray).

    An ndarray gradient has the float dtype of ``x``: a float32 argument gets a float32
    gradient even where the function computed in float64. ``copy`` is set where ``dx``
    may be an array someone else holds (the caller's cotangent, another gradient).
    ``adjoint``: for a helper's caller, which adds it to other adjoints: a list or tuple
    gets a ``ListAdjoint``, not a plain list or tuple.
    """
    if type(x) is np.ndarray and type(dx) is np.ndarray:
        dtype = x.dtype
        if dx.dtype == dtype and dx.shape == x.shape and dtype.kind in "fc":
            return dx.copy() if copy else dx
    if isinstance(x, np.ndarray):
        dtype = _float_dtype(x.dtype)
        if type(dx) is not np.ndarray or dx.shape != x.shape:
            return np.asarray(zeros_like(x) + dx, dtype=dtype)
        if dx.dtype != dtype:
            return dx.astype(dtype)  # float32 in, float32 gradient out (a new array)
        return dx.copy() if copy else dx
    if isinstance(x, (list, tuple)):
        full = zeros_like(x) + dx
        kind = ListAdjoint if adjoint else type(x)
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


def is_zero(g) -> bool:
    """Whether the adjoint ``g`` is the number 0 (nothing has contributed to it yet)."""
    return isinstance(g, (int, float)) and g == 0


def item_adjoint(g, index, value, into=None):
    """The adjoint of ``value`` in ``into[index] = value``: a copy of ``g[index]``,
    un-broadcast.

    Where an index array names an item more than once, NumPy stores only the last value
    written to it: the other elements of ``value`` receive nothing. An integer or boolean
    array ``into`` truncates what it stores: ``value`` receives zero."""
    if is_discrete(into):
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


def fresh_copy(x):
    """A copy of a list, a dict or an array that the backward sweep will change (undo) in
    place."""
    if isinstance(x, list):
        return list(x)
    if isinstance(x, dict):
        return dict(x)
    return x.copy() if isinstance(x, np.ndarray) else x


def fresh_saved(saved: tuple) -> tuple:
    """A copy of a backward sweep's saved values (the tape included) that the sweep may
    change in place when it undoes item writes and appends, so that a pullback can run
    again on the originals.

    Lists, tuples, dicts and ndarrays are copied, each object once: values that were one object
    (an array saved by name and pushed on the tape) stay one object, and a view stays a
    view of the copy of its base, so that undoing a write into the base is seen through
    the view as it was in the forward sweep. Other values are shared.
    """
    copies: dict[int, object] = {}

    def copy(value):
        if isinstance(value, tuple):
            return tuple(map(copy, value))
        if not isinstance(value, (list, dict, np.ndarray)):
            return value
        known = copies.get(id(value))
        if known is not None:
            return known
        if isinstance(value, dict):
            copies[id(value)] = duplicate = {}
            duplicate.update((key, copy(item)) for key, item in value.items())
            return duplicate
        if isinstance(value, np.ndarray):
            base = value.base
            if isinstance(base, np.ndarray) and base.base is None:
                copies[id(value)] = duplicate = _view_into(value, base, copy(base))
            else:
                copies[id(value)] = duplicate = value.copy(order="K")
            return duplicate
        copies[id(value)] = duplicate = []
        duplicate.extend(map(copy, value))
        return duplicate

    return copy(saved)


def _view_into(view: np.ndarray, base: np.ndarray, new_base: np.ndarray) -> np.ndarray:
    """The view of ``new_base`` that ``view`` is of ``base`` (same offset and strides);
    a copy of ``view`` where the two differ in layout or dtype."""
    offset = view.__array_interface__["data"][0] - base.__array_interface__["data"][0]
    same_layout = (
        view.dtype == base.dtype
        and new_base.strides == base.strides
        and offset % base.itemsize == 0
        and (base.flags.c_contiguous or base.flags.f_contiguous)
    )
    if not same_layout:
        return view.copy(order="K")
    start = new_base.ravel(order="K")[offset // base.itemsize :]
    return np.lib.stride_tricks.as_strided(start, view.shape, view.strides)


def in_place(operation, target, value, refusal: str | None = None, when: str = "in place"):
    """``target op= value`` as Python computes it (``operation`` is ``operator.iadd`` ...),
    without changing ``target``: an array or list is changed on a copy, so the result has
    NumPy's in-place dtype and shape (or its error); numbers and tuples are rebound as
    usual. ``refusal``: why the change cannot be followed here, raised if ``target`` is
    an array or a list (``when="in place"``: the target may be the caller's, or other
    names hold it) or if it is not (``when="rebinding"``: views of it were refreshed)."""
    mutable = changes_in_place(target)
    if refusal is not None and mutable == (when == "in place"):
        raise ADTransformError(refusal)
    if mutable:
        target = target.copy()
    return operation(target, value)


def changes_in_place(target) -> bool:
    """Whether ``target op= value`` changes ``target`` itself (an ndarray or a list) rather
    than binding a new object (a number, a NumPy scalar such as ``x * 1.0`` of a 0-d
    array, a tuple)."""
    return isinstance(target, np.ndarray | list)


def alias_after(target, changed, alias):
    """The value of ``alias``, another name of ``target``, after ``target op= value`` gave
    ``changed``: ``changed`` if the change was made in place, else ``alias`` unchanged."""
    return changed if changes_in_place(target) else alias


def alias_after_adjoint(g, target, like, to_changed: bool):
    """The adjoint of ``changed`` (``to_changed``) or of ``alias`` in
    ``alias_after(target, changed, alias)``: ``g`` for the value it returned, zero for the
    other."""
    if changes_in_place(target) == to_changed:
        return g
    return zeros_like(like)


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


def require_number(value, helper, parameter: str) -> None:
    """Refuse, when it runs, a call of ``helper`` that would change ``value`` in place
    (``parameter += ...`` on an array or a list)."""
    if isinstance(value, (np.ndarray, list, dict, set, bytearray)):
        code = helper.__code__
        raise ADTransformError(
            f"cannot differentiate the call of {helper.__name__}() ({code.co_filename}:"
            f"{code.co_firstlineno}): it assigns '{parameter} += ...' (or calls something for "
            f"its effect on '{parameter}'), which changes its argument in place, and here "
            f"'{parameter}' is a {type(value).__name__}; change a copy, or return the new value"
        )


def truncate(xs: list, length: int) -> None:
    """Undo ``xs.extend(...)``: back to its first ``length`` elements."""
    del xs[length:]


def own(x):
    """``x`` itself, or a copy if it is an array someone else may hold."""
    return x.copy() if isinstance(x, np.ndarray) else x


def index_adjoint(g, x, index):
    """The adjoint of ``x[index]``: ``g`` scattered into zeros shaped like ``x`` (for a
    list or tuple: at the item, or the items of a slice; for a dict: at the key)."""
    if isinstance(x, dict):
        return KeyItem(index, g)
    if isinstance(x, (list, tuple)):
        if isinstance(index, slice):
            return slice_adjoint(g, len(x), index)
        if not isinstance(index, (int, np.integer)) or isinstance(index, bool):
            raise ADTransformError(
                f"cannot differentiate indexing a {type(x).__name__} with a "
                f"{type(index).__name__}; index it with integers or slices, or use an ndarray"
            )
        return Item(int(index), g, len(x))
    out = np.zeros(np.shape(x), dtype=np.result_type(g, _float_dtype(np.asarray(x).dtype)))
    np.add.at(out, index, g)
    return out


def expand_reduced(g, x, axis=None, keepdims=False):
    """Broadcast the adjoint of a reduction of ``x`` over ``axis`` back to ``x``'s shape."""
    shape = np.shape(x)
    if axis is not None and not keepdims:
        axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
        g = np.expand_dims(g, tuple(a % len(shape) for a in axes))
    return np.broadcast_to(g, shape)


def reduced_count(x, axis=None) -> int:
    """How many elements of ``x`` each result of a reduction over ``axis`` combines."""
    shape = np.shape(x)
    if axis is None:
        return int(np.prod(shape))
    axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    return int(np.prod([shape[a] for a in axes]))


def safe_log(x):
    """``log(x)`` with ``0`` at ``x == 0``: the factor in d/dy x**y, whose limit there is 0.

    NaN for ``x < 0`` (no warning): ``x**y`` has no real derivative in ``y`` there."""
    if isinstance(x, np.ndarray):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(x == 0, 0.0, np.log(np.where(x == 0, 1.0, x)))
    if x == 0:
        return 0.0
    if x < 0:
        return math.nan
    return np.log(x) if type(x) is not float else math.log(x)


class ListAdjoint(list):
    """The adjoint of a list or tuple: one adjoint per element, added elementwise.

    ``+=`` adds in place (the backward sweep owns it); ``+`` makes a new one.
    """

    __slots__ = ()

    def __iadd__(self, other):
        if isinstance(other, Item):
            self[other.index] = self[other.index] + other.value
            return self
        if _is_zero(other):
            return self
        if len(other) != len(self):
            raise ValueError(f"adjoints of {len(self)} and {len(other)} elements do not add")
        for k, value in enumerate(other):
            self[k] = self[k] + value
        return self

    def __add__(self, other):
        return ListAdjoint(self).__iadd__(other)

    __radd__ = __add__


def slice_adjoint(g, length: int, index: slice) -> ListAdjoint:
    """The adjoint of a list or tuple of ``length`` elements in ``x[index]`` (a slice):
    the elements' adjoints where the slice took them, zero elsewhere."""
    positions = range(length)[index]
    out = ListAdjoint([0.0] * length)
    if _is_zero(g):
        return out
    for position, element in zip(positions, element_adjoints(g, len(positions))):
        out[position] = element
    return out


class DictAdjoint(dict):
    """The adjoint of a dict: the adjoint of each value under its key, added keywise.

    A key nothing has contributed to reads as zero; ``+=`` adds in place (the backward
    sweep owns it), ``+`` makes a new one. The gradient with respect to a dict (issue 13:
    dict parameters) is ``as_gradient`` of it, a plain dict with the argument's keys."""

    __slots__ = ()

    def __missing__(self, key):
        return 0.0

    def __iadd__(self, other):
        if isinstance(other, KeyItem):
            self[other.key] = self[other.key] + other.value
            return self
        if _is_zero(other):
            return self
        if not isinstance(other, dict):
            raise ValueError(f"cannot add the adjoint of a {type(other).__name__} to a dict's")
        for key, value in other.items():
            self[key] = self[key] + value
        return self

    def __add__(self, other):
        return DictAdjoint(self).__iadd__(other)

    __radd__ = __add__


class KeyItem:
    """A sparse dict adjoint: ``value`` under ``key`` (from ``d[key]``), zero elsewhere."""

    __slots__ = ("key", "value")

    def __init__(self, key, value) -> None:
        self.key, self.value = key, value

    def __getitem__(self, key):
        return self.value if key == self.key else 0.0

    def __add__(self, other):
        return DictAdjoint().__iadd__(self).__iadd__(other)

    __radd__ = __add__


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


def dict_default_adjoint(g, x, key):
    """The adjoint of ``default`` in ``x.get(key, default)``: ``g`` if the key is missing."""
    dict_receiver(x, "get")
    return 0.0 if key in x else g


class NO_ITEM:
    """What ``dict_slot`` saves for a key the dict did not have."""


def dict_slot(d: dict, key):
    """What ``d[key] = v`` overwrites (saved for the backward sweep): the old value, or a
    marker where the write adds the key."""
    return fresh_copy(d[key]) if key in d else NO_ITEM


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
        if _is_zero(g):
            return 0.0
        raise ADTransformError(
            "cannot differentiate through the keys of a dict: a loop over a dict used a key "
            "in arithmetic that reaches the result; keys carry no derivative"
        )
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


class Fields:
    """The adjoint of an object of a user class: one adjoint per attribute read from it
    (``dp += Fields(x=dv)``); an attribute not in it has the adjoint 0.

    Only adding adjoints of the same kind (or a zero) and reading an attribute's adjoint
    (``dp['x']``) are defined: anything else means the object reached an operation that
    was differentiated as if it were a number or an array, which is refused loudly."""

    __slots__ = ("adjoints",)

    def __init__(self, **adjoints) -> None:
        self.adjoints = adjoints

    def __getitem__(self, name: str):
        return self.adjoints.get(name, 0.0)

    def __add__(self, other):
        if _is_zero(other):
            return self
        if not isinstance(other, Fields):
            raise _object_adjoint_error(other)
        adjoints = dict(self.adjoints)
        for name, value in other.adjoints.items():
            adjoints[name] = adjoints[name] + value if name in adjoints else value
        return Fields(**adjoints)

    __radd__ = __add__

    def __repr__(self) -> str:
        return "Fields(" + ", ".join(f"{k}={v!r}" for k, v in self.adjoints.items()) + ")"

    def _refuse(self, *args, **kwargs):
        raise _object_adjoint_error(self)

    __array__ = __array_ufunc__ = __array_function__ = _refuse
    __mul__ = __rmul__ = __sub__ = __rsub__ = __neg__ = __truediv__ = __matmul__ = _refuse
    __float__ = __len__ = __iter__ = _refuse


def _object_adjoint_error(value) -> ADTransformError:
    return ADTransformError(
        "cannot differentiate this function: an object of a user class reached an operation "
        "that was differentiated as if it were a number or an array (its class was not "
        "known where it was used: an object returned by a helper, stored in a list, ...); "
        f"the adjoint met there was {type(value).__name__}"
    )


def method_of_class(obj, name: str) -> None:
    """Refuse, when it runs, ``obj.name(...)`` differentiated as the method of ``obj``'s
    class while ``obj`` has an attribute ``name`` of its own (which Python calls)."""
    if name in getattr(obj, "__dict__", ()):
        raise ADTransformError(
            f"cannot differentiate the call '.{name}(...)' on a {type(obj).__name__} object: "
            f"the object has its own attribute '{name}', which is called instead of the "
            "method of its class"
        )


class Item:
    """A sparse list adjoint: ``value`` at ``index`` of ``length`` elements (from ``x[i]``)."""

    __slots__ = ("index", "length", "value")

    def __init__(self, index: int, value, length: int) -> None:
        self.index = index if index >= 0 else index + length
        self.value, self.length = value, length

    def __getitem__(self, k):
        return self.value if k == self.index or k + self.length == self.index else 0.0

    def __add__(self, other):
        return ListAdjoint([0.0] * self.length).__iadd__(self).__iadd__(other)

    __radd__ = __add__


def _is_zero(value) -> bool:
    return isinstance(value, (int, float)) and value == 0


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
        return 0.0  # the sum of a dict's keys: keys carry no derivative
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


def add_adjoint_left(g, x, y, in_place=False):
    """The adjoint of ``x`` in ``x + y`` where the kinds were not known: the first
    elements of ``g`` where ``+`` joined sequences, ``g`` un-broadcast where it added."""
    if _joins(x, y, in_place):
        return head_adjoint(g, len(x))
    return unbroadcast(g, x)


def add_adjoint_right(g, x, y, in_place=False):
    """The adjoint of ``y`` in ``x + y`` where the kinds were not known (see
    ``add_adjoint_left``)."""
    if _joins(x, y, in_place):
        return tail_adjoint(g, len(x), y)
    return unbroadcast(g, y)


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
    return unbroadcast(times(g, y), x)


def mul_adjoint_right(g, x, y):
    """The adjoint of ``y`` in ``x * y`` where the kinds were not known (see
    ``mul_adjoint_left``)."""
    if _repeated(y, x):
        return repetition_adjoint(g, y)
    if _repeated(x, y):
        return 0.0
    return unbroadcast(times(g, x), y)


def _as_matrix_pair(x, y):
    x2 = x[None, :] if np.ndim(x) == 1 else x
    y2 = y[:, None] if np.ndim(y) == 1 else y
    return x2, y2


def _result_as_matrix(g, x, y):
    if np.ndim(g) == 0 and (np.ndim(x) > 1 or np.ndim(y) > 1):
        # a scalar adjoint of an array result (one still 0: its branch was not taken)
        g = np.broadcast_to(g, _matmul_shape(np.shape(x), np.shape(y)))
    if np.ndim(x) == 1 and np.ndim(y) == 1:
        return np.reshape(g, (1, 1))
    if np.ndim(x) == 1:
        return np.expand_dims(g, -2)
    if np.ndim(y) == 1:
        return np.expand_dims(g, -1)
    return g


def _matmul_shape(x_shape: tuple, y_shape: tuple) -> tuple:
    """The shape of ``x @ y`` for arrays of these shapes (at least one of them 2-D+)."""
    if len(x_shape) == 1:
        return y_shape[:-2] + y_shape[-1:]
    if len(y_shape) == 1:
        return x_shape[:-1]
    return np.broadcast_shapes(x_shape[:-2], y_shape[:-2]) + (x_shape[-2], y_shape[-1])


def matmul_adjoint_left(g, x, y):
    """The adjoint of ``x`` in ``x @ y`` (1-D, 2-D, batched; scalars for ``np.dot``)."""
    if (
        type(g) is np.ndarray
        and type(x) is np.ndarray
        and type(y) is np.ndarray
        and g.ndim == x.ndim == y.ndim == 2
        and len(g) == len(x)
    ):
        return g @ y.T  # two matrices, g the adjoint of all of x @ y: as written by hand
    if np.ndim(x) == 0 or np.ndim(y) == 0:
        return unbroadcast(np.sum(g * y) if np.ndim(x) == 0 else g * y, x)
    _, y2 = _as_matrix_pair(x, y)
    g2 = _result_as_matrix(g, x, y)
    dx = g2 @ np.swapaxes(y2, -1, -2)
    if np.ndim(x) == 1:
        dx = np.sum(dx, axis=tuple(range(dx.ndim - 1)))
    return unbroadcast(dx, x)


def matmul_adjoint_right(g, x, y):
    """The adjoint of ``y`` in ``x @ y``."""
    if (
        type(g) is np.ndarray
        and type(x) is np.ndarray
        and type(y) is np.ndarray
        and g.ndim == x.ndim == y.ndim == 2
        and g.shape[1] == y.shape[1]
    ):
        return x.T @ g  # two matrices, g the adjoint of all of x @ y: as written by hand
    if np.ndim(x) == 0 or np.ndim(y) == 0:
        return unbroadcast(np.sum(g * x) if np.ndim(y) == 0 else g * x, y)
    x2, _ = _as_matrix_pair(x, y)
    g2 = _result_as_matrix(g, x, y)
    dy = np.swapaxes(x2, -1, -2) @ g2
    if np.ndim(y) == 1:
        dy = np.sum(dy, axis=tuple(range(dy.ndim - 2)) + (dy.ndim - 1,))
    return unbroadcast(dy, y)


def dot_adjoint_left(g, a, b):
    """The adjoint of ``a`` in ``np.dot(a, b)``.

    For ``b`` with 3 or more dimensions ``np.dot`` is not ``matmul``: it pairs the last
    axis of ``a`` with the second-to-last of ``b`` and keeps all other axes of both.
    """
    if np.ndim(a) == 0 or np.ndim(b) < 3:
        return matmul_adjoint_left(g, a, b)
    na, nb = np.ndim(a) - 1, np.ndim(b) - 2
    return np.tensordot(g, b, axes=(list(range(na, na + nb + 1)), [*range(nb), nb + 1]))


def dot_adjoint_right(g, a, b):
    """The adjoint of ``b`` in ``np.dot(a, b)``."""
    if np.ndim(a) == 0 or np.ndim(b) < 3:
        return matmul_adjoint_right(g, a, b)
    na = np.ndim(a) - 1
    return np.moveaxis(np.tensordot(a, g, axes=(list(range(na)), list(range(na)))), 0, -2)


def _axes(axis, ndim: int) -> tuple[int, ...]:
    """``axis`` (None, an int or a tuple) as a sorted tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    return tuple(sorted(int(a) % ndim for a in axes)) if ndim else ()


def _expand(value, axes: tuple[int, ...], keepdims: bool):
    """A reduction's result (or its adjoint) with the reduced ``axes`` put back as size 1."""
    return value if keepdims or not axes else np.expand_dims(value, axes)


def _dtype_of(*values) -> np.dtype:
    """The float dtype gradients of ``values`` are computed in (float32 stays float32).

    Python numbers are "weak", as in NumPy's own promotion: a float32 array with the
    bound ``0.5`` stays float32.
    """
    return _float_dtype(
        np.result_type(
            *[
                v if isinstance(v, (np.ndarray, np.generic, float, int)) else np.asarray(v)
                for v in values
            ]
        )
    )


def _scalar_like(d, x):
    """``d``, a NumPy scalar where ``x`` is a scalar and ``d`` a 0-d array."""
    if type(d) is np.ndarray and d.ndim == 0 and not isinstance(x, np.ndarray):
        return float(d) if type(x) is float else d[()]
    return d


def norm_adjoint(g, ans, x, ord=None, axis=None, keepdims=False):
    """The adjoint of ``np.linalg.norm`` (vector and matrix norms); always a new array.

    Vector norms: ``ord`` None/2 (0 at the origin, a subgradient), 1 (``sign(x)``, 0 at
    0), ``inf``/``-inf`` (split equally between tied largest/smallest ``|x_i|``), 0 (a
    count: zero gradient) and any real ``p >= 1``. Matrix norms (a 2-D argument with
    ``ord`` given, or a 2-tuple ``axis``): ``'fro'``, ``'nuc'`` (``U V^T``), 2 and -2 (the
    outer product of the singular vectors of the largest / smallest singular value), 1,
    -1, ``inf``, ``-inf`` (the column / row of largest or smallest absolute sum; ties
    split equally).
    """
    x = np.asarray(x)
    dtype = _dtype_of(x, g)
    if axis is None:
        axes = tuple(range(x.ndim))
        matrix = ord is not None and x.ndim == 2
    else:
        axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
        axes = tuple(int(a) % x.ndim for a in axes)
        matrix = len(axes) == 2
    g = _expand(np.asarray(g, dtype=dtype), tuple(sorted(axes)), keepdims)
    ans = _expand(np.asarray(ans, dtype=dtype), tuple(sorted(axes)), keepdims)
    if matrix:
        return _matrix_norm_adjoint(g, ans, x.astype(dtype, copy=False), ord, axes)
    sign = np.sign(x).astype(dtype, copy=False)
    if ord in (None, 2) or (ord == "fro" and not matrix):
        return _divide_or_zero(g * x, ans)
    if ord == 1:
        return g * sign
    if ord == np.inf or ord == -np.inf:
        return g * sign * _tied(np.abs(x), ans, tuple(sorted(axes)))
    if ord == 0:
        return np.zeros(x.shape, dtype=dtype)
    if isinstance(ord, (int, float, np.integer, np.floating)) and ord >= 1:
        ratio = _divide_or_zero(np.abs(x), ans)
        return g * sign * ratio ** (ord - 1)
    raise ADTransformError(
        f"np.linalg.norm: the vector norm ord={ord!r} is not differentiable here; "
        "use ord >= 1, inf, -inf or 0"
    )


def _divide_or_zero(num, den):
    """``num / den`` with 0 where ``den`` is 0 (the subgradient at the origin)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den == 0, num.dtype.type(0), num / np.where(den == 0, 1, den))


def _tied(values, extreme, axes):
    """1/k at the k elements of ``values`` equal to ``extreme`` along ``axes``, else 0."""
    mask = (values == extreme) | (np.isnan(extreme) & np.isnan(values))
    count = np.sum(mask, axis=axes, keepdims=True)
    dtype = _float_dtype(np.result_type(values))
    return mask / np.maximum(count, 1).astype(dtype)


def _matrix_norm_adjoint(g, ans, x, ord, axes):
    rows, cols = axes
    xm = np.moveaxis(x, (rows, cols), (-2, -1))
    gm = np.moveaxis(g, (rows, cols), (-2, -1))
    am = np.moveaxis(ans, (rows, cols), (-2, -1))
    if ord in (None, "fro"):
        d = _divide_or_zero(gm * xm, am)
    elif ord == "nuc":
        u, _, vh = np.linalg.svd(xm, full_matrices=False)
        d = gm * (u @ vh)
    elif ord in (2, -2):
        u, _, vh = np.linalg.svd(xm, full_matrices=False)
        k = 0 if ord == 2 else -1
        d = gm * (u[..., :, k, None] * vh[..., k, None, :])
    elif ord in (1, -1, np.inf, -np.inf):
        over_rows = ord in (1, -1)  # 1-norm: largest absolute column sum
        sums = np.sum(np.abs(xm), axis=-2 if over_rows else -1, keepdims=True)
        d = gm * np.sign(xm) * _tied(sums, am, (-1,) if over_rows else (-2,))
    else:
        raise ADTransformError(f"np.linalg.norm: the matrix norm ord={ord!r} is not supported")
    return np.moveaxis(d, (-2, -1), (rows, cols))


# -- elementwise functions -------------------------------------------------------------


def times(g, d):
    """``g * d``: the adjoint ``g`` times a local derivative ``d``, and 0 where ``g`` is 0.

    A zero adjoint contributes nothing, even where ``d`` is infinite or NaN. This is what
    keeps ``np.where(x > 0, np.sqrt(x), 0.0)`` from having a NaN gradient at ``x < 0``:
    the branch that was not selected gets a zero adjoint, and ``0 * nan`` would otherwise
    be NaN. In the common case (a finite ``d``) the check costs one sum, made before the
    product so that no ``invalid value`` warning is raised for the masked elements.
    """
    if type(d) is np.ndarray:
        if d.dtype.kind != "f" or _finite_sum(d):
            return g * d
        return _masked_product(g, d)
    if type(g) is np.ndarray:
        if math.isfinite(d):
            return g * d
        return _masked_product(g, d)
    return g * d if g else scalar_zero(g, d)


def over(g, d):
    """``g / d``, with 0 where ``g`` is 0 (see :func:`times`) and IEEE ``inf``/``nan``
    where ``d`` is 0: no ``ZeroDivisionError`` for Python numbers, no NumPy warning."""
    if type(d) is np.ndarray or type(g) is np.ndarray:
        if np.count_nonzero(d) == np.size(d):
            return _zero_without_adjoint(g, g / d)
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.true_divide(g, d)
        return np.where(g == 0, r.dtype.type(0), r)
    return g / d if g and d else scalar_over(g, d)


def quotient(a, b):
    """``a / b`` with IEEE results where ``b`` is 0 (``inf``, or NaN for ``0 / 0``), without
    ``ZeroDivisionError`` or NumPy warnings: a local derivative that is infinite or
    undefined at a point, for :func:`times` to multiply by the adjoint."""
    if type(a) is not np.ndarray and type(b) is not np.ndarray:
        return a / b if b else _ieee(np.true_divide, a, b)
    if np.count_nonzero(b) == np.size(b):
        return a / b
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.true_divide(a, b)


def power_derivative(x, y, power=np.power):
    """``d/dx x**y = y * x**(y - 1)``, exactly 0 where ``y == 0`` (also at ``x == 0``, as
    autograd: ``x**0`` is the constant 1), IEEE ``inf``/NaN elsewhere (``0**-0.5``), with
    no exception or warning. ``power`` is ``np.float_power`` for that function."""
    if (type(y) is float or type(y) is int) and y >= 1 and power is np.power:
        return y * x ** (y - 1)  # x**2 and the like: no division, finite for finite x
    arrays = type(x) is np.ndarray or type(y) is np.ndarray
    if not arrays and not y:
        return scalar_zero(x, y)
    if arrays and np.count_nonzero(x) == np.size(x) and power is np.power:
        d = y * x ** (y - 1)
    else:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            d = y * power(x, y - 1)
    if not arrays:
        return _like_operands(d, x, y)
    if np.count_nonzero(y) != np.size(y):
        d = np.where(y == 0, np.asarray(d).dtype.type(0), d)
    return d


def _masked_product(g, d):
    """``g * d`` with 0 where ``g`` is 0, ``d`` having infinite or NaN elements."""
    with np.errstate(invalid="ignore", over="ignore"):
        r = np.multiply(g, d)
    return np.where(g == 0, r.dtype.type(0), r)


def _zero_without_adjoint(g, r):
    if type(r) is np.ndarray:
        if r.dtype.kind == "f" and not _finite_sum(r):
            return np.where(g == 0, r.dtype.type(0), r)
        return r
    if g == 0 and r != 0:  # NaN or an infinity times a zero adjoint
        return type(r)(0)
    return r


# -- scalar semantics: the rare branches of the guarded scalar templates -------------------
#
# The scalar templates (Python and NumPy scalars) are plain arithmetic guarded where the
# rule can meet a zero adjoint times an infinite or NaN derivative, or a division by 0:
# ``g / d if g and d else scalar_over(g, d)``. These helpers give those branches the
# semantics of the array templates (a zero adjoint contributes exactly 0; IEEE ``inf`` and
# NaN instead of ``ZeroDivisionError``; no NumPy warning) and keep Python floats floats.


def scalar_zero(a, b):
    """A zero of the type ``a * b`` would have (a Python float between Python numbers)."""
    if _is_python_number(a) and _is_python_number(b):
        return 0.0
    return np.result_type(a, b, 0.0).type(0)


def scalar_over(g, d):
    """``g / d`` between scalars: 0 where ``g`` is 0, IEEE ``±inf``/NaN where ``d`` is 0."""
    if not g:
        return scalar_zero(g, d)
    return _ieee(np.true_divide, g, d)


def scalar_times_ratio(g, n, d):
    """``g * (n / d)`` between scalars: 0 where ``g`` is 0, IEEE where ``d`` is 0."""
    if not g:
        return scalar_zero(g, d)
    return g * _ieee(np.true_divide, n, d)


def scalar_power_adjoint(g, x, y):
    """``g * y * x**(y - 1)`` between scalars: 0 where ``g`` or ``y`` is 0, IEEE at ``x == 0``."""
    if not g:
        return scalar_zero(g, x)
    return g * power_derivative(x, y)


def _is_python_number(a) -> bool:
    return type(a) is float or type(a) is int or type(a) is bool


def _ieee(ufunc, a, b):
    """``ufunc(a, b)`` with IEEE results and no warning; a Python float between Python numbers."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        r = ufunc(a, b)
    return _like_operands(r, a, b)


def _like_operands(r, a, b):
    if _is_python_number(a) and _is_python_number(b):
        return float(r)
    return r


def _finite_sum(r: np.ndarray) -> bool:
    """Whether the sum of the float array ``r`` is finite (so that no element is inf or
    NaN). For small float64/float32 arrays, where the call overhead is most of the cost,
    the sum is a BLAS dot product with ones: half the overhead of ``np.add.reduce``, the
    same result and the same warnings."""
    char, size = r.dtype.char, r.size
    if size <= _Ones.size and (char == "d" or char == "f"):
        ones = _Ones.float64 if char == "d" else _Ones.float32
        return math.isfinite(r.ravel("K").dot(ones[:size]))
    return math.isfinite(np.add.reduce(r, axis=None))


class _Ones:
    """Read-only vectors of ones for :func:`_finite_sum`."""

    size = 4096
    float64 = np.ones(size, dtype=np.float64)
    float32 = np.ones(size, dtype=np.float32)
    float64.flags.writeable = float32.flags.writeable = False


def sinc_derivative(x):
    """d/dx sin(pi x)/(pi x): (cos(pi x) - sinc(x)) / x, and its Taylor series near 0."""
    xa = np.asarray(x)
    px = np.pi * xa
    with np.errstate(divide="ignore", invalid="ignore"):
        general = (np.cos(px) - np.sinc(xa)) / xa
    p2 = px * px
    series = -np.pi * px / 3.0 * (1.0 - p2 / 10.0 + p2 * p2 / 280.0)
    return np.where(np.abs(xa) < 1e-3, series, general)[()]


def tie_weight(x, y):
    """The share of ``x`` in the adjoint of ``np.maximum(x, y)``: 1, 1/2 at a tie, else 0."""
    dtype = _dtype_of(x, y)
    return np.asarray((x > y) + 0.5 * (x == y), dtype=dtype)[()]


def tie_share(g, x, y):
    """``g * tie_weight(x, y)``: ``g`` where ``x > y``, half of it at a tie, else 0.

    Without ties (the common case) this is what a hand-written ReLU adjoint does: ``g``
    times the mask ``x > y``, here made a float array and multiplied into in place.
    With ties (rare, but real: ``np.maximum(relu, 0.0)``) it is ``g * tie_weight(x, y)``
    itself. The values and the dtype are those of ``g * tie_weight(x, y)`` either way.
    """
    ties = x == y
    if ties.any() if type(ties) is np.ndarray else ties:
        return g * tie_weight(x, y)
    if type(x) is np.ndarray and type(y) is float and x.dtype.kind == "f":
        dtype = x.dtype  # _dtype_of(x, y): a Python float does not promote
    else:
        dtype = _dtype_of(x, y)
    if isinstance(g, (np.ndarray, np.generic)) and g.dtype != dtype:
        dtype = np.promote_types(g.dtype, dtype)
    wins = x > y
    if type(g) is np.ndarray and type(wins) is np.ndarray and g.shape == wins.shape:
        share = wins.astype(dtype)  # a float mask: no mixed-type multiplication loop
        np.multiply(share, g, out=share)
        return share
    return np.multiply(g, wins, dtype=dtype)


def fmax_weights(x, y, larger=True):
    """The shares of ``x`` and ``y`` in the adjoint of ``np.fmax`` (``np.fmin``: ``larger=False``).

    Like ``np.maximum`` (ties split equally), except that a NaN never wins over a number;
    where both are NaN neither gets anything.
    """
    dtype = _dtype_of(x, y)
    nan_x, nan_y = np.isnan(x), np.isnan(y)
    wins, loses = ((x > y), (y > x)) if larger else ((x < y), (y < x))
    tie = 0.5 * (x == y)
    wx = np.asarray((wins | (nan_y & ~nan_x)) + tie, dtype=dtype)[()]
    wy = np.asarray((loses | (nan_x & ~nan_y)) + tie, dtype=dtype)[()]
    return wx, wy


def clip_weights(a, a_min, a_max, min=None, max=None):
    """Shares of ``a``, ``a_min``, ``a_max`` in the adjoint of ``np.clip(a, a_min, a_max)``.

    ``np.clip`` is differentiated as ``np.minimum(np.maximum(a, a_min), a_max)``, so a
    tie at a bound splits the adjoint equally, as for ``np.maximum``. ``min``/``max`` are
    NumPy 2's keyword spellings of the bounds.
    """
    if min is not None or max is not None:
        if a_min is not None or a_max is not None:
            raise ADTransformError(
                "np.clip: pass the bounds either as a_min/a_max or as min/max, not both "
                "(an 'out' array is not supported)"
            )
        a_min, a_max = min, max
    lower = a if a_min is None else np.maximum(a, a_min)
    w_a = 1.0 if a_min is None else tie_weight(a, a_min)
    w_lo = 0.0 if a_min is None else tie_weight(a_min, a)
    w_upper = 1.0 if a_max is None else tie_weight(a_max, lower)
    w_hi = 0.0 if a_max is None else tie_weight(lower, a_max)
    return w_upper * w_a, w_upper * w_lo, w_hi


def nondifferentiable_zero(y):
    """A zero gradient for an argument the result depends on only piecewise-constantly."""
    return zeros_like(y) if isinstance(y, np.ndarray) else 0.0 * y


# -- reductions ------------------------------------------------------------------------


def extremum_adjoint(g, ans, x, axis=None, keepdims=False):
    """The adjoint of ``max``/``min`` over ``axis``: split equally among tied elements."""
    x = np.asarray(x)
    axes = _axes(axis, x.ndim)
    g = _expand(g, axes, keepdims)
    ans = _expand(ans, axes, keepdims)
    return _scalar_like(g * _tied(x, ans, axes).astype(_dtype_of(x, g), copy=False), x)


def nan_extremum_adjoint(g, ans, x, axis=None, keepdims=False):
    """The adjoint of ``nanmax``/``nanmin``: NaN elements get nothing; ties split equally."""
    return extremum_adjoint(g, ans, x, axis, keepdims)


def nan_sum_adjoint(g, x, axis=None, keepdims=False):
    """The adjoint of ``np.nansum``: ``g`` at the numbers, 0 at the NaNs."""
    x = np.asarray(x)
    g = _expand(g, _axes(axis, x.ndim), keepdims)
    return _scalar_like(np.where(np.isnan(x), 0, g).astype(_dtype_of(x, g), copy=False), x)


def nan_mean_adjoint(g, x, axis=None, keepdims=False):
    """The adjoint of ``np.nanmean``: ``g / count`` at the numbers, 0 at the NaNs."""
    x = np.asarray(x)
    axes = _axes(axis, x.ndim)
    count = np.sum(~np.isnan(x), axis=axes, keepdims=True).astype(_dtype_of(x, g))
    g = _expand(g, axes, keepdims)
    # an all-NaN slice (count 0) has only masked elements: divide by 1 there, no warning
    share = g / np.maximum(count, 1)
    return _scalar_like(np.where(np.isnan(x), 0, share).astype(_dtype_of(x, g)), x)


def prod_adjoint(g, x, axis=None, keepdims=False):
    """The adjoint of ``np.prod``: ``g`` times the product of the *other* elements.

    Computed from exclusive cumulative products, so it is exact where ``x`` has zeros
    (``ans / x`` would be 0/0 there).
    """
    x = np.asarray(x)
    dtype = _dtype_of(x, g)
    axes = _axes(axis, x.ndim)
    g = _expand(g, axes, keepdims)
    moved = np.moveaxis(x.astype(dtype, copy=False), axes, range(x.ndim - len(axes), x.ndim))
    flat = moved.reshape(moved.shape[: x.ndim - len(axes)] + (-1,))
    left = np.ones_like(flat)
    right = np.ones_like(flat)
    if flat.shape[-1] > 1:
        left[..., 1:] = np.cumprod(flat[..., :-1], axis=-1)
        right[..., :-1] = np.cumprod(flat[..., :0:-1], axis=-1)[..., ::-1]
    others = np.moveaxis(
        (left * right).reshape(moved.shape), range(x.ndim - len(axes), x.ndim), axes
    )
    return _scalar_like(g * others, x)


def _inverse_count(count) -> float:
    """``1 / count``, ``inf`` for no degrees of freedom (``ddof == N``: NumPy's forward
    warns and gives ``inf``/NaN; the adjoint must not raise ``ZeroDivisionError``)."""
    return 1.0 / count if count else math.inf


def _count_after_ddof(x, axes, ddof, correction):
    if correction is not None:
        ddof = correction
    count = 1
    for a in axes:
        count *= np.shape(x)[a]
    return count - ddof


def var_adjoint(g, x, axis=None, ddof=0, keepdims=False, correction=None):
    """The adjoint of ``np.var``: ``2 g (x - mean) / (N - ddof)``."""
    x = np.asarray(x)
    axes = _axes(axis, x.ndim)
    g = _expand(g, axes, keepdims)
    centered = x - np.mean(x, axis=axes, keepdims=True)
    scale = _inverse_count(_count_after_ddof(x, axes, ddof, correction))
    with np.errstate(invalid="ignore"):  # no degrees of freedom: inf * 0, as np.var's NaN
        return _scalar_like(g * centered * (2.0 * scale), x)


def std_adjoint(g, ans, x, axis=None, ddof=0, keepdims=False, correction=None):
    """The adjoint of ``np.std``: ``g (x - mean) / ((N - ddof) std)``; 0 where std is 0."""
    x = np.asarray(x)
    axes = _axes(axis, x.ndim)
    g = _expand(g, axes, keepdims)
    ans = _expand(np.asarray(ans), axes, keepdims)
    centered = x - np.mean(x, axis=axes, keepdims=True)
    scale = _inverse_count(_count_after_ddof(x, axes, ddof, correction))
    with np.errstate(invalid="ignore"):  # no degrees of freedom: inf * 0, as np.std's NaN
        scaled = g * centered * scale
    return _scalar_like(_divide_or_zero(np.asarray(scaled), ans), x)


def cumsum_adjoint(g, x, axis=None):
    """The adjoint of ``np.cumsum``: a reversed cumulative sum of ``g``."""
    if axis is None:
        flat = np.cumsum(np.ravel(g)[::-1])[::-1]
        return _scalar_like(np.reshape(flat, np.shape(x)), x)
    return np.flip(np.cumsum(np.flip(g, axis), axis), axis)


def cumprod_adjoint(g, ans, x, axis=None):
    """The adjoint of ``np.cumprod``, exact where ``x`` has zeros.

    ``d_i = sum_{j >= i} g_j prod_{k <= j, k != i} x_k``; without zeros this is
    ``revcumsum(g * ans) / x``; where a row has a zero it is evaluated by the recurrence
    ``s_i = g_i + x_{i+1} s_{i+1}``, ``d_i = s_i prod_{k < i} x_k``.
    """
    shape = np.shape(x)
    xa = np.asarray(x)
    if axis is None:
        xa, g, ans, axis = np.ravel(xa), np.ravel(g), np.ravel(ans), 0
    dtype = _dtype_of(xa, g)
    xm = np.moveaxis(xa.astype(dtype, copy=False), axis, -1)
    gm = np.moveaxis(np.asarray(g, dtype=dtype), axis, -1)
    am = np.moveaxis(np.asarray(ans, dtype=dtype), axis, -1)
    if np.all(xm != 0):
        d = np.flip(np.cumsum(np.flip(gm * am, -1), -1), -1) / xm
    else:
        n = xm.shape[-1]
        before = np.ones_like(xm)
        if n > 1:
            before[..., 1:] = np.cumprod(xm[..., :-1], axis=-1)
        s = np.zeros_like(xm)
        running = np.zeros(xm.shape[:-1], dtype=dtype)
        for i in range(n - 1, -1, -1):
            running = gm[..., i] + (xm[..., i + 1] * running if i + 1 < n else 0)
            s[..., i] = running
        d = s * before
    d = np.moveaxis(d, -1, axis)
    return _scalar_like(np.reshape(d, shape), x)


def trace_adjoint(g, x, offset=0, axis1=0, axis2=1):
    """The adjoint of ``np.trace``: ``g`` on the ``offset`` diagonal, zeros elsewhere."""
    shape = np.shape(x)
    ndim = len(shape)
    axis1, axis2 = axis1 % ndim, axis2 % ndim
    eye = np.eye(shape[axis1], shape[axis2], k=offset, dtype=_dtype_of(x, g))
    d = np.asarray(g)[..., None, None] * eye
    return np.moveaxis(d, (-2, -1), (axis1, axis2))


def diagonal_adjoint(g, x, offset=0, axis1=0, axis2=1):
    """The adjoint of ``np.diagonal``: ``g`` written back on the diagonal, zeros elsewhere."""
    shape = np.shape(x)
    ndim = len(shape)
    axis1, axis2 = axis1 % ndim, axis2 % ndim
    rest = [n for i, n in enumerate(shape) if i not in (axis1, axis2)]
    d = np.zeros((*rest, shape[axis1], shape[axis2]), dtype=_dtype_of(x, g))
    k = np.shape(g)[-1]
    i = np.arange(k)
    d[..., i + max(-offset, 0), i + max(offset, 0)] = g
    return np.moveaxis(d, (-2, -1), (axis1, axis2))


def diag_adjoint(g, v, k=0):
    """The adjoint of ``np.diag``: the diagonal of ``g`` (1-D ``v``), or ``g`` put back on
    the diagonal of zeros shaped like ``v`` (2-D ``v``)."""
    if np.ndim(v) == 1:
        return np.diagonal(g, k).copy()
    return diagonal_adjoint(g, v, k, 0, 1)


def average_adjoint(g, ans, a, axis=None, weights=None, keepdims=False, returned=False):
    """The adjoints of ``a`` and ``weights`` in ``np.average(a, axis, weights)``.

    ``avg = sum(w a) / sum(w)``: ``d a = g w / sum(w)``, ``d w = g (a - avg) / sum(w)``
    (1-D weights along ``axis`` are broadcast and the result summed back).
    """
    if returned:
        raise ADTransformError("np.average(..., returned=True) is not differentiable")
    a = np.asarray(a)
    dtype = _dtype_of(a, g)
    axes = _axes(axis, a.ndim)
    g = _expand(np.asarray(g, dtype=dtype), axes, keepdims)
    ans = _expand(np.asarray(ans, dtype=dtype), axes, keepdims)
    if weights is None:
        return _scalar_like(
            np.broadcast_to(g / _count_after_ddof(a, axes, 0, None), a.shape), a
        ), None
    w = np.asarray(weights, dtype=dtype)
    if w.shape != a.shape:  # 1-D weights along one axis
        w = np.reshape(w, [w.size if i == axes[0] else 1 for i in range(a.ndim)])
    total = np.sum(np.broadcast_to(w, a.shape), axis=axes, keepdims=True)
    da = g * w / total
    dw = g * (a - ans) / total
    if np.shape(weights) != a.shape:
        dw = np.reshape(
            np.sum(dw, axis=tuple(i for i in range(a.ndim) if i != axes[0])), np.shape(weights)
        )
    return _scalar_like(np.broadcast_to(da, a.shape), a), dw


def ptp_adjoint(g, ans, x, axis=None, keepdims=False):
    """The adjoint of ``np.ptp`` (max - min): the max's adjoint minus the min's."""
    x = np.asarray(x)
    high = np.max(x, axis=axis, keepdims=keepdims)
    low = np.min(x, axis=axis, keepdims=keepdims)
    return extremum_adjoint(g, high, x, axis, keepdims) - extremum_adjoint(
        g, low, x, axis, keepdims
    )


def sort_adjoint(g, x, axis=-1):
    """The adjoint of ``np.sort``: ``g`` sent back to where each element came from."""
    xa = np.asarray(x)
    if axis is None:
        order = np.argsort(xa, axis=None, kind="stable")
        d = np.zeros(xa.size, dtype=_dtype_of(xa, g))
        d[order] = g
        return np.reshape(d, xa.shape)
    order = np.argsort(xa, axis=axis, kind="stable")
    d = np.zeros(xa.shape, dtype=_dtype_of(xa, g))
    np.put_along_axis(d, order, g, axis=axis)
    return d


def diff_adjoint(g, x, n=1, axis=-1):
    """The adjoint of ``np.diff``: each difference ``x[i+1] - x[i]`` sends ``g`` back
    with a plus and a minus sign (``n`` times over)."""
    g = np.asarray(g)
    for _ in range(n):
        pad = [(0, 0)] * g.ndim
        pad[axis % g.ndim] = (1, 1)
        padded = np.pad(g, pad)
        g = -np.diff(padded, axis=axis)
    return g


# -- shapes and indexing ---------------------------------------------------------------


def reshape_adjoint(g, x, order="C"):
    """The adjoint of a reshape (``reshape``, ``ravel``, ``squeeze``...): ``g`` in ``x``'s shape."""
    if order == "A":
        order = "F" if np.isfortran(np.asarray(x)) else "C"
    elif order == "K":
        xa = np.asarray(x)
        if xa.flags.c_contiguous or xa.ndim <= 1:
            order = "C"
        elif xa.flags.f_contiguous:
            order = "F"
        else:
            raise ADTransformError(
                "ravel(order='K') of an array that is neither C nor Fortran contiguous is "
                "not supported; use order='C'"
            )
    return _scalar_like(np.reshape(g, np.shape(x), order=order), x)


def transpose_adjoint(g, axes=None):
    """The adjoint of ``np.transpose(x, axes)``: the inverse permutation."""
    if axes is None:
        return np.transpose(g)
    ndim = np.ndim(g)
    return np.transpose(g, np.argsort([int(a) % ndim for a in axes]))


def method_arguments(first, *rest):
    """The arguments of ``x.transpose(1, 0)`` / ``x.transpose((1, 0))`` / ``x.item(i, j)``
    (a method taking its arguments either spread out or as one tuple) as one value."""
    rest = [r for r in rest if r is not None]
    if not rest:
        return (first,) if np.ndim(first) == 0 and first is not None else first
    return (first, *rest)


def concatenate_adjoint(g, arrays, axis=0):
    """The adjoint of ``np.concatenate(arrays, axis)``: ``g`` cut back into pieces."""
    if axis is None:
        flat = np.ravel(g)
        cuts = np.cumsum([np.size(a) for a in arrays])[:-1]
        pieces = np.split(flat, cuts)
        return ListAdjoint(
            _scalar_like(np.reshape(p, np.shape(a)), a) for p, a in zip(pieces, arrays)
        )
    cuts = np.cumsum([np.shape(a)[axis] for a in arrays])[:-1]
    return ListAdjoint(np.split(g, cuts, axis=axis))


def stack_adjoint(g, arrays, axis=0):
    """The adjoint of ``np.stack(arrays, axis)``: one slice of ``g`` per array."""
    moved = np.moveaxis(np.asarray(g), axis, 0)
    return ListAdjoint(_scalar_like(np.asarray(moved[i]), a) for i, a in enumerate(arrays))


_JOIN_AXIS = {"vstack": 0, "dstack": 2, "column_stack": 1}
_PROMOTE = {
    "hstack": np.atleast_1d,
    "vstack": np.atleast_2d,
    "dstack": np.atleast_3d,
}


def joined_adjoint(g, arrays, how):
    """The adjoint of ``np.hstack``/``vstack``/``dstack``/``column_stack`` of ``arrays``."""
    if how == "column_stack":
        promoted = [np.reshape(a, (-1, 1)) if np.ndim(a) < 2 else np.asarray(a) for a in arrays]
        axis = 1
    else:
        promoted = [_PROMOTE[how](np.asarray(a)) for a in arrays]
        axis = _JOIN_AXIS.get(how, 0 if promoted[0].ndim == 1 else 1)
    pieces = concatenate_adjoint(g, promoted, axis)
    return ListAdjoint(_scalar_like(np.reshape(p, np.shape(a)), a) for p, a in zip(pieces, arrays))


_SPLITTERS = {
    "split": np.split,
    "array_split": np.array_split,
    "hsplit": np.hsplit,
    "vsplit": np.vsplit,
    "dsplit": np.dsplit,
}


def split_adjoint(g, ary, indices_or_sections, axis=0, how="split"):
    """The adjoint of ``np.split`` and its relatives: the pieces' adjoints joined back.

    ``g`` is the adjoint of the returned list: one adjoint per piece (0 for a piece that
    was not used).
    """
    shape = np.shape(ary)
    dtype = _dtype_of(ary, *[v for v in _elements(g) if not _is_zero(v)])
    ghost = np.broadcast_to(np.zeros((), dtype=dtype), shape)  # shapes only, no data
    if how in ("split", "array_split"):
        parts = _SPLITTERS[how](ghost, indices_or_sections, axis)
    else:
        parts = _SPLITTERS[how](ghost, indices_or_sections)
        axis = {"vsplit": 0, "dsplit": 2}.get(how, 1 if len(shape) > 1 else 0)
    pieces = []
    for k, part in enumerate(parts):
        gk = g[k]
        pieces.append(
            np.zeros(part.shape, dtype=dtype) if _is_zero(gk) else np.broadcast_to(gk, part.shape)
        )
    return np.concatenate(pieces, axis=axis)


def _elements(g):
    if isinstance(g, Item):
        return [g.value]
    return list(g) if isinstance(g, (list, tuple)) else [g]


def tile_adjoint(g, x, reps):
    """The adjoint of ``np.tile(x, reps)``: the copies' adjoints summed."""
    shape = np.shape(x)
    reps = (int(reps),) if np.ndim(reps) == 0 else tuple(reps)
    d = max(len(shape), len(reps))
    xs = (1,) * (d - len(shape)) + tuple(shape)
    rs = (1,) * (d - len(reps)) + reps
    g = np.reshape(g, [v for pair in zip(rs, xs) for v in pair])
    return _scalar_like(np.reshape(np.sum(g, axis=tuple(range(0, 2 * d, 2))), shape), x)


def repeat_adjoint(g, x, repeats, axis=None):
    """The adjoint of ``np.repeat(x, repeats, axis)``: the repeats' adjoints summed."""
    xa = np.asarray(x)
    dtype = _dtype_of(xa, g)
    if axis is None:
        owner = np.repeat(np.arange(xa.size), repeats)
        d = np.zeros(xa.size, dtype=dtype)
        np.add.at(d, owner, np.ravel(g))
        return _scalar_like(np.reshape(d, xa.shape), x)
    axis = axis % xa.ndim
    owner = np.repeat(np.arange(xa.shape[axis]), repeats)
    moved = np.moveaxis(np.asarray(g), axis, 0)
    d = np.zeros((xa.shape[axis], *moved.shape[1:]), dtype=dtype)
    np.add.at(d, owner, moved)
    return np.moveaxis(d, 0, axis)


def roll_adjoint(g, shift, axis=None):
    """The adjoint of ``np.roll(x, shift, axis)``: roll back."""
    return np.roll(g, np.negative(shift), axis)


def pad_adjoint(g, x, pad_width, mode="constant"):
    """The adjoint of ``np.pad(x, pad_width)`` in mode ``'constant'``: the interior of ``g``."""
    if mode != "constant":
        raise ADTransformError(f"np.pad: only mode='constant' is differentiable, not {mode!r}")
    return np.asarray(g)[_interior(np.ndim(x), np.shape(g), pad_width)]


def pad_value_adjoint(g, x, pad_width, constant_values=0):
    """The adjoint of the scalar ``constant_values`` of ``np.pad``: ``g`` summed over the
    padding."""
    if np.ndim(constant_values) != 0:
        raise ADTransformError("np.pad: only a single number as constant_values is differentiable")
    g = np.asarray(g)
    return cast_like(
        np.sum(g) - np.sum(g[_interior(np.ndim(x), g.shape, pad_width)]), constant_values
    )


def _interior(ndim, shape, pad_width):
    widths = np.broadcast_to(np.asarray(pad_width, dtype=np.intp), (ndim, 2))
    return tuple(slice(int(b), n - int(a)) for (b, a), n in zip(widths, shape))


def _scatter_flat(g, a: np.ndarray, indices, dtype) -> np.ndarray:
    """``g`` added into a zero array shaped like ``a`` at the flat ``indices``."""
    d = np.zeros(a.size, dtype=dtype)
    np.add.at(d, indices, g)
    return np.reshape(d, a.shape)


def take_adjoint(g, a, indices, axis=None):
    """The adjoint of ``np.take(a, indices, axis)``: ``g`` scattered back (duplicates add)."""
    aa = np.asarray(a)
    dtype = _dtype_of(aa, g)
    if axis is None:
        return _scatter_flat(g, aa, indices, dtype)
    d = np.zeros(aa.shape, dtype=dtype)
    np.add.at(d, (slice(None),) * (axis % aa.ndim) + (indices,), g)
    return d


def take_along_axis_adjoint(g, arr, indices, axis):
    """The adjoint of ``np.take_along_axis``: ``g`` scattered back (duplicates add)."""
    aa = np.asarray(arr)
    dtype = _dtype_of(aa, g)
    if axis is None:
        return _scatter_flat(g, aa, indices, dtype)
    axis = axis % aa.ndim
    shape = np.shape(g)
    grid = np.ogrid[tuple(slice(n) for n in shape)]
    index = tuple(
        np.broadcast_to(indices, shape)
        if i == axis
        else (grid[i] if aa.shape[i] == shape[i] else np.zeros_like(grid[i]))
        for i in range(aa.ndim)
    )
    d = np.zeros(aa.shape, dtype=dtype)
    np.add.at(d, index, g)
    return d


def item_method_adjoint(g, x, index=None):
    """The adjoint of ``x.item()`` / ``x.item(i)`` / ``x.item(i, j)``: ``g`` at that element."""
    xa = np.asarray(x)
    d = np.zeros(xa.shape, dtype=_dtype_of(xa, g))
    if index is None:
        d[...] = g
    elif len(index) == 1:
        d.flat[index[0]] = g
    else:
        d[tuple(index)] = g
    return _scalar_like(d, x)


# -- conversions -----------------------------------------------------------------------


def cast_like(g, x):
    """The adjoint ``g`` in the type of ``x`` (the inverse of a conversion or ``astype``)."""
    if isinstance(x, np.ndarray):
        return np.asarray(g, dtype=_float_dtype(x.dtype))
    if isinstance(x, np.generic):
        return _float_dtype(x.dtype).type(g)
    if isinstance(x, (list, tuple)):
        return array_adjoint(g, x)
    return float(g)


def astype_adjoint(g, x, dtype):
    """The adjoint of ``x.astype(dtype)``: ``g`` back in ``x``'s dtype; zero for a cast to
    integers or booleans (a piecewise-constant result)."""
    if np.dtype(dtype).kind not in "fc":
        return zeros_like(x)
    return cast_like(g, x)


def is_discrete(value) -> bool:
    """Whether ``value`` is an integer or boolean array (or NumPy scalar): what is stored
    into or converted to it is truncated, a piecewise-constant function (zero derivative)."""
    return isinstance(value, np.ndarray | np.generic) and value.dtype.kind in "biu"


def unless_discrete(ans, adjoint, like):
    """``adjoint``, or a zero adjoint of the type of ``like`` where the result ``ans`` is
    an integer or boolean array (``np.arange(x, dtype=int)``, ``np.full_like(ints, x)``)."""
    return zeros_like(like) if is_discrete(ans) else adjoint


def array_adjoint(g, obj, ans=None):
    """The adjoint of ``np.array(obj)``: for a (nested) list of numbers and arrays, a list
    of the elements' adjoints; for an array or a number, ``g`` in its type. Zero where the
    result ``ans`` is an integer or boolean array (``np.array(x, dtype=int)``)."""
    if is_discrete(ans):
        return zeros_like(obj)
    if isinstance(obj, (list, tuple)):
        return ListAdjoint(array_adjoint(g[i], element) for i, element in enumerate(obj))
    return cast_like(g, obj)


# -- linear algebra --------------------------------------------------------------------


def _tensordot_axes(axes, na, nb):
    if np.ndim(axes) == 0:
        n = int(axes)
        return list(range(na - n, na)), list(range(n))
    axes_a, axes_b = axes
    axes_a = [axes_a] if np.ndim(axes_a) == 0 else list(axes_a)
    axes_b = [axes_b] if np.ndim(axes_b) == 0 else list(axes_b)
    return [int(i) % na for i in axes_a], [int(i) % nb for i in axes_b]


def tensordot_adjoint_left(g, a, b, axes=2):
    """The adjoint of ``a`` in ``np.tensordot(a, b, axes)``."""
    a_in, a, b = a, np.asarray(a), np.asarray(b)
    axes_a, axes_b = _tensordot_axes(axes, a.ndim, b.ndim)
    free_a = [i for i in range(a.ndim) if i not in axes_a]
    free_b = [j for j in range(b.ndim) if j not in axes_b]
    t = np.tensordot(g, b, axes=(list(range(len(free_a), len(free_a) + len(free_b))), free_b))
    order = free_a + [axes_a[axes_b.index(j)] for j in sorted(axes_b)]
    return _scalar_like(np.transpose(t, np.argsort(order)), a_in)


def tensordot_adjoint_right(g, a, b, axes=2):
    """The adjoint of ``b`` in ``np.tensordot(a, b, axes)``."""
    b_in, a, b = b, np.asarray(a), np.asarray(b)
    axes_a, axes_b = _tensordot_axes(axes, a.ndim, b.ndim)
    free_a = [i for i in range(a.ndim) if i not in axes_a]
    free_b = [j for j in range(b.ndim) if j not in axes_b]
    t = np.tensordot(a, g, axes=(free_a, list(range(len(free_a)))))
    order = [axes_b[axes_a.index(i)] for i in sorted(axes_a)] + free_b
    return _scalar_like(np.transpose(t, np.argsort(order)), b_in)


def inner_adjoint_left(g, a, b):
    """The adjoint of ``a`` in ``np.inner(a, b)`` (a product over the last axes)."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return unbroadcast(np.sum(g * b) if np.ndim(a) == 0 else g * b, a)
    return tensordot_adjoint_left(g, a, b, ([np.ndim(a) - 1], [np.ndim(b) - 1]))


def inner_adjoint_right(g, a, b):
    """The adjoint of ``b`` in ``np.inner(a, b)``."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return unbroadcast(np.sum(g * a) if np.ndim(b) == 0 else g * a, b)
    return tensordot_adjoint_right(g, a, b, ([np.ndim(a) - 1], [np.ndim(b) - 1]))


def outer_adjoint_left(g, a, b):
    """The adjoint of ``a`` in ``np.outer(a, b)`` (both flattened)."""
    return _scalar_like(np.reshape(np.asarray(g) @ np.ravel(b), np.shape(a)), a)


def outer_adjoint_right(g, a, b):
    """The adjoint of ``b`` in ``np.outer(a, b)``."""
    return _scalar_like(np.reshape(np.ravel(a) @ np.asarray(g), np.shape(b)), b)


def vdot_adjoint(g, other, x):
    """The adjoint of ``x`` in ``np.vdot`` (real: a dot product of the flattened arrays)."""
    return _scalar_like(np.reshape(g * np.ravel(other), np.shape(x)), x)


def kron_adjoint(g, a, b, left=True):
    """The adjoint of ``a`` (``left``) or ``b`` in ``np.kron(a, b)``."""
    target = a if left else b
    a, b = np.asarray(a), np.asarray(b)
    nd = max(a.ndim, b.ndim)
    sa = (1,) * (nd - a.ndim) + a.shape
    sb = (1,) * (nd - b.ndim) + b.shape
    g = np.reshape(g, [v for pair in zip(sa, sb) for v in pair])
    if left:
        b_grid = np.reshape(b, [v for n in sb for v in (1, n)])
        d = np.reshape(np.sum(g * b_grid, axis=tuple(range(1, 2 * nd, 2))), a.shape)
    else:
        a_grid = np.reshape(a, [v for n in sa for v in (n, 1)])
        d = np.reshape(np.sum(g * a_grid, axis=tuple(range(0, 2 * nd, 2))), b.shape)
    return _scalar_like(d, target)


def _mT(x):
    return np.swapaxes(x, -1, -2)


def _solves_vectors(a, b) -> bool:
    """Whether ``np.linalg.solve(a, b)`` takes ``b`` as (a stack of) vectors: in NumPy 2
    only a 1-D ``b``; in NumPy 1 also a ``b`` with one axis less than ``a``."""
    return np.ndim(b) == 1 or (_NUMPY_1 and np.ndim(b) == np.ndim(a) - 1)


_NUMPY_1 = int(np.__version__.split(".")[0]) < 2


def solve_cotangent(g, a, b):
    """``solve(a^T, g)``: the adjoint of ``b`` in ``x = np.linalg.solve(a, b)``, before
    un-broadcasting."""
    if _solves_vectors(a, b):
        return np.linalg.solve(_mT(a), np.asarray(g)[..., None])[..., 0]
    return np.linalg.solve(_mT(a), g)


def solve_matrix_adjoint(gb, x, a, b):
    """The adjoint of ``a`` in ``x = np.linalg.solve(a, b)``: ``-gb x^T``."""
    if _solves_vectors(a, b):
        return -(gb[..., :, None] * np.asarray(x)[..., None, :])
    return -(gb @ _mT(x))


def det_adjoint(g, ans, a):
    """The adjoint of ``np.linalg.det``: ``g`` times the cofactor matrix ``det(a) a^{-T}``.

    For a singular matrix the cofactors come from the SVD (exact for rank ``n - 1``).
    """
    a = np.asarray(a)
    ans = np.asarray(ans)
    g = np.asarray(g)
    if np.all(ans != 0):
        return (g * ans)[..., None, None] * _mT(np.linalg.inv(a))
    u, s, vh = np.linalg.svd(a)
    others = np.ones_like(s)
    n = s.shape[-1]
    if n > 1:
        left = np.cumprod(s[..., :-1], axis=-1)
        right = np.cumprod(s[..., :0:-1], axis=-1)[..., ::-1]
        others[..., 1:] *= left
        others[..., :-1] *= right
    signs = np.linalg.det(u) * np.linalg.det(vh)
    cofactor = signs[..., None, None] * ((u * others[..., None, :]) @ vh)
    return g[..., None, None] * cofactor


def slogdet_adjoint(g, a):
    """The adjoint of ``a`` in ``sign, logabsdet = np.linalg.slogdet(a)``: ``g_logabsdet
    a^{-T}`` (the sign is piecewise constant)."""
    g_log = np.asarray(g[1])
    return g_log[..., None, None] * _mT(np.linalg.inv(a))


def cholesky_adjoint(g, ans, a, upper=False):
    """The adjoint of ``np.linalg.cholesky`` (Murray 2016), for the triangle NumPy reads.

    With ``L L^T = A``: ``S = L^{-T} Phi(L^T dL) L^{-1}`` (``Phi``: the lower triangle
    with half the diagonal) and the symmetric adjoint ``(S + S^T) / 2``. NumPy reads only
    the lower triangle of ``a`` (the upper one with ``upper=True``), so that is where the
    gradient lies: an off-diagonal entry stands for both symmetric positions.
    """
    L = _mT(ans) if upper else np.asarray(ans)
    gL = _mT(g) if upper else np.asarray(g)
    phi = np.tril(_mT(L) @ gL)
    phi = phi - 0.5 * np.tril(np.triu(phi))  # halve the diagonal
    inv_L = np.linalg.inv(L)
    s = _mT(inv_L) @ phi @ inv_L
    sym = s + _mT(s)  # twice the symmetric adjoint
    diagonal = 0.5 * np.tril(np.triu(sym))
    return np.triu(sym, 1) + diagonal if upper else np.tril(sym, -1) + diagonal


def einsum_adjoint(g, subscripts, k, *operands):
    """The adjoint of operand ``k`` of ``np.einsum(subscripts, *operands)``.

    Another einsum: the other operands and ``g`` contracted to operand ``k``'s labels.
    A label repeated in operand ``k`` (a diagonal, ``'ii'``) is linked through an identity
    matrix; a label that only operand ``k`` has (summed away) is broadcast with ones; an
    ellipsis is spelled out in letters (a broadcast size-1 axis gets a label of its own).
    """
    if not isinstance(subscripts, str):
        raise ADTransformError("np.einsum: only the subscripts-string form is differentiable")
    arrays = [np.asarray(o) for o in operands if o is not None]
    terms, output, sizes, fresh = _einsum_labels(subscripts, [a.shape for a in arrays])
    dtype = _dtype_of(arrays[k], g)
    target = terms[k]
    inputs = [t for j, t in enumerate(terms) if j != k] + [output]
    values = [a for j, a in enumerate(arrays) if j != k] + [np.asarray(g)]
    unique = []
    for label in target:
        if label in unique:  # a diagonal: a fresh label tied to the first by an identity
            new = next(fresh)
            unique.append(new)
            inputs.append(label + new)
            values.append(np.eye(sizes[label], dtype=dtype))
        else:
            unique.append(label)
    present = set("".join(inputs))
    for label in unique:
        if label not in present:  # summed away in the forward: broadcast back
            inputs.append(label)
            values.append(np.ones(sizes[label], dtype=dtype))
            present.add(label)
    spec = ",".join(inputs) + "->" + "".join(unique)
    result = np.einsum(spec, *values, optimize=len(values) > 2)
    return _scalar_like(np.asarray(result, dtype=dtype), operands[k])


def _einsum_labels(subscripts, shapes):
    """Operand and output labels of an einsum, one letter per axis (no ellipsis)."""
    spec = subscripts.replace(" ", "")
    lhs, arrow, rhs = spec.partition("->")
    raw = lhs.split(",")
    used = set(c for c in spec if c.isalpha())
    fresh = iter(c for c in string.ascii_letters if c not in used)
    ellipsis_shapes = []
    for term, shape in zip(raw, shapes):
        if "..." in term:
            before, after = term.split("...")
            ellipsis_shapes.append(tuple(shape[len(before) : len(shape) - len(after)]))
        else:
            ellipsis_shapes.append(())
    n_ell = max((len(s) for s in ellipsis_shapes), default=0)
    ell_labels = [next(fresh) for _ in range(n_ell)]
    broadcast = [1] * n_ell
    for s in ellipsis_shapes:
        for i, n in enumerate(s):
            position = n_ell - len(s) + i
            broadcast[position] = max(broadcast[position], n)
    terms, sizes = [], {}
    for term, shape, ell in zip(raw, shapes, ellipsis_shapes):
        labels = []
        if "..." in term:
            before, after = term.split("...")
            middle = []
            for i, n in enumerate(ell):
                position = n_ell - len(ell) + i
                if n == 1 and broadcast[position] != 1:
                    middle.append(next(fresh))
                else:
                    middle.append(ell_labels[position])
            labels = list(before) + middle + list(after)
        else:
            labels = list(term)
        for label, n in zip(labels, shape):
            sizes[label] = n
        terms.append("".join(labels))
    if arrow:
        output = rhs.replace("...", "".join(ell_labels))
    else:
        counts = {c: lhs.count(c) for c in set(lhs) if c.isalpha()}
        output = "".join(ell_labels) + "".join(sorted(c for c, n in counts.items() if n == 1))
    return terms, output, sizes, fresh


def full_adjoint(g, fill_value, dtype=None):
    """The adjoint of ``fill_value`` in ``np.full(shape, fill_value)``: ``g`` summed over
    the copies (zero for an integer or boolean ``dtype``)."""
    if dtype is not None and np.dtype(dtype).kind not in "fc":
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
    if any(isinstance(item, str) for item in items):
        raise ADTransformError(
            "a directive string in np.r_/np.c_ is not supported; use np.concatenate"
        )
    blocks = [np.shape(concatenator[item]) for item in items]
    axis = concatenator.axis
    cuts = np.cumsum([shape[axis] for shape in blocks])[:-1]
    pieces = np.split(np.asarray(g), cuts, axis=axis)
    return ListAdjoint(
        None if isinstance(item, slice) else _scalar_like(np.reshape(piece, np.shape(item)), item)
        for piece, item in zip(pieces, items)
    )


def array_receiver(receiver, method: str, where: str) -> None:
    """Refuse to apply the adjoint of a NumPy method or attribute (``method``) to an object
    that is not a number or NumPy's own (a method of a user class of the same name)."""
    if not isinstance(receiver, (np.ndarray, np.generic, int, float, complex)) and not (
        type(receiver).__module__.split(".")[0] == "numpy"  # SlogdetResult.logabsdet
    ):
        raise ADTransformError(
            f"{where}: {method} was chosen by name for a {type(receiver).__name__} object; "
            "its adjoint is NumPy's, and methods of other classes are not differentiated"
        )


# -- containers: joins, starred unpacking, reversed, sorted, min/max of an iterable ------
# Normalize turns ``[*s, *t]``, ``first, *rest = xs``, ``reversed(xs)``, ``max(xs)`` and
# ``zip(*rows)`` into calls of these (primitives with rules in ``rules/containers``); the
# adjoint of what they read from an iterable goes back with ``spread``.


def spread(elements: list, like):
    """The adjoint of the iterable ``like`` from the adjoints of the elements iterating it
    gave, in order: a list adjoint for a list, a tuple or a dict's values; an array for an
    array (its rows); a dict adjoint for a dict's items; zero for a dict or its keys (keys
    carry no derivative). Anything else (an iterator, a set) is refused."""
    if isinstance(like, (list, tuple, type({}.values()), set, frozenset)):
        return ListAdjoint(elements)
    if isinstance(like, np.ndarray):
        out = zeros_like(like)
        for k, element in enumerate(elements):
            if not _is_zero(element):
                out[k] += element
        return out
    if isinstance(like, (dict, type({}.keys()))):
        if all(_is_zero(e) for e in elements):
            return DictAdjoint() if isinstance(like, dict) else 0.0
        raise ADTransformError(
            "cannot differentiate through the keys of a dict: keys carry no derivative"
        )
    if isinstance(like, type({}.items())):
        return DictAdjoint(
            (key, 0.0 if _is_zero(p) else p[1]) for (key, _), p in zip(like, elements)
        )
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
    tied = [k for k, v in enumerate(values) if v == ans]
    share = g / len(tied)
    elements = [0.0] * len(values)
    for k in tied:
        elements[k] = share
    return spread(elements, x)


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


# -- exceptions and context managers (lower/exceptions.py) ---------------------------------
# The lowered ``try``/``with`` statements call these through the module (``ad_runtime.``):
# the calls have no derivative and are run by the forward sweep as the user's code would.


def current_exception() -> BaseException | None:
    """The exception the enclosing ``except`` clause of the generated code is handling."""
    return sys.exc_info()[1]


def throw(exception, cause=None, has_cause: bool = False):
    """``raise exception`` (``raise exception from cause`` if ``has_cause``) as Python runs it:
    a class is instantiated, anything else that is no exception is a ``TypeError``."""
    if has_cause:
        raise exception from cause
    raise exception


def reraise(exception: BaseException):
    """Raise ``exception`` again, the same object (a pending exception after ``finally``)."""
    raise exception


def exception_matches(exception: BaseException | None, kinds) -> bool:
    """Whether ``except kinds:`` catches ``exception`` (``None``: no exception, no match).
    ``kinds`` that are no exception classes raise ``TypeError``, as Python's ``except``."""
    classes = kinds if isinstance(kinds, tuple) else (kinds,)
    for kind in classes:
        if not (isinstance(kind, type) and issubclass(kind, BaseException)):
            raise TypeError(
                "catching classes that do not inherit from BaseException is not allowed"
            )
    if isinstance(exception, ADTransformError):
        return False  # a refusal of ad_transform's own: never the user's to handle
    return exception is not None and isinstance(exception, classes)


def half_changed(exception: BaseException, kinds, message: str) -> BaseException:
    """In the ``except`` of a statement of a ``try``/``with`` body that changes an object
    in place: an exception of ``kinds`` may have come after the change (see
    ``reverse.half_change_check``); it becomes the refusal, which no handler takes."""
    if isinstance(exception, kinds):
        refusal = ADTransformError(message)
        refusal.__cause__ = exception
        return refusal
    return exception


def enter_context(manager):
    """``with manager:`` up to the body: ``type(manager).__enter__(manager)``'s value."""
    kind = type(manager)
    if not (hasattr(kind, "__enter__") and hasattr(kind, "__exit__")):
        raise TypeError(f"'{kind.__name__}' object does not support the context manager protocol")
    return kind.__enter__(manager)


def exit_context(manager, exception: BaseException | None) -> bool:
    """Leave ``with manager:``: ``__exit__`` with ``exception`` (or ``None``s); whether the
    exception still propagates (``False`` if there was none, or the manager suppressed it;
    a refusal of ad_transform's own is never suppressed)."""
    leave = type(manager).__exit__
    if exception is None:
        leave(manager, None, None, None)
        return False
    suppressed = leave(manager, type(exception), exception, exception.__traceback__)
    return not suppressed or isinstance(exception, ADTransformError)  # refusals go on


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


def set_operand_adjoint(g, ans, x, other, first: bool):
    """The adjoint of the operand ``x`` of ``|``, ``&`` or ``^`` (``other`` the other
    operand, ``first`` whether ``x`` is the left one). On sets, each member of the result
    ``ans`` is an element object of an operand (sets never make new elements): its adjoint
    goes to the operand holding that object, the left one if both do. On anything else
    (integers, boolean arrays) the operators carry no derivative."""
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


def check_unpacked_length(items, count: int) -> None:
    """``f(*xs)`` spread into ``count`` arguments by index (normalize): the ``TypeError``
    Python's call raises when ``xs`` has another number of items."""
    if len(items) != count:
        raise TypeError(
            f"the call takes {count} unpacked positional arguments but {len(items)} were given"
        )
