"""Dead code in the forward sweep: statements whose results nobody reads, and that have
no effect, go.

Raising an exception is an effect: a statement that can raise on the values it gets (a
``math`` function outside its domain, a division or power of Python numbers by 0) is
kept, so that the gradient raises where the function does (``1.0 / x`` at ``x = 0.0``
raises ``ZeroDivisionError`` in both). NumPy on arrays and NumPy scalars warns instead
of raising; such a statement whose value nothing needs still goes, with its warning
(``value_and_grad`` computes the value, and warns as the function does).

The forward sweep is swept through its loops and branches (mark and sweep from what
the backward sweep and the returned values read, and from every statement with an
effect). Dead stores in the backward sweep are ``zeros.drop_dead_stores``'s.
"""

from __future__ import annotations

import builtins
import math
import operator

import gast

from ..analyze import Analysis
from ..nodes import name_ids
from ..rules.registry import ARRAY
from .walk import COMPOUND, all_statements, assigned, header_reads, loaded

# Primitives that raise on some Python numbers (ZeroDivisionError, OverflowError, complex
# results aside); on NumPy arrays they warn instead.
_RAISING_ON_NUMBERS = (
    operator.truediv,
    operator.floordiv,
    operator.mod,
    operator.pow,
    builtins.pow,
    builtins.divmod,
)


def eliminate_dead_code(
    forward: list[gast.stmt], needed: set[str], raising: frozenset[str] = frozenset()
) -> list[gast.stmt]:
    """The forward sweep without the statements nothing needs; ``needed`` are the names
    read after it (by the backward sweep, or returned); statements assigning a name in
    ``raising`` (see :func:`may_raise`) are kept as if they had an effect."""
    return _prune(forward, set(needed), raising)


def may_raise(analysis: Analysis) -> frozenset[str]:
    """The names assigned by operations that can raise a Python exception on the values
    they get: ``math`` functions, and divisions and powers whose result is not an array."""
    names = set()
    for op in analysis.ops:
        primitive = op.rule.primitive if op.rule is not None else op.callee
        if op.target is None or primitive is None:
            continue
        if getattr(primitive, "__module__", None) == "math" or (
            _is_one_of(primitive, _RAISING_ON_NUMBERS)
            and analysis.kinds.get(op.target) != ARRAY
            and not _by_nonzero_constant(op, primitive)
        ):
            names.add(op.target)
    return frozenset(names)


def _by_nonzero_constant(op, primitive) -> bool:
    """``x / 4.0``, ``x % 2``: a division by a nonzero number cannot raise."""
    if primitive not in (operator.truediv, operator.floordiv, operator.mod):
        return False
    divisor = op.inputs.get("y")
    return (
        isinstance(divisor, gast.Constant)
        and isinstance(divisor.value, (int, float))
        and math.isfinite(divisor.value)
        and divisor.value != 0
    )


def _is_one_of(callee: object, primitives: tuple) -> bool:
    return any(callee is p for p in primitives) or callee is math.pow


def _prune(forward: list[gast.stmt], needed: set[str], raising: frozenset[str]) -> list[gast.stmt]:
    simple = []
    for stmt in all_statements(forward):
        if isinstance(stmt, COMPOUND):
            needed |= header_reads(stmt)
        else:
            effects = (
                not getattr(stmt, "ad_pure", True)
                or getattr(stmt, "ad_may_raise", False)  # in a try body: raising is a path
                or isinstance(stmt, gast.Break)
                or not raising.isdisjoint(assigned(stmt))
            )
            simple.append((id(stmt), effects, frozenset(assigned(stmt)), loaded(stmt)))
    live: set[int] = set()
    changed = True
    while changed:
        changed = False
        for key, effects, targets, reads in simple:
            if key not in live and (effects or not targets.isdisjoint(needed)):
                live.add(key)
                needed |= reads
                changed = True
    return _rebuild(forward, live, needed)


def _rebuild(block: list[gast.stmt], live: set[int], needed: set[str]) -> list[gast.stmt]:
    out = []
    for stmt in block:
        if isinstance(stmt, gast.If):
            stmt.body = _rebuild(stmt.body, live, needed)
            stmt.orelse = _rebuild(stmt.orelse, live, needed)
            if stmt.body or stmt.orelse:
                stmt.body = stmt.body or [gast.Pass()]
                out.append(stmt)
        elif isinstance(stmt, (gast.For, gast.While)):
            stmt.body = _rebuild(stmt.body, live, needed)
            # a loop that runs only to bind its target, which is read later (``return i``)
            binds_needed = isinstance(stmt, gast.For) and bool(name_ids(stmt.target) & needed)
            if stmt.body or binds_needed or not _is_range_loop(stmt):
                stmt.body = stmt.body or [gast.Pass()]
                out.append(stmt)
        elif id(stmt) in live:
            out.append(stmt)
    return out


def _is_range_loop(stmt) -> bool:
    """A ``for`` over ``range(...)``: running it with an empty body does nothing."""
    return (
        isinstance(stmt, gast.For)
        and isinstance(stmt.iter, gast.Call)
        and isinstance(stmt.iter.func, gast.Name)
        and stmt.iter.func.id == "range"
        and getattr(stmt, "ad_range_is_builtin", False)
    )
