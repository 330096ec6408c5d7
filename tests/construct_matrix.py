"""The construct matrix of issue 12: one small, realistic function per Python construct.

Each function is registered with :func:`construct`, which records its family (one of
``FAMILIES``), the points at which ``tests/test_construct_matrix.py`` differentiates it
(taken and not-taken paths, empty and non-empty iterables), the argument positions it
is differentiated with respect to, keyword arguments for the call, and points where the
function itself raises (the gradient must raise the same exception type).

This is a plain module (no test code): the functions must live in a real file so that
``inspect`` finds their source. ``REFUSED`` holds functions that use generators,
``async`` or ``exec``/``eval`` on active values: those must stay refused.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import operator
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

FAMILIES = (
    "comprehension",
    "function-value",
    "class",
    "container",
    "signature",
    "statement",
    "try",
    "with",
)


@dataclass
class Entry:
    """One construct: its function and where (and how) to differentiate it."""

    name: str
    family: str
    fn: Callable
    points: list[tuple]
    wrt: int | tuple[int, ...] = 0
    kwargs: dict = field(default_factory=dict)
    # points where ``fn`` raises: (arguments, exception type); the gradient raises it too
    failing: list[tuple[tuple, type]] = field(default_factory=list)


MATRIX: dict[str, Entry] = {}


def construct(family: str, *points: tuple, wrt=0, kwargs=None, failing=(), name=None):
    """Register the decorated function (or ``name`` for a bound method) in ``MATRIX``."""
    assert family in FAMILIES, family

    def register(fn):
        key = name or fn.__name__
        assert key not in MATRIX, f"duplicate matrix entry {key}"
        MATRIX[key] = Entry(key, family, fn, list(points), wrt, dict(kwargs or {}), list(failing))
        return fn

    return register


V3 = np.array([0.7, -1.3, 2.1])
W3 = np.array([0.4, 1.7, -0.9])
M23 = np.array([[0.5, -1.2, 0.8], [1.1, 0.3, -0.6]])
NEG3 = np.array([-0.7, -1.3, -2.1])

# ---------------------------------------------------------------------------------------
# Comprehensions
# ---------------------------------------------------------------------------------------


@construct("comprehension", (0.8,), (-1.4,))
def listcomp_range_series(x):
    """Taylor series of exp by a list comprehension over ``range``."""
    terms = [x**k / math.factorial(k) for k in range(6)]
    return sum(terms)


@construct("comprehension", (0.8, -1.1))
def listcomp_over_list(x, y):
    values = [x, y, x * y]
    squares = [v * v for v in values]
    return squares[0] + 2.0 * squares[1] + 3.0 * squares[2]


@construct("comprehension", (V3,))
def listcomp_over_array(x):
    activated = np.array([np.sin(v) for v in x])
    return np.sum(activated * W3)


@construct("comprehension", (V3, W3), wrt=(0, 1))
def listcomp_zip(x, y):
    products = [a * b for a, b in zip(x, y)]
    return sum(products)


@construct("comprehension", (V3,))
def listcomp_enumerate(x):
    weighted = [(i + 1.0) * v * v for i, v in enumerate(x)]
    return sum(weighted)


@construct("comprehension", (V3,), (NEG3,))
def listcomp_filter(x):
    """A filter; at ``NEG3`` nothing passes and the list is empty."""
    positive = [v for v in x if v > 0.0]
    return sum(positive) + 0.1 * np.sum(x)


@construct("comprehension", (V3, W3), wrt=(0, 1))
def listcomp_nested_for(x, y):
    pairs = [a * b for a in x for b in y]
    return sum(pairs)


@construct("comprehension", (V3, W3), wrt=(0, 1))
def listcomp_nested_for_filters(x, y):
    pairs = [a * b for a in x if a > 0.0 for b in y if b < 1.0]
    return sum(pairs) + np.sum(x * y)


@construct("comprehension", (0.9, 0), (0.9, 4))
def listcomp_empty_range(x, n):
    """``n == 0``: an empty comprehension."""
    powers = [x**k for k in range(1, n + 1)]
    return sum(powers) + x


@construct("comprehension", (V3,))
def genexp_sum(x):
    return sum(v * v for v in x)


@construct("comprehension", (V3,))
def genexp_max(x):
    return max(np.sin(v) for v in x)


@construct("comprehension", (V3,))
def genexp_min(x):
    return min(v * v + v for v in x)


@construct("comprehension", (0.6, -1.2), wrt=(0, 1))
def genexp_tuple(x, y):
    doubled = tuple(2.0 * v for v in (x, y))
    return doubled[0] * doubled[1] + doubled[0]


@construct("comprehension", (V3,))
def listcomp_np_stack(x):
    rows = np.stack([x * k for k in range(1, 3)])
    return np.sum(rows * M23)


@construct("comprehension", (V3,))
def genexp_list_to_np_array(x):
    cosines = np.array(list(np.cos(v) for v in x))
    return np.sum(cosines * W3)


@construct("comprehension", (V3,))
def dictcomp_zip(x):
    params = {name: v * v for name, v in zip(("a", "b", "c"), x)}
    return params["a"] + 2.0 * params["c"] - params["b"]


@construct("comprehension", (1.3,))
def setcomp_powers(x):
    powers = {x**k for k in (1, 2, 3)}
    return sum(powers)


@construct("comprehension", (V3, W3), wrt=(0, 1))
def listcomp_nested_comprehension(x, y):
    table = np.array([[a * b for b in y] for a in x])
    return np.sum(table * np.arange(9.0).reshape(3, 3))


@construct("comprehension", (V3,), (NEG3,))
def listcomp_conditional_expression(x):
    leaky = [v if v > 0.0 else 0.1 * v for v in x]
    return sum(leaky)


@construct("comprehension", (M23, V3), wrt=(0, 1))
def listcomp_matrix_rows(X, w):
    scores = [np.dot(row, w) for row in X]
    return scores[0] * scores[1]


@construct("comprehension", (V3, 1.5), wrt=(0, 1))
def listcomp_captures_local(x, s):
    scale = s * s
    scaled = [scale * v for v in x]
    return sum(scaled)


# ---------------------------------------------------------------------------------------
# Functions as values
# ---------------------------------------------------------------------------------------


def apply_twice(fn, v):
    return fn(fn(v))


def weighted(v, w=1.0):
    return w * v * v


def smooth_step(t):
    if t > 0.0:
        return t * t
    return 0.5 * t


def make_affine(a, b):
    return lambda t: a * t + b


@construct("function-value", (0.7, -0.4), wrt=(0, 1))
def lambda_assigned(x, y):
    square = lambda t: t * t  # noqa: E731
    return square(x) + 3.0 * square(y)


@construct("function-value", (0.7,))
def lambda_passed_to_helper(x):
    return apply_twice(lambda t: 2.0 * math.sin(t), x)


@construct("function-value", (0.7, -1.2, 2.5), wrt=(0, 1, 2))
def sorted_key_lambda(x, y, z):
    ordered = sorted([x, y, z], key=lambda t: abs(t))
    return ordered[0] + 2.0 * ordered[1] + 3.0 * ordered[2]


@construct("function-value", (0.7, -1.2), (1.5, 0.2), wrt=(0, 1))
def max_key_lambda(x, y):
    return 2.0 * max([x, y], key=lambda t: t * t)


@construct("function-value", (0.7, -1.2), (1.5, 0.2), wrt=(0, 1))
def min_key_lambda(x, y):
    return 3.0 * min((x, y), key=lambda t: t * t) + y


@construct("function-value", (0.7, 1.6), wrt=(0, 1))
def nested_def_closure_argument(x, y):
    def scaled(t):
        return t * x

    return scaled(y) + scaled(x)


@construct("function-value", (0.7, 1.6), wrt=(0, 1))
def nested_def_closure_local(x, y):
    scale = x * x + 1.0

    def affine(t):
        return scale * t + y

    return affine(y) * affine(x)


@construct("function-value", (0.7, 1.6), wrt=(0, 1))
def nested_def_mutual(x, y):
    def outer_term(t):
        return 2.0 * inner_term(t) + t

    def inner_term(t):
        return t * y

    return outer_term(x)


@construct("function-value", (0.7, 3), (0.7, 0))
def nested_def_recursive(x, n):
    def power(t, k):
        if k == 0:
            return 1.0
        return t * power(t, k - 1)

    return power(x, n) + x


@construct("function-value", (0.7,))
def closures_created_in_loop(x):
    scalers = []
    for k in range(1, 4):

        def scaler(t, k=k):
            return k * t * t

        scalers.append(scaler)
    return sum(s(x) for s in scalers)


@construct("function-value", (0.7, -0.3), wrt=(0, 1))
def closure_factory(x, y):
    line = make_affine(x, y)
    return line(2.0) * line(-1.0)


@construct("function-value", (0.7,))
def function_as_argument(x):
    return apply_twice(np.sin, x)


def _reduce_squares(v, red=np.sum):
    return red(v * v)


@construct("function-value", (V3,))
def function_in_default(x):
    return _reduce_squares(x) + _reduce_squares(x, red=np.max)


@construct("function-value", (0.7, -0.3), wrt=(0, 1))
def function_in_dict(x, y):
    ops = {"sin": np.sin, "square": np.square}
    return ops["sin"](x) + ops["square"](y)


@construct("function-value", (0.7,))
def functools_partial_call(x):
    doubled = functools.partial(weighted, w=2.0)
    return doubled(x) + weighted(x)


@construct("function-value", (0.7, -1.2, 2.5), wrt=(0, 1, 2))
def functools_reduce_lambda(x, y, z):
    return functools.reduce(lambda a, b: a * b, [x, y, z])


@construct("function-value", (0.7, -1.2, 2.5), wrt=(0, 1, 2))
def functools_reduce_operator(x, y, z):
    return functools.reduce(operator.add, [x * x, y, z * x], 0.0)


@construct("function-value", (0.7, -1.2), wrt=(0, 1))
def map_lambda(x, y):
    return sum(map(lambda t: t * t, [x, y]))


@construct("function-value", (0.7, -1.2), wrt=(0, 1))
def map_builtin_function(x, y):
    sines = list(map(math.sin, [x, y]))
    return sines[0] * sines[1]


@construct("function-value", (0.7, -1.2, 2.5), (-0.7, -1.2, -2.5), wrt=(0, 1, 2))
def filter_lambda(x, y, z):
    return sum(filter(lambda t: t > 0.0, [x, y, z])) + 0.5 * x


@construct("function-value", (V3,), (NEG3,))
def np_vectorize_python_function(x):
    return np.sum(np.vectorize(smooth_step)(x) * W3)


@construct("function-value", (0.7, -0.3), (-0.7, -0.3), wrt=(0, 1))
def function_chosen_by_branch(x, y):
    act = np.tanh if x > 0.0 else np.sin
    return act(x * y) + act(y)


# ---------------------------------------------------------------------------------------
# User classes
# ---------------------------------------------------------------------------------------


class Linear:
    """``w * x + b`` with a squared-error loss."""

    def __init__(self, w, b):
        self.w = w
        self.b = b

    def predict(self, x):
        return self.w * x + self.b

    def loss(self, x, target=1.0):
        err = self.predict(x) - target
        return err * err


class Point:
    def __init__(self, x, y):
        self.x = x
        self.y = y

    @classmethod
    def from_polar(cls, r, theta):
        return cls(r * math.cos(theta), r * math.sin(theta))

    @property
    def norm2(self):
        return self.x * self.x + self.y * self.y


class Circle:
    def __init__(self, r):
        self.r = r

    @property
    def area(self):
        return math.pi * self.r**2


class Activations:
    @staticmethod
    def softplus(t):
        return math.log1p(math.exp(t))


class Polynomial:
    def __init__(self, coefficients):
        self.coefficients = coefficients

    def __call__(self, t):
        total = 0.0
        for c in reversed(self.coefficients):
            total = total * t + c
        return total


class Vec2:
    def __init__(self, x, y):
        self.x = x
        self.y = y

    def __add__(self, other):
        return Vec2(self.x + other.x, self.y + other.y)

    def __mul__(self, k):
        return Vec2(k * self.x, k * self.y)

    def dot(self, other):
        return self.x * other.x + self.y * other.y


@dataclasses.dataclass
class Params:
    w: float
    b: float

    def apply(self, x):
        return np.tanh(self.w * x + self.b)


class Scaled(Linear):
    def predict(self, x):
        return 2.0 * super().predict(x)


class Accumulator:
    def __init__(self):
        self.total = 0.0

    def add(self, v):
        self.total += v


MODEL = Linear(1.5, -0.25)
construct("class", (0.8,), (-1.2,), name="bound_method_as_function")(MODEL.loss)


@construct("class", (0.8, MODEL), (-0.3, Linear(0.5, 2.0)))
def method_of_argument_object(x, model):
    return model.predict(x) ** 2


@construct("class", (0.8, -1.1), wrt=(0, 1))
def attributes_of_created_object(x, y):
    p = Point(x, y)
    return p.x * p.y + p.x


@construct("class", (0.8, -1.1), wrt=(0, 1))
def method_of_created_object(x, y):
    model = Linear(x, 0.5)
    return model.loss(y)


@construct("class", (1.3,))
def property_read(r):
    return Circle(r).area + Point(r, 2.0 * r).norm2


@construct("class", (0.4,), (-2.0,))
def staticmethod_call(x):
    return Activations.softplus(x) * x


@construct("class", (1.3, 0.4), wrt=(0, 1))
def classmethod_constructor(r, theta):
    p = Point.from_polar(r, theta)
    return p.x + 3.0 * p.y


@construct("class", (0.6, -1.4), wrt=(0, 1))
def dunder_call(x, c):
    poly = Polynomial([1.0, c, 0.5 * c])
    return poly(x)


@construct("class", (0.6, -1.4), wrt=(0, 1))
def operator_overloading(x, y):
    u = Vec2(x, y)
    v = u + Vec2(y, 1.0) * x
    return v.dot(u)


@construct("class", (0.6, -1.4), wrt=(0, 1))
def dataclass_parameters(w, x):
    params = Params(w, 0.3)
    return params.apply(x) * params.w


@construct("class", (0.6, -1.4), wrt=(0, 1))
def subclass_super_call(w, x):
    return Scaled(w, 0.1).loss(x, target=0.5)


@construct("class", (0.6, -1.4), wrt=(0, 1))
def object_attribute_updated(x, y):
    acc = Accumulator()
    acc.add(x * x)
    acc.add(x * y)
    return acc.total


# ---------------------------------------------------------------------------------------
# Dicts and containers
# ---------------------------------------------------------------------------------------


@construct("container", (0.6, -1.4), wrt=(0, 1))
def dict_display_index(x, y):
    params = {"w": x, "b": y}
    return params["w"] * 3.0 + params["b"] * params["w"]


@construct("container", (0.6, -1.4), wrt=(0, 1))
def dict_get_default(x, y):
    params = {"w": x * y}
    return params.get("w", 1.0) * params.get("b", 2.0) + params.get("w")


@construct("container", (0.6, -1.4), wrt=(0, 1))
def dict_items_loop(x, y):
    params = {"w": x, "b": y}
    weights = {"w": 2.0, "b": -1.0}
    total = 0.0
    for key, value in params.items():
        total += weights[key] * value * value
    return total


@construct("container", (0.6, -1.4), wrt=(0, 1))
def dict_keys_values(x, y):
    params = {"w": x, "b": y}
    total = sum(params.values())
    for key in params.keys():  # noqa: SIM118 (the construct under test)
        total = total + params[key] * x
    return total


@construct("container", (0.6, -1.4), wrt=(0, 1))
def dict_iteration(x, y):
    params = {"w": x, "b": y, "c": x * y}
    total = 0.0
    for key in params:
        total += params[key] ** 2
    return total


@construct("container", (0.6, -1.4), wrt=(0, 1))
def dict_update_and_setitem(x, y):
    params = {"w": x}
    params.update({"b": x * y})
    params["c"] = 2.0 * y
    return params["w"] * params["b"] + params["c"]


@construct("container", (0.6, 1), (0.6, 0))
def dict_membership(x, with_bias):
    params = {"w": x}
    if with_bias:
        params["b"] = x * x
    if "b" in params:
        return params["w"] + params["b"]
    return params["w"] * 3.0


@construct("container", (0.6, -1.4), wrt=(0, 1))
def tuple_built_and_indexed(x, y):
    pair = (x, y * x)
    return pair[1] - pair[0] * pair[0]


@construct("container", (0.6, -1.4), wrt=(0, 1))
def list_slice(x, y):
    values = [x, y, x * y, y * y]
    middle = values[1:3]
    return sum(middle) + values[-1]


@construct("container", (0.6, -1.4), wrt=(0, 1))
def list_concatenation(x, y):
    first = [x, y]
    second = [x * y]
    joined = first + second
    return joined[0] * joined[2] + joined[1]


@construct("container", (0.6, -1.4), wrt=(0, 1))
def tuple_concatenation(x, y):
    joined = (x,) + (y, x * y)
    return joined[2] + joined[1] * joined[0]


@construct("container", (0.6, -1.4, 2.2), wrt=(0, 1, 2))
def starred_unpack_first_rest(x, y, z):
    first, *rest = [x, y, z]
    return first * sum(rest)


@construct("container", (0.6, -1.4, 2.2), wrt=(0, 1, 2))
def starred_unpack_middle(x, y, z):
    head, *middle, tail = (x, y, z, x * y)
    return head * tail + middle[0] * middle[1]


@construct("container", (0.6, -1.4, 2.2), wrt=(0, 1, 2))
def starred_in_display(x, y, z):
    rest = [y, z]
    values = [x, *rest, x * z]
    return values[0] * values[3] + values[1] - values[2]


@construct("container", (0.6, -1.4, 2.2), wrt=(0, 1, 2))
def reversed_iteration(x, y, z):
    total = 0.0
    weight = 1.0
    for v in reversed([x, y, z]):
        total += weight * v
        weight *= 2.0
    return total * x


@construct("container", (0.6, -1.4, 2.2), wrt=(0, 1, 2))
def sorted_values(x, y, z):
    smallest, middle, largest = sorted([x, y, z])
    return smallest + 2.0 * middle + 3.0 * largest


@construct("container", (0.6, -1.4, 2.2), wrt=(0, 1, 2))
def max_min_sum_of_iterable(x, y, z):
    values = [x, y, z]
    return max(values) * min(values) + sum(values)


@construct("container", (0.6, -1.4, 2.2), wrt=(0, 1, 2))
def len_mean(x, y, z):
    values = [x * x, y, z]
    return sum(values) / len(values)


@construct("container", (0.6, -1.4, 2.2), wrt=(0, 1, 2))
def zip_star_transpose(x, y, z):
    rows = [[x, y], [y * z, z]]
    columns = list(zip(*rows))
    return columns[0][0] * columns[0][1] + columns[1][1]


@construct("container", (0.6, -1.4, 2.2), wrt=(0, 1, 2))
def tuple_unpack_in_for(x, y, z):
    total = 0.0
    for a, b in [(x, y), (y, z)]:
        total += a * b
    return total


@construct("container", (0.6, -1.4, 2.2), wrt=(0, 1, 2))
def list_pop(x, y, z):
    stack = [x, y, z]
    top = stack.pop()
    return top * sum(stack)


# ---------------------------------------------------------------------------------------
# Signatures and calls
# ---------------------------------------------------------------------------------------


def norm2(*values):
    total = 0.0
    for v in values:
        total += v * v
    return total


def scaled_square(v, **options):
    return options.get("scale", 1.0) * v * v + options.get("shift", 0.0)


def kw_only_helper(v, *, scale, shift=0.0):
    return scale * v + shift


@construct("signature", (0.6, -1.4, 2.2), wrt=(0, 1, 2))
def varargs_differentiated(*values):
    total = 0.0
    for v in values:
        total += v * v * v
    return total


@construct("signature", (0.6,), kwargs={"scale": 2.5, "shift": 1.0})
def kwargs_differentiated(x, **options):
    return options["scale"] * x * x + options.get("shift", 0.0)


@construct("signature", (0.6, -1.4), wrt=(0, 1))
def varargs_helper(x, y):
    return norm2(x, y, x * y)


@construct("signature", (0.6, -1.4), wrt=(0, 1))
def kwargs_helper(x, y):
    return scaled_square(x, scale=y, shift=x)


@construct("signature", (0.6, -1.4), wrt=(0, 1))
def call_with_star(x, y):
    parts = (x, y)
    return norm2(*parts)


@construct("signature", (0.6, -1.4), wrt=(0, 1))
def call_with_double_star(x, y):
    options = {"scale": y, "shift": 2.0}
    return scaled_square(x, **options)


@construct("signature", (0.6,), kwargs={"scale": 3.0})
def keyword_only_parameter(x, *, scale=2.0):
    return scale * x * x


@construct("signature", (0.6, -1.4), wrt=(0, 1))
def keyword_only_helper(x, y):
    return kw_only_helper(x, scale=y) * kw_only_helper(y, scale=x, shift=1.0)


@construct("signature", (0.6, -1.4), wrt=(0, 1))
def call_with_star_and_double_star(x, y):
    parts = (x, y * x)
    options = {"scale": 2.0}
    return norm2(*parts) + scaled_square(*parts[:1], **options)


@construct("signature", (V3,))
def array_default(x, w=np.array([1.0, 2.0, 3.0])):  # noqa: B008
    return np.sum(w * x**2)


@construct("signature", (0.6, -1.4), wrt=(0, 1))
def keyword_arguments_to_helper(x, y):
    return weighted(w=y, v=x)


# ---------------------------------------------------------------------------------------
# Statements
# ---------------------------------------------------------------------------------------

SCALE = 2.5
CALLS = 0

if os.environ.get("MATRIX_SCALAR_ACTIVATION"):  # a conditional import at module level
    from math import tanh as activation
else:
    from numpy import tanh as activation


@construct("statement", (0.6,), failing=[((-20.0,), AssertionError)])
def assert_statement(x):
    assert x > -10.0, "x out of range"
    return x * x


@construct("statement", (0.6,), failing=[((200.0,), ValueError)])
def raise_statement(x):
    if x > 100.0:
        raise ValueError("x too large")
    return math.sin(x) * x


@construct("statement", (1.6,), (0.3,))
def walrus_in_if(x):
    if (s := x * x) > 1.0:
        return s * x
    return s - x


@construct("statement", (V3,))
def walrus_in_comprehension(x):
    kept = [s for v in x if (s := v * v) > 1.0]
    return sum(kept)


@construct("statement", (0.6, 0), (0.6, 1), (0.6, 2))
def match_value(x, mode):
    match mode:
        case 0:
            return x * x
        case 1:
            return math.sin(x)
        case _:
            return 2.0 * x


@construct("statement", (0.6, 1), (0.6, 2), (0.6, 3))
def match_sequence(x, n):
    parts = [x * (k + 1) for k in range(n)]
    match parts:
        case [only]:
            return only * only
        case [a, b]:
            return a * b
        case [a, *rest]:
            return a + sum(rest)
    return 0.0


@construct("statement", (0.6, "quad"), (0.6, "lin"))
def match_mapping(x, kind):
    config = {"kind": kind, "scale": x}
    match config:
        case {"kind": "quad", "scale": s}:
            return s * s * x
        case {"kind": _, "scale": s}:
            return 3.0 * s
    return 0.0


@construct("statement", (0.6, True), (0.6, False))
def match_class_pattern(x, round_shape):
    shape = Circle(x) if round_shape else Point(x, 2.0 * x)
    match shape:
        case Circle(r=r):
            return math.pi * r * r
        case Point(x=a, y=b):
            return a * b
    return 0.0


@construct("statement", (0.6, 2.0), (0.6, -1.0))
def match_guard(x, limit):
    match x * 2.0:
        case v if v > limit:
            return v * v
        case v:
            return v - x


@construct("statement", (V3,), (NEG3,))
def for_else(x):
    total = 0.0
    for v in x:
        if v > 2.0:
            total += v
            break
        total += v * v
    else:
        total *= 2.0
    return total


@construct("statement", (0.6,), (1.9,))
def while_else(x):
    t = x
    n = 0
    while n < 3:
        n += 1
        t = t * x
        if t > 5.0:
            break
    else:
        t = -t
    return t


@construct("statement", (0.6,))
def global_read(x):
    return SCALE * x * x


@construct("statement", (0.6,))
def global_counter_write(x):
    global CALLS
    CALLS += 1
    return x * math.cos(x)


@construct("statement", (0.6,))
def nonlocal_counter(x):
    count = 0

    def step(t):
        nonlocal count
        count += 1
        return t * x

    value = step(x) + step(1.0)
    return value * count


@construct("statement", (0.6, -1.4), wrt=(0, 1))
def del_statement(x, y):
    tmp = x * y
    result = tmp + x
    del tmp
    return result * y


@construct("statement", (0.6,), (-0.6,))
def pass_statement(x):
    if x > 0.0:
        pass
    else:
        x = x * 3.0
    return x * x


@construct("statement", (0.6, -1.4), wrt=(0, 1))
def conditional_import_used(x, y):
    return activation(x * y) + x


# ---------------------------------------------------------------------------------------
# try / except / else / finally
# ---------------------------------------------------------------------------------------


def checked_log(v):
    if v <= 0.0:
        raise ValueError("log of a non-positive number")
    return math.log(v)


@construct("try", (0.6,), (-0.6,))
def try_first_statement_raises(x):
    try:
        r = checked_log(x)
        r = r * x
    except ValueError:
        r = x * x
    return r


@construct("try", (0.6,), (-0.6,))
def try_middle_statement_raises(x):
    r = x
    try:
        r = r * 3.0
        r = checked_log(x) + r
        r = r * r
    except ValueError:
        r = r + 1.0
    return r * x


@construct("try", (0.6,), (-0.6,))
def try_last_statement_raises(x):
    try:
        a = x * x
        b = math.sin(a)
        c = checked_log(x)
    except ValueError:
        c = -b
    return c * x


@construct("try", (0.6,), (-0.6,))
def try_except_else(x):
    try:
        r = checked_log(x)
    except ValueError:
        r = -x
    else:
        r = r * r
    return r + x


@construct("try", (0.6,), (-0.6,))
def try_finally(x):
    total = x
    try:
        total = total + checked_log(x)
    except ValueError:
        total = total * 2.0
    finally:
        total = total * x
    return total


@construct("try", (0.6,), (-0.6,))
def try_except_as(x):
    try:
        r = checked_log(x)
    except ValueError as error:
        r = x * len(str(error)) / 10.0
    return r


@construct("try", (V3,), (NEG3,), (np.array([0.5, 1.5, 2.5]),))
def try_in_loop(x):
    total = 0.0
    for v in x:
        try:
            total += checked_log(v)
        except ValueError:
            total += v * v
    return total


@construct("try", (0.6,), failing=[((-0.6,), ValueError)])
def try_reraise(x):
    try:
        r = checked_log(x)
    except ValueError:
        raise
    return r * x


@construct("try", (0.6, 0), (0.6, 1), (0.6, 2))
def try_multiple_handlers(x, mode):
    values = {"a": x}
    try:
        if mode == 1:
            r = values["missing"]
        elif mode == 2:
            r = x / 0.0
        else:
            r = values["a"] * x
    except KeyError:
        r = 2.0 * x
    except (ZeroDivisionError, ValueError):
        r = 3.0 * x * x
    return r


@construct("try", (0.6,), (-0.6,), (-2.5,))
def try_nested(x):
    try:
        try:
            r = checked_log(x)
        except ValueError:
            r = checked_log(x + 2.0)
    except ValueError:
        r = x * x
    return r


@construct("try", (0.6,), (-0.6,))
def try_return_with_finally(x):
    scale = 1.0
    try:
        return checked_log(x) * x
    except ValueError:
        scale = 2.0
    finally:
        scale = scale + 1.0
    return scale * x


@construct("try", (V3,), (NEG3,), (np.array([0.5, -1.5, -2.5]),))
def try_nested_in_loop(x):
    total = 0.0
    for v in x:
        try:
            try:
                total += checked_log(v)
            except ValueError:
                total += checked_log(v + 2.0) * v
        except ValueError:
            total += v * v
    return total


@construct("try", (0.6,), failing=[((-0.6,), KeyError)])
def try_other_exception_passes_through(x):
    table = {"log": x}
    try:
        if x < 0.0:
            r = table["missing"]
        else:
            r = checked_log(table["log"])
    except ValueError:
        r = x
    return r * x


@construct("try", (0.6, -1.4), (0.6, 0.0), wrt=0)
def try_zero_division(x, y):
    try:
        r = x / y
    except ZeroDivisionError:
        r = x
    return r * x


# ---------------------------------------------------------------------------------------
# with
# ---------------------------------------------------------------------------------------


class CountingContext:
    """A user context manager: counts its entries and exits."""

    entered = 0
    exited = 0

    def __enter__(self):
        CountingContext.entered += 1
        return 2.0

    def __exit__(self, kind, value, traceback):
        CountingContext.exited += 1
        return False


@contextlib.contextmanager
def scaled_context(k):
    yield 1.5 * k


@construct("with", (0.6,), (2.0,))
def with_errstate(x):
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.log(x) * x
    return r


@construct("with", (0.6,))
def with_catch_warnings(x):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = np.sqrt(x) + x
    return r


@construct("with", (0.6,), (-0.6,))
def with_suppress(x):
    r = x * x
    with contextlib.suppress(ValueError):
        r = r + checked_log(x)
        r = r * 2.0
    return r


@construct("with", (0.6,))
def with_nullcontext(x):
    with contextlib.nullcontext():
        r = x * math.exp(x)
    return r


@construct("with", (0.6,))
def with_user_context_manager(x):
    with CountingContext() as factor:
        r = factor * x * x
    return r


@construct("with", (0.6,))
def with_contextmanager_generator(x):
    with scaled_context(2.0) as k:
        r = k * math.sin(x)
    return r


@construct("with", (0.6,))
def with_two_items(x):
    with np.errstate(over="ignore"), contextlib.nullcontext():
        r = np.exp(x) * x
    return r


# ---------------------------------------------------------------------------------------
# Refused: generators, async, exec/eval on active values
# ---------------------------------------------------------------------------------------


def powers_of(x):
    for k in range(3):
        yield x**k


def generator_function(x):
    yield x * x


def generator_helper_consumed(x):
    return sum(powers_of(x))


def yield_from_helper(x):
    def inner():
        yield from powers_of(x)

    return sum(inner())


async def async_function(x):
    return x * x


def exec_on_active(x):
    namespace = {"x": x}
    exec("y = x * x", namespace)
    return namespace["y"]


def eval_on_active(x):
    return eval("x * x", {"x": x})


REFUSED: dict[str, Callable] = {
    f.__name__: f
    for f in (
        generator_function,
        generator_helper_consumed,
        yield_from_helper,
        async_function,
        exec_on_active,
        eval_on_active,
    )
}
