"""Unsupported constructs raise ``ADTransformError`` naming the construct and its location.

Expected line and column numbers are computed from the source with
``inspect.getsourcelines``, never hard-coded.
"""

import inspect
import math

import numpy as np
import pytest

from ad_transform import ADTransformError, grad, value_and_grad, vjp
from ad_transform.rules import lookup

COUNTER = 1.0


def f_nested_def(x):
    def inner(t):
        return t * 2.0

    return x * 3.0


def f_list_comprehension(x):
    # comprehensions are lowered to loops; one in a branch of 'a if c else b' is refused
    return sum([x * i for i in range(3)]) if x > 0.0 else x


def f_generator_expression(x):
    terms = (x * i for i in range(3))  # a generator kept for later: lazy, refused
    return sum(terms)


def f_yield(x):
    yield x * 2.0


def f_if(x):
    y = x * 2.0
    if x > 0:
        y = x
    return y


def f_for(x):
    y = x
    for _ in range(3):
        y = y * x
    return y


def f_while(x):
    y = x
    while y < 10.0:
        y = y * 2.0
    return y


def f_lambda_inside(x):
    h = lambda t: t * 2.0  # noqa: E731
    return h(x)


def f_i0(x):
    y = x * 2.0
    return np.i0(y)


def helper_with_if(t):
    if t > 0:
        return t
    return -t


def f_calls_helper_with_if(x):
    return helper_with_if(x) * 2.0


def f_no_return(x):
    y = x * 2.0  # noqa: F841


def f_bare_return(x):
    y = x * 2.0  # noqa: F841
    return


def f_returns_none(x):
    y = x * 2.0  # noqa: F841
    return None


def f_returns_string(x):
    y = x * 2.0  # noqa: F841
    return "not a number"


def f_i0_inactive(x, y):
    return x * np.i0(y)


lambda_function = lambda x: x * 2.0  # noqa: E731


def _location(f, marker):
    """(filename, line, column, stripped source line) of the first line of f containing marker."""
    lines, first = inspect.getsourcelines(f)
    for offset, line in enumerate(lines):
        if offset and marker in line:  # offset 0 is the 'def' line
            return f.__code__.co_filename, first + offset, line.index(marker) + 1, line.strip()
    raise AssertionError(f"{marker!r} not found in the source of {f.__name__}")


def _first_call_error(transform, f, *args):
    transformed = transform(f)  # nothing may be raised before the first call ...
    with pytest.raises(ADTransformError) as info:
        transformed(*args)  # ... but the first call must raise
    with pytest.raises(ADTransformError) as again:
        transformed(*args)  # and so must every later one
    assert str(again.value) == str(info.value)
    return str(info.value)


CONSTRUCTS = [
    (f_list_comprehension, "[x * i", "list comprehension"),
    (f_generator_expression, "(x * i for", "generator expression"),
    (f_yield, "yield", "'yield'"),
    (f_i0, "np.i0", "i0"),
]


@pytest.mark.parametrize("transform", [grad, value_and_grad, vjp])
@pytest.mark.parametrize("f, marker, words", CONSTRUCTS, ids=[f.__name__ for f, _, _ in CONSTRUCTS])
def test_unsupported_construct_is_located(f, marker, words, transform):
    filename, line, column, text = _location(f, marker)
    message = _first_call_error(transform, f, 1.5)
    assert words in message
    assert f"{filename}:{line}:{column}:" in message
    # the source line is shown below the message
    assert text in [shown.strip() for shown in message.splitlines()[1:]]
    assert "^" in message  # with a caret under the column


# Control flow is being implemented. Until it lands it must raise a located
# ADTransformError; once it lands the gradient must be right. Anything else fails.
CONTROL_FLOW = [
    # f, where (function, marker), words, x, f(x), f'(x)
    (f_if, (f_if, "if x > 0"), "'if'", 1.5, 1.5, 1.0),
    (f_if, (f_if, "if x > 0"), "'if'", -1.5, -3.0, 2.0),
    (f_for, (f_for, "for _ in"), "'for'", 1.5, 1.5**4, 4 * 1.5**3),  # x^4
    (f_while, (f_while, "while y"), "'while'", 1.5, 12.0, 8.0),  # 1.5 -> 3 -> 6 -> 12
    (f_calls_helper_with_if, (helper_with_if, "if t > 0"), "'if'", -1.5, 3.0, -2.0),
]


@pytest.mark.parametrize("transform", [grad, value_and_grad, vjp])
@pytest.mark.parametrize(
    "f, where, words, x, value, derivative",
    CONTROL_FLOW,
    ids=[f"{c[0].__name__}({c[3]})" for c in CONTROL_FLOW],
)
def test_control_flow_raises_located_error_or_is_right(
    f, where, words, x, value, derivative, transform
):
    transformed = transform(f)
    try:
        result = transformed(x)
    except ADTransformError as error:
        message = str(error)
        filename, line, column, text = _location(*where)
        assert words in message
        assert "not supported" in message
        assert f"{filename}:{line}:{column}:" in message
        assert text in [shown.strip() for shown in message.splitlines()[1:]]
        return
    if transform is grad:
        assert result == pytest.approx(derivative, rel=1e-12)
    elif transform is value_and_grad:
        assert result == pytest.approx((value, derivative), rel=1e-12)
    else:
        primal, pullback = result
        assert primal == pytest.approx(value, rel=1e-12)
        assert pullback(1.0) == pytest.approx(derivative, rel=1e-12)


def test_i0_has_no_rule():
    # keeps the test honest: it relies on np.i0 (a Bessel function) having no adjoint rule
    assert lookup(np.i0) is None


def test_function_without_rule_is_fine_when_inactive():
    # d/dx x * i0(y) = i0(y) = 427.564115721804... at y = 8; np.i0 is only called on the
    # inactive y
    assert grad(f_i0_inactive)(1.5, 8.0) == pytest.approx(427.5641157218047, rel=1e-12)


def test_scipy_function_without_rule():
    special = pytest.importorskip("scipy.special")

    def uses_j0(x):
        return special.j0(x) * 2.0

    if lookup(special.j0) is not None:
        pytest.skip("scipy.special.j0 has an adjoint rule now")
    filename, line, column, text = _location(uses_j0, "special.j0")
    message = _first_call_error(grad, uses_j0, 0.5)
    assert "j0" in message
    assert f"{filename}:{line}:{column}:" in message
    assert text in message


def test_scipy_function_named_correctly():
    special = pytest.importorskip("scipy.special")

    def uses_j0(x):
        return special.j0(x) * 2.0

    message = _first_call_error(grad, uses_j0, 0.5)
    assert "numpy.j0" not in message
    assert "scipy" in message


def test_no_return_statement():
    _, def_line = inspect.getsourcelines(f_no_return)
    message = _first_call_error(grad, f_no_return, 1.5)
    assert "return" in message
    assert f"{f_no_return.__code__.co_filename}:{def_line}:" in message


def test_bare_return():
    filename, line, column, text = _location(f_bare_return, "return")
    message = _first_call_error(grad, f_bare_return, 1.5)
    assert "return" in message
    assert f"{filename}:{line}:{column}:" in message
    assert text in message


def test_returning_none_raises():
    message = _first_call_error(grad, f_returns_none, 1.5)
    assert "None" in message


def test_returning_string_raises():
    message = _first_call_error(grad, f_returns_string, 1.5)
    assert "str" in message


def test_lambda_passed_to_grad():
    filename, line = (
        lambda_function.__code__.co_filename,
        inspect.getsourcelines(lambda_function)[1],
    )
    message = _first_call_error(grad, lambda_function, 1.5)
    assert "lambda" in message
    assert f"{filename}:{line}:" in message


def test_lambda_passed_to_grad_shows_source_line():
    lines, _ = inspect.getsourcelines(lambda_function)
    message = _first_call_error(grad, lambda_function, 1.5)
    assert lines[0].strip() in message


@pytest.mark.parametrize("builtin", [math.sin, math.exp, abs], ids=["math.sin", "math.exp", "abs"])
def test_builtin_passed_to_grad(builtin):
    message = _first_call_error(grad, builtin, 1.5)
    assert builtin.__name__ in message


def test_numpy_ufunc_passed_to_grad():
    message = _first_call_error(grad, np.sin, 1.5)
    assert "sin" in message
