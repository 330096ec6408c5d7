"""Adjoints of Python's operators (``+ - * / ** @``, unary ``-``/``+``, comparisons)."""

import operator

from ..runtime import matmul_adjoint_left, matmul_adjoint_right, safe_log, unbroadcast
from .registry import adjoint, register_nondifferentiable


@adjoint(operator.add)
def d_add(g, ans, x, y):
    return unbroadcast(g, x), unbroadcast(g, y)


@adjoint(operator.sub)
def d_sub(g, ans, x, y):
    return unbroadcast(g, x), unbroadcast(-g, y)


@adjoint(operator.mul)
def d_mul(g, ans, x, y):
    return unbroadcast(g * y, x), unbroadcast(g * x, y)


@adjoint(operator.truediv)
def d_truediv(g, ans, x, y):
    return unbroadcast(g / y, x), unbroadcast(-g * ans / y, y)


@adjoint(operator.pow)
def d_pow(g, ans, x, y):
    # d/dy x**y = x**y * log(x); at x == 0 the limit 0 is used.
    return unbroadcast(g * y * x ** (y - 1), x), unbroadcast(g * ans * safe_log(x), y)


@adjoint(operator.mod)
def d_mod(g, ans, x, y):
    return unbroadcast(g, x), unbroadcast(-g * ((x - ans) / y), y)


@adjoint(operator.matmul, kind=None)
def d_matmul(g, ans, x, y):
    return matmul_adjoint_left(g, x, y), matmul_adjoint_right(g, x, y)


@adjoint(operator.neg)
def d_neg(g, ans, x):
    return -g


@adjoint(operator.pos)
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
