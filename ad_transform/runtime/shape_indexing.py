"""Helpers of ``rules/shape_indexing.py``: the adjoints of reshapes, joins and splits,
``tile``/``repeat``/``roll``/``pad``, ``take`` and of index reads (arrays, lists, slices).
"""

from __future__ import annotations

import numpy as np

from ..errors import ADTransformError
from .adjoints import _may_repeat
from .conversions import cast_like
from .operators import element_adjoints
from .values import (
    Item,
    KeyItem,
    ListAdjoint,
    _dtype_of,
    _float_dtype,
    _is_zero,
    _scalar_like,
)


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
    if _may_repeat(index):
        np.add.at(out, index, g)  # an item named twice gets both adjoints
    else:
        out[index] = g  # basic indices and masks name each item once
    return out


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
