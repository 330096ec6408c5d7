"""Breaker findings on integer leaves and complete tangent rules (stop 23).

W1: an integer leaf that NumPy turns into an integer array (``np.full(3, k)``,
``np.array([k, 1])``, ``np.arange(k, 6)``, ``.astype(int)``) kept a zero derivative, as
if the conversion had truncated it; an integer converts exactly. W2: ``jvp`` of
``np.pad`` in a mode whose padding selects elements (maximum, minimum, median) padded
the tangent instead. C1: an integer leaf to a negative integer power crashed. Expected
values: calculus."""

from __future__ import annotations

import numpy as np
import pytest

from ad_transform import ADTransformError, grad, jvp

X = np.array([0.3, -1.2, 2.5])


def test_integer_leaf_made_into_integer_arrays_keeps_its_derivative():
    def f(p, x):
        return (
            np.sum(np.full(3, p["k"]) * x)  # d/dk: sum(x)
            + np.sum(np.array([p["k"], 1, 2]) * x)  # x[0]
            + np.sum(np.arange(p["k"], 6) * x)  # sum(x): k, k + 1, k + 2
            + np.sum(np.asarray(p["k"]).astype(np.int64) * x)  # sum(x)
        )

    gradient = grad(f)({"k": 3}, X)
    assert gradient["k"] == pytest.approx(3 * np.sum(X) + X[0], rel=1e-12)


def test_a_float_truncated_to_integers_still_has_no_derivative():
    def f(p, x):
        return np.sum(np.full(3, p["w"], dtype=int) * x) + np.sum(np.full(3, p["k"]) ** 2 * x)

    gradient = grad(f)({"w": 2.5, "k": 3}, X)
    assert gradient["w"] == 0.0  # 2.5 -> 2: piecewise constant
    assert gradient["k"] == pytest.approx(2 * 3 * np.sum(X), rel=1e-12)


def test_integer_array_from_a_leaf_squared_and_divided():
    def g(p, x):
        return np.sum(np.full(3, p["k"]) ** 2 * x) / (2 * p["k"])  # = k / 2 * sum(x)

    assert grad(g)({"k": 3}, X)["k"] == pytest.approx(np.sum(X) / 2, rel=1e-12)


def test_integer_leaf_to_a_negative_integer_power():
    def f(p, x):
        return p["k"] ** p["m"] * x[0] + p["k"] ** -1 * x[1]

    gradient = grad(f)({"k": 3, "m": -2}, X)
    expected_k = -2 * 3.0**-3 * X[0] - 3.0**-2 * X[1]
    assert gradient["k"] == pytest.approx(expected_k, rel=1e-12)
    assert gradient["m"] == pytest.approx(3.0**-2 * np.log(3.0) * X[0], rel=1e-12)


@pytest.mark.parametrize("mode", ["maximum", "minimum", "median", "empty"])
def test_jvp_of_pad_in_a_selecting_mode_is_refused(mode):
    def f(a):
        return np.pad(a, 1, mode=mode)

    with pytest.raises(ADTransformError, match=r"np\.pad with mode"):
        jvp(f, (np.array([1.0, 3.0, 2.0]),), (np.array([1.0, -5.0, 4.0]),))


@pytest.mark.parametrize("mode", ["edge", "reflect", "symmetric", "wrap", "mean", "constant"])
def test_jvp_of_pad_in_a_linear_mode_is_the_padded_tangent(mode):
    def f(a):
        return np.pad(a, 2, mode=mode) * 1.5

    a, u = np.array([1.0, 3.0, 2.0]), np.array([1.0, -5.0, 4.0])
    _, tangent = jvp(f, (a,), (u,))
    h = 1e-6
    expected = (f(a + h * u) - f(a - h * u)) / (2 * h)
    np.testing.assert_allclose(tangent, expected, rtol=1e-7, atol=1e-9)


def test_jvp_integer_leaf_needs_a_zero_tangent():
    def f(p, x):
        return np.sum(np.full(3, p["k"]) * x) * p["w"]

    p = {"k": 3, "w": 2.5}
    _, tangent = jvp(f, (p, X), ({"k": 0.0, "w": 1.0}, np.zeros(3)))
    assert tangent == pytest.approx(3 * np.sum(X), rel=1e-12)
    with pytest.raises(ValueError, match=r"argument 0\['k'\] is an integer leaf"):
        jvp(f, (p, X), ({"k": 1.0, "w": 0.0}, np.zeros(3)))
