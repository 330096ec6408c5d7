"""Regression tests for the forward-mode breaker's findings (/work/wt/breaker_fwd/findings.md,
F2..F13): each against central finite differences in float64 (or calculus), and the
refusals by their messages."""

import numpy as np
import pytest

from ad_transform import ADTransformError, grad, jvp, value_and_grad


def central_difference(f, primals, tangents, eps=1e-6):
    """The directional derivative of ``f`` at ``primals`` along ``tangents`` (float64)."""
    plus = [p + eps * np.asarray(t, dtype=float) for p, t in zip(primals, tangents)]
    minus = [p - eps * np.asarray(t, dtype=float) for p, t in zip(primals, tangents)]
    return (np.asarray(f(*plus)) - np.asarray(f(*minus))) / (2 * eps)


def check_against_differences(f, primals, tangents, rtol=1e-6, atol=1e-8):
    value, tangent = jvp(f, primals, tangents)
    np.testing.assert_allclose(value, f(*primals), rtol=1e-13)
    expected = central_difference(f, primals, tangents)
    np.testing.assert_allclose(tangent, expected, rtol=rtol, atol=atol)
    return tangent


# -- F6: a tangent in the precision of its NumPy-scalar primal -------------------------------
W32 = np.float32(3.0)


def times_float32_constant(s):
    return s * W32


def test_f6_tangent_of_a_float64_scalar_keeps_float64_next_to_float32_constants():
    value, tangent = jvp(times_float32_constant, (np.float64(0.1),), (0.1,))
    assert tangent.dtype == np.float64
    assert tangent == value  # 0.1 * 3.0 in float64, both
    assert abs(tangent - 0.3) < 1e-15


def test_f6_tangent_of_a_float32_scalar_is_float32():
    _, tangent = jvp(times_float32_constant, (np.float32(0.1),), (1.0,))
    assert tangent.dtype == np.float32 and tangent == np.float32(3.0)


# -- F7: a complex tangent for a real primal is refused, scalar or array --------------------
def square_sum(x):
    return np.sum(x * x)


@pytest.mark.parametrize(
    "tangent", [np.array([1 + 1j, 2 + 0j]), np.array([1.0, 2.0], dtype=np.complex128)]
)
def test_f7_complex_array_tangent_of_a_real_array_is_refused(tangent):
    with pytest.raises(ValueError, match="must be a real array, not an array of dtype complex"):
        jvp(square_sum, (np.array([1.0, 2.0]),), (tangent,))


@pytest.mark.parametrize("tangent", [1 + 1j, np.complex128(1.0)])
def test_f7_complex_scalar_tangent_is_refused(tangent):
    def f(x):
        return x * x

    with pytest.raises(ValueError, match="must be a real number"):
        jvp(f, (1.5,), (tangent,))


# -- F10 (and F8's crash): elementwise NumPy functions and operators on list operands --------
def log_of_list(a, b):
    return np.sum(np.log([a, b]))


def square_of_list(a, b):
    return np.sum(np.square([a, b]) * np.array([1.0, 3.0]))


def power_of_list(a, b):
    return np.sum(np.power([a, b], 2.5))


def maximum_of_list(a, b):
    return np.sum(np.maximum([a, b], 0.9) * np.array([2.0, 5.0]))


def divide_lists(a, b):
    return np.sum(np.divide([a, b], [b, 2.0 * a]))


def clip_list(a, b):
    return np.sum(np.clip([a, 3.0 * b], 0.8, 2.0) * np.array([1.5, 0.5]))


def arctan2_lists(a, b):
    return np.sum(np.arctan2([a, b], [b, a * a]))


def array_to_list_power(a, b):
    return np.sum(np.array([a, 2.0]) ** [b, 2.0])


def multiply_array_list(a, b):
    return np.sum(np.multiply(np.array([a, 1.0]), [b, 2.0 * b]))


def array_minus_list(a, b):
    return np.sum((np.array([a, 1.0]) - [b, a]) ** 2)


def exp_of_tuple(a, b):
    return np.sum(np.exp((a, b)) * np.array([1.0, 2.0]))


def global_list_operand(a, b):
    v = np.array([a, b])
    return np.sum(np.hypot(v, WEIGHTS))


WEIGHTS = [0.5, 3.0]


@pytest.mark.parametrize(
    "f",
    [
        log_of_list,
        square_of_list,
        power_of_list,
        maximum_of_list,
        divide_lists,
        clip_list,
        arctan2_lists,
        array_to_list_power,
        multiply_array_list,
        array_minus_list,
        exp_of_tuple,
        global_list_operand,
    ],
)
def test_f10_elementwise_numpy_on_list_operands(f):
    tangent = check_against_differences(f, (1.1, 0.7), (1.0, -0.3))
    gradient = grad(f, wrt=(0, 1))(1.1, 0.7)
    # the dot-product test against reverse mode: <J u, 1> = <u, J^T 1>
    assert tangent == pytest.approx(gradient[0] * 1.0 + gradient[1] * -0.3, rel=1e-12)


# -- F12: integer arguments stay integers in jvp without wrt ----------------------------------
def power_series(x, n):
    s = 0.0
    for i in range(n):
        s = s + x**i
    return s


def test_f12_integer_count_argument_stays_an_integer():
    value, tangent = jvp(power_series, (1.5, 3), (1.0, 0.0))
    assert value == 1.0 + 1.5 + 1.5**2
    assert tangent == pytest.approx(1.0 + 2 * 1.5, rel=1e-15)
    # also with None or 0 as the integer's tangent, and the reusable form
    assert jvp(power_series, (1.5, 3), (1.0, None))[1] == tangent
    assert jvp(power_series)((1.5, 3), (1.0, 0))[1] == tangent


def pick(x, k):
    return x[k] * 2.0 + np.sum(x)


def test_f12_integer_index_argument_and_integer_array():
    x = np.array([1.0, 2.0, 3.0])
    u = np.array([0.5, -1.0, 2.0])
    _, tangent = jvp(pick, (x, 1), (u, 0))
    assert tangent == pytest.approx(2.0 * u[1] + np.sum(u), rel=1e-15)

    def indexed(x, idx):
        return np.sum(x[idx] ** 2)

    _, tangent = jvp(indexed, (x, np.array([0, 2])), (u, np.zeros(2)))
    assert tangent == pytest.approx(2 * x[0] * u[0] + 2 * x[2] * u[2], rel=1e-15)


def test_f12_nonzero_tangent_of_an_integer_is_refused_naming_it():
    with pytest.raises(ValueError, match=r"argument 1 is an integer \(int 3\).*wrt="):
        jvp(power_series, (1.5, 3), (1.0, 1.0))


def test_f12_wrt_differentiates_an_integer_as_a_float():
    def poly(x, y):
        return x**3 + x * y

    _, tangent = jvp(poly, wrt=(0, 1))((2, 1), (1, 0))
    assert type(tangent) is float and tangent == 3 * 2**2 + 1
    value, tangent = jvp(poly, (2, 1), (0, 0))  # nothing differentiated: a zero tangent
    assert value == 10 and tangent == 0.0


# -- F4: the builtin sorted ---------------------------------------------------------------
def smallest_twice(a, b):
    return sorted([a, b])[0] * 2.0


def sorted_weighted(a, b, c):
    s = sorted([a * b, c, a - c])
    return s[0] * 1.0 + s[1] * 2.0 + s[2] * 3.0


def sorted_reverse_array(x):
    s = sorted(x, reverse=True)
    return s[0] * 5.0 + s[-1]


def test_f4_builtin_sorted_has_a_tangent():
    check_against_differences(smallest_twice, (1.0, 2.0), (1.0, 0.25))
    check_against_differences(smallest_twice, (3.0, 2.0), (1.0, 0.25))
    check_against_differences(sorted_weighted, (1.3, 0.7, 0.2), (1.0, -0.5, 0.3))
    check_against_differences(sorted_weighted, (0.3, 2.7, 0.9), (0.2, 1.0, -0.7))
    x = np.array([0.3, -1.2, 2.5, 0.9])
    check_against_differences(sorted_reverse_array, (x,), (np.array([1.0, 0.5, -2.0, 0.3]),))


def test_f4_sorted_matches_reverse_mode():
    args = (1.3, 0.7, 0.2)
    gradient = grad(sorted_weighted, wrt=(0, 1, 2))(*args)
    u = (0.4, -1.1, 0.6)
    _, tangent = jvp(sorted_weighted, args, u)
    assert tangent == pytest.approx(sum(g * v for g, v in zip(gradient, u)), rel=1e-12)


# -- F5 and F11: messages that name what the user wrote -----------------------------------
def apply_each(x):
    for op in (np.sin, np.cos):
        x = op(x)
    return x


def apply_fn(x, fn):
    return fn(x) * 2.0


def cube(v):
    return v * v * v


def test_f5_calling_function_values_from_tuples_and_arguments():
    # supported since the forward-mode dispatcher (dispatch_forward.py)
    check_against_differences(apply_each, (0.5,), (1.0,))
    assert jvp(apply_each, (0.5,), (1.0,))[1] == pytest.approx(grad(apply_each)(0.5), rel=1e-14)
    for fn, derivative in ((np.tanh, 1 - np.tanh(0.7) ** 2), (cube, 3 * 0.7**2)):
        value, tangent = jvp(apply_fn, wrt=0)((0.7, fn), (1.0,))
        assert value == apply_fn(0.7, fn)
        assert tangent == pytest.approx(2.0 * derivative, rel=1e-14)


def test_f5_a_closure_as_function_value_is_refused_naming_the_call():
    scale = 3.0

    def closure(v):
        return v * scale

    with pytest.raises(ADTransformError, match=r"fn\(x\).*module level"):
        jvp(apply_fn, wrt=0)((0.7, closure), (1.0,))
    with pytest.raises(ADTransformError, match=r"fn\(x\).*module level"):
        grad(apply_fn)(0.7, closure)  # reverse mode refuses it the same way


def put_into_zeros(s):
    a = np.zeros(3)
    np.put(a, [0, 2], s * 3.0)
    return np.sum(a)


def test_f11_np_put_refusal_names_np_put():
    try:
        _, tangent = jvp(put_into_zeros, (1.3,), (1.0,))
    except ADTransformError as error:  # no tangent rule yet: the message says np.put
        assert "np.put" in str(error)
    else:  # a tangent rule exists (helper "tangents"): then it must be right
        assert tangent == pytest.approx(6.0, rel=1e-14)


# -- dtype=int constructors and reductions: zero tangents --------------------------------------
def full_int(x):
    return np.sum(np.full(3, x * 4.0, dtype=int)) * 1.0 + x


def full_like_int(x):
    return np.sum(np.full_like(np.zeros(2, dtype=int), x * 4.0)) * 1.0 + x


def full_like_int_dtype(x):
    return np.sum(np.full_like(np.zeros(2), x * 4.0, dtype=np.int32)) + x


def array_int(x):
    return np.sum(np.array([x * 3.0, 2.0], dtype=int)) + 2.0 * x


def int32_times(x):
    return np.sum(np.array(x * 3.0, dtype=np.int32) * x)


def sum_as_int(x):
    return np.sum(np.array([x, 2.0 * x]) * 3.7, dtype=int) + x


def linspace_int(x):
    return np.sum(np.linspace(0.0, x * 10.0, 4, dtype=int)) + x


def full_float32(x):
    return np.sum(np.full(3, x * 4.0, dtype=np.float32))


@pytest.mark.parametrize(
    ("f", "expected"),
    [
        (full_int, 1.0),
        (full_like_int, 1.0),
        (full_like_int_dtype, 1.0),
        (array_int, 2.0),
        (int32_times, 4.0),
        (sum_as_int, 1.0),
        (linspace_int, 1.0),
        (full_float32, 12.0),
    ],
)
def test_dtype_int_results_have_zero_tangent(f, expected):
    x = 1.37  # away from the jumps of the truncations
    _, tangent = jvp(f, (x,), (1.0,))
    assert tangent == pytest.approx(expected, rel=1e-6)
    # a step small against the distance to the next jump, large for float32 rounding
    difference = float(central_difference(f, (x,), (1.0,), eps=1e-3))
    assert difference == pytest.approx(expected, rel=1e-3 if f is full_float32 else 1e-9)


# -- fixed before this branch; they stay fixed (F2, F3, F8, F9, F13) ---------------------------
def int_array_write(x):
    y = np.zeros(3, dtype=int)
    y[0] = x * 10.0
    return np.sum(y * 1.0) + x


def int_array_loop(x):
    y = np.array([1, 2, 3])
    for i in range(3):
        y[i] = x * (i + 1.0)
    return np.sum(y) * x


def test_f2_writes_into_integer_arrays_have_no_tangent():
    check_against_differences(int_array_write, (1.37,), (1.0,))
    check_against_differences(int_array_loop, (1.3,), (1.0,))


def test_f3_dtype_int_constructors():
    check_against_differences(array_int, (1.37,), (1.0,))
    check_against_differences(int32_times, (1.37,), (1.0,))


def array_times_list(s, a):
    v = np.array([s, 1.0])
    return np.sum(v * [a, 2.0 * a])


def tuple_times_array(s, a):
    v = np.array([s, 1.0])
    return np.sum((a, 3.0 * a) * v)


def constant_list_weights(s):
    v = np.array([s, 2.0 * s])
    w = [0.5, 3.0]
    return np.sum(v * w)


def in_place_list_operand(s, a):
    v = np.array([s, 1.0])
    v *= [a, 1.0]
    return np.sum(v)


def test_f8_f9_array_and_list_products():
    check_against_differences(array_times_list, (1.3, 0.9), (1.0, 1.0))
    check_against_differences(tuple_times_array, (1.3, 0.9), (1.0, -0.5))
    check_against_differences(constant_list_weights, (1.3,), (1.0,))
    check_against_differences(in_place_list_operand, (1.3, 0.9), (1.0, 1.0))


def swap(x, y):
    a, b = x, y
    a, b = b, a
    return a * 3.0 + b


def swap_in_branch(x, y):
    a, b = x * 1.0, y * 2.0
    if x > 0:
        a, b = b, a
    return a * 3.0 + b


def test_f13_tuple_swap():
    assert jvp(swap, (1.0, 2.0), (1.0, 0.0)) == (7.0, 1.0)
    assert value_and_grad(swap, wrt=(0, 1))(1.0, 2.0) == (7.0, (1.0, 3.0))
    check_against_differences(swap_in_branch, (1.0, 2.0), (1.0, 0.5))
    check_against_differences(swap_in_branch, (-1.0, 2.0), (1.0, 0.5))


# -- F10's kind: a list read from a container argument (its kind known only when it runs) --
def log_of_dict_list(d):
    return np.sum(np.log(d["w"]) * 2.0)


def square_of_nested_list(ws):
    return np.sum(np.square(ws[0]) * np.array([1.0, 3.0]))


def test_f10_lists_read_from_containers():
    value, tangent = jvp(log_of_dict_list, ({"w": [1.5, 2.0]},), ({"w": [1.0, 0.5]},))
    assert value == log_of_dict_list({"w": [1.5, 2.0]})
    assert tangent == pytest.approx(2.0 * (1.0 / 1.5 + 0.5 / 2.0), rel=1e-15)
    _, tangent = jvp(square_of_nested_list, ([[1.5, 2.0]],), ([[1.0, 0.5]],))
    assert tangent == pytest.approx(2 * 1.5 * 1.0 + 3.0 * 2 * 2.0 * 0.5, rel=1e-15)
