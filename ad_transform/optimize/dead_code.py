"""Dead code in the forward sweep: statements whose results nobody reads, and that have
no effect, go.

The forward sweep is swept through its loops and branches (mark and sweep from what
the backward sweep and the returned values read, and from every statement with an
effect). Dead stores in the backward sweep are ``zeros.drop_dead_stores``'s.
"""

from __future__ import annotations

import gast

from ..nodes import name_ids
from .walk import COMPOUND, all_statements, assigned, header_reads, loaded


def eliminate_dead_code(forward: list[gast.stmt], needed: set[str]) -> list[gast.stmt]:
    """The forward sweep without the statements nothing needs; ``needed`` are the names
    read after it (by the backward sweep, or returned)."""
    return _prune(forward, set(needed))


def _prune(forward: list[gast.stmt], needed: set[str]) -> list[gast.stmt]:
    simple = []
    for stmt in all_statements(forward):
        if isinstance(stmt, COMPOUND):
            needed |= header_reads(stmt)
        else:
            effects = not getattr(stmt, "ad_pure", True) or isinstance(stmt, gast.Break)
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
