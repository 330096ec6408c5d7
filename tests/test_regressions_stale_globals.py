"""Attributes of the user's modules rebound between calls (breaker finding S1).

``cfgmod.K`` read as a number made the code specialised on a scalar (plain arithmetic,
``g * K if g else 0.0``), but the rebinding was not noticed: with an array the kept code
raised, and a callee read as ``cfgmod.act`` or ``cfgmod.helper`` rebound to another
function kept the old derivative (a silent wrong gradient). Attributes of the user's
modules are now dependencies of the code like global names; library modules
(``np``, ``math``) are not followed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import stale_globals_config as cfgmod
from gradcheck import numerical_gradient

from ad_transform import grad, jvp, value_and_grad


def loop_with_a_module_number(x):
    s = x
    for _ in range(2):
        s = s * cfgmod.K + s * s
    return np.sum(s)


def calls_module_functions(x):
    return np.sum(cfgmod.ACT(x) + cfgmod.helper(x))


def reads_a_class_attribute_of_a_module(x):
    return np.sum(x * cfgmod.Settings.scale + math.pi * x)


def _check(f, x):
    expected = numerical_gradient(f, (x,), 0)
    value, got = value_and_grad(f)(x)
    assert value == pytest.approx(f(x), rel=1e-14)
    assert got == pytest.approx(expected, rel=1e-7)
    assert jvp(f)((x,), (1.0,))[1] == pytest.approx(expected, rel=1e-7)
    return got


def test_module_number_rebound_between_calls(monkeypatch):
    g = grad(loop_with_a_module_number)
    for k in (0.5, 2, np.array([1.0, 2.0]), np.array(0.3), 0.25, np.float64(1.5), True, np.int8(3)):
        monkeypatch.setattr(cfgmod, "K", k)
        expected = _check(loop_with_a_module_number, 0.4)
        assert g(0.4) == pytest.approx(expected, rel=1e-7), repr(k)


def test_the_breaker_example(monkeypatch):
    g = grad(loop_with_a_module_number)
    assert g(0.4) == pytest.approx(1.586, rel=1e-12)  # K = 0.5: (1 + 2 s)... by hand
    monkeypatch.setattr(cfgmod, "K", np.array([1.0, 2.0]))
    assert g(0.4) == pytest.approx(14.792, rel=1e-12)


def test_module_functions_rebound_between_calls(monkeypatch):
    g = grad(calls_module_functions)
    x = 0.3
    assert g(x) == pytest.approx(1 - math.tanh(x) ** 2 + 2 * x, rel=1e-13)
    monkeypatch.setattr(cfgmod, "ACT", np.sin)
    assert g(x) == pytest.approx(math.cos(x) + 2 * x, rel=1e-13)

    def cube(v):
        return v * v * v

    monkeypatch.setattr(cfgmod, "helper", cube)
    assert g(x) == pytest.approx(math.cos(x) + 3 * x * x, rel=1e-13)
    assert jvp(calls_module_functions)((x,), (1.0,))[1] == pytest.approx(
        math.cos(x) + 3 * x * x, rel=1e-13
    )


def test_class_attribute_of_a_module_rebound(monkeypatch):
    g = grad(reads_a_class_attribute_of_a_module)
    assert g(0.7) == pytest.approx(2.0 + math.pi, rel=1e-14)
    monkeypatch.setattr(cfgmod.Settings, "scale", np.array([1.0, 3.0]))
    np.testing.assert_allclose(g(np.array([0.7, 0.1])), [1.0 + math.pi, 3.0 + math.pi])
    monkeypatch.setattr(cfgmod.Settings, "scale", -0.5)
    assert g(0.7) == pytest.approx(-0.5 + math.pi, rel=1e-14)
