"""Adjoints of Python's operators (``+ - * / ** % @``, unary ``-``/``+``, comparisons).

On arrays the products with a primal value go through ``times``/``over``: a zero
adjoint contributes 0 even where the other factor is infinite or NaN (the branch
``np.where`` did not select, see ``numpy_elementwise``). Between Python and NumPy
scalars the rules are plain arithmetic with the same semantics, guarded where they
need it: ``g * y if g else 0.0`` (a zero adjoint stays exactly zero) and
``g / y if g and y else scalar_over(g, y)`` (IEEE ``inf``/NaN instead of
``ZeroDivisionError``); ``d/dx x**0`` is 0, also at ``x == 0``.
"""

import operator

from ..runtime import (
    alias_after,
    alias_after_adjoint,
    matmul_adjoint_left,
    matmul_adjoint_right,
    over,
    power_derivative,
    quotient,
    safe_log,
    scalar_over,
    scalar_power_adjoint,
    scalar_times_ratio,
    times,
    unbroadcast,
)
from .registry import adjoint, register_nondifferentiable


@adjoint(alias_after)
def d_alias_after(g, ans, target, changed, alias):
    # another name of ``target`` after ``target op= value`` (see ``aliases.apply_kinds``)
    return (
        0.0,  # only its type is read
        alias_after_adjoint(g, target, changed, True),
        alias_after_adjoint(g, target, alias, False),
    )


@adjoint(operator.add, fresh=True)
def d_add(g, ans, x, y):
    return unbroadcast(g, x), unbroadcast(g, y)


@adjoint(operator.sub, fresh=True)
def d_sub(g, ans, x, y):
    return unbroadcast(g, x), unbroadcast(-g, y)


@adjoint(operator.mul, fresh=True)
def d_mul(g, ans, x, y):
    return unbroadcast(times(g, y), x), unbroadcast(times(g, x), y)


@adjoint(operator.mul, scalar=True)
def d_mul_scalar(g, ans, x, y):
    return (g * y if g else 0.0), (g * x if g else 0.0)


@adjoint(operator.truediv, fresh=True)
def d_truediv(g, ans, x, y):
    return unbroadcast(over(g, y), x), unbroadcast(times(-g, quotient(ans, y)), y)


@adjoint(operator.truediv, scalar=True)
def d_truediv_scalar(g, ans, x, y):
    return (
        (g / y if g and y else scalar_over(g, y)),
        (-g * (ans / y) if g and y else scalar_times_ratio(-g, ans, y)),
    )


@adjoint(operator.pow, fresh=True)
def d_pow(g, ans, x, y):
    # d/dy x**y = x**y * log(x); at x == 0 the limit 0 is used.
    return (
        unbroadcast(times(g, power_derivative(x, y)), x),
        unbroadcast(times(g, ans * safe_log(x)), y),
    )


@adjoint(operator.pow, scalar=True)
def d_pow_scalar(g, ans, x, y):
    # x ** (y - 1) is plain arithmetic where it cannot divide by zero (x != 0)
    return (
        (g * y * x ** (y - 1) if g and x else scalar_power_adjoint(g, x, y)),
        (g * ans * safe_log(x) if g else 0.0),
    )


@adjoint(operator.mod, fresh=True)
def d_mod(g, ans, x, y):
    return unbroadcast(g, x), unbroadcast(times(-g, quotient(x - ans, y)), y)


@adjoint(operator.mod, scalar=True)
def d_mod_scalar(g, ans, x, y):
    return g, (-g * ((x - ans) / y) if g and y else scalar_times_ratio(-g, x - ans, y))


@adjoint(operator.matmul, kind=None, fresh=True)
def d_matmul(g, ans, x, y):
    return matmul_adjoint_left(g, x, y), matmul_adjoint_right(g, x, y)


@adjoint(operator.neg, fresh=True)
def d_neg(g, ans, x):
    return -g


@adjoint(operator.pos, fresh=True)
def d_pos(g, ans, x):
    return g


register_nondifferentiable(
    operator.lt,
    operator.le,
    operator.gt,
    operator.ge,
    operator.eq,
    operator.ne,
    operator.is_,
    operator.is_not,
    operator.contains,
    operator.not_,
    operator.invert,
    operator.and_,
    operator.or_,
    operator.xor,
    operator.lshift,
    operator.rshift,
    operator.floordiv,
)
