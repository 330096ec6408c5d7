"""Functions as values, the cases the first pass refused (issue 12): a local holding one
of several known functions chosen at run time, inner-function defaults computed from
locals, functions returned by a helper, ``nonlocal`` counters.

Every gradient is checked against central finite differences in float64
(tests/gradcheck.py), the value against the function itself; what stays refused is
checked with its error text.
"""

from __future__ import annotations

import contextlib
import functools
import math

import numpy as np
import pytest
from gradcheck import check_grad

from ad_transform import ADTransformError, grad, value_and_grad

V = np.array([0.3, -1.2, 0.8, 2.1])


def check(f, *args, wrt=0):
    """The value equals ``f``'s, the gradient the finite differences."""
    value, _ = value_and_grad(f, wrt=wrt)(*args)
    assert np.allclose(value, f(*args), rtol=1e-13, atol=0.0)
    return check_grad(f, args, wrt=wrt)


# -- a local holding one of several known functions -----------------------------------------


def _cube(t):
    return t * t * t


def chosen_by_branch(x, y):
    act = np.tanh if x > 0.0 else np.sin
    return act(x * y) + act(y)


def chosen_among_three(x, mode):
    act = np.tanh if mode == 0 else (_cube if mode == 1 else np.exp)
    return act(x) * x


def chosen_in_statements(x, flag):
    if flag:
        act = np.cos
    else:
        act = _cube
    return act(act(x))


def chosen_array(v, flag):
    reduce_ = np.sum if flag else np.max
    act = np.tanh if flag else np.square
    return reduce_(act(v) * v)


def alias_of_one(x):
    act = np.sin
    return act(x) * x


@pytest.mark.parametrize("point", [(0.7, -0.3), (-0.7, -0.3), (1.3, 0.4), (-0.2, 1.1)])
def test_function_chosen_by_branch(point):
    check(chosen_by_branch, *point, wrt=(0, 1))


@pytest.mark.parametrize("mode", [0, 1, 2])
def test_function_chosen_among_three(mode):
    check(chosen_among_three, 0.6, mode)


@pytest.mark.parametrize("flag", [True, False])
def test_function_chosen_in_if_statement(flag):
    check(chosen_in_statements, 0.6, flag)


@pytest.mark.parametrize("flag", [True, False])
def test_function_chosen_on_arrays(flag):
    check(chosen_array, V, flag)


def test_local_alias_of_a_function():
    check(alias_of_one, 0.6)


def chosen_maybe_unbound(x, flag):
    if flag:
        act = np.sin
    return act(x)


def test_chosen_function_unbound_raises_like_python():
    g = grad(chosen_maybe_unbound)
    assert np.isclose(g(0.4, True), np.cos(0.4))
    with pytest.raises(UnboundLocalError):
        g(0.4, False)


def chosen_then_rebound_in_loop(x):
    total = 0.0
    for act in (np.sin, np.cos):
        total = total + act(x)
    return total


def chosen_from_parameter(x, fn):
    act = fn
    return act(x)


@pytest.mark.parametrize(
    "f, args, expected",
    [
        (chosen_then_rebound_in_loop, (0.5,), math.cos(0.5) - math.sin(0.5)),
        (chosen_from_parameter, (0.5, np.sin), math.cos(0.5)),
    ],
)
def test_function_held_otherwise_is_called_through_its_rule(f, args, expected):
    # refused before; the function found when the call runs is differentiated through
    # its adjoint rule (dispatch.py, tests/test_objects_dispatch.py)
    assert grad(f)(*args) == pytest.approx(expected, rel=1e-12)


def test_function_without_rule_held_otherwise_stays_refused():
    with pytest.raises(ADTransformError, match="a call through the local variable 'act'"):
        grad(chosen_from_parameter)(0.5, functools.partial(np.multiply, 2.0))


# -- a function returned by a helper (a closure factory) --------------------------------------


def make_affine(a, b):
    return lambda t: a * t + b


def make_power(k, scale=2.0):
    """A def returned by name; reads both parameters (one from its default)."""

    def power(t, offset=0.5):
        return scale * t**k + offset

    return power


def apply_to(fn, v):
    return fn(v) * v


def factory_used(x, y):
    line = make_affine(x, y)
    return line(2.0) * line(-1.0)


def factory_called_directly(x, y):
    return make_affine(x * y, np.sin(y))(x)


def factory_def_form(x):
    cube = make_power(3)
    square = make_power(2, scale=x)
    return cube(x) + square(x, offset=x)


def factory_passed_on(x, y):
    return apply_to(make_affine(y, x), x) + apply_to(make_power(2), y)


def factory_in_loop(x):
    total = 0.0
    for k in range(3):
        line = make_affine(x * k, x)
        total = total + line(x)
    return total


def factory_arrays(v, w):
    line = make_affine(w, v)
    return np.sum(line(v) * line(2.0))


def factory_arguments_later_rebound(x):
    a = x * x
    line = make_affine(a, 1.0)
    a = 3.0  # the closure holds the parameter, bound at the call: not affected
    return line(x) + a


@pytest.mark.parametrize(
    "f, args, wrt",
    [
        (factory_used, (0.7, -0.3), (0, 1)),
        (factory_called_directly, (0.7, -0.3), (0, 1)),
        (factory_def_form, (0.8,), 0),
        (factory_passed_on, (0.7, -0.4), (0, 1)),
        (factory_in_loop, (0.6,), 0),
        (factory_arrays, (V, V[::-1] * 0.5), (0, 1)),
        (factory_arguments_later_rebound, (0.9,), 0),
    ],
)
def test_closure_factory(f, args, wrt):
    check(f, *args, wrt=wrt)


def make_counter_like(a):
    b = a * 2.0
    return lambda t: b * t


def factory_with_more_statements(x):
    return make_counter_like(x)(x)


def factory_result_returned(x):
    line = make_affine(x, x)
    return line


def factory_result_stored(x):
    line = make_affine(x, 1.0)
    lines = [line]
    return lines[0](x)


@pytest.mark.parametrize(
    "f", [factory_with_more_statements, factory_result_returned, factory_result_stored]
)
def test_factory_results_not_followed_stay_refused(f):
    with pytest.raises(ADTransformError):
        grad(f)(0.5)


# -- nonlocal ------------------------------------------------------------------------------


def nonlocal_counter(x):
    count = 0

    def step(t):
        nonlocal count
        count += 1
        return t * x

    value = step(x) + step(1.0)
    return value * count


def nonlocal_accumulator(x, y):
    """A differentiated nonlocal: the running total is active."""
    total = x * 0.0
    calls = 0

    def add(t):
        nonlocal total, calls
        calls += 1
        if t > 0.0:
            total = total + t * y
            return total
        total = total * x
        return None

    add(x)
    add(-1.0)
    for k in range(3):
        add(x + k)
    return total * calls + np.sin(total)


def nonlocal_in_loop_with_early_return(x):
    best = 0.0

    def consider(t):
        nonlocal best
        for _ in range(2):
            if t * t > best:
                best = t * t
                return True
        return False

    kept = 0.0
    for k in range(4):
        if consider(x * (k - 1.5)):
            kept = kept + x
    return best + kept


def nonlocal_array(v):
    acc = np.zeros(3)

    def push(w):
        nonlocal acc
        acc = acc + w * v

    push(2.0)
    push(v)
    return np.sum(acc * acc)


def rebinds_with_nonlocal(x):
    """Refused before; the total is differentiated now."""
    total = x

    def bump(t):
        nonlocal total
        total = total + t
        return total

    result = bump(x)
    return result * total


@pytest.mark.parametrize(
    "f, args, wrt",
    [
        (rebinds_with_nonlocal, (0.7,), 0),
        (nonlocal_counter, (0.6,), 0),
        (nonlocal_counter, (-1.3,), 0),
        (nonlocal_accumulator, (0.7, -0.4), (0, 1)),
        (nonlocal_accumulator, (-0.7, 0.4), (0, 1)),
        (nonlocal_in_loop_with_early_return, (0.8,), 0),
        (nonlocal_array, (V[:3],), 0),
    ],
)
def test_nonlocal(f, args, wrt):
    check(f, *args, wrt=wrt)


def nonlocal_read_in_same_statement(x):
    count = 0

    def step(t):
        nonlocal count
        count += 1
        return t

    return count + step(x)


def nonlocal_passed_on(x):
    count = 0

    def step(t):
        nonlocal count
        count += 1
        return t * x

    return apply_to(step, x) * count


def nonlocal_in_try(x):
    count = 0

    def step(t):
        nonlocal count
        count += 1
        return t * x

    try:
        value = step(x)
    except ValueError:
        value = 0.0
    return value * count


def nonlocal_called_by_inner(x):
    count = 0

    def step(t):
        nonlocal count
        count += 1
        return t

    def twice(t):
        return step(step(t))

    return twice(x) * count


def nonlocal_in_map(x):
    count = 0

    def step(t):
        nonlocal count
        count += 1
        return t

    return sum(map(step, [x, x])) * count


@pytest.mark.parametrize(
    "f",
    [
        nonlocal_read_in_same_statement,
        nonlocal_passed_on,
        nonlocal_in_try,
        nonlocal_called_by_inner,
        nonlocal_in_map,
    ],
)
def test_nonlocal_not_followed_stays_refused(f):
    with pytest.raises(ADTransformError, match="nonlocal"):
        grad(f)(0.5)


# -- defaults computed from the function's variables ---------------------------------------


def defaults_in_loop(x):
    total = 0.0
    for k in range(1, 4):

        def scaler(t, k=k):
            return k * t * t

        total = total + scaler(x)
    return total


def inner_default_from_local(x):
    """Refused before (moved from test_constructs_functions.py)."""
    k = x * 2.0

    def g(t, scale=k):
        return t * scale

    return g(x)


def default_bound_at_definition(x, y):
    c = x * y
    g = lambda t, a=c: a * t  # noqa: E731
    c = 5.0  # the default keeps the value at the definition
    return g(x) + g(x, a=y) + g(t=y, a=x) + c


def default_keyword_only_active(x, y):
    shift = np.sin(x)

    def affine(t, *, w=y * y, b=shift):
        return w * t + b

    return affine(x) * affine(y, b=x)


def default_passed_on(x):
    total = 0.0
    for k in range(3):
        scale = x + k
        total = total + apply_to(lambda t, s=scale: s * t, x)
    return total


def default_mapped(v, y):
    outs = []
    for i in range(2):
        outs.append(sum(map(lambda t, i=i: (t + i) * y, v)))
    return outs[0] * outs[1]


def default_in_branch(x, flag):
    if flag:
        g = lambda t, a=x * x: a + t  # noqa: E731
        return g(x)
    return x


@pytest.mark.parametrize(
    "f, args, wrt",
    [
        (defaults_in_loop, (0.7,), 0),
        (inner_default_from_local, (0.7,), 0),
        (default_bound_at_definition, (0.7, -0.3), (0, 1)),
        (default_keyword_only_active, (0.7, -0.3), (0, 1)),
        (default_passed_on, (0.6,), 0),
        (default_mapped, (V, 0.4), (0, 1)),
        (default_in_branch, (0.6, True), 0),
        (default_in_branch, (0.6, False), 0),
    ],
)
def test_default_computed_from_variables(f, args, wrt):
    check(f, *args, wrt=wrt)


def default_recursive(x):
    def g(t, n=x):
        return t if n < 0.0 else g(t * n, n - 1.0)

    return g(x)


@pytest.mark.parametrize("f", [default_recursive])
def test_default_uses_not_followed_stay_refused(f):
    with pytest.raises(ADTransformError):
        grad(f)(0.5)


def chosen_or_imported(x, flag):
    if flag:
        act = np.sin
    else:
        from numpy import cos as act
    return act(x)


def chosen_or_matched(x, key):
    act = np.sin
    match key:
        case "cos":
            act = np.cos
        case other if other == "sin":
            pass
        case act:  # binds the string: not a function
            pass
    return act(x)


@pytest.mark.parametrize(
    "f, args", [(chosen_or_imported, (0.5, False)), (chosen_or_matched, (0.5, "x"))]
)
def test_local_also_bound_otherwise_is_not_a_choice(f, args):
    with pytest.raises(ADTransformError):
        grad(f)(*args)


def nonlocal_through_inline_lambda(x):
    count = 0

    def step(t):
        nonlocal count
        count += 1
        return t

    total = sum(map(lambda t: step(t), [x, x]))
    return total * count


def nonlocal_through_passed_lambda(x):
    count = 0

    def step(t):
        nonlocal count
        count += 1
        return t * t

    total = apply_to(lambda t: step(t), x)
    return total * count


@pytest.mark.parametrize("f", [nonlocal_through_inline_lambda, nonlocal_through_passed_lambda])
def test_nonlocal_called_from_a_lambda_stays_refused(f):
    with pytest.raises(ADTransformError, match="nonlocal"):
        grad(f)(0.5)


def default_through_lambda(x):
    total = 0.0
    for k in range(1, 3):
        w = x * k

        def scaler(t, w=w):
            return w * t

        total = total + apply_to(lambda t: scaler(t) + t, x)
    return total


def test_default_reached_through_a_lambda():
    check(default_through_lambda, 0.6)


# Issue 11's soundness cases: a local named like a global calls what it holds, never the
# global of the same name (these were refused; now they are exact).
@pytest.mark.parametrize("point", [0.7, -0.4])
def test_local_named_like_a_global(point):
    import test_soundness_names as names

    assert np.isclose(grad(names.local_shadows_module_function)(point), np.cos(point))
    assert np.isclose(grad(names.local_shadows_imported_function)(point), -np.sin(point))
    assert np.isclose(grad(names.local_shadows_builtin)(point), -np.sin(point))
    expected = np.cos(point) if point > 0 else -np.sin(point)
    assert np.isclose(grad(names.branch_binds_the_local)(point), expected)
    assert np.isclose(grad(names.calls_a_helper_with_a_shadowing_local)(point), 2 * np.cos(point))
    one_path = grad(names.branch_binds_the_local_on_one_path)
    if point > 0:
        assert np.isclose(one_path(point), np.cos(point))
    else:
        with pytest.raises(UnboundLocalError):
            one_path(point)
    for f in (names.local_shadows_builtin, names.branch_binds_the_local):
        check(f, point)


@pytest.mark.parametrize("point", [0.5, -0.5])
def test_function_chosen_by_reassignment(point):
    """Refused before (test_soundness_wrappers.py): ``g = np.sin`` then ``g = np.cos``
    in a branch."""
    import test_soundness_wrappers as wrappers

    expected = -np.sin(point) if point > 0 else np.cos(point)
    assert np.isclose(grad(wrappers.chooses_a_function)(point), expected)
    check(wrappers.chooses_a_function, point)


def lifted_called_plainly(x, y):
    """``fn(...)``'s result is not needed (a plain call of the lifted lambda), and the
    lambda calls an inner function that captures ``x`` and ``y``."""

    def g1(t):
        return np.cos(t * y) + x

    fn = lambda t: g1(t) * t  # noqa: E731
    with contextlib.suppress(ValueError):
        unused = fn(x * y)
        guard_positive(unused)
    return g1(x) * y


def guard_positive(v):
    if v < -100.0:
        raise ValueError("negative")
    return v


def test_lifted_function_called_as_a_plain_function():
    check(lifted_called_plainly, 0.7, -0.3, wrt=(0, 1))
