"""Regression tests: one minimal, hand-written function per bug found by fuzzing or by
probing the error catalog (issue 7).

Each test names the bug. A bug that is not fixed yet is marked
``xfail(strict=True)``: the test fails when the bug is fixed, as a reminder to drop
the mark (and, for the fuzz-found ones, to remove the pattern from
``fuzz_programs.KNOWN_BUGS`` so that the fuzzer generates it again). All the bugs
below were fixed while issue 7 was being worked on; the tests keep them fixed.

Expected values are derived by hand and cross-checked by central finite differences
(``gradcheck.numerical_gradient``), never taken from the tool's output.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from gradcheck import numerical_gradient

from ad_transform import ADTransformError, grad, value_and_grad, vjp

ALL_MODES = ["grad", "value_and_grad", "vjp"]


def _gradient(mode: str, f, args, wrt=0):
    """The gradient of ``f`` at ``args`` through ``grad``, ``value_and_grad`` or ``vjp``."""
    if mode == "grad":
        return grad(f, wrt=wrt)(*args)
    if mode == "value_and_grad":
        value, gradient = value_and_grad(f, wrt=wrt)(*args)
        assert value == pytest.approx(f(*args), rel=1e-12)
        return gradient
    value, pullback = vjp(f, wrt=wrt)(*args)
    assert value == pytest.approx(f(*args), rel=1e-12)
    return pullback(1.0)


# -----------------------------------------------------------------------------------------
# Bug (fixed): a pullback whose forward sweep used the tape could be called only once
# (found by the fuzzer: the second call popped from an empty tape). README: "pullback(v)
# ... can be called several times".
# -----------------------------------------------------------------------------------------


def sin_recurrence(x):
    y = x
    for _ in range(3):
        y = math.sin(y) * x
    return y


def test_pullback_with_tape_can_be_called_twice():
    x = 0.7
    expected = numerical_gradient(sin_recurrence, [x])
    _, pullback = vjp(sin_recurrence)(x)
    first = pullback(1.0)
    assert first == pytest.approx(expected, rel=1e-7)
    second = pullback(2.0)
    assert second == pytest.approx(2.0 * expected, rel=1e-7)


def helper_with_loop(t):
    y = t
    for _ in range(3):
        y = math.sin(y) * t
    return y


def calls_helper_with_loop(x):
    return helper_with_loop(x) * 2.0


def test_pullback_through_a_helper_with_tape_can_be_called_twice():
    x = 0.7
    expected = numerical_gradient(calls_helper_with_loop, [x])
    _, pullback = vjp(calls_helper_with_loop)(x)
    assert pullback(1.0) == pytest.approx(expected, rel=1e-7)
    assert pullback(2.0) == pytest.approx(2.0 * expected, rel=1e-7)


# -----------------------------------------------------------------------------------------
# Bug (fixed): a loop whose target name was bound by an earlier loop that ran zero times:
# the generated code copied the (unbound) old value before the second loop
# (UnboundLocalError / NameError in valid code).
# -----------------------------------------------------------------------------------------


def index_reused_after_loop(x, n):
    for i in range(n):  # noqa: B007
        x = x * 2.0
    for i in range(2):
        if i > x:
            break
    return x * 3.0


def index_reused_after_empty_loop(x):
    for i in range(0):  # noqa: B007
        x = x * 2.0
    for i in range(2):
        x = x * i if i > 0.5 else x
    return x * 3.0


@pytest.mark.parametrize("mode", ALL_MODES)
@pytest.mark.parametrize(
    "f, args, expected",
    [
        (index_reused_after_loop, (0.5, 0), 3.0),  # no doubling: 3x
        (index_reused_after_loop, (0.5, 1), 6.0),  # one doubling: 6x
        # i = 0 keeps x, i = 1 multiplies by 1: 3x
        (index_reused_after_empty_loop, (0.5,), 3.0),
    ],
    ids=["range(n) with n == 0", "range(n) with n == 1", "range(0)"],
)
def test_loop_index_reused_after_a_zero_trip_loop(f, args, expected, mode):
    assert numerical_gradient(f, list(args)) == pytest.approx(expected, rel=1e-7)
    assert _gradient(mode, f, args) == pytest.approx(expected, rel=1e-12)


# -----------------------------------------------------------------------------------------
# Bug (fixed; it was a silent wrong gradient): a variable overwritten inside a ``for`` loop
# by a value that does not depend on the arguments keeps the adjoint of its old value. The
# ``while`` and ``if`` versions are right.
# -----------------------------------------------------------------------------------------


def reset_in_for(x):
    y = x
    for _ in range(2):
        y = 3.0
    return y * x  # = 3x


def parameter_reset_in_for(x):
    for _ in range(2):
        x = 0.0
    return x + 1.0  # = 1


def reset_in_while(x):
    y = x
    n = 0
    while n < 2:
        n += 1
        y = 3.0
    return y * x  # = 3x


def reset_in_if(x):
    y = x
    if x > 0.0:
        y = 3.0
    return y * x  # = 3x for x > 0


@pytest.mark.parametrize("mode", ALL_MODES)
@pytest.mark.parametrize("f", [reset_in_while, reset_in_if])
def test_overwritten_by_a_constant_in_while_or_if(f, mode):
    assert numerical_gradient(f, [0.5]) == pytest.approx(3.0, rel=1e-7)
    assert _gradient(mode, f, (0.5,)) == pytest.approx(3.0, rel=1e-12)


@pytest.mark.parametrize("mode", ALL_MODES)
@pytest.mark.parametrize(
    "f, expected", [(reset_in_for, 3.0), (parameter_reset_in_for, 0.0)], ids=["local", "param"]
)
def test_overwritten_by_a_constant_in_for(f, expected, mode):
    assert numerical_gradient(f, [0.5]) == pytest.approx(expected, abs=1e-7)
    assert _gradient(mode, f, (0.5,)) == pytest.approx(expected, abs=1e-12)


# -----------------------------------------------------------------------------------------
# Bug (fixed; it was a silent wrong gradient): in a loop, a variable set to a constant on
# one branch and to an active value on the other: the adjoint accumulated for the constant
# branch is not cleared and leaks into an earlier iteration of the backward sweep.
# -----------------------------------------------------------------------------------------


def constant_on_later_branch(y):
    x = 0.0
    for i in range(2):
        if i > 0:
            t = 1.5
        else:
            t = y
        x = x + t
    return x  # = y + 1.5


def constant_in_conditional_expression(y):
    x = 0.0
    for i in range(2):
        x = x + (1.5 if i > 0 else y)
    return x  # = y + 1.5


def constant_branch_in_nested_loops(y):
    x = 0.0
    for _ in range(2):
        for i in range(2):
            x = x + (1.55 if i < 1 else y)
    return x  # = 2y + 3.1


def constant_on_earlier_branch(y):
    x = 0.0
    for i in range(2):
        x = x + (1.5 if i < 1 else y)
    return x  # = y + 1.5 (the single-loop order that happens to work)


def test_constant_on_the_earlier_branch_in_a_loop():
    assert grad(constant_on_earlier_branch)(0.7) == pytest.approx(1.0, rel=1e-12)


@pytest.mark.parametrize("mode", ALL_MODES)
@pytest.mark.parametrize(
    "f, expected",
    [
        (constant_on_later_branch, 1.0),
        (constant_in_conditional_expression, 1.0),
        (constant_branch_in_nested_loops, 2.0),
    ],
    ids=["if-else", "conditional-expression", "nested-loops"],
)
def test_constant_on_one_branch_in_a_loop(f, expected, mode):
    assert numerical_gradient(f, [0.7]) == pytest.approx(expected, rel=1e-7)
    assert _gradient(mode, f, (0.7,)) == pytest.approx(expected, rel=1e-12)


# -----------------------------------------------------------------------------------------
# Bug (fixed; it was a silent wrong gradient): a helper with a ``*args`` parameter, called
# from a differentiated function, is treated as a constant: the gradient is 0. The helper
# itself passed to grad is rejected ("'*args' parameters are not supported"), so the call
# should be rejected too (or differentiated).
# -----------------------------------------------------------------------------------------


def star_params_helper(*values):
    return values[0] * 2.0


def calls_star_params_helper(x):
    return star_params_helper(x, x)  # = 2x


def test_call_of_a_star_args_helper_is_rejected_or_right():
    try:
        g = grad(calls_star_params_helper)(0.5)
    except ADTransformError as error:
        assert "*args" in str(error) or "star" in str(error)
        return
    assert g == pytest.approx(2.0, rel=1e-12)


# -----------------------------------------------------------------------------------------
# Bug (fixed; it was a silent wrong gradient): ``eval`` reads the local variables by name;
# the transformer does not see the dependence and returns 0.
# -----------------------------------------------------------------------------------------


def uses_eval(x):
    return eval("x * 2.0")


def test_eval_is_rejected_or_right():
    try:
        g = grad(uses_eval)(0.5)
    except ADTransformError as error:
        assert "eval" in str(error)
        return
    assert g == pytest.approx(2.0, rel=1e-12)


# -----------------------------------------------------------------------------------------
# Bug (fixed): item assignment into a list crashes inside the generated code
# (AttributeError: 'float' object has no attribute 'copy'): it should be supported (README:
# lists are) or rejected with ADTransformError.
# -----------------------------------------------------------------------------------------


def list_item_write(x):
    values = [1.0, 2.0]
    values[0] = x * 3.0
    return values[0] * values[1]  # = 6x


@pytest.mark.parametrize("mode", ["grad", "value_and_grad"])
def test_list_item_assignment_is_right_or_rejected(mode):
    try:
        g = _gradient(mode, list_item_write, (0.5,))
    except ADTransformError as error:
        assert "list" in str(error)
        return
    assert g == pytest.approx(6.0, rel=1e-12)


def test_array_item_assignment_still_works():
    def array_item_write(x):
        values = np.array([1.0, 2.0])
        values[0] = x * 3.0
        return values[0] * values[1]

    assert grad(array_item_write)(0.5) == pytest.approx(6.0, rel=1e-12)


# -----------------------------------------------------------------------------------------
# Bug (found by the long fuzz run): the adjoint of math.hypot divides by hypot itself, so
# at the origin it raises ZeroDivisionError for floats and gives NaN for NumPy scalars,
# even where the function is smooth. README ("NumPy coverage"): hypot has gradient 0
# where it is 0 (np.hypot does so).
# -----------------------------------------------------------------------------------------


def hypot_of_zeros(x):
    return math.hypot(x * 0.0, x * 0.0) + x  # = x


def np_hypot_of_zeros(x):
    return np.hypot(x * 0.0, x * 0.0) + x  # = x


def hypot_in_loop(x, z):
    # the fuzzer's program, reduced: the second iteration calls hypot(-0.0, -0.0)
    for _ in range(2):
        x = abs(x) * (-z)
        z = abs(math.hypot(x, x))
        for _ in range(4):
            z -= z
    return x + 0.03  # = 0.03 near (0.5, 0.7)


def test_np_hypot_at_the_origin_has_gradient_zero():
    assert grad(np_hypot_of_zeros)(1.0) == pytest.approx(1.0, rel=1e-12)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize(
    "f, args, expected",
    [
        (hypot_of_zeros, (1.0,), 1.0),
        (hypot_of_zeros, (np.float64(1.0),), 1.0),
        (hypot_in_loop, (0.5, 0.7), 0.0),
    ],
    ids=["float", "np.float64", "fuzz-program"],
)
def test_math_hypot_at_the_origin_has_gradient_zero(f, args, expected):
    assert numerical_gradient(f, list(args)) == pytest.approx(expected, abs=1e-9)
    g = grad(f)(*args)
    assert not math.isnan(g)
    assert g == pytest.approx(expected, abs=1e-12)
