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
import copy
import math
import operator
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from gradcheck import check_grad, check_like, check_vjp_dot_product, numerical_gradient

from ad_transform import grad, runtime, value_and_grad, vjp
from ad_transform.rules import all_rules

NUMPY_VERSION = tuple(int(part) for part in np.__version__.split(".")[:2])
NUMPY_2 = NUMPY_VERSION >= (2, 0)  # x.mT, cholesky(upper=), slogdet(...).logabsdet
NUMPY_2_1 = NUMPY_VERSION >= (2, 1)  # np.clip(x, min=..., max=...)

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


def away_from_remainder_jumps(x, y) -> bool:
    """x / y is not close to a half-integer, where math.remainder(x, y) jumps."""
    frac = np.mod(np.divide(x, y), 1.0)
    return bool(np.all(np.abs(frac - 0.5) > 0.05))


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


ABOVE_ONE = uniform(1.2, 3.0)  # arccosh
WEIGHTS = uniform(0.5, 2.0)  # np.average weights


def well_conditioned(rng, shape):
    """Square matrices (or stacks of them) near 2.5 I: far from singular."""
    return rng.uniform(-1.0, 1.0, size=shape) + 2.5 * np.eye(shape[-1])


def symmetric_positive_definite(rng, shape):
    """b b^T + n I: symmetric positive definite, well conditioned."""
    b = rng.uniform(-1.0, 1.0, size=shape)
    return b @ np.swapaxes(b, -1, -2) + shape[-1] * np.eye(shape[-1])


def distinct(*values) -> bool:
    """No two elements of an argument within 1e-3 of each other (ties are kinks)."""
    for value in values:
        flat = np.sort(np.ravel(value))
        if flat.size > 1 and np.min(np.diff(flat)) < 1e-3:
            return False
    return True


def distinct_abs(*values) -> bool:
    return distinct(*[np.abs(v) for v in values])


def away_from(*points):
    """No element within 0.1 of a kink at one of ``points`` (clip bounds, mask edges)."""

    def accept(x, *rest) -> bool:
        return all(np.min(np.abs(np.subtract(x, p))) > 0.1 for p in points)

    return accept


def clip_apart(a, lo, hi) -> bool:
    return separated(a, lo) and separated(a, hi)


def distinct_column_sums(x) -> bool:
    return distinct(np.sum(np.abs(x), axis=0))


def distinct_row_sums(x) -> bool:
    return distinct(np.sum(np.abs(x), axis=1))


def arange_length_stable(start, step) -> bool:
    """The length ceil((3 - start) / step) does not change under a small step."""
    frac = np.mod((3.0 - start) / step, 1.0)
    return bool(0.05 < frac < 0.95)


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


def augmented_alias(x, y):
    # ``b`` sees ``a += y`` if ``a`` is an ndarray, not if it is a NumPy scalar
    a = x * 1.5
    b = a
    a += y
    return b * 2.0 + a * 3.0


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


def math_log1p(x):
    return math.log1p(x)


def math_expm1(x):
    return math.expm1(x)


def math_exp2(x):
    return math.exp2(x)


def math_cbrt(x):
    return math.cbrt(x)


def math_asinh(x):
    return math.asinh(x)


def math_acosh(x):
    return math.acosh(x)


def math_atanh(x):
    return math.atanh(x)


def math_erf(x):
    return math.erf(x)


def math_erfc(x):
    return math.erfc(x)


def math_degrees(x):
    return math.degrees(x)


def math_radians(x):
    return math.radians(x)


def math_atan2(y, x):
    return math.atan2(y, x)


def math_copysign(x, y):
    return math.copysign(x, y)


def math_fmod(x, y):
    return math.fmod(x, y)


def math_remainder(x, y):
    return math.remainder(x, y)


def math_ldexp(x):
    return math.ldexp(x, 3) + math.ldexp(x * x, -2)


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


def builtin_sorted(x):
    return np.stack(sorted(x))


def builtin_list(x):
    return np.stack(list(x))


def copy_copy(x):
    return copy.copy(x) * copy.copy([x, np.sin(x)])[1]


def copy_deepcopy(x):
    return copy.deepcopy(x) * copy.deepcopy({"a": np.cos(x)})["a"]


def builtin_tuple(x):
    return np.stack(tuple(x)[::-1])


def builtin_set(x):
    # each member's adjoint goes to the element that put it there
    return np.stack(sorted(set(list(x) + [x[1]])))


def builtin_frozenset(x):
    return np.stack(sorted(frozenset(list(x))))


def set_union(x):
    # x[2] is in both operands (two equal NumPy scalars): the left one is kept
    return np.stack(sorted(set(list(x[:3])) | set(list(x[2:]))))


def set_intersection(x):
    return np.stack(sorted(set(list(x[:4])) & set(list(x[1:]))))


def set_symmetric_difference(x):
    return np.stack(sorted(set(list(x[:4])) ^ set(list(x[2:]))))


def dict_get(x):
    d = {"a": x, "b": x * 2.0}
    return d.get("a") * d.get("c", x) + d.get("b", 1.0)


def dict_values(x):
    d = {"a": x, "b": np.sin(x)}
    return np.stack(list(d.values()))


def dict_items(x):
    d = {"a": x, "b": np.sin(x)}
    total = x * 0.0
    weight = 1.0
    for _, v in d.items():
        total = total + v * weight
        weight = weight + 1.0
    return total


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


# NumPy elementwise, added for issue 4
def np_exp2(x):
    return np.exp2(x)


def np_cbrt(x):
    return np.cbrt(x)


def np_square(x):
    return np.square(x)


def np_reciprocal(x):
    return np.reciprocal(x)


def np_arcsin(x):
    return np.arcsin(x)


def np_arccos(x):
    return np.arccos(x)


def np_sinh(x):
    return np.sinh(x)


def np_cosh(x):
    return np.cosh(x)


def np_arcsinh(x):
    return np.arcsinh(x)


def np_arccosh(x):
    return np.arccosh(x)


def np_arctanh(x):
    return np.arctanh(x)


def np_deg2rad(x):
    return np.deg2rad(x)


def np_radians(x):
    return np.radians(x)


def np_rad2deg(x):
    return np.rad2deg(x)


def np_degrees(x):
    return np.degrees(x)


def np_sinc(x):
    return np.sinc(x)


def np_absolute(x):
    return np.absolute(x)


def np_fabs(x):
    return np.fabs(x)


def np_positive(x):
    return np.positive(x) * x


def np_conjugate(x):
    return np.conjugate(x)


def np_real(x):
    return np.real(x) * x


def np_copysign(x, y):
    return np.copysign(x, y)


def np_true_divide(x, y):
    return np.true_divide(x, y)


def np_float_power(x, y):
    return np.float_power(x, y)


def np_remainder(x, y):
    return np.remainder(x, y)


def np_fmod(x, y):
    return np.fmod(x, y)


def np_fmax(x, y):
    return np.fmax(x, y)


def np_fmin(x, y):
    return np.fmin(x, y)


def np_arctan2(y, x):
    return np.arctan2(y, x)


def np_hypot(x, y):
    return np.hypot(x, y)


def np_logaddexp(x, y):
    return np.logaddexp(x, y)


def np_logaddexp2(x, y):
    return np.logaddexp2(x, y)


def np_where(x, y):
    return np.where(x > 0, x, y)


def np_where_mask(x, y):
    return np.where(MASK5, x * 2.0, y)


def np_clip_constants(x):
    return np.clip(x, -0.5, 0.7)


def np_clip(a, lo, hi):
    return np.clip(a, lo, hi)


def np_clip_upper_only(x):
    return np.clip(x, None, 0.7)


def np_clip_keywords(x, lo):
    return np.clip(x, min=lo, max=0.7)


def method_clip(x):
    return x.clip(-0.5, 0.7)


def method_clip_min(x, lo):
    return x.clip(min=lo)


# reductions, added for issue 4
def method_sum(x):
    return x.sum()


def method_sum_axis1(x):
    return x.sum(axis=1)


def method_sum_tuple_axis_keepdims(x):
    return x.sum(axis=(0, 1), keepdims=True)


def method_mean(x):
    return x.mean()


def method_mean_axis0_keepdims(x):
    return x.mean(0, keepdims=True)


def np_prod(x):
    return np.prod(x)


def np_prod_axis0(x):
    return np.prod(x, axis=0)


def np_prod_axis01_keepdims(x):
    return np.prod(x, axis=(0, 1), keepdims=True)


def method_prod(x):
    return x.prod(axis=-1)


def np_max(x):
    return np.max(x)


def np_max_axis0(x):
    return np.max(x, axis=0)


def np_max_axis01(x):
    return np.max(x, axis=(0, 1))


def np_max_axis1_keepdims(x):
    return np.max(x, axis=1, keepdims=True)


def np_amax(x):
    return np.amax(x, axis=-1)


def np_min(x):
    return np.min(x)


def np_min_axis1(x):
    return np.min(x, axis=1)


def np_amin(x):
    return np.amin(x, 0)


def method_max(x):
    return x.max(axis=0)


def method_min(x):
    return x.min()


def np_nanmax(x):
    return np.nanmax(x, axis=0)


def np_nanmin(x):
    return np.nanmin(x)


def np_ptp(x):
    return np.ptp(x, axis=-1)


def np_var(x):
    return np.var(x)


def np_var_axis0_ddof1(x):
    return np.var(x, axis=0, ddof=1)


def np_var_axis01_keepdims(x):
    return np.var(x, axis=(0, 1), keepdims=True)


def method_var(x):
    return x.var(axis=-1)


def np_std(x):
    return np.std(x)


def np_std_axis1_ddof1(x):
    return np.std(x, axis=1, ddof=1)


def method_std(x):
    return x.std(ddof=1)


def np_cumsum(x):
    return np.cumsum(x)


def np_cumsum_axis0(x):
    return np.cumsum(x, axis=0)


def np_cumsum_axis_last(x):
    return np.cumsum(x, axis=-1)


def method_cumsum(x):
    return x.cumsum(axis=0)


def np_cumprod(x):
    return np.cumprod(x)


def np_cumprod_axis1(x):
    return np.cumprod(x, axis=1)


def method_cumprod(x):
    return x.cumprod(axis=-1)


def np_trace(x):
    return np.trace(x)


def np_trace_offset(x):
    return np.trace(x, offset=1)


def np_trace_batched(x):
    return np.trace(x, axis1=1, axis2=2)


def method_trace(x):
    return x.trace(-1)


def np_diagonal(x):
    return np.diagonal(x)


def np_diagonal_batched(x):
    return np.diagonal(x, 1, 1, 2)


def method_diagonal(x):
    return x.diagonal(offset=-1)


def np_average(x):
    return np.average(x, axis=0)


def np_average_weights(x, w):
    return np.average(x, weights=w)


def np_average_weights_axis(x, w):
    return np.average(x, axis=1, weights=w)


def np_nansum(x):
    return np.nansum(x, axis=0)


def np_nanmean(x):
    return np.nanmean(x, axis=-1)


def np_sort(x):
    return np.sort(x)


def np_sort_axis0(x):
    return np.sort(x, axis=0)


def np_diff(x):
    return np.diff(x)


def np_diff_twice_axis0(x):
    return np.diff(x, n=2, axis=0)


def norm_ord1(x):
    return np.linalg.norm(x, 1)


def norm_ord_inf(x):
    return np.linalg.norm(x, np.inf)


def norm_ord_minus_inf(x):
    return np.linalg.norm(x, -np.inf)


def norm_ord3(x):
    return np.linalg.norm(x, ord=3, axis=-1)


def norm_ord0(x):
    return np.linalg.norm(x, 0) * np.sum(x)


def norm_nuc(x):
    return np.linalg.norm(x, "nuc")


def norm_ord2_matrix(x):
    return np.linalg.norm(x, 2)


def norm_ord_minus2_matrix(x):
    return np.linalg.norm(x, -2)


def norm_ord1_matrix(x):
    return np.linalg.norm(x, 1)


def norm_ord_minus1_matrix(x):
    return np.linalg.norm(x, -1)


def norm_ord_inf_matrix(x):
    return np.linalg.norm(x, np.inf)


def norm_ord_minus_inf_matrix(x):
    return np.linalg.norm(x, -np.inf)


def norm_nuc_batched(x):
    return np.linalg.norm(x, "nuc", axis=(1, 2))


def norm_ord2_swapped_axes(x):
    return np.linalg.norm(x, 2, axis=(1, 0), keepdims=True)


# shapes, added for issue 4
def np_reshape(x):
    return np.reshape(x, (2, -1))


def np_reshape_order_f(x):
    return np.reshape(x, (-1, 2), order="F")


def method_reshape_spread(x):
    return x.reshape(2, 3, -1)


def method_reshape_tuple(x):
    return x.reshape((-1,))


def method_reshape_order_f(x):
    return x.reshape(2, -1, order="F")


def np_ravel(x):
    return np.ravel(x)


def np_ravel_order_f(x):
    return np.ravel(x, order="F")


def method_ravel(x):
    return x.ravel()


def method_flatten(x):
    return x.flatten()


def method_flatten_order_f(x):
    return x.flatten("F")


def np_transpose(x):
    return np.transpose(x)


def np_transpose_axes(x):
    return np.transpose(x, (1, 2, 0))


def method_transpose(x):
    return x.transpose()


def method_transpose_spread(x):
    return x.transpose(2, 0, 1)


def method_transpose_tuple(x):
    return x.transpose((0, 2, 1))


def attribute_mT(x):
    return x.mT


def attribute_real(x):
    return x.real * x


def np_swapaxes(x):
    return np.swapaxes(x, 0, -1)


def method_swapaxes(x):
    return x.swapaxes(1, 2)


def np_moveaxis(x):
    return np.moveaxis(x, 0, -1)


def np_expand_dims(x):
    return np.expand_dims(x, (0, 2))


def np_squeeze(x):
    return np.squeeze(x)


def np_squeeze_axis(x):
    return np.squeeze(x, axis=1)


def method_squeeze(x):
    return x.squeeze()


def np_broadcast_to(x):
    return np.broadcast_to(x, (2, 3, 4))


def np_atleast_1d(x):
    return np.atleast_1d(x)


def np_atleast_2d(x):
    return np.atleast_2d(x)


def np_atleast_3d(x):
    return np.atleast_3d(x)


def np_concatenate(x, y):
    return np.concatenate([x, y])


def np_concatenate_axis1(x, y):
    return np.concatenate((x, y), axis=1)


def np_concatenate_flat(x, y):
    return np.concatenate([x, y], axis=None)


def np_concatenate_three(x, y, z):
    return np.concatenate([x, y, x * z])


def np_r_(x, y):
    return np.r_[x, 2.0, y]


def np_r_rows(x, y):
    return np.r_[x, y]


def np_r_slice(x, y):
    return np.r_[x, 0:3, y] * np.r_[y, 1.0:2.0:3j, x]


def np_c_(x, y):
    return np.c_[x, y]


def np_stack(x, y):
    return np.stack([x, y])


def np_stack_axis_last(x, y):
    return np.stack((x, y, x), axis=-1)


def np_hstack(x, y):
    return np.hstack([x, y])


def np_vstack(x, y):
    return np.vstack([x, y])


def np_dstack(x, y):
    return np.dstack([x, y])


def np_column_stack(x, y):
    return np.column_stack([x, y])


def np_split(x):
    first, _, third = np.split(x, 3)
    return first * 2.0 + third


def np_split_indices(x):
    parts = np.split(x, [1, 3], axis=1)
    return parts[2]


def np_split_loop(x):
    total = 0.0
    for part in np.split(x, 2):
        total = total + np.sum(part * part)
    return total


def np_array_split(x):
    parts = np.array_split(x, 4)
    return parts[1] * parts[3][0]


def np_hsplit(x):
    left, right = np.hsplit(x, 2)
    return left * right


def np_vsplit(x):
    top, bottom = np.vsplit(x, 2)
    return top - 3.0 * bottom


def np_dsplit(x):
    return np.dsplit(x, [1])[1]


def np_tile(x):
    return np.tile(x, 3)


def np_tile_2d(x):
    return np.tile(x, (2, 1, 2))


def np_repeat(x):
    return np.repeat(x, 2)


def np_repeat_axis(x):
    return np.repeat(x, [1, 0, 3], axis=0)


def method_repeat(x):
    return x.repeat(3, axis=-1)


def np_flip(x):
    return np.flip(x)


def np_flip_axis(x):
    return np.flip(x, axis=1)


def np_fliplr(x):
    return np.fliplr(x)


def np_flipud(x):
    return np.flipud(x)


def np_roll(x):
    return np.roll(x, 2)


def np_roll_axes(x):
    return np.roll(x, (1, -1), axis=(0, 1))


def np_rot90(x):
    return np.rot90(x)


def np_rot90_k(x):
    return np.rot90(x, 3, axes=(1, 0))


def np_diag_vector(x):
    return np.diag(x)


def np_diag_matrix(x):
    return np.diag(x, k=1)


def np_triu(x):
    return np.triu(x)


def np_tril(x):
    return np.tril(x, -1)


def np_pad(x):
    return np.pad(x, 1)


def np_pad_widths(x, v):
    return np.pad(x, ((1, 0), (2, 3)), constant_values=v)


def np_take(x):
    return np.take(x, IDX)


def np_take_axis(x):
    return np.take(x, [2, 0, 2], axis=1)


def method_take(x):
    return x.take(IDX)


def np_take_along_axis(x):
    return np.take_along_axis(x, np.argsort(x, axis=1), axis=1)


def method_item(x):
    return x.item(3) * x.item(0)


def method_item_spread(x):
    return x.item(1, 2)


def index_newaxis(x):
    return x[:, np.newaxis]


def index_ellipsis(x):
    return x[..., 1]


def index_ellipsis_newaxis(x):
    return x[None, ..., None, 0]


def index_fancy_pairs(x):
    return x[[0, 2, 0], [1, 1, 1]]


def index_mask_2d(x):
    return x[x > 0.5]


def index_none_alone(x):
    return x[None]


# linear algebra, added for issue 4
def np_vdot(x, y):
    return np.vdot(x, y)


def np_inner(x, y):
    return np.inner(x, y)


def np_outer(x, y):
    return np.outer(x, y)


def np_tensordot(x, y):
    return np.tensordot(x, y)


def np_tensordot_axes1(x, y):
    return np.tensordot(x, y, axes=1)


def np_tensordot_pairs(x, y):
    return np.tensordot(x, y, axes=([0, 2], [2, 0]))


def np_tensordot_outer(x, y):
    return np.tensordot(x, y, axes=0)


def np_kron(x, y):
    return np.kron(x, y)


def method_dot(x, y):
    return x.dot(y)


def einsum_matmul(x, y):
    return np.einsum("ij,jk->ik", x, y)


def einsum_diagonal(x):
    return np.einsum("ii->i", x)


def einsum_trace(x):
    return np.einsum("ii", x)


def einsum_sum_all(x):
    return np.einsum("ij->", x)


def einsum_implicit(x, y):
    return np.einsum("ij,jk", x, y)


def einsum_batched_ellipsis(x, y):
    return np.einsum("...ij,...jk->...ik", x, y)


def einsum_three(x, y, z):
    return np.einsum("ij,jk,k->i", x, y, z)


def einsum_outer(x, y):
    return np.einsum("i,j->ji", x, y)


def einsum_repeated_in_output_operand(x, y):
    return np.einsum("ij,ij->j", x, y)


def np_solve(a, b):
    return np.linalg.solve(a, b)


def np_inv(a):
    return np.linalg.inv(a)


def np_det(a):
    return np.linalg.det(a)


def slogdet_unpacked(a):
    sign, logdet = np.linalg.slogdet(a)
    return logdet * sign


def slogdet_indexed(a):
    return np.linalg.slogdet(a)[1]


def slogdet_field(a):
    return np.linalg.slogdet(a).logabsdet


def np_cholesky(a):
    return np.linalg.cholesky(a)


def np_cholesky_upper(a):
    return np.linalg.cholesky(a, upper=True)


# decompositions (issue 16; the full suite is tests/test_coverage2_decompositions.py).
# Singular vectors and eigenvectors have arbitrary signs: only sign-invariant uses.


def real_spectrum(rng, shape):
    """V diag(w) V^-1 with well separated real eigenvalues w (a non-symmetric matrix)."""
    n = shape[-1]
    v = np.eye(n) + 0.3 * rng.uniform(-1.0, 1.0, size=shape)
    w = np.arange(1.0, n + 1.0) + 0.2 * rng.uniform(-1.0, 1.0, size=(*shape[:-2], n))
    return (v * w[..., None, :]) @ np.linalg.inv(v)


def np_svd_thin(a):
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    return (u**2 * s[..., None, :]) @ vh**2


def np_svdvals(a):
    return np.linalg.svdvals(a)


def np_eigh(a):
    w, q = np.linalg.eigh(a)
    return q**2 * w[..., None, :]


def np_eigvalsh(a):
    return np.linalg.eigvalsh(a, UPLO="U")


def np_qr(a):
    q, r = np.linalg.qr(a)
    return q @ r**2


def np_pinv(a):
    return np.linalg.pinv(a)


def np_lstsq(a, b):
    x, residuals, _, _ = np.linalg.lstsq(a, b)
    return x * np.sum(residuals)


def np_matrix_power(a):
    return np.linalg.matrix_power(a, 3)


def np_eig(a):
    w, v = np.linalg.eig(a)
    return v**2 * w[..., None, :]


def np_eigvals(a):
    return np.linalg.eigvals(a)


def np_multi_dot(a, b, c):
    return np.linalg.multi_dot([a, b, c])


def np_tensorsolve(a, b):
    return np.linalg.tensorsolve(a, b)


def np_tensorinv(a):
    return np.linalg.tensorinv(a, ind=1)


def np_cond(a):
    return np.linalg.cond(a)


def np_vector_norm(x):
    return np.linalg.vector_norm(x, axis=(0, 1), ord=3)


def np_matrix_norm(x):
    return np.linalg.matrix_norm(x, ord="nuc")


def svd_field_u(a):
    return np.linalg.svd(a).U ** 2


def svd_field_s(a):
    return np.linalg.svd(a).S


def svd_field_vh(a):
    return np.linalg.svd(a).Vh ** 2


def qr_field_q(a):
    return np.linalg.qr(a).Q


def qr_field_r(a):
    return np.linalg.qr(a).R


def eigh_field_values(a):
    return np.linalg.eigh(a).eigenvalues


def eigh_field_vectors(a):
    return np.linalg.eigh(a).eigenvectors ** 2


# constructors and conversions, added for issue 4
def np_array_of_scalars(x, y):
    return np.array([x, y * x, 2.0])


def np_array_nested(x, y):
    return np.array([[x, y], [y, 1.0]])


def np_array_of_arrays(x, y):
    return np.array([x, y])


def np_asarray(x):
    return np.asarray(x) * x


def np_asarray_list(x, y):
    return np.asarray([x, y]) * 2.0


def np_asanyarray(x):
    return np.asanyarray(x) * 3.0


def np_ascontiguousarray(x):
    return np.ascontiguousarray(x.T)


def method_astype(x):
    return x.astype(float) * x


def method_astype_int(x):
    return x.astype(int) * x


def np_float64(x):
    return np.float64(x) * x


def np_float32_of_float32(x):
    return np.float32(x) * 2.0


def np_full(x):
    return np.full((2, 3), x)


def np_full_like(x, v):
    return np.full_like(x, v) * x


def np_linspace(a, b):
    return np.linspace(a, b, 5)


def np_arange(start, step):
    return np.arange(start, 3.0, step)


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
    Row(
        runtime.alias_after,
        augmented_alias,
        (((5,), (5,)), ((3, 4), (4,)), (F64, F64)),
        args_from(REAL),
    ),
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
    Row(math.log1p, math_log1p, SCALAR_1, args_from(ABOVE_MINUS_ONE)),
    Row(math.expm1, math_expm1, SCALAR_1, args_from(REAL)),
    *(  # Python 3.11+
        [
            Row(math.exp2, math_exp2, SCALAR_1, args_from(REAL)),
            Row(math.cbrt, math_cbrt, SCALAR_1, args_from(NONZERO)),
        ]
        if hasattr(math, "exp2")
        else []
    ),
    Row(math.asinh, math_asinh, SCALAR_1, args_from(REAL)),
    Row(math.acosh, math_acosh, SCALAR_1, args_from(ABOVE_ONE)),
    Row(math.atanh, math_atanh, SCALAR_1, args_from(UNIT)),
    Row(math.erf, math_erf, SCALAR_1, args_from(REAL)),
    Row(math.erfc, math_erfc, SCALAR_1, args_from(REAL)),
    Row(math.degrees, math_degrees, SCALAR_1, args_from(REAL)),
    Row(math.radians, math_radians, SCALAR_1, args_from(REAL)),
    Row(math.atan2, math_atan2, SCALAR_2, args_from(NONZERO)),
    Row(math.copysign, math_copysign, SCALAR_2, args_from(NONZERO)),
    Row(math.fmod, math_fmod, SCALAR_2, args_from(REAL, NONZERO, accept=away_from_mod_jumps)),
    Row(
        math.remainder,
        math_remainder,
        SCALAR_2,
        args_from(REAL, NONZERO, accept=away_from_remainder_jumps),
    ),
    Row(math.ldexp, math_ldexp, SCALAR_1, args_from(REAL)),
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
    Row(builtins.sorted, builtin_sorted, (((5,),),), args_from(REAL)),
    Row(builtins.list, builtin_list, (((5,),), ((3, 4),)), args_from(REAL)),
    Row(copy.copy, copy_copy, (((5,),), ((3, 4),)), args_from(REAL)),
    Row(copy.deepcopy, copy_deepcopy, (((5,),), ((3, 4),)), args_from(REAL)),
    Row(builtins.set, builtin_set, (((5,),),), args_from(REAL)),
    Row(builtins.frozenset, builtin_frozenset, (((5,),),), args_from(REAL)),
    Row(operator.or_, set_union, (((5,),),), args_from(REAL)),
    Row(operator.and_, set_intersection, (((5,),),), args_from(REAL)),
    Row(operator.xor, set_symmetric_difference, (((5,),),), args_from(REAL)),
    Row(builtins.tuple, builtin_tuple, (((5,),), ((3, 4),)), args_from(REAL)),
    Row(("method", "get"), dict_get, (((5,),), ((3, 4),)), args_from(REAL)),
    Row(("method", "values"), dict_values, (((5,),), ((3, 4),)), args_from(REAL)),
    Row(("method", "items"), dict_items, (((5,),), ((3, 4),)), args_from(REAL)),
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
    # NumPy elementwise (issue 4)
    Row(np.exp2, np_exp2, UNARY, args_from(REAL)),
    Row(np.cbrt, np_cbrt, UNARY, args_from(NONZERO)),
    Row(np.square, np_square, UNARY, args_from(REAL)),
    Row(np.reciprocal, np_reciprocal, UNARY, args_from(NONZERO)),
    Row(np.arcsin, np_arcsin, UNARY, args_from(UNIT)),
    Row(np.arccos, np_arccos, UNARY, args_from(UNIT)),
    Row(np.sinh, np_sinh, UNARY, args_from(REAL)),
    Row(np.cosh, np_cosh, UNARY, args_from(REAL)),
    Row(np.arcsinh, np_arcsinh, UNARY, args_from(REAL)),
    Row(np.arccosh, np_arccosh, UNARY, args_from(ABOVE_ONE)),
    Row(np.arctanh, np_arctanh, UNARY, args_from(UNIT)),
    Row(np.deg2rad, np_deg2rad, UNARY, args_from(REAL)),
    Row(np.radians, np_radians, UNARY, args_from(REAL)),
    Row(np.rad2deg, np_rad2deg, UNARY, args_from(REAL)),
    Row(np.degrees, np_degrees, UNARY, args_from(REAL)),
    Row(np.sinc, np_sinc, UNARY, args_from(REAL)),
    Row(np.absolute, np_absolute, UNARY, args_from(NONZERO)),
    Row(np.fabs, np_fabs, UNARY, args_from(NONZERO)),
    Row(np.positive, np_positive, UNARY, args_from(REAL)),
    Row(np.conjugate, np_conjugate, UNARY, args_from(REAL)),
    Row(np.real, np_real, UNARY, args_from(REAL)),
    Row(np.copysign, np_copysign, BINARY, args_from(NONZERO)),
    Row(np.divide, np_true_divide, BINARY, args_from(REAL, NONZERO)),
    Row(np.float_power, np_float_power, BINARY, args_from(POSITIVE, REAL)),
    Row(np.mod, np_remainder, BINARY, args_from(REAL, NONZERO, accept=away_from_mod_jumps)),
    Row(np.fmod, np_fmod, BINARY, args_from(REAL, NONZERO, accept=away_from_mod_jumps)),
    Row(np.fmax, np_fmax, BINARY, args_from(REAL, accept=separated)),
    Row(np.fmin, np_fmin, BINARY, args_from(REAL, accept=separated)),
    Row(np.arctan2, np_arctan2, BINARY, args_from(NONZERO)),
    Row(np.hypot, np_hypot, BINARY, args_from(NONZERO)),
    Row(np.logaddexp, np_logaddexp, BINARY, args_from(REAL)),
    Row(np.logaddexp2, np_logaddexp2, BINARY, args_from(REAL)),
    Row(np.where, np_where, BINARY, args_from(NONZERO, REAL)),
    Row(np.where, np_where_mask, (((5,), (5,)), ((5,), F), ((2, 5), (5,))), args_from(REAL)),
    Row(np.clip, np_clip_constants, UNARY, args_from(REAL, accept=away_from(-0.5, 0.7))),
    Row(
        np.clip,
        np_clip,
        (((3, 4), (3, 4), (3, 4)), ((3, 4), (4,), F), (F, F, F), (F64, (3,), F)),
        args_from(REAL, uniform(-1.5, -0.3), uniform(0.3, 1.5), accept=clip_apart),
    ),
    Row(np.clip, np_clip_upper_only, UNARY, args_from(REAL, accept=away_from(0.7))),
    *(
        [
            Row(
                np.clip,
                np_clip_keywords,
                (((3, 4), F), ((3, 4), (4,))),
                args_from(REAL, uniform(-1.5, -0.3), accept=lambda x, lo: separated(x, lo)),
            )
        ]
        if NUMPY_2_1
        else []
    ),
    Row(
        ("method", "clip"),
        method_clip,
        (((5,),), ((3, 4),)),
        args_from(REAL, accept=away_from(-0.5, 0.7)),
    ),
    Row(
        ("method", "clip"),
        method_clip_min,
        (((3, 4), F), ((3, 4), (4,))),
        args_from(REAL, uniform(-1.5, -0.3), accept=lambda x, lo: separated(x, lo)),
    ),
    # reductions (issue 4)
    Row(("method", "sum"), method_sum, VECTOR_MATRIX, args_from(REAL)),
    Row(("method", "sum"), method_sum_axis1, MATRIX, args_from(REAL)),
    Row(("method", "sum"), method_sum_tuple_axis_keepdims, MATRIX, args_from(REAL)),
    Row(("method", "mean"), method_mean, VECTOR_MATRIX, args_from(REAL)),
    Row(("method", "mean"), method_mean_axis0_keepdims, VECTOR_MATRIX, args_from(REAL)),
    Row(np.prod, np_prod, VECTOR_MATRIX, args_from(REAL)),
    Row(np.prod, np_prod_axis0, VECTOR_MATRIX, args_from(REAL)),
    Row(np.prod, np_prod_axis01_keepdims, MATRIX, args_from(REAL)),
    Row(("method", "prod"), method_prod, VECTOR_MATRIX, args_from(REAL)),
    Row(np.max, np_max, VECTOR_MATRIX, args_from(REAL, accept=distinct)),
    Row(np.max, np_max_axis0, VECTOR_MATRIX, args_from(REAL, accept=distinct)),
    Row(np.max, np_max_axis01, MATRIX, args_from(REAL, accept=distinct)),
    Row(np.max, np_max_axis1_keepdims, MATRIX, args_from(REAL, accept=distinct)),
    Row(np.amax, np_amax, VECTOR_MATRIX, args_from(REAL, accept=distinct)),
    Row(np.min, np_min, VECTOR_MATRIX, args_from(REAL, accept=distinct)),
    Row(np.min, np_min_axis1, MATRIX, args_from(REAL, accept=distinct)),
    Row(np.amin, np_amin, VECTOR_MATRIX, args_from(REAL, accept=distinct)),
    Row(("method", "max"), method_max, VECTOR_MATRIX, args_from(REAL, accept=distinct)),
    Row(("method", "min"), method_min, VECTOR_MATRIX, args_from(REAL, accept=distinct)),
    Row(np.nanmax, np_nanmax, VECTOR_MATRIX, args_from(REAL, accept=distinct)),
    Row(np.nanmin, np_nanmin, VECTOR_MATRIX, args_from(REAL, accept=distinct)),
    Row(np.ptp, np_ptp, VECTOR_MATRIX, args_from(REAL, accept=distinct)),
    Row(np.var, np_var, VECTOR_MATRIX, args_from(REAL)),
    Row(np.var, np_var_axis0_ddof1, VECTOR_MATRIX, args_from(REAL)),
    Row(np.var, np_var_axis01_keepdims, MATRIX, args_from(REAL)),
    Row(("method", "var"), method_var, VECTOR_MATRIX, args_from(REAL)),
    Row(np.std, np_std, VECTOR_MATRIX, args_from(REAL)),
    Row(np.std, np_std_axis1_ddof1, MATRIX, args_from(REAL)),
    Row(("method", "std"), method_std, VECTOR_MATRIX, args_from(REAL)),
    Row(np.cumsum, np_cumsum, VECTOR_MATRIX, args_from(REAL)),
    Row(np.cumsum, np_cumsum_axis0, VECTOR_MATRIX, args_from(REAL)),
    Row(np.cumsum, np_cumsum_axis_last, VECTOR_MATRIX, args_from(REAL)),
    Row(("method", "cumsum"), method_cumsum, VECTOR_MATRIX, args_from(REAL)),
    Row(np.cumprod, np_cumprod, VECTOR_MATRIX, args_from(REAL)),
    Row(np.cumprod, np_cumprod_axis1, MATRIX, args_from(REAL)),
    Row(("method", "cumprod"), method_cumprod, VECTOR_MATRIX, args_from(REAL)),
    Row(np.trace, np_trace, (((3, 4),), ((4, 4),)), args_from(REAL)),
    Row(np.trace, np_trace_offset, (((3, 4),),), args_from(REAL)),
    Row(np.trace, np_trace_batched, (((2, 3, 4),),), args_from(REAL)),
    Row(("method", "trace"), method_trace, (((4, 3),),), args_from(REAL)),
    Row(np.diagonal, np_diagonal, (((3, 4),), ((2, 3, 4),)), args_from(REAL)),
    Row(np.diagonal, np_diagonal_batched, (((2, 3, 4),),), args_from(REAL)),
    Row(("method", "diagonal"), method_diagonal, (((4, 3),),), args_from(REAL)),
    Row(np.average, np_average, VECTOR_MATRIX, args_from(REAL)),
    Row(np.average, np_average_weights, (((5,), (5,)), ((3, 4), (3, 4))), args_from(REAL, WEIGHTS)),
    Row(np.average, np_average_weights_axis, (((3, 4), (4,)),), args_from(REAL, WEIGHTS)),
    Row(np.nansum, np_nansum, VECTOR_MATRIX, args_from(REAL)),
    Row(np.nanmean, np_nanmean, VECTOR_MATRIX, args_from(REAL)),
    Row(np.sort, np_sort, VECTOR_MATRIX, args_from(REAL, accept=distinct)),
    Row(np.sort, np_sort_axis0, VECTOR_MATRIX, args_from(REAL, accept=distinct)),
    Row(np.diff, np_diff, VECTOR_MATRIX, args_from(REAL)),
    Row(np.diff, np_diff_twice_axis0, (((4, 3),),), args_from(REAL)),
    Row(np.linalg.norm, norm_ord1, (((5,),),), args_from(NONZERO)),
    Row(np.linalg.norm, norm_ord_inf, (((5,),),), args_from(REAL, accept=distinct_abs)),
    Row(np.linalg.norm, norm_ord_minus_inf, (((5,),),), args_from(NONZERO, accept=distinct_abs)),
    Row(np.linalg.norm, norm_ord3, (((5,),), ((3, 4),)), args_from(NONZERO)),
    Row(np.linalg.norm, norm_ord0, (((5,),),), args_from(NONZERO)),
    Row(np.linalg.norm, norm_nuc, (((3, 4),), ((4, 3),)), args_from(REAL)),
    Row(np.linalg.norm, norm_ord2_matrix, (((3, 4),), ((4, 3),)), args_from(REAL)),
    Row(np.linalg.norm, norm_ord_minus2_matrix, (((3, 4),), ((4, 3),)), args_from(REAL)),
    Row(
        np.linalg.norm, norm_ord1_matrix, (((3, 4),),), args_from(REAL, accept=distinct_column_sums)
    ),
    Row(
        np.linalg.norm,
        norm_ord_minus1_matrix,
        (((3, 4),),),
        args_from(REAL, accept=distinct_column_sums),
    ),
    Row(
        np.linalg.norm, norm_ord_inf_matrix, (((3, 4),),), args_from(REAL, accept=distinct_row_sums)
    ),
    Row(
        np.linalg.norm,
        norm_ord_minus_inf_matrix,
        (((3, 4),),),
        args_from(REAL, accept=distinct_row_sums),
    ),
    Row(np.linalg.norm, norm_nuc_batched, (((2, 3, 4),),), args_from(REAL)),
    Row(np.linalg.norm, norm_ord2_swapped_axes, (((3, 4),),), args_from(REAL)),
    # shapes (issue 4)
    Row(np.reshape, np_reshape, (((6,),), ((3, 4),), ((2, 3, 4),)), args_from(REAL)),
    Row(np.reshape, np_reshape_order_f, (((6,),), ((3, 4),), ((2, 3, 4),)), args_from(REAL)),
    Row(
        ("method", "reshape"),
        method_reshape_spread,
        (((6,),), ((3, 4),), ((2, 3, 4),)),
        args_from(REAL),
    ),
    Row(("method", "reshape"), method_reshape_tuple, (((3, 4),),), args_from(REAL)),
    Row(("method", "reshape"), method_reshape_order_f, (((3, 4),), ((2, 3, 4),)), args_from(REAL)),
    Row(np.ravel, np_ravel, (((3, 4),), ((2, 3, 4),)), args_from(REAL)),
    Row(np.ravel, np_ravel_order_f, (((3, 4),), ((2, 3, 4),)), args_from(REAL)),
    Row(("method", "ravel"), method_ravel, (((3, 4),),), args_from(REAL)),
    Row(("method", "flatten"), method_flatten, (((3, 4),),), args_from(REAL)),
    Row(("method", "flatten"), method_flatten_order_f, (((3, 4),), ((2, 3, 4),)), args_from(REAL)),
    Row(np.transpose, np_transpose, (((5,),), ((3, 4),), ((2, 3, 4),)), args_from(REAL)),
    Row(np.transpose, np_transpose_axes, (((2, 3, 4),),), args_from(REAL)),
    Row(("method", "transpose"), method_transpose, (((3, 4),), ((2, 3, 4),)), args_from(REAL)),
    Row(("method", "transpose"), method_transpose_spread, (((2, 3, 4),),), args_from(REAL)),
    Row(("method", "transpose"), method_transpose_tuple, (((2, 3, 4),),), args_from(REAL)),
    *(
        [Row(("attribute", "mT"), attribute_mT, (((3, 4),), ((2, 3, 4),)), args_from(REAL))]
        if NUMPY_2
        else []
    ),
    Row(("attribute", "real"), attribute_real, (((3, 4),),), args_from(REAL)),
    Row(np.swapaxes, np_swapaxes, (((5,),), ((3, 4),), ((2, 3, 4),)), args_from(REAL)),
    Row(("method", "swapaxes"), method_swapaxes, (((2, 3, 4),),), args_from(REAL)),
    Row(np.moveaxis, np_moveaxis, (((3, 4),), ((2, 3, 4),)), args_from(REAL)),
    Row(np.expand_dims, np_expand_dims, (((5,),), ((3, 4),)), args_from(REAL)),
    Row(np.squeeze, np_squeeze, (((1, 5),), ((3, 1, 4),)), args_from(REAL)),
    Row(np.squeeze, np_squeeze_axis, (((3, 1, 4),),), args_from(REAL)),
    Row(("method", "squeeze"), method_squeeze, (((1, 5),), ((3, 1, 1),)), args_from(REAL)),
    Row(
        np.broadcast_to, np_broadcast_to, ((F,), ((4,),), ((3, 1),), ((1, 3, 4),)), args_from(REAL)
    ),
    Row(np.atleast_1d, np_atleast_1d, ((F,), ((5,),)), args_from(REAL)),
    Row(np.atleast_2d, np_atleast_2d, ((F,), ((5,),), ((3, 4),)), args_from(REAL)),
    Row(np.atleast_3d, np_atleast_3d, ((F,), ((5,),), ((3, 4),)), args_from(REAL)),
    Row(np.concatenate, np_concatenate, (((5,), (3,)), ((2, 4), (3, 4))), args_from(REAL)),
    Row(np.concatenate, np_concatenate_axis1, (((3, 2), (3, 4)),), args_from(REAL)),
    Row(np.concatenate, np_concatenate_flat, (((2, 3), (4,)),), args_from(REAL)),
    Row(np.r_, np_r_, ((F, F), ((5,), (3,))), args_from(REAL)),
    Row(np.r_, np_r_rows, (((2, 4), (3, 4)),), args_from(REAL)),
    Row(np.r_, np_r_slice, (((2,), (2,)),), args_from(REAL)),
    Row(np.c_, np_c_, ((F, F), ((3,), (3,)), ((3, 2), (3,)), ((2, 3), (2, 4))), args_from(REAL)),
    Row(np.concatenate, np_concatenate_three, (((2,), (3,), (2,)),), args_from(REAL)),
    Row(np.stack, np_stack, ((F, F), ((4,), (4,)), ((2, 3), (2, 3))), args_from(REAL)),
    Row(np.stack, np_stack_axis_last, (((4,), (4,)), ((2, 3), (2, 3))), args_from(REAL)),
    Row(np.hstack, np_hstack, ((F, (2,)), ((3,), (2,)), ((2, 3), (2, 1))), args_from(REAL)),
    Row(np.vstack, np_vstack, (((3,), (3,)), ((2, 3), (1, 3))), args_from(REAL)),
    Row(np.dstack, np_dstack, (((3,), (3,)), ((2, 3), (2, 3))), args_from(REAL)),
    Row(np.column_stack, np_column_stack, (((3,), (3,)), ((3, 2), (3,))), args_from(REAL)),
    Row(np.split, np_split, (((6,),), ((6, 2),)), args_from(REAL)),
    Row(np.split, np_split_indices, (((3, 5),),), args_from(REAL)),
    Row(np.split, np_split_loop, (((4,),), ((4, 3),)), args_from(REAL)),
    Row(np.array_split, np_array_split, (((6,),), ((7, 2),)), args_from(REAL)),
    Row(np.hsplit, np_hsplit, (((4,),), ((3, 4),)), args_from(REAL)),
    Row(np.vsplit, np_vsplit, (((4, 3),),), args_from(REAL)),
    Row(np.dsplit, np_dsplit, (((2, 3, 4),),), args_from(REAL)),
    Row(np.tile, np_tile, UNARY, args_from(REAL)),
    Row(np.tile, np_tile_2d, (((3,),), ((2, 3),)), args_from(REAL)),
    Row(np.repeat, np_repeat, UNARY, args_from(REAL)),
    Row(np.repeat, np_repeat_axis, (((3, 2),),), args_from(REAL)),
    Row(("method", "repeat"), method_repeat, (((5,),), ((3, 4),)), args_from(REAL)),
    Row(np.flip, np_flip, (((5,),), ((3, 4),)), args_from(REAL)),
    Row(np.flip, np_flip_axis, (((3, 4),),), args_from(REAL)),
    Row(np.fliplr, np_fliplr, (((3, 4),),), args_from(REAL)),
    Row(np.flipud, np_flipud, (((5,),), ((3, 4),)), args_from(REAL)),
    Row(np.roll, np_roll, (((5,),), ((3, 4),)), args_from(REAL)),
    Row(np.roll, np_roll_axes, (((3, 4),),), args_from(REAL)),
    Row(np.rot90, np_rot90, (((3, 4),), ((2, 3, 4),)), args_from(REAL)),
    Row(np.rot90, np_rot90_k, (((3, 4),),), args_from(REAL)),
    Row(np.diag, np_diag_vector, (((4,),),), args_from(REAL)),
    Row(np.diag, np_diag_matrix, (((3, 4),), ((4, 4),)), args_from(REAL)),
    Row(np.triu, np_triu, (((3, 4),), ((2, 3, 4),)), args_from(REAL)),
    Row(np.tril, np_tril, (((3, 4),), ((2, 3, 4),)), args_from(REAL)),
    Row(np.pad, np_pad, (((5,),), ((3, 4),)), args_from(REAL)),
    Row(np.pad, np_pad_widths, (((3, 4), F),), args_from(REAL)),
    Row(np.take, np_take, (((5,),), ((3, 4),)), args_from(REAL)),
    Row(np.take, np_take_axis, (((3, 4),), ((2, 3, 4),)), args_from(REAL)),
    Row(("method", "take"), method_take, (((5,),), ((3, 4),)), args_from(REAL)),
    Row(np.take_along_axis, np_take_along_axis, (((3, 4),),), args_from(REAL, accept=distinct)),
    Row(("method", "item"), method_item, (((5,),), ((3, 4),)), args_from(REAL)),
    Row(("method", "item"), method_item_spread, (((3, 4),),), args_from(REAL)),
    Row(operator.getitem, index_newaxis, (((5,),), ((3, 4),)), args_from(REAL)),
    Row(operator.getitem, index_ellipsis, (((3, 4),), ((2, 3, 4),)), args_from(REAL)),
    Row(operator.getitem, index_ellipsis_newaxis, (((3, 4),), ((2, 3, 4),)), args_from(REAL)),
    Row(operator.getitem, index_fancy_pairs, (((3, 4),),), args_from(REAL)),
    Row(operator.getitem, index_mask_2d, (((3, 4),),), args_from(REAL, accept=away_from(0.5))),
    Row(operator.getitem, index_none_alone, (((5,),),), args_from(REAL)),
    # linear algebra (issue 4)
    Row(np.vdot, np_vdot, (((4,), (4,)), ((2, 3), (3, 2)), ((6,), (2, 3))), args_from(REAL)),
    Row(
        np.inner,
        np_inner,
        (((4,), (4,)), ((3, 4), (4,)), ((3, 4), (2, 4)), ((2, 3, 4), (5, 4)), (F, (3, 4))),
        args_from(REAL),
    ),
    Row(np.outer, np_outer, (((3,), (4,)), ((2, 2), (3,)), (F, (3,))), args_from(REAL)),
    Row(np.tensordot, np_tensordot, (((2, 3, 4), (3, 4, 5)), ((3, 4), (3, 4))), args_from(REAL)),
    Row(np.tensordot, np_tensordot_axes1, (((3, 4), (4, 5)), ((2, 3, 4), (4,))), args_from(REAL)),
    Row(np.tensordot, np_tensordot_pairs, (((2, 3, 4), (4, 5, 2)),), args_from(REAL)),
    Row(np.tensordot, np_tensordot_outer, (((2,), (3,)), (F, (2, 3))), args_from(REAL)),
    Row(
        np.kron,
        np_kron,
        (((2, 3), (3, 2)), ((3,), (2, 2)), ((2, 2), (2, 1, 3)), (F, (2, 3))),
        args_from(REAL),
    ),
    Row(
        ("method", "dot"),
        method_dot,
        (((4,), (4,)), ((3, 4), (4,)), ((3, 4), (4, 2))),
        args_from(REAL),
    ),
    Row(np.einsum, einsum_matmul, (((3, 4), (4, 2)),), args_from(REAL)),
    Row(np.einsum, einsum_diagonal, (((4, 4),),), args_from(REAL)),
    Row(np.einsum, einsum_trace, (((3, 3),),), args_from(REAL)),
    Row(np.einsum, einsum_sum_all, (((3, 4),),), args_from(REAL)),
    Row(np.einsum, einsum_implicit, (((3, 4), (4, 2)),), args_from(REAL)),
    Row(
        np.einsum,
        einsum_batched_ellipsis,
        (((2, 3, 4), (2, 4, 5)), ((2, 3, 4), (4, 5)), ((1, 3, 4), (2, 4, 5))),
        args_from(REAL),
    ),
    Row(np.einsum, einsum_three, (((3, 4), (4, 2), (2,)),), args_from(REAL)),
    Row(np.einsum, einsum_outer, (((3,), (4,)),), args_from(REAL)),
    Row(np.einsum, einsum_repeated_in_output_operand, (((3, 4), (3, 4)),), args_from(REAL)),
    Row(
        np.linalg.solve,
        np_solve,
        (
            ((3, 3), (3,)),
            ((3, 3), (3, 2)),
            ((2, 3, 3), (2, 3, 2)),
            # NumPy 2 broadcasts a 1-D b (a vector) and a 2-D b (a matrix) over the batch
            *((((2, 3, 3), (3,)), ((2, 3, 3), (3, 2))) if NUMPY_2 else ()),
        ),
        args_from(well_conditioned, REAL),
    ),
    Row(np.linalg.inv, np_inv, (((3, 3),), ((2, 3, 3),)), args_from(well_conditioned)),
    Row(np.linalg.det, np_det, (((3, 3),), ((2, 3, 3),)), args_from(well_conditioned)),
    Row(
        np.linalg.slogdet, slogdet_unpacked, (((3, 3),), ((2, 3, 3),)), args_from(well_conditioned)
    ),
    Row(np.linalg.slogdet, slogdet_indexed, (((3, 3),), ((2, 3, 3),)), args_from(well_conditioned)),
    *(
        [Row(("attribute", "logabsdet"), slogdet_field, (((3, 3),),), args_from(well_conditioned))]
        if NUMPY_2
        else []
    ),
    Row(
        np.linalg.cholesky,
        np_cholesky,
        (((3, 3),), ((2, 3, 3),)),
        args_from(symmetric_positive_definite),
    ),
    *(
        [
            Row(
                np.linalg.cholesky,
                np_cholesky_upper,
                (((3, 3),),),
                args_from(symmetric_positive_definite),
            )
        ]
        if NUMPY_2
        else []
    ),
    # decompositions (issue 16)
    Row(np.linalg.svd, np_svd_thin, (((3, 3),), ((4, 3),), ((2, 3, 4),)), args_from(REAL)),
    Row(np.linalg.eigh, np_eigh, (((3, 3),), ((2, 3, 3),)), args_from(REAL)),
    Row(np.linalg.eigvalsh, np_eigvalsh, (((3, 3),), ((2, 3, 3),)), args_from(REAL)),
    Row(np.linalg.qr, np_qr, (((3, 3),), ((4, 3),), ((2, 3, 4),)), args_from(REAL)),
    Row(np.linalg.pinv, np_pinv, (((3, 3),), ((4, 3),), ((2, 3, 4),)), args_from(REAL)),
    Row(np.linalg.lstsq, np_lstsq, (((5, 3), (5,)), ((5, 3), (5, 2))), args_from(REAL)),
    Row(np.linalg.matrix_power, np_matrix_power, (((3, 3),), ((2, 3, 3),)), args_from(REAL)),
    Row(np.linalg.eig, np_eig, (((3, 3),), ((2, 3, 3),)), args_from(real_spectrum)),
    Row(np.linalg.eigvals, np_eigvals, (((3, 3),),), args_from(real_spectrum)),
    Row(np.linalg.multi_dot, np_multi_dot, (((2, 3), (3, 4), (4, 2)),), args_from(REAL)),
    Row(
        np.linalg.tensorsolve,
        np_tensorsolve,
        (((2, 3, 6), (2, 3)),),
        args_from(lambda rng, shape: well_conditioned(rng, (6, 6)).reshape(shape), REAL),
    ),
    Row(
        np.linalg.tensorinv,
        np_tensorinv,
        (((6, 2, 3),),),
        args_from(lambda rng, shape: well_conditioned(rng, (6, 6)).reshape(shape)),
    ),
    Row(np.linalg.cond, np_cond, (((3, 3),), ((2, 3, 3),)), args_from(well_conditioned)),
    *(
        [
            Row(np.linalg.vector_norm, np_vector_norm, (((2, 3, 4),),), args_from(NONZERO)),
            Row(np.linalg.matrix_norm, np_matrix_norm, (((2, 3, 4),),), args_from(REAL)),
            Row(np.linalg.svdvals, np_svdvals, (((3, 4),), ((2, 4, 3),)), args_from(REAL)),
            Row(("attribute", "U"), svd_field_u, (((3, 3),),), args_from(REAL)),
            Row(("attribute", "S"), svd_field_s, (((4, 3),),), args_from(REAL)),
            Row(("attribute", "Vh"), svd_field_vh, (((3, 3),),), args_from(REAL)),
            Row(("attribute", "Q"), qr_field_q, (((4, 3),),), args_from(REAL)),
            Row(("attribute", "R"), qr_field_r, (((3, 3),),), args_from(REAL)),
            Row(("attribute", "eigenvalues"), eigh_field_values, (((3, 3),),), args_from(REAL)),
            Row(("attribute", "eigenvectors"), eigh_field_vectors, (((3, 3),),), args_from(REAL)),
        ]
        if NUMPY_2
        else []
    ),
    # constructors and conversions (issue 4)
    Row(np.array, np_array_of_scalars, ((F, F), (F64, F)), args_from(REAL)),
    Row(np.array, np_array_nested, ((F, F),), args_from(REAL)),
    Row(np.array, np_array_of_arrays, (((3,), (3,)), ((2, 3), (2, 3))), args_from(REAL)),
    Row(np.asarray, np_asarray, UNARY, args_from(REAL)),
    Row(np.asarray, np_asarray_list, ((F, F), ((3,), (3,))), args_from(REAL)),
    Row(np.asanyarray, np_asanyarray, UNARY, args_from(REAL)),
    Row(np.ascontiguousarray, np_ascontiguousarray, (((3, 4),),), args_from(REAL)),
    Row(("method", "astype"), method_astype, (((5,),), ((3, 4),)), args_from(REAL)),
    Row(
        ("method", "astype"),
        method_astype_int,
        (((5,),), ((3, 4),)),
        args_from(REAL, accept=away_from(-1.0, 0.0, 1.0)),
    ),
    Row(np.float64, np_float64, UNARY, args_from(REAL)),
    Row(np.full, np_full, ((F,), (F64,), ((3,),)), args_from(REAL)),
    Row(np.full_like, np_full_like, (((3, 4), F), ((3, 4), (4,))), args_from(REAL)),
    Row(np.linspace, np_linspace, ((F, F), ((3,), (3,)), ((3,), F)), args_from(REAL)),
    Row(
        np.arange,
        np_arange,
        ((F, F), (F64, F64)),
        args_from(uniform(0.0, 0.5), uniform(0.45, 0.55), accept=arange_length_stable),
    ),
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


def _covered_elsewhere() -> list:
    """The primitives the issue-16 suites (``tests/test_coverage2_*.py``) check with finite
    differences and dot-product tests: their ``COVERED_PRIMITIVES``."""
    import importlib
    from pathlib import Path

    covered = []
    for path in sorted(Path(__file__).parent.glob("test_coverage2_*.py")):
        module = importlib.import_module(path.stem)
        covered += getattr(module, "COVERED_PRIMITIVES", [])
    return covered


def test_every_registered_rule_has_a_row():
    from test_coverage2_statistics import TABLE as STATISTICS_TABLE  # issue 16 (C3)

    rows = [row.primitive for row in (*TABLE, *STATISTICS_TABLE)] + _covered_elsewhere()
    covered = {id(p) for p in rows} | {p for p in rows if isinstance(p, tuple)}
    missing = [
        rule.name
        for rule in all_rules()
        if rule.differentiable
        and rule.template.fn.__module__.startswith("ad_transform.rules")  # built-in rules
        and not rule.name.startswith("scipy.")  # rows in tests/test_coverage2_scipy.py
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
