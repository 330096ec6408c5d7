"""Small queries over statement lists shared by the optimization passes."""

from __future__ import annotations

import gast


def all_statements(stmts: list[gast.stmt]):
    """Every statement, including those nested in branches and loops."""
    for stmt in stmts:
        yield stmt
        for field_name in ("body", "orelse"):
            yield from all_statements(getattr(stmt, field_name, None) or [])


def assigned(stmt: gast.stmt) -> list[str]:
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


def loaded(stmt: gast.stmt) -> set[str]:
    names = {
        n.id for n in gast.walk(stmt) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)
    }
    if isinstance(stmt, gast.AugAssign):
        names.add(stmt.target.id)
    return names


def mentions(stmt: gast.stmt, name: str) -> bool:
    return any(isinstance(n, gast.Name) and n.id == name for n in gast.walk(stmt))
