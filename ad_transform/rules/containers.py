"""Adjoints of dict reads and of loops over containers.

A dict's adjoint is a ``runtime.DictAdjoint``: the adjoint of each value under its key
(a key nothing reached reads as zero); ``d[k]`` gives a sparse ``KeyItem``. Keys carry
no derivative (``keys()``, the elements of a loop over a dict). ``d.get(k, default)``
sends ``g`` to the value under ``k`` if the dict has it, else to ``default``;
``values()`` and ``items()`` give their elements' adjoints back under the keys.
"""

import builtins
import copy

from .. import pytree
from ..runtime import (
    attribute_adjoint,
    attribute_of,
    attribute_tangent,
    check_unpacked_length,
    conversion_adjoint,
    converted_tangent,
    copy_adjoint,
    copy_tangent,
    deepcopy_adjoint,
    deepcopy_tangent,
    dict_copy,
    dict_copy_adjoint,
    dict_copy_values_adjoint,
    dict_default_adjoint,
    dict_get_adjoint,
    dict_key,
    extreme_of_adjoint,
    extreme_of_tangent,
    items_adjoint,
    items_tangent,
    iterated,
    iteration_adjoint,
    joined_list,
    joined_parts_adjoint,
    joined_tuple,
    max_of,
    min_of,
    reversed_adjoint,
    reversed_list,
    set_adjoint,
    set_of,
    set_tangent,
    sorted_adjoint,
    sorted_tangent,
    starred_adjoint,
    starred_parts,
    summable_zero_tangent,
    tree_leaves_adjoint,
    tree_leaves_like,
    tree_leaves_like_adjoint,
    tree_rebuilt,
    tree_rebuilt_adjoint,
    tree_structure,
    unpacked,
    values_adjoint,
    zip_rows,
    zip_rows_adjoint,
)
from .registry import (
    DICT,
    SEQUENCE,
    adjoint,
    linear_tangents,
    lookup,
    register_adjoint,
    register_nondifferentiable,
    tangent,
)


@adjoint(iterated, kind=None)
def d_iterated(g, ans, x, index):
    return iteration_adjoint(g, x, index), None


register_nondifferentiable(dict_key)
register_nondifferentiable(set_of)


@adjoint(attribute_of, kind=None)
def d_attribute_of(g, ans, x, name):
    return attribute_adjoint(g, x, name), None


def d_get(g, ans, self, key, default=None):
    return dict_get_adjoint(g, self, key), None, dict_default_adjoint(g, self, key, default)


def d_values(g, ans, self):
    return values_adjoint(g, self)


def d_items(g, ans, self):
    return items_adjoint(g, self)


register_adjoint(("method", "get"), d_get, kind=None, name="dict.get()")
register_adjoint(("method", "values"), d_values, kind=None, name="dict.values()")
register_adjoint(("method", "items"), d_items, kind=None, name="dict.items()")


@adjoint(dict_copy, kind=DICT, fresh=True)
def d_dict_copy(g, ans, mapping, names=(), values=(), spread=False):
    return dict_copy_adjoint(g, mapping, names), None, dict_copy_values_adjoint(g, names), None


register_nondifferentiable(("method", "keys"))
lookup(("method", "keys")).name = "dict.keys()"


# -- sequences: joins, starred unpacking, reordering, extremes, conversions ------------------


@adjoint(joined_list, kind=SEQUENCE, fresh=True)
def d_joined_list(g, ans, parts):
    return joined_parts_adjoint(g, parts)


@adjoint(joined_tuple, kind=SEQUENCE)
def d_joined_tuple(g, ans, parts):
    return joined_parts_adjoint(g, parts)


@adjoint(unpacked, kind=SEQUENCE)
def d_unpacked(g, ans, whole, count):
    return conversion_adjoint(g, whole), None


@adjoint(starred_parts, kind=SEQUENCE)
def d_starred_parts(g, ans, whole, before, after):
    return starred_adjoint(g, whole, before, after), None, None


@adjoint(reversed_list, kind=SEQUENCE)
def d_reversed_list(g, ans, x):
    return reversed_adjoint(g, x)


@adjoint(builtins.sorted, kind=SEQUENCE)
def d_sorted(g, ans, iterable, reverse=False):
    return sorted_adjoint(g, iterable, reverse), None


@adjoint(max_of, kind=None)
def d_max_of(g, ans, x):
    return extreme_of_adjoint(g, ans, x)


@adjoint(min_of, kind=None)
def d_min_of(g, ans, x):
    return extreme_of_adjoint(g, ans, x)


@adjoint(zip_rows, kind=SEQUENCE)
def d_zip_rows(g, ans, rows):
    return zip_rows_adjoint(g, rows)


@adjoint(builtins.list, kind=SEQUENCE, fresh=True)  # list(x) is never x
def d_list(g, ans, iterable=()):
    return conversion_adjoint(g, iterable)


@adjoint(builtins.tuple, kind=SEQUENCE)
def d_tuple(g, ans, iterable=()):
    return conversion_adjoint(g, iterable)


@adjoint(builtins.set, kind=SEQUENCE, fresh=True)
def d_set(g, ans, iterable=()):
    return set_adjoint(g, ans, iterable)


@adjoint(builtins.frozenset, kind=SEQUENCE, fresh=True)
def d_frozenset(g, ans, iterable=()):
    return set_adjoint(g, ans, iterable)


register_nondifferentiable(check_unpacked_length, pure=False)


# -- the tree helpers inside a differentiated function (runtime/trees.py) -------------------


@adjoint(pytree.tree_leaves, kind=SEQUENCE, fresh=True)
def d_tree_leaves(g, ans, tree):
    return tree_leaves_adjoint(g, tree)


register_nondifferentiable(tree_structure)
register_nondifferentiable(pytree.is_node)


@adjoint(tree_rebuilt, kind=None, fresh=True)
def d_tree_rebuilt(g, ans, shape, leaves):
    return None, tree_rebuilt_adjoint(g, shape)


@adjoint(tree_leaves_like, kind=SEQUENCE, fresh=True)
def d_tree_leaves_like(g, ans, other, shape):
    return tree_leaves_like_adjoint(g, other, shape), None


# -- copy.copy / copy.deepcopy: the same values, new containers ------------------------------


@adjoint(copy.copy, kind=None, fresh=True)
def d_copy_copy(g, ans, x):
    return copy_adjoint(g, ans, x)


@adjoint(copy.deepcopy, kind=None, fresh=True)
def d_deepcopy(g, ans, x, memo=None):
    return deepcopy_adjoint(g, x), None


# -- tangents (forward mode) ----------------------------------------------------------------
@tangent(unpacked)
def t_unpacked(g, ans, whole, count):
    return unpacked(g, count), None


# rearrangements of elements: the same on the elements' tangents (a dict's keys: zeros)
linear_tangents(iterated)


@tangent(builtins.list)
def t_list(g, ans, iterable=()):
    return converted_tangent(g, iterable, list)


@tangent(builtins.tuple)
def t_tuple(g, ans, iterable=()):
    return converted_tangent(g, iterable, tuple)


@tangent(reversed_list)
def t_reversed_list(g, ans, x):
    return converted_tangent(g, x, reversed_list)


@tangent(starred_parts)
def t_starred_parts(g, ans, whole, before, after):
    return converted_tangent(g, whole, starred_parts, before, after), None, None


@tangent(joined_list)
def t_joined_list(g, ans, parts):
    return converted_tangent(g, parts, joined_list)


@tangent(joined_tuple)
def t_joined_tuple(g, ans, parts):
    return converted_tangent(g, parts, joined_tuple)


@tangent(zip_rows)
def t_zip_rows(g, ans, rows):
    return converted_tangent(g, rows, zip_rows)


@tangent(("method", "get"))
def t_get(g, ans, self, key, default=None):
    # the zero terms add to the other term element by element (a list value plus a list
    # default must not join them)
    return (
        (g[key] if key in self else summable_zero_tangent(ans)),
        None,
        (summable_zero_tangent(ans) if key in self else g),
    )


@tangent(attribute_of)
def t_attribute_of(g, ans, x, name):
    return attribute_tangent(g, x, name), None


@tangent(builtins.sorted)
def t_sorted(g, ans, iterable, reverse=False):
    return sorted_tangent(g, iterable, reverse), None


@tangent(max_of)
def t_max_of(g, ans, x):
    return extreme_of_tangent(g, ans, x)


@tangent(min_of)
def t_min_of(g, ans, x):
    return extreme_of_tangent(g, ans, x)


linear_tangents(("method", "values"))  # d.values(): the tangent dict's values


@tangent(builtins.set)
def t_set(g, ans, iterable=()):
    return set_tangent(g, ans, iterable)


@tangent(builtins.frozenset)
def t_frozenset(g, ans, iterable=()):
    return set_tangent(g, ans, iterable)


@tangent(copy.copy)
def t_copy_copy(g, ans, x):
    return copy_tangent(g, ans, x)


@tangent(copy.deepcopy)
def t_deepcopy(g, ans, x, memo=None):
    return deepcopy_tangent(g, x), None


@tangent(("method", "items"))
def t_items(g, ans, self):
    return items_tangent(g, self)
