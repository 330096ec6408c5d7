"""Copy and constant propagation, and folding of arithmetic with 0 and 1."""

from __future__ import annotations

import math

import gast

from ..nodes import clone, subnodes
from .walk import COMPOUND, all_statements, assigned, forget, names_in, target_name


def propagate(stmts: list[gast.stmt], protected: set[str]) -> list[gast.stmt]:
    """Substitute single-assignment names bound to a name or a number into their uses."""
    assignments: dict[str, int] = {}
    for stmt in all_statements(stmts):
        for name in assigned(stmt):
            assignments[name] = assignments.get(name, 0) + (
                2 if isinstance(stmt, gast.AugAssign) else 1
            )
    replace: dict[str, gast.expr] = {}
    out = []
    for stmt in stmts:
        if not replace.keys().isdisjoint(names_in(stmt)):
            stmt = _Replace(replace).visit(stmt)
            forget(stmt)  # it reads other names now
        for inner in all_statements([stmt]):
            # folding only drops names: cached name sets stay supersets, which is safe
            if not isinstance(inner, COMPOUND) and _foldable(inner):
                _Fold().visit(inner)
        if _is_propagatable(stmt, assignments, protected):
            replace[stmt.targets[0].id] = stmt.value
            continue
        out.append(stmt)
    return out


def _is_propagatable(stmt, assignments, protected) -> bool:
    target = target_name(stmt)
    if target is None or target in protected or assignments.get(target) != 1:
        return False
    value = stmt.value
    if number(value) is not None:
        return True
    return isinstance(value, gast.Name) and assignments.get(value.id, 0) <= 1


def _foldable(stmt: gast.stmt) -> bool:
    """Whether ``stmt`` has something for ``_Fold``: arithmetic with a number, a negation,
    a guard (``e if g else 0.0``, ``g and d``)."""
    for node in subnodes(stmt):
        if isinstance(node, (gast.UnaryOp, gast.IfExp, gast.BoolOp)):
            return True
        if isinstance(node, gast.BinOp) and (
            number(node.left) is not None or number(node.right) is not None
        ):
            return True
    return False


class _Replace(gast.NodeTransformer):
    def __init__(self, replace: dict[str, gast.expr]) -> None:
        self.replace = replace

    def visit_Name(self, node: gast.Name) -> gast.expr:
        if isinstance(node.ctx, gast.Load) and node.id in self.replace:
            return gast.copy_location(clone(self.replace[node.id]), node)
        return node


def number(node: gast.expr) -> float | None:
    if (
        isinstance(node, gast.Constant)
        and isinstance(node.value, (int, float))
        and not isinstance(node.value, bool)
    ):
        return node.value
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub):
        inner = number(node.operand)
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
            value = number(node.operand)
            if value is not None:
                return _constant(-value)
            if isinstance(node.operand, gast.UnaryOp) and isinstance(node.operand.op, gast.USub):
                return node.operand.operand
        return node

    def visit_BinOp(self, node: gast.BinOp) -> gast.expr:
        self.generic_visit(node)
        left, right = number(node.left), number(node.right)
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
            and number(node.left) is None
        ):
            node.left = node.left.operand  # (-a) * b -> -(a * b)
            return _negate(node)
        return node

    def visit_BoolOp(self, node: gast.BoolOp) -> gast.expr:
        """``1.0 and x`` is ``x``: a guard ``g and d`` whose adjoint ``g`` is a nonzero number."""
        self.generic_visit(node)
        if isinstance(node.op, gast.And):
            values = [v for v in node.values if not number(v)]  # drop nonzero numbers
            if len(values) < len(node.values) and all(number(v) is None for v in values):
                if not values:
                    return node.values[-1]
                return values[0] if len(values) == 1 else gast.BoolOp(op=node.op, values=values)
        return node

    def visit_IfExp(self, node: gast.IfExp) -> gast.expr:
        """A guard with a known outcome is its branch: ``e if 1.0 else 0.0`` is ``e``;
        ``g * 0.5 if g else 0.0`` is ``g * 0.5`` and ``g / 4.0 if g else scalar_over(g,
        4.0)`` is ``g / 4.0`` (finite nonzero constants keep a zero adjoint 0)."""
        self.generic_visit(node)
        test = number(node.test)
        if test is not None:
            return node.body if test else node.orelse
        if isinstance(node.test, gast.Name) and _scales_by_constants(node.body, node.test.id):
            return node.body  # where the test fails, the body is 0 as well
        return node


def _scales_by_constants(node: gast.expr, name: str) -> bool:
    """Whether ``node`` is ``name`` times or divided by finite nonzero numbers (and negated):
    zero exactly where ``name`` is zero, so a guard ``node if name else 0.0`` is needless."""
    if isinstance(node, gast.Name):
        return node.id == name
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub):
        return _scales_by_constants(node.operand, name)
    if isinstance(node, gast.BinOp) and isinstance(node.op, (gast.Mult, gast.Div)):
        right = number(node.right)
        if right is not None and math.isfinite(right) and right != 0:
            return _scales_by_constants(node.left, name)
        left = number(node.left)
        if isinstance(node.op, gast.Mult) and left is not None and math.isfinite(left):
            return _scales_by_constants(node.right, name)
    return False


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
