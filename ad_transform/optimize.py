"""Stage 5: make the generated code what a careful person would write.

Passes, in order, each a function on the straight-line statement lists:

* ``first_contribution_assigns``: the first ``dx += e`` of an adjoint becomes ``dx = e``;
* ``propagate``: single-assignment copies and constants are substituted into their
  uses (``dv3 = dv5`` disappears), then arithmetic with 0 and 1 is folded;
* ``guard_accumulation``: ``dx += e`` writes in place into an ndarray, so it is kept only
  when ``dx`` holds an array the adjoint owns; otherwise it becomes ``dx = dx + e``;
* ``eliminate_dead_code``: statements whose results nobody reads are removed.
"""

from __future__ import annotations

import copy

import gast

from . import runtime
from .reverse import AdjointProgram
from .rules.registry import SCALAR

# Runtime helpers known to return a new array that no one else holds.
FRESH_HELPERS = (
    runtime.index_adjoint,
    runtime.norm_adjoint,
    runtime.item_adjoint,
    runtime.zeros_like,
)


def optimize(program: AdjointProgram, keep: set[str]) -> AdjointProgram:
    """Run every pass; ``keep`` are names the emitted function returns or saves."""
    predefined = {program.seed_name} if program.seed_is_parameter else set()
    backward = drop_needless_zeros(program.backward, program, keep | predefined)
    backward = first_contribution_assigns(backward, predefined)
    backward = propagate(backward, protected=keep | predefined)
    backward = guard_accumulation(backward, program, predefined)
    program.backward = backward
    program.forward, program.backward = eliminate_dead_code(
        program.forward, program.backward, keep, program.analysis
    )
    return program


# -- first contribution ------------------------------------------------------------------
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
        and _number(s.value) == 0
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


def _mentions(stmt: gast.stmt, name: str) -> bool:
    return any(isinstance(n, gast.Name) and n.id == name for n in gast.walk(stmt))


def _only_block_using(block: list[gast.stmt], name: str, skip) -> list[gast.stmt] | None:
    """The innermost block, not inside a loop, holding every statement that uses ``name``."""
    users = [s for s in block if s is not skip and _mentions(s, name)]
    if len(users) != 1 or not isinstance(users[0], (gast.If, gast.For, gast.While)):
        return block if users else None
    compound = users[0]
    if isinstance(compound, (gast.For, gast.While)) or _mentions_in_test(compound, name):
        return block
    branches = [b for b in (compound.body, compound.orelse) if any(_mentions(s, name) for s in b)]
    if len(branches) != 1:
        return block
    return _only_block_using(branches[0], name, skip)


def _is_zero_assignment(stmt: gast.stmt, name: str) -> bool:
    return (
        isinstance(stmt, gast.Assign)
        and isinstance(stmt.targets[0], gast.Name)
        and stmt.targets[0].id == name
        and _number(stmt.value) == 0
    )


def _mentions_in_test(stmt: gast.If, name: str) -> bool:
    return any(isinstance(n, gast.Name) and n.id == name for n in gast.walk(stmt.test))


def _first_use_starts(block: list[gast.stmt], name: str) -> bool:
    """Whether the first statement of ``block`` using ``name`` is ``name += e`` (no ``name`` in e);
    it is then rewritten in place into ``name = e``."""
    for index, stmt in enumerate(block):
        if not _mentions(stmt, name) or _is_zero_assignment(stmt, name):
            continue
        if (
            isinstance(stmt, gast.AugAssign)
            and isinstance(stmt.op, gast.Add)
            and stmt.target.id == name
            and not _mentions(gast.Expr(value=stmt.value), name)
        ):
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
        if isinstance(stmt, gast.AugAssign) and stmt.target.id not in defined:
            new = gast.Assign(targets=[stmt.target], value=stmt.value, type_comment=None)
            gast.copy_location(new, stmt)
            new.origin_line = getattr(stmt, "origin_line", None)
            new.ad_pure = getattr(stmt, "ad_pure", True)
            stmt = new
        for name in _assigned(stmt):
            defined.add(name)
        out.append(stmt)
    return out


# -- propagation and folding -------------------------------------------------------------
def propagate(stmts: list[gast.stmt], protected: set[str]) -> list[gast.stmt]:
    """Substitute single-assignment names bound to a name or a number into their uses."""
    assignments: dict[str, int] = {}
    for stmt in _all_statements(stmts):
        for name in _assigned(stmt):
            assignments[name] = assignments.get(name, 0) + (
                2 if isinstance(stmt, gast.AugAssign) else 1
            )
    replace: dict[str, gast.expr] = {}
    out = []
    for stmt in stmts:
        stmt = _Replace(replace).visit(stmt)
        stmt = _Fold().visit(stmt)
        if _is_propagatable(stmt, assignments, protected):
            replace[stmt.targets[0].id] = stmt.value
            continue
        out.append(stmt)
    return out


def _is_propagatable(stmt, assignments, protected) -> bool:
    if not (isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Name)):
        return False
    target = stmt.targets[0].id
    if target in protected or assignments.get(target) != 1:
        return False
    value = stmt.value
    if _number(value) is not None:
        return True
    return isinstance(value, gast.Name) and assignments.get(value.id, 0) <= 1


class _Replace(gast.NodeTransformer):
    def __init__(self, replace: dict[str, gast.expr]) -> None:
        self.replace = replace

    def visit_Name(self, node: gast.Name) -> gast.expr:
        if isinstance(node.ctx, gast.Load) and node.id in self.replace:
            return gast.copy_location(copy.deepcopy(self.replace[node.id]), node)
        return node


def _number(node: gast.expr) -> float | None:
    if (
        isinstance(node, gast.Constant)
        and isinstance(node.value, (int, float))
        and not isinstance(node.value, bool)
    ):
        return node.value
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub):
        inner = _number(node.operand)
        return -inner if inner is not None else None
    return None


def _constant(value: float) -> gast.expr:
    if value < 0:
        return gast.UnaryOp(op=gast.USub(), operand=gast.Constant(value=-value, kind=None))
    return gast.Constant(value=value, kind=None)


class _Fold(gast.NodeTransformer):
    """Fold constant arithmetic and the identities ``e * 1``, ``e ** 1``, ``e + 0``, ``--e``."""

    def visit_UnaryOp(self, node: gast.UnaryOp) -> gast.expr:
        self.generic_visit(node)
        if isinstance(node.op, gast.USub):
            value = _number(node.operand)
            if value is not None:
                return _constant(-value)
            if isinstance(node.operand, gast.UnaryOp) and isinstance(node.operand.op, gast.USub):
                return node.operand.operand
        return node

    def visit_BinOp(self, node: gast.BinOp) -> gast.expr:
        self.generic_visit(node)
        left, right = _number(node.left), _number(node.right)
        op = type(node.op)
        if left is not None and right is not None and op in _ARITHMETIC:
            try:
                return _constant(_ARITHMETIC[op](left, right))
            except (ArithmeticError, ValueError):
                return node
        if op is gast.Mult:
            if right == 1:
                return node.left
            if left == 1:
                return node.right
            if right == -1:
                return _negate(node.left)
            if left == -1:
                return _negate(node.right)
        if op is gast.Div and right == 1:
            return node.left
        if op is gast.Pow and right == 1:
            return node.left
        if op is gast.Add and right == 0:
            return node.left
        if op is gast.Sub and right == 0:
            return node.left
        if (
            op in (gast.Mult, gast.Div)
            and isinstance(node.left, gast.UnaryOp)
            and isinstance(node.left.op, gast.USub)
            and _number(node.left) is None
        ):
            node.left = node.left.operand  # (-a) * b -> -(a * b)
            return _negate(node)
        return node


def _negate(node: gast.expr) -> gast.expr:
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub):
        return node.operand
    return gast.UnaryOp(op=gast.USub(), operand=node)


_ARITHMETIC = {
    gast.Add: lambda a, b: a + b,
    gast.Sub: lambda a, b: a - b,
    gast.Mult: lambda a, b: a * b,
    gast.Div: lambda a, b: a / b,
    gast.Pow: lambda a, b: a**b,
}


# -- aliasing-safe accumulation ----------------------------------------------------------
def guard_accumulation(
    stmts: list[gast.stmt], program: AdjointProgram, predefined: set[str]
) -> list[gast.stmt]:
    """Keep ``dx += e`` only where ``dx`` is a scalar or an array this code owns."""
    owned = {name: False for name in predefined}
    out = []
    for stmt in stmts:
        if isinstance(stmt, gast.AugAssign):
            name = stmt.target.id
            if not owned.get(name) and program.adjoint_kinds.get(name) != SCALAR:
                load = gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None)
                new = gast.Assign(
                    targets=[stmt.target],
                    value=gast.BinOp(left=load, op=gast.Add(), right=stmt.value),
                    type_comment=None,
                )
                gast.copy_location(new, stmt)
                new.origin_line = getattr(stmt, "origin_line", None)
                new.ad_pure = getattr(stmt, "ad_pure", True)
                stmt = new
            owned[name] = True
        elif isinstance(stmt, gast.Assign):
            for target in _assigned(stmt):
                owned[target] = _is_fresh(stmt.value, program)
        out.append(stmt)
    program.owned = owned
    return out


def _is_fresh(expr: gast.expr, program: AdjointProgram) -> bool:
    """Whether ``expr`` certainly evaluates to a new object (or an immutable scalar)."""
    if isinstance(expr, gast.BinOp) or _number(expr) is not None:
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


# -- dead code ---------------------------------------------------------------------------
def eliminate_dead_code(forward, backward, keep: set[str], analysis):
    """Remove pure statements whose targets are never read; keep everything with effects."""
    live = set(keep)
    kept_backward = _sweep(backward, live)
    kept_forward = _sweep(forward, live)
    return kept_forward, kept_backward


def _sweep(stmts, live: set[str]) -> list[gast.stmt]:
    kept = []
    for stmt in reversed(stmts):
        if isinstance(stmt, (gast.If, gast.For, gast.While)):
            live |= _loaded(stmt)
            kept.append(stmt)
            continue
        targets = _assigned(stmt)
        pure = getattr(stmt, "ad_pure", True)
        if pure and (isinstance(stmt, gast.Expr) or not set(targets) & live):
            continue
        if not isinstance(stmt, gast.AugAssign):
            live -= set(targets)
        live |= _loaded(stmt)
        kept.append(stmt)
    kept.reverse()
    return kept


def _all_statements(stmts: list[gast.stmt]):
    """Every statement, including those nested in branches and loops."""
    for stmt in stmts:
        yield stmt
        for field_name in ("body", "orelse"):
            yield from _all_statements(getattr(stmt, field_name, None) or [])


def _assigned(stmt: gast.stmt) -> list[str]:
    targets = (
        stmt.targets
        if isinstance(stmt, gast.Assign)
        else [stmt.target]
        if isinstance(stmt, gast.AugAssign)
        else []
    )
    names = []
    for target in targets:
        for node in gast.walk(target):
            if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Store):
                names.append(node.id)
    return names


def _loaded(stmt: gast.stmt) -> set[str]:
    names = {
        n.id for n in gast.walk(stmt) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)
    }
    if isinstance(stmt, gast.AugAssign):
        names.add(stmt.target.id)
    return names
