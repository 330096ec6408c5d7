"""The shift of a stable softmax carries no derivative (issue 15, attention).

In ``p = e / np.sum(e, axis=A, keepdims=True)`` with ``e = np.exp(x - m)`` and ``m =
np.max(x, axis=A, keepdims=True)``, the result does not depend on ``m`` at all:
``exp(x - m) = exp(x) * exp(-m)``, and where ``m`` is constant along the summed axes the
factor ``exp(-m)`` cancels between ``e`` and its sum. The derivative of ``p`` in ``m`` is
exactly zero, so ``m`` is a constant for the adjoint (and the tangent): no extremum
adjoint with its equality masks and tie counts, whose total is zero up to rounding.
Ties in the maximum do not matter either: the share of a zero is zero.

The names qualify only where nothing else can see them: ``m``, ``x - m``, ``e`` and the
sum are each bound once and read only as described (``m`` once, in ``x - m``; ``x - m``
once, in ``np.exp``; ``e`` twice, in the sum and as the numerator; the sum once, as the
denominator), all in one block. ``m`` is a reduction of ``x`` itself with
``keepdims=True`` over the axes of the sum or more (so it has ``x``'s rank and length 1
along every summed axis), or over all axes (one number: any sum then cancels it).
"""

from __future__ import annotations

import operator
from dataclasses import dataclass

import gast
import numpy as np

from .ops import RULE, Op

# reductions whose result with keepdims=True has length 1 along the reduced axes
_SHIFTS = {
    id(np.max): "a",
    id(np.amax): "a",
    id(np.min): "a",
    id(np.amin): "a",
    id(np.nanmax): "a",
    id(np.nanmin): "a",
}
_SHIFT_METHODS = {("method", "max"), ("method", "min")}
_SUMS = {id(np.sum): "a"}
_SUM_METHODS = {("method", "sum")}


@dataclass(frozen=True)
class Normalisation:
    """``p = e / s`` with ``s = np.sum(e, axis, keepdims=True)`` (``division``, ``total``),
    where ``e`` and ``s`` are bound once and read only there, in one block; ``exp``: the
    statement ``e = np.exp(y)`` if that binds ``e`` (in the same block); ``shift``: the
    name ``m`` of ``y = x - m`` if it cancels (see the module docstring)."""

    division: Op
    total: Op
    exp: Op | None
    shift: str | None


def shift_constants(ops: list[Op], tree: gast.FunctionDef, shapes) -> frozenset[str]:
    """The names ``m`` of ``p = e / sum(e)`` with ``e = np.exp(x - m)`` whose derivative
    is exactly zero (the module's docstring): constants for activity."""
    return frozenset(n.shift for n in normalisations(ops, tree, shapes) if n.shift)


def normalisations(ops: list[Op], tree: gast.FunctionDef, shapes) -> list[Normalisation]:
    """Every ``p = e / np.sum(e, axis, keepdims=True)`` of ``ops`` whose ``e`` and sum
    nothing else reads."""
    binders = {op.target: op for op in ops if op.form == RULE and op.target is not None}
    stores, loads = _name_counts(tree)
    blocks = _blocks_of(tree)
    integers = _integer_names(tree, stores)
    found = []
    for op in ops:
        if not (op.form == RULE and op.rule.primitive is operator.truediv):
            continue
        e, s = _name(op.inputs.get("x")), _name(op.inputs.get("y"))
        if e is None or s is None or e == s:
            continue
        sum_op = binders.get(s)
        summed = _reduction(sum_op, _SUMS, _SUM_METHODS, integers)
        if summed is None or summed[0] != e or not (summed[2] or summed[1] is None):
            continue  # keepdims=True, or a whole sum: s broadcasts against e
        if sum_op.inputs.get("dtype") is not None and not _is_none(sum_op.inputs["dtype"]):
            continue
        uses = {e: 2, s: 1}
        if any(stores.get(n) != 1 or loads.get(n) != c for n, c in uses.items()):
            continue
        block = blocks.get(id(op.stmt))
        if block is None or blocks.get(id(sum_op.stmt)) is not block:
            continue
        exp_op = binders.get(e)
        if not (
            exp_op is not None
            and exp_op.rule.primitive is np.exp
            and blocks.get(id(exp_op.stmt)) is block
            and _name(exp_op.inputs.get("x")) is not None
        ):
            exp_op = None
        shift = (
            _shift(exp_op, summed, binders, (stores, loads, integers), blocks, shapes)
            if exp_op
            else None
        )
        found.append(Normalisation(op, sum_op, exp_op, shift))
    return found


def _shift(exp_op, summed, binders, counts, blocks, shapes) -> str | None:
    """``m`` if ``exp_op`` is ``e = np.exp(y)``, ``y = x - m``, ``m`` a reduction of ``x``
    that cancels from the sum ``summed``; ``y`` and ``m`` read only there, one block."""
    stores, loads, integers = counts
    y = _name(exp_op.inputs.get("x"))
    sub_op = binders.get(y)
    if sub_op is None or sub_op.rule.primitive is not operator.sub:
        return None
    x, m = _name(sub_op.inputs.get("x")), _name(sub_op.inputs.get("y"))
    shifted = _reduction(binders.get(m), _SHIFTS, _SHIFT_METHODS, integers)
    if x is None or m is None or x == m or shifted is None or shifted[0] != x:
        return None
    if not _cancels(shifted[1:], summed[1:], shapes.of(gast.Name(x, gast.Load(), None, None))):
        return None
    if any(stores.get(n) != 1 or loads.get(n) != 1 for n in (m, y)):
        return None
    block = blocks.get(id(exp_op.stmt))
    if any(blocks.get(id(o.stmt)) is not block for o in (binders[m], sub_op)):
        return None
    return m


def _reduction(op: Op | None, functions: dict, methods: set, integers: dict) -> tuple | None:
    """``(operand, axes, keepdims)`` of a reduction ``op`` among ``functions``/``methods``
    whose ``axis`` and ``keepdims`` are constants (axes: a tuple of ints, or None)."""
    if op is None or op.form != RULE:
        return None
    primitive = op.rule.primitive
    if isinstance(primitive, tuple):
        if primitive not in methods:
            return None
        param = "self"
    else:
        param = functions.get(id(primitive))
        if param is None:
            return None
    if set(op.inputs) - {param, "axis", "keepdims", "dtype"}:
        return None  # where=, initial=, out=: another reduction
    operand = _name(op.inputs.get(param))
    axes = _constant_axes(op.inputs.get("axis"), integers)
    keepdims = op.inputs.get("keepdims")
    if operand is None or axes is False:
        return None
    keep = keepdims is not None and isinstance(keepdims, gast.Constant) and keepdims.value
    return operand, axes, keep is True


def _constant_axes(node, integers: dict) -> tuple[int, ...] | bool | None:
    """The axes a constant ``axis`` names (None: all), or False if it is not a constant
    (``integers``: names bound once to an integer literal, as ``-1`` is normalized)."""
    if node is None or _is_none(node):
        return None
    if isinstance(node, gast.Name):
        return integers.get(node.id, False)
    items = node.elts if isinstance(node, gast.Tuple) else [node]
    axes = [_integer_literal(item) for item in items]
    return tuple(axes) if items and None not in axes else False


def _cancels(shift: tuple, total: tuple, fact) -> bool:
    """Whether a shift reduced over ``shift`` = (axes, keepdims) is constant along every
    axis of a sum over ``total`` that keeps its dimensions, so ``exp(-m)`` cancels."""
    shift_axes, shift_keep = shift
    sum_axes, sum_keep = total
    if shift_axes is None:
        return True  # one number: it cancels from any sum
    if not (shift_keep and sum_keep) or sum_axes is None:
        return False
    ndim = getattr(fact, "ndim", None)
    if ndim is not None:
        if any(not -ndim <= a < ndim for a in (*shift_axes, *sum_axes)):
            return False
        return {a % ndim for a in sum_axes} <= {a % ndim for a in shift_axes}
    # rank unknown: the same literals name the same axes (x, x - m and e share a rank)
    return set(sum_axes) <= set(shift_axes)


def _integer_names(tree: gast.FunctionDef, stores: dict) -> dict[str, tuple[int, ...]]:
    """The names bound once to an integer literal, a negated one (``v1 = -1``) or a tuple
    of those, as the axes they name."""
    found = {}
    for node in gast.walk(tree):
        if not (isinstance(node, gast.Assign) and len(node.targets) == 1):
            continue
        target, value = node.targets[0], node.value
        if not isinstance(target, gast.Name) or stores.get(target.id) != 1:
            continue
        items = value.elts if isinstance(value, gast.Tuple) else [value]
        axes = [_integer_literal(item) for item in items]
        if items and None not in axes:
            found[target.id] = tuple(axes)
    return found


def _integer_literal(node) -> int | None:
    sign = 1
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub):
        sign, node = -1, node.operand
    if isinstance(node, gast.Constant) and type(node.value) is int:
        return sign * node.value
    return None


def _name(node) -> str | None:
    return node.id if isinstance(node, gast.Name) else None


def _is_none(node) -> bool:
    return isinstance(node, gast.Constant) and node.value is None


def _name_counts(tree: gast.FunctionDef) -> tuple[dict[str, int], dict[str, int]]:
    """How often each name is bound (parameters too) and read anywhere in ``tree``,
    nested code included; a copy into a name nothing reads is no read."""
    stores: dict[str, int] = {}
    loads: dict[str, int] = {}
    for node in gast.walk(tree):
        if isinstance(node, gast.Name):
            binds = isinstance(node.ctx, (gast.Store, gast.Param))
            counts = stores if binds else loads
            counts[node.id] = counts.get(node.id, 0) + 1
    for node in gast.walk(tree):  # n = e with n never read (a loop's live-out copy)
        if (
            isinstance(node, gast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], gast.Name)
            and isinstance(node.value, gast.Name)
            and not loads.get(node.targets[0].id)
        ):
            loads[node.value.id] -= 1
    return stores, loads


def _blocks_of(tree: gast.FunctionDef) -> dict[int, list]:
    """The statement list holding each statement (by ``id``), nested blocks included."""
    blocks: dict[int, list] = {}
    pending = [tree.body]
    while pending:
        block = pending.pop()
        for stmt in block:
            blocks[id(stmt)] = block
            for field_name in ("body", "orelse", "finalbody"):
                inner = getattr(stmt, field_name, None)
                if isinstance(inner, list):
                    pending.append(inner)
            for handler in getattr(stmt, "handlers", None) or []:
                pending.append(handler.body)
    return blocks
