"""Issue 15, scalar code through helpers and the tape: specialised helper pairs, numbers
held by globals, tuples returned by helpers, and a tape that keeps each value once per
iteration and never a loop constant.

Every gradient is compared with central finite differences in float64 (``check_grad``);
the generated source is checked for its shape (no generic helpers on floats, one push
per iteration), never for timings.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from gradcheck import check_grad, numerical_gradient

from ad_transform import grad, pipeline, value_and_grad, vjp

STEP = 0.01
SCALE = 2.0
GENERIC = ("unbroadcast", "add_adjoint", "mul_adjoint", "index_adjoint", "conversion_adjoint")


def _pair_sources(func) -> list[str]:
    entries = pipeline._cache.get(func, {})
    return [e.generated.source for k, e in entries.items() if k[-1] == "pair" and e.generated]


def _loop_pushes(source: str) -> list[str]:
    """What each push saves: on the tape (``push``) or a loop's own list (``keep``)."""
    return re.findall(r"(?:push|keep)\((.*)\)", source)


# -- the RK4 of the benchmarks: a helper returning a tuple of floats -------------------
def pendulum_field(u, v, k):
    return v, -k * math.sin(u) - 0.1 * v


def rk4_helper(k, u0, n):
    u = u0
    v = 0.0
    h = STEP
    for _ in range(n):
        a1, b1 = pendulum_field(u, v, k)
        a2, b2 = pendulum_field(u + 0.5 * h * a1, v + 0.5 * h * b1, k)
        a3, b3 = pendulum_field(u + 0.5 * h * a2, v + 0.5 * h * b2, k)
        a4, b4 = pendulum_field(u + h * a3, v + h * b3, k)
        u = u + h / 6.0 * (a1 + 2.0 * a2 + 2.0 * a3 + a4)
        v = v + h / 6.0 * (b1 + 2.0 * b2 + 2.0 * b3 + b4)
    return u * u + v


def rk4_inline(k, u0, n):
    u = u0
    v = 0.0
    h = STEP
    for _ in range(n):
        b1 = -k * math.sin(u) - 0.1 * v
        u2, v2 = u + 0.5 * h * v, v + 0.5 * h * b1
        b2 = -k * math.sin(u2) - 0.1 * v2
        u3, v3 = u + 0.5 * h * v2, v + 0.5 * h * b2
        b3 = -k * math.sin(u3) - 0.1 * v3
        u4, v4 = u + h * v3, v + h * b3
        b4 = -k * math.sin(u4) - 0.1 * v4
        u = u + h / 6.0 * (v + 2.0 * v2 + 2.0 * v3 + v4)
        v = v + h / 6.0 * (b1 + 2.0 * b2 + 2.0 * b3 + b4)
    return u * u + v


def test_rk4_helper_and_inline_agree_with_finite_differences():
    helper = check_grad(rk4_helper, (2.0, 0.8, 12), wrt=(0, 1))
    inline = check_grad(rk4_inline, (2.0, 0.8, 12), wrt=(0, 1))
    np.testing.assert_allclose(helper, inline, rtol=1e-12)


def test_rk4_helper_code_is_plain_float_arithmetic():
    g = grad(rk4_helper, wrt=(0, 1))
    g(2.0, 0.8, 3)
    caller = g.source
    assert not any(name in caller for name in GENERIC), caller
    assert "unpacked(" not in caller  # a pair of floats unpacks as itself
    # the pair is straight-line code: written into the caller, as in rk4_inline
    assert "pendulum_field_fwd(" not in caller and "pendulum_field_bwd(" not in caller
    assert "is_zero(" not in caller  # the seed is the tuple of two adjoints, never zero
    (pair,) = [s for s in _pair_sources(pendulum_field) if "unbroadcast" not in s]
    assert "def pendulum_field_fwd(u, v, k)" in pair


def test_rk4_one_push_per_iteration_and_no_loop_constants():
    for func in (rk4_helper, rk4_inline):
        g = grad(func, wrt=(0, 1))
        g(2.0, 0.8, 3)
        pushes = _loop_pushes(g.source)
        assert len(pushes) == 1, g.source
        # one restore per backward iteration: a pop, or the loop's header over its list
        assert g.source.count("= pop()") + g.source.count("in reversed(saved") == 1, g.source
        pushed = pushes[0].strip("()").split(", ")
        assert len(pushed) == len(set(pushed))  # each value once
        if func is rk4_inline:  # the four stage angles; their sines are computed again
            assert len(pushed) == 4, g.source
        # h, -k, 0.5 * h and h / 6.0 are the same in every iteration: never on the tape
        for line in g.source.splitlines():
            match = re.match(r"\s*(\w+) = (-k|0\.5 \* h|h / 6\.0)$", line)
            if match:
                assert match.group(1) not in pushed, g.source


def test_inline_rk4_uses_no_generic_helpers():
    g = grad(rk4_inline, wrt=(0, 1))
    g(2.0, 0.8, 3)
    assert not any(name in g.source for name in GENERIC), g.source
    assert "seed(" not in g.source


# -- helpers called with floats, ints, arrays, mixed ---------------------------------
def scaled_square(x, c):
    return c * x * x + np.sin(x)


def test_helper_called_with_floats_and_with_arrays():
    def f(a, w):
        s = scaled_square(a, 3.0)
        t = scaled_square(w, 2.0)
        return s + np.sum(np.sin(w) * t)

    w = np.array([0.3, -0.7, 1.1])
    check_grad(f, (0.4, w), wrt=(0, 1))
    sources = _pair_sources(scaled_square)
    assert any("unbroadcast" not in s for s in sources)  # the pair for floats


def test_helper_called_with_ints_and_mixed_kinds():
    def f(x, y):
        p = scaled_square(x, 2)  # an int constant
        q = scaled_square(y, x)  # both floats
        r = scaled_square(3, y)  # an int argument, differentiated through c
        return p * q + r

    check_grad(f, (0.7, -1.3), wrt=(0, 1))
    gx, gy = grad(f, wrt=(0, 1))(0.7, 2)  # an int argument is differentiated as a float
    num = numerical_gradient(f, (0.7, 2.0), wrt=(0, 1))
    np.testing.assert_allclose((gx, gy), num, rtol=1e-6)
    assert type(gy) is float


def test_helper_result_kind_follows_array_arguments():
    def twice(v):
        return 2.0 * v, v * v

    def f(x, a):
        p, q = twice(x)
        r, s = twice(a)
        return p * q + np.sum(r * s)

    check_grad(f, (1.3, np.array([0.5, -2.0])), wrt=(0, 1))


def test_tuple_of_helper_used_whole_and_by_element():
    def pair(u, v):
        return u * v, u - v

    def keep(t):
        return t[0] * 2.0 + t[1]

    def f(x, y):
        t = pair(x, y)
        a = t[0]
        return a * keep(t) + t[1]

    check_grad(f, (0.9, -0.4), wrt=(0, 1))


def test_helper_returning_tuple_in_a_loop_with_branch():
    def step(u, v):
        if u > 0:
            return v, -u
        return 0.5 * v, u * v

    def f(u0, v0, n):
        u, v = u0, v0
        for _ in range(n):
            du, dv = step(u, v)
            u = u + 0.1 * du
            v = v + 0.1 * dv
        return u * v

    check_grad(f, (0.8, 0.3, 20), wrt=(0, 1))


# -- recursion ------------------------------------------------------------------------
def power_rec(x, n):
    if n == 0:
        return 1.0
    return x * power_rec(x, n - 1)


def pair_rec(x, n):
    if n == 0:
        return x, 1.0
    a, b = pair_rec(x, n - 1)
    return a * x, b + a


def test_recursive_helpers_with_floats():
    def g(x):
        return power_rec(x, 5) + math.sin(x)

    check_grad(g, (1.1,))

    def f(x):
        a, b = pair_rec(x, 4)
        return a + b * b

    check_grad(f, (0.7,))


# -- numbers held by globals ----------------------------------------------------------
def uses_global_scale(x):
    y = x
    for _ in range(3):
        y = y * SCALE + np.sin(y)
    return y


def test_global_number_is_a_scalar_and_rebinding_regenerates():
    global SCALE
    g = grad(uses_global_scale)
    check_grad(uses_global_scale, (0.3,))
    assert "unbroadcast" not in g.source and "mul_adjoint" not in g.source
    SCALE = 3.0  # another number: the same code is right
    try:
        np.testing.assert_allclose(g(0.3), numerical_gradient(uses_global_scale, (0.3,)), rtol=1e-6)
        SCALE = np.array([1.0, 2.0])  # an array: the code is generated again

        def total(x):
            return np.sum(uses_global_scale(x))

        expected = numerical_gradient(total, (0.3,))
        _, gradient = value_and_grad(total)(0.3)
        np.testing.assert_allclose(gradient, expected, rtol=1e-6)
        np.testing.assert_allclose(grad(total)(0.3), expected, rtol=1e-6)
        _, pullback = vjp(uses_global_scale)(0.3)
        cotangent = np.array([0.7, -1.1])
        eps = 1e-6
        fd = (uses_global_scale(0.3 + eps) - uses_global_scale(0.3 - eps)) / (2 * eps)
        np.testing.assert_allclose(pullback(cotangent), np.dot(fd, cotangent), rtol=1e-6)
    finally:
        SCALE = 2.0


def scaled_by_global(x):
    return SCALE * x


def test_helper_reading_a_global_is_generated_again_when_it_changes():
    global SCALE

    def f(x):
        y = scaled_by_global(x)
        return np.sum(y * y)

    g = grad(f)
    np.testing.assert_allclose(g(0.5), 2 * 2.0 * 2.0 * 0.5, rtol=1e-12)
    SCALE = np.array([1.0, 3.0])
    try:
        np.testing.assert_allclose(g(0.5), 2 * (1.0 + 9.0) * 0.5, rtol=1e-12)
    finally:
        SCALE = 2.0
    np.testing.assert_allclose(g(0.5), 2 * 2.0 * 2.0 * 0.5, rtol=1e-12)


def inner_value(x):
    return x * 2.0


def outer_value(x):
    return inner_value(x) + 1.0


def test_redefined_inner_helper_regenerates_the_result_kind():
    global inner_value

    def f(x):
        y = outer_value(x)
        return np.sum(y * y)

    g = grad(f)
    np.testing.assert_allclose(g(0.5), 2 * (2.0 * 0.5 + 1.0) * 2.0, rtol=1e-12)
    original = inner_value

    def inner_array(x):
        return x * np.array([1.0, 2.0])

    inner_value = inner_array
    try:
        expected = numerical_gradient(f, (0.5,))
        np.testing.assert_allclose(g(0.5), expected, rtol=1e-6)
    finally:
        inner_value = original


# -- the tape: deduplicated pushes, loop constants, nested loops, branches, break --------
def test_nested_loop_constant_of_the_outer_loop_stays_on_the_tape():
    def f(x, n):
        y = x
        for i in range(n):
            c = x * (i + 1.0)  # changes with the outer loop
            for _ in range(3):
                d = -c  # the same in the inner loop, not in the outer
                y = y * 0.9 + d * math.sin(y)
        return y

    check_grad(f, (0.4, 4))


def test_loop_with_branch_break_and_while():
    def f(x, limit):
        y = x
        k = 0
        while y < limit:
            h = 0.5 * x
            if y > 1.0:
                y = y + h * math.cos(y)
            else:
                y = y * 1.3 + h
            k += 1
            if k > 50:
                break
        return y * x

    check_grad(f, (0.3, 4.0))


def test_repeated_reads_of_a_value_pushed_once():
    def f(x, n):
        y = x
        for _ in range(n):
            s = math.sin(y)
            y = s * y + s * s * x + y * y * 0.1
        return y

    g = grad(f)
    check_grad(f, (0.5, 6))
    g(0.5, 2)
    pushes = _loop_pushes(g.source)
    assert len(pushes) == 1, g.source
    pushed = pushes[0].strip("()").split(", ")
    assert len(pushed) == len(set(pushed)), g.source


def test_item_writes_and_pushes_in_one_loop():
    def f(x, n):
        out = np.zeros(n)
        y = x
        for i in range(n):
            y = math.sin(y) * 1.5 + x
            out[i] = y * y
        return np.sum(out * out)

    check_grad(f, (0.4, 5))


def test_helper_pair_tape_in_split_mode():
    def looped(x, n):
        y = x
        for _ in range(n):
            y = math.sin(y) * 0.5 + x * STEP
        return y

    def f(x):
        return looped(x, 7) * looped(x * 2.0, 3)

    check_grad(f, (0.6,))
    _, pullback = vjp(looped)(0.6, 5)
    back, again = pullback(1.0), pullback(1.0)
    expected = numerical_gradient(looped, (0.6, 5))
    np.testing.assert_allclose([back, again], [expected, expected], rtol=1e-6)


@pytest.mark.parametrize("n", [0, 1, 3])
def test_loop_constants_with_zero_or_few_trips(n):
    def f(k, x, n):
        y = x
        for _ in range(n):
            c = -k
            y = y * 0.5 + c * math.sin(y)
        return y + k

    check_grad(f, (1.5, 0.3, n), wrt=(0, 1))


def test_sine_computed_again_only_from_the_value_it_was_computed_from():
    def f(x, n):
        y = x
        for _ in range(n):
            s = math.sin(y)
            y = y * 0.5 + s * x  # y changes after its sine was taken
            t = math.cos(y) * s
            y = y + t * math.exp(s)
        return y

    check_grad(f, (0.45, 5))
    check_grad(f, (-1.2, 1))


def test_helper_returning_a_tuple_to_a_caller_that_returns_it():
    def pair(u, v):
        return u * v, math.sin(u) + v

    def f(x, y):
        t = pair(x, y)
        s = pair(t[1], t[0])
        return s[0] * s[1] + t[0]

    check_grad(f, (0.9, -0.4), wrt=(0, 1))


def test_element_of_a_helper_tuple_read_in_a_branch_only():
    def pair(u, v):
        return u * v, u + 2.0 * v, math.sin(v)

    def f(x, y):
        t = pair(x, y)
        r = t[2]
        if x > 0:
            r = r + t[0]
        return r * y

    check_grad(f, (0.7, 0.4), wrt=(0, 1))
    check_grad(f, (-0.7, 0.4), wrt=(0, 1))

    def g(x, n):
        acc = 0.0
        for i in range(n):
            t = pair(x, acc)
            if i % 2 == 0:
                acc = acc + t[1] * 0.5
            else:
                acc = acc - t[0] * 0.25
        return acc

    check_grad(g, (0.3, 5))


def test_fast_call_path_checks_the_numbers_read_from_globals():
    global SCALE
    g = grad(uses_global_scale)
    first = g(0.3)
    assert g._fast, "a function reading only numbers from globals keeps the fast path"
    np.testing.assert_allclose(first, numerical_gradient(uses_global_scale, (0.3,)), rtol=1e-6)
    SCALE = np.array([0.5, 1.5])
    try:
        with pytest.raises(Exception, match=r"scalar|size-1|grad needs"):
            g(0.3)  # an array output now: generated again, and refused by grad
    finally:
        SCALE = 2.0
    np.testing.assert_allclose(g(0.3), first, rtol=1e-12)


# -- helper pairs written into their callers -------------------------------------------
def angle_term(u):
    return math.sin(u) * u


def test_inlined_helper_before_a_loop_that_rebinds_its_argument():
    def f(x, n):
        u = x
        a = angle_term(u)  # reads u before the loop changes it
        for _ in range(n):
            b = angle_term(u)  # written into the loop
            u = u * 0.9 + 0.1 * a * b
        return a * u + angle_term(u)

    check_grad(f, (0.7, 4))
    g = grad(f)
    g(0.7, 2)
    assert g.source.count("angle_term_fwd(") == 2  # the calls outside the loop stay


def branching_field(u, v):
    if u > v:
        return u * v, u - v
    return math.cos(u), v * v


def looping_field(u, n):
    s = u
    for _ in range(n):
        s = math.sin(s) + u
    return s


def test_inlined_helpers_with_branches_loops_and_nesting():
    def f(x, y, n):
        acc = 0.0
        for _outer in range(n):
            for _ in range(2):
                a, b = branching_field(x + acc, y)
                acc = acc + 0.1 * a * b + 0.01 * looping_field(acc, 3)
        return acc

    check_grad(f, (0.3, 0.5, 3), wrt=(0, 1))
    check_grad(f, (0.9, 0.2, 3), wrt=(0, 1))


SHADOWED = 3.0


def reads_shadowed(x):
    return SHADOWED * x * x


def test_helper_reading_a_global_the_caller_shadows_with_a_local():
    def f(x):
        SHADOWED = 5.0
        return reads_shadowed(x) + SHADOWED * x

    check_grad(f, (0.8,))


field_elsewhere = __import__("types").FunctionType(
    pendulum_field.__code__, {"math": math}, "field_elsewhere"
)


def test_helper_with_other_globals_is_called_not_inlined():
    def f(k, u):
        c = d = 1.0
        for _ in range(2):
            a, b = field_elsewhere(u, 0.3 * c, k)
            c, d = pendulum_field(a, b * d, k)
        return c * d

    check_grad(f, (1.7, 0.4), wrt=(0, 1))
    g = grad(f, wrt=(0, 1))
    g(1.7, 0.4)
    assert "field_elsewhere_fwd(" in g.source
    assert "pendulum_field_fwd(" not in g.source
