"""Adjoints of Python's operators (``+ - * / ** % @``, unary ``-``/``+``, comparisons).

On arrays the products with a primal value go through ``times``/``over``: a zero
adjoint contributes 0 even where the other factor is infinite or NaN (the branch
``np.where`` did not select, see ``numpy_elementwise``). Between Python and NumPy
scalars the rules are plain arithmetic with the same semantics, guarded where they
need it: ``g * y if g else 0.0`` (a zero adjoint stays exactly zero) and
``g / y if g and y else scalar_over(g, y)`` (IEEE ``inf``/NaN instead of
``ZeroDivisionError``); ``d/dx x**0`` is 0, also at ``x == 0``.

``+`` and ``*`` also join and repeat lists and tuples (``s + [v]``, ``[v] * 3``, and
``+=``/``*=`` on a list): never arithmetic there. The form of each statement comes from
its operands' kinds (``sum_form``, ``product_form``); where a kind is not known, the
adjoint asks the operands when it runs (``add_adjoint_left`` ...).
"""

import operator

from ..runtime import (
    add_adjoint_left,
    add_adjoint_right,
    alias_after,
    alias_after_adjoint,
    has_attribute,
    head_adjoint,
    matmul_adjoint_left,
    matmul_adjoint_right,
    mul_adjoint_left,
    mul_adjoint_right,
    narrowed,
    over,
    power_derivative,
    quotient,
    repetition_adjoint,
    safe_log,
    scalar_over,
    scalar_power_adjoint,
    scalar_times_ratio,
    set_operand_adjoint,
    set_operand_tangent,
    super_of,
    tail_adjoint,
    times,
    unbroadcast,
    zero_tangent,
)
from .registry import (
    ARRAY,
    DYNAMIC,
    DYNAMIC_IN_PLACE,
    JOIN,
    NUMBERS,
    REPEAT_LEFT,
    REPEAT_RIGHT,
    SCALAR,
    SEQUENCE,
    adjoint,
    register_adjoint,
    register_nondifferentiable,
    register_sequence_forms,
    tangent,
)


@adjoint(alias_after)
def d_alias_after(g, ans, target, changed, alias):
    # another name of ``target`` after ``target op= value`` (see ``aliases.apply_kinds``)
    return (
        0.0,  # only its type is read
        alias_after_adjoint(g, target, changed, True),
        alias_after_adjoint(g, target, alias, False),
    )


@adjoint(narrowed, kind=None)
def d_narrowed(g, ans, subject, cls, name):
    # the subject of a lowered ``match`` class pattern, its class now known
    return g, 0.0, 0.0


register_nondifferentiable(has_attribute)


@adjoint(super_of, kind=None)
def d_super_of(g, ans, cls, obj):
    # super(cls, obj) is obj seen from after cls in its MRO: its methods are resolved to
    # calls on obj (objects.py); any other use of the proxy is refused or adds nothing
    return 0.0, g


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
    # x ** (y - 1.0) is plain arithmetic where it cannot divide by zero (x != 0); ``1.0``:
    # an integer exponent is made a float first (an unsigned 0 would wrap to 255)
    return (
        (g * y * x ** (y - 1.0) if g and x else scalar_power_adjoint(g, x, y)),
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


# -- ``+`` and ``*`` on lists and tuples -------------------------------------------------
def sum_form(kinds: list, constants: list) -> str:
    """``x + y``: arithmetic if an operand is a number or an array (NumPy adds a list to an
    array elementwise; a list plus a number is an error), a join of two sequences, or
    decided when it runs."""
    if any(k in (SCALAR, ARRAY) for k in kinds):
        return NUMBERS
    if all(k == SEQUENCE for k in kinds):
        return JOIN
    return DYNAMIC


def product_form(kinds: list, constants: list) -> str:
    """``x * y``: arithmetic between numbers and arrays or with a float literal, a
    sequence repeated by a number (an integer), or decided when it runs (an array's value
    may be a NumPy integer, which repeats a list)."""
    if any(isinstance(c, float) for c in constants) or all(k in (SCALAR, ARRAY) for k in kinds):
        return NUMBERS
    if kinds == [SEQUENCE, SCALAR]:
        return REPEAT_LEFT
    if kinds == [SCALAR, SEQUENCE]:
        return REPEAT_RIGHT
    return DYNAMIC


def d_join(g, ans, x, y):
    return head_adjoint(g, len(x)), tail_adjoint(g, len(x))


def d_add_dynamic(g, ans, x, y):
    return add_adjoint_left(g, x, y), add_adjoint_right(g, x, y)


def d_iadd_dynamic(g, ans, x, y):
    # ``xs += ys`` on a list extends it by any iterable (a tuple, a generator)
    return add_adjoint_left(g, x, y, in_place=True), add_adjoint_right(g, x, y, in_place=True)


def d_repeat_left(g, ans, x, y):
    return repetition_adjoint(g, x), 0.0  # y counts the copies: an integer


def d_repeat_right(g, ans, x, y):
    return 0.0, repetition_adjoint(g, y)


def d_mul_dynamic(g, ans, x, y):
    return mul_adjoint_left(g, x, y), mul_adjoint_right(g, x, y)


register_sequence_forms(
    operator.add,
    sum_form,
    {JOIN: d_join, DYNAMIC: d_add_dynamic, DYNAMIC_IN_PLACE: d_iadd_dynamic},
)
register_sequence_forms(
    operator.mul,
    product_form,
    {
        REPEAT_LEFT: d_repeat_left,
        REPEAT_RIGHT: d_repeat_right,
        DYNAMIC: d_mul_dynamic,
        DYNAMIC_IN_PLACE: d_mul_dynamic,
    },
)


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
    operator.lshift,
    operator.rshift,
    operator.floordiv,
)


# ``|``, ``&``, ``^``: no derivative on integers and boolean arrays; on sets of
# differentiated values each member's adjoint goes back to the operand it came from
def d_set_operator(g, ans, x, y):
    return set_operand_adjoint(g, ans, x, y, True), set_operand_adjoint(g, ans, y, x, False)


for _operator in (operator.and_, operator.or_, operator.xor):
    register_adjoint(_operator, d_set_operator, kind=None, fresh=True)


# -- tangents (forward mode): ``g`` is the tangent of each parameter in turn --------------
@tangent(operator.add)
def t_add(g, ans, x, y):
    return g, g


@tangent(operator.sub)
def t_sub(g, ans, x, y):
    return g, -g


@tangent(operator.mul)
def t_mul(g, ans, x, y):
    return times(g, y), times(g, x)


@tangent(operator.mul, scalar=True)
def t_mul_scalar(g, ans, x, y):
    return g * y, x * g


@tangent(operator.truediv)
def t_truediv(g, ans, x, y):
    return over(g, y), times(-g, quotient(ans, y))


@tangent(operator.truediv, scalar=True)
def t_truediv_scalar(g, ans, x, y):
    return g / y, -g * ans / y


@tangent(operator.pow)
def t_pow(g, ans, x, y):
    return times(g, power_derivative(x, y)), times(g, ans * safe_log(x))


@tangent(operator.pow, scalar=True)
def t_pow_scalar(g, ans, x, y):
    return (
        (g * y * x ** (y - 1.0) if g and x else scalar_power_adjoint(g, x, y)),
        (g * ans * safe_log(x) if g else 0.0),
    )


@tangent(operator.mod)
def t_mod(g, ans, x, y):
    return g, times(-g, quotient(x - ans, y))


@tangent(operator.mod, scalar=True)
def t_mod_scalar(g, ans, x, y):
    return g, (-g * ((x - ans) / y) if g and y else scalar_times_ratio(-g, x - ans, y))


@tangent(operator.matmul)
def t_matmul(g, ans, x, y):
    return g @ y, x @ g


@tangent(operator.neg)
def t_neg(g, ans, x):
    return -g


@tangent(operator.pos)
def t_pos(g, ans, x):
    return g


@tangent(alias_after)
def t_alias_after(g, ans, target, changed, alias):
    # the same choice between the tangents: the changed value's if the change was in place
    return (
        zero_tangent(ans),
        alias_after(target, g, zero_tangent(alias)),
        alias_after(target, zero_tangent(changed), g),
    )


# ``|``, ``&``, ``^`` on sets: each member's tangent from the operand holding it
def t_set_operator(g, ans, x, y):
    return set_operand_tangent(g, ans, x, y, True), set_operand_tangent(g, ans, y, x, False)


for _operator in (operator.and_, operator.or_, operator.xor):
    tangent(_operator)(t_set_operator)
