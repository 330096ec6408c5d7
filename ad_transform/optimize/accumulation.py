"""Accumulation without aliasing: ``dx += e`` adds in place into an ndarray, so it is kept
only where ``dx`` holds an array this code created (or a scalar); elsewhere it becomes
``dx = dx + e``.
"""

from __future__ import annotations

import gast

from .. import runtime
from ..reverse import AdjointProgram
from ..rules.registry import SCALAR
from ..shapes import ArrayFact, IntFact
from .propagation import number
from .tiles import reuse_tiled_adjoints
from .walk import assigned, assignment_like, forget
from .zeros import mark_zero_starts

# Runtime helpers known to return a new array that no one else holds.
FRESH_HELPERS = (
    runtime.index_adjoint,
    runtime.norm_adjoint,
    runtime.item_adjoint,
    runtime.zeros_like,
    runtime.matmul_adjoint_left,
    runtime.matmul_adjoint_right,
)


def guard_accumulation(
    stmts: list[gast.stmt], program: AdjointProgram, predefined: set[str]
) -> list[gast.stmt]:
    """Keep ``dx += e`` only where ``dx`` is a scalar or an array this code owns.

    Ownership flows through branches (owned after an ``if`` only if owned on both
    paths) and loops (iterated until the state at the top of the body is stable).
    """
    owned = {name: False for name in predefined}
    stmts = list(stmts)
    mark_zero_starts(stmts, set(program.adjoint_kinds))
    _guard_block(stmts, owned, program)
    program.owned = owned
    if not program.analysis.complex_values:
        _accumulate_reads_in_place(stmts, program)
        _start_from_moved_adjoints(stmts, program)
        _move_into_zero(stmts, program)
        reuse_tiled_adjoints(stmts, program)
        if getattr(program, "moved_adjoints", False):
            for stmt in stmts:
                forget(stmt)
    return stmts


def _accumulate_reads_in_place(block: list[gast.stmt], program: AdjointProgram) -> None:
    """``dx += index_adjoint(g, x, index)`` kept in place (``dx`` owned) as ``dx =
    accumulate_index(dx, g, x, index)``: ``g`` added into ``dx[index]`` alone, not into a
    zero array the size of ``x`` first (runtime/shape_indexing.py).

    Where ``dx`` certainly holds a float array shaped like ``x`` (it was set by
    ``index_adjoint`` of a real float array ``x``, by the shape facts, earlier in the
    same block, and only added into since) and the index is basic, the addition is
    written out: ``dx[1:n] += g``."""
    arrays: set[str] = set()  # adjoints certainly float arrays shaped like their primal
    for position, stmt in enumerate(block):
        compound = False
        for field in ("body", "orelse"):
            inner = getattr(stmt, field, None)
            if inner:
                compound = True
                _accumulate_reads_in_place(inner, program)
        if compound:
            arrays.clear()
            continue
        if isinstance(stmt, gast.Assign):
            names = assigned(stmt)
            arrays.difference_update(names)
            if len(names) == 1 and _float_array_read(stmt.value, program):
                arrays.update(names)
            continue
        if not (
            isinstance(stmt, gast.AugAssign)
            and isinstance(stmt.op, gast.Add)
            and isinstance(stmt.target, gast.Name)
            and program.adjoint_kinds.get(stmt.target.id) != SCALAR
            and _calls(stmt.value, runtime.index_adjoint, program)
            and len(stmt.value.args) == 3
            and not stmt.value.keywords
        ):
            if isinstance(stmt, gast.AugAssign) and isinstance(stmt.target, gast.Name):
                arrays.discard(stmt.target.id)
            continue
        name = stmt.target.id
        index = _subscript_index(stmt.value.args[2], program)
        if name in arrays and index is not None and _float_array_read(stmt.value, program):
            g = stmt.value.args[0]
            view = gast.Subscript(
                value=gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None),
                slice=index,
                ctx=gast.Store(),
            )
            written = gast.AugAssign(target=view, op=gast.Add(), value=g)
            written.ad_pure = False
            block[position] = gast.copy_location(written, stmt)
            continue
        helper = program.bindings.reference("accumulate_index", runtime.accumulate_index)
        target = gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None)
        call = gast.Call(
            func=gast.Name(id=helper, ctx=gast.Load(), annotation=None, type_comment=None),
            args=[target, *stmt.value.args],
            keywords=[],
        )
        block[position] = assignment_like(stmt, call)
        arrays.discard(name)


def _start_from_moved_adjoints(block: list[gast.stmt], program: AdjointProgram) -> None:
    """``dx = index_adjoint(g, x, i)``, then only ``dx[j] += e``, then ``dx += dy; dy =
    0.0``: ``dx = accumulate_index(dy, g, x, i)`` instead, and the ``dx += dy`` goes.

    The adjoint ``dy`` (of ``new`` in ``new = u.copy()``) is added whole into ``dx`` and
    dropped: ``dx`` starts from it, and the read's ``g`` is added into ``dy[i]``, as a
    person writes ``du = dnew; du[1:-1] += g``, with no zero array the size of ``u``.
    Its array must be one nothing else holds: ``dy`` is made in this block, from zero
    (``dy += e`` where ``dy`` is certainly ``0.0``: a new array), and the block names it
    before only in forms that make no other name for it (``dy[i] = 0.0``, ``v =
    dy[i].copy()``, ``dy += e``, ``dy[i] += e``); between the two places nothing
    mentions it."""
    for stmt in block:
        for field in ("body", "orelse"):
            inner = getattr(stmt, field, None)
            if inner:
                _start_from_moved_adjoints(inner, program)
    position = 0
    while position < len(block):
        stmt = block[position]
        end = _whole_addition(block, position, program) if _index_read(stmt, program) else None
        if end is not None:
            moved = block[end].value.id
            del block[end]
            program.moved_adjoints = True  # walk's caches of enclosing statements are stale
            if _certainly_indexed_array(block[:position], moved, stmt.value.args[1], program):
                block[position : position + 1] = _added_into_view(stmt, moved, program)
                position += 1
            else:
                helper = program.bindings.reference("accumulate_index", runtime.accumulate_index)
                stmt.value = gast.Call(
                    func=_load(helper), args=[_load(moved), *stmt.value.args], keywords=[]
                )
        position += 1


def _move_into_zero(block: list[gast.stmt], program: AdjointProgram) -> None:
    """``dy += dx`` where ``dy`` is certainly ``0.0`` and ``dx`` an array this code owns
    that is bound again before it is read: ``dy = dx``, the array handed over instead of
    copied (``0.0 + dx``). Nothing reads it as ``dx`` after, so writes into it as ``dy``
    change no value the code still reads.

    The copy and the array are equal, with ``dx``'s dtype (``0.0`` is a weak scalar);
    only a 0-d array differs (``0.0 + dx`` is a NumPy scalar): ``dy`` must be the adjoint
    of an array of rank >= 1 by the shape facts, ``dx`` not a scalar kind."""
    for stmt in block:
        for field in ("body", "orelse"):
            inner = getattr(stmt, field, None)
            if inner:
                _move_into_zero(inner, program)
    for position, stmt in enumerate(block):
        if not (
            isinstance(stmt, gast.AugAssign)
            and getattr(stmt, "ad_from_zero", False)
            and getattr(stmt, "ad_source_owned", False)
            and isinstance(stmt.op, gast.Add)
            and isinstance(stmt.target, gast.Name)
            and isinstance(stmt.value, gast.Name)
        ):
            continue
        name, moved = stmt.target.id, stmt.value.id
        if (
            program.adjoint_kinds.get(moved) == SCALAR
            or program.adjoint_kinds.get(name) == SCALAR
            or not _adjoint_of_array(name, program)
            or not _bound_before_read(block[position + 1 :], moved)
        ):
            continue
        block[position] = assignment_like(stmt, _load(moved))
        program.moved_adjoints = True


def _adjoint_of_array(name: str, program: AdjointProgram) -> bool:
    """Whether ``name`` is the adjoint of a real float array of rank >= 1 (shape facts)."""
    primal = getattr(program, "primals", {}).get(name)
    fact = program.analysis.shapes.names.get(primal) if primal else None
    return isinstance(fact, ArrayFact) and fact.ndim >= 1 and fact.dtype == "f"


def _bound_before_read(after: list[gast.stmt], name: str) -> bool:
    """Whether the first statement of ``after`` naming ``name`` binds it (``name = e``,
    ``e`` not naming it), with no compound statement before it naming it."""
    for stmt in after:
        if not _mentions_name(stmt, name):
            continue
        return (
            isinstance(stmt, gast.Assign)
            and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], gast.Name)
            and stmt.targets[0].id == name
            and not _mentions_name(stmt.value, name)
        )
    return False


def _certainly_indexed_array(before: list[gast.stmt], moved: str, x, program) -> bool:
    """Whether ``moved`` (``dy`` of ``_start_from_moved_adjoints``) is certainly an ndarray
    shaped like ``x`` where the read's adjoint is added into it.

    ``dx += dy`` (a bare name, no ``unbroadcast``) is how the reverse stage adds the
    adjoint of a value of ``x``'s shape (a copy of it, or an operand whose facts prove
    the shape kept), so ``dy`` has ``x``'s shape or is a number. It is an ndarray where
    ``before`` stores a number into a slice of it (``dy[1:-1] = 0.0``): that raises for
    a Python or NumPy number and for a list (``[()]`` and ``[...]`` would not raise for
    a NumPy number: only slice syntax counts), and ``x`` has rank >= 1 by the facts."""
    fact = program.analysis.shapes.of(x) if isinstance(x, gast.Name) else None
    if not (isinstance(fact, ArrayFact) and fact.ndim >= 1):
        return False
    return any(
        isinstance(stmt, gast.Assign)
        and len(stmt.targets) == 1
        and _sliced(stmt.targets[0], moved)
        and number(stmt.value) is not None
        for stmt in before
    )


def _sliced(node: gast.expr, name: str) -> bool:
    """``name[a:b]`` (slice syntax)."""
    return (
        isinstance(node, gast.Subscript)
        and isinstance(node.value, gast.Name)
        and node.value.id == name
        and isinstance(node.slice, gast.Slice)
    )


def _added_into_view(stmt: gast.Assign, moved: str, program) -> list[gast.stmt]:
    """``dx = dy`` and ``dx[i] += g`` for ``dx = index_adjoint(g, x, i)`` (``dy`` an array
    shaped like ``x``, ``i`` a basic index): the read's adjoint added into ``dy``'s view."""
    name = stmt.targets[0].id
    g, _, index = stmt.value.args
    start = gast.copy_location(
        gast.Assign(targets=[_store(name)], value=_load(moved), type_comment=None), stmt
    )
    start.origin_line = getattr(stmt, "origin_line", None)
    view = gast.Subscript(
        value=_load(name), slice=_subscript_index(index, program), ctx=gast.Store()
    )
    added = gast.copy_location(gast.AugAssign(target=view, op=gast.Add(), value=g), stmt)
    added.ad_pure = False
    added.origin_line = start.origin_line
    return [start, added]


def _index_read(stmt: gast.stmt, program: AdjointProgram) -> bool:
    """``dx = index_adjoint(g, x, i)`` of a real float array ``x``, ``i`` a basic index."""
    return (
        isinstance(stmt, gast.Assign)
        and len(stmt.targets) == 1
        and isinstance(stmt.targets[0], gast.Name)
        and _float_array_read(stmt.value, program)
        and _subscript_index(stmt.value.args[2], program) is not None
    )


def _whole_addition(block: list[gast.stmt], start: int, program) -> int | None:
    """The position of ``dx += dy`` (then ``dy = 0.0``) where ``_start_from_moved_adjoints``
    applies to ``block[start]`` (``dx = index_adjoint(...)``), else None."""
    name = block[start].targets[0].id
    for end in range(start + 1, len(block) - 1):
        stmt = block[end]
        if not (
            isinstance(stmt, gast.AugAssign)
            and isinstance(stmt.op, gast.Add)
            and isinstance(stmt.target, gast.Name)
            and stmt.target.id == name
        ):
            if _adds_into(stmt, name):
                continue
            return None
        moved = stmt.value.id if isinstance(stmt.value, gast.Name) else None
        if (
            moved is None
            or moved == name
            or program.adjoint_kinds.get(moved) == SCALAR
            or not _is_reset_of(block[end + 1], moved)
            or any(_mentions_name(s, moved) for s in block[start + 1 : end])
            or not _made_here_alone(block[:start], moved)
        ):
            return None
        return end
    return None


def _adds_into(stmt: gast.stmt, name: str) -> bool:
    """``name[i] += e`` or ``v = e`` (``v`` not ``name``), ``name`` read nowhere else."""
    if isinstance(stmt, gast.AugAssign) and isinstance(stmt.target, gast.Subscript):
        base = stmt.target.value
        reads = [stmt.target.slice, stmt.value]
        if not (isinstance(base, gast.Name) and base.id == name):
            return False
    elif isinstance(stmt, gast.Assign) and all(_names_only(t) for t in stmt.targets):
        reads = [stmt.value]
        if name in assigned(stmt):
            return False
    else:
        return False
    return not any(_mentions_name(r, name) for r in reads)


def _names_only(target: gast.expr) -> bool:
    """A name, or a tuple of names (``a, b = pop()``)."""
    if isinstance(target, gast.Tuple):
        return all(isinstance(e, gast.Name) for e in target.elts)
    return isinstance(target, gast.Name)


def _made_here_alone(before: list[gast.stmt], moved: str) -> bool:
    """Whether the first statement of ``before`` naming ``moved`` makes it from zero
    (``dy += e`` where ``dy`` is certainly 0.0: a new array) and the others name it only
    in forms that make no other name for its array."""
    mentions = [s for s in before if _mentions_name(s, moved)]
    if not mentions or not getattr(mentions[0], "ad_from_zero", False):
        return False
    return all(_keeps_alone(s, moved) for s in mentions)


def _keeps_alone(stmt: gast.stmt, moved: str) -> bool:
    """``dy += e``, ``dy = dy + e``, ``dy[i] += e``, ``dy[i] = 0.0``, ``v = dy[i].copy()``
    (``e`` and ``i`` not naming ``dy``)."""
    if isinstance(stmt, gast.AugAssign):
        target = stmt.target
        if isinstance(target, gast.Subscript):
            if _mentions_name(target.slice, moved):
                return False
            target = target.value
        return (
            isinstance(target, gast.Name)
            and target.id == moved
            and not _mentions_name(stmt.value, moved)
        )
    if not (isinstance(stmt, gast.Assign) and len(stmt.targets) == 1):
        return False
    target, value = stmt.targets[0], stmt.value
    if isinstance(target, gast.Subscript):
        return (
            isinstance(target.value, gast.Name)
            and target.value.id == moved
            and not _mentions_name(target.slice, moved)
            and number(value) is not None
        )
    if not isinstance(target, gast.Name):
        return False
    if target.id == moved:  # dy = dy + e
        return (
            isinstance(value, gast.BinOp)
            and isinstance(value.op, gast.Add)
            and isinstance(value.left, gast.Name)
            and value.left.id == moved
            and not _mentions_name(value.right, moved)
        )
    return _is_copy_of(value, moved)


def _is_reset_of(stmt: gast.stmt, name: str) -> bool:
    return (
        isinstance(stmt, gast.Assign)
        and len(stmt.targets) == 1
        and isinstance(stmt.targets[0], gast.Name)
        and stmt.targets[0].id == name
        and number(stmt.value) == 0
    )


def _is_copy_of(expr: gast.expr, moved: str) -> bool:
    """``moved[i].copy()`` or ``moved.copy()`` (``i`` not naming it): a new array."""
    if not (
        isinstance(expr, gast.Call)
        and not expr.args
        and not expr.keywords
        and isinstance(expr.func, gast.Attribute)
        and expr.func.attr == "copy"
    ):
        return False
    base = expr.func.value
    if isinstance(base, gast.Subscript):
        if _mentions_name(base.slice, moved):
            return False
        base = base.value
    return isinstance(base, gast.Name) and base.id == moved


def _mentions_name(node, name: str) -> bool:
    return any(isinstance(n, gast.Name) and n.id == name for n in gast.walk(node))


def _load(name: str) -> gast.Name:
    return gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None)


def _store(name: str) -> gast.Name:
    return gast.Name(id=name, ctx=gast.Store(), annotation=None, type_comment=None)


def _float_array_read(value: gast.expr, program: AdjointProgram) -> bool:
    """``index_adjoint(g, x, index)`` of a name ``x`` that is a real float array by the
    shape facts (its result: a float array shaped like ``x``)."""
    if not (_calls(value, runtime.index_adjoint, program) and len(value.args) == 3):
        return False
    x = value.args[1]
    fact = program.analysis.shapes.of(x) if isinstance(x, gast.Name) else None
    return isinstance(fact, ArrayFact) and fact.dtype == "f"


def _subscript_index(index: gast.expr, program: AdjointProgram) -> gast.expr | None:
    """The value expression of a basic index (``slice(1, n)``, an integer, ``None`` or a
    tuple of them) as subscript syntax (``1:n``); None for anything else."""
    if isinstance(index, gast.Tuple):
        parts = [_subscript_index(e, program) for e in index.elts]
        if any(p is None for p in parts) or any(isinstance(p, gast.Tuple) for p in parts):
            return None
        return gast.Tuple(elts=parts, ctx=gast.Load())
    if _calls(index, slice, program) or _is_builtin_slice(index, program):
        if index.keywords or not 1 <= len(index.args) <= 3:
            return None
        bounds = list(index.args) if len(index.args) > 1 else [None, index.args[0]]
        bounds += [None] * (3 - len(bounds))
        lower, upper, step = (None if b is None or number_is_none(b) else b for b in bounds)
        return gast.Slice(lower=lower, upper=upper, step=step)
    if isinstance(index, gast.Constant) and (index.value is None or type(index.value) is int):
        return index
    if isinstance(index, gast.Name) and isinstance(program.analysis.shapes.of(index), IntFact):
        return index
    return None


def _is_builtin_slice(expr: gast.expr, program: AdjointProgram) -> bool:
    return (
        isinstance(expr, gast.Call)
        and isinstance(expr.func, gast.Name)
        and expr.func.id == "slice"
        and "slice" not in program.bindings.cells
    )


def number_is_none(node: gast.expr) -> bool:
    return isinstance(node, gast.Constant) and node.value is None


def _calls(expr: gast.expr, helper, program: AdjointProgram) -> bool:
    """Whether ``expr`` is a call of the runtime ``helper``."""
    if not (isinstance(expr, gast.Call) and isinstance(expr.func, gast.Name)):
        return False
    cell = program.bindings.cells.get(expr.func.id)
    try:
        return cell is not None and cell.cell_contents is helper
    except ValueError:
        return False


def _guard_block(block: list[gast.stmt], owned: dict, program: AdjointProgram) -> None:
    for index, stmt in enumerate(block):
        if isinstance(stmt, gast.AugAssign) and isinstance(stmt.target, gast.Name):
            name = stmt.target.id
            if isinstance(stmt.value, gast.Name):  # for _move_into_zero: the last pass's
                stmt.ad_source_owned = bool(owned.get(stmt.value.id))
            in_place = owned.get(name) and not program.analysis.complex_values
            if not in_place and program.adjoint_kinds.get(name) != SCALAR:
                block[index] = _out_of_place(stmt)
            owned[name] = True
        elif isinstance(stmt, gast.Assign):
            if isinstance(stmt.value, gast.Subscript) and isinstance(stmt.value.value, gast.Name):
                # for tiles.reuse_tiled_adjoints: a view of an array this code owns
                stmt.ad_base_owned = bool(owned.get(stmt.value.value.id))
            for target in assigned(stmt):
                owned[target] = _is_fresh(stmt.value, program)
        elif isinstance(stmt, gast.If):
            paths = []
            for branch in (stmt.body, stmt.orelse):
                state = dict(owned)
                _guard_block(branch, state, program)
                paths.append(state)
            _meet(owned, *paths)
        elif isinstance(stmt, (gast.For, gast.While)):
            entry = dict(owned)
            while True:
                state = dict(entry)
                _guard_block(stmt.body, state, program)
                merged = dict(entry)
                _meet(merged, entry, state)
                if merged == entry:
                    break
                entry = merged
            _meet(owned, entry)


def _meet(owned: dict, *states: dict) -> None:
    """Owned afterwards only if owned in every state."""
    names = set(owned).union(*states)
    for name in names:
        owned[name] = all(state.get(name, False) for state in states)


def _out_of_place(stmt: gast.AugAssign) -> gast.Assign:
    """``dx += e`` as ``dx = dx + e``: never writes into an array someone else holds."""
    load = gast.Name(id=stmt.target.id, ctx=gast.Load(), annotation=None, type_comment=None)
    new = assignment_like(stmt, gast.BinOp(left=load, op=gast.Add(), right=stmt.value))
    new.ad_from_zero = getattr(stmt, "ad_from_zero", False)
    return new


def _is_fresh(expr: gast.expr, program: AdjointProgram) -> bool:
    """Whether ``expr`` certainly evaluates to a new object (or an immutable scalar)."""
    if isinstance(expr, gast.BinOp) or number(expr) is not None:
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
