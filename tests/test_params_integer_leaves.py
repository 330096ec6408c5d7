"""Issue 13: integer leaves of a differentiated container are differentiated as floats.

They reach the function as the integers the caller gave (``range(p["n"])`` and
``x[p["k"]]`` work); where they enter arithmetic their derivative is the one of the same
expression in a real variable; as an index, a slice bound, a count or a shape they carry
no derivative (the function is constant in them between integers). A dataclass field
marked ``field(metadata={"static": True})`` is never differentiated (gradient ``None``).

Expected values: calculus, or central finite differences with the integer leaf replaced
by a float (possible where the function only does arithmetic with it)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ad_transform import grad, value_and_grad, vjp

RNG = np.random.default_rng(1313)
X = RNG.normal(size=5)


def central_difference(f, params: dict, key: str, eps: float = 1e-6) -> float:
    """d f / d params[key], the integer leaf replaced by floats around its value."""
    plus, minus = dict(params), dict(params)
    plus[key] = params[key] + eps
    minus[key] = params[key] - eps
    return (f(plus) - f(minus)) / (2 * eps)


@pytest.mark.parametrize("n", [3, np.int64(3), np.uint64(3)])
def test_integer_leaf_in_arithmetic_matches_finite_differences(n):
    def f(p):
        return np.sum(np.sin(p["w"] * p["n"])) + p["n"] ** 2 * p["b"]

    params = {"w": X.copy(), "n": n, "b": 0.7}
    gradient = grad(f)(params)
    assert type(gradient["n"]) is float
    assert gradient["n"] == pytest.approx(central_difference(f, params, "n"), rel=1e-7)
    expected_n = np.sum(np.cos(X * 3) * X) + 2 * 3 * 0.7
    assert gradient["n"] == pytest.approx(expected_n, rel=1e-12)
    np.testing.assert_allclose(gradient["w"], np.cos(X * 3) * 3, rtol=1e-12)
    assert gradient["b"] == pytest.approx(9.0, rel=1e-12)


def test_the_function_gets_the_integer_it_was_given():
    seen = []

    def f(p):
        seen.append(type(p["n"]))
        return p["w"] * p["n"]

    assert grad(f)({"w": 2.0, "n": 4}) == {"w": 4.0, "n": 2.0}
    assert seen[-1] is int


def test_count_index_and_arithmetic_of_one_leaf():
    # f = n * sum_{i < n} x[i] * w[k]: d/dn holds the factor n only (the count is a step)
    def f(p, x):
        s = 0.0
        for i in range(p["n"]):
            s = s + x[i] * p["w"][p["k"]]
        return s * p["n"]

    params = {"n": 3, "k": 1, "w": np.array([0.5, -1.5])}
    gradient, dx = grad(f, wrt=(0, 1))(params, X)
    partial = np.sum(X[:3]) * -1.5
    assert gradient["n"] == pytest.approx(partial, rel=1e-12)
    assert gradient["k"] == 0.0
    np.testing.assert_allclose(gradient["w"], [0.0, np.sum(X[:3]) * 3], rtol=1e-12)
    np.testing.assert_allclose(dx, [-4.5, -4.5, -4.5, 0.0, 0.0], rtol=1e-12)


def test_integer_arithmetic_on_a_leaf_stays_an_index():
    def f(p, x):
        return x[p["k"] + 1] * p["w"] + np.sum(x[: p["n"] // 2 - 1]) + x[-p["k"] - 1]

    params = {"k": 1, "n": 8, "w": 2.5}
    gradient, dx = grad(f, wrt=(0, 1))(params, X)
    assert gradient == {"k": 0.0, "n": 0.0, "w": pytest.approx(X[2], rel=1e-12)}
    expected = np.zeros(5)
    expected[2] += 2.5
    expected[:3] += 1.0
    expected[-2] += 1.0
    np.testing.assert_allclose(dx, expected, rtol=1e-12)


def test_integer_leaf_given_to_a_helper():
    def scaled_element(v, i, n):
        return v[i] * n

    def f(p):
        return scaled_element(p["w"], p["i"], p["n"]) ** 2

    params = {"w": np.array([1.5, -2.0, 0.5]), "i": 1, "n": 3}
    gradient = grad(f)(params)
    # f = (w[i] n)^2: d/dn = 2 w[i]^2 n, d/dw[i] = 2 w[i] n^2
    assert gradient["n"] == pytest.approx(2 * 4.0 * 3, rel=1e-12)
    assert gradient["i"] == 0.0
    np.testing.assert_allclose(gradient["w"], [0.0, 2 * -2.0 * 9, 0.0], rtol=1e-12)
    assert gradient["n"] == pytest.approx(
        central_difference(lambda p: (p["w"][1] * p["n"]) ** 2, params, "n"), rel=1e-7
    )


def test_integer_leaf_nothing_reaches_gets_zero():
    def f(p):
        return np.sum(p["w"] ** 2)

    gradient = grad(f)({"w": X, "unused": 7})
    assert gradient["unused"] == 0.0 and type(gradient["unused"]) is float


def test_integer_arrays_and_booleans_are_still_not_differentiated():
    def f(p):
        return np.sum(p["w"][p["idx"]] * p["scale"]) if p["on"] else 0.0

    params = {"w": X, "idx": np.array([0, 3]), "on": True, "scale": 2}
    gradient = grad(f)(params)
    assert gradient["idx"] is None and gradient["on"] is None
    assert gradient["scale"] == pytest.approx(X[0] + X[3], rel=1e-12)


@dataclasses.dataclass
class Conv:
    w: np.ndarray
    stride: int = dataclasses.field(metadata={"static": True})
    gain: int = 2


def test_dataclass_field_marked_static_gets_none():
    def f(c):
        return np.sum(c.w[:: c.stride] ** 2) * c.gain * c.stride

    c = Conv(X.copy(), 2)
    gradient = grad(f)(c)
    assert type(gradient) is Conv and gradient.stride is None
    assert gradient.gain == pytest.approx(np.sum(X[::2] ** 2) * 2, rel=1e-12)
    expected = np.zeros(5)
    expected[::2] = 2 * X[::2] * 2 * 2
    np.testing.assert_allclose(gradient.w, expected, rtol=1e-12)


def test_int_and_float_leaf_get_their_own_code():
    def f(p, x):
        return np.sum(x ** p["n"])

    g = grad(f, wrt=(0, 1))
    x = np.abs(X) + 0.5
    by_int, _ = g({"n": 3}, x)
    by_float, _ = g({"n": 3.0}, x)
    expected = np.sum(x**3 * np.log(x))  # d/dn x^n = x^n log x
    assert by_int["n"] == pytest.approx(expected, rel=1e-12)
    assert by_float["n"] == pytest.approx(expected, rel=1e-12)


def test_value_and_grad_and_vjp_with_integer_leaves():
    def f(p):
        return p["w"] * p["n"] ** 2

    params = {"w": 1.5, "n": 4}
    value, gradient = value_and_grad(f)(params)
    assert value == 24.0 and gradient == {"w": 16.0, "n": 12.0}
    value, pullback = vjp(f)(params)
    assert pullback(2.0) == {"w": 32.0, "n": 24.0}


def test_check_grads_moves_integer_leaves_it_can_and_skips_counts():
    from ad_transform import GradientCheckError, check_grads

    def arithmetic(p):
        return p["a"] * p["b"] ** 2

    report = check_grads(arithmetic, ({"a": 3, "b": 2.0},))
    assert not any(c.skipped for c in report.checks) and len(report.checks) == 3

    def counted(p, x):
        s = 0.0
        for i in range(p["n"]):
            s = s + x[i] * p["w"] * p["n"]
        return s

    report = check_grads(counted, ({"n": 3, "w": 2.0}, X))
    skipped = [c for c in report.checks if c.skipped]
    assert len(skipped) == 1 and "['n']" in skipped[0].name and "skip" in str(skipped[0])

    def cheat(p):
        return p["a"] * 2.0

    # a deliberately wrong analytic gradient is caught for an integer leaf
    from ad_transform import check

    checks = check.finite_difference_check(cheat, ({"a": 3},), 0, {"a": 5.0})
    assert not all(c.passed for c in checks)
    with pytest.raises(GradientCheckError):
        raise GradientCheckError(check.GradientCheckReport("cheat", checks))


def test_tuple_of_integers_as_a_shape_and_integers_stored_at():
    def reshaped(p, x):
        return np.sum(x.reshape(p["shape"]) ** 2) * p["w"]

    x = np.arange(1.0, 5.0)
    gradient, dx = grad(reshaped, wrt=(0, 1))({"shape": (2, 2), "w": 3.0}, x)
    assert gradient["shape"] == (0.0, 0.0) and gradient["w"] == pytest.approx(30.0)
    np.testing.assert_allclose(dx, 2 * x * 3.0, rtol=1e-12)

    def stored(p, x):
        y = np.zeros(4)
        y[p["k"]] = x[0] * p["w"]
        return np.sum(y * np.arange(4.0))

    gradient, dx = grad(stored, wrt=(0, 1))({"k": 2, "w": 3.0}, x)
    assert gradient == {"k": 0.0, "w": pytest.approx(2.0 * x[0])}
    np.testing.assert_allclose(dx, [6.0, 0.0, 0.0, 0.0], rtol=1e-12)


def test_integer_leaf_as_an_exponent_and_rebound_by_integer_arithmetic():
    def power(p, x):
        return np.sum(x ** p["k"])

    x = np.arange(1.0, 5.0)
    gradient = grad(power)({"k": 3}, x)
    assert gradient["k"] == pytest.approx(np.sum(x**3 * np.log(x)), rel=1e-12)

    def shifted(p, x):
        k = p["k"]
        k = k + 1
        return x[k] * k  # d/dk: x[k] (the index part is a step)

    gradient = grad(shifted)({"k": 1}, x)
    assert gradient["k"] == pytest.approx(x[2], rel=1e-12)


@pytest.mark.parametrize("k", [np.int8(3), np.uint8(3), np.int16(3), np.int32(3)])
def test_narrow_numpy_integers_are_not_differentiated(k):
    # derivative arithmetic in int8 would wrap (2 * k, k ** 5): such a leaf is passed as
    # given and gets None, like an integer array
    def f(p, x):
        assert type(p["k"]) is type(k)
        return np.sum(x ** p["k"]) * p["w"]

    x = np.array([1.5, 2.0])
    gradient, dx = grad(f, wrt=(0, 1))({"k": k, "w": 2.0}, x)
    assert gradient["k"] is None
    assert gradient["w"] == pytest.approx(np.sum(x**3), rel=1e-12)
    np.testing.assert_allclose(dx, 2.0 * 3 * x**2, rtol=1e-12)
