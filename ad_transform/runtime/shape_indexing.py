"""Helpers of ``rules/shape_indexing.py``: the adjoints of reshapes, joins and splits,
``tile``/``repeat``/``roll``/``pad``, ``take`` and of index reads (arrays, lists, slices).
"""

from __future__ import annotations

import numpy as np

from ..errors import ADTransformError
from .adjoints import _may_repeat, unbroadcast
from .conversions import cast_like
from .operators import element_adjoints
from .values import (
    Fields,
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
    list or tuple: at the item, or the items of a slice; for a dict: at the key).

    ``x`` may itself be an adjoint (second order: generated code reading ``dd[key]``,
    ``dp['w']`` or ``dxs[i]``): its cotangent has the same sparse form."""
    if type(x) is np.ndarray and type(g) is np.ndarray and g.dtype == x.dtype:
        kind = x.dtype.kind
        if (kind == "f" or kind == "c") and type(index) is slice:  # the common case, first
            out = np.zeros(x.shape, dtype=x.dtype)
            out[index] = g
            return out
    if isinstance(x, (dict, KeyItem)):
        return KeyItem(index, g)
    if isinstance(x, Fields):
        return Fields(**{index: g})
    if isinstance(x, Item):
        return Item(int(index), g, x.length)
    if isinstance(x, (list, tuple)):
        if isinstance(index, slice):
            return slice_adjoint(g, len(x), index)
        if not isinstance(index, (int, np.integer)) or isinstance(index, bool):
            raise ADTransformError(
                f"cannot differentiate indexing a {type(x).__name__} with a "
                f"{type(index).__name__}; index it with integers or slices, or use an ndarray"
            )
        return Item(int(index), g, len(x))
    if type(x) is np.ndarray and type(g) is np.ndarray and g.dtype == x.dtype:
        dtype = x.dtype if x.dtype.kind in "fc" else np.result_type(g, np.float64)
    else:
        dtype = np.result_type(g, _float_dtype(np.asarray(x).dtype))
    out = np.zeros(np.shape(x), dtype=dtype)
    if _may_repeat(index):
        np.add.at(out, index, g)  # an item named twice gets both adjoints
    else:
        out[index] = g  # basic indices and masks name each item once
    return out


def _basic_index(index) -> bool:
    """Whether ``index`` is a basic index (ints, slices, ``...``, ``None``, or a tuple of
    them): ``x[index]`` of an ndarray is a view naming each item once."""
    parts = index if type(index) is tuple else (index,)
    for part in parts:
        kind = type(part)
        if not (
            kind is slice
            or part is None
            or part is Ellipsis
            or kind is int
            or (isinstance(part, np.integer) and kind is not np.bool_)
        ):
            return False
    return True


def accumulate_index(dx, g, x, index):
    """``dx += index_adjoint(g, x, index)`` written only where ``x[index]`` reads: the
    adjoint of a read added into the adjoint ``dx`` of ``x`` that the backward sweep owns
    (``optimize/accumulation.py`` calls this only where ``dx += ...`` may write in place).

    A basic index adds ``g`` into the view ``dx[index]`` (``dx[1:-1] += g``), an index
    array that may name an item twice uses ``np.add.at``; anything else (a mask, a list
    of arrays, a ``dx`` that is not yet an array of ``x``'s shape) takes the generic path.
    The result is ``dx`` itself, changed in place, or a new array: never ``g`` or ``x``.
    """
    if (
        type(dx) is np.ndarray
        and type(x) is np.ndarray
        and dx.shape == x.shape
        and dx.dtype.kind in "fc"
    ):
        if type(g) is not np.ndarray:
            if _is_zero(g):
                return dx
            if not isinstance(g, (float, np.floating)):
                dx += index_adjoint(g, x, index)
                return dx
        if _basic_index(index):
            target = dx[index]
            if type(target) is np.ndarray:  # a view: add into it
                if np.ndim(g) <= target.ndim:
                    np.add(target, g, out=target)
                    return dx
            elif np.ndim(g) == 0:  # one element
                dx[index] = target + g
                return dx
        elif _may_repeat(index) and type(g) is np.ndarray and g.dtype == dx.dtype:
            np.add.at(dx, index, g)  # an item named twice gets both adjoints
            return dx
    dx += index_adjoint(g, x, index)
    return dx


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
    g = g if type(g) is np.ndarray else np.asarray(g)
    if axis == 0 and type(axis) is int and g.ndim:
        return _split_first_axis(g, arrays)
    lead = (slice(None),) * (axis % g.ndim)
    pieces, start = ListAdjoint(), 0
    for a in arrays:  # views of g, like np.split's, without its overhead
        stop = start + (a.shape if type(a) is np.ndarray else np.shape(a))[axis]
        pieces.append(g[(*lead, slice(start, stop))])
        start = stop
    return pieces


def _split_first_axis(g: np.ndarray, arrays) -> ListAdjoint:
    """``concatenate_adjoint`` along axis 0: ``g[start:stop]`` per array, views of ``g``."""
    pieces, start = ListAdjoint(), 0
    for a in arrays:
        stop = start + (a.shape if type(a) is np.ndarray else np.shape(a))[0]
        pieces.append(g[start:stop])
        start = stop
    return pieces


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


def along_axis_index(shape: tuple, indices, axis: int, result_shape: tuple) -> tuple:
    """The index tuple that reads, in an array of ``shape``, the elements
    ``np.take_along_axis(., indices, axis)`` gives, in the layout of ``result_shape``: for
    the scatter of its adjoint and the gather of that adjoint's transpose."""
    grid = np.ogrid[tuple(slice(n) for n in result_shape)]
    return tuple(
        np.broadcast_to(indices, result_shape)
        if i == axis
        else (grid[i] if shape[i] == result_shape[i] else np.zeros_like(grid[i]))
        for i in range(len(shape))
    )


def take_along_axis_adjoint(g, arr, indices, axis):
    """The adjoint of ``np.take_along_axis``: ``g`` scattered back (duplicates add)."""
    aa = np.asarray(arr)
    dtype = _dtype_of(aa, g)
    if axis is None:
        return _scatter_flat(g, aa, indices, dtype)
    index = along_axis_index(aa.shape, indices, axis % aa.ndim, np.shape(g))
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


# -- issue 16: append, rollaxis, meshgrid, select, partition, put/place ----------------------


def append_adjoint(g, arr, values, axis=None, of_values=False):
    """The adjoint of ``arr`` (or of ``values``, ``of_values``) in ``np.append(arr, values,
    axis)``: ``g`` cut after ``arr``'s part along ``axis`` (the flattened result without
    an axis), each piece shaped like its argument (``values`` broadcast to it summed back)."""
    target = values if of_values else arr
    g = np.asarray(g)
    if axis is None:
        cut = np.size(arr)
        piece = g[cut:] if of_values else g[:cut]
        return cast_like(_scalar_like(np.reshape(piece, np.shape(target)), target), target)
    axis = int(axis) % g.ndim
    cut = np.shape(arr)[axis]
    where = [slice(None)] * g.ndim
    where[axis] = slice(cut, None) if of_values else slice(None, cut)
    return _scalar_like(np.reshape(g[tuple(where)], np.shape(target)), target)


def rollaxis_adjoint(g, a, axis, start=0):
    """The adjoint of ``np.rollaxis(a, axis, start)``: the axis moved back from where it
    went (``rollaxis`` is ``moveaxis(a, axis, start)``, or ``start - 1`` for a ``start``
    after ``axis``)."""
    n = np.ndim(a)
    axis = int(axis) % n if n else 0
    start = int(start) + n if int(start) < 0 else int(start)
    destination = start - 1 if axis < start else start
    return np.moveaxis(np.asarray(g), destination, axis)


def meshgrid_adjoint(g, k, indexing, *xi):
    """The adjoint of the ``k``-th array of ``np.meshgrid(*xi, indexing=...)``: ``g[k]``
    (the adjoint of the ``k``-th grid, sparse or full) summed over every axis but the one
    that array spans (axis ``k``; axes 0 and 1 swapped for ``indexing='xy'`` with two or
    more arrays), in the array's shape (``meshgrid`` flattens its arguments)."""
    count = sum(x is not None for x in xi)
    x = xi[k]
    gk = g[k]
    if _is_zero(gk):
        return cast_like(np.zeros(np.shape(x)), x) if np.ndim(x) else cast_like(0.0, x)
    gk = np.asarray(gk)
    axis = 1 - k if indexing == "xy" and count > 1 and k < 2 else k
    summed = np.sum(gk, axis=tuple(i for i in range(gk.ndim) if i != axis))
    return cast_like(_scalar_like(np.reshape(summed, np.shape(x)), x), x)


def select_adjoint(g, condlist, choicelist, k, default=0):
    """The adjoint of choice ``k`` of ``np.select(condlist, choicelist, default)`` (``k ==
    len(choicelist)``: of ``default``): ``g`` where that choice was taken -- the first true
    condition, ``default`` where none is true -- summed back to the choice's shape."""
    conditions = [np.asarray(c, dtype=bool) for c in condlist]
    shape = np.broadcast_shapes(np.shape(g), *[c.shape for c in conditions])
    taken = np.zeros(shape, dtype=bool)
    for condition in conditions[:k]:
        taken = taken | condition
    target = default if k == len(conditions) else choicelist[k]
    mine = ~taken if k == len(conditions) else (~taken & conditions[k])
    dtype = _dtype_of(g, target)
    return cast_like(unbroadcast(np.where(mine, g, 0).astype(dtype, copy=False), target), target)


def select_choices_adjoint(g, condlist, choicelist) -> ListAdjoint:
    """The adjoints of the choices of ``np.select(condlist, choicelist)``, one per choice."""
    return ListAdjoint(select_adjoint(g, condlist, choicelist, k) for k in range(len(choicelist)))


def gather_permutation(a, ans, axis=-1):
    """The positions in ``a`` the elements of ``ans`` come from, along ``axis`` (``ans`` a
    rearrangement of ``a`` along that axis: ``np.partition``, ``np.sort``): the ``j``-th
    smallest of ``ans`` is the ``j``-th smallest of ``a``, both ranked stably, so the
    match is exact wherever the values are distinct (at ties any consistent match)."""
    a_order = np.argsort(a, axis=axis, kind="stable")
    ans_rank = np.argsort(np.argsort(ans, axis=axis, kind="stable"), axis=axis, kind="stable")
    return np.take_along_axis(a_order, ans_rank, axis=axis)


def partition_adjoint(g, ans, a, axis=-1):
    """The adjoint of ``np.partition(a, kth, axis)``: each element's adjoint sent back to
    the position it came from (the selected ``kth`` elements and the others alike)."""
    aa = np.asarray(a)
    if axis is None:
        flat = np.ravel(aa)
        return np.reshape(
            take_along_axis_adjoint(g, flat, gather_permutation(flat, ans, 0), 0), aa.shape
        )
    return take_along_axis_adjoint(g, aa, gather_permutation(aa, ans, axis), axis)


def put_index(a, ind, mode="raise"):
    """The index ``a[...]`` of the elements ``np.put(a, ind, v, mode)`` writes: ``ind``
    (flat indices; ``mode`` 'wrap' or 'clip' brings them into range) unravelled."""
    size = np.size(a)
    flat = np.ravel(np.asarray(ind, dtype=np.intp))
    if mode == "wrap":
        flat = flat % size if size else flat
    elif mode == "clip":
        flat = np.clip(flat, 0, size - 1)
    elif mode == "raise":
        if np.any((flat >= size) | (flat < -size)):
            raise IndexError(f"np.put: an index is out of bounds for size {size}")
        flat = flat % size if size else flat
    else:
        raise ValueError(f"np.put: mode must be 'raise', 'wrap' or 'clip', not {mode!r}")
    return np.unravel_index(flat, np.shape(a))


def put_values(v, count):
    """The values ``np.put``/``np.place`` write at ``count`` positions: ``v`` flattened,
    repeated as necessary, its first ``count`` elements."""
    flat = np.ravel(v)
    if flat.size == 0 and count:
        raise ValueError("np.put/np.place: cannot insert from an empty array")
    return np.resize(flat, count)


def put_values_adjoint(g, v, count):
    """The adjoint of ``v`` in ``put_values(v, count)``: each written copy's adjoint added
    back to the element of ``v`` it repeats."""
    size = np.size(v)
    d = np.zeros(size, dtype=_dtype_of(v, g))
    np.add.at(d, np.arange(int(count)) % size, np.ravel(g))
    return cast_like(_scalar_like(np.reshape(d, np.shape(v)), v), v)


def put_count(ind) -> int:
    """How many elements ``np.put(a, ind, v)`` writes."""
    return int(np.size(ind))


def place_index(arr, mask):
    """The boolean index ``arr[...]`` of ``np.place(arr, mask, vals)``: ``mask`` (of
    ``arr``'s size, any shape) in ``arr``'s shape, C order."""
    mask = np.asarray(mask)
    if mask.size != np.size(arr):
        raise ValueError("np.place: mask and data must be the same size")
    return np.reshape(mask.astype(bool), np.shape(arr))


def place_count(mask) -> int:
    """How many elements ``np.place(arr, mask, vals)`` writes."""
    return int(np.count_nonzero(mask))
