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
    if isinstance(stmt, gast.AugAssign) and isinstance(stmt.target, gast.Name):
        names.add(stmt.target.id)
    return names


def forget(node: gast.AST) -> None:
    """Drop the cached name sets in ``node`` after renaming names in it."""
    for inner in gast.walk(node):
        inner.__dict__.pop("_ad_names", None)


def names_in(node: gast.AST) -> frozenset[str]:
    """Every name in ``node`` (nested statements included), cached on the node.

    Passes that rename names call ``forget`` on what they changed and on the statements
    enclosing it; deleting a statement needs no call (a cached set that still lists a
    name only makes the passes more cautious, never wrong)."""
    cached = node.__dict__.get("_ad_names")
    if cached is None:
        cached = node._ad_names = frozenset(
            n.id for n in gast.walk(node) if isinstance(n, gast.Name)
        )
    return cached


def mentions(stmt: gast.AST, name: str) -> bool:
    return name in names_in(stmt)


def accumulates(stmt: gast.stmt) -> bool:
    """``name += e`` (not ``name[i] += e``, which changes an array in place)."""
    return (
        isinstance(stmt, gast.AugAssign)
        and isinstance(stmt.op, gast.Add)
        and isinstance(stmt.target, gast.Name)
    )


def assignment_like(stmt: gast.AugAssign, value: gast.expr) -> gast.Assign:
    """``target = value`` in place of ``target += e``, keeping its origin line and purity."""
    new = gast.Assign(targets=[stmt.target], value=value, type_comment=None)
    gast.copy_location(new, stmt)
    new.origin_line = getattr(stmt, "origin_line", None)
    new.ad_pure = getattr(stmt, "ad_pure", True)
    return new


def drop_self_assignments(block: list[gast.stmt]) -> None:
    """Remove ``a = a`` (left where a copy was coalesced) from ``block`` and its blocks,
    and an ``if name:`` left with nothing to do."""
    for stmt in block:
        if isinstance(stmt, (gast.If, gast.For, gast.While)):
            drop_self_assignments(stmt.body)
            drop_self_assignments(stmt.orelse)
    block[:] = [s for s in block if not _is_self_assignment(s) and not _is_empty_if(s)]
    for stmt in block:
        if isinstance(stmt, (gast.If, gast.For, gast.While)) and not stmt.body:
            stmt.body = [gast.Pass()]


def _is_empty_if(stmt: gast.stmt) -> bool:
    return (
        isinstance(stmt, gast.If)
        and not stmt.body
        and not stmt.orelse
        and isinstance(stmt.test, gast.Name)
    )


def _is_self_assignment(stmt: gast.stmt) -> bool:
    return (
        isinstance(stmt, gast.Assign)
        and len(stmt.targets) == 1
        and isinstance(stmt.targets[0], gast.Name)
        and isinstance(stmt.value, gast.Name)
        and stmt.targets[0].id == stmt.value.id
    )
