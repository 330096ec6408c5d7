"""In-place writes and aliasing: fresh copies of saved values, ``in_place`` (the guarded
``+=`` of an array another name may hold) and the adjoints of aliases after a write.
"""

from __future__ import annotations

import copy as _copy
import gc

import numpy as np

from ..errors import ADTransformError
from .adjoints import zeros_like


def fresh_copy(x):
    """A copy of a list, a dict or an array that the backward sweep will change (undo) in
    place."""
    if isinstance(x, list):
        duplicate = _emptied_copy(x)
        duplicate.extend(x)
        return duplicate
    if isinstance(x, dict):
        duplicate = _emptied_copy(x)
        duplicate.update(x)
        return duplicate
    return x.copy() if isinstance(x, np.ndarray) else x


def _emptied_copy(container: list | dict) -> list | dict:
    """An empty container of the same type as ``container`` (a ``list`` or ``dict``, or
    a subclass such as the adjoint containers ``ListAdjoint``/``DictAdjoint``, whose
    ``+`` adds elementwise where a plain list's joins: a copy must keep the type)."""
    if type(container) in (list, dict):
        return type(container)()
    duplicate = _copy.copy(container)
    duplicate.clear()
    return duplicate


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
        if type(value) in _DICT_VIEWS:  # d.values() saved: the same view of d's copy
            return _DICT_VIEWS[type(value)](copy(_viewed_dict(value)))
        if not isinstance(value, (list, dict, np.ndarray)):
            return value
        known = copies.get(id(value))
        if known is not None:
            return known
        if isinstance(value, dict):
            copies[id(value)] = duplicate = _emptied_copy(value)
            duplicate.update((key, copy(item)) for key, item in value.items())
            return duplicate
        if isinstance(value, np.ndarray):
            base = value.base
            if isinstance(base, np.ndarray) and base.base is None:
                copies[id(value)] = duplicate = _view_into(value, base, copy(base))
            else:
                copies[id(value)] = duplicate = value.copy(order="K")
            return duplicate
        copies[id(value)] = duplicate = _emptied_copy(value)
        duplicate.extend(map(copy, value))
        return duplicate

    return copy(saved)


_DICT_VIEWS = {
    type({}.keys()): dict.keys,
    type({}.values()): dict.values,
    type({}.items()): dict.items,
}


def _viewed_dict(view) -> dict:
    """The dict a ``dict.keys()``/``values()``/``items()`` view shows (the one object the
    view refers to)."""
    return gc.get_referents(view)[0]


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
        target = fresh_copy(target)
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
