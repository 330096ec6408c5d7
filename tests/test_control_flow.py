"""Control-flow matrix: every construct's gradient against central finite differences.

For each construct (``if``/``elif``/``else``, ``and``/``or``/``not``, ``a if c else b``,
``for`` over ranges, sequences, array rows, ``enumerate`` and ``zip``, ``while``,
``break``, ``continue``, early ``return``, helper calls, recursion) the gradient is
compared with central finite differences in float64 (``check_grad``), the value
returned by ``value_and_grad`` with a direct call of the function, and the inputs are
checked to be left unchanged. Points are chosen away from branch boundaries and from
points where a trip count changes (a finite difference across one would make the check
fail, never pass); where the path depends on the data it is asserted or noted.

Counting side effects (appending to the module-level ``TRACE`` list, which is
inactive) show that the forward sweep runs exactly the iterations the plain function
runs: no more (``break``/``return`` really stop it), no fewer.

Expected values are derived by hand or by finite differences, never taken from the
tool's own output.
"""

from __future__ import annotations

import copy
import math
import tracemalloc

import numpy as np
import pytest
from gradcheck import check_grad, check_vjp_dot_product, numerical_gradient

from ad_transform import grad, value_and_grad, vjp

TRACE: list = []


def _same(a, b) -> bool:
    """Deep equality of arguments (arrays compared element-wise, dtype and shape too)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (
            isinstance(a, np.ndarray)
            and isinstance(b, np.ndarray)
            and a.dtype == b.dtype
            and a.shape == b.shape
            and np.array_equal(a, b)
        )
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def _assert_inputs_unchanged(args, before, what: str) -> None:
    for i, (a, b) in enumerate(zip(args, before)):
        assert _same(a, b), f"argument {i} was modified by {what}: {b!r} became {a!r}"


def check(f, args, wrt=0):
    """Gradient vs finite differences, value_and_grad vs a plain call, inputs untouched."""
    args = list(args)
    before = copy.deepcopy(args)
    expected_value = f(*args)
    gradient = check_grad(f, args, wrt)
    _assert_inputs_unchanged(args, before, f"grad({f.__name__})")
    value, gradient_too = value_and_grad(f, wrt=wrt)(*args)
    _assert_inputs_unchanged(args, before, f"value_and_grad({f.__name__})")
    np.testing.assert_allclose(
        value,
        expected_value,
        rtol=1e-13,
        atol=0,
        err_msg=f"value_and_grad({f.__name__}) returned a wrong value",
    )
    gradients = (gradient,) if isinstance(wrt, int) else gradient
    gradients_too = (gradient_too,) if isinstance(wrt, int) else gradient_too
    assert len(gradients_too) == len(gradients)
    for g, h in zip(gradients, gradients_too):
        np.testing.assert_allclose(
            np.asarray(h, dtype=np.float64),
            np.asarray(g, dtype=np.float64),
            rtol=1e-12,
            atol=0,
            err_msg=f"value_and_grad({f.__name__}) and grad disagree on the gradient",
        )
    return gradient


def check_vjp(f, args, wrt=0, seed=0):
    """The dot-product test of vjp with a random non-uniform cotangent; inputs untouched."""
    args = list(args)
    before = copy.deepcopy(args)
    check_vjp_dot_product(f, args, wrt, rng=np.random.default_rng(seed))
    _assert_inputs_unchanged(args, before, f"vjp({f.__name__})")


# =========================================================================================
# if / elif / else
# =========================================================================================


def if_else(x):
    if x > 1.0:
        y = x * x
    else:
        y = math.sin(x)
    return y * 2.0


def if_reassigned_in_one_branch(x):
    y = x * 3.0
    if x > 1.0:
        y = math.exp(x)
    return y


def if_elif_else(x):
    if x < -1.0:
        y = x**3
    elif x < 1.0:
        y = math.sin(x) * x
    elif x < 3.0:
        y = math.exp(x)
    else:
        y = x * x * 0.5
    return y + x


def nested_if(x, y):
    if x > 0.0:
        if y > 0.0:
            z = x * y
        else:
            z = x - y * y
    else:
        if y > x:
            z = math.cos(x) * y
        else:
            z = x * x + y
    return z * x


def computed_condition(x, y):
    t = x * y - math.sin(x)
    if t * t > 1.0:
        r = t * x
    else:
        r = t + y * y
    return r


def bool_ops(x, y):
    if x > 0.0 and y > 0.0:
        r = x * y
    elif x > 0.0 or y > 0.0:
        r = x + y * y
    elif not x < -1.0:
        r = math.sin(x) * y
    else:
        r = x * x * y
    return r


def three_way_and_or(x, y, z):
    if x > 0.0 and y > 0.0 and z > 0.0:
        r = x * y * z
    elif x < 0.0 or y < 0.0 or z < 0.0:
        r = x + y * z
    else:
        r = x * 2.0
    return r


def short_circuit_and(x):
    y = x * 2.0
    if x > 0 and math.log(x) > 0.1:
        y = x * x
    return y


def short_circuit_or(x):
    y = x * 2.0
    if x <= 0 or math.log(x) < 0.1:
        y = x * x * x
    return y


def short_circuit_value(x):
    # the value of ``and`` / ``or`` itself is the operand that decided it
    a = x > 0 and math.sqrt(x)
    b = x <= 0 or math.log(x)
    return a * 3.0 + b


def branch_local(x):
    y = x
    if x > 0.0:
        t = math.exp(x)
        u = t * x
        y = u + t
    return y * x


def conditional_expression(x, y):
    z = x * y if x > y else x + y * y
    return z * 2.0 + (math.sin(x) if y > 0 else y * x)


def nested_conditional_expression(x):
    return x * x if x > 1.0 else (math.sin(x) if x > -1.0 else x * 3.0)


def if_in_loop_by_index(x):
    y = x
    for i in range(6):
        if i % 2 == 0:
            y = y * x
        else:
            y = math.sin(y) + x
    return y


def if_in_loop_by_value(x):
    y = x
    for _ in range(8):
        if y > 1.0:
            TRACE.append(1)
            y = y * 0.5 + x
        else:
            TRACE.append(0)
            y = y * y + x
    return y


@pytest.mark.parametrize("x", [2.0, 0.3, -0.7], ids=["taken", "not-taken", "negative"])
def test_if_else(x):
    check(if_else, [x])


@pytest.mark.parametrize("x", [2.0, 0.5], ids=["taken", "not-taken"])
def test_variable_reassigned_in_one_branch_only(x):
    g = check(if_reassigned_in_one_branch, [x])
    assert g == pytest.approx(math.exp(x) if x > 1.0 else 3.0, rel=1e-12)


@pytest.mark.parametrize("x", [-2.0, 0.4, 2.0, 4.0], ids=["if", "elif-1", "elif-2", "else"])
def test_if_elif_else(x):
    check(if_elif_else, [x])


@pytest.mark.parametrize(
    "x, y", [(1.5, 0.7), (1.5, -0.7), (-0.5, 0.8), (-0.5, -1.2)], ids=["++", "+-", "-+", "--"]
)
def test_nested_if(x, y):
    check(nested_if, [x, y], wrt=(0, 1))


@pytest.mark.parametrize("x, y", [(2.0, 1.5), (0.5, 0.8)], ids=["t*t>1", "t*t<=1"])
def test_condition_on_computed_value(x, y):
    # t = 2*1.5 - sin 2 = 2.09 (t*t = 4.4); t = 0.4 - sin 0.5 = -0.079 (t*t = 0.006)
    check(computed_condition, [x, y], wrt=(0, 1))


@pytest.mark.parametrize(
    "x, y",
    [(1.0, 2.0), (1.0, -2.0), (-2.0, 1.5), (-0.5, -2.0), (-2.0, -1.0)],
    ids=["and", "or-left", "or-right", "not", "else"],
)
def test_and_or_not_in_conditions(x, y):
    check(bool_ops, [x, y], wrt=(0, 1))


@pytest.mark.parametrize(
    "x, y, z",
    [(1.0, 2.0, 0.5), (1.0, -2.0, 0.5), (1.0, 2.0, -0.5), (-1.0, 2.0, 0.5)],
    ids=["all", "second-negative", "third-negative", "first-negative"],
)
def test_chained_and_or(x, y, z):
    check(three_way_and_or, [x, y, z], wrt=(0, 1, 2))


def test_chained_and_or_else():
    # y == 0: neither 'all positive' nor 'one negative'; only x is perturbed
    g = check(three_way_and_or, [1.0, 0.0, 2.0], wrt=0)
    assert g == pytest.approx(2.0, rel=1e-12)


@pytest.mark.parametrize("x", [-1.0, 0.5, 2.0], ids=["log-not-evaluated", "false", "true"])
def test_short_circuit_and(x):
    # math.log(-1.0) raises ValueError: the gradient code must not evaluate it either
    g = check(short_circuit_and, [x])
    assert g == pytest.approx(2.0 * x if x > math.exp(0.1) else 2.0, rel=1e-12)


@pytest.mark.parametrize("x", [-1.0, 0.5, 2.0], ids=["log-not-evaluated", "true", "false"])
def test_short_circuit_or(x):
    g = check(short_circuit_or, [x])
    assert g == pytest.approx(3.0 * x * x if x < math.exp(0.1) else 2.0, rel=1e-12)


@pytest.mark.parametrize("x", [0.5, 2.0])
def test_value_of_and_or(x):
    # a = sqrt(x), b = log(x): d/dx = 3 / (2 sqrt x) + 1 / x
    g = check(short_circuit_value, [x])
    assert g == pytest.approx(1.5 / math.sqrt(x) + 1.0 / x, rel=1e-12)


@pytest.mark.parametrize("x", [1.2, -0.8], ids=["defined", "not-defined"])
def test_variable_defined_in_one_branch_only(x):
    check(branch_local, [x])


@pytest.mark.parametrize(
    "x, y", [(2.0, 1.0), (0.5, 1.5), (0.5, -1.5), (-0.5, -1.5)], ids=["a,a", "b,a", "b,b", "a,b"]
)
def test_conditional_expression(x, y):
    check(conditional_expression, [x, y], wrt=(0, 1))


@pytest.mark.parametrize("x", [2.0, 0.3, -2.0])
def test_nested_conditional_expression(x):
    check(nested_conditional_expression, [x])


@pytest.mark.parametrize("x", [0.7, 1.3])
def test_if_in_loop_branch_alternates(x):
    check(if_in_loop_by_index, [x])


def test_if_in_loop_branch_depends_on_data():
    # at x = 0.4 the branch sequence is 0,0,0,0,1,1,0,1; |y - 1| >= 0.013 at every test
    TRACE.clear()
    if_in_loop_by_value(0.4)
    assert TRACE == [0, 0, 0, 0, 1, 1, 0, 1]
    check(if_in_loop_by_value, [0.4])


# =========================================================================================
# for
# =========================================================================================


def for_range(x, n):
    y = x
    for _ in range(n):
        y = y * x + math.sin(y)
    return y


def for_range_start_stop_step(x, start, stop, step):
    y = x
    for i in range(start, stop, step):
        y = y * x + i * 0.25
    return y


def for_range_literal_negative_step(x):
    y = x
    for i in range(10, 0, -3):  # 10, 7, 4, 1
        y = y * 0.5 + x * i
    return y


def loop_variable_in_body(x):
    y = 0.0
    for i in range(1, 6):
        y = y + x * i
        y = y * 0.9 + math.sin(x * i) / i
    return y


def over_sequence(x, values):
    y = x
    for v in values:
        y = y * v + math.sin(y * x)
    return y


def over_literal_tuple(x):
    y = x
    for v in (0.5, 1.5, -2.0):
        y = y * v + x
    return y


def over_rows(X, w):
    s = 0.0
    for row in X:
        s = s + np.sum(row * w)
    return s


def over_rows_nonlinear(X, w):
    s = 0.0
    for row in X:
        s = s * 0.5 + np.sum(np.sin(row * w) * row)
    return s


def over_enumerate(X, w):
    s = 0.0
    for i, row in enumerate(X):
        s = s + np.sum(np.tanh(row * w)) * (i + 1)
    return s


def over_enumerate_list(x, values):
    y = x
    for i, v in enumerate(values):
        y = y * v + x * i
    return y


def over_zip(a, b, x):
    s = x
    for p, q in zip(a, b):
        s = s * p + np.sin(q * s)
    return s


def over_zip_rows(A, B):
    s = 0.0
    for r, q in zip(A, B):
        s = s + np.sum(r * q) * s + np.sum(np.cos(r))
    return s


def swap_carried(x, y):
    a, b = x, y
    for _ in range(4):
        a, b = b, a * b
    return a + b * 2.0


def rotate_three(x, y, z):
    a, b, c = x, y, z
    for _ in range(5):
        a, b, c = b + c, c * a, math.sin(a)
    return a + b + c


def nested_loops_2(x):
    y = x
    for i in range(3):
        for j in range(i + 1):
            y = y * 0.9 + math.sin(x * j + y)
    return y


def nested_loops_3(x, w):
    s = x
    for i in range(2):
        for j in range(3):
            for k in range(j):
                s = math.sin(s * w + i) + k * 0.1 * s
    return s


def nested_loops_3_arrays(X, w):
    s = 0.0
    for i in range(2):
        for row in X:
            for j in range(2):
                s = s + np.sum(np.sin(row * w * (i + j + 1)))
    return s


def loop_in_if(x, n):
    y = x
    if x > 0.5:
        for i in range(n):
            y = y * x + 0.1 * i
    else:
        for _ in range(n):
            y = math.sin(y) * x
    return y


def if_in_loop_in_if(x):
    y = x
    if x > 0.0:
        for i in range(5):
            if i < 2:
                y = y * x
            else:
                y = y + math.cos(y)
    return y


@pytest.mark.parametrize("n", [0, 1, 5])
def test_for_range(n):
    g = check(for_range, [0.8, n])
    if n == 0:
        assert g == 1.0


@pytest.mark.parametrize(
    "start, stop, step",
    [(1, 7, 2), (7, 1, -2), (3, -4, -3), (5, 5, 1), (5, 2, 1), (2, 6, 1), (-3, 0, 1)],
    ids=[
        "step2",
        "negative-step",
        "negative-step-past-zero",
        "empty",
        "empty-reversed",
        "step1",
        "negative-start",
    ],
)
def test_for_range_start_stop_step(start, stop, step):
    g = check(for_range_start_stop_step, [1.1, start, stop, step])
    # y_{k+1} = x y_k + c_k, y_0 = x: dy_{k+1}/dx = x dy_k/dx + y_k (forward recurrence)
    x, y, dy = 1.1, 1.1, 1.0
    for i in range(start, stop, step):
        y, dy = y * x + i * 0.25, dy * x + y
    assert g == pytest.approx(dy, rel=1e-12)


def test_for_range_literal_negative_step():
    # y = x/16 + x (10/8 + 7/4 + 4/2 + 1) -> dy/dx = 1/16 + 6
    g = check(for_range_literal_negative_step, [0.7])
    assert g == pytest.approx(1.0 / 16.0 + 10.0 / 8.0 + 7.0 / 4.0 + 4.0 / 2.0 + 1.0, rel=1e-12)


def test_loop_variable_used_in_body():
    check(loop_variable_in_body, [0.7])


@pytest.mark.parametrize("values", [[0.5, 1.5, -0.7], (0.5, 1.5, -0.7), [], (2.0,)])
def test_for_over_list_and_tuple(values):
    check(over_sequence, [0.6, values])


def test_for_over_literal_tuple():
    # y1 = 0.5 x + x = 1.5 x, y2 = 2.25 x + x = 3.25 x, y3 = -6.5 x + x = -5.5 x
    g = check(over_literal_tuple, [0.9])
    assert g == pytest.approx(-5.5, rel=1e-12)


@pytest.mark.parametrize("wrt", [0, 1, (0, 1)])
def test_for_over_array_rows(wrt):
    X = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
    w = np.array([0.3, -0.2, 0.9])
    g = check(over_rows, [X, w], wrt=wrt)
    # s = sum_ij X_ij w_j: ds/dX = w broadcast over rows, ds/dw = column sums of X
    expected = {0: np.tile(w, (2, 1)), 1: X.sum(axis=0)}
    got = g if isinstance(wrt, tuple) else (g,)
    for position, gradient in zip(wrt if isinstance(wrt, tuple) else (wrt,), got):
        np.testing.assert_allclose(gradient, expected[position], rtol=1e-12)


def test_for_over_array_rows_nonlinear():
    rng = np.random.default_rng(1)
    X, w = rng.standard_normal((4, 3)), rng.standard_normal(3)
    check(over_rows_nonlinear, [X, w], wrt=(0, 1))


def test_for_over_empty_array():
    X = np.zeros((0, 3))
    w = np.array([0.3, -0.2, 0.9])
    g = check(over_rows, [X, w], wrt=(0, 1))
    np.testing.assert_array_equal(g[1], np.zeros(3))


def test_enumerate_over_array_rows():
    rng = np.random.default_rng(2)
    X, w = rng.standard_normal((3, 4)), rng.standard_normal(4)
    check(over_enumerate, [X, w], wrt=(0, 1))


def test_enumerate_over_list():
    # y1 = 0.5 x + 0 x, y2 = 2 y1 + 1 x = 2 x, y3 = -y2 + 2 x = 0: dy/dx = 0
    g = check(over_enumerate_list, [0.9, [0.5, 2.0, -1.0]])
    assert g == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("wrt", [(0, 1, 2), 0, 1, 2])
def test_zip_of_arrays(wrt):
    a = np.array([0.5, 1.2, -0.8, 0.3])
    b = np.array([1.1, -0.4, 0.7, 2.0])
    check(over_zip, [a, b, 0.6], wrt=wrt)


def test_zip_of_array_rows():
    rng = np.random.default_rng(3)
    A, B = rng.standard_normal((3, 2)) * 0.5, rng.standard_normal((3, 2)) * 0.5
    check(over_zip_rows, [A, B], wrt=(0, 1))


def test_several_loop_carried_variables_swapped():
    # (a, b): (x, y) -> (y, xy) -> (xy, xy^2) -> (xy^2, x^2y^3) -> (x^2y^3, x^3y^5)
    x, y = 1.1, 0.9
    gx, gy = check(swap_carried, [x, y], wrt=(0, 1))
    assert gx == pytest.approx(2 * x * y**3 + 2.0 * 3 * x**2 * y**5, rel=1e-12)
    assert gy == pytest.approx(3 * x**2 * y**2 + 2.0 * 5 * x**3 * y**4, rel=1e-12)


def test_three_loop_carried_variables_rotated():
    check(rotate_three, [0.4, 0.7, -0.3], wrt=(0, 1, 2))


def test_nested_loops_two_deep():
    check(nested_loops_2, [0.6])


def test_nested_loops_three_deep():
    check(nested_loops_3, [0.6, 0.8], wrt=(0, 1))


def test_nested_loops_three_deep_over_arrays():
    rng = np.random.default_rng(4)
    X, w = rng.standard_normal((2, 3)), rng.standard_normal(3)
    check(nested_loops_3_arrays, [X, w], wrt=(0, 1))


@pytest.mark.parametrize("x, n", [(0.9, 3), (0.2, 3), (0.9, 0)], ids=["then", "else", "empty"])
def test_loop_inside_if(x, n):
    check(loop_in_if, [x, n])


@pytest.mark.parametrize("x", [0.8, -0.8])
def test_if_inside_loop_inside_if(x):
    check(if_in_loop_in_if, [x])


def loop_variable_after_loop(x):
    y = x
    for i in range(4):  # noqa: B007 -- i is read after the loop
        y = y * x
    return y * i


def element_after_loop(x, values):
    y = x
    for v in values:
        y = y * v + x
    return y * v


def first_assigned_in_loop(x):
    for i in range(3):
        t = x * i + 1.0
    return t * x


def test_loop_variable_used_after_the_loop():
    # y = x^5 * 3
    g = check(loop_variable_after_loop, [1.2])
    assert g == pytest.approx(15 * 1.2**4, rel=1e-12)


def test_loop_element_used_after_the_loop():
    check(element_after_loop, [1.2, [0.5, 1.5, 2.0]])


def test_variable_first_assigned_inside_loop():
    # t = 2x + 1 after the loop: d/dx (2x + 1) x = 4x + 1
    g = check(first_assigned_in_loop, [1.2])
    assert g == pytest.approx(4 * 1.2 + 1.0, rel=1e-12)


def loop_target_rebinds_parameter(x, values):
    y = x * 2.0
    for x in values:  # the parameter is rebound by the loop on purpose
        y = y * x
    return y


def loop_target_rebinds_active_local(x, values):
    v = x * 3.0
    y = v
    for v in values:
        y = y * v
    return y


def range_target_rebinds_active_local(x):
    i = x * 3.0
    y = i
    for i in range(1, 4):
        y = y * i
    return y


LOOP_TARGET_REBINDS = (
    "a loop whose target rebinds a name holding an active value: enter_loop copies the "
    "old value into the loop-carried version (x_1 = x) and the backward sweep adds that "
    "version's adjoint, which holds the adjoints of the loop elements, to the old value "
    "(dx = dx_1): silently wrong gradient"
)


def test_loop_target_rebinds_a_parameter():
    # y = 2 x * 0.5 * 1.5 * 2: dy/dx = 3
    g = check(loop_target_rebinds_parameter, [0.7, [0.5, 1.5, 2.0]])
    assert g == pytest.approx(3.0, rel=1e-12)


def test_loop_target_rebinds_an_active_local():
    g = check(loop_target_rebinds_active_local, [0.7, [0.5, 1.5, 2.0]])
    assert g == pytest.approx(4.5, rel=1e-12)


def test_range_target_rebinds_an_active_local():
    # y = 3 x * 1 * 2 * 3: dy/dx = 18
    g = check(range_target_rebinds_active_local, [0.7])
    assert g == pytest.approx(18.0, rel=1e-12)


def tuple_target_over_list(x, pairs):
    y = x
    for a, b in pairs:
        y = y * a + b * x
    return y


def tuple_target_over_rows(X):
    y = 1.0
    for a, b in X:
        y = y * a + b
    return y


def enumerate_with_start(X, w):
    s = 0.0
    for i, row in enumerate(X, 1):
        s = s + np.sum(row * w) * i
    return s


def enumerate_nested_target(x, pairs):
    y = x
    for i, (a, b) in enumerate(pairs):
        y = y * a + b * x + i
    return y


UNPACKING_TARGET_DROPPED = (
    "a for loop whose target is unpacked from a generic iterable: "
    "normalize_control.indexed_iteration builds a new For whose body starts with the unpacking "
    "'a, b = item1', but stmt_For normalizes the original stmt.body, so the unpacking is "
    "lost and the generated code raises NameError"
)


def test_tuple_target_over_list_of_pairs():
    # y = (x * 0.5 + x) * 1.5 - 2 x = 0.25 x: dy/dx = 0.25
    g = check(tuple_target_over_list, [0.6, [(0.5, 1.0), (1.5, -2.0)]])
    assert g == pytest.approx(0.25, rel=1e-12)


def test_tuple_target_over_array_rows():
    check(tuple_target_over_rows, [np.array([[0.5, 1.0], [1.5, -2.0], [0.7, 0.3]])])


def test_enumerate_with_start():
    X = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
    check(enumerate_with_start, [X, np.array([0.3, -0.2, 0.9])], wrt=(0, 1))


def test_enumerate_with_nested_target():
    check(enumerate_nested_target, [0.6, [(0.5, 1.0), (1.5, -2.0)]])


# =========================================================================================
# while
# =========================================================================================


def while_grow(x):
    y = x
    while y < 10.0:
        TRACE.append(y)
        y = y * x
    return y


def newton_sqrt(a):
    y = a
    while y * y - a > 1e-12 * a:
        TRACE.append(y)
        y = 0.5 * (y + a / y)
    return y


def while_true_break(x):
    y = x
    k = 0
    while True:
        TRACE.append(k)
        y = y * 0.5 + math.sin(x)
        k = k + 1
        if k >= 4:
            break
    return y


def while_true_data_break(x):
    y = x
    while True:
        TRACE.append(y)
        y = y * 1.5 + x
        if y > 5.0:
            break
    return y * x


def while_with_if(x):
    y = x
    k = 0
    while k < 6:
        if y > 1.0:
            y = y * 0.6 + x
        else:
            y = y * y + 0.5
        k = k + 1
    return y


def test_while_data_dependent_trip_count():
    # 1.7 -> 2.89 -> 4.913 -> 8.352 -> 14.199: four iterations, y = x^5
    TRACE.clear()
    assert while_grow(1.7) == pytest.approx(1.7**5, rel=1e-14)
    assert len(TRACE) == 4
    g = check(while_grow, [1.7])
    assert g == pytest.approx(5 * 1.7**4, rel=1e-12)


def test_while_zero_iterations():
    TRACE.clear()
    g = check(while_grow, [12.0])
    assert TRACE == []
    assert g == 1.0


def test_while_newton_iterations():
    # Newton's method for sqrt(a) from above: d sqrt(a) / da = 1 / (2 sqrt a)
    TRACE.clear()
    newton_sqrt(3.0)
    assert len(TRACE) >= 4
    g = check(newton_sqrt, [3.0])
    assert g == pytest.approx(0.5 / math.sqrt(3.0), rel=1e-9)


def test_while_true_with_break():
    # four steps of y <- y/2 + sin x: dy/dx = 1/16 + cos x (1 + 1/2 + 1/4 + 1/8)
    g = check(while_true_break, [0.7])
    assert g == pytest.approx(1.0 / 16.0 + math.cos(0.7) * 1.875, rel=1e-12)


def test_while_true_with_data_dependent_break():
    # x = 0.8: 2.0, 3.8, 6.5 -> three iterations
    check(while_true_data_break, [0.8])


@pytest.mark.parametrize("x", [0.6, 1.4])
def test_while_with_if_inside(x):
    check(while_with_if, [x])


def while_and_condition(x):
    y = x
    k = 0
    while y < 10.0 and k < 5:
        TRACE.append(k)
        y = y * x + 0.5
        k = k + 1
    return y


@pytest.mark.parametrize(
    "x, iterations", [(1.7, 3), (1.2, 5)], ids=["value-stops", "counter-stops"]
)
def test_while_with_and_in_condition(x, iterations):
    # 1.7: 3.39, 6.26, 11.15 (> 10 after three); 1.2: y stays below 10, k stops it at five
    TRACE.clear()
    while_and_condition(x)
    assert len(TRACE) == iterations
    check(while_and_condition, [x])


# Guards on break/return flags ("if not broke: ...") are true in every iteration but the
# last, so the backward sweep keeps only their last value (per run of the loop, when the
# loop is nested); these cases make that last value differ between runs.


def while_in_for(x):
    y = x
    for i in range(4):
        z = y
        while z < 1.5 + i:
            z = z * 1.3 + x * 0.1
        y = z * 0.5 + math.sin(y)
    return y


def break_mid_body_in_outer_loop(x):
    y = x
    for i in range(3):
        for _ in range(5):
            y = y * 1.1 + x * 0.2
            if y > 2.0 + i:
                break
            y = y - 0.05 * x
    return y


def return_from_nested_loop(x):
    y = x
    for _ in range(3):
        for _ in range(3):
            y = y * 1.2 + x
            if y > 4.0:
                return y * 2.0
            y = y * 0.9
    return y


@pytest.mark.parametrize("x", [0.4, 1.1, 2.9])  # inner trip counts 5,3,2,2 / 1,2,2,2 / 0,2,1,2
def test_while_nested_in_for(x):
    check(while_in_for, [x])


@pytest.mark.parametrize("x", [0.3, 0.6])  # 0.6: runs to the end once, then breaks twice
def test_break_mid_body_in_an_outer_loop(x):
    check(break_mid_body_in_outer_loop, [x])


@pytest.mark.parametrize("x", [0.2, 0.5])
def test_return_from_a_nested_loop(x):
    check(return_from_nested_loop, [x])


def while_affine(x):
    y = x
    while y < 10.0:
        y = y * 1.5 + x
    return y


def test_an_affine_while_loop_records_no_tape():
    """The guard of its body is true but in the last iteration: the trip count is enough."""
    source = grad(while_affine).source_for(0.5)
    assert "push" not in source and "pop" not in source
    # 0.5, 1.25, 2.375, 4.0625, 6.59375, 10.390625: five steps of y <- 1.5 y + x
    assert grad(while_affine)(0.5) == pytest.approx(1.5**5 + sum(1.5**k for k in range(5)))


# =========================================================================================
# break / continue / return, and the forward sweep stopping where the function stops
# =========================================================================================


def break_loop(x, limit):
    y = x
    for i in range(10):
        TRACE.append(i)
        y = y * x
        if y > limit:
            break
        y = y + 0.1
    return y


def break_nested_inner(x):
    y = x
    for i in range(4):
        for j in range(4):
            TRACE.append((i, j))
            y = y * 1.2 + x * 0.1
            if j >= i:
                break
        y = math.sin(y) + x
    return y


def continue_first(x):
    y = x
    for i in range(5):
        if i == 0:
            continue
        TRACE.append(i)
        y = y * 0.8 + math.sin(x * i)
    return y


def continue_some(x):
    y = x
    for i in range(8):
        y = y + x * 0.1
        if i % 3 == 1:
            continue
        TRACE.append(i)
        y = y * 1.3 - math.sin(y)
    return y


def continue_by_value(x):
    y = x
    for _ in range(8):
        y = y * 0.9 + x
        if math.sin(3.0 * y) > 0.0:
            TRACE.append(0)
            continue
        TRACE.append(1)
        y = y * y * 0.3
    return y


def return_in_loop(x):
    y = x
    for i in range(10):
        TRACE.append(i)
        y = y * x
        if y > 4.0:
            return y * 2.0
    return y - 1.0


def return_in_nested_loop(x):
    y = x
    for i in range(5):
        for j in range(5):
            TRACE.append((i, j))
            y = y * 1.1 + x * 0.1
            if y > 3.0:
                return y * x
    return y


def return_in_while(x):
    y = x
    while True:
        TRACE.append(y)
        y = y * 1.5 + math.sin(x)
        if y > 6.0:
            return y * y
        if y < -6.0:
            return -y


def several_returns(x):
    if x < -1.0:
        return x * x
    if x < 1.0:
        y = math.sin(x)
        if y > 0.0:
            return y * x
        return y - x
    return math.exp(-x) * 3.0


def return_in_else(x):
    y = x * x
    if y > 2.0:
        z = y * 0.5
    else:
        return y * x
    return z + x


def break_continue_return(x):
    y = x
    for i in range(10):
        TRACE.append(i)
        if i == 1:
            continue
        y = y * 1.2 + x
        if y > 50.0:
            return y * 0.5
        if y > 20.0:
            break
    return y


def while_in_while(x):
    y = x
    outer = 0
    while True:
        inner = 0
        while True:
            TRACE.append((outer, inner))
            y = y * 1.1 + math.sin(x)
            inner = inner + 1
            if inner >= outer + 1:
                break
        outer = outer + 1
        if y > 4.0:
            break
    return y


def return_from_while_in_for(x):
    y = x
    for i in range(5):
        k = 0
        while k < 3:
            TRACE.append((i, k))
            y = y * 1.2 + x
            if y > 20.0:
                return y - x * i
            k = k + 1
    return y


def loop_with_break_in_if_in_loop(x):
    y = x
    for i in range(4):
        if i % 2 == 1:
            for j in range(5):
                TRACE.append((i, j))
                y = y * 0.8 + x
                if j >= i:
                    break
        else:
            y = math.sin(y) + x
    return y


def continue_then_break(x):
    y = x
    i = 0
    while True:
        i = i + 1
        TRACE.append(i)
        if i % 2 == 0:
            continue
        y = y * 1.5 + x
        if y > 30.0:
            break
    return y


def test_break_out_of_while_in_while():
    # x = 0.9: the outer loop runs three times (1, 2, 3 inner steps), y = 5.2 > 4
    TRACE.clear()
    while_in_while(0.9)
    assert TRACE == [(0, 0), (1, 0), (1, 1), (2, 0), (2, 1), (2, 2)]
    check(while_in_while, [0.9])


@pytest.mark.parametrize("x", [1.1, 0.2], ids=["returns-after-8", "falls-through"])
def test_return_from_while_inside_for(x):
    TRACE.clear()
    return_from_while_in_for(x)
    assert len(TRACE) == (8 if x == 1.1 else 15)
    check(return_from_while_in_for, [x])


def test_break_in_loop_inside_if_inside_loop():
    TRACE.clear()
    loop_with_break_in_if_in_loop(0.6)
    assert TRACE == [(1, 0), (1, 1), (3, 0), (3, 1), (3, 2), (3, 3)]
    check(loop_with_break_in_if_in_loop, [0.6])


def test_continue_then_break_in_while_true():
    # x = 0.9: y = 2.25, 4.28, 7.31, 11.87, 18.70, 28.95, 44.33 on odd i: stops at i = 13
    TRACE.clear()
    continue_then_break(0.9)
    assert list(range(1, 14)) == TRACE
    check(continue_then_break, [0.9])


@pytest.mark.parametrize(
    "x, limit, iterations",
    [(3.0, 2.0, 1), (1.5, 5.0, 3), (1.1, 1e9, 10)],
    ids=["break-first", "break-later", "no-break"],
)
def test_break(x, limit, iterations):
    # 1.5: 2.25 (+0.1) -> 3.525 (+0.1) -> 5.4375 > 5 on the third iteration
    TRACE.clear()
    break_loop(x, limit)
    assert len(TRACE) == iterations
    check(break_loop, [x, limit])


def test_break_from_inner_loop():
    TRACE.clear()
    break_nested_inner(0.3)
    expected = [(i, j) for i in range(4) for j in range(i + 1)]
    assert expected == TRACE
    check(break_nested_inner, [0.3])


def test_continue_on_first_iteration():
    # y = 0.8^3 (0.8 x + sin x) + ... : dy/dx = 0.8^4 + sum_i 0.8^(4-i) i cos(i x)
    g = check(continue_first, [0.7])
    expected = 0.8**4 + sum(0.8 ** (4 - i) * i * math.cos(0.7 * i) for i in range(1, 5))
    assert g == pytest.approx(expected, rel=1e-12)


def continue_inner(x):
    y = x
    for i in range(3):
        for j in range(4):
            if j == i:
                continue
            TRACE.append((i, j))
            y = y * 0.9 + math.sin(x * (j + 1))
        y = y + x
    return y


def test_continue_in_inner_loop():
    TRACE.clear()
    continue_inner(0.4)
    expected = [(i, j) for i in range(3) for j in range(4) if j != i]
    assert expected == TRACE
    check(continue_inner, [0.4])


def test_continue_on_some_iterations():
    TRACE.clear()
    continue_some(0.5)
    assert TRACE == [0, 2, 3, 5, 6]
    check(continue_some, [0.5])


@pytest.mark.parametrize("x", [0.3, 0.45])
def test_continue_depends_on_data(x):
    # |sin(3 y)| >= 0.046 at every test at both points; both outcomes occur
    TRACE.clear()
    continue_by_value(x)
    assert set(TRACE) == {0, 1}
    check(continue_by_value, [x])


@pytest.mark.parametrize("x", [1.5, 1.05], ids=["returns-in-loop", "falls-through"])
def test_return_inside_loop(x):
    # 1.5: 2.25, 3.375, 5.0625 > 4 -> returns 2 x^4 on the third iteration
    TRACE.clear()
    return_in_loop(x)
    assert len(TRACE) == (3 if x == 1.5 else 10)
    g = check(return_in_loop, [x])
    assert g == pytest.approx(8 * x**3 if x == 1.5 else 11 * x**10, rel=1e-12)


@pytest.mark.parametrize("x", [0.5, 0.1], ids=["returns", "falls-through"])
def test_return_inside_nested_loop(x):
    check(return_in_nested_loop, [x])


@pytest.mark.parametrize("x", [0.5, -1.2])
def test_return_inside_while_true(x):
    check(return_in_while, [x])


@pytest.mark.parametrize("x", [-2.0, 0.5, -0.5, 2.0])
def test_several_returns(x):
    check(several_returns, [x])


def two_guarded_returns(x):
    if x > 1.0:
        return x * x
    if x > 0.0:
        return x * 3.0
    return x * 2.0


@pytest.mark.parametrize("x", [2.0, 0.5, -0.5], ids=["first", "second", "last"])
def test_two_returns_in_ifs_then_a_final_return(x):
    g = check(two_guarded_returns, [x])
    assert g == pytest.approx(2.0 * x if x > 1.0 else 3.0 if x > 0.0 else 2.0, rel=1e-12)


@pytest.mark.parametrize("x", [1.7, 0.9], ids=["falls-through", "returns-in-else"])
def test_return_inside_else(x):
    g = check(return_in_else, [x])
    assert g == pytest.approx(x + 1.0 if x * x > 2.0 else 3 * x * x, rel=1e-12)


@pytest.mark.parametrize("x", [2.0, 5.0, 30.0], ids=["break", "no-exit", "return"])
def test_break_continue_and_return_together(x):
    check(break_continue_return, [x])


STOPPING = [
    (break_loop, (3.0, 2.0)),
    (break_loop, (1.5, 5.0)),
    (break_loop, (1.1, 1e9)),
    (break_nested_inner, (0.3,)),
    (continue_first, (0.7,)),
    (continue_some, (0.5,)),
    (continue_by_value, (0.45,)),
    (return_in_loop, (1.5,)),
    (return_in_loop, (1.05,)),
    (return_in_nested_loop, (0.5,)),
    (return_in_while, (0.5,)),
    (while_grow, (1.7,)),
    (while_grow, (12.0,)),
    (newton_sqrt, (3.0,)),
    (while_true_break, (0.7,)),
    (while_true_data_break, (0.8,)),
    (break_continue_return, (2.0,)),
    (break_continue_return, (30.0,)),
    (if_in_loop_by_value, (0.4,)),
    (while_and_condition, (1.7,)),
    (while_and_condition, (1.2,)),
    (continue_inner, (0.4,)),
    (while_in_while, (0.9,)),
    (return_from_while_in_for, (1.1,)),
    (return_from_while_in_for, (0.2,)),
    (loop_with_break_in_if_in_loop, (0.6,)),
    (continue_then_break, (0.9,)),
]


@pytest.mark.parametrize("transform", [grad, value_and_grad, vjp])
@pytest.mark.parametrize("f, args", STOPPING, ids=[f"{f.__name__}{args}" for f, args in STOPPING])
def test_forward_sweep_runs_exactly_the_iterations_of_the_function(f, args, transform):
    TRACE.clear()
    f(*args)
    expected = list(TRACE)
    TRACE.clear()
    result = transform(f)(*args)
    assert expected == TRACE, "the forward sweep ran a different sequence of iterations"
    if transform is vjp:
        result[1](1.0)  # the backward sweep must not run the primal statements again
        assert expected == TRACE, "the pullback re-ran primal side effects"


# =========================================================================================
# helper functions with control flow, recursion
# =========================================================================================


def helper_loop(t, n):
    s = t
    for _ in range(n):
        if s > 1.0:
            s = s * 0.5 + t
        else:
            s = s * s + t
    return s


def calls_helper_loop(x):
    a = helper_loop(x, 4)
    b = helper_loop(a * 0.5, 3)
    return a * b


def helper_while(t):
    y = t
    while y < 5.0:
        y = y * 1.5 + t
    return y


def calls_helper_in_loop(x):
    s = 0.0
    for i in range(3):
        s = s + helper_while(x + i * 0.5) * 0.1
    return s


def helper_early_return(t):
    y = t
    for i in range(6):
        TRACE.append(i)
        y = y * 1.3 + math.sin(t)
        if y > 3.0:
            return y * t
    return y


def calls_helper_early_return(x):
    return helper_early_return(x) + helper_early_return(x * 0.2)


def helper_branch_local(t):
    if t > 0.0:
        u = math.exp(t)
        return u * t
    return t * t * 0.5


def calls_helper_branch_local(x):
    return helper_branch_local(x) + helper_branch_local(x - 2.0)


def power(x, n):
    return 1.0 if n == 0 else x * power(x, n - 1)


def calls_power(x):
    return power(x, 3) * 2.0


def recursive_with_if(x, n):
    if n <= 0:
        return x
    return math.sin(recursive_with_if(x, n - 1)) + x


def even_steps(x, n):
    if n == 0:
        return x
    return odd_steps(x * 1.5, n - 1)


def odd_steps(x, n):
    if n == 0:
        return x * x
    return even_steps(math.sin(x) + 0.5, n - 1)


@pytest.mark.parametrize("x", [0.7, 1.3])
def test_helper_with_loop_and_branches(x):
    # 0.7: both branches of helper_loop are taken; 1.3: only the first one, so names
    # assigned in the other branch are never bound in the helper's forward half
    check(calls_helper_loop, [x])


def square(t):
    return t * t


def calls_square_in_loop(x):
    s = 0.0
    for i in range(3):
        s = s + square(x + i)
    return s


HELPER_SAVED_NOT_TAPED = (
    "a helper called inside a loop: its saved state ('v_saved' from helper_fwd) is not "
    "pushed per iteration, so the backward sweep calls helper_bwd with the saved state "
    "of the last iteration for every iteration"
)


def test_helper_called_in_loop():
    # sum_i (x + i)^2 over i = 0, 1, 2: d/dx = 2 (3x + 3)
    g = check(calls_square_in_loop, [0.5])
    assert g == pytest.approx(9.0, rel=1e-12)


def calls_square_in_branch_in_loop(x):
    s = 0.0
    for i in range(4):
        if i % 2 == 0:
            s = s + square(x + i)
    return s


def test_helper_called_in_branch_in_loop():
    # x^2 + (x + 2)^2: d/dx = 4x + 4
    g = check(calls_square_in_branch_in_loop, [0.5])
    assert g == pytest.approx(6.0, rel=1e-12)


def test_helper_with_while_called_in_loop():
    # helper_while(t) runs a different number of iterations for each of the three calls
    check(calls_helper_in_loop, [0.9])


def test_helper_with_early_return():
    # x = 0.75: the first call returns on its third iteration (y = 1.66, 2.84, 4.37 > 3),
    # the second (t = 0.15) runs all six and falls through (y6 = 2.63)
    expected = [0, 1, 2, 0, 1, 2, 3, 4, 5]
    TRACE.clear()
    calls_helper_early_return(0.75)
    assert expected == TRACE
    check(calls_helper_early_return, [0.75])
    for transform in (grad, value_and_grad, vjp):
        TRACE.clear()
        transform(calls_helper_early_return)(0.75)
        assert expected == TRACE, f"{transform.__name__} ran {TRACE}"


def test_helper_with_branch_local_variable():
    # x = 1.0: the first call takes the branch (t = 1), the second does not (t = -1)
    check(calls_helper_branch_local, [1.0])


def test_helper_with_branch_local_variable_taken_in_both_calls():
    # x = 2.5: t = 2.5 and t = 0.5, both take the branch
    check(calls_helper_branch_local, [2.5])


def test_recursion_in_conditional_expression():
    g = check(power, [1.3, 4])
    assert g == pytest.approx(4 * 1.3**3, rel=1e-12)


def test_call_of_recursive_helper():
    g = check(calls_power, [1.3])
    assert g == pytest.approx(6 * 1.3**2, rel=1e-12)


@pytest.mark.parametrize("n", [0, 1, 3])
def test_recursion_with_if_statement(n):
    g = check(recursive_with_if, [0.7, n])
    if n == 0:
        assert g == 1.0


@pytest.mark.parametrize("n", [1, 2, 3])
def test_mutual_recursion(n):
    # n = 1 goes even -> odd (base case x * x), n = 3 alternates three times
    check(even_steps, [0.7, n])


def test_vjp_through_recursion():
    check_vjp(calls_power, [1.3])
    check_vjp(even_steps, [0.7, 3])


def test_mutual_recursion_base_case():
    # n == 0: no call at all, even_steps(x, 0) = x
    g = check(even_steps, [0.7, 0])
    assert g == 1.0


# =========================================================================================
# vjp through loops with array values (non-uniform cotangents)
# =========================================================================================


def array_map_loop(x, W):
    h = x
    for _ in range(3):
        h = np.tanh(W @ h) + h * 0.5
    return h


def array_rows_loop(X, w):
    acc = w * 0.5
    for row in X:
        acc = acc * 0.5 + np.sin(row * w)
    return acc


def array_while_loop(x):
    h = x
    while np.sum(h * h) < 50.0:
        h = h * 1.5 + np.sin(h)
    return h


def array_loop_with_branches(x, W):
    h = x
    for i in range(5):
        if np.sum(h) > 0.0:
            h = np.cos(W @ h) * h
        else:
            h = h * 1.2 + 0.1 * i
        if np.sum(h * h) > 20.0:
            break
    return h


@pytest.mark.parametrize("wrt", [0, 1, (0, 1)])
def test_vjp_array_map_loop(wrt):
    rng = np.random.default_rng(5)
    x, W = rng.standard_normal(3), rng.standard_normal((3, 3))
    check_vjp(array_map_loop, [x, W], wrt=wrt)


def test_vjp_array_rows_loop():
    rng = np.random.default_rng(6)
    X, w = rng.standard_normal((4, 3)), rng.standard_normal(3)
    check_vjp(array_rows_loop, [X, w], wrt=(0, 1))


def test_vjp_array_while_loop():
    x = np.array([0.3, -0.5, 0.8])
    check_vjp(array_while_loop, [x])


@pytest.mark.parametrize(
    "seed",
    [7, 8, 11, 13],
    ids=["both-branches", "else-only", "then-only", "break"],
)
def test_vjp_array_loop_with_branches(seed):
    # branch sequences (then/else, B = break): 7: t e t t t, 8: e e e e e, 11: t t t t t,
    # 13: e e B; |sum(h)| >= 0.016 and |sum(h * h) - 20| >= 0.2 along every path
    rng = np.random.default_rng(seed)
    x, W = rng.standard_normal(3), rng.standard_normal((3, 3))
    check_vjp(array_loop_with_branches, [x, W], wrt=(0, 1), seed=seed)


_A = np.array([0.5, 1.2, -0.8, 0.3])
_B = np.array([1.1, -0.4, 0.7, 2.0])
_X = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
_W = np.array([0.3, -0.2, 0.9])

# The constructs above once more through vjp (split mode: a forward half that returns
# what the backward half needs), with a random cotangent: (f, args, wrt).
VJP_CASES = [
    (if_else, (2.0,), 0),
    (if_else, (0.3,), 0),
    (if_reassigned_in_one_branch, (2.0,), 0),
    (if_reassigned_in_one_branch, (0.5,), 0),
    *[(if_elif_else, (x,), 0) for x in (-2.0, 0.4, 2.0, 4.0)],
    *[(nested_if, xy, (0, 1)) for xy in [(1.5, 0.7), (1.5, -0.7), (-0.5, 0.8), (-0.5, -1.2)]],
    (computed_condition, (2.0, 1.5), (0, 1)),
    (computed_condition, (0.5, 0.8), (0, 1)),
    *[
        (bool_ops, xy, (0, 1))
        for xy in [(1.0, 2.0), (1.0, -2.0), (-2.0, 1.5), (-0.5, -2.0), (-2.0, -1.0)]
    ],
    *[(short_circuit_and, (x,), 0) for x in (-1.0, 0.5, 2.0)],
    *[(short_circuit_or, (x,), 0) for x in (-1.0, 0.5, 2.0)],
    (short_circuit_value, (0.5,), 0),
    (branch_local, (1.2,), 0),
    (branch_local, (-0.8,), 0),
    *[
        (conditional_expression, xy, (0, 1))
        for xy in [(2.0, 1.0), (0.5, 1.5), (0.5, -1.5), (-0.5, -1.5)]
    ],
    *[(nested_conditional_expression, (x,), 0) for x in (2.0, 0.3, -2.0)],
    (if_in_loop_by_index, (0.7,), 0),
    (if_in_loop_by_value, (0.4,), 0),
    *[(for_range, (0.8, n), 0) for n in (0, 1, 5)],
    (for_range_start_stop_step, (1.1, 7, 1, -2), 0),
    (for_range_start_stop_step, (1.1, 5, 5, 1), 0),
    (for_range_literal_negative_step, (0.7,), 0),
    (loop_variable_in_body, (0.7,), 0),
    (over_sequence, (0.6, [0.5, 1.5, -0.7]), 0),
    (over_sequence, (0.6, (0.5, 1.5, -0.7)), 0),
    (over_sequence, (0.6, []), 0),
    (over_literal_tuple, (0.9,), 0),
    (over_rows, (_X, _W), (0, 1)),
    (over_rows, (np.zeros((0, 3)), _W), (0, 1)),
    (over_rows_nonlinear, (_X, _W), (0, 1)),
    (over_enumerate, (_X, _W), (0, 1)),
    (over_enumerate_list, (0.9, [0.5, 2.0, -1.0]), 0),
    (over_zip, (_A, _B, 0.6), (0, 1, 2)),
    (over_zip_rows, (_X.T * 0.5, _X.T * 0.3), (0, 1)),
    (swap_carried, (1.1, 0.9), (0, 1)),
    (rotate_three, (0.4, 0.7, -0.3), (0, 1, 2)),
    (nested_loops_2, (0.6,), 0),
    (nested_loops_3, (0.6, 0.8), (0, 1)),
    (nested_loops_3_arrays, (_X, _W), (0, 1)),
    (loop_in_if, (0.9, 3), 0),
    (loop_in_if, (0.2, 3), 0),
    (loop_in_if, (0.9, 0), 0),
    (if_in_loop_in_if, (0.8,), 0),
    (if_in_loop_in_if, (-0.8,), 0),
    (loop_variable_after_loop, (1.2,), 0),
    (first_assigned_in_loop, (1.2,), 0),
    (while_grow, (1.7,), 0),
    (while_grow, (12.0,), 0),
    (newton_sqrt, (3.0,), 0),
    (while_true_break, (0.7,), 0),
    (while_true_data_break, (0.8,), 0),
    (while_with_if, (0.6,), 0),
    (while_with_if, (1.4,), 0),
    (while_and_condition, (1.7,), 0),
    *[(break_loop, a, 0) for a in [(3.0, 2.0), (1.5, 5.0), (1.1, 1e9)]],
    (break_nested_inner, (0.3,), 0),
    (continue_first, (0.7,), 0),
    (continue_some, (0.5,), 0),
    (continue_by_value, (0.45,), 0),
    (continue_inner, (0.4,), 0),
    (return_in_loop, (1.5,), 0),
    (return_in_loop, (1.05,), 0),
    (return_in_nested_loop, (0.5,), 0),
    (return_in_nested_loop, (0.1,), 0),
    (return_in_while, (0.5,), 0),
    (return_in_while, (-1.2,), 0),
    *[(several_returns, (x,), 0) for x in (-2.0, 0.5, -0.5, 2.0)],
    *[(two_guarded_returns, (x,), 0) for x in (2.0, 0.5, -0.5)],
    (return_in_else, (1.7,), 0),
    (return_in_else, (0.9,), 0),
    *[(break_continue_return, (x,), 0) for x in (2.0, 5.0, 30.0)],
    (while_in_while, (0.9,), 0),
    (return_from_while_in_for, (1.1,), 0),
    (loop_with_break_in_if_in_loop, (0.6,), 0),
    (continue_then_break, (0.9,), 0),
    (calls_helper_loop, (0.7,), 0),
    (calls_helper_loop, (1.3,), 0),
    (calls_helper_early_return, (0.75,), 0),
    (calls_helper_branch_local, (1.0,), 0),
    (calls_helper_branch_local, (2.5,), 0),
]


def _vjp_ids():
    seen: dict[str, int] = {}
    ids = []
    for f, _, _ in VJP_CASES:
        n = seen[f.__name__] = seen.get(f.__name__, -1) + 1
        ids.append(f"{f.__name__}-{n}")
    return ids


@pytest.mark.parametrize("f, args, wrt", VJP_CASES, ids=_vjp_ids())
def test_vjp_matrix(f, args, wrt):
    check_vjp(f, list(args), wrt=wrt)


# =========================================================================================
# scale: a long scalar loop whose adjoint reads the carried value (the tape is used)
# =========================================================================================

LONG_LOOP_ITERATIONS = 1_000_000


def long_loop(x, n):
    y = 0.0
    for _ in range(n):
        y = math.sin(y) * 0.5 + x
    return y


def test_long_loop_gradient_and_memory():
    x, n = 0.3, LONG_LOOP_ITERATIONS
    gradient = grad(long_loop)
    source = gradient.source_for(x, n)
    assert "pop" in source or "for y_1 in reversed(saved)" in source, (
        "the adjoint must read y, restored from the tape or the loop's own list"
    )
    tracemalloc.start()
    try:
        g = gradient(x, n)  # no RecursionError, whatever the trip count
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # the tape holds one float per iteration (about 32 MB); 400 MB is a generous bound
    assert peak < 400 * 2**20, f"peak memory {peak / 2**20:.0f} MB"
    # forward-mode recurrence: y' <- 0.5 cos(y) y' + 1
    y, dy = 0.0, 0.0
    for _ in range(n):
        y, dy = math.sin(y) * 0.5 + x, 0.5 * math.cos(y) * dy + 1.0
    assert isinstance(g, float)
    assert g == pytest.approx(dy, rel=1e-12)
    assert g == pytest.approx(numerical_gradient(long_loop, [x, n]), rel=1e-6)


# =========================================================================================
# loop forms once unsupported
# =========================================================================================


def for_else(x):
    y = x
    for _ in range(3):
        y = y * x
    else:
        y = y + 1.0
    return y


def while_else(x):
    y = x
    while y < 10.0:
        y = y * x
    else:
        y = y + 1.0
    return y


@pytest.mark.parametrize("f", [for_else, while_else])
def test_loop_else_is_differentiated(f):
    """Loop ``else`` blocks are supported (more in test_constructs_statements.py)."""
    assert grad(f)(1.5) == pytest.approx(numerical_gradient(f, [1.5]), rel=1e-6)
