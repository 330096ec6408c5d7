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
    power_derivative,
    safe_log,
    scalar_over,
    scalar_power_adjoint,
    sequence_sum_adjoint,
    sum_start_adjoint,
    times,
    unbroadcast,
)
from .registry import SCALAR, UNKNOWN, adjoint, register_nondifferentiable


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
        (g * y * x ** (y - 1) if g and x else scalar_power_adjoint(g, x, y)),
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


@adjoint(builtins.abs, fresh=True)
def d_abs(g, ans, x):
    return times(g, np.sign(x))


@adjoint(builtins.abs, scalar=True)
def d_abs_scalar(g, ans, x):
    return g * (float(x > 0) - float(x < 0))


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
        (g * y * x ** (y - 1) if g and x else scalar_power_adjoint(g, x, y)),
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
)
register_nondifferentiable(builtins.print, pure=False)
