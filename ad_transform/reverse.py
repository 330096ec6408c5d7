"""Stage 4: build the forward sweep and the backward sweep of one function.

The forward sweep is the primal trace (calls of differentiated user functions
become calls of their forward halves). The backward sweep visits the active
statements in reverse order and splices each one's adjoint template; every
contribution is written ``dx += ...``. The optimize stage later turns the first
contribution into an assignment and guards in-place accumulation against aliasing.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Callable

import gast

from . import runtime
from .analyze import BUILD, COPY, RETURN, RULE, USER_CALL, Analysis, Op
from .names import Bindings
from .normalize import _copy_location
from .rules.registry import SCALAR

JOINT, SPLIT = "joint", "split"


@dataclass
class HelperPair:
    """The forward and backward halves generated for a user function called by another."""

    fwd_cell: object
    bwd_cell: object
    name: str
    grad_params: list[str] = field(default_factory=list)  # params whose adjoints bwd returns


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


def reverse(analysis: Analysis, mode: str,
            helper_pair: Callable[[Op, list[str]], HelperPair]) -> AdjointProgram:
    """Build the forward and backward sweeps of ``analysis``'s function."""
    return _Reverser(analysis, mode, helper_pair).run()


def name_node(identifier: str, store: bool = False) -> gast.Name:
    return gast.Name(id=identifier, ctx=gast.Store() if store else gast.Load(),
                     annotation=None, type_comment=None)


def assign(target: str | gast.expr, value: gast.expr) -> gast.Assign:
    node = name_node(target, store=True) if isinstance(target, str) else target
    return gast.Assign(targets=[node], value=value, type_comment=None)


def accumulate(target: str, value: gast.expr) -> gast.AugAssign:
    return gast.AugAssign(target=name_node(target, store=True), op=gast.Add(), value=value)


class _Reverser:
    def __init__(self, analysis: Analysis, mode: str, helper_pair) -> None:
        self.analysis = analysis
        self.fn = analysis.fn
        self.mode = mode
        self.helper_pair = helper_pair
        self.names = self.fn.names
        self.bindings = Bindings(self.names, self.fn.parsed.lookup, self.fn.free_names)
        self.adjoints: dict[str, str] = {}
        self.adjoint_kinds: dict[str, str | None] = {}
        self.forward: list[gast.stmt] = []
        self.backward: list[gast.stmt] = []
        self.pending_pairs: dict[int, tuple[HelperPair, str]] = {}

    def adjoint_name(self, primal: str) -> str:
        if primal not in self.adjoints:
            name = self.names.fresh("d" + primal)
            self.adjoints[primal] = name
            self.adjoint_kinds[name] = self.analysis.kinds.get(primal)
        return self.adjoints[primal]

    def run(self) -> AdjointProgram:
        for op in self.analysis.ops:
            self.forward_statement(op)
        result_op = self.analysis.ops[-1]
        seed_name = None
        if result_op.active:
            seed_name = self.adjoint_name(result_op.value.id)
            if self.mode == JOINT:
                self.emit_seed(result_op, seed_name)
        for op in reversed(self.analysis.ops[:-1]):
            if op.active:
                self.adjoint_statement(op)
        grads = {p: self.adjoints.get(p) for p in self.analysis.wrt}
        return AdjointProgram(self.analysis, self.mode, self.forward, self.backward,
                              self.bindings, result_op.value, seed_name, grads,
                              self.adjoint_kinds, seed_is_parameter=self.mode == SPLIT)

    # -- forward -------------------------------------------------------------------------
    def forward_statement(self, op: Op) -> None:
        if op.form == RETURN:
            return
        stmt = copy.deepcopy(op.stmt)
        stmt.ad_pure = op.pure
        if op.form == USER_CALL and op.active:
            kinds = {p: self.analysis.kind_of(a) for p, a in op.inputs.items()}
            pair = self.helper_pair(op, op.active_inputs, kinds)
            fwd_name = self.bindings.bind_cell(pair.name + "_fwd", pair.fwd_cell)
            saved = self.names.fresh(op.target + "_saved")
            stmt.value.func = name_node(fwd_name)
            stmt.targets = [gast.Tuple(elts=[name_node(op.target, True), name_node(saved, True)],
                                       ctx=gast.Store())]
            self.pending_pairs[id(op)] = (pair, saved)
        self.forward.append(stmt)

    def emit_seed(self, result_op: Op, seed_name: str) -> None:
        if self.analysis.kind_of(result_op.value) == SCALAR:
            value = gast.Constant(value=1.0, kind=None)
        else:
            helper = self.bindings.reference("seed", runtime.seed)
            value = gast.Call(func=name_node(helper), args=[name_node(result_op.value.id)],
                              keywords=[])
        self.emit(assign(seed_name, value), result_op)

    # -- backward ------------------------------------------------------------------------
    def emit(self, stmt: gast.stmt, op: Op) -> None:
        _copy_location(stmt, op.stmt)
        stmt.origin_line = getattr(op.stmt, "origin_line", None)
        self.backward.append(stmt)

    def contribute(self, atom: gast.Name, value: gast.expr, op: Op) -> None:
        self.emit(accumulate(self.adjoint_name(atom.id), value), op)

    def adjoint_statement(self, op: Op) -> None:
        g = name_node(self.adjoint_name(op.target))
        if op.form == COPY:
            self.contribute(op.inputs["x"], g, op)
        elif op.form == BUILD:
            for position in op.active_inputs:
                item = gast.Subscript(value=copy.deepcopy(g),
                                      slice=gast.Constant(value=int(position), kind=None),
                                      ctx=gast.Load())
                self.contribute(op.inputs[position], item, op)
        elif op.form == RULE:
            self.rule_adjoint(op, g)
        elif op.form == USER_CALL:
            self.user_call_adjoint(op, g)

    def rule_adjoint(self, op: Op, g: gast.Name) -> None:
        kinds = [self.analysis.kind_of(op.inputs[p]) for p in op.rule.template.params
                 if p in op.inputs]
        all_scalar = all(k == SCALAR for k in kinds) \
            and self.analysis.kinds.get(op.target) == SCALAR
        template = op.rule.template_for(all_scalar)
        inputs = {p: self.as_value(a) for p, a in op.inputs.items()}
        instance = template.instantiate(op.active_inputs, inputs, g, name_node(op.target),
                                        self.bindings.reference, self.names.numbered)
        for stmt in instance.preamble:
            self.emit(stmt, op)
        for param in op.active_inputs:
            contribution = instance.outputs[param]
            if all_scalar:
                contribution = _drop_unbroadcast(contribution, self.bindings)
            self.contribute(op.inputs[param], contribution, op)

    def as_value(self, index: gast.expr) -> gast.expr:
        """An index expression (``1:n``, ``i, ::2``) as a value expression (``slice(1, n)``)."""
        if isinstance(index, gast.Slice):
            parts = [getattr(index, k) or gast.Constant(value=None, kind=None)
                     for k in ("lower", "upper", "step")]
            while len(parts) > 1 and _is_none(parts[-1]):
                parts.pop()
            return gast.Call(func=name_node(self.bindings.reference("slice", slice)),
                             args=parts, keywords=[])
        if isinstance(index, gast.Tuple):
            return gast.Tuple(elts=[self.as_value(e) for e in index.elts], ctx=gast.Load())
        return index

    def user_call_adjoint(self, op: Op, g: gast.Name) -> None:
        pair, saved = self.pending_pairs[id(op)]
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


def _is_none(node: gast.expr) -> bool:
    return isinstance(node, gast.Constant) and node.value is None


def _drop_unbroadcast(expr: gast.expr, bindings: Bindings) -> gast.expr:
    """Between scalars nothing was broadcast: ``unbroadcast(e, x)`` is just ``e``."""
    helper = bindings.existing("unbroadcast", runtime.unbroadcast)
    if helper is None:
        return expr

    class Drop(gast.NodeTransformer):
        def visit_Call(self, node):
            self.generic_visit(node)
            if isinstance(node.func, gast.Name) and node.func.id == helper:
                return node.args[0]
            return node

    return Drop().visit(expr)
