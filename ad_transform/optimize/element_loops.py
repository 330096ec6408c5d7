"""Element loops of the backward sweep as a person writes them (issue 15, IIR filters).

A backward loop ``for i in reversed(indices):`` that ``tape.replay_range_indices`` made
from a ``for i in range(...)`` of the forward sweep visits each index of that range
once, descending. Two element statements the reverse stage writes there are then more
than the code needs:

* ``first_element_writes``: ``dx[i] += g`` is ``dx[i] = g`` where ``dx`` is a fresh
  zero array when the loop starts and no other statement of the loop mentions it: no
  iteration has written ``dx[i]`` before (one read and one write fewer per step);
* ``dead_element_resets``: ``dout[i] = 0.0`` (the adjoint of an element the forward
  sweep overwrote) goes where nothing reads ``dout[i]`` after it: the loop reads and
  accumulates only at ``i - c`` with ``0 <= c <= start`` (``c > 0`` after the reset),
  and what follows the loop only at constant indices below the range's start.

Both need the index to be the loop target, assigned nowhere in the body, and the
arrays to be names of the backward sweep (adjoints), not read by the forward sweep
nor returned or saved.
"""

from __future__ import annotations

import gast

from .. import runtime
from ..shapes import ArrayFact
from .walk import all_statements, assigned, assignment_counts, forget, mentions


def first_element_writes(program) -> None:
    """``dx[i] += g`` as ``dx[i] = g`` in range loops where ``dx[i]`` is still zero."""
    if program.analysis.complex_values:
        return
    zeros = program.bindings.existing("zeros_like", runtime.zeros_like)
    backward = program.backward
    for position, back in enumerate(backward):
        index = _range_index(program, back)
        if index is None or zeros is None:
            continue
        for at, stmt in enumerate(back.body):
            array = _accumulated_element(stmt, index)
            if array is None or _mentioned_by(program.forward, array):
                continue
            if sum(mentions(s, array) for s in back.body) != 1:
                continue
            if array in _names(stmt.value) or not _fresh_zeros(
                array, backward[:position], zeros, program
            ):
                continue
            back.body[at] = _assignment(stmt)
            forget(back)


def dead_element_resets(program, protected: set[str]) -> None:
    """``dout[i] = 0.0`` goes from range loops where nothing reads ``dout[i]`` later."""
    backward = program.backward
    for position, back in enumerate(backward):
        index = _range_index(program, back)
        start = _range_start(program.range_loops[id(back)]) if index is not None else None
        if start is None:
            continue
        offsets = _index_offsets(back.body, index)
        for stmt in list(back.body):
            array = _reset_element(stmt, index)
            if array is None or array in protected or _mentioned_by(program.forward, array):
                continue
            if not _only_elements_read(array, backward):
                continue
            at = back.body.index(stmt)
            if _dead_reset(array, back.body, at, offsets, start, backward[position + 1 :]):
                del back.body[at]
                forget(back)


def _range_index(program, back: gast.stmt) -> str | None:
    """The index of a backward loop over a replayed range, assigned nowhere in its body."""
    if id(back) not in getattr(program, "range_loops", {}) or not isinstance(back, gast.For):
        return None
    if not isinstance(back.target, gast.Name) or back.orelse:
        return None
    index = back.target.id
    if any(index in assigned(s) for s in all_statements(back.body)):
        return None
    if any(isinstance(s, (gast.For, gast.While)) for s in all_statements(back.body)):
        return None  # an inner loop could bind it as its target
    return index


def _range_start(iterated: gast.expr) -> int | None:
    """The first value of ``range(a, b)`` / ``range(a, b, step)`` with constant ``a >= 0``
    and a positive constant step (the loop runs backwards from below ``b`` down to ``a``)."""
    if not isinstance(iterated, gast.Call) or iterated.keywords:
        return None
    args = iterated.args
    if len(args) == 1:
        return 0
    if len(args) == 3 and not (_int_constant(args[2]) is not None and _int_constant(args[2]) > 0):
        return None
    start = _int_constant(args[0]) if len(args) in (2, 3) else None
    return start if start is not None and start >= 0 else None


def _int_constant(node) -> int | None:
    if isinstance(node, gast.Constant) and type(node.value) is int:
        return node.value
    return None


def _element(node, index_names) -> str | None:
    """``a[k]`` with ``k`` one of ``index_names``: the array's name."""
    if (
        isinstance(node, gast.Subscript)
        and isinstance(node.value, gast.Name)
        and isinstance(node.slice, gast.Name)
        and node.slice.id in index_names
    ):
        return node.value.id
    return None


def _accumulated_element(stmt: gast.stmt, index: str) -> str | None:
    if isinstance(stmt, gast.AugAssign) and isinstance(stmt.op, gast.Add):
        return _element(stmt.target, {index})
    return None


def _reset_element(stmt: gast.stmt, index: str) -> str | None:
    if (
        isinstance(stmt, gast.Assign)
        and len(stmt.targets) == 1
        and isinstance(stmt.value, gast.Constant)
        and stmt.value.value == 0.0
        and type(stmt.value.value) in (int, float)
    ):
        return _element(stmt.targets[0], {index})
    return None


def _names(node) -> set[str]:
    return {n.id for n in gast.walk(node) if isinstance(n, gast.Name)}


def _mentioned_by(block: list[gast.stmt], name: str) -> bool:
    return any(mentions(s, name) for s in block)


def _fresh_zeros(array: str, before: list[gast.stmt], zeros: str, program) -> bool:
    """Whether the last statement of ``before`` mentioning ``array`` is
    ``array = zeros_like(x)`` of an array ``x`` (a new float array of zeros)."""
    last = next((s for s in reversed(before) if mentions(s, array)), None)
    if not (
        isinstance(last, gast.Assign)
        and len(last.targets) == 1
        and isinstance(last.targets[0], gast.Name)
        and last.targets[0].id == array
        and isinstance(last.value, gast.Call)
        and isinstance(last.value.func, gast.Name)
        and last.value.func.id == zeros
        and len(last.value.args) == 1
        and not last.value.keywords
        and isinstance(last.value.args[0], gast.Name)
    ):
        return False
    fact = program.analysis.shapes.names.get(last.value.args[0].id)
    return isinstance(fact, ArrayFact) and fact.ndim >= 1


def _assignment(stmt: gast.AugAssign) -> gast.Assign:
    target = stmt.target
    target.ctx = gast.Store()
    new = gast.copy_location(gast.Assign(targets=[target], value=stmt.value), stmt)
    for key, value in stmt.__dict__.items():
        if key.startswith("ad_") or key == "origin_line":
            setattr(new, key, value)
    return new


def _index_offsets(body: list[gast.stmt], index: str) -> dict[str, int]:
    """Names bound once in ``body`` to ``i - c`` (``c`` a constant >= 0) -> ``c``;
    ``i`` itself -> 0."""
    counts = assignment_counts(body)
    offsets = {index: 0}
    for stmt in body:
        if not (
            isinstance(stmt, gast.Assign)
            and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], gast.Name)
            and counts.get(stmt.targets[0].id) == 1
        ):
            continue
        value = stmt.value
        if (
            isinstance(value, gast.BinOp)
            and isinstance(value.op, gast.Sub)
            and isinstance(value.left, gast.Name)
            and value.left.id == index
            and _int_constant(value.right) is not None
            and _int_constant(value.right) >= 0
        ):
            offsets[stmt.targets[0].id] = _int_constant(value.right)
    return offsets


def _dead_reset(
    array: str,
    body: list[gast.stmt],
    at: int,
    offsets: dict[str, int],
    start: int,
    after: list[gast.stmt],
) -> bool:
    """Whether the reset ``body[at]`` of ``array[i]`` is never read: see the module."""
    at_index = {name for name, c in offsets.items() if c == 0}
    read_here = any(
        isinstance(n, gast.Subscript)
        and isinstance(n.ctx, gast.Load)
        and _element(n, at_index) == array
        for s in body[:at]
        for n in gast.walk(s)
    )
    if not read_here:
        return False  # the reset is what raises where ``i`` is out of range
    for position, stmt in enumerate(body):
        if position == at or not mentions(stmt, array):
            continue
        for offset in _element_offsets(stmt, array, offsets):
            if offset is None or offset > start or (position > at and offset == 0):
                return False
    for stmt in after:
        if not mentions(stmt, array):
            continue
        for node in _array_mentions(stmt, array):
            k = _int_constant(node.slice) if isinstance(node, gast.Subscript) else None
            if k is None or not 0 <= k < start:
                return False
    return True


def _only_elements_read(array: str, backward: list[gast.stmt]) -> bool:
    """Whether the backward sweep reads ``array`` only by its elements (no alias of it
    can see an element later)."""
    for stmt in all_statements(backward):
        if isinstance(stmt, (gast.For, gast.While, gast.If)):
            header = [stmt.iter if isinstance(stmt, gast.For) else stmt.test]
            if any(
                isinstance(n, gast.Name) and n.id == array for h in header for n in gast.walk(h)
            ):
                return False
            continue
        for node in _array_mentions(stmt, array):
            if isinstance(node, gast.Name) and not isinstance(node.ctx, gast.Store):
                return False
    return True


def _array_mentions(stmt: gast.stmt, array: str) -> list:
    """Each use of ``array`` in ``stmt``: the subscript ``array[...]`` around it, or the
    bare name (a use of the whole array)."""
    parents = {}
    for node in gast.walk(stmt):
        for child in gast.iter_child_nodes(node):
            parents[id(child)] = node
    found = []
    for node in gast.walk(stmt):
        if isinstance(node, gast.Name) and node.id == array:
            parent = parents.get(id(node))
            if isinstance(parent, gast.Subscript) and parent.value is node:
                found.append(parent)
            else:
                found.append(node)
    return found


def _element_offsets(stmt: gast.stmt, array: str, offsets: dict[str, int]) -> list:
    """The offset ``c`` of each ``array[i - c]`` in ``stmt`` (None for any other use)."""
    result = []
    for node in _array_mentions(stmt, array):
        if isinstance(node, gast.Subscript) and isinstance(node.slice, gast.Name):
            result.append(offsets.get(node.slice.id))
        else:
            result.append(None)
    return result
