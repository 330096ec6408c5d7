"""Adjoint and tangent rules of the runtime helpers that generated code calls.

Second and higher derivatives differentiate ad_transform's own (plain) gradient code
(``higher_order.py``), which calls these helpers. Each is linear in its adjoint argument
``g`` (an adjoint template is), so most rules are transposes: the transpose of a sum over
broadcast axes is a broadcast (``to_shape_of``), the transpose of the adjoint of ``x`` in
``x @ y`` is the product ``x @ y`` itself. A helper without a rule here (``tie_share``,
``operand_adjoint``, the decompositions' adjoints...) is refused by name where a
derivative of code calling it is asked for, like any primitive without a rule.

The derivations, with ``L_x(g) = J_x^T g`` the adjoint of ``x`` in ``x @ y``:
``<z, L_x(g)> = <z @ y, g>``, so the cotangent of ``g`` is ``z @ y`` and that of ``y``
is ``L_y(g)`` at ``(z, y)``: ``matmul_adjoint_right(g, z, y)``; symmetrically for ``L_y``.
"""

import numpy as np

from ..runtime import (
    abs_adjoint,
    accumulate_index,
    add_adjoint_cotangent,
    add_adjoint_left,
    add_adjoint_right,
    arithmetic_only,
    array_operand,
    array_receiver,
    as_gradient,
    attribute_adjoint,
    attribute_cotangent,
    check_bound,
    clip_weights,
    concatenate_adjoint,
    conversion_adjoint,
    conversion_cotangent,
    cumsum_adjoint,
    cumulative_sum,
    diag_adjoint,
    diagonal_adjoint,
    dict_default_adjoint,
    dict_get_adjoint,
    dict_get_cotangent,
    dot_adjoint_left,
    dot_adjoint_right,
    dropped_last,
    expand_reduced,
    expit_derivative,
    expit_of,
    extremum_adjoint,
    first_items,
    fresh_copy,
    gathered,
    in_place,
    in_place_adjoint,
    in_place_tangent,
    index_adjoint,
    is_zero,
    item_adjoint,
    item_at_end,
    item_cotangent,
    joined_pieces,
    last_item,
    last_item_cotangent,
    log_derivative,
    log_softmax_adjoint,
    log_softmax_adjoint_partial,
    log_softmax_tangent_adjoint,
    log_softmax_tangent_direction,
    log_softmax_tangent_partial,
    logaddexp_share,
    matmul_adjoint_left,
    matmul_adjoint_right,
    mul_adjoint_left,
    mul_adjoint_right,
    mul_left_cotangent,
    mul_right_cotangent,
    nan_extremum_adjoint,
    norm_adjoint,
    numeric_operand,
    operand_adjoint,
    outer_adjoint_left,
    outer_adjoint_right,
    outer_factor,
    over,
    plain_operand,
    power_derivative,
    power_derivative_exponent,
    power_exponent_partial,
    power_second_derivative,
    prod_adjoint,
    prod_adjoint_partial,
    quotient,
    real_sign,
    reduced_count,
    repeat_adjoint,
    reshape_adjoint,
    reshaped_like,
    safe_log,
    scalar_over,
    scalar_power_adjoint,
    scalar_times_ratio,
    scalar_zero,
    scattered,
    seed,
    sequence_sum_adjoint,
    sequence_sum_cotangent,
    softmax_adjoint,
    softmax_adjoint_direction,
    softmax_adjoint_partial,
    split_adjoint,
    split_cotangent,
    stack_adjoint,
    std_adjoint,
    sum_tangent_cotangent,
    sum_tangent_term,
    take_adjoint,
    tangent_like,
    tensordot_adjoint_left,
    tensordot_adjoint_right,
    tie_share,
    tie_weight,
    tile_adjoint,
    times,
    to_shape_of,
    trace_adjoint,
    transpose_adjoint,
    unbroadcast,
    values_adjoint,
    values_cotangent,
    var_adjoint,
    with_last_zero,
    without_last,
    zeros_like,
)
from ..runtime.norm_second_order import (
    norm_adjoint_ans_cotangent_term,
    norm_adjoint_ans_tangent_term,
    norm_adjoint_x_term,
)
from ..runtime.tangents import (
    as_numpy_operand,
    attribute_tangent,
    dtype_tangent,
    fresh_tangent,
    log_softmax_tangent,
    product_tangent,
    reduced_tangent,
    stored_tangent,
    sum_tangent,
    summable_zero_tangent,
    summed_elements_tangent,
    zero_tangent,
)
from .registry import ARRAY, adjoint, register_nondifferentiable, tangent

# the seed 1, the zero test and zeros carry no derivative
register_nondifferentiable(seed, is_zero, scalar_zero)
register_nondifferentiable(zeros_like, tie_weight, fresh=True)
# checks: they raise or return None
register_nondifferentiable(array_receiver, check_bound, plain_operand, pure=False)


@adjoint(unbroadcast, kind=None)
def d_unbroadcast(g, ans, a, like):
    return to_shape_of(g, a), 0.0


@adjoint(times, kind=None, fresh=True)
def d_times(g, ans, a, d):
    return to_shape_of(times(g, d), a), to_shape_of(times(g, a), d)


@adjoint(over, kind=None, fresh=True)
def d_over(g, ans, a, d):
    return to_shape_of(over(g, d), a), to_shape_of(-over(times(g, ans), d), d)


@adjoint(expand_reduced, kind=None)
def d_expand_reduced(g, ans, a, like, axis, keepdims):
    summed = np.sum(g, axis=axis, keepdims=keepdims)
    return to_shape_of(summed, a), 0.0, None, None


@adjoint(power_derivative, kind=None, fresh=True)
def d_power_derivative(g, ans, x, y, power=None):
    return (
        to_shape_of(times(g, power_second_derivative(x, y, power)), x),
        to_shape_of(times(g, power_derivative_exponent(x, y, power)), y),
        None,
    )


@adjoint(as_gradient, kind=None)
def d_as_gradient(g, ans, a, like, copy=False, adjoint=False):
    return to_shape_of(g, a), 0.0, None, None


@adjoint(matmul_adjoint_left, kind=None, fresh=True)
def d_matmul_adjoint_left(g, ans, a, x, y):
    return to_shape_of(g @ y, a), 0.0, matmul_adjoint_right(a, g, y)


@adjoint(matmul_adjoint_right, kind=None, fresh=True)
def d_matmul_adjoint_right(g, ans, a, x, y):
    return to_shape_of(x @ g, a), matmul_adjoint_left(a, x, g), 0.0


@adjoint(add_adjoint_left, kind=None)
def d_add_adjoint_left(g, ans, a, x, y, in_place=False):
    return add_adjoint_cotangent(g, a, x, y, in_place, 0), 0.0, 0.0, None


@adjoint(add_adjoint_right, kind=None)
def d_add_adjoint_right(g, ans, a, x, y, in_place=False):
    return add_adjoint_cotangent(g, a, x, y, in_place, 1), 0.0, 0.0, None


@adjoint(mul_adjoint_left, kind=None, fresh=True)
def d_mul_adjoint_left(g, ans, a, x, y):
    # a list repeated by a count: the count has no derivative, so the last term (numbers
    # only) is computed only for numbers and arrays
    return (
        mul_left_cotangent(g, a, x, y),
        0.0,
        to_shape_of(times(arithmetic_only(g, x, y, "*"), a), y),
    )


@adjoint(mul_adjoint_right, kind=None, fresh=True)
def d_mul_adjoint_right(g, ans, a, x, y):
    return (
        mul_right_cotangent(g, a, x, y),
        to_shape_of(times(arithmetic_only(g, x, y, "*"), a), x),
        0.0,
    )


@adjoint(scalar_over, kind=None)
def d_scalar_over(g, ans, a, d):
    return over(g, d), -over(times(g, ans), d)


@adjoint(scalar_times_ratio, kind=None)
def d_scalar_times_ratio(g, ans, a, n, d):
    return times(g, over(n, d)), times(g, over(a, d)), -over(times(g, ans), d)


@adjoint(scalar_power_adjoint, kind=None)
def d_scalar_power_adjoint(g, ans, a, x, y):
    return (
        times(g, power_derivative(x, y)),
        times(times(g, a), power_second_derivative(x, y)),
        times(times(g, a), power_derivative_exponent(x, y)),
    )


# fresh: an array or list target is changed on a copy (a number or tuple rebound)
@adjoint(in_place, kind=None, fresh=True)
def d_in_place(g, ans, operation, target, value, refusal=None, when=None):
    return (
        None,
        in_place_adjoint(g, operation, target, value, ans, 0),
        in_place_adjoint(g, operation, target, value, ans, 1),
        None,
        None,
    )


@adjoint(power_second_derivative, kind=None, fresh=True)
def d_power_second_derivative(g, ans, x, y, power=None):
    return (
        to_shape_of(times(g, y * power_second_derivative(x, y - 1, power)), x),
        to_shape_of(
            times(
                g,
                power_derivative(x, y - 1, power) + y * power_derivative_exponent(x, y - 1, power),
            ),
            y,
        ),
        None,
    )


@adjoint(power_derivative_exponent, kind=None, fresh=True)
def d_power_derivative_exponent(g, ans, x, y, power=None):
    return (
        to_shape_of(times(g, power_exponent_partial(x, y, power, 0)), x),
        to_shape_of(times(g, power_exponent_partial(x, y, power, 1)), y),
        None,
    )


@adjoint(quotient, kind=None, fresh=True)
def d_quotient(g, ans, a, b):
    return to_shape_of(over(g, b), a), to_shape_of(-over(times(g, ans), b), b)


@adjoint(index_adjoint, kind=None, fresh=True)
def d_index_adjoint(g, ans, a, x, index):
    return gathered(g, a, index), 0.0, 0.0


@adjoint(accumulate_index, kind=None)
def d_accumulate_index(g, ans, dx, a, x, index):
    return to_shape_of(g, dx), gathered(g, a, index), 0.0, 0.0


@adjoint(last_item, kind=None)
def d_last_item(g, ans, xs):
    return last_item_cotangent(g, xs)


@adjoint(conversion_adjoint, kind=None)
def d_conversion_adjoint(g, ans, a, like):
    return conversion_cotangent(g, like), 0.0


@adjoint(operand_adjoint, kind=None)
def d_operand_adjoint(g, ans, a, x):
    return to_shape_of(numeric_operand(g, x), a), 0.0


@adjoint(array_operand, kind=None)
def d_array_operand(g, ans, x):
    return numeric_operand(g, x)


@adjoint(item_adjoint, kind=None, fresh=True)
def d_item_adjoint(g, ans, a, index, value, into=None):
    return item_cotangent(g, a, index, value, into), 0.0, 0.0, 0.0


@adjoint(fresh_copy, kind=None, fresh=True)
def d_fresh_copy(g, ans, x):
    return g


@adjoint(tie_share, kind=None, fresh=True)
def d_tie_share(g, ans, a, x, y):
    return to_shape_of(tie_share(g, x, y), a), 0.0, 0.0


@adjoint(dropped_last, kind=None, fresh=True)
def d_dropped_last(g, ans, xs):
    return with_last_zero(g, xs)


@adjoint(without_last, kind=None, fresh=True)
def d_without_last(g, ans, xs):
    return with_last_zero(g, xs)


# -- shapes, products, sums: linear in the adjoint g -----------------------------------------
@adjoint(reshape_adjoint, kind=None)
def d_reshape_adjoint(g, ans, a, x, order="C"):
    return reshaped_like(g, a, order), 0.0, None


@adjoint(transpose_adjoint, kind=None)
def d_transpose_adjoint(g, ans, a, axes=None):
    return np.transpose(g, axes), None


@adjoint(outer_adjoint_left, kind=None, fresh=True)
def d_outer_adjoint_left(g, ans, a, x, y):
    return outer_factor(g, a, y, True), 0.0, outer_adjoint_right(a, g, y)


@adjoint(outer_adjoint_right, kind=None, fresh=True)
def d_outer_adjoint_right(g, ans, a, x, y):
    return outer_factor(g, a, x, False), outer_adjoint_left(a, x, g), 0.0


@adjoint(cumsum_adjoint, kind=None, fresh=True)
def d_cumsum_adjoint(g, ans, a, x, axis=None):
    return cumulative_sum(g, a, axis), 0.0, None


@adjoint(concatenate_adjoint, kind=None, fresh=True)
def d_concatenate_adjoint(g, ans, a, arrays, axis=0):
    return joined_pieces(g, arrays, axis), 0.0, None


@adjoint(stack_adjoint, kind=None, fresh=True)
def d_stack_adjoint(g, ans, a, arrays, axis=0):
    return joined_pieces(g, arrays, axis, True), 0.0, None


@adjoint(abs_adjoint, kind=None, fresh=True)
def d_abs_adjoint(g, ans, a, z):
    return to_shape_of(times(g, real_sign(z)), a), 0.0


@adjoint(safe_log, kind=None, fresh=True)
def d_safe_log(g, ans, x):
    return times(g, log_derivative(x))


@adjoint(attribute_adjoint, kind=None, fresh=True)
def d_attribute_adjoint(g, ans, a, x, name):
    return attribute_cotangent(g, x, name), 0.0, None


# the transposes the rules above use, for a third derivative: each linear in ``g``
@adjoint(to_shape_of, kind=None)
def d_to_shape_of(g, ans, a, like):
    return to_shape_of(g, a), 0.0


@adjoint(arithmetic_only, kind=None)
def d_arithmetic_only(g, ans, a, x, y, what):
    return arithmetic_only(g, x, y, what), 0.0, 0.0, None


@adjoint(numeric_operand, kind=None)
def d_numeric_operand(g, ans, a, x):
    return numeric_operand(g, x), 0.0


@adjoint(gathered, kind=None, fresh=True)
def d_gathered(g, ans, a, like, index):
    return scattered(g, a, index, like), 0.0, 0.0


@adjoint(with_last_zero, kind=None, fresh=True)
def d_with_last_zero(g, ans, a, xs):
    return first_items(g), 0.0


@adjoint(last_item_cotangent, kind=None, fresh=True)
def d_last_item_cotangent(g, ans, a, xs):
    return item_at_end(g), 0.0


@adjoint(conversion_cotangent, kind=None, fresh=True)
def d_conversion_cotangent(g, ans, a, like):
    return conversion_adjoint(g, like), 0.0


@adjoint(attribute_cotangent, kind=None, fresh=True)
def d_attribute_cotangent(g, ans, a, x, name):
    return attribute_adjoint(g, x, name), 0.0, None


@adjoint(item_cotangent, kind=None, fresh=True)
def d_item_cotangent(g, ans, a, adjoint, index, value, into=None):
    return item_adjoint(g, index, value, into), 0.0, 0.0, 0.0, 0.0


# -- tangents -------------------------------------------------------------------------------
# a term 0.0: an argument only the shape (or type) of which is read (forward.py drops it)


@tangent(unbroadcast)
def t_unbroadcast(g, ans, a, like):
    return unbroadcast(g, like), 0.0


@tangent(times)
def t_times(g, ans, a, d):
    return times(g, d), times(a, g)


@tangent(over)
def t_over(g, ans, a, d):
    return over(g, d), -over(times(g, ans), d)


@tangent(expand_reduced)
def t_expand_reduced(g, ans, a, like, axis, keepdims):
    return expand_reduced(g, like, axis, keepdims), 0.0, None, None


@tangent(power_derivative)
def t_power_derivative(g, ans, x, y, power=None):
    return (
        times(g, power_second_derivative(x, y, power)),
        times(g, power_derivative_exponent(x, y, power)),
        None,
    )


@tangent(as_gradient)
def t_as_gradient(g, ans, a, like, copy=False, adjoint=False):
    return as_gradient(g, like, copy, adjoint), 0.0, None, None


@tangent(matmul_adjoint_left)
def t_matmul_adjoint_left(g, ans, a, x, y):
    return matmul_adjoint_left(g, x, y), 0.0, matmul_adjoint_left(a, x, g)


@tangent(matmul_adjoint_right)
def t_matmul_adjoint_right(g, ans, a, x, y):
    return matmul_adjoint_right(g, x, y), matmul_adjoint_right(a, g, y), 0.0


@tangent(add_adjoint_left)
def t_add_adjoint_left(g, ans, a, x, y, in_place=False):
    return add_adjoint_left(g, x, y, in_place), 0.0, 0.0, None


@tangent(add_adjoint_right)
def t_add_adjoint_right(g, ans, a, x, y, in_place=False):
    return add_adjoint_right(g, x, y, in_place), 0.0, 0.0, None


@tangent(mul_adjoint_left)
def t_mul_adjoint_left(g, ans, a, x, y):
    return mul_adjoint_left(g, x, y), 0.0, mul_adjoint_left(a, x, arithmetic_only(g, x, y, "*"))


@tangent(mul_adjoint_right)
def t_mul_adjoint_right(g, ans, a, x, y):
    return mul_adjoint_right(g, x, y), mul_adjoint_right(a, arithmetic_only(g, x, y, "*"), y), 0.0


@tangent(scalar_over)
def t_scalar_over(g, ans, a, d):
    return over(g, d), -over(times(g, ans), d)


@tangent(scalar_times_ratio)
def t_scalar_times_ratio(g, ans, a, n, d):
    return times(g, over(n, d)), times(a, over(g, d)), -over(times(g, ans), d)


@tangent(scalar_power_adjoint)
def t_scalar_power_adjoint(g, ans, a, x, y):
    return (
        times(g, power_derivative(x, y)),
        times(times(a, g), power_second_derivative(x, y)),
        times(times(a, g), power_derivative_exponent(x, y)),
    )


@tangent(in_place)
def t_in_place(g, ans, operation, target, value, refusal=None, when=None):
    return (
        None,
        in_place_tangent(g, operation, target, value, ans, 0),
        in_place_tangent(g, operation, target, value, ans, 1),
        None,
        None,
    )


@tangent(power_second_derivative)
def t_power_second_derivative(g, ans, x, y, power=None):
    return (
        times(g, y * power_second_derivative(x, y - 1, power)),
        times(
            g,
            power_derivative(x, y - 1, power) + y * power_derivative_exponent(x, y - 1, power),
        ),
        None,
    )


@tangent(power_derivative_exponent)
def t_power_derivative_exponent(g, ans, x, y, power=None):
    return (
        times(g, power_exponent_partial(x, y, power, 0)),
        times(g, power_exponent_partial(x, y, power, 1)),
        None,
    )


@tangent(quotient)
def t_quotient(g, ans, a, b):
    return over(g, b), -over(times(g, ans), b)


@tangent(index_adjoint)
def t_index_adjoint(g, ans, a, x, index):
    return index_adjoint(g, x, index), 0.0, 0.0


@tangent(accumulate_index)
def t_accumulate_index(g, ans, dx, a, x, index):
    return tangent_like(g, ans), index_adjoint(g, x, index), 0.0, 0.0


@tangent(last_item)
def t_last_item(g, ans, xs):
    return last_item(g)


@tangent(conversion_adjoint)
def t_conversion_adjoint(g, ans, a, like):
    return conversion_adjoint(g, like), 0.0


@tangent(operand_adjoint)
def t_operand_adjoint(g, ans, a, x):
    return numeric_operand(g, x), 0.0


@tangent(array_operand)
def t_array_operand(g, ans, x):
    return numeric_operand(g, x)


@tangent(item_adjoint)
def t_item_adjoint(g, ans, a, index, value, into=None):
    return item_adjoint(g, index, value, into), 0.0, 0.0, 0.0


@tangent(fresh_copy)
def t_fresh_copy(g, ans, x):
    return fresh_copy(g)


@tangent(tie_share)
def t_tie_share(g, ans, a, x, y):
    return tie_share(g, x, y), 0.0, 0.0


@tangent(to_shape_of)
def t_to_shape_of(g, ans, a, like):
    return to_shape_of(g, like), 0.0


@tangent(arithmetic_only)
def t_arithmetic_only(g, ans, a, x, y, what):
    return arithmetic_only(g, x, y, what), 0.0, 0.0, None


@tangent(numeric_operand)
def t_numeric_operand(g, ans, a, x):
    return numeric_operand(g, x), 0.0


@tangent(gathered)
def t_gathered(g, ans, a, like, index):
    return gathered(g, like, index), 0.0, 0.0


@tangent(with_last_zero)
def t_with_last_zero(g, ans, a, xs):
    return with_last_zero(g, xs), 0.0


@tangent(last_item_cotangent)
def t_last_item_cotangent(g, ans, a, xs):
    return last_item_cotangent(g, xs), 0.0


@tangent(conversion_cotangent)
def t_conversion_cotangent(g, ans, a, like):
    return conversion_cotangent(g, like), 0.0


@tangent(item_cotangent)
def t_item_cotangent(g, ans, a, adjoint, index, value, into=None):
    return item_cotangent(g, adjoint, index, value, into), 0.0, 0.0, 0.0, 0.0


@tangent(attribute_adjoint)
def t_attribute_adjoint(g, ans, a, x, name):
    return attribute_adjoint(g, x, name), 0.0, None


@tangent(attribute_cotangent)
def t_attribute_cotangent(g, ans, a, x, name):
    return attribute_cotangent(g, x, name), 0.0, None


@tangent(reshape_adjoint)
def t_reshape_adjoint(g, ans, a, x, order="C"):
    return reshape_adjoint(g, x, order), 0.0, None


@tangent(transpose_adjoint)
def t_transpose_adjoint(g, ans, a, axes=None):
    return transpose_adjoint(g, axes), None


@tangent(outer_adjoint_left)
def t_outer_adjoint_left(g, ans, a, x, y):
    return outer_adjoint_left(g, x, y), 0.0, outer_adjoint_left(a, x, g)


@tangent(outer_adjoint_right)
def t_outer_adjoint_right(g, ans, a, x, y):
    return outer_adjoint_right(g, x, y), outer_adjoint_right(a, g, y), 0.0


@tangent(cumsum_adjoint)
def t_cumsum_adjoint(g, ans, a, x, axis=None):
    return cumsum_adjoint(g, x, axis), 0.0, None


@tangent(concatenate_adjoint)
def t_concatenate_adjoint(g, ans, a, arrays, axis=0):
    return concatenate_adjoint(g, arrays, axis), 0.0, None


@tangent(stack_adjoint)
def t_stack_adjoint(g, ans, a, arrays, axis=0):
    return stack_adjoint(g, arrays, axis), 0.0, None


@tangent(abs_adjoint)
def t_abs_adjoint(g, ans, a, z):
    return times(g, real_sign(z)), 0.0


@tangent(safe_log)
def t_safe_log(g, ans, x):
    return times(g, log_derivative(x))


@tangent(dropped_last)
def t_dropped_last(g, ans, xs):
    return without_last(g)


@tangent(without_last)
def t_without_last(g, ans, xs):
    return without_last(g)


# -- forward-mode helpers (reverse over forward: vjp(jvp(f)); forward over forward) ----------
# the generated forward-mode code calls these with the tangents; each is linear in its
# tangent arguments (the tangent of a product is bilinear in values and tangents)
register_nondifferentiable(zero_tangent, summable_zero_tangent, fresh=True)


@adjoint(as_numpy_operand, kind=None)
def d_as_numpy_operand(g, ans, value):
    return numeric_operand(g, value)


@tangent(as_numpy_operand)
def t_as_numpy_operand(g, ans, value):
    return numeric_operand(g, value)


@adjoint(product_tangent, kind=None, fresh=True)
def d_product_tangent(g, ans, a, x, y, x_dot, y_dot):
    checked = arithmetic_only(g, x, y, "*")
    return (
        0.0,
        to_shape_of(times(checked, y_dot), x),
        to_shape_of(times(checked, x_dot), y),
        to_shape_of(times(checked, y), x_dot),
        to_shape_of(times(checked, x), y_dot),
    )


@tangent(product_tangent)
def t_product_tangent(g, ans, a, x, y, x_dot, y_dot):
    checked = arithmetic_only(g, x, y, "*")
    return (
        0.0,
        tangent_like(times(checked, y_dot), ans),
        tangent_like(times(x_dot, checked), ans),
        tangent_like(times(checked, y), ans),
        tangent_like(times(x, checked), ans),
    )


@adjoint(sum_tangent, kind=None)
def d_sum_tangent(g, ans, a, x, y, x_dot, y_dot):
    return (
        0.0,
        0.0,
        0.0,
        sum_tangent_cotangent(g, a, x, y, x_dot, 0),
        sum_tangent_cotangent(g, a, x, y, y_dot, 1),
    )


@tangent(sum_tangent)
def t_sum_tangent(g, ans, a, x, y, x_dot, y_dot):
    return 0.0, 0.0, 0.0, sum_tangent_term(g, a, x, y, 0), sum_tangent_term(g, a, x, y, 1)


@adjoint(tangent_like, kind=None)
def d_tangent_like(g, ans, t, like):
    return to_shape_of(g, t), 0.0


@tangent(tangent_like)
def t_tangent_like(g, ans, t, like):
    return tangent_like(g, like), 0.0


@adjoint(stored_tangent, kind=None)
def d_stored_tangent(g, ans, t, container):
    return stored_tangent(g, container), 0.0


@tangent(stored_tangent)
def t_stored_tangent(g, ans, t, container):
    return stored_tangent(g, container), 0.0


@adjoint(fresh_tangent, kind=None, fresh=True)
def d_fresh_tangent(g, ans, t):
    return g


@tangent(fresh_tangent)
def t_fresh_tangent(g, ans, t):
    return fresh_tangent(g)


@adjoint(dtype_tangent, kind=None)
def d_dtype_tangent(g, ans, t, result):
    return dtype_tangent(g, result), 0.0


@tangent(dtype_tangent)
def t_dtype_tangent(g, ans, t, result):
    return dtype_tangent(g, result), 0.0


@adjoint(reduced_tangent, kind=None, fresh=True)
def d_reduced_tangent(g, ans, t, weights, axis=None, keepdims=False):
    spread = expand_reduced(g, weights, axis, keepdims)
    return (
        to_shape_of(times(spread, weights), t),
        to_shape_of(times(spread, t), weights),
        None,
        None,
    )


@tangent(reduced_tangent)
def t_reduced_tangent(g, ans, t, weights, axis=None, keepdims=False):
    return (
        reduced_tangent(g, weights, axis, keepdims),
        reduced_tangent(t, g, axis, keepdims),
        None,
        None,
    )


@adjoint(attribute_tangent, kind=None)
def d_attribute_tangent(g, ans, t, x, name):
    return attribute_adjoint(g, x, name), 0.0, None


@tangent(attribute_tangent)
def t_attribute_tangent(g, ans, t, x, name):
    return attribute_tangent(g, x, name), 0.0, None


@adjoint(log_softmax_tangent, kind=None, fresh=True)
def d_log_softmax_tangent(g, ans, t, result, axis=None):
    return (
        log_softmax_tangent_adjoint(g, result, axis),
        log_softmax_tangent_partial(g, t, result, axis),
        None,
    )


@tangent(log_softmax_tangent)
def t_log_softmax_tangent(g, ans, t, result, axis=None):
    return (
        log_softmax_tangent(g, result, axis),
        log_softmax_tangent_direction(g, t, result, axis),
        None,
    )


# -- adjoints of reductions whose weights forward mode reads (max/min, norms) ------------------
# extremum_adjoint(g, ans, x, axis, keepdims) is linear in g and locally constant in ans
# and x (the tied elements do not change under a small step away from ties): its
# transpose in g sums the cotangent with the same shares, its partials in ans and x are 0


@adjoint(extremum_adjoint, kind=None, fresh=True)
def d_extremum_adjoint(g, ans, a, result, x, axis=None, keepdims=False):
    shares = extremum_adjoint(np.ones_like(a), result, x, axis, keepdims)
    return to_shape_of(reduced_tangent(g, shares, axis, keepdims), a), 0.0, 0.0, None, None


@tangent(extremum_adjoint)
def t_extremum_adjoint(g, ans, a, result, x, axis=None, keepdims=False):
    return extremum_adjoint(g, result, x, axis, keepdims), 0.0, 0.0, None, None


@adjoint(nan_extremum_adjoint, kind=None, fresh=True)
def d_nan_extremum_adjoint(g, ans, a, result, x, axis=None, keepdims=False):
    shares = nan_extremum_adjoint(np.ones_like(a), result, x, axis, keepdims)
    return to_shape_of(reduced_tangent(g, shares, axis, keepdims), a), 0.0, 0.0, None, None


@tangent(nan_extremum_adjoint)
def t_nan_extremum_adjoint(g, ans, a, result, x, axis=None, keepdims=False):
    return nan_extremum_adjoint(g, result, x, axis, keepdims), 0.0, 0.0, None, None


# norm_adjoint(g, ans, x, ord, axis, keepdims): g x / ans for the 2-norm (linear in g); the
# partials of the p-norms and matrix norms in runtime/norm_second_order.py
@adjoint(norm_adjoint, kind=None, fresh=True)
def d_norm_adjoint(g, ans, a, result, x, ord=None, axis=None, keepdims=False):
    shares = norm_adjoint(np.ones_like(a), result, x, ord, axis, keepdims)
    return (
        to_shape_of(reduced_tangent(g, shares, axis, keepdims), a),
        norm_adjoint_ans_cotangent_term(g, a, result, x, ord, axis, keepdims),
        norm_adjoint_x_term(g, a, result, x, ord, axis, keepdims),
        None,
        None,
        None,
    )


@tangent(norm_adjoint)
def t_norm_adjoint(g, ans, a, result, x, ord=None, axis=None, keepdims=False):
    return (
        norm_adjoint(g, result, x, ord, axis, keepdims),
        norm_adjoint_ans_tangent_term(g, a, result, x, ord, axis, keepdims),
        norm_adjoint_x_term(g, a, result, x, ord, axis, keepdims),
        None,
        None,
        None,
    )


# -- more adjoints met by second derivatives of common code --------------------------------
# counts and the shares of np.clip are locally constant (zero derivative away from the
# bounds, where clip is not twice differentiable anyway)
register_nondifferentiable(reduced_count, clip_weights)


# the adjoints of linear primitives: linear in g, shape-only in x; the transpose of
# P^T is P itself
@adjoint(tile_adjoint, kind=None, fresh=True)
def d_tile_adjoint(g, ans, a, x, reps):
    return np.tile(g, reps), 0.0, None


@tangent(tile_adjoint)
def t_tile_adjoint(g, ans, a, x, reps):
    return tile_adjoint(g, x, reps), 0.0, None


@adjoint(repeat_adjoint, kind=None, fresh=True)
def d_repeat_adjoint(g, ans, a, x, repeats, axis=None):
    return np.repeat(g, repeats, axis), 0.0, None, None


@tangent(repeat_adjoint)
def t_repeat_adjoint(g, ans, a, x, repeats, axis=None):
    return repeat_adjoint(g, x, repeats, axis), 0.0, None, None


@adjoint(take_adjoint, kind=None, fresh=True)
def d_take_adjoint(g, ans, a, x, indices, axis=None):
    return np.take(g, indices, axis), 0.0, None, None


@tangent(take_adjoint)
def t_take_adjoint(g, ans, a, x, indices, axis=None):
    return take_adjoint(g, x, indices, axis), 0.0, None, None


@adjoint(diagonal_adjoint, kind=None, fresh=True)
def d_diagonal_adjoint(g, ans, a, x, offset=0, axis1=0, axis2=1):
    return np.diagonal(g, offset, axis1, axis2).copy(), 0.0, None, None, None


@tangent(diagonal_adjoint)
def t_diagonal_adjoint(g, ans, a, x, offset=0, axis1=0, axis2=1):
    return diagonal_adjoint(g, x, offset, axis1, axis2), 0.0, None, None, None


@adjoint(split_adjoint, kind=None, fresh=True)
def d_split_adjoint(g, ans, a, ary, indices_or_sections, axis=0, how="split"):
    return split_cotangent(g, ary, indices_or_sections, axis, how), 0.0, None, None, None


@tangent(split_adjoint)
def t_split_adjoint(g, ans, a, ary, indices_or_sections, axis=0, how="split"):
    return split_adjoint(g, ary, indices_or_sections, axis, how), 0.0, None, None, None


@adjoint(sequence_sum_adjoint, kind=None, fresh=True)
def d_sequence_sum_adjoint(g, ans, a, x, start=0):
    return sequence_sum_cotangent(g, a, x, start), 0.0, 0.0


@tangent(sequence_sum_adjoint)
def t_sequence_sum_adjoint(g, ans, a, x, start=0):
    return sequence_sum_adjoint(g, x, start), 0.0, 0.0


@adjoint(sequence_sum_cotangent, kind=None, fresh=True)
def d_sequence_sum_cotangent(g, ans, c, a, x, start=0):
    return sequence_sum_adjoint(to_shape_of(g, a), x, start), 0.0, 0.0, 0.0


@tangent(sequence_sum_cotangent)
def t_sequence_sum_cotangent(g, ans, c, a, x, start=0):
    return sequence_sum_cotangent(g, a, x, start), 0.0, 0.0, 0.0


@adjoint(dict_get_adjoint, kind=None, fresh=True)
def d_dict_get_adjoint(g, ans, a, x, key):
    return dict_get_cotangent(g, a, x, key), 0.0, None


@tangent(dict_get_adjoint)
def t_dict_get_adjoint(g, ans, a, x, key):
    return dict_get_adjoint(g, x, key), 0.0, None


@adjoint(dict_get_cotangent, kind=None, fresh=True)
def d_dict_get_cotangent(g, ans, c, a, x, key):
    return dict_get_adjoint(to_shape_of(g, a), x, key), 0.0, 0.0, None


@tangent(dict_get_cotangent)
def t_dict_get_cotangent(g, ans, c, a, x, key):
    return dict_get_cotangent(g, a, x, key), 0.0, 0.0, None


# np.dot and np.tensordot: as matmul (``<z, L_x(g)> = <dot(z, y), g>``)
@adjoint(dot_adjoint_left, kind=None, fresh=True)
def d_dot_adjoint_left(g, ans, a, x, y):
    return to_shape_of(np.dot(g, y), a), 0.0, dot_adjoint_right(a, g, y)


@tangent(dot_adjoint_left)
def t_dot_adjoint_left(g, ans, a, x, y):
    return dot_adjoint_left(g, x, y), 0.0, dot_adjoint_left(a, x, g)


@adjoint(dot_adjoint_right, kind=None, fresh=True)
def d_dot_adjoint_right(g, ans, a, x, y):
    return to_shape_of(np.dot(x, g), a), dot_adjoint_left(a, x, g), 0.0


@tangent(dot_adjoint_right)
def t_dot_adjoint_right(g, ans, a, x, y):
    return dot_adjoint_right(g, x, y), dot_adjoint_right(a, g, y), 0.0


@adjoint(tensordot_adjoint_left, kind=None, fresh=True)
def d_tensordot_adjoint_left(g, ans, a, x, y, axes=2):
    return (
        to_shape_of(np.tensordot(g, y, axes), a),
        0.0,
        tensordot_adjoint_right(a, g, y, axes),
        None,
    )


@tangent(tensordot_adjoint_left)
def t_tensordot_adjoint_left(g, ans, a, x, y, axes=2):
    return tensordot_adjoint_left(g, x, y, axes), 0.0, tensordot_adjoint_left(a, x, g, axes), None


@adjoint(tensordot_adjoint_right, kind=None, fresh=True)
def d_tensordot_adjoint_right(g, ans, a, x, y, axes=2):
    return (
        to_shape_of(np.tensordot(x, g, axes), a),
        tensordot_adjoint_left(a, x, g, axes),
        0.0,
        None,
    )


@tangent(tensordot_adjoint_right)
def t_tensordot_adjoint_right(g, ans, a, x, y, axes=2):
    return tensordot_adjoint_right(g, x, y, axes), tensordot_adjoint_right(a, g, y, axes), 0.0, None


# scipy.special.softmax / log_softmax: symmetric (softmax) and transposed (log_softmax)
# linear maps of g, with the partials in the result
@adjoint(softmax_adjoint, kind=None, fresh=True)
def d_softmax_adjoint(g, ans, a, result, axis=None):
    return softmax_adjoint(g, result, axis), softmax_adjoint_partial(g, a, result, axis), None


@tangent(softmax_adjoint)
def t_softmax_adjoint(g, ans, a, result, axis=None):
    return softmax_adjoint(g, result, axis), softmax_adjoint_direction(g, a, result, axis), None


@adjoint(log_softmax_adjoint, kind=None, fresh=True)
def d_log_softmax_adjoint(g, ans, a, result, axis=None):
    return (
        log_softmax_tangent(g, result, axis),
        log_softmax_adjoint_partial(g, a, result, axis),
        None,
    )


@tangent(log_softmax_adjoint)
def t_log_softmax_adjoint(g, ans, a, result, axis=None):
    return (
        log_softmax_adjoint(g, result, axis),
        log_softmax_adjoint_partial(g, a, result, axis),
        None,
    )


@adjoint(trace_adjoint, kind=None, fresh=True)
def d_trace_adjoint(g, ans, a, x, offset=0, axis1=0, axis2=1):
    return np.trace(g, offset, axis1, axis2), 0.0, None, None, None


@tangent(trace_adjoint)
def t_trace_adjoint(g, ans, a, x, offset=0, axis1=0, axis2=1):
    return trace_adjoint(g, x, offset, axis1, axis2), 0.0, None, None, None


@adjoint(values_adjoint, kind=None, fresh=True)
def d_values_adjoint(g, ans, a, x):
    return values_cotangent(g, x), 0.0


@tangent(values_adjoint)
def t_values_adjoint(g, ans, a, x):
    return values_adjoint(g, x), 0.0


@adjoint(values_cotangent, kind=None, fresh=True)
def d_values_cotangent(g, ans, c, x):
    return values_adjoint(g, x), 0.0


@tangent(values_cotangent)
def t_values_cotangent(g, ans, c, x):
    return values_cotangent(g, x), 0.0


@adjoint(dict_default_adjoint, kind=None, fresh=True)
def d_dict_default_adjoint(g, ans, a, x, key, default=None):
    return dict_default_adjoint(g, x, key, 0.0), 0.0, None, 0.0


@tangent(dict_default_adjoint)
def t_dict_default_adjoint(g, ans, a, x, key, default=None):
    return dict_default_adjoint(g, x, key, default), 0.0, None, 0.0


# var_adjoint(g, x, ...) = 2 g (x - mean(x)) / (N - ddof): linear in g, and linear and
# symmetric in x (centering is a symmetric projection along the reduced axes)
@adjoint(var_adjoint, kind=None, fresh=True)
def d_var_adjoint(g, ans, a, x, axis=None, ddof=0, keepdims=False, correction=None):
    shares = var_adjoint(np.ones_like(a), x, axis, ddof, keepdims, correction)
    return (
        to_shape_of(reduced_tangent(g, shares, axis, keepdims), a),
        var_adjoint(a, g, axis, ddof, keepdims, correction),
        None,
        None,
        None,
        None,
    )


@tangent(var_adjoint)
def t_var_adjoint(g, ans, a, x, axis=None, ddof=0, keepdims=False, correction=None):
    return (
        var_adjoint(g, x, axis, ddof, keepdims, correction),
        var_adjoint(a, g, axis, ddof, keepdims, correction),
        None,
        None,
        None,
        None,
    )


# logaddexp_share(x, y) = s = sigmoid(x - y): ds/dx = s (1 - s) = -ds/dy
@adjoint(logaddexp_share, kind=None, fresh=True)
def d_logaddexp_share(g, ans, x, y):
    slope = ans * logaddexp_share(y, x)
    return to_shape_of(times(g, slope), x), to_shape_of(-times(g, slope), y)


@tangent(logaddexp_share)
def t_logaddexp_share(g, ans, x, y):
    slope = ans * logaddexp_share(y, x)
    return times(g, slope), -times(g, slope)


# expit_derivative(x, s) = s expit(-x) (s = expit(x) where it is used)
@adjoint(expit_derivative, kind=None, fresh=True)
def d_expit_derivative(g, ans, x, result):
    return (
        to_shape_of(-times(g, ans * expit_of(x)), x),
        to_shape_of(times(g, expit_derivative(x, 1.0)), result),
    )


@tangent(expit_derivative)
def t_expit_derivative(g, ans, x, result):
    return -times(g, ans * expit_of(x)), times(g, expit_derivative(x, 1.0))


@adjoint(diag_adjoint, kind=None, fresh=True)
def d_diag_adjoint(g, ans, a, v, k=0):
    return np.diag(g, k), 0.0, None


@tangent(diag_adjoint)
def t_diag_adjoint(g, ans, a, v, k=0):
    return diag_adjoint(g, v, k), 0.0, None


# std_adjoint(g, s, x, ...) = g (x - mean(x)) / ((N - ddof) s): linear in g, linear and
# symmetric in x, and its partial in s is -std_adjoint(g, s, x) / s = -std_adjoint(g, s*s, x)
@adjoint(std_adjoint, kind=None, fresh=True)
def d_std_adjoint(g, ans, a, result, x, axis=None, ddof=0, keepdims=False, correction=None):
    shares = std_adjoint(np.ones_like(a), result, x, axis, ddof, keepdims, correction)
    squared = std_adjoint(a, result * result, x, axis, ddof, keepdims, correction)
    return (
        to_shape_of(reduced_tangent(g, shares, axis, keepdims), a),
        to_shape_of(-reduced_tangent(g, squared, axis, keepdims), result),
        std_adjoint(a, result, g, axis, ddof, keepdims, correction),
        None,
        None,
        None,
        None,
    )


@tangent(std_adjoint)
def t_std_adjoint(g, ans, a, result, x, axis=None, ddof=0, keepdims=False, correction=None):
    return (
        std_adjoint(g, result, x, axis, ddof, keepdims, correction),
        std_adjoint(-times(a, g), result * result, x, axis, ddof, keepdims, correction),
        std_adjoint(a, result, g, axis, ddof, keepdims, correction),
        None,
        None,
        None,
        None,
    )


# summed_elements_tangent(t, x, start): the sum of the elements' tangents (linear in t); its
# transpose gives each element the cotangent, as the adjoint of builtin sum does
@adjoint(summed_elements_tangent, kind=None, fresh=True)
def d_summed_elements_tangent(g, ans, t, x, start):
    # with a list start the elements' tangents are joined after start's zeros: the same
    # transpose, each element's cotangent its slice of g
    return sequence_sum_adjoint(g, x, start), 0.0, 0.0


@tangent(summed_elements_tangent)
def t_summed_elements_tangent(g, ans, t, x, start):
    return (
        summed_elements_tangent(arithmetic_only(g, start, 0.0, "sum with a list start"), x, start),
        0.0,
        0.0,
    )


# prod_adjoint(g, x, axis, keepdims) = g times the product of the other elements: linear in
# g; its partial in x pairs elements (prod_adjoint_partial, symmetric)
@adjoint(prod_adjoint, kind=None, fresh=True)
def d_prod_adjoint(g, ans, a, x, axis=None, keepdims=False):
    shares = prod_adjoint(np.ones_like(a), x, axis, keepdims)
    return (
        to_shape_of(reduced_tangent(g, shares, axis, keepdims), a),
        prod_adjoint_partial(g, a, x, axis, keepdims),
        None,
        None,
    )


@tangent(prod_adjoint)
def t_prod_adjoint(g, ans, a, x, axis=None, keepdims=False):
    return (
        prod_adjoint(g, x, axis, keepdims),
        prod_adjoint_partial(g, a, x, axis, keepdims),
        None,
        None,
    )


__all__ = ["ARRAY"]


# -- hvp/hessian/jacobian/elementwise_grad called inside a differentiated function ---------
# (higher_order_calls.py): unit vectors carry no derivative; the checks raise or return None
from ..runtime.higher_order_calls import array_argument, array_output, unit_vector  # noqa: E402

register_nondifferentiable(unit_vector, fresh=True)
register_nondifferentiable(array_argument, array_output, pure=False)

# astype_tangent(t, like) (the tangent of np.array/np.asarray/astype in forward-mode code,
# which jacfwd, hessian... called inside a differentiated function run): linear in t; its
# transpose is the adjoint of np.array(t) (a list adjoint for a list of tangents)
from ..runtime import array_adjoint, astype_tangent  # noqa: E402


@adjoint(astype_tangent, kind=None)
def d_astype_tangent(g, ans, t, like):
    return array_adjoint(g, t, like), 0.0


@tangent(astype_tangent)
def t_astype_tangent(g, ans, t, like):
    return astype_tangent(g, like), 0.0


# reversed_adjoint(g, x) (the adjoint of reversed(xs) / xs[::-1] of a list): linear in g, a
# permutation, so its transpose is the reversal back; x is read for its length only
from ..runtime import reversed_adjoint  # noqa: E402


@adjoint(reversed_adjoint, kind=None, fresh=True)
def d_reversed_adjoint(g, ans, a, x):
    return reversed_adjoint(g, x), 0.0


@tangent(reversed_adjoint)
def t_reversed_adjoint(g, ans, a, x):
    return reversed_adjoint(g, x), 0.0
