"""The adjoint of a mean or sum, spread over its operand, stays one number spread.

``expand_reduced(g, x, None, False)`` is a read-only view with every stride 0; for such
an adjoint ``runtime.times`` needs no finiteness check of the other factor (no element
of ``g`` is 0 where its one value is not). Negating it (``dv3 = -dv4``, the adjoint of
``a - b`` for ``b``) made a full array again; ``negated_spreads`` writes the negation as
the spread of the negated number instead: ``dv3 = expand_reduced(-(g), x, None, False)``
(issue 15, logistic).
"""

from __future__ import annotations

import gast

from .. import runtime
from ..nodes import clone
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
