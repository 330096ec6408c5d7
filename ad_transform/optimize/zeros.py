"""Adjoints known to be zero, and stores nobody reads.

The reverse stage writes every contribution as ``d += e`` and resets ``d = 0.0`` once
``d`` has been propagated, so that the next contribution (the next iteration, the
other branch) starts from zero. Two dataflow analyses over the structured backward
sweep (branches and loops included) turn that into what a person writes:

* ``assign_known_zeros``: where ``d`` certainly holds the ``0.0`` of a reset or a
  zero-initialisation, ``d += e`` is ``d = e``;
* ``drop_dead_stores``: an assignment whose value no statement can read before it is
  overwritten goes: typically the resets and zero-initialisations the first rewrite
  made unnecessary.

Run in this order the two are sound together: the first rewrite keeps every value the
same, and the second removes only stores that the rewritten code never reads.
"""

from __future__ import annotations

import gast

from .propagation import number
from .walk import (
    accumulates,
    all_statements,
    assigned,
    assignment_like,
    header_reads,
    header_stores,
    loaded,
    mentions,
    target_name,
)

_LOOPS = (gast.For, gast.While)


def assign_known_zeros(
    block: list[gast.stmt], adjoints: set[str], predefined: set[str], resets: bool = True
) -> list[gast.stmt]:
    """``d += e`` as ``d = e`` wherever the adjoint ``d`` is not yet bound (its first
    contribution) or, with ``resets``, certainly zero; ``predefined`` adjoints are bound on
    entry (a new list)."""
    block = list(block)
    unbound = frozenset(adjoints - predefined)
    _zeros(block, unbound, adjoints if resets else set(), rewrite=True)
    return block


def mark_zero_starts(block: list[gast.stmt], adjoints: set[str]) -> None:
    """Mark ``d += e`` where the adjoint ``d`` certainly holds ``0.0`` (a reset or a zero
    initialisation, no contribution since) with ``ad_from_zero``: its result is a new
    object (``0.0 + e``), no other name holds it. The code is not changed."""
    for stmt in all_statements(block):
        stmt.__dict__.pop("ad_from_zero", None)
    _zeros(block, frozenset(), adjoints, rewrite="mark")


def _zeros(block, zero: frozenset, adjoints: set[str], rewrite) -> frozenset:
    """The adjoints known to be zero after ``block``, given those zero before it; with
    ``rewrite``, ``block`` is rewritten on the way (``"mark"``: marked, see
    ``mark_zero_starts``)."""
    for index, stmt in enumerate(block):
        if isinstance(stmt, gast.If):
            body = _zeros(stmt.body, zero, adjoints, rewrite)
            orelse = _zeros(stmt.orelse, zero, adjoints, rewrite)
            zero = body & orelse
        elif isinstance(stmt, _LOOPS):
            zero = _loop_zeros(stmt, zero, adjoints, rewrite)
        elif _is_reset(stmt) and stmt.targets[0].id in adjoints:
            zero = zero | {stmt.targets[0].id}
        elif (
            accumulates(stmt)
            and stmt.target.id in zero
            and not mentions(stmt.value, stmt.target.id)
        ):
            if rewrite == "mark":
                stmt.ad_from_zero = True
            elif rewrite:
                block[index] = assignment_like(stmt, stmt.value)
            zero = zero - {stmt.target.id}
        else:
            zero = zero - set(_stores(stmt))
    return zero


def _loop_zeros(loop, zero: frozenset, adjoints: set[str], rewrite: bool) -> frozenset:
    """Zero at the top of every iteration: zero on entry and again at the end of the body."""
    bound = header_stores(loop)
    if loop.orelse or _jumps(loop.body):
        head = frozenset()
    else:
        head = zero - bound
        while True:
            after_body = _zeros(loop.body, head, adjoints, rewrite=False)
            narrowed = head & after_body - bound
            if narrowed == head:
                break
            head = narrowed
    _zeros(loop.body, head, adjoints, rewrite)
    if loop.orelse or _jumps(loop.body):
        return frozenset()
    return head


def drop_dead_stores(block: list[gast.stmt], live_out: set[str]) -> list[gast.stmt]:
    """``block`` without the pure assignments to names no later statement reads (a new list).

    ``live_out`` are the names read after ``block`` (returned or saved)."""
    block = list(block)
    _live(block, set(live_out), _Jumps(set(), set()), sweep=True)
    return block


class _Jumps:
    """What is live where a ``break`` and a ``continue`` of the innermost loop go."""

    def __init__(self, after_loop: set[str], loop_head: set[str]) -> None:
        self.after_loop = after_loop
        self.loop_head = loop_head


def _live(block: list[gast.stmt], live: set[str], jumps: _Jumps, sweep: bool) -> set[str]:
    """The names live before ``block`` given those live after it; with ``sweep``, dead
    stores are removed from ``block`` on the way."""
    for index in range(len(block) - 1, -1, -1):
        stmt = block[index]
        if isinstance(stmt, gast.If):
            body = _live(stmt.body, set(live), jumps, sweep)
            orelse = _live(stmt.orelse, set(live), jumps, sweep)
            if sweep and not stmt.body and not stmt.orelse and isinstance(stmt.test, gast.Name):
                del block[index]  # nothing left to choose between
                continue
            live = body | orelse | header_reads(stmt)
            if sweep and not stmt.body:
                stmt.body = [gast.Pass()]
        elif isinstance(stmt, _LOOPS):
            live = _loop_live(stmt, live, jumps, sweep)
        elif isinstance(stmt, gast.Break):
            live = set(jumps.after_loop)
        elif isinstance(stmt, gast.Continue):
            live = set(jumps.loop_head)
        elif sweep and _is_dead_store(stmt, live):
            del block[index]
        else:
            if not isinstance(stmt, gast.AugAssign):
                live = live - set(assigned(stmt))
            live = live | loaded(stmt)
    return live


def _loop_live(loop, after: set[str], jumps: _Jumps, sweep: bool) -> set[str]:
    """Live before ``loop``: iterate to the live set at the loop's head."""
    bound = header_stores(loop)
    header = header_reads(loop)
    if loop.orelse:
        after = after | _live(list(loop.orelse), set(after), jumps, sweep=False)
    head = set(after) | header
    while True:
        inner = _Jumps(set(after), set(head))
        body_in = _live(list(loop.body), set(head), inner, sweep=False)
        widened = head | (body_in - bound)
        if widened == head:
            break
        head = widened
    _live(loop.body, set(head), _Jumps(set(after), set(head)), sweep)
    if not loop.body:
        loop.body = [gast.Pass()]
    if loop.orelse and sweep:
        _live(loop.orelse, set(after), jumps, sweep)
    return head


def _is_dead_store(stmt: gast.stmt, live: set[str]) -> bool:
    """A pure ``name = e`` or ``name += e`` whose names are all dead."""
    if not getattr(stmt, "ad_pure", True):
        return False
    if isinstance(stmt, gast.Assign):
        targets = stmt.targets
    elif isinstance(stmt, gast.AugAssign):
        targets = [stmt.target]
    else:
        return False
    names = []
    for target in targets:
        elements = target.elts if isinstance(target, gast.Tuple) else [target]
        if not all(isinstance(e, gast.Name) for e in elements):
            return False  # a subscript or attribute store changes an object
        names.extend(e.id for e in elements)
    return not set(names) & live


def _stores(stmt: gast.stmt) -> list[str]:
    return [name for inner in all_statements([stmt]) for name in assigned(inner)]


def _jumps(body: list[gast.stmt]) -> bool:
    """Whether ``body`` has a ``break``/``continue`` of its own loop (not of a nested one)."""
    for stmt in body:
        if isinstance(stmt, (gast.Break, gast.Continue)):
            return True
        if isinstance(stmt, gast.If) and (_jumps(stmt.body) or _jumps(stmt.orelse)):
            return True
    return False


def _is_reset(stmt: gast.stmt) -> bool:
    return target_name(stmt) is not None and number(stmt.value) == 0


def settle_zero_guards(
    block: list[gast.stmt], adjoints: set[str], splitters: set[str] = frozenset()
) -> list[gast.stmt]:
    """Decide the ``if not is_zero(g):`` guards of the reverse stage where the dataflow can.

    An adjoint may hold the shapeless number ``0.0`` when it was zero-initialised or
    reset, or copied from such an adjoint, with no contribution since; ``dl[i]`` and
    ``dl.pop()`` of a list adjoint may be ``0.0`` too. Where ``g`` is certainly such a
    zero the guarded statements go (they contribute nothing); where it certainly is not,
    the test goes and its statements stay. A seed passed in (split mode) has a shape: the
    caller guards the call of a backward half. Returns a new list.

    ``splitters``: names of helpers returning a list of array views of ``g``
    (``concatenate_adjoint(g, arrays, axis)`` with an integer ``axis``): an item of a
    name only ever bound to such a list (or to 0) is an array, never the zero."""
    block = list(block)
    guards = _ZeroGuards(adjoints)
    guards.array_lists = _array_lists(block, splitters)
    guards.block(block, frozenset(), frozenset(adjoints))
    return block


def _array_lists(block: list[gast.stmt], splitters: set[str]) -> frozenset:
    """Names every assignment of which binds (or adds, ``+=``) a splitter's list of
    arrays, or binds the zero."""
    lists, others = set(), set()
    for stmt in (s for top in block for s in gast.walk(top)):
        if isinstance(stmt, gast.AugAssign) and isinstance(stmt.target, gast.Name):
            name = stmt.target.id
        elif isinstance(stmt, gast.Assign) and target_name(stmt) is not None:
            name = target_name(stmt)
        else:
            continue
        value = stmt.value
        split = (
            isinstance(value, gast.Call)
            and isinstance(value.func, gast.Name)
            and value.func.id in splitters
            and len(value.args) == 3
            and isinstance(value.args[2], gast.Constant)
            and type(value.args[2].value) is int
        )
        if split:
            lists.add(name)
        elif number(value) != 0 or isinstance(stmt, gast.AugAssign):
            others.add(name)
    return frozenset(lists - others)


class _ZeroGuards:
    """A forward dataflow over the backward sweep: which adjoints are certainly (``zero``)
    and possibly (``maybe``) the shapeless zero."""

    def __init__(self, adjoints: set[str]) -> None:
        self.adjoints = adjoints
        self.rewrite = True
        self.array_lists: frozenset = frozenset()

    def block(self, block: list[gast.stmt], zero: frozenset, maybe: frozenset):
        index = 0
        while index < len(block):
            stmt = block[index]
            guarded = getattr(stmt, "ad_zero_guard", None)
            if guarded is not None and (guarded in zero or guarded not in maybe):
                if guarded in zero:
                    index += 1  # nothing it does reaches anything
                    if self.rewrite:
                        del block[index - 1]
                        index -= 1
                    continue
                if self.rewrite:
                    block[index : index + 1] = stmt.body
                    continue  # the statements put in its place are visited next
                zero, maybe = self.block(stmt.body, zero, maybe)
                index += 1
                continue
            if guarded is not None:
                inner = self.block(stmt.body, zero - {guarded}, maybe - {guarded})
                zero, maybe = zero & inner[0], maybe | inner[1]
            elif isinstance(stmt, gast.If):
                body = self.block(stmt.body, zero, maybe)
                orelse = self.block(stmt.orelse, zero, maybe)
                zero, maybe = body[0] & orelse[0], body[1] | orelse[1]
            elif isinstance(stmt, _LOOPS):
                zero, maybe = self.loop(stmt, zero, maybe)
            else:
                zero, maybe = self.simple(stmt, zero, maybe)
            index += 1
        return zero, maybe

    def loop(self, loop, zero: frozenset, maybe: frozenset):
        """The state at the top of every iteration: iterated to a fixpoint, then applied."""
        if loop.orelse or _jumps(loop.body):
            zero, maybe = frozenset(), frozenset(self.adjoints) | maybe
        rewrite, self.rewrite = self.rewrite, False
        while True:
            after = self.block(loop.body, zero, maybe)
            head = zero & after[0], maybe | after[1]
            if head == (zero, maybe):
                break
            zero, maybe = head
        self.rewrite = rewrite
        self.block(loop.body, zero, maybe)
        return zero, maybe

    def simple(self, stmt: gast.stmt, zero: frozenset, maybe: frozenset):
        if isinstance(stmt, gast.Assign) and target_name(stmt) is not None:
            name, value = target_name(stmt), stmt.value
            return (
                zero - {name} | ({name} if self.is_zero(value, zero) else set()),
                maybe - {name} | ({name} if self.may_be_zero(value, maybe) else set()),
            )
        if accumulates(stmt) and not self.may_be_zero(stmt.value, maybe):
            return zero - {stmt.target.id}, maybe - {stmt.target.id}
        if accumulates(stmt):  # 0.0 + 0.0: still zero only if both were
            if not self.is_zero(stmt.value, zero):
                zero = zero - {stmt.target.id}
            return zero, maybe
        stored = set(_stores(stmt))
        return zero - stored, maybe | (stored & self.adjoints)

    @staticmethod
    def is_zero(value: gast.expr, zero: frozenset) -> bool:
        return number(value) == 0 or (isinstance(value, gast.Name) and value.id in zero)

    def may_be_zero(self, value: gast.expr, maybe: frozenset) -> bool:
        if (
            isinstance(value, gast.Subscript)
            and isinstance(value.value, gast.Name)
            and value.value.id in self.array_lists
        ):
            return False  # an item of a list of arrays (read only where it is one)
        if isinstance(value, gast.Subscript) and getattr(value, "ad_array_view", False):
            # a view of an array adjoint (``g[:, 0, :]``, rules/shaped.py): zero if it is
            return not isinstance(value.value, gast.Name) or value.value.id in maybe
        if number(value) == 0 or isinstance(value, gast.Subscript):
            return True
        if isinstance(value, gast.Name):
            return value.id in maybe
        return (
            isinstance(value, gast.Call)
            and isinstance(value.func, gast.Attribute)
            and value.func.attr == "pop"
        )
