"""Adjoints inside loop bodies, written the way a person writes them.

The reverse stage writes every adjoint in a loop body as ``d += e`` and resets it
(``d = 0.0``) once used, so that each iteration starts from zero. Where that is
visibly so, the code says it directly:

* an adjoint that is zero when each iteration starts gets its first contribution
  as an assignment, and then the reset at the end of the body and the zero
  before the loop are dead;
* after ``d = 0.0`` inside a block, the next ``d += e`` is ``d = e``;
* a copy ``a = b`` of an adjoint used only in that block is replaced by ``b``.
"""

from __future__ import annotations

from collections import Counter

import gast

from .propagation import number
from .walk import accumulates, all_statements, assigned, forget, mentions


def simplify_loop_adjoints(
    backward: list[gast.stmt], adjoints: set[str], keep: set[str]
) -> list[gast.stmt]:
    """Apply the rewrites above to every loop of the backward sweep (a new list)."""
    stmts = list(backward)  # the statements are this pass's to rewrite
    uses = Counter(n.id for s in stmts for n in gast.walk(s) if isinstance(n, gast.Name))
    zero_inits = {
        s.targets[0].id: s
        for s in stmts
        if _is_reset(s) and s.targets[0].id in adjoints and s.targets[0].id not in keep
    }
    dead: set[int] = set()
    _visit_block(stmts, set(), uses, zero_inits, dead, adjoints, keep)
    return [s for s in stmts if id(s) not in dead]


def _is_reset(stmt: gast.stmt) -> bool:
    return (
        isinstance(stmt, gast.Assign)
        and isinstance(stmt.targets[0], gast.Name)
        and number(stmt.value) == 0
    )


def _visit_block(block, zero_at_entry, uses, zero_inits, dead, adjoints, keep) -> bool:
    """Rewrite ``block`` and its nested blocks; returns whether names were renamed."""
    _straighten(block, zero_at_entry, adjoints)
    renamed = False
    for stmt in block:
        inner = False
        if isinstance(stmt, gast.If):
            inner = _visit_block(stmt.body, set(), uses, zero_inits, dead, adjoints, keep)
            inner |= _visit_block(stmt.orelse, set(), uses, zero_inits, dead, adjoints, keep)
        elif isinstance(stmt, (gast.For, gast.While)):
            inside = Counter(n.id for n in gast.walk(stmt) if isinstance(n, gast.Name))
            zero = {
                name
                for name in zero_inits
                if uses[name] == inside[name] + 1 and _ends_with_reset(stmt.body, name)
            }
            _straighten(stmt.body, zero, adjoints)
            for name in sorted(zero):
                if _first_use_assigns(stmt.body, name):
                    _drop_last_reset(stmt.body, name)
                    dead.add(id(zero_inits[name]))
                    uses[name] -= 2
            inner = _visit_block(stmt.body, set(), uses, zero_inits, dead, adjoints, keep)
        if inner:
            forget(stmt)  # its cached name set no longer matches what is inside
            renamed = True
    _drop_dead_stores(block, uses, adjoints)
    return _propagate_copies(block, uses, adjoints, keep) or renamed


def _drop_dead_stores(block: list[gast.stmt], uses: Counter, adjoints: set[str]) -> None:
    """``d = 0.0`` followed in the same block by ``d = e`` with no read in between."""
    index = 0
    while index < len(block):
        stmt = block[index]
        if _is_reset(stmt) and stmt.targets[0].id in adjoints:
            name = stmt.targets[0].id
            for later in block[index + 1 :]:
                if not mentions(later, name):
                    continue
                if (
                    isinstance(later, gast.Assign)
                    and isinstance(later.targets[0], gast.Name)
                    and later.targets[0].id == name
                    and not mentions(later.value, name)
                ):
                    del block[index]
                    uses[name] -= 1
                    index -= 1
                break
        index += 1


def _straighten(block: list[gast.stmt], zero: set[str], adjoints: set[str]) -> None:
    """Turn ``d += e`` into ``d = e`` where ``d`` is known to be zero (in place)."""
    known_zero = set(zero)
    for index, stmt in enumerate(block):
        if _is_reset(stmt) and stmt.targets[0].id in adjoints:
            known_zero.add(stmt.targets[0].id)
            continue
        if (
            accumulates(stmt)
            and stmt.target.id in known_zero
            and not mentions(stmt.value, stmt.target.id)
        ):
            block[index] = _as_assignment(stmt)
            known_zero.discard(stmt.target.id)
            continue
        for inner in all_statements([stmt]):
            known_zero.difference_update(assigned(inner))
    # A reset that follows a reset of the same name (or nothing) is kept: cheap and clear.


def _as_assignment(stmt: gast.AugAssign) -> gast.Assign:
    new = gast.Assign(targets=[stmt.target], value=stmt.value, type_comment=None)
    gast.copy_location(new, stmt)
    new.origin_line = getattr(stmt, "origin_line", None)
    new.ad_pure = getattr(stmt, "ad_pure", True)
    return new


def _ends_with_reset(body: list[gast.stmt], name: str) -> bool:
    """Whether the body's last mention of ``name`` is a top-level ``name = 0.0``."""
    for stmt in reversed(body):
        if mentions(stmt, name):
            return _is_reset(stmt) and stmt.targets[0].id == name
    return False


def _first_use_assigns(body: list[gast.stmt], name: str) -> bool:
    """Whether the body's first mention of ``name`` is a top-level assignment to it that does
    not read it: the value carried in from the previous iteration is then never read."""
    for stmt in body:
        if mentions(stmt, name):
            return (
                isinstance(stmt, gast.Assign)
                and isinstance(stmt.targets[0], gast.Name)
                and stmt.targets[0].id == name
                and not mentions(stmt.value, name)
            )
    return False


def _drop_last_reset(body: list[gast.stmt], name: str) -> None:
    for index in range(len(body) - 1, -1, -1):
        if mentions(body[index], name):
            del body[index]
            return


def _propagate_copies(block, uses: Counter, adjoints: set[str], keep: set[str]) -> bool:
    """Replace ``a`` by ``b`` after ``a = b`` when ``a`` lives only in this block.

    Returns whether anything was renamed."""
    renamed = False
    index = 0
    while index < len(block):
        stmt = block[index]
        rest = block[index + 1 :]
        if (
            isinstance(stmt, gast.Assign)
            and isinstance(stmt.targets[0], gast.Name)
            and isinstance(stmt.value, gast.Name)
            and stmt.targets[0].id in adjoints
            and stmt.targets[0].id not in keep
            and getattr(stmt, "ad_pure", True)
        ):
            a, b = stmt.targets[0].id, stmt.value.id
            mentions_here = sum(
                1
                for s in block[index:]
                if mentions(s, a)
                for n in gast.walk(s)
                if isinstance(n, gast.Name) and n.id == a
            )
            if uses[a] == mentions_here and not _assigns_any(rest, (a, b)):
                for later in rest:
                    if mentions(later, a):
                        _rename_loads(later, a, b)
                        forget(later)
                uses[b] += uses[a] - 1
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


def _rename_loads(stmt: gast.stmt, old: str, new: str) -> None:
    for node in gast.walk(stmt):
        if isinstance(node, gast.Name) and node.id == old and isinstance(node.ctx, gast.Load):
            node.id = new
