"""Names resolve as Python resolves them (issue 11, names).

A. A local variable or parameter named like a module-level or builtin function is the
   local: a call through it calls the function it holds (a local assigned only known
   functions, dispatched on identity) or is refused, never sent to the global function
   of the same name.
B. A global or closure name holding a library function (``ACT = np.tanh``) that is
   rebound after the first transformation makes the cached code stale: the next call
   uses the rule of the new function, for the same gradient object and for a new one.

Expected values come from calculus: d sin = cos, d cos = -sin, d tanh = 1 - tanh**2.
"""

from __future__ import annotations

import math
import types
from math import sin

import numpy as np
import pytest

from ad_transform import ADTransformError, grad, value_and_grad, vjp


# -- A: locals named like globals and builtins ------------------------------------------
def act(x):
    return x * x


def local_shadows_module_function(x):
    act = np.sin
    return act(x)


def parameter_shadows_module_function(x, act=math.cos):
    return act(x)


def loop_target_shadows_module_function(x):
    s = 0.0
    for act in (np.sin, np.cos):
        s = s + act(x)
    return s


def local_shadows_imported_function(x):
    sin = math.cos
    return sin(x)


def local_shadows_builtin(x):
    abs = math.cos
    return abs(x)


def branch_binds_the_local(x):
    if x > 0:
        act = np.sin
    else:
        act = np.cos
    return act(x)


def branch_binds_the_local_on_one_path(x):
    if x > 0:
        act = np.sin
        return act(x)
    return act(x)


def loop_with_enumerate_binds_the_local(x):
    s = 0.0
    for _, sin in enumerate((np.cos, np.tanh)):  # noqa: F402 -- the shadowing is the test
        s = s + sin(x)
    return s


def tuple_assignment_binds_the_local(x):
    sin, scale = np.cos, 2.0
    return sin(x) * scale


def helper_with_a_shadowing_local(x):
    act = np.sin
    return act(x)


def calls_a_helper_with_a_shadowing_local(x):
    return 2.0 * helper_with_a_shadowing_local(x)


def local_module_alias(x):
    np = math
    return np.sin(x)


def rebinds_after_a_global_call(x):
    y = act(x)  # noqa: F823 -- Python raises UnboundLocalError: act is a local
    act = np.sin  # noqa: F841
    return y


# Locals whose every binding is a known function (``act = np.sin``, in both branches of
# an ``if``) are called by identity dispatch now, never through the global of the same
# name: FD-checked in test_constructs_functions_more.py (test_local_named_like_a_global).
# A loop target or a tuple's item holding a function is called through what it holds
# when the call runs (dispatch.py; refused before): the derivative of that function.
SHADOWED = [
    (loop_target_shadows_module_function, lambda x: math.cos(x) - math.sin(x)),
    (loop_with_enumerate_binds_the_local, lambda x: -math.sin(x) + 1.0 - math.tanh(x) ** 2),
    (tuple_assignment_binds_the_local, lambda x: -2.0 * math.sin(x)),
]


@pytest.mark.parametrize(("f", "derivative"), SHADOWED, ids=[f.__name__ for f, _ in SHADOWED])
@pytest.mark.parametrize("transform", [grad, value_and_grad, vjp])
def test_call_through_a_local_named_like_a_global_calls_what_it_holds(f, derivative, transform):
    result = transform(f)(0.7)
    if transform is value_and_grad:
        result = result[1]
    elif transform is vjp:
        result = result[1](1.0)
    assert result == pytest.approx(derivative(0.7), rel=1e-12)


def test_attribute_chain_rooted_at_a_local_is_refused():
    with pytest.raises(ADTransformError, match="sin"):
        grad(local_module_alias)(0.7)


def test_function_reading_a_local_before_binding_it_is_refused_not_sent_to_the_global():
    with pytest.raises((ADTransformError, UnboundLocalError)):
        grad(rebinds_after_a_global_call)(0.7)


def local_value_named_like_a_function(x):
    act = x * 2.0
    sin = act * act
    return sin + act


def test_local_values_named_like_functions_are_differentiated_as_the_locals():
    # f = 4x^2 + 2x, f' = 8x + 2
    x = 0.7
    value, gradient = value_and_grad(local_value_named_like_a_function)(x)
    assert value == pytest.approx(local_value_named_like_a_function(x), rel=1e-15)
    assert gradient == pytest.approx(8.0 * x + 2.0, rel=1e-12)


def calls_the_global_act(x):
    return act(x) + sin(x)


def test_the_global_functions_of_those_names_still_work():
    x = 0.7
    value, gradient = value_and_grad(calls_the_global_act)(x)
    assert value == pytest.approx(x * x + math.sin(x), rel=1e-15)
    assert gradient == pytest.approx(2.0 * x + math.cos(x), rel=1e-12)


# -- B: rebinding a global or closure name after the first transformation ---------------
ACT = np.tanh


def calls_global_act(x):
    return ACT(x)


def calls_global_act_via_helper(x):
    return 3.0 * calls_global_act(x)


@pytest.fixture
def restore_act():
    yield
    globals()["ACT"] = np.tanh


def _tanh_derivative(x: float) -> float:
    return 1.0 - math.tanh(x) ** 2


def test_rebinding_a_global_library_function_regenerates_the_code(restore_act):
    global ACT
    gradient = grad(calls_global_act)
    assert gradient(0.5) == pytest.approx(_tanh_derivative(0.5), rel=1e-12)
    ACT = np.sin
    assert gradient(0.5) == pytest.approx(math.cos(0.5), rel=1e-12)
    assert grad(calls_global_act)(0.5) == pytest.approx(math.cos(0.5), rel=1e-12)
    value, slope = value_and_grad(calls_global_act)(0.5)
    assert value == pytest.approx(math.sin(0.5), rel=1e-15)
    assert slope == pytest.approx(math.cos(0.5), rel=1e-12)
    ACT = np.cos
    assert gradient(0.5) == pytest.approx(-math.sin(0.5), rel=1e-12)


def test_rebinding_a_global_on_arrays_regenerates_the_code(restore_act):
    global ACT
    x = np.array([0.1, -0.4, 0.9])
    gradient = grad(lambda_free_sum)
    np.testing.assert_allclose(gradient(x), 1.0 - np.tanh(x) ** 2, rtol=1e-12)
    ACT = np.sin
    np.testing.assert_allclose(gradient(x), np.cos(x), rtol=1e-12)


def lambda_free_sum(x):
    return np.sum(ACT(x))


def test_rebinding_a_global_read_by_a_helper_regenerates_the_caller(restore_act):
    global ACT
    gradient = grad(calls_global_act_via_helper)
    assert gradient(0.5) == pytest.approx(3.0 * _tanh_derivative(0.5), rel=1e-12)
    ACT = np.sin
    assert gradient(0.5) == pytest.approx(3.0 * math.cos(0.5), rel=1e-12)


def test_rebinding_a_global_between_library_and_user_functions(restore_act):
    global ACT
    gradient = value_and_grad(calls_global_act)
    ACT = act  # a user function: x * x
    assert gradient(0.5) == pytest.approx((0.25, 1.0), rel=1e-12)
    ACT = np.sin
    assert gradient(0.5) == pytest.approx((math.sin(0.5), math.cos(0.5)), rel=1e-12)
    ACT = act
    assert gradient(0.5) == pytest.approx((0.25, 1.0), rel=1e-12)


def test_rebinding_a_global_imported_by_name(monkeypatch):
    gradient = grad(calls_the_global_act)
    assert gradient(0.7) == pytest.approx(1.4 + math.cos(0.7), rel=1e-12)
    monkeypatch.setitem(globals(), "sin", math.cos)
    assert gradient(0.7) == pytest.approx(1.4 - math.sin(0.7), rel=1e-12)


def test_vjp_after_rebinding_a_global(restore_act):
    global ACT
    vjp(calls_global_act)(0.5)
    ACT = np.sin
    value, pullback = vjp(calls_global_act)(0.5)
    assert value == pytest.approx(math.sin(0.5), rel=1e-15)
    assert pullback(2.0) == pytest.approx(2.0 * math.cos(0.5), rel=1e-12)


def closure_factory():
    activation = np.tanh

    def apply(x):
        return activation(x)

    def rebind(function):
        nonlocal activation
        activation = function

    return apply, rebind


def test_rebinding_a_closure_cell_regenerates_the_code():
    apply, rebind = closure_factory()
    gradient = grad(apply)
    assert gradient(0.5) == pytest.approx(_tanh_derivative(0.5), rel=1e-12)
    rebind(np.sin)
    assert gradient(0.5) == pytest.approx(math.cos(0.5), rel=1e-12)
    assert grad(apply)(0.5) == pytest.approx(math.cos(0.5), rel=1e-12)


OPS = types.SimpleNamespace(act=np.tanh)


def calls_an_attribute_of_a_namespace(x):
    return OPS.act(x)


def test_rebinding_an_attribute_of_a_namespace_object_regenerates_the_code(monkeypatch):
    gradient = grad(calls_an_attribute_of_a_namespace)
    assert gradient(0.5) == pytest.approx(_tanh_derivative(0.5), rel=1e-12)
    monkeypatch.setattr(OPS, "act", np.sin)
    assert gradient(0.5) == pytest.approx(math.cos(0.5), rel=1e-12)


class Activations:
    act = staticmethod(np.tanh)


def calls_a_class_attribute(x):
    return Activations.act(x)


def test_rebinding_a_class_attribute_regenerates_the_code(monkeypatch):
    gradient = grad(calls_a_class_attribute)
    assert gradient(0.5) == pytest.approx(_tanh_derivative(0.5), rel=1e-12)
    monkeypatch.setattr(Activations, "act", staticmethod(np.sin))
    assert gradient(0.5) == pytest.approx(math.cos(0.5), rel=1e-12)


# -- the fast call path stays on for ordinary code -----------------------------------------
def ordinary_module_calls(x):
    y = 0.0
    for _ in range(3):
        y = math.sin(y) * 0.5 + np.cos(x) + abs(x)
    return y


def test_module_attribute_chains_and_builtins_keep_the_fast_path():
    gradient = grad(ordinary_module_calls)
    gradient(0.3)
    assert gradient._fast, "code calling np.cos, math.sin and builtins has no dependency"


def test_a_global_holding_a_function_is_a_dependency(restore_act):
    gradient = grad(calls_global_act)
    gradient(0.3)
    assert not gradient._fast, "a rebinding of ACT must be checked on every call"
