"""An adjoint rebuilt from the tiles of another: start from that array instead.

The adjoint of ``u = np.concatenate([u[:1], u[1:-1] + e, u[-1:]])`` cuts the incoming
adjoint ``G`` into views (``reverse.py``: ``A = G[:1]``, ``B = G[1:-1]``, ``C = G[-1:]``),
and the reads of the old ``u`` add them back where they came from::

    du = index_adjoint(C, u, slice(-1, None))   # a zero array the size of u, and C
    ...                                          # reads of B (its own adjoint terms)
    du[1:-1] += B
    du[:1] += A
    du[:-2] += e2                                # the other terms

The tiles cover every element of ``du`` once, each with ``G``'s own value there, so
``du`` is ``G`` plus the other terms: ``du = G`` (nothing when ``du`` is ``G``'s name),
the tile additions go, and the other terms are added into ``G`` in place, as a person
writes ``du[1:-1] -= ...`` into the one adjoint array. No zero array, no copies.

Conditions (each one needed; anything else keeps the code as it is):

* the views ``A = G[s]`` are bound once each, in the block before the ``index_adjoint``,
  with constant slice bounds; ``G`` is a name holding an array this code owns
  (``ad_base_owned``, from the accumulation guard's ownership), mentioned in the block
  before only by those views and after it by nothing but ``du`` when it is ``du``;
* ``index_adjoint(A, x, I)`` (``x`` a real float array, facts) with ``I`` the bounds
  of ``A``'s view, and ``du[s] += V`` for every other view ``V = G[s]``, among statements
  that only add into ``du`` and before any other statement naming it (the tiles then
  come first: the same sum, up to rounding);
* ``G`` has ``x``'s shape: its primal has ``x``'s rank and the same length symbol on
  every axis (shape facts); the slices cover each index ``0 .. n-1`` of the first axis
  exactly once for every length ``n`` the facts allow (checked for every ``n`` up to
  past the bounds' reach, where the cover no longer changes: ``_cover_holds``);
* no view, nor a value that may share its data (a name bound from an expression reading
  a view, unless the expression makes a new array or a number), is read at or after
  the first statement writing into ``du`` (the views are ``G``'s data, changed from
  there on) but by the tile additions (which go), written in place, or read outside
  the block.
"""

from __future__ import annotations

import gast

from .. import runtime
from ..nodes import slice_bound
from ..reverse import AdjointProgram
from ..shapes import ArrayFact
from .walk import assigned, loaded

# helpers that return a new array or a number, never their argument
_NEW_VALUE_HELPERS = (runtime.times, runtime.times_sum)


def reuse_tiled_adjoints(block: list[gast.stmt], program: AdjointProgram) -> None:
    """Rewrite every ``du = index_adjoint(...)`` of a block (and of nested blocks) whose
    tiles rebuild ``G`` (the module docstring) as ``du = G``."""
    for stmt in block:
        for field in ("body", "orelse"):
            inner = getattr(stmt, field, None)
            if inner:
                reuse_tiled_adjoints(inner, program)
    position = 0
    while position < len(block):
        if _reuse_at(block, position, program):
            program.moved_adjoints = True  # walk's caches of enclosing statements are stale
        position += 1


def _reuse_at(block: list[gast.stmt], p: int, program: AdjointProgram) -> bool:
    stmt = block[p]
    read = _index_adjoint_read(stmt, program)
    if read is None:
        return False
    d, first, x, index = read
    views = _views_before(block, p)
    if first not in views:
        return False
    base, bounds = views[first]
    if bounds != _slice_bounds(index):
        return False
    group = {name: b for name, (g, b) in views.items() if g == base}
    if not getattr(block[_binding(block, p, first)], "ad_base_owned", False):
        return False
    if not _same_shape(base, x, program):
        return False
    tiles, q = _tile_additions(block, p, d, group)
    if tiles is None or first in tiles.values() or set(tiles.values()) | {first} != set(group):
        return False
    if not _cover_holds(list(group.values()), program.analysis.shapes.of(x)):
        return False
    if not _base_alone(block, p, base, d, group):
        return False
    if not _views_settled(block, p, q, group, set(tiles), program):
        return False
    unread = [
        name
        for name in group
        if not any(
            name in loaded(other) for i, other in enumerate(block) if i not in tiles and i != p
        )
    ]
    dropped = set(tiles) | {_binding(block, p, name) for name in unread}
    if d == base:
        dropped.add(p)
    else:
        block[p] = gast.copy_location(
            gast.Assign(targets=[_name(d, gast.Store())], value=_name(base, gast.Load())), stmt
        )
    for position in sorted(dropped, reverse=True):  # the tiles, and views nothing reads
        del block[position]
    return True


def _index_adjoint_read(stmt, program) -> tuple | None:
    """``d = index_adjoint(A, x, slice(a, b))``: ``(d, A, x, the slice call)``."""
    if not (isinstance(stmt, gast.Assign) and len(stmt.targets) == 1):
        return None
    target, value = stmt.targets[0], stmt.value
    if not (isinstance(target, gast.Name) and isinstance(value, gast.Call)):
        return None
    if not (isinstance(value.func, gast.Name) and len(value.args) == 3 and not value.keywords):
        return None
    cell = program.bindings.cells.get(value.func.id)
    try:
        if cell is None or cell.cell_contents is not runtime.index_adjoint:
            return None
    except ValueError:
        return None
    g, x, index = value.args
    if not (isinstance(g, gast.Name) and isinstance(x, gast.Name)):
        return None
    fact = program.analysis.shapes.of(x)
    if not (isinstance(fact, ArrayFact) and fact.dtype == "f" and fact.ndim >= 1):
        return None
    return target.id, g.id, x, index


def _slice_bounds(node) -> tuple | None:
    """The constant bounds of ``a:b`` or ``slice(a, b)`` (step 1), or None."""
    if isinstance(node, gast.Call) and isinstance(node.func, gast.Name):
        if node.func.id != "slice" or node.keywords or len(node.args) != 2:
            return None
        parts = node.args
    elif isinstance(node, gast.Slice):
        if node.step is not None:
            return None
        parts = [node.lower, node.upper]
    else:
        return None
    bounds = []
    for part in parts:
        bound = slice_bound(part)
        if bound is False:
            return None
        bounds.append(bound)
    return tuple(bounds)


def _views_before(block: list[gast.stmt], p: int) -> dict[str, tuple[str, tuple]]:
    """The names bound once in ``block[:p]`` to ``G[a:b]`` (constant bounds) of a name
    ``G``, and not bound anywhere else in the block: name -> (``G``, bounds)."""
    counts: dict[str, int] = {}
    for stmt in block:
        for name in assigned(stmt):
            counts[name] = counts.get(name, 0) + 1
    views = {}
    for stmt in block[:p]:
        if not (isinstance(stmt, gast.Assign) and len(stmt.targets) == 1):
            continue
        target, value = stmt.targets[0], stmt.value
        if not (isinstance(target, gast.Name) and isinstance(value, gast.Subscript)):
            continue
        if not isinstance(value.value, gast.Name) or counts.get(target.id) != 1:
            continue
        bounds = _slice_bounds(value.slice)
        if bounds is not None:
            views[target.id] = (value.value.id, bounds)
    return views


def _binding(block: list[gast.stmt], p: int, name: str) -> int:
    return next(i for i in range(p) if name in assigned(block[i]))


def _same_shape(base: str, x: gast.Name, program: AdjointProgram) -> bool:
    """Whether the adjoint ``base`` has ``x``'s shape: its primal's facts and ``x``'s
    have one rank and the same known length symbol on every axis."""
    primal = getattr(program, "primals", {}).get(base)
    facts = program.analysis.shapes
    mine, theirs = facts.names.get(primal) if primal else None, facts.of(x)
    if not (isinstance(mine, ArrayFact) and isinstance(theirs, ArrayFact)):
        return False
    if mine.ndim != theirs.ndim or not mine.lengths or not theirs.lengths:
        return False
    return all(a is not None and a == b for a, b in zip(mine.lengths, theirs.lengths))


def _tile_additions(block, p: int, d: str, group: dict) -> tuple[dict | None, int]:
    """The statements ``d[a:b] += V`` after ``p`` (``V`` a view of the group with those
    bounds), among statements that only add into ``d`` (``d[i] += e``, ``d += e``, ``e``
    and ``i`` not naming it), up to the first other statement naming ``d``: position ->
    ``V``, and the first position where ``d``'s data changes (an addition that is not a
    tile, or that other statement; the block's end if none). The additions' order
    changes (the tiles come first), so the sum is the same up to rounding. None if a
    view is added twice."""
    tiles: dict[int, str] = {}
    q = None
    position = p + 1
    while position < len(block):
        stmt = block[position]
        if _names(stmt, d):
            view = _tile_of(stmt, d, group)
            if view is not None:
                if view in tiles.values():
                    return None, position
                tiles[position] = view
            elif _adds_into(stmt, d):
                q = position if q is None else q
            else:
                break
        position += 1
    return tiles, position if q is None else q


def _adds_into(stmt, d: str) -> bool:
    """``d += e`` or ``d[i] += e`` with ``e`` and ``i`` not naming ``d``."""
    if not (isinstance(stmt, gast.AugAssign) and isinstance(stmt.op, gast.Add)):
        return False
    target = stmt.target
    if isinstance(target, gast.Subscript):
        if _names(target.slice, d):
            return False
        target = target.value
    return isinstance(target, gast.Name) and target.id == d and not _names(stmt.value, d)


def _tile_of(stmt, d: str, group: dict) -> str | None:
    if not (isinstance(stmt, gast.AugAssign) and isinstance(stmt.op, gast.Add)):
        return None
    target, value = stmt.target, stmt.value
    if not (
        isinstance(target, gast.Subscript)
        and isinstance(target.value, gast.Name)
        and target.value.id == d
        and isinstance(value, gast.Name)
        and value.id in group
    ):
        return None
    return value.id if _slice_bounds(target.slice) == group[value.id] else None


def _cover_holds(bounds: list[tuple], fact: ArrayFact) -> bool:
    """Whether slices with these constant bounds cover ``range(n)`` once each for every
    length ``n`` of the first axis the fact allows (not 1 where its unit fact is False).
    Past ``n = 2 * reach + 1`` every bound resolves to a fixed offset from the start or
    the end, so the cover is the same for all larger ``n``: checking up to there (and
    one more) decides it for every length."""
    reach = max((abs(b) for pair in bounds for b in pair if b is not None), default=0)
    for n in range(2 * reach + 3):
        if n == 1 and fact.units[0] is False:
            continue
        seen = []
        for lower, upper in bounds:
            seen.extend(range(n)[slice(lower, upper)])
        if sorted(seen) != list(range(n)):
            return False
    return True


def _base_alone(block, p: int, base: str, d: str, group: dict) -> bool:
    """``base`` is named in the block only by the views' bindings (before ``p``), and
    after ``p`` not at all unless it is ``d``; nor bound in the block after its views."""
    for position, stmt in enumerate(block):
        if position < p:
            if _names(stmt, base) and not _is_view_binding(stmt, group):
                return False
        elif position > p and base != d and _names(stmt, base):
            return False
    return True


def _is_view_binding(stmt, group: dict) -> bool:
    return (
        isinstance(stmt, gast.Assign)
        and len(stmt.targets) == 1
        and isinstance(stmt.targets[0], gast.Name)
        and stmt.targets[0].id in group
    )


def _views_settled(block, p: int, q: int, group: dict, tiles: set, program) -> bool:
    """No view, nor a name that may share a view's data, is read at or after ``q`` (from
    there on ``G``'s data changes) but by the tile additions (which go), read outside
    the block, or written in place."""
    shared = set(group)
    start = min(_binding(block, p, name) for name in group)
    for position in range(start, q):
        stmt = block[position]
        if position == p:  # the zero array it makes goes
            continue
        if isinstance(stmt, gast.AugAssign) and _target_base(stmt.target) in shared:
            return False
        if isinstance(stmt, gast.Assign) and any(
            _target_base(t) in shared for t in stmt.targets if isinstance(t, gast.Subscript)
        ):
            return False  # a write into a view
        if (
            isinstance(stmt, gast.Assign)
            and loaded(stmt) & shared
            and not _is_view_binding(stmt, group)
        ):
            if not _new_value(stmt.value, program):
                shared.update(assigned(stmt))
        elif not isinstance(stmt, (gast.Assign, gast.AugAssign)) and loaded(stmt) & shared:
            return False  # a compound statement or a call statement: not followed
    if any(loaded(block[i]) & shared for i in range(q, len(block)) if i not in tiles):
        return False
    kept = [*range(start, q), *(i for i in tiles if i >= q)]
    inside = {id(n) for i in kept for n in gast.walk(block[i])}
    for node in _all_nodes(program.backward):
        if isinstance(node, gast.Name) and node.id in shared and id(node) not in inside:
            return False
    return True


def _new_value(expr, program) -> bool:
    """Whether ``expr`` certainly makes a new array or a number (never a view)."""
    if isinstance(expr, (gast.BinOp, gast.UnaryOp, gast.Constant)):
        return True
    if isinstance(expr, gast.IfExp):
        return _new_value(expr.body, program) and _new_value(expr.orelse, program)
    if isinstance(expr, gast.Call) and isinstance(expr.func, gast.Name):
        cell = program.bindings.cells.get(expr.func.id)
        try:
            return cell is not None and cell.cell_contents in _NEW_VALUE_HELPERS
        except ValueError:
            return False
    return False


def _target_base(target) -> str | None:
    while isinstance(target, gast.Subscript):
        target = target.value
    return target.id if isinstance(target, gast.Name) else None


def _names(stmt, name: str) -> bool:
    return any(isinstance(n, gast.Name) and n.id == name for n in gast.walk(stmt))


def _all_nodes(stmts: list[gast.stmt]):
    for stmt in stmts:
        yield from gast.walk(stmt)


def _name(identifier: str, ctx) -> gast.Name:
    return gast.Name(id=identifier, ctx=ctx, annotation=None, type_comment=None)
