"""Issue 11, item 1: wrapped callables are differentiated as what they are.

A wrapper made by a decorator (``functools.wraps`` sets ``__wrapped__``) is an ordinary
closure: its own code runs, so its own code is differentiated, and the function it
wraps is a free variable resolved through the closure cell (a helper with its own
forward/backward pair). Derivatives made by ad_transform (``grad(f)``, ...) are never
differentiated as if they were ``f``: that would answer with a lower order. Expected
values come from calculus or from central finite differences.
"""

from __future__ import annotations

import functools
import math
import os
import re
import subprocess
import sys
import textwrap
from collections import Counter

import numpy as np
import pytest
from fuzz_programs import CONSTANTS, HEADER, Program, programs
from gradcheck import numerical_gradient
from hypothesis import given, settings
from hypothesis import strategies as st
from test_fuzz import check_program

from ad_transform import (
    ADTransformError,
    export,
    grad,
    register_adjoint,
    ssa_source,
    trace_table,
    value_and_grad,
    vjp,
)
from ad_transform.cli import main

# -- decorators -----------------------------------------------------------------------------


def doubled(fn):
    @functools.wraps(fn)
    def wrapper(x):
        return 2.0 * fn(x)

    return wrapper


def scaled(k):
    """A decorator factory: the wrapper multiplies by ``k``."""

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(x):
            return k * fn(x)

        return wrapper

    return decorate


def shifted(fn):
    """The wrapper changes the argument, not the result."""

    @functools.wraps(fn)
    def wrapper(x):
        return fn(x + 1.0)

    return wrapper


def squared_result(fn):
    """A wrapper of a two-argument function: f(x, y)**2."""

    @functools.wraps(fn)
    def wrapper(x, y):
        r = fn(x, y)
        return r * r

    return wrapper


def passing_everything(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return 3.0 * fn(*args, **kwargs)

    return wrapper


def with_offset(fn):
    """The wrapper has a parameter the wrapped function does not have."""

    @functools.wraps(fn)
    def wrapper(x, offset=0.0):
        return fn(x) + offset * x

    return wrapper


def replaced(fn):
    """A wrapper that never calls what it wraps: only its own code counts."""

    @functools.wraps(fn)
    def wrapper(x):
        return 5.0 * x

    return wrapper


class Doubling:
    """A class used as a decorator: instances are callable objects."""

    def __init__(self, fn):
        functools.update_wrapper(self, fn)
        self.fn = fn

    def __call__(self, x):
        return 2.0 * self.fn(x)


# -- decorated functions --------------------------------------------------------------------


@doubled
def sq(x):
    return x * x


def cube(x):
    return x * x * x


@scaled(3.0)
def sin_times_three(x):
    return np.sin(x)


@doubled
@scaled(3.0)
def stacked_sq(x):  # 6 x**2
    return x * x


@shifted
def shifted_sq(x):  # (x + 1)**2
    return x * x


@squared_result
def mixed(x, y):  # (x * sin(y) + y**2)**2
    return x * np.sin(y) + y * y


@passing_everything
def star_sq(x):
    return x * x


@with_offset
def offset_sq(x):  # x**2 + offset * x
    return x * x


@replaced
def ignored(x):
    return x * x * x


@functools.lru_cache(maxsize=128)
def cached_sq(x):
    return x * x


@functools.cache
def cached_cube(x):
    return x * x * x


@Doubling
def object_sq(x):
    return x * x


@functools.wraps(np.sin)
def my_sin(x):
    """A user function that claims np.sin's name: it is not np.sin."""
    return 2.0 * np.sin(x)


@doubled
def array_sq(v):  # 2 * sum(v**2)
    return np.sum(v * v)


# -- callers ---------------------------------------------------------------------------------


def calls_sq(x):  # 2x**2 + x
    return sq(x) + x


def calls_stacked(x):  # x * 6x**2
    return x * stacked_sq(x)


def calls_sin_times_three(x):  # 3 sin(x)**2
    return sin_times_three(x) * np.sin(x)


def calls_my_sin(x):  # 2 sin(x) + x
    return my_sin(x) + x


def calls_offset_sq(x):  # x**2 + 3x
    return offset_sq(x, 3.0)


def calls_mixed(a, b):
    return mixed(a * b, b) + a


def calls_cached(x):
    return cached_sq(x) + x


def calls_object(x):
    return object_sq(x) + x


def calls_star(x):
    return star_sq(x) + x


def calls_sq_and_its_inner(x):  # the wrapper (2x**2) and the undecorated function (x**2)
    return sq(x) + sq.__wrapped__(x)


# -- the examples of the issue ------------------------------------------------------------


def test_doubled_wrapper_is_differentiated_with_its_own_work():
    assert grad(sq)(3.0) == 12.0  # d/dx 2x**2 = 4x


def test_doubled_wrapper_called_from_a_helper():
    assert grad(calls_sq)(3.0) == 13.0  # 4x + 1


def test_gradient_of_a_gradient_is_the_second_derivative_not_a_lower_order():
    g = grad(cube)
    assert grad(g)(3.0) == pytest.approx(18.0)  # 6x; 27.0 (3x**2) if g were unwrapped


# -- other wrappers -------------------------------------------------------------------------


def test_decorator_with_arguments():
    x = 0.7
    assert grad(sin_times_three)(x) == pytest.approx(3.0 * math.cos(x), rel=1e-14)
    assert grad(calls_sin_times_three)(x) == pytest.approx(
        6.0 * math.sin(x) * math.cos(x), rel=1e-14
    )


def test_stacked_decorators():
    assert grad(stacked_sq)(2.0) == pytest.approx(24.0)  # 12x
    assert grad(calls_stacked)(2.0) == pytest.approx(72.0)  # 18x**2


def test_wrapper_that_changes_the_argument():
    assert grad(shifted_sq)(2.0) == pytest.approx(6.0)  # 2(x + 1)


def test_wrapper_that_ignores_the_wrapped_function():
    assert grad(ignored)(2.0) == pytest.approx(5.0)  # not 3x**2 = 12


def test_two_argument_wrapper_against_finite_differences():
    args = (0.8, -1.3)
    got = grad(mixed, wrt=(0, 1))(*args)
    want = numerical_gradient(mixed, args, wrt=(0, 1))
    np.testing.assert_allclose(got, want, rtol=1e-6)
    x, y = args
    r = x * math.sin(y) + y * y
    np.testing.assert_allclose(
        got, (2 * r * math.sin(y), 2 * r * (x * math.cos(y) + 2 * y)), rtol=1e-13
    )


def test_two_argument_wrapper_called_from_a_helper_against_finite_differences():
    args = (0.6, 1.1)
    got = grad(calls_mixed, wrt=(0, 1))(*args)
    want = numerical_gradient(calls_mixed, args, wrt=(0, 1))
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_wrapper_of_an_array_function():
    v = np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(grad(array_sq)(v), 4.0 * v, rtol=1e-15)


def test_value_and_grad_and_vjp_of_a_wrapper():
    assert value_and_grad(sq)(3.0) == (18.0, 12.0)
    value, pullback = vjp(sq)(3.0)
    assert value == 18.0
    assert pullback(0.5) == pytest.approx(6.0)


def test_wrapper_and_the_function_it_wraps_in_one_caller():
    assert grad(calls_sq_and_its_inner)(3.0) == pytest.approx(18.0)  # 4x + 2x


def test_user_wrapper_named_like_a_numpy_function_is_not_that_function():
    assert my_sin.__name__ == "sin" and my_sin.__wrapped__ is np.sin
    x = 0.4
    assert grad(my_sin)(x) == pytest.approx(2.0 * math.cos(x), rel=1e-14)
    assert grad(calls_my_sin)(x) == pytest.approx(2.0 * math.cos(x) + 1.0, rel=1e-14)


def test_keyword_arguments_bind_to_the_wrappers_own_parameters():
    assert grad(sq)(x=3.0) == 12.0
    assert grad(mixed, wrt=1)(0.8, y=-1.3) == pytest.approx(
        numerical_gradient(mixed, (0.8, -1.3), wrt=1), rel=1e-6
    )


def test_wrapper_with_its_own_extra_parameter():
    assert grad(calls_offset_sq)(2.0) == pytest.approx(7.0)  # 2x + 3
    assert grad(offset_sq, wrt=(0, 1))(2.0, 3.0) == pytest.approx((7.0, 2.0))
    assert grad(offset_sq)(2.0, offset=3.0) == pytest.approx(7.0)


def test_star_args_wrapper_is_differentiated():
    """``*args``/``**kwargs`` wrappers are spread per call (issue 12): 3 * x**2."""
    assert grad(star_sq)(2.0) == pytest.approx(12.0, rel=1e-12)
    assert grad(star_sq)(2.0) == pytest.approx(numerical_gradient(star_sq, [2.0]), rel=1e-6)
    assert grad(calls_star)(2.0) == pytest.approx(13.0, rel=1e-12)


@pytest.mark.parametrize("cached", [cached_sq, cached_cube], ids=["lru_cache", "cache"])
def test_lru_cache_is_refused_naming_it(cached):
    with pytest.raises(ADTransformError, match="lru_cache"):
        grad(cached)(2.0)


def test_lru_cache_called_from_a_helper_is_refused_naming_it():
    with pytest.raises(ADTransformError, match="lru_cache") as info:
        grad(calls_cached)(2.0)
    assert "cached_sq" in str(info.value)


def test_class_used_as_decorator_is_refused_naming_it():
    with pytest.raises(ADTransformError, match="instance of the class Doubling"):
        grad(object_sq)(2.0)
    # called from a differentiated function, the object's __call__ (plain Python) is
    # differentiated, and so is the module-level function it holds (dispatched when
    # the call runs: tests/test_objects_dispatch.py): d/dx (2 x**2 + x) = 4 x + 1
    assert grad(calls_object)(2.0) == pytest.approx(9.0, rel=1e-15)


def test_partial_is_refused_naming_it():
    with pytest.raises(ADTransformError, match=r"functools\.partial"):
        grad(functools.partial(mixed, 1.0))(2.0)


# -- adjoint templates are read from their own code too -------------------------------------


def triple(x):
    return 3.0 * x


def wrong_template(g, ans, x):
    return 0.0 * g


@functools.wraps(wrong_template)
def triple_template(g, ans, x):
    return 3.0 * g


def calls_triple(x):
    return triple(x) * x  # 3x**2


def test_decorated_adjoint_template_is_read_from_its_own_code():
    register_adjoint(triple, triple_template)
    assert grad(calls_triple)(2.0) == pytest.approx(12.0)  # 6x; the inner template gives 4


# -- derivatives made by ad_transform ------------------------------------------------------

d_cube = grad(cube)
vg_cube = value_and_grad(cube)
vjp_cube = vjp(cube)
_, cube_pullback = vjp(cube)(2.0)


def calls_d_cube(x):
    return d_cube(x) * x


def calls_pullback(x):
    return cube_pullback(x)


def calls_grad_inline(x):
    return grad(cube)(x)


def calls_grad_through_a_local(x):
    d = grad(cube)
    return d(x) * 2.0


def calls_vjp_and_its_pullback(x):
    _value, pullback = vjp(cube)(x)
    return pullback(1.0)


def calls_pullback_through_a_local(x):
    _value, pullback = vjp_cube(x)
    return pullback(x)


@pytest.mark.parametrize("transform", [grad, value_and_grad, vjp])
@pytest.mark.parametrize(
    "derivative",
    [vjp_cube, cube_pullback],
    ids=["vjp", "pullback"],
)
def test_every_transform_of_every_other_derivative_is_refused(transform, derivative):
    """grad(f) and value_and_grad(f) are differentiated again (tests/test_higher_order.py,
    docs/architecture/higher_order_4.md); vjp(f) and its pullback are not."""
    with pytest.raises(ADTransformError, match="higher-order derivatives are not supported"):
        transform(derivative)(3.0)


def test_transforms_of_value_and_grad():
    """value_and_grad(f) is differentiated again since comp26 (higher_order_4.md): its
    output is a pair, so grad and value_and_grad of it refuse that output, and vjp of it
    pulls a pair back. cube: (x^3, 3x^2), so the pullback of (c1, c2) is 3x^2 c1 + 6x c2."""
    for transform in (grad, value_and_grad):
        with pytest.raises(ADTransformError, match="scalar \\(float\\) output"):
            transform(vg_cube)(3.0)
    value, pullback = vjp(vg_cube)(3.0)
    assert value[0] == pytest.approx(27.0) and value[1] == pytest.approx(27.0)
    assert pullback((2.0, -0.5)) == pytest.approx(27.0 * 2.0 + 18.0 * -0.5)


def test_every_transform_of_a_gradient_is_the_second_derivative():
    assert grad(d_cube)(3.0) == pytest.approx(18.0)
    assert value_and_grad(d_cube)(3.0) == pytest.approx((27.0, 18.0))
    value, pullback = vjp(d_cube)(3.0)
    assert value == pytest.approx(27.0) and pullback(2.0) == pytest.approx(36.0)


def test_gradient_called_inside_a_differentiated_function():
    assert grad(calls_d_cube)(3.0) == pytest.approx(81.0)  # d/dx 3x**3 = 9x**2


@pytest.mark.parametrize("caller", [calls_pullback])
def test_derivative_called_inside_a_differentiated_function_is_refused(caller):
    with pytest.raises(ADTransformError, match="higher-order derivatives are not supported"):
        grad(caller)(3.0)


def test_vjp_and_its_pullback_called_inside_are_differentiated():
    # 'y, pb = vjp(h)(x)' in the body, pb only called (higher_order_4.md), refused before:
    # pullback(1.0) = 3x^2, d/dx = 6x; pullback(x) = 3x^3, d/dx = 9x^2
    assert grad(calls_vjp_and_its_pullback)(3.0) == pytest.approx(18.0, rel=1e-12)
    assert grad(calls_pullback_through_a_local)(3.0) == pytest.approx(81.0, rel=1e-12)


def test_gradient_made_inline_or_held_in_a_local_is_the_second_derivative():
    # higher_order_3.md: d/dx 3x**2 = 6x; d/dx 2 * 3x**2 = 12x
    assert grad(calls_grad_inline)(3.0) == pytest.approx(18.0)
    assert grad(calls_grad_through_a_local)(3.0) == pytest.approx(36.0)


def scales_by_a_constant_derivative(x):
    return x * d_cube(2.0)  # d_cube(2.0) = 12 does not depend on x


def test_derivative_of_a_constant_argument_is_a_constant():
    # no second derivative is needed: d/dx (x * 12) = 12
    assert grad(scales_by_a_constant_derivative)(5.0) == pytest.approx(12.0)


class Model:
    @grad(wrt=1)
    def d_energy(self, x):
        return x * x * x


def calls_bound_derivative(x):
    return BOUND(x)


BOUND = Model().d_energy


def test_grad_method_bound_to_an_instance_is_still_a_derivative():
    assert BOUND(2.0) == pytest.approx(12.0)
    with pytest.raises(ADTransformError, match="higher-order derivatives are not supported"):
        grad(calls_bound_derivative)(2.0)


def test_trace_and_export_of_a_derivative_are_refused(tmp_path):
    with pytest.raises(ADTransformError, match="higher-order derivatives are not supported"):
        trace_table(d_cube, 3.0)
    with pytest.raises(ADTransformError, match="higher-order derivatives are not supported"):
        export(d_cube, tmp_path / "d2.py")
    with pytest.raises(ADTransformError, match="higher-order derivatives are not supported"):
        ssa_source(d_cube)


def test_grad_object_keeps_its_metadata_but_not_the_wrapped_dict():
    g = grad(sq)
    assert g.__wrapped__ is sq and g.__name__ == "sq"
    assert g.func is sq  # not sq.__wrapped__ via a copied __dict__
    gg = grad(d_cube)
    assert gg.func is d_cube and gg.wrt == 0


# -- functions held in parameters and locals -------------------------------------------------


def reduce_with(a, red=np.sum):
    return red(a)


def apply_twice(fn, v):
    return fn(fn(v))


def calls_apply_twice(x):
    return apply_twice(np.sin, x)


def chooses_a_function(x):
    g = np.sin
    if x > 0:
        g = np.cos
    return g(x)


@pytest.mark.parametrize(
    "func, args, wrt, what",
    [
        # np.sin itself is now called through its rule when the call runs (dispatch.py)
        (apply_twice, (functools.partial(np.multiply, 2.0), 0.5), 1, "the parameter 'fn'"),
    ],
)
def test_call_of_a_function_held_in_a_variable_says_so(func, args, wrt, what):
    with pytest.raises(ADTransformError) as info:
        grad(func, wrt=wrt)(*args)
    message = str(info.value)
    assert what in message and "holds a function" in message
    assert "undefined name" not in message


def test_inactive_call_through_a_parameter_is_a_constant():
    def scaled_by(x, k, fn):
        return x * fn(k)

    assert grad(scaled_by)(2.0, 0.3, np.exp) == pytest.approx(math.exp(0.3), rel=1e-15)


# -- the same for trace, export and the command line -------------------------------------------


def test_trace_table_of_a_wrapper():
    table = trace_table(sq, 3.0)
    assert table.gradient == pytest.approx(12.0)
    table = trace_table(calls_sq, 3.0)
    assert table.gradient == pytest.approx(13.0)


def test_export_of_a_wrapper(tmp_path):
    path = export(sq, tmp_path / "d_sq.py", example_args=(3.0,))
    namespace: dict = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    assert namespace["grad_sq"](3.0) == pytest.approx(12.0)
    assert namespace["sq"](3.0) == pytest.approx(18.0)  # the wrapper, exported as sq


def test_cli_differentiates_the_wrapper(tmp_path, capsys):
    user = tmp_path / "decorated.py"
    user.write_text(
        textwrap.dedent(
            """
            import functools

            def doubled(fn):
                @functools.wraps(fn)
                def wrapper(x):
                    return 2.0 * fn(x)
                return wrapper

            @doubled
            def sq(x):
                return x * x

            def cube(x):
                return x * x * x

            from ad_transform import grad
            d_cube = grad(cube)
            """
        )
    )
    target = tmp_path / "d_sq.py"
    assert main(["export", f"{user}:sq", "-o", str(target)]) == 0
    capsys.readouterr()
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import runpy; m = runpy.run_path({str(target)!r}); print(m['grad_sq'](3.0))",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout
    assert float(out) == pytest.approx(12.0)
    assert main(["table", f"{user}:sq", "3"]) == 0
    capsys.readouterr()
    assert main(["show", f"{user}:d_cube"]) == 1
    assert "higher-order derivatives are not supported" in capsys.readouterr().err


def test_wrapper_source_is_the_wrappers_own_code():
    source = ssa_source(sq)
    assert "def wrapper(x):" in source and "2.0 * " in source and "fn(x)" in source
    gradient_source = grad(sq).source_for(3.0)
    assert "def grad_sq(x):" in gradient_source  # named as the user knows the function
    assert "return 2.0 * fn(x)" in gradient_source  # the wrapper's line, not 'x * x'


# -- random programs whose helpers are decorated -----------------------------------------------

DECORATORS = """
import functools


def affine1(a, b):
    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(p):
            return a * fn(p) + b * p

        return wrapper

    return decorate


def affine2(a, b):
    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(p, q):
            return a * fn(p, q) + b * p * q

        return wrapper

    return decorate


def shifted1(fn):
    @functools.wraps(fn)
    def wrapper(p):
        return fn(p + 0.25)

    return wrapper


def swapped2(fn):
    @functools.wraps(fn)
    def wrapper(p, q):
        return fn(q, p)

    return wrapper
"""


# AD_WRAP_FUZZ_EXAMPLES=2000 for a long run
DECORATED_EXAMPLES = int(os.environ.get("AD_WRAP_FUZZ_EXAMPLES", "20"))


@st.composite
def decorated_programs(draw):
    """A program of fuzz_programs with helpers, h0 under 1 or 2 decorators, h1 under 0 to 2."""
    program = draw(programs(max_helpers=2).filter(lambda p: "\ndef h0(" in p.source))
    source = program.source.replace(HEADER, HEADER + DECORATORS, 1)
    for k in range(2):
        match = re.search(rf"^def h{k}\((\w+)(, \w+)?\):", source, re.MULTILINE)
        if match is None:
            continue
        two = match.group(2) is not None
        lines = []
        for _ in range(draw(st.integers(1 if k == 0 else 0, 2))):
            a, b = draw(CONSTANTS), draw(CONSTANTS)
            plain = "swapped2" if two else "shifted1"
            lines.append(
                draw(st.sampled_from([f"@affine{2 if two else 1}({a}, {b})", f"@{plain}"]))
            )
        source = (
            source[: match.start()] + "".join(f"{d}\n" for d in lines) + source[match.start() :]
        )
    return Program(source, program.arity, program.point)


def test_random_programs_with_decorated_helpers_match_finite_differences(tmp_path):
    outcomes: Counter = Counter()

    @settings(max_examples=DECORATED_EXAMPLES, deadline=None, database=None, derandomize=True)
    @given(decorated_programs())
    def run(program):
        outcome = check_program(program, tmp_path)
        decorated = re.search(r"^@\w+", program.source, re.MULTILINE) is not None
        outcomes[outcome + (" (decorated)" if decorated else "")] += 1

    run()
    assert outcomes["checked (decorated)"] >= 0.5 * DECORATED_EXAMPLES, dict(outcomes)
