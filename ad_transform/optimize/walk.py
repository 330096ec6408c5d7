"""Small queries over statement lists shared by the optimization passes."""

from __future__ import annotations

import gast

from ..nodes import name_ids, subnodes


def all_statements(stmts: list[gast.stmt]):
    """Every statement, including those nested in branches and loops."""
    for stmt in stmts:
        yield stmt
        for field_name in ("body", "orelse"):
            yield from all_statements(getattr(stmt, field_name, None) or [])


def assigned(stmt: gast.stmt) -> tuple[str, ...]:
    """The names ``stmt`` itself assigns (not those of statements nested in it); cached."""
    cached = stmt.__dict__.get("_ad_assigned")
    if cached is None:
        if isinstance(stmt, gast.Assign):
            targets = stmt.targets
        elif isinstance(stmt, gast.AugAssign):
            targets = [stmt.target]
        else:
            targets = []
        cached = stmt._ad_assigned = tuple(
            node.id
            for node in subnodes(targets)
            if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Store)
        )
    return cached


def assignment_counts(stmts: list[gast.stmt]) -> dict[str, int]:
    """How many statements in ``stmts`` (nested blocks included) assign each name."""
    counts: dict[str, int] = {}
    for stmt in all_statements(stmts):
        for name in assigned(stmt):
            counts[name] = counts.get(name, 0) + 1
    return counts


def loaded(stmt: gast.stmt) -> frozenset[str]:
    """The names ``stmt`` reads (nested statements included; ``x += e`` reads ``x``); cached."""
    cached = stmt.__dict__.get("_ad_loaded")
    if cached is None:
        if isinstance(stmt, COMPOUND):
            names = header_reads(stmt)
            for child in (*stmt.body, *stmt.orelse):
                names |= loaded(child)
        else:
            names = name_ids(stmt, gast.Load)
            if isinstance(stmt, gast.AugAssign) and isinstance(stmt.target, gast.Name):
                names.add(stmt.target.id)
        cached = stmt._ad_loaded = frozenset(names)
    return cached


COMPOUND = (gast.If, gast.For, gast.While)
_CACHES = ("_ad_names", "_ad_loaded", "_ad_assigned")


def _header(stmt: gast.stmt) -> list[gast.AST]:
    """The parts of a compound statement outside its blocks."""
    if isinstance(stmt, gast.For):
        return [stmt.target, stmt.iter]
    return [stmt.test]


def header_reads(stmt: gast.stmt) -> set[str]:
    """The names a compound statement's header reads (a test, a ``for`` iterable)."""
    return name_ids(_header(stmt), gast.Load)


def header_stores(stmt: gast.stmt) -> set[str]:
    """The names a compound statement's header assigns (a ``for`` target)."""
    return name_ids(_header(stmt), gast.Store)


def forget(node: gast.AST) -> None:
    """Drop the cached name sets in ``node`` and everything in it, after changing names in
    it; the statements enclosing it need ``forget_node``."""
    for inner in subnodes(node):
        for key in _CACHES:
            inner.__dict__.pop(key, None)


def forget_node(stmt: gast.stmt) -> None:
    """Drop the cached name sets of ``stmt`` alone: a statement nested in it changed."""
    for key in _CACHES:
        stmt.__dict__.pop(key, None)


def names_in(node: gast.AST) -> frozenset[str]:
    """Every name in ``node`` (nested statements included), cached on the node (a compound
    statement's from its statements').

    Passes that change names in a statement call ``forget`` on it and ``forget_node`` on
    the statements enclosing it; deleting a statement needs no call (a cached set that
    still lists a name only makes the passes more cautious, never wrong)."""
    cached = node.__dict__.get("_ad_names")
    if cached is None:
        if isinstance(node, COMPOUND):
            names = name_ids(_header(node))
            for child in (*node.body, *node.orelse):
                names |= names_in(child)
        else:
            names = name_ids(node)
        cached = node._ad_names = frozenset(names)
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
        if isinstance(stmt, COMPOUND):
            drop_self_assignments(stmt.body)
            drop_self_assignments(stmt.orelse)
    block[:] = [s for s in block if not _is_self_assignment(s) and not _is_empty_if(s)]
    for stmt in block:
        if isinstance(stmt, COMPOUND) and not stmt.body:
            stmt.body = [gast.Pass()]


def _is_empty_if(stmt: gast.stmt) -> bool:
    return (
        isinstance(stmt, gast.If)
        and not stmt.body
        and not stmt.orelse
        and isinstance(stmt.test, gast.Name)
    )


def _is_self_assignment(stmt: gast.stmt) -> bool:
    name = target_name(stmt)
    return name is not None and isinstance(stmt.value, gast.Name) and stmt.value.id == name


def target_name(stmt: gast.stmt) -> str | None:
    """The name ``stmt`` assigns if it is ``name = e``, else None."""
    if (
        isinstance(stmt, gast.Assign)
        and len(stmt.targets) == 1
        and isinstance(stmt.targets[0], gast.Name)
    ):
        return stmt.targets[0].id
    return None
