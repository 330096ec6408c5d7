"""Accumulation: ``dx += e`` as a careful person writes it.

* the first contribution to an adjoint is an assignment (``dx = e``), also inside a
  branch when nothing else needs ``dx`` to start at zero;
* ``dx += e`` adds in place into an ndarray, so it is kept only where ``dx`` holds an
  array this code created (or a scalar); elsewhere it becomes ``dx = dx + e``.
"""

from __future__ import annotations

import gast

from .. import runtime
from ..reverse import AdjointProgram
from ..rules.registry import SCALAR
from .propagation import number
from .walk import accumulates, assigned, mentions

# Runtime helpers known to return a new array that no one else holds.
FRESH_HELPERS = (
    runtime.index_adjoint,
    runtime.norm_adjoint,
    runtime.item_adjoint,
    runtime.zeros_like,
    runtime.matmul_adjoint_left,
    runtime.matmul_adjoint_right,
)


def drop_needless_zeros(
    stmts: list[gast.stmt], program: AdjointProgram, keep: set[str]
) -> list[gast.stmt]:
    """``dy = 0.0`` is not needed where every use of ``dy`` lies in one block outside any
    loop and the first of them is a ``dy += e``: that becomes ``dy = e``."""
    zeros = {
        s.targets[0].id: s
        for s in stmts
        if isinstance(s, gast.Assign)
        and isinstance(s.targets[0], gast.Name)
        and s.targets[0].id in getattr(program, "zero_initialized", ())
        and number(s.value) == 0
        and s.targets[0].id not in keep
    }
    dropped = set()
    for name, init in zeros.items():
        block = _only_block_using(stmts, name, init)
        if block is not None and _first_use_starts(block, name):
            dropped.add(id(init))
    program.zero_initialized = set(getattr(program, "zero_initialized", ())) - {
        s.targets[0].id for s in stmts if id(s) in dropped
    }
    return [s for s in stmts if id(s) not in dropped]


def _only_block_using(block: list[gast.stmt], name: str, skip) -> list[gast.stmt] | None:
    """The innermost block, not inside a loop, holding every statement that uses ``name``."""
    users = [s for s in block if s is not skip and mentions(s, name)]
    if len(users) != 1 or not isinstance(users[0], (gast.If, gast.For, gast.While)):
        return block if users else None
    compound = users[0]
    if isinstance(compound, (gast.For, gast.While)) or _mentions_in_test(compound, name):
        return block
    branches = [b for b in (compound.body, compound.orelse) if any(mentions(s, name) for s in b)]
    if len(branches) != 1:
        return block
    return _only_block_using(branches[0], name, skip)


def _is_zero_assignment(stmt: gast.stmt, name: str) -> bool:
    return (
        isinstance(stmt, gast.Assign)
        and isinstance(stmt.targets[0], gast.Name)
        and stmt.targets[0].id == name
        and number(stmt.value) == 0
    )


def _mentions_in_test(stmt: gast.If, name: str) -> bool:
    return any(isinstance(n, gast.Name) and n.id == name for n in gast.walk(stmt.test))


def _first_use_starts(block: list[gast.stmt], name: str) -> bool:
    """Whether the first statement of ``block`` using ``name`` is ``name += e`` (no ``name`` in e);
    it is then rewritten in place into ``name = e``."""
    for index, stmt in enumerate(block):
        if not mentions(stmt, name) or _is_zero_assignment(stmt, name):
            continue
        if accumulates(stmt) and stmt.target.id == name and not mentions(stmt.value, name):
            new = gast.Assign(targets=[stmt.target], value=stmt.value, type_comment=None)
            gast.copy_location(new, stmt)
            new.origin_line = getattr(stmt, "origin_line", None)
            new.ad_pure = getattr(stmt, "ad_pure", True)
            block[index] = new
            return True
        return False
    return False


def first_contribution_assigns(stmts: list[gast.stmt], predefined: set[str]) -> list[gast.stmt]:
    defined = set(predefined)
    out = []
    for stmt in stmts:
        if accumulates(stmt) and stmt.target.id not in defined:
            new = gast.Assign(targets=[stmt.target], value=stmt.value, type_comment=None)
            gast.copy_location(new, stmt)
            new.origin_line = getattr(stmt, "origin_line", None)
            new.ad_pure = getattr(stmt, "ad_pure", True)
            stmt = new
        for name in assigned(stmt):
            defined.add(name)
        out.append(stmt)
    return out


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
    return stmts


def _guard_block(block: list[gast.stmt], owned: dict, program: AdjointProgram) -> None:
    for index, stmt in enumerate(block):
        if isinstance(stmt, gast.AugAssign) and isinstance(stmt.target, gast.Name):
            name = stmt.target.id
            if not owned.get(name) and program.adjoint_kinds.get(name) != SCALAR:
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
    new = gast.Assign(
        targets=[stmt.target],
        value=gast.BinOp(left=load, op=gast.Add(), right=stmt.value),
        type_comment=None,
    )
    gast.copy_location(new, stmt)
    new.origin_line = getattr(stmt, "origin_line", None)
    new.ad_pure = getattr(stmt, "ad_pure", True)
    return new


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
