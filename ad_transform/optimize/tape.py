"""The scalar tape: each value stored once per iteration, loop constants never.

The reverse stage pushes, after each statement in a loop, the loop-variant values its
adjoint reads (``push((u, v9))``), and pops them right before that adjoint. Two passes
over the finished sweeps make the tape what a person keeps:

* ``drop_loop_constants``: a value computed in a loop from numbers that no loop changes
  (``v8 = 0.5 * h``, ``v1 = -k`` with ``h``, ``k`` scalars) is the same in every
  iteration; the backward sweep reads the value the forward sweep left, so it is taken
  off every push and pop;
* names the backward sweep pops but never reads are taken off the tape too;
* ``merge_pushes``: the pushes of one block (a loop body, a branch) become one push of a
  tuple with each name once, at the place of the last of them, and one pop, at the place
  of the first pop in the backward sweep. A group ends before a statement that assigns a
  name in it (its pushes saved different values) or may leave the block (``break``).

Pushes and pops are matched by ``ad_tape_slot`` (set by the reverse stage on both). A
group is merged only where its pops are all in one backward block, in the reverse order
of the pushes: the tape is a stack, so everything pushed between two pushes of the group
is popped between their pops, before and after the merge alike. Between the merged pop
and the place of an old pop nothing assigns the names of the group (the backward sweep
assigns primal names only by pops, and a pop of such a name restores the same value).
"""

from __future__ import annotations

import itertools
import math

import gast
import numpy

from ..nodes import clone
from ..rules.registry import ARRAY, SCALAR
from .walk import COMPOUND, all_statements, assigned, loaded, target_name

_ARITHMETIC = (gast.BinOp, gast.UnaryOp, gast.Name, gast.Constant, gast.Load)
_ARITHMETIC_PARTS = (gast.operator, gast.unaryop)


def compact_tape(
    program, keep: set[str] = frozenset(), plain: bool = False, recompute: bool = True
) -> None:
    """Drop loop constants from the tape and merge the pushes of each block; ``keep``
    are the names the generated code returns or saves. ``plain``: no loop lists and no
    replayed range indices (one push/pop tape for the Numba variant and higher order).
    ``recompute``: ``s = math.sin(u)`` with ``u`` on the tape is computed again after the
    pop rather than kept (``_Recomputable``); the Numba variant keeps ``s``, where a
    store costs a nanosecond and ``sin`` ten (rk4_inline 58 -> 44 µs compiled)."""
    tape = getattr(program, "tape", None)
    if not tape:
        return
    push, pop = tape["push"], tape["pop"]
    drop_dead_restores(program, keep)
    drop_fresh_restores(program, push, pop)
    pops = _pops_by_slot(program.backward, pop)
    pushes = _pushes_by_slot(program.forward, push)
    kinds = program.analysis.kinds
    constants = loop_constants(program.forward, kinds)
    if constants:
        _drop_names(constants, program.backward, pushes, pops, push, pop)
    unread = _unread_pops(program.backward, pop) - set(keep)
    if unread:
        _drop_names(unread, program.backward, pushes, pops, push, pop)
    if not plain:
        replay_range_indices(program, constants, pushes, pops, push, pop)
    recomputable = _Recomputable(program.fn.parsed.lookup, kinds) if recompute else None
    _merge_block(program.forward, pushes, pops, push, pop, recomputable)
    if not plain:
        give_loops_their_lists(program, push, pop)
    used = _load_counts([*program.forward, *program.backward])
    if not any(used.get(name) for name in tape.values()):
        program.tape = {}  # nothing left on it: no prologue (pipeline.py)


# ``math`` functions a value is computed again from (in the backward sweep) rather than
# kept on the tape: pure, and exact again on the same argument
_RECOMPUTED = frozenset(
    [
        "sin",
        "cos",
        "tan",
        "exp",
        "expm1",
        "log",
        "log1p",
        "sqrt",
        "tanh",
        "sinh",
        "cosh",
        "atan",
        "asinh",
        "erf",
    ]
)


class _Recomputable:
    """``s = math.sin(u)`` where ``u`` is on the tape too: ``s`` is left off and computed
    again after the pop, as a person keeps the angle, not its sine (``merge_pushes``)."""

    def __init__(self, lookup, kinds: dict) -> None:
        self.lookup = lookup
        self.kinds = kinds

    def argument(self, stmt: gast.stmt) -> str | None:
        """The name ``u`` of ``s = math.f(u)`` between numbers, else None."""
        name = target_name(stmt)
        value = getattr(stmt, "value", None)
        if name is None or self.kinds.get(name) != SCALAR or not isinstance(value, gast.Call):
            return None
        func = value.func
        if (
            value.keywords
            or len(value.args) != 1
            or not isinstance(value.args[0], gast.Name)
            or not isinstance(func, gast.Attribute)
            or not isinstance(func.value, gast.Name)
            or func.attr not in _RECOMPUTED
            or self.lookup(func.value.id) is not math
            or self.kinds.get(value.args[0].id) != SCALAR
        ):
            return None
        return value.args[0].id


def loop_constants(forward: list[gast.stmt], kinds: dict) -> set[str]:
    """Names assigned once, in a loop, by arithmetic on numbers no loop assigns (or on
    other such names): the same value in every iteration."""
    in_loops: set[str] = set()
    stores: dict[str, int] = {}
    candidates: dict[str, gast.expr] = {}

    def visit(block: list[gast.stmt], looped: bool) -> None:
        for stmt in block:
            for name in _own_stores(stmt):
                stores[name] = stores.get(name, 0) + 1
                if looped:
                    in_loops.add(name)
            if isinstance(stmt, gast.For):
                for node in gast.walk(stmt.target):
                    if isinstance(node, gast.Name):
                        stores[node.id] = stores.get(node.id, 0) + 1
                        in_loops.add(node.id)
            name = target_name(stmt)
            pure = getattr(stmt, "ad_pure", True) is not False
            if looped and name is not None and pure and _is_arithmetic(stmt.value):
                candidates[name] = stmt.value
            if isinstance(stmt, COMPOUND):
                inner = looped or isinstance(stmt, (gast.For, gast.While))
                visit(stmt.body, inner)
                visit(stmt.orelse, inner)

    visit(forward, False)
    constants: set[str] = set()
    changed = True
    while changed:
        changed = False
        for name, value in candidates.items():
            if name in constants or stores.get(name) != 1:
                continue
            operands = [n.id for n in gast.walk(value) if isinstance(n, gast.Name)]
            if all(
                o in constants or (o not in in_loops and kinds.get(o) == SCALAR) for o in operands
            ):
                constants.add(name)
                changed = True
    return constants


def replay_range_indices(program, constants: set[str], pushes, pops, push, pop) -> None:
    """A loop ``for i in range(...)`` of the function's body (not nested) runs backwards as
    ``for i in reversed(indices)`` over the same ``range`` object, as a person writes it:
    ``i`` and the values computed from it by arithmetic (``v3 = i - 1``) leave the tape;
    the backward iteration computes them again first.

    Only where ``i`` is assigned by nothing but the loop header (the backward sweep only
    pops it) and its trip count ``len(range(...))`` is read by the backward loop alone."""
    forward, backward = program.forward, program.backward
    stores: dict[str, int] = {}
    for stmt in all_statements(forward):
        for name in _stores_here(stmt):
            stores[name] = stores.get(name, 0) + 1
    for stmt in all_statements(backward):
        if _popped_names(stmt, pop) is None:
            for name in _stores_here(stmt):
                stores[name] = stores.get(name, 0) + 1
    loads = _load_counts([*forward, *backward])
    replayed = {}
    for position, stmt in enumerate(forward):
        counter, iterated = _trip_count(stmt)
        if counter is None or loads.get(counter) != 1:
            continue
        loop = next(
            (
                s
                for s in forward[position + 1 :]
                if isinstance(s, gast.For)
                and getattr(s, "ad_range_is_builtin", False)
                and gast.dump(s.iter) == gast.dump(iterated)
            ),
            None,
        )
        back = next((s for s in backward if _replays(s, counter)), None)
        if loop is None or back is None or not isinstance(loop.target, gast.Name):
            continue
        index = loop.target.id
        if stores.get(index) != 1 or loads.get(back.target.id, 0) != 0:
            continue
        popped = (_popped_names(s, pop) or () for s in all_statements(back.body))
        if not any(index in names for names in popped):
            continue  # the backward sweep does not read the index: it stays as it is
        indices = program.fn.names.fresh("indices")
        forward[position] = _assign_like(indices, clone(iterated), stmt)
        reversed_name = program.bindings.reference("reversed", reversed)
        back.target = _name(index, gast.Store())
        back.iter = gast.Call(
            func=_name(reversed_name, gast.Load()),
            args=[_name(indices, gast.Load())],
            keywords=[],
        )
        derived = _index_arithmetic(loop, index, constants, stores, program.analysis.kinds)
        replayed[index] = (back, derived)
        # the backward loop visits each index of this range once (element_loops.py)
        program.range_loops = {**getattr(program, "range_loops", {}), id(back): iterated}
    if not replayed:
        return
    names = set(replayed)
    for _, derived in replayed.values():
        names.update(target_name(s) for s in derived)
    _drop_names(names, backward, pushes, pops, push, pop)
    for back, derived in replayed.values():
        read = set()
        for stmt in all_statements(back.body):
            read |= loaded(stmt)
        back.body[:0] = [clone(s) for s in derived if target_name(s) in read]
        _forget(back)


def give_loops_their_lists(program, push: str, pop: str) -> None:
    """A top-level loop that pushes one value (or tuple) per iteration, popped once per
    backward iteration, keeps its values in a list of its own and the backward loop
    iterates over it: ``for y_1 in reversed(saved):`` instead of ``y_1 = pop()`` in
    ``for _ in range(iterations1):``, as a person writes it (no call per iteration).

    Only where the loop's forward body has exactly that push, at its own level and with
    no ``break``/``continue`` (one push per counted iteration), the backward body exactly
    its pop, at its own level, and nothing in the backward body before the pop reads the
    names it restores (the loop header binds them where the pop did, one value per
    iteration, in the same order)."""
    forward, backward = program.forward, program.backward
    for back in [s for s in backward if isinstance(s, gast.For)]:
        counter = _replayed_counter(back)
        loop = _counted_loop(forward, counter) if counter else None
        if loop is None or _mentions(loop, pop) or _mentions(back, push):
            continue
        pushes = [s for s in all_statements(loop.body) if _mentions(s, push)]
        pops = [s for s in all_statements(back.body) if _mentions(s, pop)]
        if len(pushes) != 1 or len(pops) != 1:
            continue
        pushed, popped = pushes[0], pops[0]
        if not any(s is pushed for s in loop.body) or not any(s is popped for s in back.body):
            continue
        if _pushed_names(pushed, push) is None or _popped_names(popped, pop) is None:
            continue
        if any(
            isinstance(s, (gast.Break, gast.Continue, gast.Return))
            for s in all_statements(loop.body)
        ):
            continue
        restored = set(_popped_names(popped, pop))
        position = next(i for i, s in enumerate(back.body) if s is popped)
        if any(restored & loaded(s) for s in back.body[:position]):
            continue
        saved = program.fn.names.fresh("saved")
        keep = program.fn.names.fresh("keep")
        appended = gast.Attribute(value=_name(saved, gast.Load()), attr="append", ctx=gast.Load())
        # at the top, like the tape's prologue: the loop stays where the user's code has it
        forward[0:0] = [
            _unlocated_assign(saved, gast.List(elts=[], ctx=gast.Load())),
            _unlocated_assign(keep, appended),
        ]
        pushed.value.func = _name(keep, gast.Load())
        _forget(pushed)
        back.target = popped.targets[0]
        reversed_name = program.bindings.reference("reversed", reversed)
        back.iter = gast.Call(
            func=_name(reversed_name, gast.Load()), args=[_name(saved, gast.Load())], keywords=[]
        )
        back.body.remove(popped)
        if not back.body:
            back.body.append(gast.Pass())
        _forget(back)
        _forget(loop)
        _drop_unread_trip_count(forward, counter, backward)


def _drop_unread_trip_count(forward: list, counter: str, backward: list) -> None:
    """``iterations1 = len(range(...))`` that nothing reads any more goes (the loop over
    the same ``range(...)`` raises where its ``len`` would)."""
    if _load_counts([*forward, *backward]).get(counter):
        return
    forward[:] = [s for s in forward if _trip_count(s)[0] != counter]


def _unlocated_assign(name: str, value: gast.expr) -> gast.Assign:
    return gast.Assign(targets=[_name(name, gast.Store())], value=value, type_comment=None)


def _replayed_counter(back: gast.For) -> str | None:
    """``for _ in range(iterations1):``: ``iterations1``."""
    it = back.iter
    if (
        isinstance(it, gast.Call)
        and isinstance(it.func, gast.Name)
        and len(it.args) == 1
        and not it.keywords
        and isinstance(it.args[0], gast.Name)
        and it.args[0].id.startswith("iterations")
        and isinstance(back.target, gast.Name)
    ):
        return it.args[0].id
    return None


def _counted_loop(forward: list[gast.stmt], counter: str):
    """The top-level loop right after ``counter``'s first assignment."""
    for position, stmt in enumerate(forward):
        if target_name(stmt) == counter:
            for later in forward[position + 1 :]:
                if isinstance(later, (gast.For, gast.While)):
                    return later
            return None
    return None


def _mentions(node, name: str) -> bool:
    return any(isinstance(n, gast.Name) and n.id == name for n in gast.walk(node))


# NumPy functions returning an array of their own (never a view of an argument)
_FRESH_ARRAYS = ("zeros", "ones", "empty", "full", "zeros_like", "ones_like", "empty_like")


def drop_dead_restores(program, keep: set[str]) -> None:
    """``a[i] = pop()`` restores an element the forward sweep overwrote (``push(a[i])``
    before the write), for the adjoints of earlier statements that read ``a``. Where
    nothing reads ``a`` after the first such restore and nothing else can see ``a``, both
    go, as a person keeps no copy of what a filter overwrites.

    ``a`` qualifies when the forward sweep binds it once, to a new array (``np.zeros``
    ...), and reads it only as ``x = a[i]`` with ``x`` a number, as an operand of an
    arithmetic operator (a new array), in its element stores and their pushes; when it is
    neither returned nor saved; and when the backward sweep reads it only before its
    first restore (in the function's own block) and in the restores."""
    forward, backward = program.forward, program.backward
    pushes: dict[str, list] = {}
    restores: dict[str, list] = {}
    for stmt in all_statements(forward):
        if getattr(stmt, "ad_item_restore", None) is not None:
            pushes.setdefault(_item_array(stmt.value.args[0]), []).append(stmt)
    for stmt in all_statements(backward):
        if getattr(stmt, "ad_item_restore", None) is not None:
            restores.setdefault(_item_array(stmt.targets[0]), []).append(stmt)
    for array, restored in restores.items():
        saving = pushes.get(array, [])
        keys = sorted(s.ad_item_restore for s in saving)
        if (
            array is None
            or array in keep
            or keys != sorted(s.ad_item_restore for s in restored)
            or len(set(keys)) != len(keys)
            or not _only_private(array, forward, program)
            or not _read_only_before(array, backward, restored)
        ):
            continue
        gone = {id(s) for s in (*saving, *restored)}
        _remove_statements(forward, gone)
        _remove_statements(backward, gone)


def drop_fresh_restores(program, push: str, pop: str) -> None:
    """``push(a[i].copy()); a[i] = v`` in the forward sweep and ``a[i] = pop()`` in the
    backward one restore what a write overwrote, for the adjoints of the statements
    before it. Where ``a`` was bound, in the same block, to a new array (``x.copy()``,
    ``np.zeros(...)``) and no statement between that binding and the write mentions
    ``a``, nothing before the write could see the array (it did not exist, or only ``a``
    names it, unread): no adjoint that runs after the restore reads it, and both go,
    as a person keeps no copy of the stencil's old interior."""
    restores = {}
    for stmt in all_statements(program.backward):
        slot = getattr(stmt, "ad_tape_slot", None)
        if slot is not None and slot[0] == "write" and _popped_into(stmt, pop) is not None:
            restores.setdefault(slot, []).append(stmt)
    gone: set[int] = set()
    for block in _blocks(program.forward):
        for position, stmt in enumerate(block[:-1]):
            slot = getattr(stmt, "ad_tape_slot", None)
            restored = restores.get(slot, [])
            if (
                slot is None
                or slot[0] != "write"
                or not getattr(stmt, "ad_tape_push", False)
                or len(restored) != 1
            ):
                continue
            array = _popped_into(restored[0], pop)
            if _written_array(block[position + 1]) != array:
                continue
            if _fresh_before(block[:position], array, program):
                gone.update((id(stmt), id(restored[0])))
    if gone:
        _remove_statements(program.forward, gone)
        _remove_statements(program.backward, gone)


def _popped_into(stmt: gast.stmt, pop: str) -> str | None:
    """``a[i] = pop()``: ``a``, else None."""
    target = _pop_target(stmt, pop)
    return None if target is None else _item_array(target)


def _pop_target(stmt: gast.stmt, pop: str) -> gast.expr | None:
    """``target = pop()``: the target, else None."""
    value = getattr(stmt, "value", None)
    if not (
        isinstance(stmt, gast.Assign)
        and len(stmt.targets) == 1
        and isinstance(value, gast.Call)
        and isinstance(value.func, gast.Name)
        and value.func.id == pop
        and not value.args
    ):
        return None
    return stmt.targets[0]


def _written_array(stmt: gast.stmt) -> str | None:
    """``a[i] = v``: ``a``, else None."""
    if isinstance(stmt, gast.Assign) and len(stmt.targets) == 1:
        return _item_array(stmt.targets[0])
    return None


def _fresh_before(before: list[gast.stmt], array: str, program) -> bool:
    """Whether the last statement of ``before`` mentioning ``array`` binds it to a new
    array (``drop_fresh_restores``)."""
    for stmt in reversed(before):
        if not any(isinstance(n, gast.Name) and n.id == array for n in gast.walk(stmt)):
            continue
        return target_name(stmt) == array and (
            _is_fresh_array(stmt, program) or _is_array_copy(stmt, program)
        )
    return False


def _is_array_copy(stmt: gast.stmt, program) -> bool:
    """``a = x.copy()`` with ``x`` and ``a`` arrays (kinds): a new array."""
    value = stmt.value
    kinds = program.analysis.kinds
    return (
        isinstance(value, gast.Call)
        and not value.args
        and not value.keywords
        and isinstance(value.func, gast.Attribute)
        and value.func.attr == "copy"
        and isinstance(value.func.value, gast.Name)
        and kinds.get(value.func.value.id) == ARRAY
        and kinds.get(target_name(stmt)) == ARRAY
    )


def _item_array(node: gast.expr) -> str | None:
    if isinstance(node, gast.Subscript) and isinstance(node.value, gast.Name):
        return node.value.id
    return None


def _only_private(array: str, forward: list[gast.stmt], program) -> bool:
    """Whether the forward sweep binds ``array`` once, to a new array, and reads it only
    in ways that make nothing else hold it (``drop_dead_restores``)."""
    bindings = [s for s in all_statements(forward) if array in _stores_here(s)]
    if len(bindings) != 1 or not _is_fresh_array(bindings[0], program):
        return False
    kinds = program.analysis.kinds
    for stmt in all_statements(forward):
        nodes = _header(stmt) if isinstance(stmt, COMPOUND) else [stmt]
        allowed = set()
        for top in nodes:
            for node in gast.walk(top):
                if isinstance(node, gast.BinOp):
                    allowed.update(id(o) for o in (node.left, node.right))
                elif isinstance(node, gast.Subscript) and isinstance(node.value, gast.Name):
                    read_into = kinds.get(target_name(stmt))
                    if node is getattr(stmt, "value", None) and read_into == SCALAR:
                        allowed.add(id(node.value))  # an element read into a number
                    elif getattr(stmt, "ad_item_restore", None) is not None:
                        allowed.add(id(node.value))  # push(a[i])
                    elif _is_element_store(stmt, node, program):
                        allowed.add(id(node.value))
        for top in nodes:
            for node in gast.walk(top):
                if (
                    isinstance(node, gast.Name)
                    and node.id == array
                    and isinstance(node.ctx, gast.Load)
                    and id(node) not in allowed
                ):
                    return False
    return True


def _header(stmt: gast.stmt) -> list:
    return [stmt.target, stmt.iter] if isinstance(stmt, gast.For) else [stmt.test]


def _is_element_store(stmt: gast.stmt, node: gast.Subscript, program) -> bool:
    """``a[i] = v``: a store whose element was pushed (a tagged push precedes it)."""
    return (
        isinstance(stmt, gast.Assign)
        and len(stmt.targets) == 1
        and stmt.targets[0] is node
        and isinstance(node.ctx, gast.Store)
        and id(stmt) in _tagged_stores(program)
    )


def _tagged_stores(program) -> set[int]:
    """The element stores whose old element a tagged push saves."""
    cached = getattr(program, "_ad_tagged_stores", None)
    if cached is None:
        cached = set()
        for block in _blocks(program.forward):
            for before, stmt in itertools.pairwise(block):
                if getattr(before, "ad_item_restore", None) is not None:
                    cached.add(id(stmt))
        program._ad_tagged_stores = cached
    return cached


def _blocks(block: list[gast.stmt]):
    yield block
    for stmt in block:
        if isinstance(stmt, COMPOUND):
            yield from _blocks(stmt.body)
            yield from _blocks(stmt.orelse)


def _is_fresh_array(stmt: gast.stmt, program) -> bool:
    value = getattr(stmt, "value", None)
    if target_name(stmt) is None or not isinstance(value, gast.Call):
        return False
    func = value.func
    if not (isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name)):
        return False
    module = program.fn.parsed.lookup(func.value.id)
    return (
        module is numpy
        and func.attr in _FRESH_ARRAYS
        and getattr(numpy, func.attr) is getattr(module, func.attr, None)
    )


def _read_only_before(array: str, backward: list[gast.stmt], restored: list) -> bool:
    """Whether the backward sweep reads ``array`` only in the restores and in its
    top-level statements before the first one holding a restore."""
    restore_ids = {id(s) for s in restored}
    first = next(
        (
            i
            for i, top in enumerate(backward)
            if any(id(s) in restore_ids for s in all_statements([top]))
        ),
        None,
    )
    if first is None:
        return False
    for top in backward[first:]:
        for stmt in all_statements([top]):
            if id(stmt) in restore_ids:
                continue
            nodes = _header(stmt) if isinstance(stmt, COMPOUND) else [stmt]
            if any(
                isinstance(n, gast.Name) and n.id == array for top in nodes for n in gast.walk(top)
            ):
                return False
    return True


def _remove_statements(block: list[gast.stmt], gone: set[int]) -> None:
    block[:] = [s for s in block if id(s) not in gone]
    for stmt in block:
        if isinstance(stmt, COMPOUND):
            _remove_statements(stmt.body, gone)
            _remove_statements(stmt.orelse, gone)
            if not stmt.body:
                stmt.body = [gast.Pass()]
            _forget(stmt)


def _trip_count(stmt: gast.stmt) -> tuple[str | None, gast.expr | None]:
    """``iterations1 = len(range(...))`` (a ``reverse.forward_loop`` trip count):
    (``iterations1``, the ``range(...)`` call), else (None, None)."""
    name = target_name(stmt)
    value = getattr(stmt, "value", None)
    if (
        name is not None
        and isinstance(value, gast.Call)
        and isinstance(value.func, gast.Name)
        and value.func.id.startswith("len")
        and len(value.args) == 1
        and isinstance(value.args[0], gast.Call)
        and name.startswith("iterations")
    ):
        return name, value.args[0]
    return None, None


def _replays(stmt: gast.stmt, counter: str) -> bool:
    """Whether ``stmt`` is the backward loop ``for _ in range(counter):``."""
    return (
        isinstance(stmt, gast.For)
        and isinstance(stmt.target, gast.Name)
        and isinstance(stmt.iter, gast.Call)
        and len(stmt.iter.args) == 1
        and isinstance(stmt.iter.args[0], gast.Name)
        and stmt.iter.args[0].id == counter
    )


def _index_arithmetic(loop, index: str, constants, stores, kinds) -> list[gast.stmt]:
    """The statements of the loop's body (its own block) computing a value by operators
    from ``index``, loop constants, numbers assigned once outside loops, or such values."""
    known = {index}
    found = []
    in_loops = set()
    for stmt in all_statements(loop.body):
        in_loops.update(_stores_here(stmt))
    for stmt in loop.body:
        name = target_name(stmt)
        if (
            name is None
            or stores.get(name) != 1
            or getattr(stmt, "ad_pure", True) is False
            or not _is_arithmetic(stmt.value)
        ):
            continue
        operands = [n.id for n in gast.walk(stmt.value) if isinstance(n, gast.Name)]
        if all(
            o in known
            or o in constants
            or (o not in in_loops and stores.get(o, 0) <= 1 and kinds.get(o) == SCALAR)
            for o in operands
        ):
            known.add(name)
            found.append(stmt)
    return found


def _stores_here(stmt: gast.stmt) -> tuple[str, ...]:
    """The names ``stmt`` itself assigns, a ``for`` statement's targets included."""
    names = _own_stores(stmt)
    if isinstance(stmt, gast.For):
        names = (*names, *(n.id for n in gast.walk(stmt.target) if isinstance(n, gast.Name)))
    return names


def _unread_pops(backward: list[gast.stmt], pop: str) -> set[str]:
    """Names the backward sweep pops but never reads afterwards (the adjoint that read one
    was written without it, ``du[1:n] += g`` for ``index_adjoint(g, u, ...)``; its restore
    went): they need not be on the tape.

    A pop is read if its name is loaded in the top-level statement holding it (a loop
    body: a later iteration, or a later statement of the same one, may read it) or in any
    top-level statement after that one. A load before it (``du = times(g, u) * 2.0``
    before the backward loop reads the last ``u`` of the forward sweep) cannot see it."""
    popped: set[str] = set()
    read: set[str] = set()
    later: dict[str, int] = {}
    for stmt in reversed(backward):
        names = set()
        for inner in all_statements([stmt]):
            names.update(_popped_names(inner, pop) or ())
        if names:
            inside = _load_counts([stmt])
            popped |= names
            read |= {n for n in names if later.get(n) or inside.get(n)}
        for name, count in _load_counts([stmt]).items():
            later[name] = later.get(name, 0) + count
    return popped - read


def _load_counts(stmts: list[gast.stmt]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for node in gast.walk(gast.Module(body=list(stmts), type_ignores=[])):
        if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load):
            counts[node.id] = counts.get(node.id, 0) + 1
    return counts


def _assign_like(name: str, value: gast.expr, like: gast.stmt) -> gast.Assign:
    stmt = gast.Assign(targets=[_name(name, gast.Store())], value=value, type_comment=None)
    for key, attribute in like.__dict__.items():
        if key.startswith("origin"):
            setattr(stmt, key, attribute)
    return stmt


def _is_arithmetic(value: gast.expr) -> bool:
    """Operators on names and constants only (no call, no subscript, no attribute)."""
    return all(isinstance(n, _ARITHMETIC + _ARITHMETIC_PARTS) for n in gast.walk(value))


def _pushed_names(stmt: gast.stmt, push: str) -> list[str] | None:
    """``push(a)`` / ``push((a, b))``: the names, else None."""
    value = getattr(stmt, "value", None)
    if not (
        isinstance(stmt, gast.Expr)
        and isinstance(value, gast.Call)
        and isinstance(value.func, gast.Name)
        and value.func.id == push
        and len(value.args) == 1
    ):
        return None
    return _names_of(value.args[0])


def _popped_names(stmt: gast.stmt, pop: str) -> list[str] | None:
    """``a = pop()`` / ``a, b = pop()``: the names, else None."""
    target = _pop_target(stmt, pop)
    return None if target is None else _names_of(target)


def _names_of(node: gast.expr) -> list[str] | None:
    if isinstance(node, gast.Name):
        return [node.id]
    elements = node.elts if isinstance(node, gast.Tuple) else []
    if elements and all(isinstance(e, gast.Name) for e in elements):
        return [e.id for e in elements]
    return None


def _pops_by_slot(backward: list[gast.stmt], pop: str) -> dict:
    """slot -> (the block holding its pop, the pop), for slots popped exactly once."""
    found: dict = {}
    twice = set()

    def visit(block: list[gast.stmt]) -> None:
        for stmt in block:
            slot = getattr(stmt, "ad_tape_slot", None)
            if slot is not None and _popped_names(stmt, pop) is not None:
                if slot in found:
                    twice.add(slot)
                found[slot] = (block, stmt)
            if isinstance(stmt, COMPOUND):
                visit(stmt.body)
                visit(stmt.orelse)

    visit(backward)
    return {slot: entry for slot, entry in found.items() if slot not in twice}


def _pushes_by_slot(forward: list[gast.stmt], push: str) -> dict:
    """slot -> its push, for slots pushed exactly once (with names)."""
    found: dict = {}
    twice = set()
    for stmt in all_statements(forward):
        slot = getattr(stmt, "ad_tape_slot", None)
        if slot is not None and getattr(stmt, "ad_tape_push", False):
            if slot in found or _pushed_names(stmt, push) is None:
                twice.add(slot)
            found[slot] = stmt
    return {slot: stmt for slot, stmt in found.items() if slot not in twice}


def _drop_names(
    names: set[str], backward: list[gast.stmt], pushes: dict, pops: dict, push: str, pop: str
) -> None:
    """Take ``names`` off every push and pop; a name also in a push or pop this pass
    cannot edit stays everywhere."""
    editable = {slot for slot in pushes if slot in pops}
    for slot, stmt in pushes.items():
        if slot not in editable:
            names -= set(_pushed_names(stmt, push) or ())
    for stmt in all_statements(backward):
        popped = _popped_names(stmt, pop)
        if popped is not None and getattr(stmt, "ad_tape_slot", None) not in editable:
            names -= set(popped)
    for slot in editable:
        pushed = _pushed_names(pushes[slot], push)
        popped = _popped_names(pops[slot][1], pop)
        if pushed != popped or not names.intersection(pushed):
            continue
        kept = [n for n in pushed if n not in names]
        _rewrite(pushes, pops, slot, kept, push, pop)


def _rewrite(pushes: dict, pops: dict, slot, kept: list[str], push: str, pop: str) -> None:
    """Make the push and the pop of ``slot`` save ``kept`` (nothing: both go)."""
    old_push = pushes[slot]
    block, old_pop = pops[slot]
    if not kept:
        old_push.ad_tape_removed = True
        block.remove(old_pop)
        del pops[slot]
        return
    value = _tuple_or_name(kept, gast.Load())
    old_push.value = gast.Call(func=_name(push, gast.Load()), args=[value], keywords=[])
    _forget(old_push)
    old_pop.targets = [_tuple_or_name(kept, gast.Store())]
    _forget(old_pop)


def _merge_block(
    block: list[gast.stmt], pushes: dict, pops: dict, push: str, pop: str, recompute=None
) -> None:
    """Merge the pushes of ``block`` group by group; then those of its nested blocks."""
    out: list[gast.stmt] = []
    group: list = []  # (slot, names) of the pushes in the current group
    names: set[str] = set()

    def close() -> None:
        _merge_group(group, out, pushes, pops, push, pop, recompute)
        group.clear()
        names.clear()

    for stmt in block:
        if getattr(stmt, "ad_tape_removed", False):
            continue
        slot = getattr(stmt, "ad_tape_slot", None)
        pushed = _pushed_names(stmt, push) if getattr(stmt, "ad_tape_push", False) else None
        if pushed is not None and slot in pushes and slot in pops:
            group.append((slot, pushed))
            names.update(pushed)
            out.append(stmt)
            continue
        if _leaves_block(stmt) or names.intersection(_stores(stmt)):
            close()
        out.append(stmt)
        if _leaves_block(stmt):
            close()
    close()
    block[:] = out
    for stmt in block:
        if isinstance(stmt, COMPOUND):
            _merge_block(stmt.body, pushes, pops, push, pop, recompute)
            _merge_block(stmt.orelse, pushes, pops, push, pop, recompute)


def _merge_group(
    group: list, out: list, pushes: dict, pops: dict, push: str, pop: str, recompute=None
) -> None:
    if not group or (len(group) < 2 and recompute is None):
        return
    block = pops[group[0][0]][0]
    positions = []
    for slot, _ in group:
        pop_block, pop_stmt = pops[slot]
        if pop_block is not block or not any(s is pop_stmt for s in block):
            return
        positions.append(next(i for i, s in enumerate(block) if s is pop_stmt))
    if positions != sorted(positions, reverse=True) or len(set(positions)) != len(positions):
        return
    merged: list[str] = []
    for _, names in group:
        merged.extend(n for n in names if n not in merged)
    computed = _recomputed(merged, out, recompute) if recompute is not None else []
    if len(group) < 2 and not computed:
        return
    merged = [n for n in merged if n not in {c for c, _ in computed}]
    last_slot = group[-1][0]
    for slot, _ in group[:-1]:
        stale = pushes[slot]
        out[:] = [s for s in out if s is not stale]
        pop_stmt = pops[slot][1]
        block[:] = [s for s in block if s is not pop_stmt]
        del pops[slot]
    if computed:  # computed again right after the pop, from the values it restores
        position = next(i for i, s in enumerate(block) if s is pops[last_slot][1])
        block[position + 1 : position + 1] = [stmt for _, stmt in computed]
    _rewrite(pushes, pops, last_slot, merged, push, pop)


def _recomputed(merged: list[str], out: list[gast.stmt], recompute) -> list:
    """(name, its statement) for the names of ``merged`` computed by a ``math`` function
    from another name of ``merged`` (``_Recomputable``) in this block, the argument
    unchanged from there to the end of the block."""
    found = []
    kept = set(merged)
    for position, stmt in enumerate(out):
        name = target_name(stmt)
        if name not in kept:
            continue
        argument = recompute.argument(stmt)
        if argument is None or argument not in kept or argument == name:
            continue
        if any(argument in _stores(later) for later in out[position + 1 :]):
            continue
        if any(name in _stores(later) for later in out[position + 1 :]):
            continue
        found.append((name, clone(stmt)))
        kept.discard(name)
    return found


def _stores(stmt: gast.stmt) -> set[str]:
    """Every name ``stmt`` assigns, nested statements and ``for`` targets included."""
    found = set()
    for inner in all_statements([stmt]):
        found.update(_own_stores(inner))
        if isinstance(inner, gast.For):
            found.update(n.id for n in gast.walk(inner.target) if isinstance(n, gast.Name))
    return found


def _own_stores(stmt: gast.stmt) -> tuple[str, ...]:
    """The names ``stmt`` itself assigns; a catching statement's test too (``emit`` writes
    ``ran = False`` in its ``except`` branch)."""
    names = assigned(stmt)
    if getattr(stmt, "ad_catch", False) and isinstance(stmt.test, gast.Name):
        names = (*names, stmt.test.id)
    return names


def _leaves_block(stmt: gast.stmt) -> bool:
    """Whether the statement may end its block early (``break``, ``continue``, ``return``,
    a catching statement whose ``except`` runs instead)."""
    if getattr(stmt, "ad_catch", False):
        return True
    return any(
        isinstance(inner, (gast.Break, gast.Continue, gast.Return))
        for inner in all_statements([stmt])
    )


def _tuple_or_name(names: list[str], ctx) -> gast.expr:
    if len(names) == 1:
        return _name(names[0], ctx)
    return gast.Tuple(elts=[_name(n, type(ctx)()) for n in names], ctx=ctx)


def _name(identifier: str, ctx) -> gast.Name:
    return gast.Name(id=identifier, ctx=ctx, annotation=None, type_comment=None)


def _forget(stmt: gast.stmt) -> None:
    for key in ("_ad_names", "_ad_loaded", "_ad_assigned"):
        stmt.__dict__.pop(key, None)
