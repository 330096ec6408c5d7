"""Adjoints of indexing, reshaping, joining, splitting and rearranging arrays.

The adjoint of a rearrangement is the inverse rearrangement of ``g`` (``transpose``
by the inverse permutation, ``reshape`` back, ``roll`` back, ``flip`` again); of a
selection (indexing with ints, slices, ``np.newaxis``, ``...``, index arrays, boolean
masks; ``take``; ``take_along_axis``) ``g`` scattered into zeros, duplicate indices
adding up; of a copy (``tile``, ``repeat``, ``broadcast_to``) the copies' adjoints
summed. Functions that take a list of arrays (``concatenate``, ``stack``,
``hstack``...) give a list of adjoints, one per element; ``split`` and its relatives
return a list, whose adjoint (one per piece, 0 for an unused piece) is joined back.
``pad`` is differentiable in mode ``'constant'`` (in the array and in a single
``constant_values``). Shapes, sizes and dtypes carry no derivative.

Methods that take their arguments spread out or as one tuple (``x.reshape(3, 4)``,
``x.transpose(1, 0)``, ``x.item(i, j)``) accept up to 8 of them.
"""

import operator

import numpy as np

from ..runtime import (
    append_adjoint,
    concatenate_adjoint,
    concatenator_adjoint,
    concatenator_tangent,
    copy_adjoint,
    diag_adjoint,
    index_adjoint,
    item_method_adjoint,
    joined_adjoint,
    meshgrid_adjoint,
    method_arguments,
    np_pad_tangent,
    pad_adjoint,
    pad_value_adjoint,
    partition_adjoint,
    partition_tangent,
    place_count,
    place_index,
    put_count,
    put_index,
    put_values,
    put_values_adjoint,
    real_adjoint,
    repeat_adjoint,
    reshape_adjoint,
    roll_adjoint,
    rollaxis_adjoint,
    select_adjoint,
    select_choices_adjoint,
    split_adjoint,
    stack_adjoint,
    take_adjoint,
    take_along_axis_adjoint,
    tile_adjoint,
    transpose_adjoint,
    unbroadcast,
    unless_discrete,
)
from .registry import (
    ARRAY,
    SCALAR,
    adjoint,
    linear_tangents,
    register_adjoint,
    register_nondifferentiable,
    tangent,
)

# -- indexing -------------------------------------------------------------------------------


@adjoint(operator.getitem, kind=None)
def d_getitem(g, ans, x, index):
    return index_adjoint(g, x, index), None


def d_concatenator(g, ans, concatenator, items):
    return None, concatenator_adjoint(g, concatenator, items)


# np.r_[a, b] and np.c_[a, b] (normalize passes the items as one tuple)
register_adjoint(np.r_, d_concatenator, kind=ARRAY, name="numpy.r_", fresh=True)
register_adjoint(np.c_, d_concatenator, kind=ARRAY, name="numpy.c_", fresh=True)


@adjoint(np.take, kind=None, fresh=True)
def d_take(g, ans, a, indices, axis=None):
    return take_adjoint(g, a, indices, axis)


@adjoint(("method", "take"), kind=None, fresh=True)
def d_take_method(g, ans, self, indices, axis=None):
    return take_adjoint(g, self, indices, axis)


@adjoint(np.take_along_axis, kind=ARRAY, fresh=True)
def d_take_along_axis(g, ans, arr, indices, axis=-1):
    return take_along_axis_adjoint(g, arr, indices, axis)


@adjoint(("method", "item"), kind=SCALAR)
def d_item_method(
    g, ans, self, index=None, i1=None, i2=None, i3=None, i4=None, i5=None, i6=None, i7=None
):
    return item_method_adjoint(g, self, method_arguments(index, i1, i2, i3, i4, i5, i6, i7))


# -- copies -----------------------------------------------------------------------------------


@adjoint(np.copy, kind=ARRAY, fresh=True)
def d_copy(g, ans, a):
    return g


@adjoint(("method", "copy"), kind=ARRAY, fresh=True)
def d_copy_method(g, ans, self):
    return copy_adjoint(g, ans, self)


# -- reshaping ------------------------------------------------------------------------------


@adjoint(np.reshape, kind=ARRAY)
def d_reshape(g, ans, a, shape=None, order="C", newshape=None, copy=None):
    return reshape_adjoint(g, a, order)


@adjoint(("method", "reshape"), kind=ARRAY)
def d_reshape_method(
    g,
    ans,
    self,
    shape=None,
    s1=None,
    s2=None,
    s3=None,
    s4=None,
    s5=None,
    s6=None,
    s7=None,
    order="C",
):
    return reshape_adjoint(g, self, order)


@adjoint(np.ravel, kind=ARRAY)
def d_ravel(g, ans, a, order="C"):
    return reshape_adjoint(g, a, order)


@adjoint(("method", "ravel"), kind=ARRAY)
def d_ravel_method(g, ans, self, order="C"):
    return reshape_adjoint(g, self, order)


@adjoint(("method", "flatten"), kind=ARRAY, fresh=True)
def d_flatten_method(g, ans, self, order="C"):
    return reshape_adjoint(g, self, order)


@adjoint(np.squeeze, kind=ARRAY)
def d_squeeze(g, ans, a, axis=None):
    return reshape_adjoint(g, a)


@adjoint(("method", "squeeze"), kind=ARRAY)
def d_squeeze_method(g, ans, self, axis=None):
    return reshape_adjoint(g, self)


@adjoint(np.expand_dims, kind=ARRAY)
def d_expand_dims(g, ans, a, axis):
    return reshape_adjoint(g, a)


@adjoint(np.atleast_1d, kind=ARRAY)
def d_atleast_1d(g, ans, a):
    return reshape_adjoint(g, a)


@adjoint(np.atleast_2d, kind=ARRAY)
def d_atleast_2d(g, ans, a):
    return reshape_adjoint(g, a)


@adjoint(np.atleast_3d, kind=ARRAY)
def d_atleast_3d(g, ans, a):
    return reshape_adjoint(g, a)


@adjoint(np.broadcast_to, kind=ARRAY)
def d_broadcast_to(g, ans, array, shape, subok=False):
    return unbroadcast(g, array)


# -- rearranging axes and elements -----------------------------------------------------------


@adjoint(np.transpose, kind=ARRAY)  # also np.permute_dims
def d_transpose(g, ans, a, axes=None):
    return transpose_adjoint(g, axes)


@adjoint(("method", "transpose"), kind=ARRAY)
def d_transpose_method(
    g, ans, self, axes=None, a1=None, a2=None, a3=None, a4=None, a5=None, a6=None, a7=None
):
    return transpose_adjoint(g, method_arguments(axes, a1, a2, a3, a4, a5, a6, a7))


@adjoint(("attribute", "T"), kind=ARRAY)
def d_transpose_attribute(g, ans, x):
    return np.transpose(g)


if hasattr(np.ndarray, "mT"):  # NumPy 2

    @adjoint(("attribute", "mT"), kind=ARRAY)
    def d_matrix_transpose_attribute(g, ans, x):
        return np.swapaxes(g, -1, -2)


@adjoint(("attribute", "real"), kind=None)
def d_real_attribute(g, ans, x):
    return real_adjoint(g, x)


@adjoint(np.swapaxes, kind=ARRAY)
def d_swapaxes(g, ans, a, axis1, axis2):
    return np.swapaxes(g, axis1, axis2)


@adjoint(("method", "swapaxes"), kind=ARRAY)
def d_swapaxes_method(g, ans, self, axis1, axis2):
    return np.swapaxes(g, axis1, axis2)


@adjoint(np.moveaxis, kind=ARRAY)
def d_moveaxis(g, ans, a, source, destination):
    return np.moveaxis(g, destination, source)


@adjoint(np.flip, kind=ARRAY)
def d_flip(g, ans, m, axis=None):
    return np.flip(g, axis)


@adjoint(np.fliplr, kind=ARRAY)
def d_fliplr(g, ans, m):
    return np.fliplr(g)


@adjoint(np.flipud, kind=ARRAY)
def d_flipud(g, ans, m):
    return np.flipud(g)


@adjoint(np.roll, kind=ARRAY, fresh=True)
def d_roll(g, ans, a, shift, axis=None):
    return roll_adjoint(g, shift, axis)


@adjoint(np.rot90, kind=ARRAY)
def d_rot90(g, ans, m, k=1, axes=(0, 1)):
    return np.rot90(g, -k, axes)


# -- copies along axes ------------------------------------------------------------------------


@adjoint(np.tile, kind=ARRAY, fresh=True)
def d_tile(g, ans, A, reps):
    return tile_adjoint(g, A, reps)


@adjoint(np.repeat, kind=ARRAY, fresh=True)
def d_repeat(g, ans, a, repeats, axis=None):
    return repeat_adjoint(g, a, repeats, axis)


@adjoint(("method", "repeat"), kind=ARRAY, fresh=True)
def d_repeat_method(g, ans, self, repeats, axis=None):
    return repeat_adjoint(g, self, repeats, axis)


@adjoint(np.pad, kind=ARRAY, fresh=True)
def d_pad(g, ans, array, pad_width, mode="constant", constant_values=0):
    return (
        pad_adjoint(g, array, pad_width, mode),
        None,
        None,
        # an integer or boolean ``array`` truncates the padding value: no derivative
        unless_discrete(
            ans, pad_value_adjoint(g, array, pad_width, constant_values), constant_values
        ),
    )


# -- triangles and diagonals ------------------------------------------------------------------


# of a matrix, np.diag is a read-only view: NumPy itself refuses writes into it
@adjoint(np.diag, kind=ARRAY, fresh=True)
def d_diag(g, ans, v, k=0):
    return diag_adjoint(g, v, k)


@adjoint(np.triu, kind=ARRAY, fresh=True)
def d_triu(g, ans, m, k=0):
    return np.triu(g, k)


@adjoint(np.tril, kind=ARRAY, fresh=True)
def d_tril(g, ans, m, k=0):
    return np.tril(g, k)


# -- joining and splitting --------------------------------------------------------------------


@adjoint(np.concatenate, kind=ARRAY, fresh=True)  # also np.concat
def d_concatenate(g, ans, arrays, axis=0):
    return concatenate_adjoint(g, arrays, axis)


@adjoint(np.stack, kind=ARRAY, fresh=True)
def d_stack(g, ans, arrays, axis=0):
    return stack_adjoint(g, arrays, axis)


@adjoint(np.hstack, kind=ARRAY, fresh=True)
def d_hstack(g, ans, tup):
    return joined_adjoint(g, tup, "hstack")


@adjoint(np.vstack, kind=ARRAY, fresh=True)  # also np.row_stack in NumPy 1
def d_vstack(g, ans, tup):
    return joined_adjoint(g, tup, "vstack")


@adjoint(np.dstack, kind=ARRAY, fresh=True)
def d_dstack(g, ans, tup):
    return joined_adjoint(g, tup, "dstack")


@adjoint(np.column_stack, kind=ARRAY, fresh=True)
def d_column_stack(g, ans, tup):
    return joined_adjoint(g, tup, "column_stack")


@adjoint(np.split, kind=None)
def d_split(g, ans, ary, indices_or_sections, axis=0):
    return split_adjoint(g, ary, indices_or_sections, axis, "split")


@adjoint(np.array_split, kind=None)
def d_array_split(g, ans, ary, indices_or_sections, axis=0):
    return split_adjoint(g, ary, indices_or_sections, axis, "array_split")


@adjoint(np.hsplit, kind=None)
def d_hsplit(g, ans, ary, indices_or_sections):
    return split_adjoint(g, ary, indices_or_sections, 1, "hsplit")


@adjoint(np.vsplit, kind=None)
def d_vsplit(g, ans, ary, indices_or_sections):
    return split_adjoint(g, ary, indices_or_sections, 0, "vsplit")


@adjoint(np.dsplit, kind=None)
def d_dsplit(g, ans, ary, indices_or_sections):
    return split_adjoint(g, ary, indices_or_sections, 2, "dsplit")


register_nondifferentiable(
    ("attribute", "shape"),
    ("attribute", "ndim"),
    ("attribute", "size"),
    ("attribute", "dtype"),
    ("attribute", "itemsize"),
    ("attribute", "nbytes"),
    np.shape,
    np.ndim,
    np.size,
)


# -- issue 16: append, rollaxis, row_stack, meshgrid, select, partition -----------------------


@adjoint(np.append, kind=ARRAY, fresh=True)
def d_append(g, ans, arr, values, axis=None):
    return append_adjoint(g, arr, values, axis, False), append_adjoint(g, arr, values, axis, True)


# a view of ``a``, like moveaxis
@adjoint(np.rollaxis, kind=ARRAY)
def d_rollaxis(g, ans, a, axis, start=0):
    return rollaxis_adjoint(g, a, axis, start)


if getattr(np, "row_stack", np.vstack) is not np.vstack:  # NumPy 2: deprecated, own function

    @adjoint(np.row_stack, kind=ARRAY, fresh=True)
    def d_row_stack(g, ans, tup, dtype=None, casting="same_kind"):
        return joined_adjoint(g, tup, "vstack")


# a tuple (a list in NumPy 1) of grids; with copy=False they are views of the arguments
@adjoint(np.meshgrid, kind=None)
def d_meshgrid(
    g, ans, x0, x1=None, x2=None, x3=None, x4=None, x5=None, x6=None, x7=None,
    copy=True, sparse=False, indexing="xy",
):  # fmt: skip
    return (
        meshgrid_adjoint(g, 0, indexing, x0, x1, x2, x3, x4, x5, x6, x7),
        meshgrid_adjoint(g, 1, indexing, x0, x1, x2, x3, x4, x5, x6, x7),
        meshgrid_adjoint(g, 2, indexing, x0, x1, x2, x3, x4, x5, x6, x7),
        meshgrid_adjoint(g, 3, indexing, x0, x1, x2, x3, x4, x5, x6, x7),
        meshgrid_adjoint(g, 4, indexing, x0, x1, x2, x3, x4, x5, x6, x7),
        meshgrid_adjoint(g, 5, indexing, x0, x1, x2, x3, x4, x5, x6, x7),
        meshgrid_adjoint(g, 6, indexing, x0, x1, x2, x3, x4, x5, x6, x7),
        meshgrid_adjoint(g, 7, indexing, x0, x1, x2, x3, x4, x5, x6, x7),
    )


@adjoint(np.select, kind=ARRAY, fresh=True)
def d_select(g, ans, condlist, choicelist, default=0):
    return (
        None,
        select_choices_adjoint(g, condlist, choicelist),
        select_adjoint(g, condlist, choicelist, len(choicelist), default),
    )


@adjoint(np.partition, kind=ARRAY, fresh=True)
def d_partition(g, ans, a, kth, axis=-1, kind="introselect", order=None):
    return partition_adjoint(g, ans, a, axis)


register_nondifferentiable(np.ix_, np.argpartition)


# -- np.put / np.place statements, lowered to item writes (lower/array_puts.py) ---------------


@adjoint(put_values, kind=ARRAY, fresh=True)
def d_put_values(g, ans, v, count):
    return put_values_adjoint(g, v, count)


register_nondifferentiable(put_index, place_index, put_count, place_count)


# -- tangents (forward mode): these primitives are linear in their differentiable
# arguments, so the tangent is the primitive applied to ``g`` (the tangent) ---------------
@tangent(operator.getitem)
def t_getitem(g, ans, x, index):
    return g[index], None


@tangent(("attribute", "T"))
def t_transpose_attribute(g, ans, x):
    return np.transpose(g)


@tangent(np.transpose)
def t_transpose(g, ans, a, axes=None):
    return np.transpose(g, axes)


@tangent(np.reshape)
def t_reshape(g, ans, a, shape=None, order="C", newshape=None, copy=None):
    return np.reshape(g, np.shape(ans), order=order)


@tangent(("method", "reshape"))
def t_reshape_method(
    g,
    ans,
    self,
    shape=None,
    s1=None,
    s2=None,
    s3=None,
    s4=None,
    s5=None,
    s6=None,
    s7=None,
    order="C",
):
    return np.reshape(g, np.shape(ans), order=order)


@tangent(np.ravel)
def t_ravel(g, ans, a, order="C"):
    return np.reshape(g, np.shape(ans), order=order)


@tangent(("method", "ravel"))
def t_ravel_method(g, ans, self, order="C"):
    return np.reshape(g, np.shape(ans), order=order)


@tangent(("method", "flatten"))
def t_flatten_method(g, ans, self, order="C"):
    return np.array(np.reshape(g, np.shape(ans), order=order))


@tangent(np.squeeze)
def t_squeeze(g, ans, a, axis=None):
    return np.reshape(g, np.shape(ans))


@tangent(("method", "squeeze"))
def t_squeeze_method(g, ans, self, axis=None):
    return np.reshape(g, np.shape(ans))


@tangent(np.expand_dims)
def t_expand_dims(g, ans, a, axis):
    return np.reshape(g, np.shape(ans))


@tangent(np.copy)
def t_copy(g, ans, a):
    return np.array(g)


@tangent(("method", "copy"))
def t_copy_method(g, ans, self):
    # a list's or a dict's copy too: the copy of the tangent, of the same structure
    return g.copy()


@tangent(np.concatenate)
def t_concatenate(g, ans, arrays, axis=0):
    return np.concatenate(g, axis)


@tangent(np.stack)
def t_stack(g, ans, arrays, axis=0):
    return np.stack(g, axis)


@tangent(np.hstack)
def t_hstack(g, ans, tup):
    return np.hstack(g)


@tangent(np.vstack)
def t_vstack(g, ans, tup):
    return np.vstack(g)


# linear in the array (and in any other differentiable argument, jointly): the tangent is
# the same call on the tangents
linear_tangents(
    *([("attribute", "mT")] if hasattr(np.ndarray, "mT") else []),  # NumPy 2
    np.take,
    ("method", "take"),
    np.take_along_axis,
    ("method", "item"),
    np.atleast_1d,
    np.atleast_2d,
    np.atleast_3d,
    np.broadcast_to,
    ("method", "transpose"),
    np.swapaxes,
    ("method", "swapaxes"),
    np.moveaxis,
    np.rollaxis,
    np.flip,
    np.fliplr,
    np.flipud,
    np.roll,
    np.rot90,
    np.tile,
    np.repeat,
    ("method", "repeat"),
    np.diag,
    np.triu,
    np.tril,
    np.dstack,
    np.column_stack,
    np.split,
    np.array_split,
    np.hsplit,
    np.vsplit,
    np.dsplit,
    np.append,
    np.meshgrid,
    np.select,
)


@tangent(np.partition)
def t_partition(g, ans, a, kth, axis=-1, kind="introselect", order=None):
    return partition_tangent(g, ans, a, axis)


def t_concatenator(g, ans, concatenator, items):
    return None, concatenator_tangent(g, concatenator, items)


tangent(np.r_)(t_concatenator)
tangent(np.c_)(t_concatenator)

linear_tangents(("attribute", "real"))


@tangent(np.pad)
def t_pad(g, ans, array, pad_width, mode="constant", constant_values=0):
    # linear in the array and in constant_values jointly in the linear modes: one term
    # each, the other's tangent zero
    return (
        np_pad_tangent(g, ans, pad_width, mode),
        None,
        None,
        np_pad_tangent(np.zeros(np.shape(array)), ans, pad_width, mode, constant_values=g),
    )


if getattr(np, "row_stack", np.vstack) is not np.vstack:  # NumPy 2: its own function
    linear_tangents(np.row_stack)
