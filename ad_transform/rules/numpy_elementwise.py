"""Adjoints of NumPy's elementwise functions, with broadcasting undone by ``unbroadcast``.

Conventions: ``abs`` has derivative 0 at 0; ``maximum``/``minimum`` split the
adjoint equally between tied elements; ``sqrt`` at 0 gives an infinite derivative,
as the calculus does.
"""

import numpy as np

from ..runtime import safe_log, unbroadcast
from .registry import adjoint, register_nondifferentiable


@adjoint(np.exp)
def d_exp(g, ans, x):
    return g * ans


@adjoint(np.log)
def d_log(g, ans, x):
    return g / x


@adjoint(np.log2)
def d_log2(g, ans, x):
    return g / (x * np.log(2.0))


@adjoint(np.log10)
def d_log10(g, ans, x):
    return g / (x * np.log(10.0))


@adjoint(np.log1p)
def d_log1p(g, ans, x):
    return g / (1.0 + x)


@adjoint(np.expm1)
def d_expm1(g, ans, x):
    return g * (ans + 1.0)


@adjoint(np.sqrt)
def d_sqrt(g, ans, x):
    return g / (2.0 * ans)


@adjoint(np.sin)
def d_sin(g, ans, x):
    return g * np.cos(x)


@adjoint(np.cos)
def d_cos(g, ans, x):
    return -g * np.sin(x)


@adjoint(np.tan)
def d_tan(g, ans, x):
    return g * (1.0 + ans * ans)


@adjoint(np.tanh)
def d_tanh(g, ans, x):
    return g * (1.0 - ans * ans)


@adjoint(np.arctan)
def d_arctan(g, ans, x):
    return g / (1.0 + x * x)


@adjoint(np.abs)
def d_abs(g, ans, x):
    return g * np.sign(x)


@adjoint(np.negative)
def d_negative(g, ans, x):
    return -g


@adjoint(np.maximum)
def d_maximum(g, ans, x, y):
    return (
        unbroadcast(g * ((x > y) + 0.5 * (x == y)), x),
        unbroadcast(g * ((y > x) + 0.5 * (x == y)), y),
    )


@adjoint(np.minimum)
def d_minimum(g, ans, x, y):
    return (
        unbroadcast(g * ((x < y) + 0.5 * (x == y)), x),
        unbroadcast(g * ((y < x) + 0.5 * (x == y)), y),
    )


@adjoint(np.power)
def d_power(g, ans, x, y):
    return unbroadcast(g * y * x ** (y - 1), x), unbroadcast(g * ans * safe_log(x), y)


@adjoint(np.add)
def d_add(g, ans, x, y):
    return unbroadcast(g, x), unbroadcast(g, y)


@adjoint(np.subtract)
def d_subtract(g, ans, x, y):
    return unbroadcast(g, x), unbroadcast(-g, y)


@adjoint(np.multiply)
def d_multiply(g, ans, x, y):
    return unbroadcast(g * y, x), unbroadcast(g * x, y)


@adjoint(np.divide)
def d_divide(g, ans, x, y):
    return unbroadcast(g / y, x), unbroadcast(-g * ans / y, y)


register_nondifferentiable(
    np.sign,
    np.floor,
    np.ceil,
    np.round,
    np.rint,
    np.trunc,
    np.isnan,
    np.isinf,
    np.isfinite,
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
)
