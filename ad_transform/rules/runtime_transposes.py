"""Rules of the runtime helpers that third and fourth derivatives reach: the transposes
of the second-order helpers and the rebindings plain code is written with.

Each helper here is linear in its cotangent (or tangent) argument, so its adjoint is the
transpose and its tangent the same call on the tangents:

- ``joined_pieces`` (the transpose of ``stack_adjoint``/``concatenate_adjoint``: the list
  cotangent's pieces stacked or joined) and ``split_pieces`` (its transpose: the array cut
  back into pieces) are each other's transposes;
- ``in_place_adjoint`` (``J^T g`` of ``target op= value``) and ``in_place_tangent`` (``J t``)
  are each other's transposes; their partials in the primal values are the second
  partials of ``op=`` (``runtime.in_place_second``: 0 for ``+=`` and ``-=``, constant for
  ``*=``, ``1/value^2`` terms for ``/=``; docs/architecture/higher_order_third.md);
- ``item_added(items, i, v)`` (``items`` with ``v`` added at ``i``, a new adjoint: how
  ``higher_order.PlainBuilder`` writes ``dxs[i] += v``) is linear in ``items`` and ``v``:
  the cotangent of ``items`` is ``g``, that of ``v`` is ``g[i]`` (``gathered``).

See docs/architecture/higher_order_4.md.
"""

from ..runtime import (
    additive_partial,
    cumsum_adjoint,
    cumulative_sum,
    gathered,
    held_constant,
    in_place_adjoint,
    in_place_second,
    in_place_tangent,
    index_adjoint,
    item_added,
    joined_pieces,
    outer_factor,
    outer_factor_cotangent,
    reshaped_like,
    split_pieces,
)
from .registry import adjoint, register_nondifferentiable, tangent

register_nondifferentiable(additive_partial)


@adjoint(in_place_adjoint, kind=None, fresh=True)
def d_in_place_adjoint(g, ans, a, operation, target, value, result, which):
    # linear in its cotangent ``a``: J^T, whose transpose is J (``in_place_tangent``); in
    # the values, the second partials of ``*=`` and ``/=`` (0 for ``+=``, ``-=``)
    return (
        in_place_tangent(g, operation, target, value, result, which),
        None,
        in_place_second(g, a, operation, target, value, result, which, 0, "of"),
        in_place_second(g, a, operation, target, value, result, which, 1, "of"),
        in_place_second(g, a, operation, target, value, result, which, 2, "of"),
        None,
    )


@adjoint(in_place_tangent, kind=None, fresh=True)
def d_in_place_tangent(g, ans, t, operation, target, value, result, which):
    return (
        in_place_adjoint(g, operation, target, value, result, which),
        None,
        in_place_second(g, t, operation, target, value, result, which, 0, "of"),
        in_place_second(g, t, operation, target, value, result, which, 1, "of"),
        in_place_second(g, t, operation, target, value, result, which, 2, "of"),
        None,
    )


@adjoint(item_added, kind=None, fresh=True)
def d_item_added(g, ans, items, index, value):
    return g, None, gathered(g, value, index)


@adjoint(joined_pieces, kind=None, fresh=True)
def d_joined_pieces(g, ans, pieces, arrays, axis=0, stacked=False):
    return split_pieces(g, arrays, axis, stacked), 0.0, None, None


@adjoint(split_pieces, kind=None, fresh=True)
def d_split_pieces(g, ans, c, arrays, axis=0, stacked=False):
    return joined_pieces(g, arrays, axis, stacked), 0.0, None, None


@tangent(in_place_adjoint)
def t_in_place_adjoint(g, ans, a, operation, target, value, result, which):
    return (
        in_place_adjoint(g, operation, target, value, result, which),
        None,
        in_place_second(g, a, operation, target, value, result, which, 0, "operand"),
        in_place_second(g, a, operation, target, value, result, which, 1, "operand"),
        in_place_second(g, a, operation, target, value, result, which, 2, "operand"),
        None,
    )


@tangent(in_place_tangent)
def t_in_place_tangent(g, ans, t, operation, target, value, result, which):
    return (
        in_place_tangent(g, operation, target, value, result, which),
        None,
        in_place_second(g, t, operation, target, value, result, which, 0, "ans"),
        in_place_second(g, t, operation, target, value, result, which, 1, "ans"),
        in_place_second(g, t, operation, target, value, result, which, 2, "ans"),
        None,
    )


@tangent(item_added)
def t_item_added(g, ans, items, index, value):
    return g, None, index_adjoint(g, ans, index)


@tangent(joined_pieces)
def t_joined_pieces(g, ans, pieces, arrays, axis=0, stacked=False):
    return joined_pieces(g, arrays, axis, stacked), 0.0, None, None


@tangent(split_pieces)
def t_split_pieces(g, ans, c, arrays, axis=0, stacked=False):
    return split_pieces(g, arrays, axis, stacked), 0.0, None, None


# -- third derivatives through shapes, outer products and cumulative sums -------------------
# (docs/architecture/higher_order_third.md): the transposes of the second-order helpers
# ``reshaped_like``, ``outer_factor`` and ``cumulative_sum``, each linear in its adjoint
# argument (``outer_factor`` bilinear in the adjoint and the vector)
register_nondifferentiable(held_constant)


@adjoint(reshaped_like, kind=None, fresh=True)
def d_reshaped_like(g, ans, a, like, order="C"):
    return reshaped_like(g, a, order), 0.0, None


@tangent(reshaped_like)
def t_reshaped_like(g, ans, a, like, order="C"):
    return reshaped_like(g, like, order), 0.0, None


@adjoint(outer_factor, kind=None, fresh=True)
def d_outer_factor(g, ans, a, like, vector, left):
    return (
        outer_factor_cotangent(g, a, vector, left, False),
        0.0,
        outer_factor_cotangent(g, a, vector, left, True),
        None,
    )


@tangent(outer_factor)
def t_outer_factor(g, ans, a, like, vector, left):
    return outer_factor(g, like, vector, left), 0.0, outer_factor(a, like, g, left), None


@adjoint(cumulative_sum, kind=None, fresh=True)
def d_cumulative_sum(g, ans, a, like, axis=None):
    return cumsum_adjoint(g, a, axis), 0.0, None


@tangent(cumulative_sum)
def t_cumulative_sum(g, ans, a, like, axis=None):
    return cumulative_sum(g, like, axis), 0.0, None
