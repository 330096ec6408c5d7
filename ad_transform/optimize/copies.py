"""Copies of adjoints that live in one block: ``da = db`` then ``... da ...`` is ``... db ...``.

A branch or a loop body often starts by passing an adjoint on under another name
(``dy_2 = dy_4``); where the copy lives only in that block and neither name is
assigned again after it, the copy goes and its uses read the original.
"""

from __future__ import annotations

from collections import Counter

import gast

from ..nodes import subnodes
from .walk import (
    COMPOUND,
    all_statements,
    assigned,
    drop_self_assignments,
    forget,
    forget_node,
    mentions,
    target_name,
)


def propagate_block_copies(
    backward: list[gast.stmt], adjoints: set[str], keep: set[str]
) -> list[gast.stmt]:
    """Remove such copies in every block of the backward sweep (a new list)."""
    stmts = list(backward)  # the nested statements are this pass's to rewrite
    uses = Counter(n.id for n in subnodes(stmts) if isinstance(n, gast.Name))
    _visit_block(stmts, uses, adjoints, keep)
    drop_self_assignments(stmts)
    return stmts


def _visit_block(block: list[gast.stmt], uses: Counter, adjoints: set[str], keep: set[str]) -> bool:
    """Rewrite ``block`` and its nested blocks; returns whether names were renamed."""
    renamed = False
    for stmt in block:
        if isinstance(stmt, COMPOUND) and (
            _visit_block(stmt.body, uses, adjoints, keep)
            | _visit_block(stmt.orelse, uses, adjoints, keep)
        ):
            forget_node(stmt)  # its cached name set no longer matches what is inside
            renamed = True
    return _propagate_copies(block, uses, adjoints, keep) or renamed


def _propagate_copies(block, uses: Counter, adjoints: set[str], keep: set[str]) -> bool:
    """Replace ``a`` by ``b`` after ``a = b`` when ``a`` lives only in this block.

    Returns whether anything was renamed."""
    renamed = False
    index = 0
    while index < len(block):
        stmt = block[index]
        rest = block[index + 1 :]
        if (
            target_name(stmt) in adjoints
            and isinstance(stmt.value, gast.Name)
            and stmt.targets[0].id not in keep
            and getattr(stmt, "ad_pure", True)
        ):
            a, b = stmt.targets[0].id, stmt.value.id
            mentions_here = sum(
                1
                for s in block[index:]
                if mentions(s, a)
                for n in subnodes(s)
                if isinstance(n, gast.Name) and n.id == a
            )
            if (
                uses[a] == mentions_here
                and not _assigns_any(rest, (a,))
                and _read_before_reassigned(rest, a, b)
            ):
                for later in rest:
                    if mentions(later, a):
                        _rename_loads(later, a, b)
                        forget(later)
                uses[b] += uses[a] - 2  # a's loads become b's; the copy's load of b goes
                uses[a] = 0
                del block[index]
                renamed = True
                continue
        index += 1
    return renamed


def _assigns_any(stmts: list[gast.stmt], names: tuple[str, ...]) -> bool:
    for stmt in stmts:
        if not any(mentions(stmt, name) for name in names):
            continue
        for inner in all_statements([stmt]):
            if any(name in names for name in assigned(inner)):
                return True
    return False


def _read_before_reassigned(stmts: list[gast.stmt], a: str, b: str) -> bool:
    """Whether every read of ``a`` in ``stmts`` comes before ``b`` changes (a simple
    statement reads before it stores; a branch is checked path by path)."""
    for position, stmt in enumerate(stmts):
        if not (mentions(stmt, b) and _assigns_any([stmt], (b,))):
            continue
        if any(mentions(later, a) for later in stmts[position + 1 :]):
            return False
        if isinstance(stmt, gast.If):
            return _read_before_reassigned(stmt.body, a, b) and _read_before_reassigned(
                stmt.orelse, a, b
            )
        return not isinstance(stmt, (gast.For, gast.While)) or not mentions(stmt, a)
    return True


def _rename_loads(stmt: gast.stmt, old: str, new: str) -> None:
    for node in subnodes(stmt):
        if isinstance(node, gast.Name) and node.id == old and isinstance(node.ctx, gast.Load):
            node.id = new
