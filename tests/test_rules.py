"""Per-primitive tests of the adjoint rules in ``ad_transform/rules/``.

One table, ``TABLE``, with one row per primitive (or per distinct use of a
primitive: each reduction axis, each norm form). A row names the primitive, a
small function using it (defined with ``def``: the tool reads its source), a
generator of arguments in the primitive's valid domain and the argument shapes to
try. Every row is checked at several seeded random points with ``check_grad``
(array-valued functions are scalarised as ``np.sum(f(...) * w)`` with fixed,
non-uniform weights ``w``) and with the vjp dot-product test.

``test_every_registered_rule_has_a_row`` keeps the table complete: a new
differentiable rule without a row fails it.

Shapes: ``F`` stands for a Python float argument, ``F64`` for a ``np.float64`` one; a
tuple is an ndarray shape.
"""

from __future__ import annotations

import builtins
import math
import operator
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from gradcheck import check_grad, check_like, check_vjp_dot_product, numerical_gradient

from ad_transform import grad, value_and_grad, vjp
from ad_transform.rules import all_rules

F = None  # a Python float argument
F64 = "float64"  # a NumPy float64 scalar argument

N_POINTS = 3  # random points per shape combination


# --------------------------------------------------------------------------------------
# Argument generators
# --------------------------------------------------------------------------------------


def uniform(low: float, high: float):
    """Values uniform in [low, high]."""

    def draw(rng, shape):
        if shape is F:
            return float(rng.uniform(low, high))
        if shape is F64:
            return np.float64(rng.uniform(low, high))
        return rng.uniform(low, high, size=shape)

    return draw


def away_from_zero(low: float, high: float):
    """Values with |value| uniform in [low, high] and a random sign."""

    def draw(rng, shape):
        size = None if shape in (F, F64) else shape
        value = rng.uniform(low, high, size=size) * rng.choice([-1.0, 1.0], size=size)
        return float(value) if shape is F else np.float64(value) if shape is F64 else value

    return draw


REAL = uniform(-2.0, 2.0)
POSITIVE = uniform(0.5, 2.0)
UNIT = uniform(-0.9, 0.9)  # asin, acos
TAN = uniform(-1.2, 1.2)  # away from the poles at +-pi/2
NONZERO = away_from_zero(0.3, 2.0)  # abs, divisors
ABOVE_MINUS_ONE = uniform(-0.5, 2.0)  # log1p
BASE = uniform(1.5, 3.0)  # log bases, away from 1


def separated(x, y) -> bool:
    """No ties (kinks of max/min) anywhere in the broadcast pair."""
    return bool(np.min(np.abs(np.subtract(x, y))) > 0.1)


def away_from_mod_jumps(x, y) -> bool:
    """x / y is not close to an integer, where x % y jumps."""
    frac = np.mod(np.divide(x, y), 1.0)
    return bool(np.all((frac > 0.05) & (frac < 0.95)))


def args_from(*domains, accept: Callable | None = None):
    """A generator drawing argument i from domains[i] (one domain serves every argument)."""

    def generate(rng, shapes):
        chosen = domains * len(shapes) if len(domains) == 1 else domains
        for _ in range(1000):
            args = tuple(d(rng, s) for d, s in zip(chosen, shapes, strict=True))
            if accept is None or accept(*args):
                return args
        raise RuntimeError("no acceptable arguments drawn")

    return generate


# --------------------------------------------------------------------------------------
# Shapes
# --------------------------------------------------------------------------------------

SCALAR_1 = ((F,), (F64,))
SCALAR_2 = ((F, F), (F64, F), (F, F64))
UNARY = ((F,), (F64,), ((5,),), ((3, 4),))
BINARY = (
    (F, F),
    (F64, F64),
    ((5,), (5,)),
    ((3, 4), (3, 4)),
    ((3, 1), (1, 4)),
    ((3, 4), (4,)),
    (F, (3, 4)),
    ((3, 4), F),
    (F64, (4,)),
)
MATMUL = (
    ((4,), (4,)),
    ((3, 4), (4,)),
    ((4,), (4, 3)),
    ((3, 4), (4, 2)),
    ((2, 3, 4), (4, 5)),
    ((2, 3, 4), (4,)),
    ((4,), (2, 4, 5)),
)
# Where np.dot and np.matmul part ways: np.dot pairs the last axis of x with the
# second-to-last of y and keeps all other axes; matmul broadcasts batch axes.
DOT_ONLY = ((F, (3, 4)), ((3, 4), F), ((3, 4), (2, 4, 5)), ((2, 3, 4), (2, 4, 5)))
MATMUL_ONLY = (((3, 4), (2, 4, 5)), ((2, 3, 4), (2, 4, 5)), ((2, 1, 3, 4), (5, 4, 2)))
MATRIX = (((3, 4),), ((2, 3, 4),))
VECTOR_MATRIX = (((5,),), ((3, 4),), ((2, 3, 4),))


# --------------------------------------------------------------------------------------
# The functions under test (defined with def: the tool reads their source)
# --------------------------------------------------------------------------------------


# Python operators
def op_add(x, y):
    return x + y


def op_sub(x, y):
    return x - y


def op_mul(x, y):
    return x * y


def op_truediv(x, y):
    return x / y


def op_pow(x, y):
    return x**y


def op_pow_constant_exponent(x):
    return x**3


def op_mod(x, y):
    return x % y


def op_matmul(x, y):
    return x @ y


def op_neg(x):
    return -x


def op_pos(x):
    return +x


# math
def math_sin(x):
    return math.sin(x)


def math_cos(x):
    return math.cos(x)


def math_tan(x):
    return math.tan(x)


def math_exp(x):
    return math.exp(x)


def math_log(x):
    return math.log(x)


def math_log_base(x, base):
    return math.log(x, base)


def math_log2(x):
    return math.log2(x)


def math_log10(x):
    return math.log10(x)


def math_sqrt(x):
    return math.sqrt(x)


def math_tanh(x):
    return math.tanh(x)


def math_sinh(x):
    return math.sinh(x)


def math_cosh(x):
    return math.cosh(x)


def math_atan(x):
    return math.atan(x)


def math_asin(x):
    return math.asin(x)


def math_acos(x):
    return math.acos(x)


def math_pow(x, y):
    return math.pow(x, y)


def math_fabs(x):
    return math.fabs(x)


def math_hypot(x, y):
    return math.hypot(x, y)


# builtins
def builtin_abs(x):
    return abs(x)


def builtin_min(x, y):
    return min(x, y)


def builtin_max(x, y):
    return max(x, y)


def builtin_pow(x, y):
    return pow(x, y)


def builtin_sum_tuple(a, b, c):
    return sum((a, b, c))


def builtin_sum_array(x):
    return sum(x)


def builtin_float(x):
    return float(x)


def builtin_float_of_numpy_scalar(x):
    return float(np.sum(x))


# NumPy elementwise
def np_exp(x):
    return np.exp(x)


def np_log(x):
    return np.log(x)


def np_log2(x):
    return np.log2(x)


def np_log10(x):
    return np.log10(x)


def np_log1p(x):
    return np.log1p(x)


def np_expm1(x):
    return np.expm1(x)


def np_sqrt(x):
    return np.sqrt(x)


def np_sin(x):
    return np.sin(x)


def np_cos(x):
    return np.cos(x)


def np_tan(x):
    return np.tan(x)


def np_tanh(x):
    return np.tanh(x)


def np_arctan(x):
    return np.arctan(x)


def np_abs(x):
    return np.abs(x)


def np_negative(x):
    return np.negative(x)


def np_maximum(x, y):
    return np.maximum(x, y)


def np_minimum(x, y):
    return np.minimum(x, y)


def np_power(x, y):
    return np.power(x, y)


def np_add(x, y):
    return np.add(x, y)


def np_subtract(x, y):
    return np.subtract(x, y)


def np_multiply(x, y):
    return np.multiply(x, y)


def np_divide(x, y):
    return np.divide(x, y)


# reductions
def np_sum(x):
    return np.sum(x)


def np_sum_axis0(x):
    return np.sum(x, axis=0)


def np_sum_axis1(x):
    return np.sum(x, axis=1)


def np_sum_axis_last(x):
    return np.sum(x, axis=-1)


def np_sum_axis01(x):
    return np.sum(x, axis=(0, 1))


def np_sum_axis_positional(x):
    return np.sum(x, 1)


def np_sum_keepdims(x):
    return np.sum(x, keepdims=True)


def np_sum_axis1_keepdims(x):
    return np.sum(x, axis=1, keepdims=True)


def np_mean(x):
    return np.mean(x)


def np_mean_axis0(x):
    return np.mean(x, axis=0)


def np_mean_axis1(x):
    return np.mean(x, axis=1)


def np_mean_axis_last(x):
    return np.mean(x, axis=-1)


def np_mean_axis01(x):
    return np.mean(x, axis=(0, 1))


def np_mean_keepdims(x):
    return np.mean(x, keepdims=True)


def np_mean_axis1_keepdims(x):
    return np.mean(x, axis=1, keepdims=True)


def norm(x):
    return np.linalg.norm(x)


def norm_ord2_vector(x):
    return np.linalg.norm(x, 2)


def norm_fro(x):
    return np.linalg.norm(x, "fro")


def norm_axis0(x):
    return np.linalg.norm(x, axis=0)


def norm_axis1(x):
    return np.linalg.norm(x, axis=1)


def norm_axis_last(x):
    return np.linalg.norm(x, axis=-1)


def norm_axis01(x):
    return np.linalg.norm(x, axis=(0, 1))


def norm_axis1_keepdims(x):
    return np.linalg.norm(x, axis=1, keepdims=True)


# linear algebra
def np_dot(x, y):
    return np.dot(x, y)


def np_matmul(x, y):
    return np.matmul(x, y)


# indexing and attributes
IDX = np.array([0, 2, 2, 1, 2])  # duplicates: their adjoints must add up
MASK5 = np.array([True, False, True, True, False])


def index_int(x):
    return x[1]


def index_negative(x):
    return x[-1]


def index_pair(x):
    return x[1, 2]


def index_slice(x):
    return x[1:3]


def index_step(x):
    return x[::2]


def index_column(x):
    return x[:, 1]


def index_array_duplicates(x):
    return x[IDX]


def index_constant_mask(x):
    return x[MASK5]


def index_computed_mask(x):
    return x[x > 0]


def attribute_T(x):
    return x.T


def np_copy(x):
    return np.copy(x) * x


def method_copy(x):
    return x.copy() * x


# --------------------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    primitive: object  # the registry key of the rule under test
    fn: Callable
    shapes: tuple  # argument shape combinations to try
    gen: Callable  # (rng, shapes) -> args
    wrt: tuple[int, ...] | None = None  # differentiated arguments; default: all

    @property
    def name(self) -> str:
        return self.fn.__name__

    @property
    def positions(self) -> tuple[int, ...]:
        return self.wrt if self.wrt is not None else tuple(range(len(self.shapes[0])))


TABLE = [
    # Python operators
    Row(operator.add, op_add, BINARY, args_from(REAL)),
    Row(operator.sub, op_sub, BINARY, args_from(REAL)),
    Row(operator.mul, op_mul, BINARY, args_from(REAL)),
    Row(operator.truediv, op_truediv, BINARY, args_from(REAL, NONZERO)),
    Row(operator.pow, op_pow, BINARY, args_from(POSITIVE, REAL)),
    Row(operator.pow, op_pow_constant_exponent, UNARY, args_from(REAL)),
    Row(operator.mod, op_mod, BINARY, args_from(REAL, NONZERO, accept=away_from_mod_jumps)),
    Row(operator.matmul, op_matmul, (*MATMUL, *MATMUL_ONLY), args_from(REAL)),
    Row(operator.neg, op_neg, UNARY, args_from(REAL)),
    Row(operator.pos, op_pos, UNARY, args_from(REAL)),
    # math
    Row(math.sin, math_sin, SCALAR_1, args_from(REAL)),
    Row(math.cos, math_cos, SCALAR_1, args_from(REAL)),
    Row(math.tan, math_tan, SCALAR_1, args_from(TAN)),
    Row(math.exp, math_exp, SCALAR_1, args_from(REAL)),
    Row(math.log, math_log, SCALAR_1, args_from(POSITIVE)),
    Row(math.log, math_log_base, SCALAR_2, args_from(POSITIVE, BASE)),
    Row(math.log2, math_log2, SCALAR_1, args_from(POSITIVE)),
    Row(math.log10, math_log10, SCALAR_1, args_from(POSITIVE)),
    Row(math.sqrt, math_sqrt, SCALAR_1, args_from(POSITIVE)),
    Row(math.tanh, math_tanh, SCALAR_1, args_from(REAL)),
    Row(math.sinh, math_sinh, SCALAR_1, args_from(REAL)),
    Row(math.cosh, math_cosh, SCALAR_1, args_from(REAL)),
    Row(math.atan, math_atan, SCALAR_1, args_from(REAL)),
    Row(math.asin, math_asin, SCALAR_1, args_from(UNIT)),
    Row(math.acos, math_acos, SCALAR_1, args_from(UNIT)),
    Row(math.pow, math_pow, SCALAR_2, args_from(POSITIVE, REAL)),
    Row(math.fabs, math_fabs, SCALAR_1, args_from(NONZERO)),
    Row(math.hypot, math_hypot, SCALAR_2, args_from(NONZERO)),
    # builtins
    Row(builtins.abs, builtin_abs, UNARY, args_from(NONZERO)),
    Row(builtins.min, builtin_min, SCALAR_2, args_from(REAL, accept=separated)),
    Row(builtins.max, builtin_max, SCALAR_2, args_from(REAL, accept=separated)),
    Row(builtins.pow, builtin_pow, BINARY, args_from(POSITIVE, REAL)),
    Row(
        builtins.sum,
        builtin_sum_tuple,
        ((F, F, F), ((5,), (5,), (5,)), ((3, 1), (1, 4), (4,)), (F, (3, 4), (4,))),
        args_from(REAL),
    ),
    Row(builtins.sum, builtin_sum_array, (((5,),), ((3, 4),)), args_from(REAL)),
    Row(builtins.float, builtin_float, SCALAR_1, args_from(REAL)),
    Row(builtins.float, builtin_float_of_numpy_scalar, (((5,),),), args_from(REAL)),
    # NumPy elementwise
    Row(np.exp, np_exp, UNARY, args_from(REAL)),
    Row(np.log, np_log, UNARY, args_from(POSITIVE)),
    Row(np.log2, np_log2, UNARY, args_from(POSITIVE)),
    Row(np.log10, np_log10, UNARY, args_from(POSITIVE)),
    Row(np.log1p, np_log1p, UNARY, args_from(ABOVE_MINUS_ONE)),
    Row(np.expm1, np_expm1, UNARY, args_from(REAL)),
    Row(np.sqrt, np_sqrt, UNARY, args_from(POSITIVE)),
    Row(np.sin, np_sin, UNARY, args_from(REAL)),
    Row(np.cos, np_cos, UNARY, args_from(REAL)),
    Row(np.tan, np_tan, UNARY, args_from(TAN)),
    Row(np.tanh, np_tanh, UNARY, args_from(REAL)),
    Row(np.arctan, np_arctan, UNARY, args_from(REAL)),
    Row(np.abs, np_abs, UNARY, args_from(NONZERO)),
    Row(np.negative, np_negative, UNARY, args_from(REAL)),
    Row(np.maximum, np_maximum, BINARY, args_from(REAL, accept=separated)),
    Row(np.minimum, np_minimum, BINARY, args_from(REAL, accept=separated)),
    Row(np.power, np_power, BINARY, args_from(POSITIVE, REAL)),
    Row(np.add, np_add, BINARY, args_from(REAL)),
    Row(np.subtract, np_subtract, BINARY, args_from(REAL)),
    Row(np.multiply, np_multiply, BINARY, args_from(REAL)),
    Row(np.divide, np_divide, BINARY, args_from(REAL, NONZERO)),
    # reductions
    Row(np.sum, np_sum, VECTOR_MATRIX, args_from(REAL)),
    Row(np.sum, np_sum_axis0, VECTOR_MATRIX, args_from(REAL)),
    Row(np.sum, np_sum_axis1, MATRIX, args_from(REAL)),
    Row(np.sum, np_sum_axis_last, VECTOR_MATRIX, args_from(REAL)),
    Row(np.sum, np_sum_axis01, MATRIX, args_from(REAL)),
    Row(np.sum, np_sum_axis_positional, MATRIX, args_from(REAL)),
    Row(np.sum, np_sum_keepdims, VECTOR_MATRIX, args_from(REAL)),
    Row(np.sum, np_sum_axis1_keepdims, MATRIX, args_from(REAL)),
    Row(np.mean, np_mean, VECTOR_MATRIX, args_from(REAL)),
    Row(np.mean, np_mean_axis0, VECTOR_MATRIX, args_from(REAL)),
    Row(np.mean, np_mean_axis1, MATRIX, args_from(REAL)),
    Row(np.mean, np_mean_axis_last, VECTOR_MATRIX, args_from(REAL)),
    Row(np.mean, np_mean_axis01, MATRIX, args_from(REAL)),
    Row(np.mean, np_mean_keepdims, VECTOR_MATRIX, args_from(REAL)),
    Row(np.mean, np_mean_axis1_keepdims, MATRIX, args_from(REAL)),
    Row(np.linalg.norm, norm, (((5,),), ((3, 4),)), args_from(REAL)),
    Row(np.linalg.norm, norm_ord2_vector, (((5,),),), args_from(REAL)),
    Row(np.linalg.norm, norm_fro, (((3, 4),),), args_from(REAL)),
    Row(np.linalg.norm, norm_axis0, VECTOR_MATRIX, args_from(REAL)),
    Row(np.linalg.norm, norm_axis1, MATRIX, args_from(REAL)),
    Row(np.linalg.norm, norm_axis_last, VECTOR_MATRIX, args_from(REAL)),
    Row(np.linalg.norm, norm_axis01, MATRIX, args_from(REAL)),
    Row(np.linalg.norm, norm_axis1_keepdims, MATRIX, args_from(REAL)),
    # linear algebra
    Row(np.dot, np_dot, (*MATMUL, *DOT_ONLY), args_from(REAL)),
    Row(np.matmul, np_matmul, (*MATMUL, *MATMUL_ONLY), args_from(REAL)),
    # indexing and attributes
    Row(operator.getitem, index_int, (((5,),), ((3, 4),)), args_from(REAL)),
    Row(operator.getitem, index_negative, (((5,),), ((3, 4),)), args_from(REAL)),
    Row(operator.getitem, index_pair, (((3, 4),), ((2, 3, 4),)), args_from(REAL)),
    Row(operator.getitem, index_slice, (((5,),), ((4, 3),)), args_from(REAL)),
    Row(operator.getitem, index_step, (((5,),), ((4, 3),)), args_from(REAL)),
    Row(operator.getitem, index_column, (((3, 4),), ((2, 3, 4),)), args_from(REAL)),
    Row(operator.getitem, index_array_duplicates, (((5,),), ((4, 3),)), args_from(REAL)),
    Row(operator.getitem, index_constant_mask, (((5,),),), args_from(REAL)),
    Row(operator.getitem, index_computed_mask, (((6,),), ((3, 4),)), args_from(NONZERO)),
    Row(("attribute", "T"), attribute_T, (((5,),), ((3, 4),), ((2, 3, 4),)), args_from(REAL)),
    Row(np.copy, np_copy, (((5,),), ((3, 4),)), args_from(REAL)),
    Row(("method", "copy"), method_copy, (((5,),), ((3, 4),)), args_from(REAL)),
]

# Rows whose failure is a known bug outside the rule templates (pipeline), keyed by name:
# test kind ("grad" or "vjp") -> reason. Each is a strict xfail.
KNOWN_PIPELINE_BUGS: dict[str, dict[str, str]] = {}


# --------------------------------------------------------------------------------------
# Scalarisation of array-valued functions for grad
# --------------------------------------------------------------------------------------


def _weighted(fn: Callable, arity: int) -> Callable:
    """``np.sum(fn(*args) * w)``: a scalar function the tool differentiates through ``fn``."""
    if arity == 1:

        def weighted_1(x, w):
            return np.sum(fn(x) * w)

        return weighted_1
    if arity == 2:

        def weighted_2(x, y, w):
            return np.sum(fn(x, y) * w)

        return weighted_2
    if arity == 3:

        def weighted_3(x, y, z, w):
            return np.sum(fn(x, y, z) * w)

        return weighted_3
    raise ValueError(arity)


_WEIGHTED: dict[Callable, Callable] = {}


def weighted(fn: Callable, arity: int) -> Callable:
    """The scalarised ``fn``, made once per function so its generated code is reused."""
    if fn not in _WEIGHTED:
        _WEIGHTED[fn] = _weighted(fn, arity)
    return _WEIGHTED[fn]


def rng_for(row: Row, salt: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(f"{row.name}/{salt}".encode()))


def _with_known_bugs(kind: str):
    params = []
    for row in TABLE:
        reason = KNOWN_PIPELINE_BUGS.get(row.name, {}).get(kind)
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        params.append(pytest.param(row, id=row.name, marks=marks))
    return params


def _describe(shapes) -> str:
    return ", ".join(
        "float" if s is F else "np.float64" if s is F64 else f"ndarray{s}" for s in shapes
    )


@pytest.mark.parametrize("row", _with_known_bugs("grad"))
def test_grad(row: Row):
    """grad against finite differences, for every shape combination of the row."""
    rng = rng_for(row, "grad")
    positions = row.positions
    # All differentiated arguments at once, then each alone (other arguments inactive).
    # A single argument is asked for with an integer wrt (see test_grad_with_1_tuple_wrt).
    wrts = [positions, *positions] if len(positions) > 1 else [positions[0]]
    for shapes in row.shapes:
        for k in range(N_POINTS):
            args = row.gen(rng, shapes)
            wrt = wrts[k % len(wrts)]
            value = row.fn(*args)
            try:
                if np.ndim(value) == 0:
                    check_grad(row.fn, args, wrt)
                else:
                    w = rng.uniform(-1.5, 1.5, size=np.shape(value))
                    check_grad(weighted(row.fn, len(args)), (*args, w), wrt)
            except Exception as error:
                error.add_note(f"row {row.name}: arguments ({_describe(shapes)}), wrt={wrt}")
                raise


@pytest.mark.parametrize("row", _with_known_bugs("vjp"))
def test_vjp_dot_product(row: Row):
    """<u, J^T v> == <J u, v> for every shape combination of the row."""
    rng = rng_for(row, "vjp")
    for shapes in row.shapes:
        for _ in range(N_POINTS):
            args = row.gen(rng, shapes)
            try:
                check_vjp_dot_product(row.fn, args, row.positions, rng)
            except Exception as error:
                error.add_note(f"row {row.name}: arguments ({_describe(shapes)})")
                raise


def test_every_registered_rule_has_a_row():
    covered = {id(row.primitive) for row in TABLE} | {
        row.primitive for row in TABLE if isinstance(row.primitive, tuple)
    }
    missing = [
        rule.name
        for rule in all_rules()
        if rule.differentiable
        and rule.template.fn.__module__.startswith("ad_transform.rules")  # built-in rules
        and id(rule.primitive) not in covered
        and rule.primitive not in covered
    ]
    assert not missing, f"differentiable rules without a row in TABLE: {missing}"


def test_table_rows_are_unique():
    names = [row.name for row in TABLE]
    assert len(names) == len(set(names))


# --------------------------------------------------------------------------------------
# The checker itself must be able to fail
# --------------------------------------------------------------------------------------


def test_numerical_gradient_matches_calculus():
    def f(x, y):
        return np.sum(x**2) * y

    x = np.array([1.0, -2.0, 0.5])
    gx, gy = numerical_gradient(f, (x, 3.0), (0, 1))
    np.testing.assert_allclose(gx, 2 * x * 3.0, rtol=1e-8)
    assert isinstance(gy, float)
    np.testing.assert_allclose(gy, 5.25, rtol=1e-8)


def test_check_like_rejects_wrong_types():
    x = np.ones((2, 3))
    with pytest.raises(AssertionError):
        check_like(np.ones((3, 2)), x)
    with pytest.raises(AssertionError):
        check_like(np.ones(1), 1.0)
    with pytest.raises(AssertionError):
        check_like(x, x)  # aliasing the argument
    with pytest.raises(AssertionError):
        check_like(np.ones((2, 3), dtype=int), x)
    check_like(np.ones((2, 3)), x)
    check_like(2.0, 1.0)


# --------------------------------------------------------------------------------------
# Conventions at kinks and at the boundary of the domain, with analytic values
# --------------------------------------------------------------------------------------


def sum_np_abs(x):
    return np.sum(np.abs(x))


def sum_builtin_abs(x):
    return np.sum(abs(x))


def sum_np_maximum(x, y):
    return np.sum(np.maximum(x, y))


def sum_np_minimum(x, y):
    return np.sum(np.minimum(x, y))


def sum_np_power(x, y):
    return np.sum(np.power(x, y))


def sum_op_pow(x, y):
    return np.sum(x**y)


def test_abs_derivative_is_zero_at_zero():
    for fn in (builtin_abs, math_fabs, np_abs):
        g = grad(fn)(0.0)
        check_like(g, 0.0)
        assert g == 0.0, fn.__name__
    for fn in (sum_np_abs, sum_builtin_abs):
        g = grad(fn)(np.array([0.0, 1.5, -2.0, 0.0]))
        np.testing.assert_array_equal(g, [0.0, 1.0, -1.0, 0.0], err_msg=fn.__name__)


def test_scalar_min_max_split_ties_equally():
    for fn in (builtin_max, builtin_min):
        dx, dy = grad(fn, wrt=(0, 1))(1.5, 1.5)
        check_like(dx, 1.5)
        check_like(dy, 1.5)
        assert (dx, dy) == (0.5, 0.5), fn.__name__


def test_np_maximum_minimum_split_ties_equally():
    x = np.array([1.0, 2.0, 3.0])
    y = np.array([1.0, 0.0, 5.0])
    dx, dy = grad(sum_np_maximum, wrt=(0, 1))(x, y)
    np.testing.assert_array_equal(dx, [0.5, 1.0, 0.0])
    np.testing.assert_array_equal(dy, [0.5, 0.0, 1.0])
    dx, dy = grad(sum_np_minimum, wrt=(0, 1))(x, y)
    np.testing.assert_array_equal(dx, [0.5, 0.0, 1.0])
    np.testing.assert_array_equal(dy, [0.5, 1.0, 0.0])
    for fn in (np_maximum, np_minimum):
        dx, dy = grad(fn, wrt=(0, 1))(2.0, 2.0)
        assert (dx, dy) == (0.5, 0.5), fn.__name__


def test_np_maximum_ties_under_broadcasting():
    # x (3, 1) against y (1, 4): the grid of comparisons, worked out by hand.
    #         y = 1    2    0    5
    # x = 1:     tie  <    >    <     -> dx = 0.5 + 1        = 1.5
    # x = 2:     >    tie  >    <     -> dx = 1 + 0.5 + 1    = 2.5
    # x = 3:     >    >    >    <     -> dx = 3
    # dy: y=1 ties x=1 -> 0.5; y=2 beats x=1, ties x=2 -> 1.5; y=0 -> 0; y=5 -> 3
    x = np.array([[1.0], [2.0], [3.0]])
    y = np.array([[1.0, 2.0, 0.0, 5.0]])
    dx, dy = grad(sum_np_maximum, wrt=(0, 1))(x, y)
    np.testing.assert_array_equal(dx, [[1.5], [2.5], [3.0]])
    np.testing.assert_array_equal(dy, [[0.5, 1.5, 0.0, 3.0]])


def test_pow_derivative_wrt_exponent_is_zero_at_zero_base():
    # d/dy x**y = x**y log(x) -> 0 as x -> 0+ (for y > 0); d/dx at x = 0, y = 2 is 0 too.
    for fn in (op_pow, builtin_pow, math_pow, np_power):
        dx, dy = grad(fn, wrt=(0, 1))(0.0, 2.0)
        check_like(dx, 0.0)
        check_like(dy, 2.0)
        assert dx == 0.0 and dy == 0.0, (fn.__name__, dx, dy)
        assert grad(fn, wrt=1)(0.0, 2.5) == 0.0, fn.__name__
    x = np.array([0.0, 2.0, 0.0])
    y = np.array([2.0, 3.0, 0.5])
    for fn in (sum_np_power, sum_op_pow):
        dy = grad(fn, wrt=1)(x, y)
        np.testing.assert_allclose(
            dy, [0.0, 8.0 * math.log(2.0), 0.0], rtol=1e-15, err_msg=fn.__name__
        )


def test_norm_derivative_is_zero_at_the_origin():
    # Documented subgradient: 0 at the origin (also for a zero column with axis=0).
    g = grad(norm)(np.zeros(3))
    check_like(g, np.zeros(3))
    np.testing.assert_array_equal(g, [0.0, 0.0, 0.0])
    x = np.array([[0.0, 3.0], [0.0, 4.0]])
    w = np.array([2.0, 5.0])
    g = grad(weighted(norm_axis0, 1))(x, w)
    np.testing.assert_allclose(g, [[0.0, 5.0 * 3.0 / 5.0], [0.0, 5.0 * 4.0 / 5.0]], rtol=1e-15)


def test_sqrt_derivative_is_infinite_at_zero():
    # Documented for np.sqrt: the calculus' infinite derivative, not a silent 0.
    with np.errstate(divide="ignore"):
        assert grad(np_sqrt)(0.0) == math.inf
        assert grad(np_sqrt)(4.0) == 0.25


def test_vjp_pullback_is_linear_in_the_cotangent():
    # A direct property of the pullback, independent of finite differences.
    rng = np.random.default_rng(7)
    x = rng.uniform(0.5, 2.0, size=(3, 4))
    y = rng.uniform(-1.0, 1.0, size=(4,))
    _, pullback = vjp(np_power, wrt=(0, 1))(x, y)
    v1, v2 = rng.standard_normal((2, 3, 4))
    a1, b1 = pullback(v1)
    a2, b2 = pullback(v2)
    a3, b3 = pullback(2.0 * v1 - v2)
    np.testing.assert_allclose(a3, 2.0 * a1 - a2, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(b3, 2.0 * b1 - b2, rtol=1e-12, atol=1e-12)


def square(x):
    return x * x


def test_grad_with_1_tuple_wrt_returns_a_tuple():
    assert grad(square, wrt=(0,))(3.0) == (6.0,)
    assert value_and_grad(square, wrt=(0,))(3.0) == (9.0, (6.0,))


def test_gradient_of_a_0d_array_is_a_0d_array():
    x = np.array(0.5)
    check_like(grad(np_sin)(x), x)
