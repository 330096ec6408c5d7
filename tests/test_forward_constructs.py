"""Forward mode (``jvp``) through Python constructs: branches, loops, ``break`` and
``continue``, lists, tuples and dicts, in-place writes, user helpers, recursion, lambdas.

Each function is checked at a point away from kinks: the value against the function
itself, the tangent ``J u`` against central finite differences in float64 for a random
non-uniform direction ``u``, and (scalar outputs) against ``grad(f) . u`` from reverse mode.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from gradcheck import random_like

from ad_transform import ADTransformError, grad, jvp

EPS = 1e-6


def _directional_difference(f, args, positions, directions):
    plus, minus = list(args), list(args)
    for i, u in zip(positions, directions, strict=True):
        x = (
            np.asarray(args[i], dtype=np.float64)
            if isinstance(args[i], np.ndarray)
            else float(args[i])
        )
        plus[i], minus[i] = x + EPS * u, x - EPS * u
    return (np.asarray(f(*plus), dtype=np.float64) - np.asarray(f(*minus), dtype=np.float64)) / (
        2 * EPS
    )


def check_jvp(f, args, wrt=0, seed=0):
    positions = (wrt,) if isinstance(wrt, int) else tuple(wrt)
    rng = np.random.default_rng(seed)
    directions = tuple(random_like(args[i], rng) for i in positions)
    value, tangent = jvp(f, wrt=wrt)(args, directions)
    expected_value = f(*args)
    np.testing.assert_allclose(value, expected_value, rtol=1e-13, atol=0)
    assert type(value) is type(expected_value)
    assert np.shape(tangent) == np.shape(value)
    expected = _directional_difference(f, args, positions, directions)
    np.testing.assert_allclose(tangent, expected, rtol=1e-6, atol=1e-8)
    if np.ndim(value) == 0:
        gradients = grad(f, wrt=wrt)(*args)
        gradients = (gradients,) if isinstance(wrt, int) else gradients
        reverse = sum(float(np.sum(g * u)) for g, u in zip(gradients, directions, strict=True))
        np.testing.assert_allclose(tangent, reverse, rtol=1e-11, atol=1e-12)
    return value, tangent


# -- the textbook function -----------------------------------------------------
def textbook(x1, x2):
    return math.log(x1) + x1 * x2 - math.sin(x2)


def test_textbook_tangent_is_the_calculus():
    # d/dx1 = 1/x1 + x2, d/dx2 = x1 - cos(x2); direction (1, 0) and (0, 1)
    value, tangent = jvp(textbook, (2.0, 5.0), (1.0, 0.0))
    assert value == textbook(2.0, 5.0)
    assert tangent == pytest.approx(0.5 + 5.0, rel=1e-15)
    _, tangent = jvp(textbook)((2.0, 5.0), (0.0, 1.0))
    assert tangent == pytest.approx(2.0 - math.cos(5.0), rel=1e-15)
    check_jvp(textbook, (2.0, 5.0), (0, 1))


def test_the_generated_source_is_one_primitive_per_line_with_tangents():
    source = jvp(textbook).source
    assert "def jvp_textbook(x1, x2, *, x1_dot, x2_dot):" in source
    assert "v2_dot = x1_dot * x2 + x1 * x2_dot" in source
    assert "tape" not in source and "push" not in source
    assert "# line" in source


# -- branches ----------------------------------------------------------------------------
def branches(x, y):
    if x > 0:
        z = x * y
    elif x > -1:
        z = math.sin(x) + y
    else:
        z = x**3
    return z * z if y > 0 else z - y


@pytest.mark.parametrize("x", [0.7, -0.4, -2.5])
@pytest.mark.parametrize("y", [1.3, -0.8])
def test_branches(x, y):
    check_jvp(branches, (x, y), (0, 1))


# -- loops, break, continue ----------------------------------------------------------------
def loops(x, n):
    s = 0.0
    for i in range(n):
        if i == 3:
            continue
        s = s + math.sin(x * i) / (i + 1)
        if s > 10.0:
            break
    k = 0
    while s < 50.0 and k < 20:
        s = s * 1.5 + x
        k += 1
    return s


def nested_loops(x, w):
    total = 0.0
    for i in range(3):
        for j in range(2):
            total = total + x[i] * w[j] * (i + j)
    return total


def loop_over_rows(X, w):
    acc = np.zeros(X.shape[1])
    for row in X:
        acc = acc + np.tanh(row * w)
    return acc


def test_loops_with_break_and_continue():
    check_jvp(loops, (0.3, 8))
    check_jvp(loops, (1.2, 8))


def test_nested_loops_and_array_elements():
    check_jvp(nested_loops, (np.array([0.5, -1.0, 2.0]), np.array([1.5, -0.5])), (0, 1))


def test_loop_over_rows_of_an_array_has_an_array_tangent():
    rng = np.random.default_rng(1)
    check_jvp(loop_over_rows, (rng.standard_normal((4, 3)), rng.standard_normal(3)), (0, 1))


# -- lists, tuples, dicts --------------------------------------------------------------------
def lists(x, y):
    xs = [x, y, 2.0]
    xs.append(x * y)
    xs.extend([y, 3.0])
    pair = (x, y * y)
    d = {"a": x, "b": pair[1]}
    joined = xs + [pair[0]]
    return sum(joined) * xs[3] + d["b"] - d["a"] * joined[-1]


def test_lists_tuples_dicts():
    check_jvp(lists, (0.6, -1.7), (0, 1))


# -- in-place writes ------------------------------------------------------------------------
def iir(x, a):
    out = np.zeros_like(x)
    out[0] = x[0]
    for i in range(1, x.shape[0]):
        out[i] = a * out[i - 1] + x[i]
    return np.sum(out * out)


def list_writes(x):
    values = [0.0, 0.0, 0.0]
    for i in range(3):
        values[i] = x * (i + 1)
    values[1] = values[1] * values[2]
    return values[0] + values[1]


def augmented_array(x):
    a = x * 2.0
    a += x * x
    a *= 0.5
    return np.sum(a)


def test_item_writes_into_an_array():
    check_jvp(iir, (np.array([0.5, -1.0, 2.0, 0.3]), 0.8), (0, 1))


def test_item_writes_into_a_list():
    check_jvp(list_writes, (1.3,))


def test_augmented_assignment_on_arrays():
    check_jvp(augmented_array, (np.array([0.5, -1.0, 2.0]),))


def test_the_users_tangent_is_never_changed():
    def write_after_add(x):
        a = x + 0.0
        a[0] = 5.0
        return np.sum(a * x)

    u = np.array([1.0, 2.0, 3.0])
    before = u.copy()
    jvp(write_after_add)((np.array([0.5, -1.0, 2.0]),), (u,))
    np.testing.assert_array_equal(u, before)
    check_jvp(write_after_add, (np.array([0.5, -1.0, 2.0]),))


# -- user helpers, recursion, lambdas ------------------------------------------------------
def square_plus(a, b=1.0):
    return a * a + b


def uses_helpers(x, y):
    z = square_plus(x)
    w = square_plus(z, b=y)
    return w + square_plus(3.0, y)


def power(x, n):
    if n == 0:
        return 1.0
    return x * power(x, n - 1)


def with_lambda(x, y):
    scale = lambda t: t * y  # noqa: E731
    return scale(x) + scale(x * x)


def helper_in_loop(x):
    s = x
    for _ in range(3):
        s = square_plus(s, 0.1)
    return s


def test_user_helpers_get_their_own_forward_functions():
    check_jvp(uses_helpers, (0.7, 1.9), (0, 1))
    check_jvp(helper_in_loop, (0.4,))
    assert "square_plus_jvp" in jvp(uses_helpers).source


def test_recursion():
    check_jvp(power, (1.3, 5))
    _, tangent = jvp(power, wrt=0)((1.3, 5), (1.0,))
    assert tangent == pytest.approx(5 * 1.3**4, rel=1e-14)


def test_lambdas_and_captured_values():
    check_jvp(with_lambda, (0.7, 1.9), (0, 1))


# -- NumPy programs ---------------------------------------------------------------------------
def mlp(W, b, X):
    h = np.tanh(X @ W + b)
    return np.mean(h**2, axis=0)


def test_array_output_tangent():
    rng = np.random.default_rng(2)
    check_jvp(
        mlp,
        (rng.standard_normal((3, 4)), rng.standard_normal(4), rng.standard_normal((5, 3))),
        (0, 1),
    )


def test_benchmark_cases_forward_equals_reverse():
    from benchmarks.cases import CASES

    rng = np.random.default_rng(3)
    checked = 0
    for case in CASES:
        args = case.args("test")
        wrt = case.wrt if isinstance(case.wrt, tuple) else (case.wrt,)
        directions = tuple(random_like(args[i], rng) for i in wrt)
        try:
            _, tangent = jvp(case.forward, wrt=wrt)(args, directions)
        except ADTransformError as error:
            assert "no tangent rule yet" in str(error), (case.name, error)
            continue
        gradients = grad(case.forward, wrt=wrt)(*args)
        reverse = sum(float(np.sum(g * u)) for g, u in zip(gradients, directions, strict=True))
        np.testing.assert_allclose(tangent, reverse, rtol=1e-9, atol=1e-12, err_msg=case.name)
        checked += 1
    assert checked >= 15


# -- refusals --------------------------------------------------------------------------------
def test_tangent_and_primal_shapes_must_match():
    with pytest.raises(ValueError, match="shape"):
        jvp(mlp, wrt=0)((np.ones((3, 4)), np.ones(4), np.ones((5, 3))), (np.ones(3),))


def test_a_wrong_number_of_tangents_is_refused():
    with pytest.raises(TypeError, match="tangent"):
        jvp(textbook)((2.0, 5.0), (1.0,))


def test_container_arguments_are_supported():
    # refused before issue 14's API part; tests/test_forward_api_jacobians.py has the rest
    def f(params):
        return params["a"] * 2.0

    assert jvp(f)(({"a": 1.0},), ({"a": 0.5},)) == (2.0, 1.0)


def alias_then_augmented(x):
    a = x * 2.0
    b = a
    a += x  # in place: b sees it
    return np.sum(b * x) + max([x[0], x[1], 0.5]) + min(x[2], 0.1)


def test_augmented_assignment_seen_through_another_name_and_extremes():
    check_jvp(alias_then_augmented, (np.array([0.3, 0.9, 0.2]),))


# -- tangents share objects exactly where values do (in-place changes) ------------------
def write_after_copy(x):
    a = x.copy()
    a[0] = 5.0
    b = a
    b[1] = x[0] * x[1]
    return np.sum(a * x) + np.sum(x)


def list_aliases(x, y):
    xs = [x, y]
    ys = xs
    ys.append(x * y)
    zs = list(xs)
    zs[0] = y
    ws = xs[:]
    return sum(xs) * 2.0 + sum(zs) + sum(ws) * xs[2]


def test_writes_after_a_copy_and_through_another_name():
    check_jvp(write_after_copy, (np.array([0.5, -1.0, 2.0]),))


def test_list_aliases_and_copies():
    check_jvp(list_aliases, (0.8, -1.3), (0, 1))


def sums(x, y):
    d = {1.5: x, 2.5: y}
    rows = [[x, y], [y * y]]
    joined = sum(rows, [])  # noqa: RUF017 (the construct under test)
    return sum(d) * x + sum(d.values()) + sum(joined) + sum((x, y), 0.5 * y)


def test_sum_of_a_dict_iterates_its_keys_which_have_no_derivative():
    check_jvp(sums, (0.8, -1.3), (0, 1))
