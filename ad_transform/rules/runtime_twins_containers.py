"""Higher-order rules of the list, set and container helpers of generated code (issue 14).

First-order code of ``a + b`` on lists, ``[x] * 3``, ``sorted(xs)``, ``set(xs)``,
``s | t``, ``d.items()``, ``sum(xs, start)``, ``copy.copy``/``copy.deepcopy``, ``np.append``,
``np.hstack``, ``x.item(i)`` and of iterating a set or a view calls runtime helpers
(``head_adjoint``, ``repetition_adjoint``, ``sorted_adjoint``, ``set_adjoint``, ...);
forward-mode code calls their tangent siblings (``sorted_tangent``, ``set_tangent``,
``converted_tangent``, ...). A second derivative differentiates that code, so each helper
needs a rule of its own.

Every one of them is linear in its first argument (an adjoint or a tangent): it copies,
selects, permutes or sums elements, and reads its other arguments only for lengths,
shapes, a sort order or which set member came from where. So:

- the tangent in the first argument is the same helper on that argument's tangent (a
  ``*_or_zero`` sibling where the helper does not take a zero);
- the adjoint in the first argument is the transpose (``runtime/higher_order_containers``:
  ``head_cotangent``, ``sorted_cotangent``, ...), and several helpers are each other's
  transposes (``sorted_adjoint`` and ``sorted_tangent``, ``set_adjoint`` and
  ``set_tangent``, ``set_operand_adjoint`` and ``set_operand_tangent``, ``copy_adjoint``
  and ``copy_tangent``, ``items_adjoint`` and ``items_tangent``'s view);
- the partial in any other value is 0 (``0.0``): lengths, shapes and permutations are
  locally constant (away from ties of a sort or of equal set members, where the first
  derivative has no second either); ``None`` for non-numeric arguments.

``method_arguments`` (the indices of ``x.item(i, j)`` and ``x.transpose(1, 0)`` packed)
and ``nondifferentiable_zero`` (the zero gradient of a piecewise-constant argument) carry
no derivative. The transposes added here have rules too (a third derivative): each is
linear in its first argument, and its transpose is the helper it transposes.

Source of the method: the transpose of a linear map that moves entries is the map that
moves them back (Griewank & Walther, *Evaluating Derivatives*, 2nd ed., 2008, sec. 3.1).
See docs/architecture/higher_order_rules_4.md.
"""

from ..runtime import (
    add_adjoint_cotangent,
    added_adjoint,
    append_adjoint,
    append_adjoint_or_zero,
    append_cotangent,
    arithmetic_only,
    copy_adjoint,
    copy_cotangent,
    copy_tangent,
    copy_tangent_or_zero,
    deepcopy_adjoint,
    deepcopy_tangent,
    extreme_of_adjoint,
    extreme_of_cotangent,
    head_adjoint,
    head_cotangent,
    item_method_adjoint,
    item_method_cotangent,
    items_adjoint,
    items_cotangent,
    items_tangent,
    iteration_adjoint,
    iteration_cotangent,
    joined_adjoint,
    joined_adjoint_or_zero,
    joined_cotangent,
    joined_parts_adjoint,
    joined_parts_cotangent,
    method_arguments,
    mul_adjoint_left,
    mul_adjoint_right,
    mul_left_cotangent,
    mul_right_cotangent,
    nondifferentiable_zero,
    rearranged_cotangent,
    rearranged_tangent,
    repetition_adjoint,
    repetition_cotangent,
    set_adjoint,
    set_members,
    set_operand_adjoint,
    set_operand_members,
    set_operand_tangent,
    set_operand_tangent_or_zero,
    set_tangent,
    set_tangent_or_zero,
    sorted_adjoint,
    sorted_cotangent,
    sorted_tangent,
    sorted_tangent_or_zero,
    spread,
    spread_cotangent,
    spread_or_zero,
    starred_adjoint,
    starred_cotangent,
    sum_start_adjoint,
    sum_start_cotangent,
    sum_start_tangent,
    sum_tangent_cotangent,
    sum_tangent_term,
    tail_adjoint,
    tail_cotangent,
    times,
    to_shape_of,
    zip_rows_adjoint,
    zip_rows_cotangent,
)
from ..runtime.tangents import converted_tangent
from .registry import adjoint, register_nondifferentiable, tangent

register_nondifferentiable(method_arguments, nondifferentiable_zero)


# -- lists joined and repeated: ``a + b``, ``[x] * 3``, ``sum(xs, start)`` --------------------
@adjoint(head_adjoint, kind=None, fresh=True)
def d_head_adjoint(g, ans, a, length):
    return head_cotangent(g, a, length), None


@tangent(head_adjoint)
def t_head_adjoint(g, ans, a, length):
    return head_adjoint(g, length), None


@adjoint(head_cotangent, kind=None, fresh=True)
def d_head_cotangent(g, ans, c, a, length):
    return head_adjoint(g, length), 0.0, None


@tangent(head_cotangent)
def t_head_cotangent(g, ans, c, a, length):
    return head_cotangent(g, a, length), 0.0, None


@adjoint(tail_adjoint, kind=None, fresh=True)
def d_tail_adjoint(g, ans, a, length, like=None):
    return tail_cotangent(g, a, length, like), None, 0.0


@tangent(tail_adjoint)
def t_tail_adjoint(g, ans, a, length, like=None):
    return tail_adjoint(g, length, like), None, 0.0


@adjoint(tail_cotangent, kind=None, fresh=True)
def d_tail_cotangent(g, ans, c, a, length, like=None):
    return tail_adjoint(g, length, like), 0.0, None, 0.0


@tangent(tail_cotangent)
def t_tail_cotangent(g, ans, c, a, length, like=None):
    return tail_cotangent(g, a, length, like), 0.0, None, 0.0


@adjoint(repetition_adjoint, kind=None, fresh=True)
def d_repetition_adjoint(g, ans, a, x):
    return repetition_cotangent(g, a, x), 0.0


@tangent(repetition_adjoint)
def t_repetition_adjoint(g, ans, a, x):
    return repetition_adjoint(g, x), 0.0


@adjoint(repetition_cotangent, kind=None, fresh=True)
def d_repetition_cotangent(g, ans, c, a, x):
    return repetition_adjoint(g, x), 0.0, 0.0


@tangent(repetition_cotangent)
def t_repetition_cotangent(g, ans, c, a, x):
    return repetition_cotangent(g, a, x), 0.0, 0.0


@adjoint(sum_start_adjoint, kind=None)
def d_sum_start_adjoint(g, ans, a, x, start):
    return sum_start_cotangent(g, a, start), 0.0, 0.0


@tangent(sum_start_adjoint)
def t_sum_start_adjoint(g, ans, a, x, start):
    return sum_start_adjoint(g, x, start), 0.0, 0.0


@adjoint(sum_start_cotangent, kind=None)
def d_sum_start_cotangent(g, ans, c, a, start):
    return sum_start_adjoint(g, (), start), 0.0, 0.0


@tangent(sum_start_cotangent)
def t_sum_start_cotangent(g, ans, c, a, start):
    return sum_start_cotangent(g, a, start), 0.0, 0.0


# sum_start_tangent(t, start) is t itself (a number start: a list start is refused there)
@adjoint(sum_start_tangent, kind=None)
def d_sum_start_tangent(g, ans, t, start):
    return g, 0.0


@tangent(sum_start_tangent)
def t_sum_start_tangent(g, ans, t, start):
    return sum_start_tangent(g, start), 0.0


# the transposes of the rules of add_adjoint_left/_right and sum_tangent (``+`` of values whose
# kinds were known only when it ran): each other's transposes (third and fourth derivatives)
@adjoint(add_adjoint_cotangent, kind=None)
def d_add_adjoint_cotangent(g, ans, c, a, x, y, in_place=False, which=0):
    return added_adjoint(g, x, y, in_place, which), 0.0, 0.0, 0.0, None, None


@tangent(add_adjoint_cotangent)
def t_add_adjoint_cotangent(g, ans, c, a, x, y, in_place=False, which=0):
    return add_adjoint_cotangent(g, a, x, y, in_place, which), 0.0, 0.0, 0.0, None, None


@adjoint(added_adjoint, kind=None)
def d_added_adjoint(g, ans, c, x, y, in_place=False, which=0):
    return add_adjoint_cotangent(g, c, x, y, in_place, which), 0.0, 0.0, None, None


@tangent(added_adjoint)
def t_added_adjoint(g, ans, c, x, y, in_place=False, which=0):
    return added_adjoint(g, x, y, in_place, which), 0.0, 0.0, None, None


# mul_left_cotangent(c, a, x, y): c y broadcast to a's shape (numbers), or the copies of a
# list repeated y times: linear in c, its transpose mul_adjoint_left; numbers only: bilinear in
# (c, y), so its partial in y (and tangent along y) is c times the cotangent (or tangent)
@adjoint(mul_left_cotangent, kind=None)
def d_mul_left_cotangent(g, ans, c, a, x, y):
    return (
        mul_adjoint_left(g, x, y),
        0.0,
        0.0,
        to_shape_of(times(arithmetic_only(c, x, y, "*"), g), y),
    )


@tangent(mul_left_cotangent)
def t_mul_left_cotangent(g, ans, c, a, x, y):
    return (
        mul_left_cotangent(g, a, x, y),
        0.0,
        0.0,
        to_shape_of(times(arithmetic_only(c, x, y, "*"), g), a),
    )


@adjoint(mul_right_cotangent, kind=None)
def d_mul_right_cotangent(g, ans, c, a, x, y):
    return (
        mul_adjoint_right(g, x, y),
        0.0,
        to_shape_of(times(arithmetic_only(c, x, y, "*"), g), x),
        0.0,
    )


@tangent(mul_right_cotangent)
def t_mul_right_cotangent(g, ans, c, a, x, y):
    return (
        mul_right_cotangent(g, a, x, y),
        0.0,
        to_shape_of(times(arithmetic_only(c, x, y, "*"), g), a),
        0.0,
    )


@adjoint(sum_tangent_cotangent, kind=None)
def d_sum_tangent_cotangent(g, ans, c, a, x, y, like, which):
    return sum_tangent_term(g, a, x, y, which), 0.0, 0.0, 0.0, 0.0, None


@tangent(sum_tangent_cotangent)
def t_sum_tangent_cotangent(g, ans, c, a, x, y, like, which):
    return sum_tangent_cotangent(g, a, x, y, like, which), 0.0, 0.0, 0.0, 0.0, None


@adjoint(sum_tangent_term, kind=None)
def d_sum_tangent_term(g, ans, t, a, x, y, which):
    return sum_tangent_cotangent(g, a, x, y, t, which), 0.0, 0.0, 0.0, None


@tangent(sum_tangent_term)
def t_sum_tangent_term(g, ans, t, a, x, y, which):
    return sum_tangent_term(g, a, x, y, which), 0.0, 0.0, 0.0, None


# -- NumPy's joins: np.append, np.hstack/vstack/dstack/column_stack ----------------------------
# the pieces are views of the adjoint given: not fresh
@adjoint(append_adjoint, kind=None)
@adjoint(append_adjoint_or_zero, kind=None)
def d_append_adjoint(g, ans, a, arr, values, axis=None, of_values=False):
    return append_cotangent(g, a, arr, values, axis, of_values), 0.0, 0.0, None, None


@tangent(append_adjoint)
@tangent(append_adjoint_or_zero)
def t_append_adjoint(g, ans, a, arr, values, axis=None, of_values=False):
    return append_adjoint_or_zero(g, arr, values, axis, of_values), 0.0, 0.0, None, None


@adjoint(append_cotangent, kind=None, fresh=True)
def d_append_cotangent(g, ans, c, a, arr, values, axis=None, of_values=False):
    return append_adjoint_or_zero(g, arr, values, axis, of_values), 0.0, 0.0, 0.0, None, None


@tangent(append_cotangent)
def t_append_cotangent(g, ans, c, a, arr, values, axis=None, of_values=False):
    return append_cotangent(g, a, arr, values, axis, of_values), 0.0, 0.0, 0.0, None, None


# the pieces are views of the adjoint given: not fresh
@adjoint(joined_adjoint, kind=None)
@adjoint(joined_adjoint_or_zero, kind=None)
def d_joined_adjoint(g, ans, a, arrays, how):
    return joined_cotangent(g, a, arrays, how), 0.0, None


@tangent(joined_adjoint)
@tangent(joined_adjoint_or_zero)
def t_joined_adjoint(g, ans, a, arrays, how):
    return joined_adjoint_or_zero(g, arrays, how), 0.0, None


@adjoint(joined_cotangent, kind=None, fresh=True)
def d_joined_cotangent(g, ans, c, a, arrays, how):
    return joined_adjoint_or_zero(g, arrays, how), 0.0, 0.0, None


@tangent(joined_cotangent)
def t_joined_cotangent(g, ans, c, a, arrays, how):
    return joined_cotangent(g, a, arrays, how), 0.0, 0.0, None


# -- the elements of iterables: spread, iterating, list()/tuple()/reversed/zip's tangents -------
@adjoint(spread, kind=None, fresh=True)
@adjoint(spread_or_zero, kind=None, fresh=True)
def d_spread(g, ans, elements, like):
    return spread_cotangent(g, elements, like), 0.0


@tangent(spread)
@tangent(spread_or_zero)
def t_spread(g, ans, elements, like):
    return spread_or_zero(g, like), 0.0


@adjoint(spread_cotangent, kind=None, fresh=True)
def d_spread_cotangent(g, ans, c, elements, like):
    return spread_or_zero(g, like), 0.0, 0.0


@tangent(spread_cotangent)
def t_spread_cotangent(g, ans, c, elements, like):
    return spread_cotangent(g, elements, like), 0.0, 0.0


@adjoint(iteration_adjoint, kind=None)
def d_iteration_adjoint(g, ans, a, x, index):
    return iteration_cotangent(g, a, x, index), 0.0, None


@tangent(iteration_adjoint)
def t_iteration_adjoint(g, ans, a, x, index):
    return iteration_adjoint(g, x, index), 0.0, None


@adjoint(iteration_cotangent, kind=None)
def d_iteration_cotangent(g, ans, c, a, x, index):
    return iteration_adjoint(g, x, index), 0.0, 0.0, None


@tangent(iteration_cotangent)
def t_iteration_cotangent(g, ans, c, a, x, index):
    return iteration_cotangent(g, a, x, index), 0.0, 0.0, None


# the adjoints of a, *rest, b = whole; of zip(*rows); of [*s, x, *t]; of max(xs)/min(xs)
@adjoint(starred_adjoint, kind=None, fresh=True)
def d_starred_adjoint(g, ans, a, whole, before, after):
    return starred_cotangent(g, whole, before, after), 0.0, None, None


@tangent(starred_adjoint)
def t_starred_adjoint(g, ans, a, whole, before, after):
    return starred_adjoint(g, whole, before, after), 0.0, None, None


@adjoint(starred_cotangent, kind=None, fresh=True)
def d_starred_cotangent(g, ans, c, whole, before, after):
    return starred_adjoint(g, whole, before, after), 0.0, None, None


@tangent(starred_cotangent)
def t_starred_cotangent(g, ans, c, whole, before, after):
    return starred_cotangent(g, whole, before, after), 0.0, None, None


@adjoint(zip_rows_adjoint, kind=None, fresh=True)
def d_zip_rows_adjoint(g, ans, a, rows):
    return zip_rows_cotangent(g, rows), 0.0


@tangent(zip_rows_adjoint)
def t_zip_rows_adjoint(g, ans, a, rows):
    return zip_rows_adjoint(g, rows), 0.0


@adjoint(zip_rows_cotangent, kind=None, fresh=True)
def d_zip_rows_cotangent(g, ans, c, rows):
    return zip_rows_adjoint(g, rows), 0.0


@tangent(zip_rows_cotangent)
def t_zip_rows_cotangent(g, ans, c, rows):
    return zip_rows_cotangent(g, rows), 0.0


@adjoint(joined_parts_adjoint, kind=None, fresh=True)
def d_joined_parts_adjoint(g, ans, a, parts):
    return joined_parts_cotangent(g, parts), 0.0


@tangent(joined_parts_adjoint)
def t_joined_parts_adjoint(g, ans, a, parts):
    return joined_parts_adjoint(g, parts), 0.0


@adjoint(joined_parts_cotangent, kind=None, fresh=True)
def d_joined_parts_cotangent(g, ans, c, parts):
    return joined_parts_adjoint(g, parts), 0.0


@tangent(joined_parts_cotangent)
def t_joined_parts_cotangent(g, ans, c, parts):
    return joined_parts_cotangent(g, parts), 0.0


@adjoint(extreme_of_adjoint, kind=None, fresh=True)
def d_extreme_of_adjoint(g, ans, a, result, x):
    return extreme_of_cotangent(g, result, x), 0.0, 0.0


@tangent(extreme_of_adjoint)
def t_extreme_of_adjoint(g, ans, a, result, x):
    return extreme_of_adjoint(g, result, x), 0.0, 0.0


@adjoint(extreme_of_cotangent, kind=None)
def d_extreme_of_cotangent(g, ans, c, result, x):
    return extreme_of_adjoint(g, result, x), 0.0, 0.0


@tangent(extreme_of_cotangent)
def t_extreme_of_cotangent(g, ans, c, result, x):
    return extreme_of_cotangent(g, result, x), 0.0, 0.0


# converted_tangent(t, whole, convert, *rest): rest is (before, after) for starred_parts
@adjoint(converted_tangent, kind=None)
def d_converted_tangent(g, ans, t, whole, convert, before=None, after=None):
    return rearranged_cotangent(g, whole, convert, before, after), 0.0, None, None, None


@tangent(converted_tangent)
def t_converted_tangent(g, ans, t, whole, convert, before=None, after=None):
    return rearranged_tangent(g, whole, convert, before, after), 0.0, None, None, None


@adjoint(rearranged_tangent, kind=None)
def d_rearranged_tangent(g, ans, t, whole, convert, before=None, after=None):
    return rearranged_cotangent(g, whole, convert, before, after), 0.0, None, None, None


@tangent(rearranged_tangent)
def t_rearranged_tangent(g, ans, t, whole, convert, before=None, after=None):
    return rearranged_tangent(g, whole, convert, before, after), 0.0, None, None, None


@adjoint(rearranged_cotangent, kind=None)
def d_rearranged_cotangent(g, ans, c, whole, convert, before=None, after=None):
    return rearranged_tangent(g, whole, convert, before, after), 0.0, None, None, None


@tangent(rearranged_cotangent)
def t_rearranged_cotangent(g, ans, c, whole, convert, before=None, after=None):
    return rearranged_cotangent(g, whole, convert, before, after), 0.0, None, None, None


# -- sorted(): a permutation (Python's stable sort; ties keep their order) ---------------------
@adjoint(sorted_adjoint, kind=None, fresh=True)
def d_sorted_adjoint(g, ans, a, x, reverse=False):
    return sorted_cotangent(g, x, reverse), 0.0, None


@tangent(sorted_adjoint)
def t_sorted_adjoint(g, ans, a, x, reverse=False):
    return sorted_adjoint(g, x, reverse), 0.0, None


@adjoint(sorted_tangent, kind=None, fresh=True)
@adjoint(sorted_tangent_or_zero, kind=None, fresh=True)
def d_sorted_tangent(g, ans, t, x, reverse=False):
    return sorted_adjoint(g, x, reverse), 0.0, None


@tangent(sorted_tangent)
@tangent(sorted_tangent_or_zero)
def t_sorted_tangent(g, ans, t, x, reverse=False):
    return sorted_tangent_or_zero(g, x, reverse), 0.0, None


@adjoint(sorted_cotangent, kind=None, fresh=True)
def d_sorted_cotangent(g, ans, c, x, reverse=False):
    return sorted_adjoint(g, x, reverse), 0.0, None


@tangent(sorted_cotangent)
def t_sorted_cotangent(g, ans, c, x, reverse=False):
    return sorted_cotangent(g, x, reverse), 0.0, None


# -- copies: the same adjoint (a set's copy may iterate in another order) ----------------------
@adjoint(copy_adjoint, kind=None)
def d_copy_adjoint(g, ans, a, copied, x):
    return copy_cotangent(g, copied, x), 0.0, 0.0


@tangent(copy_adjoint)
def t_copy_adjoint(g, ans, a, copied, x):
    return copy_adjoint(g, copied, x), 0.0, 0.0


@adjoint(copy_tangent, kind=None)
@adjoint(copy_tangent_or_zero, kind=None)
def d_copy_tangent(g, ans, t, copied, x):
    return copy_adjoint(g, copied, x), 0.0, 0.0


@tangent(copy_tangent)
@tangent(copy_tangent_or_zero)
def t_copy_tangent(g, ans, t, copied, x):
    return copy_tangent_or_zero(g, copied, x), 0.0, 0.0


@adjoint(copy_cotangent, kind=None)
def d_copy_cotangent(g, ans, c, copied, x):
    return copy_adjoint(g, copied, x), 0.0, 0.0


@tangent(copy_cotangent)
def t_copy_cotangent(g, ans, c, copied, x):
    return copy_cotangent(g, copied, x), 0.0, 0.0


# deepcopy_adjoint(g, x) is g itself and deepcopy_tangent(t, x) a deep copy of t (sets refused)
@adjoint(deepcopy_adjoint, kind=None)
def d_deepcopy_adjoint(g, ans, a, x):
    return g, 0.0


@tangent(deepcopy_adjoint)
def t_deepcopy_adjoint(g, ans, a, x):
    return deepcopy_adjoint(g, x), 0.0


@adjoint(deepcopy_tangent, kind=None)
def d_deepcopy_tangent(g, ans, t, x):
    return g, 0.0


@tangent(deepcopy_tangent)
def t_deepcopy_tangent(g, ans, t, x):
    return deepcopy_tangent(g, x), 0.0


# -- sets: each member's adjoint goes to the element (or operand) that put it there ------------
@adjoint(set_adjoint, kind=None, fresh=True)
def d_set_adjoint(g, ans, a, members, iterable):
    return set_members(g, members, iterable), 0.0, 0.0


@tangent(set_adjoint)
def t_set_adjoint(g, ans, a, members, iterable):
    return set_adjoint(g, members, iterable), 0.0, 0.0


@adjoint(set_tangent, kind=None, fresh=True)
@adjoint(set_tangent_or_zero, kind=None, fresh=True)
def d_set_tangent(g, ans, t, members, iterable):
    return set_adjoint(g, members, iterable), 0.0, 0.0


@tangent(set_tangent)
@tangent(set_tangent_or_zero)
def t_set_tangent(g, ans, t, members, iterable):
    return set_tangent_or_zero(g, members, iterable), 0.0, 0.0


@adjoint(set_members, kind=None, fresh=True)
def d_set_members(g, ans, c, members, iterable):
    return set_adjoint(g, members, iterable), 0.0, 0.0


@tangent(set_members)
def t_set_members(g, ans, c, members, iterable):
    return set_members(g, members, iterable), 0.0, 0.0


@adjoint(set_operand_adjoint, kind=None, fresh=True)
def d_set_operand_adjoint(g, ans, a, result, x, other, first):
    return set_operand_members(g, result, x, other, first), 0.0, 0.0, 0.0, None


@tangent(set_operand_adjoint)
def t_set_operand_adjoint(g, ans, a, result, x, other, first):
    return set_operand_adjoint(g, result, x, other, first), 0.0, 0.0, 0.0, None


@adjoint(set_operand_tangent, kind=None, fresh=True)
@adjoint(set_operand_tangent_or_zero, kind=None, fresh=True)
def d_set_operand_tangent(g, ans, t, result, x, other, first):
    return set_operand_adjoint(g, result, x, other, first), 0.0, 0.0, 0.0, None


@tangent(set_operand_tangent)
@tangent(set_operand_tangent_or_zero)
def t_set_operand_tangent(g, ans, t, result, x, other, first):
    return set_operand_tangent_or_zero(g, result, x, other, first), 0.0, 0.0, 0.0, None


@adjoint(set_operand_members, kind=None, fresh=True)
def d_set_operand_members(g, ans, c, result, x, other, first, tangent=False):
    return set_operand_adjoint(g, result, x, other, first), 0.0, 0.0, 0.0, None, None


@tangent(set_operand_members)
def t_set_operand_members(g, ans, c, result, x, other, first, tangent=False):
    return set_operand_members(g, result, x, other, first, tangent), 0.0, 0.0, 0.0, None, None


# -- dict.items() and ndarray.item() -----------------------------------------------------------
@adjoint(items_adjoint, kind=None, fresh=True)
def d_items_adjoint(g, ans, a, x):
    return items_cotangent(g, x), 0.0


@tangent(items_adjoint)
def t_items_adjoint(g, ans, a, x):
    return items_adjoint(g, x), 0.0


@adjoint(items_tangent, kind=None, fresh=True)
def d_items_tangent(g, ans, t, x):
    return items_adjoint(g, x), 0.0


@tangent(items_tangent)
def t_items_tangent(g, ans, t, x):
    return items_tangent(g, x), 0.0


@adjoint(items_cotangent, kind=None, fresh=True)
def d_items_cotangent(g, ans, c, x):
    return items_adjoint(g, x), 0.0


@tangent(items_cotangent)
def t_items_cotangent(g, ans, c, x):
    return items_cotangent(g, x), 0.0


@adjoint(item_method_adjoint, kind=None, fresh=True)
def d_item_method_adjoint(g, ans, a, x, index=None):
    return item_method_cotangent(g, x, index), 0.0, None


@tangent(item_method_adjoint)
def t_item_method_adjoint(g, ans, a, x, index=None):
    return item_method_adjoint(g, x, index), 0.0, None


@adjoint(item_method_cotangent, kind=None)
def d_item_method_cotangent(g, ans, c, x, index=None):
    return item_method_adjoint(g, x, index), 0.0, None


@tangent(item_method_cotangent)
def t_item_method_cotangent(g, ans, c, x, index=None):
    return item_method_cotangent(g, x, index), 0.0, None
