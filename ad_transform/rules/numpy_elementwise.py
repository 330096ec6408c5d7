"""Adjoints of NumPy's elementwise functions (ufuncs), ``np.where`` and ``np.clip``.

Broadcasting is undone by ``unbroadcast``. Each rule has a generic template (arrays)
and, where it differs, a plain one for Python and NumPy scalars.

Conventions:

* A zero adjoint contributes nothing, even through an infinite or NaN derivative: the
  array templates multiply by the local derivative with ``times``/``over`` (see
  ``runtime.times``), so ``np.where(x > 0, np.sqrt(x), 0.0)`` has the gradient of the
  selected branch everywhere, not NaN where the other branch is NaN or infinite (the
  "where trap"); masks (``y[x > 0]``) behave the same. The scalar templates (Python and
  NumPy scalars) keep the same semantics with plain arithmetic, guarded only where
  needed: ``g * d if g else 0.0``, and ``g / d if g and d else scalar_over(g, d)`` where
  ``d`` can be 0 at a point the function accepts (IEEE ``inf``/NaN, never
  ``ZeroDivisionError``). Neither form raises a NumPy warning for a masked element.
* Kinks: ``abs``/``fabs`` have derivative 0 at 0; ``maximum``, ``minimum``, ``fmax``,
  ``fmin`` split the adjoint equally between tied elements (``fmax``/``fmin``: a NaN
  never wins); ``clip`` is differentiated as ``minimum(maximum(a, a_min), a_max)``
  (the bounds are differentiable, a tie at a bound splits equally); ``copysign(x, y)``
  has derivative ``sign(x) * sign(y)`` in ``x`` (0 at ``x == 0``) and 0 in ``y``.
* Boundaries: ``sqrt`` and ``cbrt`` have an infinite derivative at 0, ``arcsin`` and
  ``arccos`` at +-1, ``arccosh`` at 1, ``arctanh`` at +-1, as in calculus (``inf`` for
  a nonzero adjoint, not a silent 0); ``d/dy x**y`` is 0 at ``x == 0``.
* Stable forms where the textbook formula is not: ``tanh`` from its output,
  ``1 - t*t`` (``1 / cosh(x)**2`` overflows for ``|x| > 355``; the error of ``1 - t*t``
  is a few ulps of 1, like that of the rounded ``t`` itself); ``logaddexp(x, y)`` as
  ``1 / (1 + exp(y - x))`` for arrays (overflow gives 0, the forward value is not
  read) and ``exp(x - ans)`` for numbers (never overflows, unlike
  ``exp(x) / (exp(x) + exp(y))``), ``logaddexp2`` as ``exp2(x - ans)``; ``arcsinh``
  with ``hypot(1, x)`` (no overflow of ``x*x``);
  ``arcsin``/``arccos``/``arccosh``/``arctanh`` with ``(1 - x)(1 + x)`` instead of
  ``1 - x*x``; ``sinc`` with its Taylor series near 0; ``exp``/``expm1``/``exp2`` from
  their output.
* Piecewise constant (zero gradient, registered as non-differentiable): ``sign``,
  ``floor``, ``ceil``, ``round``/``around``, ``rint``, ``trunc``, ``fix``,
  comparisons, logical functions and predicates (``isnan``, ``isclose``, ...).
"""

import math
import operator

import numpy as np

from ..runtime import (
    abs_adjoint,
    abs_tangent,
    angle_adjoint,
    angle_tangent,
    clip_weights,
    conjugate_adjoint,
    fmax_weights,
    imag_adjoint,
    logaddexp_share,
    nan_to_num_adjoint,
    nan_to_num_tangent,
    nondifferentiable_zero,
    over,
    power_derivative,
    quotient,
    real_adjoint,
    real_if_close_adjoint,
    real_if_close_tangent,
    safe_log,
    scalar_over,
    scalar_times_ratio,
    sinc_derivative,
    tie_share,
    times,
    unbroadcast,
)
from . import operators  # noqa: F401  (the operator rules the ufuncs share)
from .registry import (
    adjoint,
    diagonal_tangents,
    linear_tangents,
    register_like,
    register_nondifferentiable,
    tangent,
)

# -- exponentials and logarithms ---------------------------------------------------------


@adjoint(np.exp, fresh=True)
def d_exp(g, ans, x):
    return times(g, ans)


@adjoint(np.exp, scalar=True)
def d_exp_scalar(g, ans, x):
    return g * ans if g else 0.0


@adjoint(np.exp2, fresh=True)
def d_exp2(g, ans, x):
    return times(g, ans * math.log(2.0))


@adjoint(np.exp2, scalar=True)
def d_exp2_scalar(g, ans, x):
    return g * ans * math.log(2.0) if g else 0.0


@adjoint(np.expm1, fresh=True)
def d_expm1(g, ans, x):
    return times(g, ans + 1.0)


@adjoint(np.expm1, scalar=True)
def d_expm1_scalar(g, ans, x):
    return g * (ans + 1.0) if g else 0.0


@adjoint(np.log, fresh=True)
def d_log(g, ans, x):
    return over(g, x)


@adjoint(np.log, scalar=True)
def d_log_scalar(g, ans, x):
    return g / x if g and x else scalar_over(g, x)


@adjoint(np.log2, fresh=True)
def d_log2(g, ans, x):
    return over(g, x * math.log(2.0))


@adjoint(np.log2, scalar=True)
def d_log2_scalar(g, ans, x):
    d = x * math.log(2.0)
    return g / d if g and d else scalar_over(g, d)


@adjoint(np.log10, fresh=True)
def d_log10(g, ans, x):
    return over(g, x * math.log(10.0))


@adjoint(np.log10, scalar=True)
def d_log10_scalar(g, ans, x):
    d = x * math.log(10.0)
    return g / d if g and d else scalar_over(g, d)


@adjoint(np.log1p, fresh=True)
def d_log1p(g, ans, x):
    return over(g, 1.0 + x)


@adjoint(np.log1p, scalar=True)
def d_log1p_scalar(g, ans, x):
    d = 1.0 + x
    return g / d if g and d else scalar_over(g, d)


# -- powers and roots ---------------------------------------------------------------------


@adjoint(np.sqrt, fresh=True)
def d_sqrt(g, ans, x):
    return over(g, 2.0 * ans)


@adjoint(np.sqrt, scalar=True)
def d_sqrt_scalar(g, ans, x):
    d = 2.0 * ans
    return g / d if g and d else scalar_over(g, d)


@adjoint(np.cbrt, fresh=True)
def d_cbrt(g, ans, x):
    return over(g, 3.0 * ans * ans)


@adjoint(np.cbrt, scalar=True)
def d_cbrt_scalar(g, ans, x):
    d = 3.0 * ans * ans
    return g / d if g and d else scalar_over(g, d)


@adjoint(np.square, fresh=True)
def d_square(g, ans, x):
    return times(g, 2.0 * x)


@adjoint(np.square, scalar=True)
def d_square_scalar(g, ans, x):
    return 2.0 * g * x if g else 0.0


@adjoint(np.reciprocal, fresh=True)
def d_reciprocal(g, ans, x):
    return times(-g, ans * ans)


@adjoint(np.reciprocal, scalar=True)
def d_reciprocal_scalar(g, ans, x):
    return -g * ans * ans if g else 0.0


# -- trigonometric and hyperbolic ----------------------------------------------------------


@adjoint(np.sin, fresh=True)
def d_sin(g, ans, x):
    return times(g, np.cos(x))


@adjoint(np.sin, scalar=True)
def d_sin_scalar(g, ans, x):
    return g * np.cos(x) if g else 0.0


@adjoint(np.cos, fresh=True)
def d_cos(g, ans, x):
    return times(-g, np.sin(x))


@adjoint(np.cos, scalar=True)
def d_cos_scalar(g, ans, x):
    return -g * np.sin(x) if g else 0.0


@adjoint(np.tan, fresh=True)
def d_tan(g, ans, x):
    return times(g, 1.0 + ans * ans)


@adjoint(np.tan, scalar=True)
def d_tan_scalar(g, ans, x):
    return g * (1.0 + ans * ans) if g else 0.0


@adjoint(np.arcsin, fresh=True)
def d_arcsin(g, ans, x):
    return over(g, np.sqrt((1.0 - x) * (1.0 + x)))


@adjoint(np.arcsin, scalar=True)
def d_arcsin_scalar(g, ans, x):
    d = np.sqrt((1.0 - x) * (1.0 + x))
    return g / d if g and d else scalar_over(g, d)


@adjoint(np.arccos, fresh=True)
def d_arccos(g, ans, x):
    return over(-g, np.sqrt((1.0 - x) * (1.0 + x)))


@adjoint(np.arccos, scalar=True)
def d_arccos_scalar(g, ans, x):
    d = np.sqrt((1.0 - x) * (1.0 + x))
    return -g / d if g and d else scalar_over(-g, d)


@adjoint(np.arctan, fresh=True)
def d_arctan(g, ans, x):
    return over(g, 1.0 + x * x)


@adjoint(np.arctan, scalar=True)
def d_arctan_scalar(g, ans, x):
    return g / (1.0 + x * x) if g else 0.0


@adjoint(np.sinh, fresh=True)
def d_sinh(g, ans, x):
    return times(g, np.cosh(x))


@adjoint(np.sinh, scalar=True)
def d_sinh_scalar(g, ans, x):
    return g * np.cosh(x) if g else 0.0


@adjoint(np.cosh, fresh=True)
def d_cosh(g, ans, x):
    return times(g, np.sinh(x))


@adjoint(np.cosh, scalar=True)
def d_cosh_scalar(g, ans, x):
    return g * np.sinh(x) if g else 0.0


@adjoint(np.tanh, fresh=True)
def d_tanh(g, ans, x):
    # From the output: never overflows (sech(x)^2 = 1 / cosh(x)^2 would, for |x| > 355).
    return times(g, 1.0 - ans * ans)


@adjoint(np.tanh, scalar=True)
def d_tanh_scalar(g, ans, x):
    return g * (1.0 - ans * ans) if g else 0.0


@adjoint(np.arcsinh, fresh=True)
def d_arcsinh(g, ans, x):
    return over(g, np.hypot(1.0, x))


@adjoint(np.arcsinh, scalar=True)
def d_arcsinh_scalar(g, ans, x):
    return g / np.hypot(1.0, x) if g else 0.0


@adjoint(np.arccosh, fresh=True)
def d_arccosh(g, ans, x):
    return over(g, np.sqrt((x - 1.0) * (x + 1.0)))


@adjoint(np.arccosh, scalar=True)
def d_arccosh_scalar(g, ans, x):
    d = np.sqrt((x - 1.0) * (x + 1.0))
    return g / d if g and d else scalar_over(g, d)


@adjoint(np.arctanh, fresh=True)
def d_arctanh(g, ans, x):
    return over(g, (1.0 - x) * (1.0 + x))


@adjoint(np.arctanh, scalar=True)
def d_arctanh_scalar(g, ans, x):
    d = (1.0 - x) * (1.0 + x)
    return g / d if g and d else scalar_over(g, d)


@adjoint(np.deg2rad, fresh=True)
def d_deg2rad(g, ans, x):
    return g * (np.pi / 180.0)


@adjoint(np.radians, fresh=True)
def d_radians(g, ans, x):
    return g * (np.pi / 180.0)


@adjoint(np.rad2deg, fresh=True)
def d_rad2deg(g, ans, x):
    return g * (180.0 / np.pi)


@adjoint(np.degrees, fresh=True)
def d_degrees(g, ans, x):
    return g * (180.0 / np.pi)


@adjoint(np.sinc, fresh=True)
def d_sinc(g, ans, x):
    return times(g, sinc_derivative(x))


# -- signs and magnitudes -----------------------------------------------------------------


@adjoint(np.abs, fresh=True)
def d_abs(g, ans, x):
    return abs_adjoint(g, x)


@adjoint(np.abs, scalar=True)
def d_abs_scalar(g, ans, x):
    # a complex scalar (x * 1j) takes the helper: Re(g) conj(x) / |x|
    return (g * np.sign(x) if g else 0.0) if type(x) is float else abs_adjoint(g, x)


@adjoint(np.fabs, fresh=True)
def d_fabs(g, ans, x):
    return times(g, np.sign(x))


@adjoint(np.conjugate, fresh=True)
def d_conjugate(g, ans, x):
    # conj(g) (docs/conventions/complex.md); the identity on real values
    return conjugate_adjoint(g)


@adjoint(np.real)
def d_real(g, ans, val):
    return real_adjoint(g, val)


@adjoint(np.copysign, fresh=True)
def d_copysign(g, ans, x, y):
    return unbroadcast(times(g, np.sign(x) * np.copysign(1.0, y)), x), nondifferentiable_zero(y)


# -- two arguments --------------------------------------------------------------------------

# The ufuncs behind Python's operators differentiate exactly like them (np.divide is also
# np.true_divide, np.mod also np.remainder: the same ufuncs).
for _ufunc, _operator in (
    (np.add, operator.add),
    (np.subtract, operator.sub),
    (np.multiply, operator.mul),
    (np.divide, operator.truediv),
    (np.power, operator.pow),
    (np.mod, operator.mod),
    (np.negative, operator.neg),
    (np.positive, operator.pos),
):
    register_like(_ufunc, _operator)


@adjoint(np.float_power, fresh=True)
def d_float_power(g, ans, x, y):
    # float_power computes in float64 (or complex); so does its adjoint.
    return (
        unbroadcast(times(g, power_derivative(x, y, np.float_power)), x),
        unbroadcast(times(g, ans * safe_log(x)), y),
    )


@adjoint(np.fmod, fresh=True)
def d_fmod(g, ans, x, y):
    # fmod(x, y) = x - trunc(x / y) * y
    return unbroadcast(g, x), unbroadcast(times(-g, quotient(x - ans, y)), y)


@adjoint(np.maximum, fresh=True)
def d_maximum(g, ans, x, y):
    return unbroadcast(tie_share(g, x, y), x), unbroadcast(tie_share(g, y, x), y)


@adjoint(np.maximum, scalar=True)
def d_maximum_scalar(g, ans, x, y):
    return g * ((x > y) + 0.5 * (x == y)), g * ((y > x) + 0.5 * (x == y))


@adjoint(np.minimum, fresh=True)
def d_minimum(g, ans, x, y):
    return unbroadcast(tie_share(g, y, x), x), unbroadcast(tie_share(g, x, y), y)


@adjoint(np.minimum, scalar=True)
def d_minimum_scalar(g, ans, x, y):
    return g * ((x < y) + 0.5 * (x == y)), g * ((y < x) + 0.5 * (x == y))


@adjoint(np.fmax, fresh=True)
def d_fmax(g, ans, x, y):
    wx, wy = fmax_weights(x, y, True)
    return unbroadcast(g * wx, x), unbroadcast(g * wy, y)


@adjoint(np.fmin, fresh=True)
def d_fmin(g, ans, x, y):
    wx, wy = fmax_weights(x, y, False)
    return unbroadcast(g * wx, x), unbroadcast(g * wy, y)


@adjoint(np.arctan2, fresh=True)
def d_arctan2(g, ans, y, x):
    # at the origin (arctan2(0, 0) = 0) the derivative is undefined: NaN, as 0 / 0;
    # ``** 2.0`` squares an integer operand in float64, where ``x * x`` would overflow
    r2 = x**2.0 + y**2.0
    return unbroadcast(times(g, quotient(x, r2)), y), unbroadcast(times(-g, quotient(y, r2)), x)


@adjoint(np.arctan2, scalar=True)
def d_arctan2_scalar(g, ans, y, x):
    r2 = x**2.0 + y**2.0
    return (
        (g * (x / r2) if g and r2 else scalar_times_ratio(g, x, r2)),
        (-g * (y / r2) if g and r2 else scalar_times_ratio(-g, y, r2)),
    )


@adjoint(np.hypot, fresh=True)
def d_hypot(g, ans, x, y):
    # The gradient at the origin is 0 (a subgradient), as for np.linalg.norm.
    r = np.where(ans == 0, 1.0, ans)
    return unbroadcast(times(g, x / r), x), unbroadcast(times(g, y / r), y)


@adjoint(np.hypot, scalar=True)
def d_hypot_scalar(g, ans, x, y):
    return (g * (x / ans) if g and ans else 0.0), (g * (y / ans) if g and ans else 0.0)


@adjoint(np.logaddexp, fresh=True)
def d_logaddexp(g, ans, x, y):
    # exp(x) / (exp(x) + exp(y)) = 1 / (1 + exp(y - x)): the forward value is not read
    return (
        unbroadcast(times(g, logaddexp_share(x, y)), x),
        unbroadcast(times(g, logaddexp_share(y, x)), y),
    )


@adjoint(np.logaddexp, scalar=True)
def d_logaddexp_scalar(g, ans, x, y):
    return (g * np.exp(x - ans) if g else 0.0), (g * np.exp(y - ans) if g else 0.0)


@adjoint(np.logaddexp2, fresh=True)
def d_logaddexp2(g, ans, x, y):
    return (
        unbroadcast(times(g, np.exp2(x - ans)), x),
        unbroadcast(times(g, np.exp2(y - ans)), y),
    )


@adjoint(np.where, fresh=True)
def d_where(g, ans, condition, x=None, y=None):
    # Each branch gets the adjoint where it was selected and an exact 0 elsewhere.
    return (
        None,
        unbroadcast(np.where(condition, g, 0.0), x),
        unbroadcast(np.where(condition, 0.0, g), y),
    )


@adjoint(np.where, scalar=True)
def d_where_scalar(g, ans, condition, x=None, y=None):
    return None, g if condition else 0.0, 0.0 if condition else g


@adjoint(np.clip, fresh=True)
def d_clip(g, ans, a, a_min=None, a_max=None, min=None, max=None):
    # min= / max= are NumPy 2's keyword spellings of a_min / a_max.
    w_a, w_min, w_max = clip_weights(a, a_min, a_max, min, max)
    return (
        unbroadcast(g * w_a, a),
        unbroadcast(g * w_min, a_min),
        unbroadcast(g * w_max, a_max),
        unbroadcast(g * w_min, min),
        unbroadcast(g * w_max, max),
    )


@adjoint(("method", "clip"), fresh=True)
def d_clip_method(g, ans, self, min=None, max=None):
    w_a, w_min, w_max = clip_weights(self, min, max)
    return unbroadcast(g * w_a, self), unbroadcast(g * w_min, min), unbroadcast(g * w_max, max)


register_nondifferentiable(
    np.sign,
    np.floor,
    np.ceil,
    np.round,
    np.around,
    np.rint,
    np.trunc,
    np.fix,
    np.floor_divide,
    np.signbit,
    np.isnan,
    np.isinf,
    np.isfinite,
    np.isclose,
    np.allclose,
    np.array_equal,
    np.greater,
    np.greater_equal,
    np.less,
    np.less_equal,
    np.equal,
    np.not_equal,
    np.logical_and,
    np.logical_or,
    np.logical_not,
    np.logical_xor,
    ("method", "round"),
)


# a new array, unless copy=False (x changed in place; refused by the adjoint)
@adjoint(np.nan_to_num, fresh=lambda given: "copy" not in given)
def d_nan_to_num(g, ans, x, copy=True, nan=0.0, posinf=None, neginf=None):
    return (
        nan_to_num_adjoint(g, x, copy),
        None,
        nan_to_num_adjoint(g, x, copy, "nan"),
        nan_to_num_adjoint(g, x, copy, "posinf"),
        nan_to_num_adjoint(g, x, copy, "neginf"),
    )


# -- complex values (docs/conventions/complex.md) -----------------------------------------


@adjoint(np.imag)
def d_imag(g, ans, val):
    return imag_adjoint(g, val)


@adjoint(np.angle, fresh=True)
def d_angle(g, ans, z, deg=False):
    return angle_adjoint(g, z, deg)


@adjoint(np.real_if_close)
def d_real_if_close(g, ans, a, tol=100):
    return real_if_close_adjoint(g, ans, a)


@adjoint(("attribute", "imag"), kind=None)
def d_imag_attribute(g, ans, x):
    return imag_adjoint(g, x)


@adjoint(("method", "conj"), kind=None, fresh=True)
def d_conj_method(g, ans, self):
    return conjugate_adjoint(g)


@adjoint(("method", "conjugate"), kind=None, fresh=True)
def d_conjugate_method(g, ans, self):
    return conjugate_adjoint(g)


register_nondifferentiable(np.iscomplex, np.isreal, np.iscomplexobj, np.isrealobj)


# -- tangents (forward mode): ``g`` is the tangent of each parameter in turn --------------
@tangent(np.sin)
def t_sin(g, ans, x):
    return times(g, np.cos(x))


@tangent(np.sin, scalar=True)
def t_sin_scalar(g, ans, x):
    return g * np.cos(x)


@tangent(np.cos)
def t_cos(g, ans, x):
    return times(-g, np.sin(x))


@tangent(np.cos, scalar=True)
def t_cos_scalar(g, ans, x):
    return -g * np.sin(x)


@tangent(np.exp)
def t_exp(g, ans, x):
    return times(g, ans)


@tangent(np.exp, scalar=True)
def t_exp_scalar(g, ans, x):
    return g * ans


@tangent(np.log)
def t_log(g, ans, x):
    return over(g, x)


@tangent(np.log, scalar=True)
def t_log_scalar(g, ans, x):
    return g / x if x else scalar_over(g, x)  # np.log(0.0) is -inf, not an exception


@tangent(np.tanh)
def t_tanh(g, ans, x):
    return times(g, 1.0 - ans * ans)


@tangent(np.tanh, scalar=True)
def t_tanh_scalar(g, ans, x):
    return g * (1.0 - ans * ans)


# Elementwise functions of real values (Jacobians diagonal, their own transposes): the
# adjoint templates are the tangents; under JAX's convention (docs/conventions/complex.md)
# the holomorphic ones (``g * f'(z)``) are right for complex values too. Not the others
# (``abs`` of a complex value, ``real``, ``imag``, ``angle``, ``conj``): below.
diagonal_tangents(
    np.exp2,
    np.expm1,
    np.log2,
    np.log10,
    np.log1p,
    np.sqrt,
    np.cbrt,
    np.square,
    np.reciprocal,
    np.tan,
    np.arcsin,
    np.arccos,
    np.arctan,
    np.sinh,
    np.cosh,
    np.arcsinh,
    np.arccosh,
    np.arctanh,
    np.deg2rad,
    np.radians,
    np.rad2deg,
    np.degrees,
    np.sinc,
    np.fabs,
    np.copysign,
    np.float_power,
    np.fmod,
    np.maximum,
    np.minimum,
    np.fmax,
    np.fmin,
    np.arctan2,
    np.hypot,
    np.logaddexp,
    np.logaddexp2,
    np.where,
    np.clip,
    ("method", "clip"),
)


# -- tangents of the functions that are not holomorphic on complex values ------------------
@tangent(np.abs)
def t_abs(g, ans, x):
    return abs_tangent(g, x)


@tangent(np.abs, scalar=True)
def t_abs_scalar(g, ans, x):
    return g * np.sign(x) if type(x) is float else abs_tangent(g, x)


@tangent(np.angle)
def t_angle(g, ans, z, deg=False):
    return angle_tangent(g, z, deg)


@tangent(np.real_if_close)
def t_real_if_close(g, ans, a, tol=100):
    return real_if_close_tangent(g, ans)


@tangent(np.nan_to_num)
def t_nan_to_num(g, ans, x, copy=True, nan=0.0, posinf=None, neginf=None):
    return (
        nan_to_num_tangent(g, x, copy),
        None,
        nan_to_num_tangent(g, x, copy, "nan"),
        nan_to_num_tangent(g, x, copy, "posinf"),
        nan_to_num_tangent(g, x, copy, "neginf"),
    )


# real-linear (not complex-linear): the same call on the tangent
linear_tangents(
    np.conjugate,
    np.real,
    np.imag,
    ("attribute", "imag"),
    ("method", "conj"),
    ("method", "conjugate"),
)
