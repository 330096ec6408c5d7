"""The adjoint of a mean or sum, spread over its operand, stays one number spread.

``expand_reduced(g, x, None, False)`` is a read-only view with every stride 0; for such
an adjoint ``runtime.times`` needs no finiteness check of the other factor (no element
of ``g`` is 0 where its one value is not). Negating it (``dv3 = -dv4``, the adjoint of
``a - b`` for ``b``) made a full array again; ``negated_spreads`` writes the negation as
the spread of the negated number instead: ``dv3 = expand_reduced(-(g), x, None, False)``
(issue 15, logistic). Where every read of a spread of a nonzero number multiplies it
by a factor of the spread's shape, the spread is that number (``spread_scalings``).
"""

from __future__ import annotations

import math

import gast
import numpy as np

from .. import runtime
from ..nodes import clone
from ..shapes import REAL, ArrayFact, IntFact
from .walk import COMPOUND, assignment_counts, forget, target_name


def negated_spreads(program) -> None:
    """``a = -b`` with ``b = expand_reduced(g, x, ...)`` bound once, earlier in the same
    block, and ``g``'s names never assigned in the backward sweep: ``a`` is the spread of
    ``-g``."""
    helper = program.bindings.existing("expand_reduced", runtime.expand_reduced)
    if helper is None:
        return
    counts = assignment_counts(program.backward)
    _visit(program.backward, helper, counts)


def _visit(block: list[gast.stmt], helper: str, counts: dict) -> None:
    spreads: dict[str, gast.Call] = {}
    for stmt in block:
        if isinstance(stmt, COMPOUND):
            _visit(stmt.body, helper, counts)
            _visit(stmt.orelse, helper, counts)
            continue
        name = target_name(stmt)
        if name is None:
            continue
        if _is_spread(stmt.value, helper, counts) and counts.get(name) == 1:
            spreads[name] = stmt.value
            continue
        value = stmt.value
        if (
            isinstance(value, gast.UnaryOp)
            and isinstance(value.op, gast.USub)
            and isinstance(value.operand, gast.Name)
            and value.operand.id in spreads
        ):
            spread = clone(spreads[value.operand.id])
            spread.args[0] = gast.UnaryOp(op=gast.USub(), operand=spread.args[0])
            stmt.value = spread
            forget(stmt)


def _is_spread(value: gast.expr, helper: str, counts: dict) -> bool:
    """``expand_reduced(g, x, None, False)`` (whole reductions: every stride 0), ``g`` and
    ``x`` reading no name the backward sweep assigns."""
    if not (
        isinstance(value, gast.Call)
        and isinstance(value.func, gast.Name)
        and value.func.id == helper
        and len(value.args) == 4
        and not value.keywords
        and isinstance(value.args[2], gast.Constant)
        and value.args[2].value is None
        and isinstance(value.args[3], gast.Constant)
        and value.args[3].value is False
    ):
        return False
    names = {n.id for a in value.args[:2] for n in gast.walk(a) if isinstance(n, gast.Name)}
    return not any(counts.get(n) for n in names)


def spread_products(program) -> None:
    """``times(dv, x)`` with ``dv = expand_reduced(c, x, None, False)`` (the adjoint of a
    whole sum of a real float array ``x``, shape facts), ``c`` a finite nonzero number
    constant and ``dv`` read only there: ``x * c`` (a ``* k`` around it folded in), the
    product a person writes (``np.sum(x * x)``: ``dx = x * 2.0``), without the spread
    array, its broadcast product and the guard, which a nonzero ``c`` never needs."""
    spread = program.bindings.existing("expand_reduced", runtime.expand_reduced)
    times = program.bindings.existing("times", runtime.times)
    if spread is None or times is None or program.analysis.complex_values:
        return
    counts = assignment_counts(program.backward)
    loads = _load_counts(program.backward)
    facts = program.analysis.shapes
    for block in _blocks(program.backward):
        for position, stmt in enumerate(block):
            name = target_name(stmt)
            if name is None or counts.get(name) != 1 or loads.get(name) != 1:
                continue
            if not _is_spread(stmt.value, spread, counts):
                continue
            c, x = stmt.value.args[0], stmt.value.args[1]
            if not (_finite_nonzero(c) and isinstance(x, gast.Name)):
                continue
            fact = facts.of(x)
            if not (isinstance(fact, ArrayFact) and fact.dtype == "f" and fact.ndim >= 1):
                continue
            for later in block[position + 1 :]:
                if _replace_product(later, name, x.id, c.value, times):
                    del block[position]
                    break
            break  # one rewrite per block and pass: positions changed


def spread_scalings(program) -> None:
    """``dv = expand_reduced(c, x, None, False)`` (the adjoint of a whole mean or sum,
    spread over its operand's shape source ``x``) read only as ``times(dv, d)`` in later
    statements of its block, where ``c`` is a number that is finite and nonzero whenever
    it is computed (``_nonzero_number``) and the facts show each ``d`` has the shape of
    ``d`` broadcast with ``x`` (``_keeps_own_shape``): ``dv = float64(c)`` and each read
    ``d * dv``.

    Exact: ``times`` of a spread of a nonzero number masks nothing (``_nowhere_zero``),
    so it computes ``c * d[i]`` for every element, which is what ``d * c`` computes, into
    the same shape. ``c`` becomes a NumPy float64, like the spread's elements: a float32
    ``d`` gives a float64 product, as before (a Python float would keep float32, and a
    float64 adjoint added into it would lose its precision). Without the spread array
    and the call: ``np.mean(np.logaddexp(0, z) - y * z)`` (logistic) gives
    ``dz = y * dv3``, not ``times(expand_reduced(...), y)`` (issue 15, perf26a)."""
    spread = program.bindings.existing("expand_reduced", runtime.expand_reduced)
    times = program.bindings.existing("times", runtime.times)
    if spread is None or times is None or program.analysis.complex_values:
        return
    counts = assignment_counts(program.backward)
    loads = _load_counts(program.backward)
    facts = program.analysis.shapes
    names = _helper_names(program)
    for block in _blocks(program.backward):
        for position, stmt in enumerate(block):
            name = target_name(stmt)
            if name is None or counts.get(name) != 1 or not loads.get(name):
                continue
            if not _is_spread(stmt.value, spread, counts):
                continue
            c, x = stmt.value.args[0], stmt.value.args[1]
            x_fact = facts.of(x) if isinstance(x, gast.Name) else None
            if not (
                _nonzero_number(c, names)
                and isinstance(x_fact, ArrayFact)
                and x_fact.dtype == "f"
                and x_fact.ndim >= 1
            ):
                continue
            uses = _scaled_uses(block[position + 1 :], name, times)
            if len(uses) != loads[name]:
                continue  # read elsewhere (a nested block, another helper)
            if all(
                _keeps_own_shape(_expression_fact(d, facts, names, counts), x_fact)
                for *_, d in uses
            ):
                for user, parent, field_name, d in uses:
                    setattr(parent, field_name, _product(d, name))
                    forget(user)
                stmt.value = gast.Call(func=_float64(program), args=[c], keywords=[])
                forget(stmt)


def _float64(program) -> gast.Name:
    name = program.bindings.reference("float64", np.float64)
    return gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None)


def _scaled_uses(block: list[gast.stmt], name: str, times: str) -> list[tuple]:
    """The ``times(name, d)`` calls in the assignments of ``block``, as (statement, parent
    node, field, ``d``); compound statements are not looked into."""
    uses = []
    for stmt in block:
        if not isinstance(stmt, (gast.Assign, gast.AugAssign)):
            continue
        for node in gast.walk(stmt):
            for field_name, child in gast.iter_fields(node):
                if (
                    isinstance(child, gast.Call)
                    and isinstance(child.func, gast.Name)
                    and child.func.id == times
                    and len(child.args) == 2
                    and not child.keywords
                    and isinstance(child.args[0], gast.Name)
                    and child.args[0].id == name
                ):
                    uses.append((stmt, node, field_name, child.args[1]))
    return uses


def _product(d: gast.expr, name: str) -> gast.BinOp:
    scale = gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None)
    return gast.BinOp(left=d, op=gast.Mult(), right=scale)


def _helper_names(program) -> dict[str, str]:
    """The names generated code calls the helpers this pass reads by -> their role."""
    roles = {}
    for role, helper in (
        ("count", runtime.reduced_count),
        ("elementwise", runtime.logaddexp_share),
        ("elementwise", runtime.quotient),
    ):
        bound = program.bindings.existing(helper.__name__, helper)
        if bound is not None:
            roles[bound] = role
    return roles


def _nonzero_number(node: gast.expr, names: dict[str, str]) -> bool:
    """Whether ``node`` computes a number that is finite and nonzero whenever it does not
    raise: a finite nonzero constant, ``k / reduced_count(...)`` with such a ``k`` (a
    count is a positive integer, or 0 and the division raises), or the negation of
    one of these."""
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, (gast.USub, gast.UAdd)):
        return _nonzero_number(node.operand, names)
    if isinstance(node, gast.BinOp) and isinstance(node.op, gast.Div):
        count = node.right
        return (
            _finite_nonzero(node.left)
            and isinstance(count, gast.Call)
            and isinstance(count.func, gast.Name)
            and names.get(count.func.id) == "count"
        )
    return _finite_nonzero(node)


def _expression_fact(node: gast.expr, facts, names: dict, counts: dict):
    """The shape fact of an elementwise expression of names and numbers (arithmetic, the
    elementwise helpers ``logaddexp_share`` and ``quotient``) whose array operands are all
    one name: that name's fact (numbers broadcast into any shape). None otherwise, and
    where a name is assigned by the backward sweep (``counts``), where the forward
    sweep's facts may not hold (values restored from the tape by a loop's target are the
    forward's)."""
    arrays: set[str] = set()
    found = None

    def visit(e) -> bool:
        nonlocal found
        if isinstance(e, gast.Constant):
            return type(e.value) in (int, float)
        if isinstance(e, gast.Name):
            if counts.get(e.id):
                return False
            fact = facts.of(e)
            if isinstance(fact, ArrayFact):
                arrays.add(e.id)
                found = fact
                return True
            return fact == REAL or isinstance(fact, IntFact)
        if isinstance(e, gast.UnaryOp) and isinstance(e.op, (gast.USub, gast.UAdd)):
            return visit(e.operand)
        if isinstance(e, gast.BinOp) and isinstance(
            e.op, (gast.Add, gast.Sub, gast.Mult, gast.Div)
        ):
            return visit(e.left) and visit(e.right)
        if (
            isinstance(e, gast.Call)
            and isinstance(e.func, gast.Name)
            and names.get(e.func.id) == "elementwise"
            and not e.keywords
        ):
            return all(visit(a) for a in e.args)
        return False

    if not visit(node) or len(arrays) != 1:
        return None
    return found


def _keeps_own_shape(d_fact, x_fact: ArrayFact) -> bool:
    """Whether an array of fact ``d_fact`` broadcast with one of fact ``x_fact`` has the
    first one's shape for every value the facts allow: at least ``x``'s rank, and on each
    of ``x``'s axes ``x`` has length 1, or ``d`` a length other than 1 (equal to ``x``'s
    where the two broadcast: a rule multiplies an adjoint only by a factor that broadcasts
    into its shape), or both the same length symbol."""
    if not (isinstance(d_fact, ArrayFact) and d_fact.ndim >= x_fact.ndim):
        return False
    offset = d_fact.ndim - x_fact.ndim
    return all(
        x_unit is True
        or (d_fact.units[offset + k] is False)
        or (x_fact.length(k) is not None and x_fact.length(k) == d_fact.length(offset + k))
        for k, x_unit in enumerate(x_fact.units)
    )


def _replace_product(stmt: gast.stmt, name: str, x: str, c: float, times: str) -> bool:
    """Rewrite ``times(name, x)`` in ``stmt``'s value (``times(...) * k`` as one product)."""
    if isinstance(stmt, COMPOUND) or not isinstance(stmt, (gast.Assign, gast.AugAssign)):
        return False
    for node in gast.walk(stmt):
        for field_name, child in gast.iter_fields(node):
            if not _is_times_of(child, name, x, times):
                continue
            factor = c
            if (
                isinstance(node, gast.BinOp)
                and isinstance(node.op, gast.Mult)
                and field_name == "left"
                and _finite_nonzero(node.right)
            ):
                factor, child = c * node.right.value, node
                node = _parent_of(stmt, node)
                field_name = _field_of(node, child)
            product = gast.BinOp(
                left=gast.Name(id=x, ctx=gast.Load(), annotation=None, type_comment=None),
                op=gast.Mult(),
                right=gast.Constant(value=float(factor), kind=None),
            )
            setattr(node, field_name, product)
            forget(stmt)
            return True
    return False


def _is_times_of(node, name: str, x: str, times: str) -> bool:
    return (
        isinstance(node, gast.Call)
        and isinstance(node.func, gast.Name)
        and node.func.id == times
        and len(node.args) == 2
        and not node.keywords
        and all(isinstance(a, gast.Name) for a in node.args)
        and node.args[0].id == name
        and node.args[1].id == x
    )


def _finite_nonzero(node) -> bool:
    return (
        isinstance(node, gast.Constant)
        and type(node.value) in (int, float)
        and node.value != 0
        and math.isfinite(node.value)
    )


def _parent_of(root: gast.AST, child: gast.AST) -> gast.AST:
    for node in gast.walk(root):
        if any(value is child for _, value in gast.iter_fields(node)):
            return node
    raise AssertionError("child not in tree")


def _field_of(parent: gast.AST, child: gast.AST) -> str:
    return next(f for f, value in gast.iter_fields(parent) if value is child)


def _blocks(stmts: list[gast.stmt]):
    yield stmts
    for stmt in stmts:
        if isinstance(stmt, COMPOUND):
            yield from _blocks(stmt.body)
            yield from _blocks(stmt.orelse)


def _load_counts(stmts: list[gast.stmt]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for stmt in stmts:
        for node in gast.walk(stmt):
            if isinstance(node, gast.Name) and not isinstance(node.ctx, gast.Store):
                counts[node.id] = counts.get(node.id, 0) + 1
    return counts


def negated_scales(program) -> None:
    """``v = -a`` then ``w = v * c`` (``c`` a float constant, ``v`` read nowhere else, ``a``
    an adjoint not bound again between): ``w = a * -c``, one array operation instead of
    two (the adjoint of ``x - 2.0 * y`` for ``y``).

    Exact: IEEE multiplication rounds symmetrically, so ``(-a) * c`` and ``a * (-c)`` are
    the same number, signed zeros and NaNs included. Only adjoints (float values: the
    negation of an unsigned integer would wrap) and float constants (``a * -2`` of an
    unsigned array would raise)."""
    counts = assignment_counts(program.backward)
    loads: dict[str, int] = {}
    for node in gast.walk(gast.Module(body=list(program.backward), type_ignores=[])):
        if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load):
            loads[node.id] = loads.get(node.id, 0) + 1
    adjoints = set(program.adjoint_kinds)
    _fold_scales(program.backward, counts, loads, adjoints)


def _fold_scales(block: list[gast.stmt], counts: dict, loads: dict, adjoints: set) -> None:
    negations: dict[str, tuple[int, str]] = {}  # v -> (position, a)
    dropped = []
    for position, stmt in enumerate(block):
        if isinstance(stmt, COMPOUND):
            _fold_scales(stmt.body, counts, loads, adjoints)
            _fold_scales(stmt.orelse, counts, loads, adjoints)
            negations.clear()
            continue
        name = target_name(stmt)
        value = stmt.value if name is not None else None
        scaled = _scaled_name(value) if value is not None else None
        mentioned = _names(stmt)
        for negated in list(negations):  # ``a`` named (bound, changed in place) before the use
            if negations[negated][1] in mentioned and not (scaled and scaled[0] == negated):
                del negations[negated]
        if scaled is not None and scaled[0] in negations:
            start, source = negations.pop(scaled[0])
            operand = gast.Name(id=source, ctx=gast.Load(), annotation=None, type_comment=None)
            factor = gast.UnaryOp(op=gast.USub(), operand=gast.Constant(value=scaled[1], kind=None))
            if math.copysign(1.0, scaled[1]) < 0:
                factor = gast.Constant(value=-scaled[1], kind=None)
            stmt.value = gast.BinOp(left=operand, op=gast.Mult(), right=factor)
            forget(stmt)
            dropped.append(start)
        elif (
            name is not None
            and counts.get(name) == 1
            and loads.get(name) == 1
            and isinstance(value, gast.UnaryOp)
            and isinstance(value.op, gast.USub)
            and isinstance(value.operand, gast.Name)
            and value.operand.id in adjoints
            and value.operand.id != name
        ):
            negations[name] = (position, value.operand.id)
    for position in reversed(dropped):
        del block[position]


def _scaled_name(value: gast.expr) -> tuple[str, float] | None:
    """``v * c`` or ``c * v`` (``c`` a float constant): ``(v, c)``."""
    if not (isinstance(value, gast.BinOp) and isinstance(value.op, gast.Mult)):
        return None
    for name, constant in ((value.left, value.right), (value.right, value.left)):
        if (
            isinstance(name, gast.Name)
            and isinstance(constant, gast.Constant)
            and type(constant.value) is float
        ):
            return name.id, constant.value
    return None


def _names(stmt: gast.stmt) -> set[str]:
    return {node.id for node in gast.walk(stmt) if isinstance(node, gast.Name)}
