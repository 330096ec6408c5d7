"""The ``jvp`` API: call shapes, ``wrt``, argument and tangent types, ``.source``,
regeneration after a helper is redefined, bound methods, and refusals by name."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ad_transform import ADTransformError, grad, jvp


def poly(x, y, scale=2.0):
    return scale * x**3 + x * y


def test_jax_call_shape_and_curried_form_agree():
    value, tangent = jvp(poly, (1.5, 0.5), (1.0, 2.0))
    assert value == poly(1.5, 0.5)
    assert tangent == pytest.approx(2.0 * 3 * 1.5**2 + 0.5 + 1.5 * 2.0, rel=1e-15)
    assert jvp(poly)((1.5, 0.5), (1.0, 2.0)) == (value, tangent)


def test_wrt_chooses_the_differentiated_arguments():
    _, tangent = jvp(poly, wrt=1)((1.5, 0.5), (1.0,))
    assert tangent == pytest.approx(1.5, rel=1e-15)
    _, tangent = jvp(poly, wrt="y")((1.5, 0.5), (1.0,))
    assert tangent == pytest.approx(1.5, rel=1e-15)
    _, tangent = jvp(poly, wrt=(1, 0))((1.5, 0.5), (1.0, 0.0))
    assert tangent == pytest.approx(1.5, rel=1e-15)
    _, tangent = jvp(poly, wrt=0)((1.5, 0.5), (1.0,), scale=1.0)
    assert tangent == pytest.approx(3 * 1.5**2 + 0.5, rel=1e-15)


def test_integer_arguments_and_tangents_are_floats():
    # with wrt= integers are differentiated as floats; without it they stay integers
    # (breaker F12: tests/test_forward_breaker2.py)
    _, tangent = jvp(poly, wrt=(0, 1))((2, 1), (1, 0))
    assert type(tangent) is float and tangent == 2.0 * 3 * 4 + 1


def test_float32_arrays_keep_their_dtype():
    def f(x):
        return np.sin(x) * x

    x = np.linspace(0.1, 1.0, 4, dtype=np.float32)
    _, tangent = jvp(f, (x,), (np.ones(4, dtype=np.float32),))
    assert tangent.dtype == np.float32
    np.testing.assert_allclose(tangent, np.cos(x) * x + np.sin(x), rtol=1e-6)


def test_numpy_scalar_arguments():
    def f(x):
        return np.exp(x) * x

    _, tangent = jvp(f, (np.float64(0.3),), (np.float64(1.0),))
    assert tangent == pytest.approx(math.exp(0.3) * 1.3, rel=1e-15)


def test_generic_source_works_for_any_argument_types():
    def f(x, y):
        return x * y + np.sin(x)

    transformed = jvp(f)
    text = transformed.generic_source
    assert "def jvp_f(x, y, *, x_dot, y_dot):" in text
    _, tangent = transformed((np.array([0.5, 1.0]), 2.0), (np.array([1.0, -1.0]), 0.5))
    np.testing.assert_allclose(
        tangent, np.array([1.0, -1.0]) * (2.0 + np.cos([0.5, 1.0])) + 0.5 * np.array([0.5, 1.0])
    )


def helper(t):
    return t * t


def uses_helper(x):
    return helper(x) + 1.0


def test_a_redefined_helper_is_noticed():
    global helper
    transformed = jvp(uses_helper)
    assert transformed((3.0,), (1.0,))[1] == 6.0
    original = helper

    def helper(t):
        return t * t * t

    try:
        assert transformed((3.0,), (1.0,))[1] == 27.0
    finally:
        helper = original


class Model:
    def __init__(self, w):
        self.w = w

    def energy(self, x):
        return self.w * x * x


def test_bound_method():
    model = Model(3.0)
    assert jvp(model.energy, (2.0,), (1.0,)) == (12.0, 12.0)


def test_the_tangent_matches_grad_on_a_loop():
    def f(x):
        y = x
        for _ in range(5):
            y = math.sin(y) * 0.5 + x
        return y

    assert jvp(f, (0.7,), (1.0,))[1] == pytest.approx(grad(f)(0.7), rel=1e-14)


def test_refusals_name_what_is_missing():
    def changes(buf, v):
        buf[0] = v

    def f(x):
        buf = np.zeros(2)
        changes(buf, x)
        return np.sum(buf)

    with pytest.raises(ADTransformError, match="changes its arguments in place"):
        jvp(f, (1.0,), (1.0,))

    # complex values inside the function: tests/test_tangent_rules_complete.py


def test_bad_calls():
    with pytest.raises(TypeError, match="tuples"):
        jvp(poly)(1.5, 1.0)
    with pytest.raises(TypeError, match="tangents are missing"):
        jvp(poly, (1.5, 0.5))
    with pytest.raises(ValueError, match="real number"):
        jvp(poly, wrt=0)((1.5, 0.5), (np.ones(2),))


def inner(t):
    return t * t


def middle(t):
    return inner(t) + t


def outer(x):
    return middle(x) * 2.0


def test_a_redefined_helper_of_a_helper_is_noticed():
    global inner
    transformed = jvp(outer)
    assert transformed((3.0,), (1.0,))[1] == 2.0 * (6.0 + 1.0)
    original = inner

    def inner(t):
        return t * t * t

    try:
        assert transformed((3.0,), (1.0,))[1] == 2.0 * (27.0 + 1.0)
        assert jvp(outer)((3.0,), (1.0,))[1] == 2.0 * (27.0 + 1.0)
    finally:
        inner = original
