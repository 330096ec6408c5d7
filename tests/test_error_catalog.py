"""The error catalog: every construct ad_transform does not support, in one table.

Each row is differentiated with ``grad``, ``value_and_grad`` and ``vjp``. Each must
raise ``ADTransformError`` (``TypeError``/``ValueError`` for bad arguments) at the first
call (never when ``grad(f)`` is built), again at every later call, and

* the message names the construct (the ``words`` of the row);
* it points to ``file:line:column`` of the construct, computed here from the source
  with ``inspect``, never hard-coded, and shows the source line with a caret below;
* the exception is the tool's own and is the whole explanation: no internal exception
  (a ``KeyError`` in the transformer, say) is chained to it as its cause or shown as
  the context it was raised in.

The constructs of ``test_errors.py`` (``try``, ``with``, nested ``def``, ``global``,
``del``, comprehensions, generator expressions, ``yield``, ``lambda``, a NumPy function
without a rule) and the loop ``else`` clauses of ``test_control_flow.py`` are reused
from there, not redefined; this table adds the others and the checks of the error
chain. Rows that show a bug are marked ``xfail(strict=True)`` with the reason.
"""

from __future__ import annotations

import fractions
import inspect
import math
import sys

import numpy as np
import pytest
from test_errors import CONSTRUCTS as BASIC_CONSTRUCTS
from test_errors import lambda_function

from ad_transform import ADTransformError, grad, value_and_grad, vjp

TRANSFORMS = [grad, value_and_grad, vjp]
GLOBAL_VALUE = 1.0
KEYWORDS = {"scale": 2.0}


# --- helpers and classes the rows call ---------------------------------------------------


def scaled(a, scale=1.0):
    return a * scale


def kwargs_helper(a, **options):
    return a * 2.0


class Scaler:
    def __init__(self, scale):
        self.scale = scale

    def apply(self, x):
        return x * self.scale


SCALER = Scaler(2.0)
GLOBAL_DICT = {"b": 1.0}


def _make_nonlocal_function():
    total = 0.0

    def f_nonlocal(x):
        nonlocal total
        total = x
        return x * 2.0

    return f_nonlocal


# --- the rows: one function per unsupported construct ----------------------------------


async def f_async(x):
    return x * 2.0


def f_yield_from(x):
    yield from [x * 2.0]


f_nonlocal = _make_nonlocal_function()


def f_global_assignment(x):
    global GLOBAL_VALUE
    GLOBAL_VALUE = x
    return x * 2.0


def f_star_args_call(x):
    # a list: its length is not known (a tuple display is unpacked; so is a list into a
    # user function of fixed positional parameters, tests/test_constructs_rest.py)
    xs = [x, x]
    return np.hypot(*xs)


def f_kwargs_call(x):
    return np.multiply(x, 2.0, **KEYWORDS)  # a library function (a helper's is supported)


def f_calls_kwargs_helper(x):
    options = {}
    options["scale"] = x  # a dict whose keys are not followed
    return kwargs_helper(x, **options)  # a differentiated value into '**options'


class ComputedScale:
    def __init__(self, scale):
        self.scale = 2.0 * scale


def f_method_of_library_object_in_a_list(x):
    # methods of user classes are differentiated, also where the object's class is known
    # only when the code runs (tests/test_objects_dispatch.py); a library's are not
    scalers = [fractions.Fraction(1, 2)]
    return scalers[0].limit_denominator(x)


def f_user_class_computing_init(x):
    # read in the function, such an object is one local per attribute
    # (lower/object_fields.py); passed to a helper, it is not followed
    s = ComputedScale(x)
    return scale_of(s)


def scale_of(s):
    return s.scale


def f_class_def(x):
    class Local:
        pass

    return x * 2.0


def f_set_comprehension(x):
    s = {x * i for i in range(3)}
    s.add(x)
    return sum(s)


def f_dict_comprehension(x):
    d = {i: x * i for i in range(3)} if x > 0 else {}
    return d[1]


def f_set_display(x):
    s = {x, 2.0}
    return len(s) * x


def f_dict_unpacking(x):
    d = {"a": x, **GLOBAL_DICT}
    return d["a"] * 2.0


def f_attribute_assignment(x):
    SCALER.scale = x
    return x * 2.0


# (id, function to differentiate, function holding the construct, marker, words, xfail);
# a row may give a tuple of (function, marker) places, any of which is right, and a
# tuple of words, any of which names the construct
ROWS = [
    *[(f.__name__, f, f, marker, words, None) for f, marker, words in BASIC_CONSTRUCTS],
    ("async_def", f_async, f_async, "async def", "async", None),
    ("yield_from", f_yield_from, f_yield_from, "yield from", "'yield from'", None),
    # writes of a value being differentiated (counters are supported: statements tests)
    ("nonlocal", f_nonlocal, f_nonlocal, "total = x", "nonlocal variable", None),
    (
        "global_assignment",
        f_global_assignment,
        f_global_assignment,
        "GLOBAL_VALUE = x",
        "global",
        None,
    ),
    ("star_args_call", f_star_args_call, f_star_args_call, "*xs", "starred", None),
    ("kwargs_call", f_kwargs_call, f_kwargs_call, "**KEYWORDS", "'**'", None),
    (  # at the call, or at the helper's parameter: either is a precise place
        "kwargs_parameter",
        f_calls_kwargs_helper,
        (f_calls_kwargs_helper, kwargs_helper),
        ("kwargs_helper(x", "options"),
        ("'**kwargs'", "'**options'"),
        None,
    ),
    (
        "method_of_library_object_in_a_list",
        f_method_of_library_object_in_a_list,
        f_method_of_library_object_in_a_list,
        "scalers[0].limit_denominator",
        "fractions.Fraction",
        None,
    ),
    (
        "user_class_computing_init",
        f_user_class_computing_init,
        f_user_class_computing_init,
        "ComputedScale(x)",
        "does more than store its parameters",
        None,
    ),
    ("class_def", f_class_def, f_class_def, "class Local", "class definition", None),
    # a set of differentiated values is followed through set(), |, &, ^ and reads; a
    # method that changes it is not
    ("set_comprehension", f_set_comprehension, f_set_comprehension, "s.add", "'.add'", None),
    ("dict_comprehension", f_dict_comprehension, f_dict_comprehension, "{i:", "dict comp", None),
    ("set_display", f_set_display, f_set_display, "{x, 2.0}", "set display", None),
    ("dict_unpacking", f_dict_unpacking, f_dict_unpacking, "GLOBAL_DICT", "'**' unpacking", None),
    (
        "attribute_assignment",
        f_attribute_assignment,
        f_attribute_assignment,
        "SCALER.scale",
        "attribute",
        None,
    ),
]


def _where(f, marker: str) -> tuple[str, int, int, str]:
    """(file, line, 1-based column, stripped line) of ``marker`` in ``f``'s source: its
    body, or the ``def`` line (a parameter, ``async def``) if the body has no marker."""
    lines, first = inspect.getsourcelines(f)
    for offset in [*range(1, len(lines)), 0]:
        line = lines[offset]
        if marker in line:
            return f.__code__.co_filename, first + offset, line.index(marker) + 1, line.strip()
    raise AssertionError(f"{marker!r} not found in the source of {f.__name__}")


def _indent(f, line: int) -> int:
    """The indentation of source line ``line`` of ``f``'s file."""
    lines, first = inspect.getsourcelines(f)
    text = lines[line - first]
    return len(text) - len(text.lstrip())


def _assert_is_the_whole_explanation(error: BaseException) -> None:
    """The tool's exception, with no internal exception chained or shown as context."""
    assert error.__cause__ is None, f"chained to {error.__cause__!r}"
    if error.__context__ is not None:
        assert error.__suppress_context__, (
            f"raised while handling {type(error.__context__).__name__}: {error.__context__}"
        )


def _error(transform, f, *args, expected=ADTransformError) -> BaseException:
    """The error of the first call of ``transform(f)``; later calls raise the same."""
    transformed = transform(f)  # nothing may be raised before the first call
    with pytest.raises(expected) as first:
        result = transformed(*args)
        if transform is vjp:  # an error may also come at the pullback
            result[1](1.0)
    with pytest.raises(expected) as again:
        result = transformed(*args)
        if transform is vjp:
            result[1](1.0)
    assert type(again.value) is type(first.value)
    assert str(again.value) == str(first.value)
    _assert_is_the_whole_explanation(first.value)
    return first.value


def _rows():
    for row_id, f, where, marker, words, bug in ROWS:
        marks = [pytest.mark.xfail(strict=True, reason=bug)] if bug else []
        yield pytest.param(f, where, marker, words, id=row_id, marks=marks)


@pytest.mark.parametrize("transform", TRANSFORMS, ids=lambda t: t.__name__)
@pytest.mark.parametrize("f, where, marker, words", list(_rows()))
def test_unsupported_construct(f, where, marker, words, transform):
    message = str(_error(transform, f, 1.5))
    head, *shown = message.splitlines()
    if isinstance(where, tuple):  # several acceptable places: the one the message names
        places = [(w, m) for w, m in zip(where, marker)]
        where, marker = next(
            ((w, m) for w, m in places if head.startswith(f"{_where(w, m)[0]}:{_where(w, m)[1]}:")),
            places[0],
        )
    filename, line, column, text = _where(where, marker)
    words = (words,) if isinstance(words, str) else words  # or any of several
    assert any(w in head for w in words), f"the message does not name the construct {words}: {head}"
    assert head.startswith(f"{filename}:{line}:{column}:"), f"not at {line}:{column}: {head}"
    assert len(shown) >= 2 and shown[0].strip() == text, f"source line not shown:\n{message}"
    assert shown[1].strip() == "^", f"no caret under the column:\n{message}"
    # the caret stands under the column (the shown line is stripped of its indentation)
    caret = shown[1].index("^") - shown[0].index(text[0])
    assert caret == column - 1 - _indent(where, line), f"caret not under the column:\n{message}"


# --- functions without source --------------------------------------------------------------

_namespace: dict = {}
exec("def made_by_exec(x):\n    return x * 2.0\n", _namespace)
made_by_exec = _namespace["made_by_exec"]

NO_SOURCE = [
    pytest.param(made_by_exec, "made_by_exec", "source", id="exec"),
    pytest.param(math.sin, "sin", "builtin", id="math.sin"),
    pytest.param(np.tanh, "tanh", "register_adjoint", id="np.tanh"),
    pytest.param(Scaler, "Scaler", "def", id="class"),
]


@pytest.mark.parametrize("transform", TRANSFORMS, ids=lambda t: t.__name__)
@pytest.mark.parametrize("f, name, words", NO_SOURCE)
def test_function_without_source(f, name, words, transform):
    message = str(_error(transform, f, 1.5))
    assert name in message and words in message, message


def test_lambda_passed_to_grad_is_located():
    filename, line, _, text = _where(lambda_function, "lambda x")
    message = str(_error(grad, lambda_function, 1.5))
    assert "lambda" in message
    assert f"{filename}:{line}:" in message
    assert text in message


# --- outputs that are not numbers ------------------------------------------------------------


def returns_string(x):
    y = x * 2.0  # noqa: F841
    return "not a number"


def returns_none(x):
    y = x * 2.0  # noqa: F841
    return None


def returns_tuple(x):
    return x * 2.0, x


@pytest.mark.parametrize("transform", [grad, value_and_grad], ids=lambda t: t.__name__)
@pytest.mark.parametrize(
    "f, words",
    [(returns_string, "str"), (returns_none, "None"), (returns_tuple, "vjp")],
    ids=["str", "None", "tuple"],
)
def test_output_that_is_not_a_scalar(f, words, transform):
    message = str(_error(transform, f, 1.5))
    assert words in message and "scalar" in message, message


@pytest.mark.parametrize("f", [returns_string, returns_none], ids=["str", "None"])
def test_vjp_of_an_output_that_is_not_a_number(f):
    message = str(_error(vjp, f, 1.5))
    assert type(f(1.5)).__name__ in message


# --- bad arguments ---------------------------------------------------------------------------


def two_arguments(x, y):
    return x * y


ARGUMENT_ERRORS = [
    # (wrt, args, exception, words in the message)
    pytest.param(2, (1.0, 2.0), (TypeError, ValueError), ["argument 2"], id="wrt=2 of 2"),
    pytest.param((0, 5), (1.0, 2.0), (TypeError, ValueError), ["argument 5"], id="wrt=(0, 5)"),
    pytest.param(-1, (1.0, 2.0), ValueError, ["wrt", "-1"], id="wrt=-1"),
    pytest.param(0, ("a string", 2.0), TypeError, ["argument 0", "str"], id="str"),
    pytest.param(1, (1.0, None), TypeError, ["argument 1", "NoneType"], id="None"),
    # a list of floats is a container argument since issue 13; a complex leaf is refused
    pytest.param(0, ([1.0, 2j], 2.0), TypeError, ["argument 0[1]", "complex"], id="list"),
    pytest.param(0, (1 + 2j, 2.0), TypeError, ["argument 0", "complex"], id="complex"),
    pytest.param(0, (True, 2.0), TypeError, ["argument 0", "bool"], id="bool"),
    pytest.param(0, (np.array(["a"]), 2.0), TypeError, ["argument 0", "dtype"], id="str-array"),
]


@pytest.mark.parametrize("transform", TRANSFORMS, ids=lambda t: t.__name__)
@pytest.mark.parametrize("wrt, args, exception, words", ARGUMENT_ERRORS)
def test_bad_argument(wrt, args, exception, words, transform):
    # test_api.py checks the exception types; here: the message explains the mistake
    with pytest.raises(exception) as info:  # when grad(f) is built, or at the call
        transform(two_arguments, wrt=wrt)(*args)
    message = str(info.value)
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"
    _assert_is_the_whole_explanation(info.value)
    assert "two_arguments" in message or "wrt" in message


def test_catalog_is_complete():
    # the constructs the issue lists, each with a row here (or in test_errors.py)
    ids = {row[0] for row in ROWS}
    required = {
        "f_yield",
        "async_def",
        "nonlocal",
        "star_args_call",
        "kwargs_call",
        "method_of_library_object_in_a_list",
        "class_def",
        "set_comprehension",
        "dict_comprehension",
        "f_list_comprehension",
        "f_generator_expression",
    }
    assert required <= ids, sorted(required - ids)
    assert sys.version_info >= (3, 10)  # 'match' parses
