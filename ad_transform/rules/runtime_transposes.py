"""Rules of the runtime helpers that third and fourth derivatives reach: the transposes
of the second-order helpers and the rebindings plain code is written with.

Each helper here is linear in its cotangent (or tangent) argument, so its adjoint is the
transpose and its tangent the same call on the tangents:

- ``joined_pieces`` (the transpose of ``stack_adjoint``/``concatenate_adjoint``: the list
  cotangent's pieces stacked or joined) and ``split_pieces`` (its transpose: the array cut
  back into pieces) are each other's transposes;
- ``in_place_adjoint`` (``J^T g`` of ``target op= value``) and ``in_place_tangent`` (``J t``)
  are each other's transposes; their partials in the primal values are 0 for ``+=`` and
  ``-=`` (``additive_partial``; ``*=`` and ``/=`` are refused there by name);
- ``item_added(items, i, v)`` (``items`` with ``v`` added at ``i``, a new adjoint: how
  ``higher_order.PlainBuilder`` writes ``dxs[i] += v``) is linear in ``items`` and ``v``:
  the cotangent of ``items`` is ``g``, that of ``v`` is ``g[i]`` (``gathered``).

See docs/architecture/higher_order_4.md.
"""

from ..runtime import (
    additive_partial,
    gathered,
    in_place_adjoint,
    in_place_tangent,
    index_adjoint,
    item_added,
    joined_pieces,
    split_pieces,
)
from .registry import adjoint, register_nondifferentiable, tangent

register_nondifferentiable(additive_partial)


@adjoint(in_place_adjoint, kind=None, fresh=True)
def d_in_place_adjoint(g, ans, a, operation, target, value, result, which):
    # linear in its cotangent ``a``: J^T, whose transpose is J (``in_place_tangent``)
    zero = additive_partial(operation)
    return (
        in_place_tangent(g, operation, target, value, result, which),
        None,
        zero,
        zero,
        zero,
        None,
    )


@adjoint(in_place_tangent, kind=None, fresh=True)
def d_in_place_tangent(g, ans, t, operation, target, value, result, which):
    zero = additive_partial(operation)
    return (
        in_place_adjoint(g, operation, target, value, result, which),
        None,
        zero,
        zero,
        zero,
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
    zero = additive_partial(operation)
    return (
        in_place_adjoint(g, operation, target, value, result, which),
        None,
        zero,
        zero,
        zero,
        None,
    )


@tangent(in_place_tangent)
def t_in_place_tangent(g, ans, t, operation, target, value, result, which):
    zero = additive_partial(operation)
    return (
        in_place_tangent(g, operation, target, value, result, which),
        None,
        zero,
        zero,
        zero,
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
