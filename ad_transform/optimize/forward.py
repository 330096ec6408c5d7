"""The forward sweep as a person writes it: whole expressions, not one operation a line.

The trace gives every operation a name (``v2 = y_1 * 0.9``, ``v3 = v2 - 0.05``), which the
backward sweep needs only for some of them. Where it needs none:

* ``fold_temporaries``: a temporary read once, by a later statement of its own block,
  goes back into that expression (``y_2 = y_1 * 0.9 - 0.05 + x * 0.01``);
* ``coalesce_copies``: a join copy ``y_1 = y_4`` after the statements that assign
  ``y_4`` assigns ``y_1`` there directly.

Only plain arithmetic, comparisons and calls of pure functions on local names move,
and only past statements that neither assign what they read nor have effects (a
tape push aside), so every value stays the same.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import gast

from ..nodes import name_ids, subnodes
from .walk import (
    COMPOUND,
    all_statements,
    assigned,
    drop_self_assignments,
    forget,
    mentions,
    target_name,
)

# expressions evaluated later, or several times, than where they stand
_DEFERRED = (gast.Lambda, gast.ListComp, gast.SetComp, gast.DictComp, gast.GeneratorExp)


def fold_temporaries(
    forward: list[gast.stmt], needed: set[str], arrays: frozenset[str] = frozenset()
) -> list[gast.stmt]:
    """Substitute single-use temporaries into their use (a new list); ``needed`` are names
    read after the forward sweep (by the backward sweep, or returned).

    ``arrays``: names that hold an ndarray in every call (shape facts). An element read
    ``v = a[k]`` of one (``k`` a name or a number) moves too, past statements without
    calls that do not assign what it reads (an element store is not passed), also into
    an element store ``out[i] = v``: ``out[i] = a * out[i - 1] + x[i]``."""
    loads, stores = _counts(forward)
    block = list(forward)
    _sweep_blocks(
        block,
        lambda b, i: (
            _is_temporary(b[i], loads, stores, needed, arrays) and _fold_into_use(b, i, arrays)
        ),
    )
    return block


def _sweep_blocks(block: list[gast.stmt], goes: Callable[[list, int], bool]) -> None:
    """Visit every block, inner ones first, deleting ``block[i]`` where ``goes(block, i)``."""
    index = 0
    while index < len(block):
        stmt = block[index]
        if isinstance(stmt, COMPOUND):
            _sweep_blocks(stmt.body, goes)
            _sweep_blocks(stmt.orelse, goes)
        if goes(block, index):
            del block[index]
            continue
        index += 1


def _is_temporary(
    stmt: gast.stmt, loads: Counter, stores: Counter, needed: set[str], arrays: frozenset[str]
) -> bool:
    name = target_name(stmt)
    if name is None or not getattr(stmt, "ad_pure", True) or getattr(stmt, "ad_header", False):
        return False
    return (
        loads[name] == 1
        and stores[name] == 1
        and name not in needed
        and _movable(stmt.value, arrays)
    )


def _movable(expr: gast.expr, arrays: frozenset[str] = frozenset()) -> bool:
    """Arithmetic, comparisons and plain calls (``math.sin(y)``) of names and numbers;
    element reads of ``arrays``."""
    if isinstance(expr, (gast.Name, gast.Constant)):
        return True
    if _element_read(expr, arrays):
        return True
    if isinstance(expr, gast.BinOp):
        return _movable(expr.left, arrays) and _movable(expr.right, arrays)
    if isinstance(expr, gast.UnaryOp):
        return _movable(expr.operand, arrays)
    if isinstance(expr, gast.Compare):
        return _movable(expr.left, arrays) and all(_movable(c, arrays) for c in expr.comparators)
    if isinstance(expr, gast.Call):
        return (
            _is_dotted_name(expr.func)
            and not expr.keywords
            and all(_movable(a, arrays) and not isinstance(a, gast.Starred) for a in expr.args)
        )
    return False


def _element_read(expr: gast.expr, arrays: frozenset[str]) -> bool:
    """``a[k]``: ``a`` one of ``arrays``, ``k`` index arithmetic (``i - 1``)."""
    return (
        isinstance(expr, gast.Subscript)
        and isinstance(expr.ctx, gast.Load)
        and isinstance(expr.value, gast.Name)
        and expr.value.id in arrays
        and _index_arithmetic(expr.slice)
    )


def _index_arithmetic(expr: gast.expr) -> bool:
    """A name, a number, or ``+ - *`` of them (``i - 1``)."""
    if isinstance(expr, (gast.Name, gast.Constant)):
        return True
    return (
        isinstance(expr, gast.BinOp)
        and isinstance(expr.op, (gast.Add, gast.Sub, gast.Mult))
        and _index_arithmetic(expr.left)
        and _index_arithmetic(expr.right)
    )


def _reads_element(expr: gast.expr) -> bool:
    return any(isinstance(n, gast.Subscript) for n in gast.walk(expr))


def _is_element_store(stmt: gast.stmt, name: str) -> bool:
    """``out[i] = e`` whose target (array and index names) does not read ``name``."""
    return (
        isinstance(stmt, gast.Assign)
        and len(stmt.targets) == 1
        and isinstance(stmt.targets[0], gast.Subscript)
        and isinstance(stmt.targets[0].value, gast.Name)
        and isinstance(stmt.targets[0].slice, (gast.Name, gast.Constant))
        and name not in name_ids(stmt.targets[0])
    )


def _is_dotted_name(expr: gast.expr) -> bool:
    while isinstance(expr, gast.Attribute):
        expr = expr.value
    return isinstance(expr, gast.Name)


def _fold_into_use(
    block: list[gast.stmt], index: int, arrays: frozenset[str] = frozenset()
) -> bool:
    """Put ``block[index]``'s value where its target is read, if that is safe."""
    stmt = block[index]
    name = stmt.targets[0].id
    reads = name_ids(stmt.value)
    elements = _reads_element(stmt.value)
    for later in block[index + 1 :]:
        if mentions(later, name):
            use = (
                isinstance(later, gast.Assign)
                and _is_plain_assign(later)
                and getattr(later, "ad_pure", True)
            ) or (bool(arrays) and _is_element_store(later, name))
            if not use or any(isinstance(n, _DEFERRED) for n in subnodes(later.value)):
                return False
            if isinstance(later.value, gast.Name):  # a copy: the result is the definition's
                later.origin_line = getattr(stmt, "origin_line", None)
                gast.copy_location(later, stmt)
            _substitute(later, name, stmt.value)
            forget(later)
            return True
        if not _can_pass(later, reads) or (elements and _has_call(later)):
            return False
    return False


def _has_call(stmt: gast.stmt) -> bool:
    """A call may change an array whose element a moved read takes (a tape push does not)."""
    if getattr(stmt, "ad_tape_push", False):
        return False
    return any(isinstance(n, gast.Call) for n in gast.walk(stmt))


def _can_pass(stmt: gast.stmt, reads: set[str]) -> bool:
    """Whether an expression reading ``reads`` may move past ``stmt``."""
    if getattr(stmt, "ad_tape_push", False):
        return True
    return (
        isinstance(stmt, gast.Assign)
        and _is_plain_assign(stmt)
        and getattr(stmt, "ad_pure", True)
        and not set(assigned(stmt)) & reads
    )


def _is_plain_assign(stmt: gast.Assign) -> bool:
    return all(isinstance(t, gast.Name) for t in stmt.targets)


def _substitute(stmt: gast.stmt, name: str, value: gast.expr) -> None:
    """Put ``value`` where ``stmt`` reads ``name``."""
    for node in subnodes(stmt):
        for field, child in gast.iter_fields(node):
            if _reads(child, name):
                setattr(node, field, value)
            elif isinstance(child, list):
                for position, item in enumerate(child):
                    if _reads(item, name):
                        child[position] = value


def _reads(node, name: str) -> bool:
    return isinstance(node, gast.Name) and node.id == name and isinstance(node.ctx, gast.Load)


def coalesce_copies(forward: list[gast.stmt], needed: set[str]) -> list[gast.stmt]:
    """``b = e ... a = b`` as ``a = e`` where ``b`` is read only by the copy (a new list)."""
    loads, stores = _counts(forward)
    block = list(forward)
    _sweep_blocks(block, lambda b, i: _is_copy(b[i], loads, needed) and _retarget(b, i, stores))
    drop_self_assignments(block)
    return block


def _is_copy(stmt: gast.stmt, loads: Counter, needed: set[str]) -> bool:
    return (
        target_name(stmt) is not None
        and isinstance(stmt.value, gast.Name)
        and stmt.targets[0].id != stmt.value.id
        and getattr(stmt, "ad_pure", True)
        and loads[stmt.value.id] == 1
        and stmt.value.id not in needed
    )


def _retarget(block: list[gast.stmt], index: int, stores: Counter) -> bool:
    """Make the assignments of ``b`` that reach ``a = b`` assign ``a``; whether done."""
    copy = block[index]
    a, b = copy.targets[0].id, copy.value.id
    for earlier in reversed(block[:index]):
        if not mentions(earlier, b):
            if mentions(earlier, a):
                return False
            continue
        defs = _final_definitions(earlier, a, b)
        if defs is None or len(defs) != stores[b]:
            return False
        for definition in defs:
            definition.targets[0].id = a
            forget(definition)
        forget(earlier)
        return True
    return False


def _final_definitions(stmt: gast.stmt, a: str, b: str) -> list[gast.Assign] | None:
    """The ``b = e`` statements that end ``stmt`` on every path (nothing mentions ``a``
    after them), or None."""
    if target_name(stmt) == b:
        return [stmt]
    if isinstance(stmt, gast.If) and stmt.orelse and not mentions(stmt.test, b):
        found = []
        for branch in (stmt.body, stmt.orelse):
            defs = _last_definitions(branch, a, b)
            if defs is None:
                return None
            found.extend(defs)
        return found
    return None


def _last_definitions(branch: list[gast.stmt], a: str, b: str) -> list[gast.Assign] | None:
    for earlier in reversed(branch):
        if mentions(earlier, b):
            return _final_definitions(earlier, a, b)
        if mentions(earlier, a):
            return None
    return None


def _counts(stmts: list[gast.stmt]) -> tuple[Counter, Counter]:
    """How often each name is read, and assigned, anywhere in ``stmts``."""
    loads: Counter = Counter()
    stores: Counter = Counter()
    for node in subnodes(stmts):
        if isinstance(node, gast.Name):
            if isinstance(node.ctx, gast.Load):
                loads[node.id] += 1
            else:
                stores[node.id] += 1
    for stmt in all_statements(stmts):
        if isinstance(stmt, gast.AugAssign) and isinstance(stmt.target, gast.Name):
            loads[stmt.target.id] += 1
    return loads, stores
