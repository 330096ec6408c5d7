"""Stage 4: build the forward sweep and the backward sweep of one function.

The forward sweep is the primal trace (calls of differentiated user functions
become calls of their forward halves). The backward sweep visits the active
statements in reverse order and splices each one's adjoint template; every
contribution is written ``dx += ...``. The optimize stage later turns the first
contribution into an assignment and guards in-place accumulation against aliasing.
"""

from __future__ import annotations

import builtins
import functools
import operator
import os
import types
from collections.abc import Callable
from dataclasses import dataclass, field

import gast
import numpy as np

from . import runtime
from .callables import code_name
from .kinds import tuple_element
from .names import Bindings
from .nodes import clone, name_ids, subnodes
from .normalize import _copy_location
from .ops import (
    APPEND,
    BUILD,
    COPY,
    EXTEND,
    FIELD,
    MUTATIONS,
    RECORD,
    RETURN,
    RULE,
    STORE_ITEM,
    USER_CALL,
    Analysis,
    Op,
)
from .rules.registry import ARRAY, DICT, NUMBERS, SCALAR, SEQUENCE, UNKNOWN
from .rules.shaped import (
    copy_array_template,
    einsum_matrix_template,
    einsum_product,
    matmul_template,
    new_axes_template,
    reduced_axis_template,
)
from .shapes import (
    ArrayFact,
    einsum_matrix_terms,
    is_array_copy,
    is_element_store,
    is_slice_store,
    keeps_shape,
    matmul_ranks,
    new_axes_index,
    reduced_axis,
    shape_source,
    summed_axes,
    sums_to_number,
)
from .shift_invariance import Normalisation, normalisations
from .split_joins import SplitConcatenation, split_concatenations

JOINT, SPLIT = "joint", "split"


@dataclass
class HelperPair:
    """The forward and backward halves generated for a user function called by another."""

    fwd_cell: object
    bwd_cell: object
    name: str
    grad_params: list[str] = field(default_factory=list)  # params whose adjoints bwd returns
    # params it changes in place: bwd takes each one's object and adjoint after the call
    # (after grad_params' adjoints), and returns its adjoint before the call (last)
    inout: list[str] = field(default_factory=list)
    # whether its backward (or a helper's it calls) undoes writes on saved objects; True
    # until the pair is generated (recursion)
    undoes_writes: bool = True


@dataclass
class AdjointProgram:
    """What the reverse stage produces, before optimization and printing."""

    analysis: Analysis
    mode: str
    forward: list[gast.stmt]
    backward: list[gast.stmt]
    bindings: Bindings
    result: gast.expr
    seed_name: str | None
    grads: dict[str, str | None]  # wrt param -> adjoint name (None: zero gradient)
    adjoint_kinds: dict[str, str | None]
    seed_is_parameter: bool = False

    @property
    def fn(self):
        return self.analysis.fn


def reverse(
    analysis: Analysis,
    mode: str,
    helper_pair: Callable[[Op, list[str]], HelperPair],
    fuse: bool = True,
) -> AdjointProgram:
    """Build the forward and backward sweeps of ``analysis``'s function. ``fuse``: fused
    adjoints (``fused_normalisations``) may be used: their helpers have no rules for a
    second derivative nor Numba versions."""
    return _Reverser(analysis, mode, helper_pair, fuse).run()


def name_node(identifier: str, store: bool = False) -> gast.Name:
    return gast.Name(
        id=identifier,
        ctx=gast.Store() if store else gast.Load(),
        annotation=None,
        type_comment=None,
    )


def assign(target: str | gast.expr, value: gast.expr) -> gast.Assign:
    node = name_node(target, store=True) if isinstance(target, str) else target
    return gast.Assign(targets=[node], value=value, type_comment=None)


def accumulate(target: str, value: gast.expr) -> gast.AugAssign:
    return gast.AugAssign(target=name_node(target, store=True), op=gast.Add(), value=value)


class _Reverser:
    def __init__(self, analysis: Analysis, mode: str, helper_pair, fuse: bool = True) -> None:
        self.analysis = analysis
        self.fuse = fuse
        self.fn = analysis.fn
        self.mode = mode
        self.helper_pair = helper_pair
        self.names = self.fn.names
        self.bindings = Bindings(self.names, self.fn.parsed.lookup, self.fn.free_names)
        for name, obj in self.fn.parsed.lowered_objects.items():  # see lower/__init__.py
            self.bindings.cells[name] = types.CellType(obj)
        self.adjoints: dict[str, str] = {}
        self.adjoint_kinds: dict[str, str | None] = {}
        self.code: list[gast.stmt] = []
        self.pairs: dict[int, tuple[HelperPair, str]] = {}
        self.replayed: dict[int, str | None] = {}  # compound statement -> its loop counter
        self.reads: dict[int, list[str]] = {}  # statement -> loop-variant values its adjoint reads
        self.guards: list[list[str]] = []  # per enclosing loop: its exit guards replayed
        self.last_guards: dict[int, list[str]] = {}  # loop -> exit guards kept by last value
        self.tape: dict[str, str] = {}
        # catching statement -> its changes of lists and arrays, each with the exceptions
        # that may come after it
        self.half_changes: dict[int, list[tuple[Op, str]]] = {}
        self.item_arrays: set[str] = set()  # adjoints of arrays whose items are assigned
        self.stable = _bound_once_unconditionally(self.fn, analysis) - _lengthened_elsewhere(
            analysis
        )
        # in-out parameters' adjoints: given to the backward sweep, not zero-initialised
        self.inout_adjoints = {p: self.adjoint_name(p) for p in analysis.inout}
        # tuples whose adjoint is kept as one adjoint per element (``split_tuples``)
        self.split = split_tuples(analysis)

    def element_adjoint(self, whole: str, position: int) -> str:
        """The adjoint of element ``position`` of the split tuple ``whole``."""
        key = f"{whole}[{position}]"  # never a primal name
        if key not in self.adjoints:
            name = self.names.fresh(f"d{whole}_{position}")
            self.adjoints[key] = name
            self.adjoint_kinds[name] = self.analysis.items[whole][position]
        return self.adjoints[key]

    def element_adjoints(self, whole: str) -> list[str | None]:
        """The adjoints of the elements of ``whole`` that received contributions (the uses
        come before the definition in the backward sweep); None for the others (zero)."""
        return [self.adjoints.get(f"{whole}[{i}]") for i in range(len(self.analysis.items[whole]))]

    def adjoint_name(self, primal: str) -> str:
        if primal not in self.adjoints:
            name = self.names.fresh("d" + primal)
            self.adjoints[primal] = name
            self.adjoint_kinds[name] = self.analysis.kinds.get(primal)
        return self.adjoints[primal]

    def tape_name(self, role: str) -> str:
        if not self.tape:
            self.tape = {r: self.names.fresh(r) for r in ("tape", "push", "pop")}
        return self.tape[role]

    def run(self) -> AdjointProgram:
        body, result_op = self.fn.body[:-1], self.analysis.ops[-1]
        seed_name = None
        seed = []
        if result_op.active:
            seed_name = self.adjoint_name(result_op.value.id)
            if self.mode == JOINT:
                seed = self.adjoint_code(result_op, self.emit_seed)
        elif self.mode == JOINT:
            seed = self.adjoint_code(result_op, self.check_output)
        backward = self.backward_block(body, 0)
        forward = self.forward_block(body, 0) + self.bound_checks(result_op.stmt)
        zero = self.zero_initializations(backward, exclude=seed_name)
        grads = {p: self.adjoints.get(p) for p in self.analysis.wrt}
        program = AdjointProgram(
            self.analysis,
            self.mode,
            forward,
            zero + seed + backward,
            self.bindings,
            result_op.value,
            seed_name,
            grads,
            self.adjoint_kinds,
            seed_is_parameter=self.mode == SPLIT,
        )
        program.tape = dict(self.tape)
        program.mutated = {
            op.target
            for op in self.analysis.ops
            if op.form == STORE_ITEM or (op.form in MUTATIONS and op.active)
        } | {a.id for op in self.analysis.ops if op.active for a in op.writes.values()}
        program.inout_adjoints = dict(self.inout_adjoints)
        program.pairs_used = [pair for pair, _ in self.pairs.values()]
        program.item_adjoints = set(self.item_arrays)
        program.primals = {a: p for p, a in self.adjoints.items() if "[" not in p}
        return program

    # -- backward sweep, built first: it decides what the forward sweep must record -------
    def backward_block(self, stmts: list[gast.stmt], depth: int) -> list[gast.stmt]:
        out: list[gast.stmt] = []
        for stmt in reversed(stmts):
            if isinstance(stmt, gast.If):
                out.extend(self.backward_if(stmt, depth))
            elif isinstance(stmt, (gast.For, gast.While)):
                out.extend(self.backward_loop(stmt, depth))
            elif not isinstance(stmt, (gast.Break, gast.Pass)):
                op = self.analysis.op(stmt)
                if op.active and op.form != RETURN:
                    out.extend(self.backward_statement(op, depth))
                elif op.form == STORE_ITEM:
                    out.extend(self.undo_statement(op, depth))
                elif depth > 0 and self.carries_derivatives(op):
                    # a loop rebinds the name to a value with no derivative: the adjoint
                    # gathered for this binding goes nowhere, and must not leak into the
                    # binding of the previous iteration
                    reset = assign(
                        self.adjoint_name(op.target), gast.Constant(value=0.0, kind=None)
                    )
                    out.append(self.located(reset, op))
        return out

    def carries_derivatives(self, op: Op) -> bool:
        """Whether ``op`` binds a name that other bindings give a derivative."""
        return (
            op.target is not None
            and op.form not in MUTATIONS
            and op.target in self.analysis.varied
            and op.target in self.analysis.useful
        )

    def backward_statement(self, op: Op, depth: int) -> list[gast.stmt]:
        fused = self.fused_normalisations.get(id(op.stmt))
        if fused is not None and op is not fused.division:
            return []  # the sum (and exp) of p = e / sum(e): p's adjoint covers them
        code = self.adjoint_code(op, self.adjoint_statement)
        if depth == 0:
            return code
        reads = sorted(_primal_reads(code, self) & self.analysis.loop_variant)
        restore = []
        if reads:
            self.reads[id(op.stmt)] = reads
            restore = [self.popped(reads, op, slot=("reads", id(op.stmt)))]
        if op.form in MUTATIONS or op.target is None:
            return restore + code  # the object's adjoint lives on across the change
        adjoints = (
            [a for a in self.element_adjoints(op.target) if a is not None]
            if op.target in self.split
            else [self.adjoint_name(op.target)]
        )
        resets = [
            self.located(assign(a, gast.Constant(value=0.0, kind=None)), op) for a in adjoints
        ]
        return restore + code + resets

    def undo_statement(self, op: Op, depth: int) -> list[gast.stmt]:
        """``a[i] = v`` with no derivative to pass on is still undone: the array (or another
        name for it, or a value saved on the tape) may be read by the adjoints of the
        statements before it, which must see its values from before the write."""
        code = [self.located(self.restore_item(op), op)]
        reads = sorted(_primal_reads(code, self) & self.analysis.loop_variant) if depth else []
        if not reads:
            return code
        self.reads[id(op.stmt)] = reads
        return [self.popped(reads, op, slot=("reads", id(op.stmt))), *code]

    def restore_item(self, op: Op) -> gast.stmt:
        if self.analysis.kinds.get(op.target) in (DICT, UNKNOWN):  # the old value, or no key
            restore = self.bindings.reference("restore_slot", runtime.restore_slot)
            pop = gast.Call(func=name_node(self.tape_name("pop")), args=[], keywords=[])
            args = [name_node(op.target), self.as_value(clone(op.index)), pop]
            stmt = _call_statement(restore, args)
        else:
            stmt = self.popped_into(
                gast.Subscript(value=name_node(op.target), slice=clone(op.index), ctx=gast.Store())
            )
            if self.element_store(op):  # optimize/tape.py drops it where nothing reads it
                stmt.ad_item_restore = id(op.stmt)
        stmt.ad_tape_slot = ("write", id(op.stmt))  # its push's (per-slot tapes: numba_form)
        return stmt

    def backward_if(self, stmt: gast.If, depth: int) -> list[gast.stmt]:
        if getattr(stmt, "ad_loop_exit", False):
            return []
        body = self.backward_block(stmt.body, depth)
        orelse = self.backward_block(stmt.orelse, depth)
        if not body and not orelse:
            return []
        self.replayed[id(stmt)] = None
        context = getattr(stmt, "ad_context", None)
        test = clone(context) if context is not None else name_node(stmt.test.id)
        node = _located(gast.If(test=test, body=body or [gast.Pass()], orelse=orelse), stmt)
        if context is not None:  # ``with np.errstate(...):`` around the body's adjoints
            node.ad_context = True
            return [node]
        if depth == 0:
            return [node]
        if getattr(stmt, "ad_exit_guard", False):
            self.guards[-1].append(stmt.test.id)  # its last value, then true: no pop here
            return [node]
        return [_located(self.popped([stmt.test.id], slot=("test", id(stmt))), stmt), node]

    def unused_counter(self) -> str:
        """The target of the backward sweep's loops, which nothing reads: one name (``_``
        unless the function uses it) for every loop, nested ones included."""
        if getattr(self, "_counter", None) is None:
            self._counter = self.names.fresh("_")
        return self._counter

    def backward_loop(self, stmt, depth: int) -> list[gast.stmt]:
        self.guards.append([])
        body = self.backward_block(stmt.body, depth + 1)
        guards = self.guards.pop()
        if not body:
            return []
        body.extend(self.header_resets(stmt))
        # every iteration before the last ran its exit guards' blocks to the end
        body.extend(_located(assign(g, gast.Constant(value=True, kind=None)), stmt) for g in guards)
        self.last_guards[id(stmt)] = guards
        counter = self.names.numbered("iterations")
        self.replayed[id(stmt)] = counter
        replay = gast.Call(
            func=name_node(self.bindings.reference("range", range)),
            args=[name_node(counter)],
            keywords=[],
        )
        node = _located(
            gast.For(
                target=name_node(self.unused_counter(), store=True),
                iter=replay,
                body=body,
                orelse=[],
                type_comment=None,
            ),
            stmt,
        )
        if depth == 0:
            return [node]
        return [_located(self.popped([counter, *guards], slot=("loop", id(stmt))), stmt), node]

    def header_resets(self, stmt) -> list[gast.stmt]:
        """The loop header assigns its targets afresh each iteration, with no derivative:
        what their adjoints gathered in the iteration goes no further (``di = 0.0``)."""
        if not isinstance(stmt, gast.For):
            return []
        targets = [n.id for n in subnodes(stmt.target) if isinstance(n, gast.Name)]
        return [
            _located(assign(self.adjoints[t], gast.Constant(value=0.0, kind=None)), stmt)
            for t in targets
            if t in self.adjoints
        ]

    def popped(self, names: list[str], op: Op | None = None, slot=None) -> gast.stmt:
        """``a, b = pop()``: restore values the forward sweep pushed; ``slot`` names the
        push it undoes (the same on both: ``optimize/tape.py`` merges them)."""
        targets = (
            name_node(names[0], store=True)
            if len(names) == 1
            else gast.Tuple(elts=[name_node(n, store=True) for n in names], ctx=gast.Store())
        )
        stmt = assign(
            targets, gast.Call(func=name_node(self.tape_name("pop")), args=[], keywords=[])
        )
        stmt.ad_pure = False
        stmt.ad_tape_slot = slot
        return self.located(stmt, op) if op is not None else stmt

    def popped_into(self, target: gast.expr) -> gast.stmt:
        """``a[i] = pop()``: restore the part of an array a write overwrote."""
        stmt = assign(
            target, gast.Call(func=name_node(self.tape_name("pop")), args=[], keywords=[])
        )
        stmt.ad_pure = False
        return stmt

    def pushed(self, names: list[str] | gast.expr, like, slot=None) -> gast.stmt:
        if isinstance(names, gast.AST):
            value = names
        elif len(names) == 1:
            value = name_node(names[0])
        else:
            value = gast.Tuple(elts=[name_node(n) for n in names], ctx=gast.Load())
        stmt = gast.Expr(
            value=gast.Call(func=name_node(self.tape_name("push")), args=[value], keywords=[])
        )
        stmt.ad_pure = False
        stmt.ad_tape_push = True  # reads values, changes none: expressions may move past it
        stmt.ad_tape_slot = slot  # the pop that undoes it has the same
        _located(stmt, like)
        stmt.origin_line = getattr(like, "origin_line", None)
        return stmt

    def zero_initializations(
        self, backward: list[gast.stmt], exclude: str | None
    ) -> list[gast.stmt]:
        """Adjoints touched inside a branch or a loop start at zero (all but the seed)."""
        inner = set()
        for stmt in backward:
            if isinstance(stmt, (gast.If, gast.For, gast.While)):
                inner |= name_ids(stmt)
        out = []
        for primal, adjoint in self.adjoints.items():
            if primal in self.inout_adjoints:
                continue  # the caller's, given to the backward sweep
            if adjoint in self.item_arrays and (primal in self.stable or adjoint == exclude):
                # Items of it are zeroed in place: it must be an array of its own.
                if adjoint == exclude:
                    helper = self.bindings.reference("as_gradient", runtime.as_gradient)
                    args = [
                        name_node(adjoint),
                        name_node(primal),
                        gast.Constant(value=True, kind=None),
                    ]
                else:
                    helper = self.bindings.reference("zeros_like", runtime.zeros_like)
                    args = [name_node(primal)]
                out.append(
                    assign(adjoint, gast.Call(func=name_node(helper), args=args, keywords=[]))
                )
            elif (adjoint in inner or adjoint in self.item_arrays) and adjoint != exclude:
                # an array bound only on some paths: its zero has no shape yet; the first
                # contribution (``+=``, never made an assignment) makes the array
                out.append(assign(adjoint, gast.Constant(value=0.0, kind=None)))
        return out

    # -- forward sweep ---------------------------------------------------------------------
    def forward_block(self, stmts: list[gast.stmt], depth: int) -> list[gast.stmt]:
        out: list[gast.stmt] = []
        for stmt in stmts:
            out.extend(self.bound_checks(stmt))
            if isinstance(stmt, gast.If):
                if getattr(stmt, "ad_catch", False):
                    self.check_catching(stmt)
                node = _located(
                    gast.If(
                        test=stmt.test,
                        body=self.forward_block(stmt.body, depth) or [gast.Pass()],
                        orelse=self.forward_block(stmt.orelse, depth),
                    ),
                    stmt,
                )
                node.origin_line = getattr(stmt, "origin_line", None)
                if getattr(stmt, "ad_catch", False):
                    out.extend(self.catching(node, stmt))
                else:
                    out.append(node)
                node.ad_context = getattr(stmt, "ad_context", None) is not None
                recorded = not getattr(stmt, "ad_exit_guard", False) and not node.ad_context
                if id(stmt) in self.replayed and depth > 0 and recorded:
                    out.append(self.pushed([stmt.test.id], stmt, slot=("test", id(stmt))))
            elif isinstance(stmt, (gast.For, gast.While)):
                out.extend(self.forward_loop(stmt, depth))
            elif isinstance(stmt, gast.Break):
                out.append(gast.Break())
            elif not isinstance(stmt, gast.Pass):
                out.extend(self.forward_statement(self.analysis.op(stmt)))
        return out

    def check_catching(self, stmt: gast.If) -> None:
        """A statement of a ``try`` or ``with`` body may stop half-way: refuse the changes
        of objects an exception could leave half made (lower/exceptions.py)."""
        for inner in subnodes(stmt.body):
            if not isinstance(inner, gast.stmt) or isinstance(inner, gast.If):
                continue
            if getattr(inner, "ad_in_place", None) is not None:
                if inner.ad_in_place_refusal is None and (
                    getattr(inner, "ad_in_place_when", None) in (None, "in place")
                ):
                    inner.ad_in_place_refusal = self.fn.parsed.error(
                        "unsupported construct: an augmented assignment that changes an "
                        "array or a list in place inside a 'try' or 'with' body (an exception "
                        "NumPy raises after writing would leave it half changed); write "
                        "'a = a + ...'",
                        inner,
                    ).args[0]
                continue
            op = self.analysis.op(inner)
            kinds = _raising_after(op, stmt.body)
            if kinds is not None:
                self.half_changes.setdefault(id(stmt), []).append((op, kinds))
            if op.form == USER_CALL and op.writes:
                raise self.fn.parsed.error(
                    f"unsupported construct: a call of {op.callee.__name__}(), which changes "
                    "its arguments in place, inside a 'try' or 'with' body (an exception "
                    "raised after a change would leave it unrecorded)",
                    inner,
                )

    def half_change_check(self, op: Op, kinds: str, caught: str) -> gast.stmt:
        """In the ``except`` of a catching statement that changes a list or an array
        (``_raising_after``): the exceptions (``kinds``) that may come after the change,
        which the backward sweep could not undo, become a refusal (``caught`` holds the
        exception; the refusal goes through ``finally`` and ``__exit__``, no handler
        takes it)."""
        message = self.fn.parsed.error(
            f"unsupported construct: this statement raised {kinds} inside a 'try' or 'with' "
            "body after it may have changed a list or an array in place, which the backward "
            "sweep cannot undo",
            op.stmt,
        ).args[0]
        helper = self.bindings.reference("half_changed", runtime.half_changed)
        args = [
            name_node(caught),
            name_node(self.bindings.reference(kinds, getattr(builtins, kinds))),
            gast.Constant(value=message, kind=None),
        ]
        call = gast.Call(func=name_node(helper), args=args, keywords=[])
        check = assign(caught, call)
        check.ad_pure = False
        return self.located(check, op)

    def catching(self, node: gast.If, stmt: gast.If) -> list[gast.stmt]:
        """The forward ``if`` of a catching statement; ``emit`` prints it as ``try:`` its
        body ``except BaseException:`` its ``else`` branch. What the body pushed on the tape
        before an exception is taken off again (the backward sweep skips the statement)."""
        node.ad_catch = True
        checks = self.half_changes.get(id(stmt), [])
        if checks:
            position, caught = _exception_record(node.orelse)
            for op, kinds in reversed(checks):
                node.orelse.insert(position + 1, self.half_change_check(op, kinds, caught))
        if not any(getattr(s, "ad_tape_push", False) for s in subnodes(node.body)):
            return [node]
        mark = self.names.numbered("tape_length")
        length = gast.Call(
            func=name_node(self.bindings.reference("len", len)),
            args=[name_node(self.tape_name("tape"))],
            keywords=[],
        )
        before = _located(assign(mark, length), node)
        before.ad_pure = False
        truncate = self.bindings.reference("truncate", runtime.truncate)
        undo = _located(
            _call_statement(truncate, [name_node(self.tape_name("tape")), name_node(mark)]), node
        )
        node.orelse.insert(0, undo)
        return [before, node]

    def bound_checks(self, stmt: gast.stmt) -> list[gast.stmt]:
        """``check_bound(y_1, 'y')`` before a statement that reads a user's variable Python
        may find unbound there (``normalize`` marks them): it raises ``UnboundLocalError``."""
        checks = []
        for ssa_name, user_name in getattr(stmt, "ad_check_bound", ()):
            helper = self.bindings.reference("check_bound", runtime.check_bound)
            call = gast.Call(
                func=name_node(helper),
                args=[name_node(ssa_name), gast.Constant(value=user_name, kind=None)],
                keywords=[],
            )
            check = _located(gast.Expr(value=call), stmt)
            check.ad_pure = False
            checks.append(check)
        return checks

    def forward_loop(self, stmt, depth: int) -> list[gast.stmt]:
        body = self.forward_block(stmt.body, depth + 1)
        counter = self.replayed.get(id(stmt))
        before, after = [], []
        guards = self.last_guards.get(id(stmt), []) if depth > 0 else []
        for guard in guards:  # the value pushed if no iteration reaches the guard
            before.append(_located(assign(guard, gast.Constant(value=True, kind=None)), stmt))
        if counter is not None and _runs_to_the_end(stmt):
            # for ... in range(...) without break: the trip count is known before it runs
            trips = gast.Call(
                func=name_node(self.bindings.reference("len", len)),
                args=[clone(stmt.iter)],
                keywords=[],
            )
            before.append(_located(assign(counter, trips), stmt))
            if depth > 0:
                after.append(self.pushed([counter, *guards], stmt, slot=("loop", id(stmt))))
        elif counter is not None:
            before.append(_located(assign(counter, gast.Constant(value=0, kind=None)), stmt))
            body.insert(0, _located(accumulate(counter, gast.Constant(value=1, kind=None)), stmt))
            if depth > 0:
                after.append(self.pushed([counter, *guards], stmt, slot=("loop", id(stmt))))
        if isinstance(stmt, gast.For):
            node = gast.For(
                target=stmt.target,
                iter=stmt.iter,
                body=body or [gast.Pass()],
                orelse=[],
                type_comment=None,
            )
        else:
            node = gast.While(test=stmt.test, body=body or [gast.Pass()], orelse=[])
        node = _located(node, stmt)
        node.origin_line = getattr(stmt, "origin_line", None)
        node.ad_range_is_builtin = getattr(stmt, "ad_range_is_builtin", False)
        counting = [s for s in body[:1] if isinstance(s, gast.AugAssign) and s.target.id == counter]
        for extra in (*before, *counting, *after):
            extra.origin_line = node.origin_line
        return [*before, node, *after]

    def forward_statement(self, op: Op) -> list[gast.stmt]:
        out = []
        if op.form == RETURN:
            return out
        if op.form == STORE_ITEM:  # undone in the backward sweep, active or not
            old = gast.Subscript(value=name_node(op.target), slice=clone(op.index), ctx=gast.Load())
            if self.analysis.kinds.get(op.target) == DICT:  # the old value, or no key
                slot = self.bindings.reference("dict_slot", runtime.dict_slot)
                args = [name_node(op.target), self.as_value(clone(op.index))]
                saved = gast.Call(func=name_node(slot), args=args, keywords=[])
            elif self.element_store(op):
                saved = old  # a NumPy scalar: nothing shares it
            elif self.analysis.kinds.get(op.target) == ARRAY:
                saved = gast.Call(
                    func=gast.Attribute(value=old, attr="copy", ctx=gast.Load()),
                    args=[],
                    keywords=[],
                )
            elif self.analysis.kinds.get(op.target) == UNKNOWN:  # a dict, list or array
                slot = self.bindings.reference("item_slot", runtime.item_slot)
                args = [name_node(op.target), self.as_value(clone(op.index))]
                saved = gast.Call(func=name_node(slot), args=args, keywords=[])
            else:  # a list item
                copier = self.bindings.reference("fresh_copy", runtime.fresh_copy)
                saved = gast.Call(func=name_node(copier), args=[old], keywords=[])
            saving = self.pushed(saved, op.stmt, slot=("write", id(op.stmt)))
            if self.element_store(op):
                saving.ad_item_restore = id(op.stmt)
            out.append(saving)
        out.extend(self.dict_receiver_check(op))
        out.extend(self.constant_member_check(op))
        if op.form == RULE and op.active:
            out.extend(plain_operand_checks(self.analysis, op, self.bindings, self.fn))
        for atom, param in op.number_checks:
            check = self.bindings.reference("require_number", runtime.require_number)
            helper = name_node(self.bindings.reference(code_name(op.callee), op.callee))
            args = [name_node(atom.id), helper, gast.Constant(value=param, kind=None)]
            out.append(_located(_call_statement(check, args), op.stmt))
        if op.form == EXTEND and op.active:
            length = self.bindings.reference("len", len)
            size = gast.Call(func=name_node(length), args=[name_node(op.target)], keywords=[])
            out.append(self.pushed(size, op.stmt, slot=("extend", id(op.stmt))))
        if not getattr(op.stmt, "ad_header", False):
            stmt = clone(op.stmt)
            stmt.ad_pure = op.pure
            if getattr(stmt, "ad_unbound_user", False):
                stmt.value = name_node(self.bindings.reference("UNBOUND", runtime.UNBOUND))
            helper = getattr(stmt.value, "ad_runtime", None)
            if helper is not None:  # a construct normalize wrote as a runtime primitive
                stmt.value.func = name_node(self.bindings.reference(helper.__name__, helper))
            if getattr(stmt, "ad_alias_after", None) is not None:
                helper = stmt.ad_alias_after
                stmt.value.func = name_node(self.bindings.reference(helper.__name__, helper))
            source = _tuple_source(op, self.analysis.items)
            if source is not None and op.form == RULE:
                stmt.value = clone(source)  # ``unpacked(t, 2)`` of a pair is t itself
            product = self.einsum_as_product(op)
            if product is not None:
                stmt.value = product
            if getattr(stmt, "ad_in_place", None) is not None:
                stmt.value = self.in_place(stmt)
                if stmt.ad_in_place_refusal is not None:
                    stmt.ad_pure = False  # its check must run even if its value is unused
            if op.form == USER_CALL and (op.active or getattr(op, "dynamic_varied", None)):
                pair, saved = self.pair(op)
                forward = name_node(self.bindings.bind_cell(pair.name + "_fwd", pair.fwd_cell))
                if op.call_args is not None:  # a method: its function, the receiver first
                    out.extend(self.class_method_check(op))
                    args = [self.object_atom(a) for a in op.call_args]
                    stmt.value = gast.Call(func=forward, args=args, keywords=op.call_keywords)
                else:
                    stmt.value.func = forward
                    stmt.value.keywords = _spread_keywords(op, stmt.value.keywords)
                result = op.target or self.names.fresh("_")  # a call for its in-place changes
                stmt = _located(assign(name_node(result, True), stmt.value), stmt)
                stmt.ad_pure = False
                stmt.targets = [
                    gast.Tuple(
                        elts=[name_node(result, True), name_node(saved, True)], ctx=gast.Store()
                    )
                ]
            out.append(stmt)
        if id(op.stmt) in self.reads:
            out.append(self.pushed(self.reads[id(op.stmt)], op.stmt, slot=("reads", id(op.stmt))))
        return out

    def einsum_as_product(self, op: Op) -> gast.expr | None:
        """``np.einsum("id,jd->ij", Q, K)`` of two real matrices that is one matrix product
        (``shapes.einsum_matrix_terms``) computed as one, ``Q @ K.T`` (BLAS), where the
        einsum loop would be several times slower; the same values up to rounding."""
        if op.form != RULE or self.analysis.complex_values:
            return None
        terms = einsum_matrix_terms(op, self.analysis.shapes)
        if terms is None:
            return None
        (first, second), output = terms
        return einsum_product(first, second, output, op.inputs["o0"], op.inputs["o1"])

    def dict_receiver_check(self, op: Op) -> list[gast.stmt]:
        """``obj.items()`` (``get``, ``keys``, ``values``) on a varied object not known to be
        a dict: the rule is dict's, chosen by the name, so the forward sweep checks that
        ``obj`` is one (``runtime.dict_receiver``) before anything relies on it."""
        if op.form != RULE or not op.rule.name.startswith("dict."):
            return []
        receiver = op.value.func.value if isinstance(op.value, gast.Call) else None
        if not isinstance(receiver, gast.Name) or receiver.id not in self.analysis.varied:
            return []
        if self.analysis.kinds.get(receiver.id) == DICT:
            return []
        check = self.bindings.reference("dict_receiver", runtime.dict_receiver)
        method = gast.Constant(value=op.value.func.attr, kind=None)
        return [_located(_call_statement(check, [name_node(receiver.id), method]), op.stmt)]

    def constant_member_check(self, op: Op) -> list[gast.stmt]:
        """``p.shape`` / ``p.round()`` on a varied value not known to be an array or a
        number: the rule (no derivative) is NumPy's, chosen by the name, so the forward
        sweep checks that ``p`` is NumPy's (``runtime.array_receiver``): a field or method
        of that name on a user object would otherwise be taken for a constant."""
        if op.form != RULE or op.rule.differentiable or not _is_array_method(op):
            return []
        value = op.value
        member = value.func if isinstance(value, gast.Call) else value
        receiver = member.value if isinstance(member, gast.Attribute) else None
        if not isinstance(receiver, gast.Name) or receiver.id not in self.analysis.varied:
            return []
        if self.analysis.kind_of(receiver) in (ARRAY, SCALAR):
            return []
        helper = self.bindings.reference("array_receiver", runtime.array_receiver)
        where = (
            f"{os.path.basename(self.fn.parsed.filename)}:{getattr(op.stmt, 'origin_line', '?')}"
        )
        args = [
            name_node(receiver.id),
            gast.Constant(value=op.rule.name, kind=None),
            gast.Constant(value=where, kind=None),
        ]
        check = _located(_call_statement(helper, args), op.stmt)
        check.ad_pure = False
        return [check]

    def class_method_check(self, op: Op) -> list[gast.stmt]:
        """``method_of_class(model, 'predict')``: the object has no attribute of its own
        that would be called instead of its class's method (checked when it runs)."""
        if op.class_method_check is None:
            return []
        receiver, name = op.class_method_check
        check = self.bindings.reference("method_of_class", runtime.method_of_class)
        args = [clone(receiver), gast.Constant(value=name, kind=None)]
        return [_located(_call_statement(check, args), op.stmt)]

    def object_atom(self, atom: gast.expr) -> gast.expr:
        """An operand of a method's call; the stand-in of a classmethod's class is bound
        to the class."""
        cls = getattr(atom, "ad_object", None)
        if cls is None:
            return clone(atom)
        return name_node(self.bindings.reference(cls.__name__, cls))

    def in_place(self, stmt: gast.Assign) -> gast.expr:
        """``a_1 = a + x`` from ``a += x`` on a possible array: ``in_place(iadd, a, x)``,
        NumPy's in-place result on a copy (the other names of ``a`` are refreshed)."""
        operation = stmt.ad_in_place
        args = [
            name_node(self.bindings.reference(operation.__name__, operation)),
            stmt.value.left,
            stmt.value.right,
        ]
        if stmt.ad_in_place_refusal is not None:
            args.append(gast.Constant(value=stmt.ad_in_place_refusal, kind=None))
        when = getattr(stmt, "ad_in_place_when", None)
        if when is not None:
            args.append(gast.Constant(value=when, kind=None))
        helper = self.bindings.reference("in_place", runtime.in_place)
        return gast.Call(func=name_node(helper), args=args, keywords=[])

    def pair(self, op: Op) -> tuple[HelperPair, str]:
        if id(op) not in self.pairs:
            kinds = {p: self.analysis.kind_of(a) for p, a in op.inputs.items()}
            # a method found when it runs, given varied values but inactive: its forward
            # goes through its pair all the same, whose analysis checks what it does
            active = op.active_inputs if op.active else getattr(op, "dynamic_varied", [])
            pair = self.helper_pair(op, active, kinds)
            self.bindings.bind_cell(pair.name + "_fwd", pair.fwd_cell)
            self.bindings.bind_cell(pair.name + "_bwd", pair.bwd_cell)
            saved = self.names.fresh((op.target or pair.name) + "_saved")
            if op.depth > 0:
                self.analysis.loop_variant.add(saved)  # each iteration saves its own
            self.pairs[id(op)] = (pair, saved)
        return self.pairs[id(op)]

    def check_output(self, result_op: Op) -> None:
        """Nothing to differentiate, but the output must still be a number."""
        value = result_op.value
        if isinstance(value, gast.Constant) and (
            isinstance(value.value, bool) or not isinstance(value.value, (int, float))
        ):
            raise self.fn.parsed.error(
                f"the function returns {type(value.value).__name__} {value.value!r}; grad "
                "needs a scalar (float) output",
                result_op.stmt,
            )
        if self.analysis.kind_of(value) != SCALAR:
            helper = self.bindings.reference("seed", runtime.seed)
            check = gast.Expr(value=gast.Call(func=name_node(helper), args=[value], keywords=[]))
            check.ad_pure = False
            self.emit(check, result_op)

    def emit_seed(self, result_op: Op) -> None:
        seed_name = self.adjoint_name(result_op.value.id)
        # a SCALAR may be a complex number where complex values flow (``complex(x, y)``):
        # then ``seed`` checks, and refuses it, as grad's output must be real
        if self.analysis.kind_of(result_op.value) == SCALAR and not self.analysis.complex_values:
            value = gast.Constant(value=1.0, kind=None)
        else:
            helper = self.bindings.reference("seed", runtime.seed)
            value = gast.Call(
                func=name_node(helper), args=[name_node(result_op.value.id)], keywords=[]
            )
        self.emit(assign(seed_name, value), result_op)

    # -- adjoints of single statements --------------------------------------------------
    def adjoint_code(self, op: Op, produce) -> list[gast.stmt]:
        self.code = []
        produce(op)
        return self.code

    def located(self, stmt: gast.stmt, op: Op) -> gast.stmt:
        _copy_location(stmt, op.stmt)
        stmt.origin_line = getattr(op.stmt, "origin_line", None)
        return stmt

    def emit(self, stmt: gast.stmt, op: Op) -> None:
        self.code.append(self.located(stmt, op))

    def contribute(self, atom: gast.Name, value: gast.expr, op: Op) -> None:
        self.emit(accumulate(self.adjoint_name(atom.id), value), op)

    def adjoint_statement(self, op: Op) -> None:
        if op.form == USER_CALL and op.writes:
            self.in_out_call_adjoint(op)
            return
        if op.target in self.split:
            self.split_tuple_adjoint(op)
            return
        g = name_node(self.adjoint_name(op.target))
        if op.form == COPY:
            self.contribute(op.inputs["x"], g, op)
        elif op.form == BUILD:
            if op.target in self.split_lists:
                return  # its concatenation gave each piece its adjoint
            start = len(self.code)
            for position in op.active_inputs:
                item = self.built_element_adjoint(op, g, int(position))
                self.contribute(op.inputs[position], item, op)
            self.guard_zero(g, start, op)
        elif op.form == RECORD:
            start = len(self.code)
            for field in op.active_inputs:  # dx += dp['x']
                item = gast.Subscript(
                    value=clone(g), slice=gast.Constant(value=field, kind=None), ctx=gast.Load()
                )
                self.contribute(op.inputs[field], item, op)
            self.guard_zero(g, start, op)
        elif op.form == FIELD:  # dp += Fields(x=dv)
            fields = self.bindings.reference("Fields", runtime.Fields)
            contribution = gast.Call(
                func=name_node(fields), args=[], keywords=[gast.keyword(arg=op.attr, value=g)]
            )
            self.contribute(op.inputs["obj"], contribution, op)
        elif op.form == RULE:
            self.rule_adjoint(op, g)
        elif op.form == USER_CALL:
            self.user_call_adjoint(op, g)
        elif op.form == STORE_ITEM:
            self.store_item_adjoint(op, g)
        elif op.form == APPEND:
            self.append_adjoint(op, g)
        elif op.form == EXTEND:
            self.extend_adjoint(op, g)

    def split_tuple_adjoint(self, op: Op) -> None:
        """The adjoint of a statement making a split tuple ``t``, from the adjoints of its
        elements ``dt_0, dt_1, ...``: a display passes each to its element, a copy or an
        unpacking to the elements of its source, a user function's backward half gets them
        as one tuple."""
        elements = self.element_adjoints(op.target)
        if op.form == BUILD:
            for position in op.active_inputs:
                element = elements[int(position)]
                # an element never read still has an adjoint: zero (its statement reads it)
                value = (
                    name_node(element)
                    if element is not None
                    else gast.Constant(value=0.0, kind=None)
                )
                self.contribute(op.inputs[position], value, op)
        elif op.form == USER_CALL:
            parts = [
                name_node(e) if e is not None else gast.Constant(value=0.0, kind=None)
                for e in elements
            ]
            self.user_call_contributions(op, gast.Tuple(elts=parts, ctx=gast.Load()))
        else:  # a copy, or ``unpacked(t, n)`` of a tuple of n elements
            source = _tuple_source(op, self.analysis.items).id
            for position, mine in enumerate(elements):
                if mine is not None:
                    theirs = self.element_adjoint(source, position)
                    self.emit(accumulate(theirs, name_node(mine)), op)

    def built_element_adjoint(self, op: Op, g: gast.Name, position: int) -> gast.expr:
        """The adjoint of one element of a display: ``g[position]`` of a list or tuple,
        ``g[key]`` of a dict; where two keys of a dict display may be equal (names, not
        distinct constants), only the last entry of a key kept its value."""
        if not isinstance(op.value, gast.Dict):
            index = gast.Constant(value=position, kind=None)
            return gast.Subscript(value=clone(g), slice=index, ctx=gast.Load())
        keys = op.value.keys
        constants = [k.value for k in keys if isinstance(k, gast.Constant)]
        if len(constants) == len(keys) and _distinct(constants):
            return gast.Subscript(value=clone(g), slice=clone(keys[position]), ctx=gast.Load())
        helper = self.bindings.reference("display_value_adjoint", runtime.display_value_adjoint)
        key_tuple = gast.Tuple(elts=[clone(k) for k in keys], ctx=gast.Load())
        args = [clone(g), key_tuple, gast.Constant(value=position, kind=None)]
        return gast.Call(func=name_node(helper), args=args, keywords=[])

    def extend_adjoint(self, op: Op, g: gast.Name) -> None:
        """``xs.extend(v)``: ``v`` receives the adjoints of the elements it added; both
        lists shrink back to their length before (pushed by the forward sweep)."""
        self.item_arrays.add(g.id)
        start = self.names.numbered("length")
        self.emit(self.popped([start], slot=("extend", id(op.stmt))), op)
        truncate = self.bindings.reference("truncate", runtime.truncate)
        if "value" in op.active_inputs:
            taken = gast.Call(
                func=name_node(self.bindings.reference("extend_adjoint", runtime.extend_adjoint)),
                args=[clone(g), name_node(start), op.inputs["value"]],
                keywords=[],
            )
            self.contribute(op.inputs["value"], taken, op)
        else:
            self.emit(_call_statement(truncate, [clone(g), name_node(start)]), op)
        self.code[-1].ad_pure = False
        self.emit(_call_statement(truncate, [name_node(op.target), name_node(start)]), op)

    def in_out_call_adjoint(self, op: Op) -> None:
        """``r = h(buf, v)`` where ``h`` changes ``buf`` in place: its backward gets the
        adjoint of ``r`` and, for each in-out argument, the object and its adjoint after
        the call; it undoes the changes and returns the adjoints of the active arguments,
        then those of the in-out arguments before the call (which replace them here)."""
        pair, saved = self.pair(op)
        bwd_name = self.bindings.bind_cell(pair.name + "_bwd", pair.bwd_cell)
        g = (
            name_node(self.adjoint_name(op.target))
            if op.result_used
            else gast.Constant(value=0.0, kind=None)
        )
        containers = [op.writes[p].id for p in pair.inout]
        adjoints = [self.adjoint_name(c) for c in containers]
        self.item_arrays.update(adjoints)
        args = [name_node(saved), g, *map(name_node, containers), *map(name_node, adjoints)]
        call = gast.Call(func=name_node(bwd_name), args=args, keywords=[])
        temps = [self.names.numbered("d" + op.inputs[p].id + "_") for p in pair.grad_params]
        targets = gast.Tuple(
            elts=[name_node(t, True) for t in (*temps, *adjoints)], ctx=gast.Store()
        )
        stmt = assign(targets, call)
        stmt.ad_pure = False  # it undoes the changes in the containers
        self.emit(stmt, op)
        for param, temp in zip(pair.grad_params, temps):
            self.contribute(op.inputs[param], name_node(temp), op)

    def append_adjoint(self, op: Op, g: gast.Name) -> None:
        """``xs.append(v)``: ``v`` receives the last element's adjoint; both lists shrink."""
        self.item_arrays.add(g.id)
        start = len(self.code)
        last = gast.Call(
            func=gast.Attribute(value=clone(g), attr="pop", ctx=gast.Load()),
            args=[],
            keywords=[],
        )
        if "value" in op.active_inputs:
            self.contribute(op.inputs["value"], last, op)
        else:
            self.emit(gast.Expr(value=last), op)
        self.code[-1].ad_pure = False
        self.guard_zero(g, start, op)
        undo = gast.Expr(
            value=gast.Call(
                func=gast.Attribute(value=name_node(op.target), attr="pop", ctx=gast.Load()),
                args=[],
                keywords=[],
            )
        )
        undo.ad_pure = False
        self.emit(undo, op)

    def element_store(self, op: Op) -> bool:
        """``a[i] = v`` of a number into one element of a real float array (shape facts)."""
        return not self.analysis.complex_values and is_element_store(
            op, self.analysis.shapes, self.analysis.kinds
        )

    def store_item_adjoint(self, op: Op, g: gast.Name) -> None:
        """``a[i] = v``: ``v`` receives ``da[i]``; the overwritten item's adjoint is 0 and
        its old value is restored for the statements before it."""
        self.item_arrays.add(g.id)
        index = clone(op.index)
        start = len(self.code)
        value = op.inputs["value"]
        later = None  # a contribution to add after the written items' adjoint is zeroed
        if "value" in op.active_inputs:
            if self.element_store(op):
                # one element of a float array: its adjoint, a NumPy scalar (a copy)
                taken = gast.Subscript(value=clone(g), slice=clone(index), ctx=gast.Load())
            elif not self.analysis.complex_values and is_slice_store(op, self.analysis.shapes):
                # a slice of a float array, written with a value of its shape: a copy
                # of the slice's adjoint (zeroed below)
                view = gast.Subscript(value=clone(g), slice=clone(index), ctx=gast.Load())
                taken = gast.Call(
                    func=gast.Attribute(value=view, attr="copy", ctx=gast.Load()),
                    args=[],
                    keywords=[],
                )
            else:
                helper = self.bindings.reference("item_adjoint", runtime.item_adjoint)
                taken = gast.Call(
                    func=name_node(helper),
                    args=[clone(g), self.as_value(clone(index)), value, name_node(op.target)],
                    keywords=[],
                )
            if self.adjoint_name(value.id) == g.id:
                # ``a[i] = a``: the stored value's adjoint is the array's own, which the
                # zeroing below changes: take it first, add it after
                later = self.names.numbered("d" + value.id + "_")
                self.emit(assign(later, taken), op)
            else:
                self.contribute(value, taken, op)
        zero = assign(
            gast.Subscript(value=clone(g), slice=index, ctx=gast.Store()),
            gast.Constant(value=0.0, kind=None),
        )
        zero.ad_pure = False
        self.emit(zero, op)
        if later is not None:
            self.contribute(value, name_node(later), op)
        self.guard_zero(g, start, op)
        self.emit(self.restore_item(op), op)

    @functools.cached_property
    def fused_normalisations(self) -> dict[int, Normalisation]:
        """The statements of each ``p = e / np.sum(e, axis, keepdims=True)`` of real float
        arrays (shape facts) whose ``e`` and sum nothing else reads, by ``id``: the
        division (whose adjoint takes both paths to ``e``, and through ``e = np.exp(y)``
        to ``y``), the sum and that ``exp`` (no adjoint of their own)."""
        if self.analysis.complex_values or not self.fuse:
            return {}
        table = {}
        for found in normalisations(self.analysis.ops, self.fn.tree, self.analysis.shapes):
            fact = self.analysis.shapes.of(found.division.inputs["x"])
            if not (isinstance(fact, ArrayFact) and fact.dtype == "f" and fact.ndim >= 1):
                continue
            if found.division.active_inputs != ["x", "y"]:
                continue
            table[id(found.division.stmt)] = table[id(found.total.stmt)] = found
            if found.exp is not None and found.exp.active:
                table[id(found.exp.stmt)] = found
        return table

    def normalisation_adjoint(self, op: Op, fused: Normalisation, g: gast.Name) -> None:
        """``dy = normalized_exp_adjoint(dp, p, s, e, axis)`` (``dy`` of ``e = np.exp(y)``)
        or ``de = normalized_adjoint(dp, p, s, axis)`` for ``p = e / s``."""
        start = len(self.code)
        e, s = op.inputs["x"], op.inputs["y"]
        axis = fused.total.inputs.get("axis") or gast.Constant(value=None, kind=None)
        p = name_node(op.target)
        if id(fused.exp.stmt if fused.exp else None) in self.fused_normalisations:
            helper = self.bindings.reference(
                "normalized_exp_adjoint", runtime.normalized_exp_adjoint
            )
            value = _call(helper, [clone(g), p, clone(s), clone(e), clone(axis)])
            self.contribute(fused.exp.inputs["x"], value, op)
        else:
            helper = self.bindings.reference("normalized_adjoint", runtime.normalized_adjoint)
            value = _call(helper, [clone(g), p, clone(s), clone(axis)])
            self.contribute(e, value, op)
        self.guard_zero(g, start, op)

    @functools.cached_property
    def split_concatenation_table(self) -> dict[int, SplitConcatenation]:
        """The concatenations whose adjoint is slices of ``g`` (``split_joins.py``), by
        ``id`` of their statement. Real values only."""
        if self.analysis.complex_values:
            return {}
        return split_concatenations(self.analysis.ops, self.fn.tree, self.analysis.shapes)

    @functools.cached_property
    def split_lists(self) -> set[str]:
        """The list displays of those concatenations: they get no adjoint of their own."""
        return {found.pieces.target for found in self.split_concatenation_table.values()}

    def concatenation_adjoint(self, op: Op, found: SplitConcatenation, g: gast.Name) -> None:
        """``da += g[:1]``, ``db += g[1:-1]``, ... for ``np.concatenate([a, b, ...])``:
        each active piece its slice of ``g`` along the joined axis (a view)."""
        start = len(self.code)
        display = found.pieces
        for position in display.active_inputs:
            lower, upper = found.bounds[int(position)]
            cut = gast.Slice(
                lower=None if lower is None else gast.Constant(value=lower, kind=None),
                upper=None if upper is None else gast.Constant(value=upper, kind=None),
                step=None,
            )
            lead = [gast.Slice(lower=None, upper=None, step=None) for _ in range(found.axis)]
            index = gast.Tuple(elts=[*lead, cut], ctx=gast.Load()) if lead else cut
            view = gast.Subscript(value=clone(g), slice=index, ctx=gast.Load())
            view.ad_array_view = True  # of g, not 0.0 if g is not (zeros.py)
            self.contribute(display.inputs[position], view, display)
        self.guard_zero(g, start, op)

    def rule_adjoint(self, op: Op, g: gast.Name) -> None:
        fused = self.fused_normalisations.get(id(op.stmt))
        if fused is not None:
            self.normalisation_adjoint(op, fused, g)
            return
        found = self.split_concatenation_table.get(id(op.stmt))
        if found is not None:  # its display gets no adjoint of its own (split_lists)
            self.concatenation_adjoint(op, found, g)
            return
        position = tuple_element(op, self.analysis.items)
        if position is not None and op.inputs["x"].id in self.split:
            self.emit(accumulate(self.element_adjoint(op.inputs["x"].id, position), g), op)
            return
        if self.indexes_in_place(op):
            self.item_read_adjoint(op, g)
            return
        start = len(self.code)
        kinds = [
            self.analysis.kind_of(op.inputs[p]) for p in op.rule.template.params if p in op.inputs
        ]
        all_scalar = (
            all(k == SCALAR for k in kinds) and self.analysis.kinds.get(op.target) == SCALAR
        )
        template = op.rule.template_for(all_scalar, self.analysis.sequence_form(op))
        template = self.shaped_template(op, template)
        real = not self.analysis.complex_values
        new_axes = new_axes_index(op, self.analysis.shapes) if real else None
        if _is_array_method(op) and self.analysis.kind_of(_receiver(op)) == UNKNOWN:
            self.check_array_receiver(op)
        inputs = {p: self.as_value(a) for p, a in op.inputs.items()}
        self.read_shape_at_source(op, inputs)
        lists = self.list_operands(op, template)
        for param in lists:  # a list of values given to NumPy: its adjoint is an array's
            helper = self.bindings.reference("array_operand", runtime.array_operand)
            converted = self.names.numbered("v")
            self.emit(assign(converted, _call(helper, [inputs[param]])), op)
            inputs[param] = name_node(converted)
        instance = template.instantiate(
            op.active_inputs,
            inputs,
            g,
            name_node(op.target),
            self.bindings.reference,
            self.names.numbered,
        )
        for stmt in instance.preamble:
            self.emit(stmt, op)
        square = not all_scalar and not lists and self.is_square(op)
        for param in op.active_inputs:
            if square and param == "y":
                continue  # both operands are x: its adjoint is taken twice, below
            contribution = instance.outputs[param]
            if all_scalar or self.keeps_shape(op, param):
                contribution = _drop_unbroadcast(contribution, self.bindings)
            else:
                contribution = self.sum_known_axes(op, param, contribution)
            if not all_scalar:
                contribution = _times_constant(contribution, self.bindings, self.finite_names)
            if new_axes is not None and isinstance(contribution, gast.Subscript):
                contribution.ad_array_view = True  # of g, not 0.0 if g is not (zeros.py)
            if square:  # times(g, x) + times(g, x), exactly
                contribution = gast.BinOp(
                    left=contribution, op=gast.Mult(), right=gast.Constant(value=2.0, kind=None)
                )
            if param in lists:  # the array adjoint split into the list's elements
                helper = self.bindings.reference("operand_adjoint", runtime.operand_adjoint)
                contribution = _call(helper, [contribution, self.as_value(op.inputs[param])])
            if sets_dtype(op):  # an integer result truncates: no derivative
                helper = self.bindings.reference("unless_discrete", runtime.unless_discrete)
                like = self.as_value(op.inputs[param])
                contribution = _call(helper, [name_node(op.target), contribution, like])
            self.contribute(op.inputs[param], contribution, op)
        if not all_scalar:
            self.guard_zero(g, start, op)

    def list_operands(self, op: Op, template) -> list[str]:
        """The parameters of a NumPy function (or of an operator computing on numbers)
        given a list or tuple (kind SEQUENCE; for a NumPy function also a value of
        unknown kind, which may be one: checked when it runs) where an input is active:
        NumPy converts it with ``np.asarray``, so the adjoint template must see the array
        and the list must get its elements' adjoints back (``runtime.operand_adjoint``)."""
        if not op.active_inputs or not _numpy_computes(op, self.analysis.sequence_form(op)):
            return []
        operator_rule = not _is_numpy_function(op.rule.primitive)
        kinds = (SEQUENCE,) if operator_rule else (SEQUENCE, UNKNOWN)
        return [
            p
            for p in template.params
            if p in op.inputs
            and isinstance(op.inputs[p], gast.Name)
            and self.analysis.kind_of(op.inputs[p]) in kinds
            and not self.analysis.certainly_numeric(op.inputs[p])
        ]

    def shaped_template(self, op: Op, template):
        """The direct template the shape facts prove for ``op`` (``rules/shaped.py``), or
        ``template`` (the rule's own). Real values only."""
        facts = self.analysis.shapes
        if self.analysis.complex_values:
            return template
        ranks = matmul_ranks(op, facts)
        if ranks is not None:
            return matmul_template(ranks, op.rule.template.params[0])
        terms = einsum_matrix_terms(op, facts)
        if terms is not None:
            return einsum_matrix_template(*terms[0], terms[1])
        new_axes = new_axes_index(op, facts)
        if new_axes is not None:
            return new_axes_template(new_axes)
        if is_array_copy(op, facts):
            return copy_array_template()
        reduced = reduced_axis(op, facts)
        if reduced is not None:
            return reduced_axis_template(*reduced)
        return template

    @functools.cached_property
    def finite_names(self) -> set[str]:
        """Free names holding a finite number the code is specialised on (shape facts'
        constants: rebinding one makes the code stale)."""
        # their guards (kinds.NumberGuard(finite=True)) make the code stale when one is
        # rebound to an infinite or NaN number, where times() must stay (0 * inf)
        return set(self.analysis.shapes.finite_numbers)

    def is_square(self, op: Op) -> bool:
        """``x * x`` of a real float array ``x`` (shape facts), both operands active."""
        if op.rule.primitive is not operator.mul or op.active_inputs != ["x", "y"]:
            return False
        x, y = op.inputs["x"], op.inputs["y"]
        fact = self.analysis.shapes.of(x)
        return (
            isinstance(x, gast.Name)
            and isinstance(y, gast.Name)
            and x.id == y.id
            and not self.analysis.complex_values
            and isinstance(fact, ArrayFact)
            and fact.dtype == "f"
            and fact.ndim >= 1
        )

    def sum_known_axes(self, op: Op, param: str, contribution: gast.expr) -> gast.expr:
        """``unbroadcast(e, x)`` as ``e.sum(axis=1, keepdims=True)`` where the shape facts
        know the axes it sums (``shapes.summed_axes``; real values only; ``e`` computed
        from the adjoint of an array result is an array)."""
        helper = self.bindings.existing("unbroadcast", runtime.unbroadcast)
        call = contribution
        if not (
            helper is not None
            and isinstance(call, gast.Call)
            and isinstance(call.func, gast.Name)
            and call.func.id == helper
            and not self.analysis.complex_values
        ):
            return contribution
        if sums_to_number(op, param, self.analysis.shapes, self.analysis.kinds):
            dot = self.summed_product(op, param, call.args[0])
            if dot is not None:
                return dot
            whole = gast.Attribute(value=call.args[0], attr="sum", ctx=gast.Load())
            return gast.Call(func=whole, args=[], keywords=[])
        axes = summed_axes(op, param, self.analysis.shapes)
        if axes is None:
            return contribution
        if len(axes) == 1:
            axis = gast.Constant(value=axes[0], kind=None)
        else:
            constants = [gast.Constant(value=a, kind=None) for a in axes]
            axis = gast.Tuple(elts=constants, ctx=gast.Load())
        keywords = [gast.keyword(arg="axis", value=axis)]
        operand = self.analysis.shapes.of(op.inputs[param])
        if operand.ndim == self.analysis.shapes.result(op).ndim:
            keep = gast.Constant(value=True, kind=None)
            keywords.append(gast.keyword(arg="keepdims", value=keep))
        return gast.Call(
            func=gast.Attribute(value=call.args[0], attr="sum", ctx=gast.Load()),
            args=[],
            keywords=keywords,
        )

    def summed_product(self, op: Op, param: str, product: gast.expr) -> gast.expr | None:
        """``times(g, d).sum()``, the adjoint of the number operand ``param`` of ``x * d``
        (``d * x``), as ``times_sum(g, d)`` (one dot product) where ``d`` is the other
        operand and the facts prove it a real float array of the result's shape: ``g``,
        the result's adjoint, has that shape too."""
        helper = self.bindings.existing("times", runtime.times)
        if not (
            helper is not None
            and op.rule.primitive is operator.mul
            and isinstance(product, gast.Call)
            and isinstance(product.func, gast.Name)
            and product.func.id == helper
            and len(product.args) == 2
            and not product.keywords
            and all(isinstance(a, gast.Name) for a in product.args)
            and product.args[0].id == self.adjoint_name(op.target)
        ):
            return None
        d = product.args[1].id
        others = [p for p, a in op.inputs.items() if p != param and isinstance(a, gast.Name)]
        fact = self.analysis.shapes.of(product.args[1])
        if not (
            isinstance(fact, ArrayFact)
            and fact.dtype == "f"
            and any(op.inputs[p].id == d and self.keeps_shape(op, p) for p in others)
        ):
            return None
        summed = self.bindings.reference("times_sum", runtime.times_sum)
        return _call(summed, [product.args[0], product.args[1]])

    def read_shape_at_source(self, op: Op, inputs: dict) -> None:
        """The operand of a sum or mean, which its adjoint reads only for its shape, read
        from its shape source (``shapes.shape_source``) where the facts know one."""
        param = _SHAPE_ONLY_OPERAND.get(_hashable(op.rule.primitive))
        atom = op.inputs.get(param) if param else None
        if not isinstance(atom, gast.Name) or self.analysis.complex_values:
            return
        source = shape_source(atom.id, self.analysis.shapes, self.analysis.kinds)
        if source != atom.id:
            inputs[param] = name_node(source)

    def keeps_shape(self, op: Op, param: str) -> bool:
        """Whether the shape facts prove that operand ``param`` of a broadcasting
        statement has its result's shape: its adjoint is the result's, unsummed (a real
        one: a complex adjoint of a real operand still goes through ``unbroadcast``)."""
        return not self.analysis.complex_values and keeps_shape(
            op, param, self.analysis.shapes, self.analysis.kinds
        )

    def guard_zero(self, g: gast.Name, start: int, op: Op) -> None:
        """Run the statements emitted since ``start`` only where ``g`` is not a zero.

        An adjoint nothing has contributed to yet holds the number ``0.0`` (its zero
        initialisation, or its reset in a loop): a value overwritten before it was read,
        in the branch taken or by the next iteration. It has no shape, so array rules
        (``reshape``, ``flip``, ``g[i]``...) cannot take it; and a zero contributes
        nothing. ``optimize.settle_zero_guards`` removes the test where the dataflow
        knows the answer."""
        body = self.code[start:]
        if not body:
            return
        helper = self.bindings.reference("is_zero", runtime.is_zero)
        test = gast.UnaryOp(
            op=gast.Not(), operand=gast.Call(func=name_node(helper), args=[clone(g)], keywords=[])
        )
        node = self.located(gast.If(test=test, body=body, orelse=[]), op)
        node.ad_zero_guard = g.id
        self.code[start:] = [node]

    def check_array_receiver(self, op: Op) -> None:
        """``b.take(i)`` where ``b`` is not known to be an array: its adjoint is
        ``ndarray.take``'s only if ``b`` is one (or a number), checked when it runs."""
        helper = self.bindings.reference("array_receiver", runtime.array_receiver)
        filename = os.path.basename(self.fn.parsed.filename)
        where = f"{filename}:{getattr(op.stmt, 'origin_line', '?')}"
        call = gast.Call(
            func=name_node(helper),
            args=[
                clone(_receiver(op)),
                gast.Constant(value=op.rule.name, kind=None),
                gast.Constant(value=where, kind=None),
            ],
            keywords=[],
        )
        check = gast.Expr(value=call)
        check.ad_pure = False
        self.emit(check, op)

    def indexes_in_place(self, op: Op) -> bool:
        """``x[i]`` with a basic index (ints, slices) of an array bound once, unconditionally:
        its adjoint is gathered in place, ``dx[i] += g``, into zeros made for ``dx``."""
        if op.rule.primitive is not operator.getitem or op.active_inputs != ["x"]:
            return False
        array = op.inputs["x"]
        return (
            isinstance(array, gast.Name)
            and not self.analysis.complex_values  # zeros made for dx would be real
            and array.id in self.stable
            and self.analysis.kinds.get(array.id) != SCALAR
            and _is_basic_index(op.inputs["index"], self.analysis)
        )

    def item_read_adjoint(self, op: Op, g: gast.Name) -> None:
        target = self.adjoint_name(op.inputs["x"].id)
        self.item_arrays.add(target)
        item = gast.Subscript(
            value=name_node(target), slice=clone(op.inputs["index"]), ctx=gast.Store()
        )
        stmt = gast.AugAssign(target=item, op=gast.Add(), value=g)
        stmt.ad_pure = False
        self.emit(stmt, op)

    def as_value(self, index: gast.expr) -> gast.expr:
        """An index expression (``1:n``, ``i, ::2``) as a value expression (``slice(1, n)``)."""
        if isinstance(index, gast.Slice):
            parts = [
                getattr(index, k) or gast.Constant(value=None, kind=None)
                for k in ("lower", "upper", "step")
            ]
            while len(parts) > 2 and _is_none(parts[-1]):  # only a missing step goes
                parts.pop()
            return gast.Call(
                func=name_node(self.bindings.reference("slice", slice)), args=parts, keywords=[]
            )
        if isinstance(index, gast.Tuple):
            return gast.Tuple(elts=[self.as_value(e) for e in index.elts], ctx=gast.Load())
        return index

    def user_call_adjoint(self, op: Op, g: gast.Name) -> None:
        start = len(self.code)
        self.user_call_contributions(op, g)
        if self.analysis.kinds.get(op.target) != SCALAR:
            self.guard_zero(g, start, op)  # the backward half takes a seed with a shape

    def user_call_contributions(self, op: Op, g: gast.Name) -> None:
        pair, saved = self.pair(op)
        bwd_name = self.bindings.bind_cell(pair.name + "_bwd", pair.bwd_cell)
        call = gast.Call(func=name_node(bwd_name), args=[name_node(saved), g], keywords=[])
        if len(pair.grad_params) == 1:
            self.contribute(op.inputs[pair.grad_params[0]], call, op)
            return
        if not pair.grad_params:
            return
        temps = [self.names.numbered("d" + op.inputs[p].id + "_") for p in pair.grad_params]
        target = gast.Tuple(elts=[name_node(t, True) for t in temps], ctx=gast.Store())
        self.emit(assign(target, call), op)
        for param, temp in zip(pair.grad_params, temps):
            self.contribute(op.inputs[param], name_node(temp), op)


def split_tuples(analysis: Analysis) -> set[str]:
    """Names of tuples of a known length (``Analysis.items``) whose every use is an element
    read with a constant index (``t[0]``), or a copy or unpacking into another such
    tuple; made by a display, a copy or unpacking of another such tuple, or a call of a
    user function (not one changing its arguments in place). Their adjoints are kept
    element by element, as plain numbers (only tuples of numbers are split)."""
    items = analysis.items
    split = {
        name
        for name, kinds in items.items()
        if all(k == SCALAR for k in kinds) and not _is_seed_like(name, analysis)
    }
    definitions = {op.target: op for op in analysis.ops if op.target in items}
    changed = True
    while changed:
        changed = False
        for op in analysis.ops:
            used = [a.id for a in op.inputs.values() if isinstance(a, gast.Name)]
            used += [a.id for a in op.writes.values()]
            if op.form in MUTATIONS and op.target in split:
                used.append(op.target)
            for name in set(used) & split:
                if tuple_element(op, items) is not None and op.inputs["x"].id == name:
                    continue
                source = _tuple_source(op, items)
                if source is not None and source.id == name and op.target in split:
                    continue
                split.discard(name)
                changed = True
        for name in list(split):
            op = definitions.get(name)
            source = _tuple_source(op, items)
            allowed = op is not None and (
                (op.form == BUILD and isinstance(op.value, gast.Tuple))
                or (op.form == USER_CALL and not op.writes and op.result_used)
                or (source is not None and source.id in split)
            )
            if not allowed:
                split.discard(name)
                changed = True
    return split


def _is_seed_like(name: str, analysis: Analysis) -> bool:
    """The returned value, or an in-out parameter: its adjoint comes whole from outside."""
    result = analysis.result
    return (isinstance(result, gast.Name) and result.id == name) or name in analysis.inout


def _tuple_source(op: Op | None, items: dict) -> gast.Name | None:
    """``t`` in ``s = t`` or ``s = unpacked(t, n)`` where ``t`` is a tuple of n elements
    (then ``s`` has its ``items``)."""
    if op is None or op.target not in items:
        return None
    if op.form == COPY and isinstance(op.inputs.get("x"), gast.Name):
        source = op.inputs["x"]
    elif op.form == RULE and op.rule.primitive is runtime.unpacked:
        source = op.inputs["whole"]
    else:
        return None
    return source if isinstance(source, gast.Name) and source.id in items else None


def _distinct(constants: list) -> bool:
    """Whether literal dict keys are all different as keys (``1`` and ``1.0`` are one)."""
    try:
        return len(set(constants)) == len(constants)
    except TypeError:
        return False


def _exception_record(orelse: list[gast.stmt]) -> tuple[int, str]:
    """Where the ``except`` branch of a catching statement stores the exception
    (``caught = ad_runtime.current_exception()``): its position and the name."""
    for position, stmt in enumerate(orelse):
        value = getattr(stmt, "value", None)
        if (
            isinstance(stmt, gast.Assign)
            and isinstance(value, gast.Call)
            and isinstance(value.func, gast.Attribute)
            and value.func.attr == "current_exception"
        ):
            return position, stmt.targets[0].id
    raise AssertionError("a catching statement records no exception")


def _raising_after(op: Op, body: list[gast.stmt]) -> str | None:
    """The exceptions that may be raised after ``op`` changed a list or an array in the
    catching statement ``body``, by name (None: none, or ``op`` changes nothing).

    ``a[i] = v`` ending the statement: NumPy may cast, write, then raise
    ``FloatingPointError`` (under ``np.errstate``); ``xs.extend(it)``: its iterable may
    raise half-way; anything after the change (``a[i] = b[j] = v``, a compound statement)
    may raise anything."""
    if op.form not in (STORE_ITEM, APPEND, EXTEND):
        return None
    if op.stmt not in body or not all(_cannot_raise(s) for s in body[body.index(op.stmt) + 1 :]):
        return "BaseException"
    return {STORE_ITEM: "FloatingPointError", EXTEND: "BaseException"}.get(op.form)


def _cannot_raise(stmt: gast.stmt) -> bool:
    """Join copies and alias refreshes: nothing after a change that may raise."""
    return (
        getattr(stmt, "ad_join", False)
        or getattr(stmt, "ad_alias_after", None) is not None
        or (
            isinstance(stmt, gast.Assign)
            and all(isinstance(t, gast.Name) for t in stmt.targets)
            and isinstance(stmt.value, (gast.Name, gast.Constant))
        )
    )


_NUMBER_OPERATORS = (
    operator.add,
    operator.sub,
    operator.mul,
    operator.truediv,
    operator.pow,
    operator.matmul,
    operator.neg,
    operator.pos,
)


def _numpy_computes(op: Op, form: str) -> bool:
    """Whether ``op``'s rule is a NumPy or SciPy function, or an operator computing on
    numbers (not joining or repeating lists): such a call converts a list operand to an
    array first."""
    primitive = op.rule.primitive
    if any(primitive is o for o in _NUMBER_OPERATORS):
        return form == NUMBERS
    return _is_numpy_function(primitive) and (
        isinstance(primitive, np.ufunc)
        or op.rule.kind == "elementwise"
        or op.rule.template.fn.__module__ in _ARRAY_RULE_MODULES
    )


# Rules whose templates compute with their arguments as arrays (a list given to them is
# converted first); the constructors, joins and shape rules take lists apart themselves.
_ARRAY_RULE_MODULES = ("ad_transform.rules.linalg", "ad_transform.rules.reductions")


def _is_numpy_function(primitive: object) -> bool:
    """A function of NumPy or SciPy (a ufunc included): it converts list arguments."""
    if isinstance(primitive, np.ufunc):
        return True
    module = getattr(primitive, "__module__", None) or ""
    return module.split(".")[0] in ("numpy", "scipy")


def sets_dtype(op: Op) -> bool:
    """Whether a rule's call gives its result's dtype (``np.sum(x, dtype=int)``,
    ``np.cumsum(x, dtype=np.int64)``): an integer or boolean one truncates the values, and
    the derivative through it is zero (``runtime.unless_discrete``, checked when it runs)."""
    dtype = op.inputs.get("dtype")
    return dtype is not None and not (isinstance(dtype, gast.Constant) and dtype.value is None)


def _call(function: str, args: list[gast.expr]) -> gast.Call:
    return gast.Call(func=name_node(function), args=args, keywords=[])


def plain_operand_checks(analysis: Analysis, op: Op, bindings, fn) -> list[gast.stmt]:
    """``plain_operand(c, rule, where)`` for each operand ``c`` of a differentiated rule's
    statement that carries no derivative, though the rule's parameter has one (a value,
    not an index or an axis), and that is not known to be a number or an exact ndarray
    (``plain_values``: a global, an item, an attribute, a call's result): NumPy's adjoint
    is wrong for an array of another kind (a masked array, ``np.matrix``, a sparse
    matrix), refused where it runs."""
    if not op.rule.differentiable:
        return []
    where = f"{os.path.basename(fn.parsed.filename)}:{getattr(op.stmt, 'origin_line', '?')}"
    plain = plain_values(analysis)
    valued = op.rule.template.outputs  # parameters with a derivative: not index, axis...
    checks = []
    for param, atom in op.inputs.items():
        if param in op.active_inputs or param not in valued:
            continue
        if not isinstance(atom, gast.Name) or atom.id in plain:
            continue
        helper = bindings.reference("plain_operand", runtime.plain_operand)
        args = [
            name_node(atom.id),
            gast.Constant(value=op.rule.name, kind=None),
            gast.Constant(value=where, kind=None),
        ]
        check = _located(_call_statement(helper, args), op.stmt)
        check.ad_pure = False
        checks.append(check)
    return checks


def plain_values(analysis: Analysis) -> frozenset[str]:
    """Names certainly holding numbers, exact ndarrays or booleans of them: those of
    SCALAR or ARRAY kind, varied ones (computed from the differentiated arguments, whose
    mixing with any other value is itself checked), and those a NumPy or operator rule
    computes from such names and constants only (``u > 0`` of an array ``u``). Globals,
    items, attributes and calls' results of no known kind are not: an operand among them
    gets ``plain_operand``'s check. A fixpoint over the trace: a name bound several times
    (loops, branches) is plain only if every binding is."""
    if analysis.plain is not None:
        return analysis.plain
    bindings: dict[str, list[Op]] = {}
    for op in analysis.ops:
        if op.target is not None:
            bindings.setdefault(op.target, []).append(op)
    known = {n for n, k in analysis.kinds.items() if k in (SCALAR, ARRAY)} | analysis.varied
    plain = known | {n for n, ops in bindings.items() if all(o.form == RULE for o in ops)}
    changed = True
    while changed:
        changed = False
        for name in list(plain - known):
            inputs = [a for o in bindings[name] for a in o.inputs.values()]
            if not all(
                isinstance(a, gast.Constant) or (isinstance(a, gast.Name) and a.id in plain)
                for a in inputs
            ):
                plain.discard(name)
                changed = True
    analysis.plain = frozenset(plain)
    return analysis.plain


def _is_array_method(op: Op) -> bool:
    """A rule of NumPy's chosen by a method or attribute name (``("method", "take")``);
    dict methods (``d.get``) check their receiver in their adjoints."""
    return isinstance(op.rule.primitive, tuple) and not op.rule.name.startswith("dict.")


def _receiver(op: Op) -> gast.expr:
    return op.inputs[op.rule.template.params[0]]


def _call_statement(function: str, args: list[gast.expr]) -> gast.Expr:
    """``function(*args)`` for its effect: never moved or dropped by the optimizer."""
    stmt = gast.Expr(value=gast.Call(func=name_node(function), args=args, keywords=[]))
    stmt.ad_pure = False
    return stmt


def _bound_once_unconditionally(fn, analysis: Analysis) -> set[str]:
    """Parameters and names the function body binds at its top level, outside any branch or
    loop, and never rebinds in a loop: their value is there when the backward sweep starts."""
    names = set(fn.params)
    for stmt in fn.body:
        if isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Name):
            names.add(stmt.targets[0].id)
    return names - analysis.loop_variant


def _lengthened_elsewhere(analysis: Analysis) -> set[str]:
    """Names of lists that grow (``append``, ``extend``, a helper) through another name
    bound to the same object after them (``l1 = l0``, or the refresh of ``l1`` after
    ``l0.append(v)``). At the end of the forward sweep such a list is longer than it was
    under this name: its adjoint cannot be zeros shaped like it then; it starts as the
    number 0 and takes the shape of its first contribution (the other name's adjoint)."""
    grown = {op.target for op in analysis.ops if op.form in (APPEND, EXTEND)}
    grown |= {a.id for op in analysis.ops for a in op.writes.values()}
    copies: dict[str, set[str]] = {}
    for op in analysis.ops:
        if op.form == COPY and isinstance(op.inputs["x"], gast.Name):
            copies.setdefault(op.inputs["x"].id, set()).add(op.target)
    lengthened = set()
    for name in copies:
        seen, todo = set(), list(copies[name])
        while todo:
            other = todo.pop()
            if other not in seen:
                seen.add(other)
                todo.extend(copies.get(other, ()))
        if seen & grown:
            lengthened.add(name)
    return lengthened


def _spread_keywords(op: Op, keywords: list[gast.keyword]) -> list[gast.keyword]:
    """A call's keywords, those a helper's ``**kwargs`` collects renamed to the keyword-only
    parameters its pair has for them (``lower/signature.py``)."""
    if not op.spread_keywords:
        return keywords
    from .lower.signature import spread_keyword_names
    from .parse import parse_function

    names = spread_keyword_names(parse_function(op.callee), op.spread or 0, op.spread_keywords)
    renamed = dict(zip(op.spread_keywords, names, strict=True))
    return [gast.keyword(arg=renamed.get(k.arg, k.arg), value=k.value) for k in keywords]


def _located(node: gast.AST, like: gast.AST) -> gast.AST:
    _copy_location(node, like)
    if getattr(like, "origin_line", None) is not None:
        node.origin_line = like.origin_line
    return node


def _is_basic_index(index: gast.expr, analysis: Analysis) -> bool:
    """Integers (numbers or scalar names), slices, ``None`` and ``...``: no repeated elements."""
    if isinstance(index, gast.Tuple):
        return all(_is_basic_index(e, analysis) for e in index.elts)
    if isinstance(index, gast.Slice):
        return all(
            part is None or _is_basic_index(part, analysis)
            for part in (index.lower, index.upper, index.step)
        )
    if isinstance(index, gast.Constant):
        return index.value is None or index.value is Ellipsis or type(index.value) is int
    if isinstance(index, gast.Name):
        return analysis.kinds.get(index.id) == SCALAR  # a float index raises in the forward
    return False


def _runs_to_the_end(stmt) -> bool:
    """A ``for`` over the builtin ``range`` whose body never breaks out."""
    return getattr(stmt, "ad_range_is_builtin", False) and not any(
        getattr(s, "ad_loop_exit", False) for s in stmt.body
    )


def _primal_reads(code: list[gast.stmt], reverser: _Reverser) -> set[str]:
    """Names of primal values that adjoint statements read."""
    adjoints = set(reverser.adjoints.values())
    return name_ids(code, gast.Load) - adjoints - reverser.bindings.cells.keys()


def _is_none(node: gast.expr) -> bool:
    return isinstance(node, gast.Constant) and node.value is None


# reductions whose adjoint template reads this operand only for its shape
_SHAPE_ONLY_OPERAND = {
    np.sum: "a",
    np.mean: "a",
    ("method", "sum"): "self",
    ("method", "mean"): "self",
}


def _hashable(primitive) -> object:
    try:
        hash(primitive)
    except TypeError:
        return None
    return primitive


def _times_constant(expr: gast.expr, bindings: Bindings, finite: set[str]) -> gast.expr:
    """``times(e, 2.0)`` as ``e * 2.0``: by a finite constant the guard of ``times`` (a
    zero adjoint stays zero through an infinite or NaN derivative) has nothing to do.
    ``finite``: free names holding a finite number the code is specialised on (facts'
    constants: rebinding one makes the code stale). For array adjoints only."""
    helper = bindings.existing("times", runtime.times)
    if helper is None:
        return expr
    for node in gast.walk(expr):
        for name in node._fields:
            value = getattr(node, name, None)
            if _is_times_constant(value, helper, finite):
                setattr(
                    node, name, gast.BinOp(left=value.args[0], op=gast.Mult(), right=value.args[1])
                )
            elif isinstance(value, list):
                value[:] = [
                    gast.BinOp(left=v.args[0], op=gast.Mult(), right=v.args[1])
                    if _is_times_constant(v, helper, finite)
                    else v
                    for v in value
                ]
    if _is_times_constant(expr, helper, finite):
        return gast.BinOp(left=expr.args[0], op=gast.Mult(), right=expr.args[1])
    return expr


def _is_times_constant(node, helper: str, finite: set[str]) -> bool:
    if not (
        isinstance(node, gast.Call)
        and isinstance(node.func, gast.Name)
        and node.func.id == helper
        and len(node.args) == 2
        and not node.keywords
    ):
        return False
    d = node.args[1]
    if isinstance(d, gast.Name):
        return d.id in finite
    return isinstance(d, gast.Constant) and type(d.value) in (int, float) and np.isfinite(d.value)


def _drop_unbroadcast(expr: gast.expr, bindings: Bindings) -> gast.expr:
    """Between scalars nothing was broadcast: ``unbroadcast(e, x)`` is just ``e``."""
    helper = bindings.existing("unbroadcast", runtime.unbroadcast)
    if helper is None:
        return expr
    return _without_calls_of(helper, expr)


def _without_calls_of(helper: str, node: gast.AST) -> gast.AST:
    """``node`` with each call ``helper(a, ...)`` replaced by ``a``, innermost first (in
    place where it can: what a ``gast.NodeTransformer`` would do, without its overhead)."""
    for name in node._fields:
        value = getattr(node, name, None)
        if isinstance(value, gast.AST):
            setattr(node, name, _without_calls_of(helper, value))
        elif isinstance(value, list):
            value[:] = [
                _without_calls_of(helper, item) if isinstance(item, gast.AST) else item
                for item in value
            ]
    if isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and node.func.id == helper:
        return node.args[0]
    return node
