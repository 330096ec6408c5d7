"""Accumulation without aliasing: ``dx += e`` adds in place into an ndarray, so it is kept
only where ``dx`` holds an array this code created (or a scalar); elsewhere it becomes
``dx = dx + e``.
"""

from __future__ import annotations

import gast

from .. import runtime
from ..reverse import AdjointProgram
from ..rules.registry import SCALAR
from .propagation import number
from .walk import assigned, assignment_like

# Runtime helpers known to return a new array that no one else holds.
FRESH_HELPERS = (
    runtime.index_adjoint,
    runtime.norm_adjoint,
    runtime.item_adjoint,
    runtime.zeros_like,
    runtime.matmul_adjoint_left,
    runtime.matmul_adjoint_right,
)


def guard_accumulation(
    stmts: list[gast.stmt], program: AdjointProgram, predefined: set[str]
) -> list[gast.stmt]:
    """Keep ``dx += e`` only where ``dx`` is a scalar or an array this code owns.

    Ownership flows through branches (owned after an ``if`` only if owned on both
    paths) and loops (iterated until the state at the top of the body is stable).
    """
    owned = {name: False for name in predefined}
    stmts = list(stmts)
    _guard_block(stmts, owned, program)
    program.owned = owned
    if not program.analysis.complex_values:
        _accumulate_reads_in_place(stmts, program)
    return stmts


def _accumulate_reads_in_place(block: list[gast.stmt], program: AdjointProgram) -> None:
    """``dx += index_adjoint(g, x, index)`` kept in place (``dx`` owned) as ``dx =
    accumulate_index(dx, g, x, index)``: ``g`` added into ``dx[index]`` alone, not into a
    zero array the size of ``x`` first (runtime/shape_indexing.py)."""
    for position, stmt in enumerate(block):
        for field in ("body", "orelse"):
            _accumulate_reads_in_place(getattr(stmt, field, None) or [], program)
        if not (
            isinstance(stmt, gast.AugAssign)
            and isinstance(stmt.op, gast.Add)
            and isinstance(stmt.target, gast.Name)
            and program.adjoint_kinds.get(stmt.target.id) != SCALAR
            and _calls(stmt.value, runtime.index_adjoint, program)
            and len(stmt.value.args) == 3
            and not stmt.value.keywords
        ):
            continue
        helper = program.bindings.reference("accumulate_index", runtime.accumulate_index)
        target = gast.Name(id=stmt.target.id, ctx=gast.Load(), annotation=None, type_comment=None)
        call = gast.Call(
            func=gast.Name(id=helper, ctx=gast.Load(), annotation=None, type_comment=None),
            args=[target, *stmt.value.args],
            keywords=[],
        )
        block[position] = assignment_like(stmt, call)


def _calls(expr: gast.expr, helper, program: AdjointProgram) -> bool:
    """Whether ``expr`` is a call of the runtime ``helper``."""
    if not (isinstance(expr, gast.Call) and isinstance(expr.func, gast.Name)):
        return False
    cell = program.bindings.cells.get(expr.func.id)
    try:
        return cell is not None and cell.cell_contents is helper
    except ValueError:
        return False


def _guard_block(block: list[gast.stmt], owned: dict, program: AdjointProgram) -> None:
    for index, stmt in enumerate(block):
        if isinstance(stmt, gast.AugAssign) and isinstance(stmt.target, gast.Name):
            name = stmt.target.id
            in_place = owned.get(name) and not program.analysis.complex_values
            if not in_place and program.adjoint_kinds.get(name) != SCALAR:
                block[index] = _out_of_place(stmt)
            owned[name] = True
        elif isinstance(stmt, gast.Assign):
            for target in assigned(stmt):
                owned[target] = _is_fresh(stmt.value, program)
        elif isinstance(stmt, gast.If):
            paths = []
            for branch in (stmt.body, stmt.orelse):
                state = dict(owned)
                _guard_block(branch, state, program)
                paths.append(state)
            _meet(owned, *paths)
        elif isinstance(stmt, (gast.For, gast.While)):
            entry = dict(owned)
            while True:
                state = dict(entry)
                _guard_block(stmt.body, state, program)
                merged = dict(entry)
                _meet(merged, entry, state)
                if merged == entry:
                    break
                entry = merged
            _meet(owned, entry)


def _meet(owned: dict, *states: dict) -> None:
    """Owned afterwards only if owned in every state."""
    names = set(owned).union(*states)
    for name in names:
        owned[name] = all(state.get(name, False) for state in states)


def _out_of_place(stmt: gast.AugAssign) -> gast.Assign:
    """``dx += e`` as ``dx = dx + e``: never writes into an array someone else holds."""
    load = gast.Name(id=stmt.target.id, ctx=gast.Load(), annotation=None, type_comment=None)
    return assignment_like(stmt, gast.BinOp(left=load, op=gast.Add(), right=stmt.value))


def _is_fresh(expr: gast.expr, program: AdjointProgram) -> bool:
    """Whether ``expr`` certainly evaluates to a new object (or an immutable scalar)."""
    if isinstance(expr, gast.BinOp) or number(expr) is not None:
        return True
    if isinstance(expr, gast.UnaryOp) and isinstance(expr.op, gast.USub):
        return True
    if isinstance(expr, gast.Call) and isinstance(expr.func, gast.Name):
        cell = program.bindings.cells.get(expr.func.id)
        try:
            if cell is not None and cell.cell_contents is runtime.as_gradient:
                return len(expr.args) == 3  # as_gradient(dx, x, True) copies
            return cell is not None and cell.cell_contents in FRESH_HELPERS
        except ValueError:
            return False
    return False
