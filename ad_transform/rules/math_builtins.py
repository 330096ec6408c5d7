"""Adjoints of the ``math`` module and of the builtins ``abs``, ``min``, ``max``, ``pow``, ``sum``.

``math`` functions only take scalars, so their templates use ``math`` too: the
generated code for Python numbers stays plain Python arithmetic, guarded as in
``operators``: a zero adjoint contributes exactly 0 (``g * d if g else 0.0``), and a
derivative that is infinite at a point the function accepts (``sqrt`` at 0, ``asin`` at
+-1, ``pow`` at 0) is IEEE ``inf``/NaN, never ``ZeroDivisionError``.

Conventions at kinks: ``abs`` and ``fabs`` have derivative 0 at 0 (like
``np.sign``); ``min``/``max`` split the adjoint equally between tied arguments.
"""

import builtins
import math

import numpy as np

from ..runtime import (
    abs_adjoint,
    abs_tangent,
    complex_tangent,
    power_derivative,
    safe_log,
    scalar_over,
    scalar_power_adjoint,
    scalar_times_ratio,
    sequence_sum_adjoint,
    sum_start_adjoint,
    sum_start_tangent,
    summed_elements_tangent,
    times,
    unbroadcast,
)
from .registry import (
    SCALAR,
    UNKNOWN,
    adjoint,
    diagonal_tangents,
    register_nondifferentiable,
    tangent,
)


@adjoint(math.sin, kind=SCALAR, fresh=True)
def d_sin(g, ans, x):
    return g * math.cos(x) if g else 0.0


@adjoint(math.cos, kind=SCALAR, fresh=True)
def d_cos(g, ans, x):
    return -g * math.sin(x) if g else 0.0


@adjoint(math.tan, kind=SCALAR, fresh=True)
def d_tan(g, ans, x):
    return g * (1.0 + ans * ans) if g else 0.0


@adjoint(math.exp, kind=SCALAR, fresh=True)
def d_exp(g, ans, x):
    return g * ans if g else 0.0


@adjoint(math.log, kind=SCALAR, fresh=True)
def d_log(g, ans, x, base=math.e):
    # x > 0 and base > 0, base != 1: math.log raised otherwise
    return (
        (g / (x * math.log(base)) if g else 0.0),
        (-g * ans / (base * math.log(base)) if g else 0.0),
    )


@adjoint(math.log2, kind=SCALAR, fresh=True)
def d_log2(g, ans, x):
    return g / (x * math.log(2.0)) if g else 0.0


@adjoint(math.log10, kind=SCALAR, fresh=True)
def d_log10(g, ans, x):
    return g / (x * math.log(10.0)) if g else 0.0


@adjoint(math.sqrt, kind=SCALAR, fresh=True)
def d_sqrt(g, ans, x):
    return g / (2.0 * ans) if g and ans else scalar_over(g, 2.0 * ans)


@adjoint(math.tanh, kind=SCALAR, fresh=True)
def d_tanh(g, ans, x):
    return g * (1.0 - ans * ans) if g else 0.0


@adjoint(math.sinh, kind=SCALAR, fresh=True)
def d_sinh(g, ans, x):
    return g * math.cosh(x) if g else 0.0


@adjoint(math.cosh, kind=SCALAR, fresh=True)
def d_cosh(g, ans, x):
    return g * math.sinh(x) if g else 0.0


@adjoint(math.atan, kind=SCALAR, fresh=True)
def d_atan(g, ans, x):
    return g / (1.0 + x * x) if g else 0.0


@adjoint(math.asin, kind=SCALAR, fresh=True)
def d_asin(g, ans, x):
    d = math.sqrt((1.0 - x) * (1.0 + x))  # |x| <= 1, or math.asin raised
    return g / d if g and d else scalar_over(g, d)


@adjoint(math.acos, kind=SCALAR, fresh=True)
def d_acos(g, ans, x):
    d = math.sqrt((1.0 - x) * (1.0 + x))
    return -g / d if g and d else scalar_over(-g, d)


@adjoint(math.pow, kind=SCALAR, fresh=True)
def d_math_pow(g, ans, x, y):
    return (
        (g * y * x ** (y - 1.0) if g and x else scalar_power_adjoint(g, x, y)),
        (g * ans * safe_log(x) if g else 0.0),
    )


@adjoint(math.fabs, kind=SCALAR, fresh=True)
def d_fabs(g, ans, x):
    # float(...) keeps the adjoint a float (and works for NumPy scalars, whose booleans
    # cannot be subtracted).
    return g * (float(x > 0) - float(x < 0))


@adjoint(math.hypot, kind=SCALAR, fresh=True)
def d_hypot(g, ans, x, y):
    # at the origin the convention of np.hypot and np.linalg.norm: gradient 0
    return (g * (x / ans) if g and ans else 0.0), (g * (y / ans) if g and ans else 0.0)


@adjoint(math.log1p, kind=SCALAR, fresh=True)
def d_math_log1p(g, ans, x):
    d = 1.0 + x  # x > -1, or math.log1p raised
    return g / d if g and d else scalar_over(g, d)


@adjoint(math.expm1, kind=SCALAR, fresh=True)
def d_math_expm1(g, ans, x):
    return g * (ans + 1.0) if g else 0.0


if hasattr(math, "exp2"):  # Python 3.11+, like math.cbrt

    @adjoint(math.exp2, kind=SCALAR, fresh=True)
    def d_math_exp2(g, ans, x):
        return g * ans * math.log(2.0) if g else 0.0

    @adjoint(math.cbrt, kind=SCALAR, fresh=True)
    def d_math_cbrt(g, ans, x):
        d = 3.0 * ans * ans
        return g / d if g and d else scalar_over(g, d)


@adjoint(math.asinh, kind=SCALAR, fresh=True)
def d_asinh(g, ans, x):
    return g / math.hypot(1.0, x) if g else 0.0


@adjoint(math.acosh, kind=SCALAR, fresh=True)
def d_acosh(g, ans, x):
    d = math.sqrt((x - 1.0) * (x + 1.0))  # x >= 1, or math.acosh raised
    return g / d if g and d else scalar_over(g, d)


@adjoint(math.atanh, kind=SCALAR, fresh=True)
def d_atanh(g, ans, x):
    return g / ((1.0 - x) * (1.0 + x)) if g else 0.0  # |x| < 1, or math.atanh raised


@adjoint(math.atan2, kind=SCALAR, fresh=True)
def d_atan2(g, ans, y, x):
    # at the origin (atan2(0, 0) = 0) the derivative is undefined: NaN, as 0 / 0;
    # ``** 2.0`` squares an integer operand in float64, where ``x * x`` would overflow
    r2 = x**2.0 + y**2.0
    return (
        (g * (x / r2) if g and r2 else scalar_times_ratio(g, x, r2)),
        (-g * (y / r2) if g and r2 else scalar_times_ratio(-g, y, r2)),
    )


@adjoint(math.erf, kind=SCALAR, fresh=True)
def d_erf(g, ans, x):
    return g * (2.0 / math.sqrt(math.pi)) * math.exp(-x * x) if g else 0.0


@adjoint(math.erfc, kind=SCALAR, fresh=True)
def d_erfc(g, ans, x):
    return -g * (2.0 / math.sqrt(math.pi)) * math.exp(-x * x) if g else 0.0


@adjoint(math.degrees, kind=SCALAR, fresh=True)
def d_degrees(g, ans, x):
    return g * (180.0 / math.pi)


@adjoint(math.radians, kind=SCALAR, fresh=True)
def d_radians(g, ans, x):
    return g * (math.pi / 180.0)


@adjoint(math.copysign, kind=SCALAR, fresh=True)
def d_math_copysign(g, ans, x, y):
    # |x| with the sign of y: the derivative in x is sign(x) * sign(y) (0 at x == 0)
    return g * (float(x > 0) - float(x < 0)) * math.copysign(1.0, y), 0.0


@adjoint(math.fmod, kind=SCALAR, fresh=True)
def d_math_fmod(g, ans, x, y):
    # fmod(x, y) = x - trunc(x / y) * y (y != 0, or math.fmod raised)
    return g, (-g * round((x - ans) / y) if g else 0.0)


@adjoint(math.remainder, kind=SCALAR, fresh=True)
def d_math_remainder(g, ans, x, y):
    # remainder(x, y) = x - n * y, n the integer nearest x / y (y != 0, or it raised)
    return g, (-g * round((x - ans) / y) if g else 0.0)


@adjoint(math.ldexp, kind=SCALAR, fresh=True)
def d_ldexp(g, ans, x, i):
    # x * 2**i with an integer i
    return math.ldexp(g, i), 0.0


@adjoint(builtins.abs, fresh=True)
def d_abs(g, ans, x):
    return abs_adjoint(g, x)


@adjoint(builtins.abs, scalar=True)
def d_abs_scalar(g, ans, x):
    # a complex scalar (x * 1j) takes the helper: Re(g) conj(x) / |x|
    return g * (float(x > 0) - float(x < 0)) if type(x) is float else abs_adjoint(g, x)


@adjoint(builtins.max)
def d_max(g, ans, x, y):
    return g * ((x > y) + 0.5 * (x == y)), g * ((y > x) + 0.5 * (x == y))


@adjoint(builtins.min)
def d_min(g, ans, x, y):
    return g * ((x < y) + 0.5 * (x == y)), g * ((y < x) + 0.5 * (x == y))


@adjoint(builtins.pow, fresh=True)
def d_builtin_pow(g, ans, x, y):
    return (
        unbroadcast(times(g, power_derivative(x, y)), x),
        unbroadcast(times(g, ans * safe_log(x)), y),
    )


@adjoint(builtins.pow, scalar=True)
def d_builtin_pow_scalar(g, ans, x, y):
    return (
        (g * y * x ** (y - 1.0) if g and x else scalar_power_adjoint(g, x, y)),
        (g * ans * safe_log(x) if g else 0.0),
    )


@adjoint(builtins.sum, kind=UNKNOWN, fresh=True)
def d_builtin_sum(g, ans, x, start=0):
    # sum(rows, []) joins lists: each row's adjoint is its part of g
    return sequence_sum_adjoint(g, x, start), sum_start_adjoint(g, x, start)


@adjoint(builtins.float, kind=SCALAR, fresh=True)
def d_float(g, ans, x):
    return g


register_nondifferentiable(
    builtins.len,
    builtins.range,
    builtins.int,
    builtins.bool,
    builtins.round,
    builtins.isinstance,
    builtins.id,
    builtins.hash,
    builtins.type,
    builtins.str,
    builtins.repr,
    math.floor,
    math.ceil,
    math.trunc,
    math.isnan,
    math.isinf,
    math.isfinite,
    math.isclose,
    math.factorial,
    math.gcd,
    math.lcm,
    math.isqrt,
    math.comb,
    math.perm,
)
register_nondifferentiable(builtins.print, pure=False)


@adjoint(builtins.complex, kind=SCALAR, fresh=True)
def d_complex(g, ans, real=0.0, imag=0.0):
    # z = real + i imag; under JAX's convention (docs/conventions/complex.md) the
    # adjoint of real is Re(g), that of imag Re(i g) = -Im(g)
    return np.real(g), -np.imag(g)


# -- tangents (forward mode): ``g`` is the tangent of each parameter in turn --------------
@tangent(math.sin)
def t_sin(g, ans, x):
    return g * math.cos(x)


@tangent(math.cos)
def t_cos(g, ans, x):
    return -g * math.sin(x)


@tangent(math.exp)
def t_exp(g, ans, x):
    return g * ans


@tangent(math.log)
def t_log(g, ans, x, base=math.e):
    return g / (x * math.log(base)), -g * ans / (base * math.log(base))


# functions of real numbers with a 1x1 Jacobian per argument: the adjoint is the tangent
diagonal_tangents(
    *(
        getattr(math, name)
        for name in (
            "tan",
            "log2",
            "log10",
            "sqrt",
            "tanh",
            "sinh",
            "cosh",
            "atan",
            "asin",
            "acos",
            "pow",
            "fabs",
            "hypot",
            "log1p",
            "expm1",
            "exp2",
            "cbrt",
            "asinh",
            "acosh",
            "atanh",
            "atan2",
            "erf",
            "erfc",
            "degrees",
            "radians",
            "copysign",
            "fmod",
            "remainder",
            "ldexp",
        )
        if hasattr(math, name)  # exp2, cbrt: Python 3.11+
    ),
    builtins.max,
    builtins.min,
    builtins.pow,
    builtins.float,
)


@tangent(builtins.abs)
def t_abs(g, ans, x):
    return abs_tangent(g, x)


@tangent(builtins.abs, scalar=True)
def t_abs_scalar(g, ans, x):
    # a complex scalar takes the helper: Re(conj(x) g) / |x|
    return g * (float(x > 0) - float(x < 0)) if type(x) is float else abs_tangent(g, x)


@tangent(builtins.complex)
def t_complex(g, ans, real=0.0, imag=0.0):
    return complex_tangent(g, False), complex_tangent(g, True)


@tangent(builtins.sum)
def t_builtin_sum(g, ans, x, start=0):
    return summed_elements_tangent(g, x, start), sum_start_tangent(g, start)
