"""Forward mode: one function that computes the value and its directional derivative.

The stage beside ``reverse.py``: it takes the same analysed SSA trace and emits each
statement followed by the statement of its tangent (``y_dot``), in program order, with
no tape: loops and branches run once, as written. Tangents come from the rules' tangent
(JVP) templates (``rules/registry.py``: ``tangent``); a call of a user function becomes
a call of that function's own forward-mode function (``h_jvp``), which returns the value
and its tangent. Anything without a tangent rule is refused, never taken as constant.

Invariant the code keeps: the tangent of a value has the value's structure (an array's
shape, a list's length), and it is shared between two names exactly where the values
are (a copy ``b = a`` shares, a rule returning a new object gets a tangent of its own
before that object is changed in place). See docs/architecture/forward_mode.md.
"""

from __future__ import annotations

import operator
import threading
import types
import weakref
from dataclasses import dataclass, field

import gast
import numpy as np

from . import runtime
from .analyze import analyze
from .callables import code_name
from .dispatch import is_dynamic
from .emit import FunctionText, expression_source, parameters_source
from .errors import ADTransformError
from .nodes import clone, name_ids
from .normalize import normalize
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
from .optimize.forward import coalesce_copies
from .parse import parse_function
from .reverse import (
    JOINT,
    _drop_unbroadcast,
    _is_array_method,
    _located,
    _Reverser,
    assign,
    name_node,
    plain_operand_checks,
)
from .rules.registry import (
    DICT,
    JOIN,
    MULTILINEAR,
    NUMBERS,
    REPEAT_LEFT,
    REPEAT_RIGHT,
    SCALAR,
    SEQUENCE,
    UNKNOWN,
)
from .shapes import ArrayFact, keeps_shape, unpacked_fact
from .transform_memo import one_transformation
from .value_kinds import JVP

_lock = threading.RLock()
_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@dataclass
class HelperJVP:
    """The forward-mode function generated for a user function called by another: called
    like it, plus one keyword argument per differentiated parameter (its tangent); returns
    ``(value, tangent)``."""

    cell: types.CellType
    name: str
    tangent_params: dict[str, str]  # parameter -> the keyword its tangent is passed by
    generated: object = None


@dataclass
class ForwardProgram:
    """What the forward stage produces: the statements, the result and its tangent."""

    analysis: Analysis
    body: list[gast.stmt]
    bindings: object
    result: gast.expr
    result_tangent: gast.expr
    tangent_params: dict[str, str]  # wrt parameter -> its tangent's name
    pairs_used: list[HelperJVP] = field(default_factory=list)

    @property
    def fn(self):
        return self.analysis.fn


def forward(analysis: Analysis, helper_jvp, tangent_params: dict[str, str]) -> ForwardProgram:
    """The forward-mode statements of ``analysis``'s function; ``tangent_params`` names
    the tangent of each ``wrt`` parameter (chosen before, so callers can pass them)."""
    return _Forward(analysis, helper_jvp, tangent_params).run()


def _refused(analysis: Analysis, what: str, node) -> ADTransformError:
    return analysis.fn.parsed.error(f"jvp (forward mode) does not support {what} yet", node)


class _Forward(_Reverser):
    """Reuses the reverse stage's forward sweep for the primal statements (the same
    checks, in-place helpers and refusals) and adds a tangent statement after each."""

    coalesce = True  # the join copies merged into the statements before them (trace: no)

    def __init__(self, analysis: Analysis, helper_jvp, tangent_params: dict[str, str]) -> None:
        super().__init__(analysis, JOINT, helper_pair=None)
        self.helper_jvp = helper_jvp
        self.tangents: dict[str, str] = dict(tangent_params)
        self.jvps: dict[int, HelperJVP] = {}
        # complex values: ``complex_flows`` (in analyze) allows only the rules written for
        # them (COMPLEX_RULES), whose tangents are complex-correct too (the holomorphic ones
        # share the adjoint, the others have their own: abs, angle, real, imag, conj)
        if analysis.inout:
            raise _refused(
                analysis, "a helper that changes its arguments in place", analysis.fn.tree
            )
        self.needed = self.tangents_read()
        self.mutated = {op.target for op in analysis.ops if op.form in MUTATIONS}

    def tangents_read(self) -> set[str]:
        """Names whose tangent some tangent statement reads (or changes in place)."""
        needed = set()
        for op in self.analysis.ops:
            if not op.active:
                continue
            needed.update(
                op.inputs[p].id for p in op.active_inputs if isinstance(op.inputs[p], gast.Name)
            )
            if op.form in MUTATIONS:
                needed.add(op.target)
        return needed

    def tangent_name(self, primal: str) -> str:
        if primal not in self.tangents:
            self.tangents[primal] = self.names.fresh(primal + "_dot")
        return self.tangents[primal]

    def tangent_of(self, atom: gast.expr) -> gast.expr:
        """The tangent of an operand: its tangent name if active, else a zero like it."""
        if self.analysis.is_active(atom):
            return name_node(self.tangent_name(atom.id))
        return self.zero_like(atom)

    def zero_like(self, atom: gast.expr) -> gast.expr:
        if isinstance(atom, gast.Constant) or self.analysis.kind_of(atom) == SCALAR:
            return gast.Constant(value=0.0, kind=None)
        helper = self.bindings.reference("zero_tangent", runtime.zero_tangent)
        return gast.Call(func=name_node(helper), args=[clone(atom)], keywords=[])

    def run(self) -> ForwardProgram:
        body, result_op = self.fn.body[:-1], self.analysis.ops[-1]
        code = self.block(body)
        result = result_op.value
        result_tangent = self.tangent_of(result)
        code.extend(self.bound_checks(result_op.stmt))
        returned = name_ids(result_op.stmt, gast.Load) | name_ids(result_tangent, gast.Load)
        code = _without_unread_placeholders(code, name_ids(code, gast.Load) | returned)
        # a join copy ``y_1 = y_2`` after the statement that computes ``y_2``: that
        # statement assigns ``y_1`` itself (the reverse stage's pass, optimize/forward.py)
        if self.coalesce:
            code = coalesce_copies(code, returned)
        return ForwardProgram(
            self.analysis,
            code,
            self.bindings,
            result,
            result_tangent,
            {p: self.tangents[p] for p in self.analysis.wrt},
            list(self.jvps.values()),
        )

    # -- blocks: as written, each statement followed by its tangent ---------------------
    def block(self, stmts: list[gast.stmt]) -> list[gast.stmt]:
        out: list[gast.stmt] = []
        for stmt in stmts:
            out.extend(self.bound_checks(stmt))
            if isinstance(stmt, gast.If):
                out.extend(self.branch(stmt))
            elif isinstance(stmt, (gast.For, gast.While)):
                out.append(self.loop(stmt))
            elif isinstance(stmt, gast.Break):
                out.append(gast.Break())
            elif not isinstance(stmt, gast.Pass):
                out.extend(self.statement(self.analysis.op(stmt)))
        return out

    def branch(self, stmt: gast.If) -> list[gast.stmt]:
        if getattr(stmt, "ad_catch", False):
            self.check_catching(stmt)
        node = _located(
            gast.If(
                test=stmt.test,
                body=self.block(stmt.body) or [gast.Pass()],
                orelse=self.block(stmt.orelse),
            ),
            stmt,
        )
        node.ad_context = getattr(stmt, "ad_context", None) is not None
        if getattr(stmt, "ad_catch", False):
            return self.catching(node, stmt)
        return [node]

    def loop(self, stmt) -> gast.stmt:
        body = self.block(stmt.body) or [gast.Pass()]
        if isinstance(stmt, gast.For):
            node = gast.For(
                target=stmt.target, iter=stmt.iter, body=body, orelse=[], type_comment=None
            )
        else:
            node = gast.While(test=stmt.test, body=body, orelse=[])
        return _located(node, stmt)

    def statement(self, op: Op) -> list[gast.stmt]:
        if op.form == RETURN:
            return []
        if op.form == USER_CALL and op.active:
            return self.user_call(op)
        same = self.same_value(op)
        if same is not None:  # a helper that returns its operand here: no call
            out = [_located(assign(op.target, clone(same)), op.stmt)]
        else:
            # the primal statement as the reverse stage's forward sweep writes it, without
            # what it records for a backward sweep
            out = [s for s in self.forward_statement(op) if not getattr(s, "ad_tape_push", False)]
        self.code = []
        if op.active:
            self.tangent_statement(op)
        elif op.target in self.needed and getattr(op.stmt, "ad_unbound_user", False):
            # a name unbound until a loop binds it: its tangent is unbound alike (a join
            # copy before the loop copies both; reading the value raises first)
            placeholder = assign(self.tangent_name(op.target), clone(out[-1].value))
            placeholder.ad_unbound_user = True
            self.emit(placeholder, op)
        elif op.target in self.needed and op.form not in MUTATIONS:
            # a value with no derivative where other bindings of the name have one (the
            # value before a loop that changes it): its tangent is a zero like it
            self.emit(
                assign(self.tangent_name(op.target), self.zero_like(name_node(op.target))), op
            )
        return out + self.code

    # -- tangents of single statements -----------------------------------------------
    def same_value(self, op: Op) -> gast.expr | None:
        """The operand of a runtime helper that the kinds and shape facts prove returns it
        unchanged, else None: ``fresh_copy(e)`` of a number (plain derivative code,
        ``higher_order.py``: a number is never changed in place) and ``unpacked(t, n)`` of
        a tuple of ``n`` elements (``a, b = t``; the tape of plain code). Its value and
        tangent are then copies."""
        if op.form != RULE:
            return None
        primitive, inputs = op.rule.primitive, op.inputs
        if primitive is runtime.fresh_copy and set(inputs) == {"x"}:
            return inputs["x"] if self.analysis.kind_of(inputs["x"]) == SCALAR else None
        if primitive is runtime.unpacked and set(inputs) == {"whole", "count"}:
            whole = inputs["whole"]
            same = unpacked_fact(self.analysis.shapes.of(whole), inputs["count"])
            return whole if same is not None else None
        return None

    def stores_as_is(self, op: Op) -> bool:
        """``a[i] = v`` into a real float array (shape facts), a list or a dict (kinds):
        the value is stored as it is, so its tangent is too (``runtime.stored_tangent``
        asks the container's type and dtype when it runs)."""
        if self.analysis.kinds.get(op.target) in (SEQUENCE, DICT):
            return True
        fact = self.analysis.shapes.names.get(op.target)
        return (
            not self.analysis.complex_values
            and isinstance(fact, ArrayFact)
            and fact.dtype == "f"
            and fact.ndim >= 1
        )

    def tangent_statement(self, op: Op) -> None:
        if op.form == COPY:
            self.bind_tangent(op, self.tangent_of(op.inputs["x"]))
        elif self.same_value(op) is not None:
            self.bind_tangent(op, self.tangent_of(self.same_value(op)))
        elif op.form == BUILD:
            self.bind_tangent(op, self.built_tangent(op))
        elif op.form == RULE:
            self.rule_tangent(op)
        elif op.form == STORE_ITEM:
            target = gast.Subscript(
                value=name_node(self.tangent_name(op.target)),
                slice=clone(op.index),
                ctx=gast.Store(),
            )
            value = self.tangent_of(op.inputs["value"])
            if not self.stores_as_is(op):
                helper = self.bindings.reference("stored_tangent", runtime.stored_tangent)
                value = gast.Call(
                    func=name_node(helper), args=[value, name_node(op.target)], keywords=[]
                )
            stmt = assign(target, value)
            stmt.ad_pure = False
            self.emit(stmt, op)
        elif op.form in (APPEND, EXTEND):
            self.extension_tangent(op)
        elif op.form == FIELD:  # the same attribute of the object's tangent (same class)
            obj = self.tangent_of(op.inputs["obj"])
            self.bind_tangent(op, gast.Attribute(value=obj, attr=op.attr, ctx=gast.Load()))
        elif op.form == RECORD:
            raise _refused(self.analysis, "creating or changing objects of user classes", op.value)
        else:
            raise _refused(self.analysis, f"this statement ({op.form})", op.stmt)

    def bind_tangent(self, op: Op, value: gast.expr) -> None:
        self.emit(assign(self.tangent_name(op.target), value), op)

    def built_tangent(self, op: Op) -> gast.expr:
        """``(a, b)`` -> ``(a_dot, 0.0)``: a display of the elements' tangents."""
        value = op.value
        if isinstance(value, gast.Dict):
            return gast.Dict(
                keys=[clone(k) for k in value.keys],
                values=[self.tangent_of(v) for v in value.values],
            )
        if any(isinstance(e, gast.Starred) for e in value.elts):
            raise _refused(self.analysis, "a starred element in a display", value)
        kind = gast.Tuple if isinstance(value, gast.Tuple) else gast.List
        return kind(elts=[self.tangent_of(e) for e in value.elts], ctx=gast.Load())

    def extension_tangent(self, op: Op) -> None:
        """``xs.append(v)`` -> ``xs_dot.append(v_dot)``; ``xs.extend(v)`` likewise (zeros
        for the new elements where ``v`` has no derivative)."""
        tangent = name_node(self.tangent_name(op.target))
        value = op.inputs["value"]
        if op.form == EXTEND and not self.analysis.is_active(value):
            helper = self.bindings.reference("pad_tangent", runtime.pad_tangent)
            call = gast.Call(
                func=name_node(helper), args=[tangent, name_node(op.target)], keywords=[]
            )
        else:
            method = gast.Attribute(value=tangent, attr=op.form, ctx=gast.Load())
            call = gast.Call(func=method, args=[self.tangent_of(value)], keywords=[])
        stmt = gast.Expr(value=call)
        stmt.ad_pure = False
        self.emit(stmt, op)

    def rule_tangent(self, op: Op) -> None:
        rule = op.rule
        for check in plain_operand_checks(self.analysis, op, self.bindings, self.fn):
            self.emit(check, op)
        form = self.analysis.sequence_form(op)
        if form != NUMBERS:
            self.bind_tangent(op, self.sequence_tangent(op, form))
            return
        params = [p for p in rule.template.params if p in op.inputs]
        kinds = [self.analysis.kind_of(op.inputs[p]) for p in params]
        all_scalar = (
            all(k == SCALAR for k in kinds) and self.analysis.kinds.get(op.target) == SCALAR
        )
        template = rule.tangent_for(all_scalar)
        if template is None and rule.linear is not None:
            self.linear_tangent(op)
            return
        if template is None:
            raise self.fn.parsed.error(
                f"jvp (forward mode): {_user_name(rule)} has no tangent rule yet "
                "(rules/: declare one with @tangent beside its adjoint)",
                op.value,
            )
        missing = [p for p in op.active_inputs if p not in template.outputs]
        if missing:
            raise self.fn.parsed.error(
                f"jvp (forward mode): the tangent rule of {rule.name} has no term for its "
                f"argument {missing[0]!r} yet",
                op.value,
            )
        if _is_array_method(op) and self.analysis.kind_of(op.inputs[params[0]]) == UNKNOWN:
            self.check_array_receiver(op)
        inputs = {p: self.as_value(a) for p, a in op.inputs.items()}
        tangents = {p: name_node(self.tangent_name(op.inputs[p].id)) for p in op.active_inputs}
        if _converts_lists(rule):
            self.lists_as_arrays(op, inputs, tangents)
        terms = []
        for param in op.active_inputs:
            instance = template.instantiate(
                [param],
                inputs,
                tangents[param],
                name_node(op.target),
                self.bindings.reference,
                self.names.numbered,
            )
            for stmt in instance.preamble:
                self.emit(stmt, op)
            terms.append(
                _without_unit_factors(_drop_unbroadcast(instance.outputs[param], self.bindings))
            )
        terms = [t for t in terms if not _is_zero_term(t)]  # shape-only arguments
        if not terms:
            helper = self.bindings.reference("zero_tangent", runtime.zero_tangent)
            terms = [gast.Call(func=name_node(helper), args=[name_node(op.target)], keywords=[])]
        total = self.dtype_checked(op, _sum_of(_doubled(terms)))
        if (
            not all_scalar
            and rule.kind == "elementwise"
            and self.broadcasts(op)
            and not self.terms_keep_shape(op)
        ):
            helper = self.bindings.reference("tangent_like", runtime.tangent_like)
            total = gast.Call(
                func=name_node(helper), args=[total, name_node(op.target)], keywords=[]
            )
        if (
            op.target in self.mutated
            and rule.returns_new(op.inputs)
            and isinstance(total, gast.Name | gast.Call)  # a helper may return its argument
        ):
            helper = self.bindings.reference("fresh_tangent", runtime.fresh_tangent)
            total = gast.Call(func=name_node(helper), args=[total], keywords=[])
        self.bind_tangent(op, total)

    def lists_as_arrays(self, op: Op, inputs: dict, tangents: dict) -> None:
        """The list and tuple operands of an elementwise NumPy function or operator (and
        their tangents) as the arrays NumPy makes of them (``np.log([a, b])``): the
        templates compute with them as arrays (``g / x``), which lists are not."""
        helper = None
        numpy_function = not _is_operator(op.rule.primitive)
        for param, atom in op.inputs.items():
            kind = self.analysis.kind_of(atom)
            maybe_list = (
                numpy_function
                and kind == UNKNOWN
                and isinstance(atom, gast.Name)
                and param in tangents
                and not self.analysis.certainly_numeric(atom)
            )
            if kind != SEQUENCE and not maybe_list:  # (a list read from a container)
                continue
            helper = helper or self.bindings.reference("asarray", runtime.as_numpy_operand)
            for table, expr in ((inputs, inputs[param]), (tangents, tangents.get(param))):
                if expr is None:
                    continue
                base = expr.id if isinstance(expr, gast.Name) else "operand"
                name = self.names.fresh(base + "_array")
                call = gast.Call(func=name_node(helper), args=[clone(expr)], keywords=[])
                self.emit(assign(name, call), op)
                table[param] = name_node(name)

    def linear_tangent(self, op: Op) -> None:
        """A primitive linear in its differentiable arguments: the same call on their
        tangents, jointly (zeros for the inactive ones) or one call per active argument."""
        rule = op.rule
        differentiable = [p for p in rule.template.outputs if p in op.inputs]
        missing = [p for p in op.active_inputs if p not in differentiable]
        if missing:
            raise self.fn.parsed.error(
                f"jvp (forward mode): {rule.name} is not linear in its argument {missing[0]!r}",
                op.value,
            )
        if rule.linear == MULTILINEAR:
            groups = [[p] for p in op.active_inputs]
        else:
            groups = [differentiable]
        terms = []
        for group in groups:
            replacements = {id(op.inputs[p]): self.tangent_of(op.inputs[p]) for p in group}
            term = _copy_replacing(op.value, replacements)
            helper = getattr(op.value, "ad_runtime", None)
            if helper is not None:  # a construct normalize wrote as a runtime primitive
                term.func = name_node(self.bindings.reference(helper.__name__, helper))
            terms.append(term)
        total = self.dtype_checked(op, _sum_of(terms))
        if (
            op.target in self.mutated
            and rule.returns_new(op.inputs)
            and isinstance(total, gast.Name | gast.Call)  # a helper may return its argument
        ):
            helper = self.bindings.reference("fresh_tangent", runtime.fresh_tangent)
            total = gast.Call(func=name_node(helper), args=[total], keywords=[])
        self.bind_tangent(op, total)

    def dtype_checked(self, op: Op, total: gast.expr) -> gast.expr:
        """A call given ``dtype=`` (``np.full(n, v, dtype=int)``, ``np.sum(x, dtype=int)``),
        or ``np.full_like(a, v)`` (``a``'s dtype): its tangent is zero where the result is
        an integer or boolean array (the values were truncated: piecewise constant),
        whatever the rule's terms computed."""
        dtype = op.inputs.get("dtype")
        given = dtype is not None and not (isinstance(dtype, gast.Constant) and dtype.value is None)
        if not given and op.rule.primitive is not np.full_like:  # its dtype is a's
            return total
        helper = self.bindings.reference("dtype_tangent", runtime.dtype_tangent)
        return gast.Call(func=name_node(helper), args=[total, name_node(op.target)], keywords=[])

    def broadcasts(self, op: Op) -> bool:
        """Whether an operand without derivative may give the result a shape its active
        operands' terms do not have (``x * c`` with a scalar ``x`` and an array ``c``)."""
        return any(
            isinstance(atom, gast.Name)
            and param not in op.active_inputs
            and self.analysis.kind_of(atom) != SCALAR
            for param, atom in op.inputs.items()
        )

    def terms_keep_shape(self, op: Op) -> bool:
        """Whether the shape facts prove that every active operand of a broadcasting
        statement has the result's shape (``shapes.keeps_shape``): then each tangent term,
        its tangent broadcast against the other operands, has it too (no ``tangent_like``)."""
        if self.analysis.complex_values or not op.active_inputs:
            return False
        facts, kinds = self.analysis.shapes, self.analysis.kinds
        return all(keeps_shape(op, p, facts, kinds) for p in op.active_inputs)

    def sequence_tangent(self, op: Op, form: str) -> gast.expr:
        """``+`` joining and ``*`` repeating lists and tuples: the same on the tangents."""
        x, y = op.inputs["x"], op.inputs["y"]
        in_place = getattr(op.stmt, "ad_in_place", None) is not None
        if form == JOIN and not in_place:
            return gast.BinOp(left=self.tangent_of(x), op=gast.Add(), right=self.tangent_of(y))
        if form == REPEAT_LEFT:
            return gast.BinOp(left=self.tangent_of(x), op=gast.Mult(), right=clone(y))
        if form == REPEAT_RIGHT:
            return gast.BinOp(left=clone(x), op=gast.Mult(), right=self.tangent_of(y))
        # kinds known only when it runs; and ``xs += ys`` joining a list and a tuple, where
        # ``xs_dot + ys_dot`` would raise (``sum_tangent`` joins by the result's type)
        helper = (
            runtime.sum_tangent if op.rule.primitive is operator.add else runtime.product_tangent
        )
        name = self.bindings.reference(helper.__name__, helper)
        args = [name_node(op.target), clone(x), clone(y), self.tangent_of(x), self.tangent_of(y)]
        return gast.Call(func=name_node(name), args=args, keywords=[])

    # -- calls of user functions: their own forward-mode functions ----------------------
    def user_call(self, op: Op) -> list[gast.stmt]:
        if op.writes:
            raise _refused(self.analysis, "a helper that changes its arguments in place", op.value)
        if is_dynamic(op.callee):
            return self.dynamic_call(op)
        if op.spread is not None or op.spread_keywords or op.keyword_rest or op.number_checks:
            raise _refused(self.analysis, "calls spreading *args or **kwargs", op.value)
        jvp = self.jvp(op)
        checks = []
        function = name_node(self.bindings.bind_cell(jvp.name, jvp.cell))
        if op.call_args is not None:  # a method of a known class: its function, receiver first
            checks = self.class_method_check(op)
            args = [self.object_atom(a) for a in op.call_args]
            call = gast.Call(func=function, args=args, keywords=list(op.call_keywords))
        else:
            call = clone(op.stmt).value
            call.func = function
        call.keywords = list(call.keywords) + [
            gast.keyword(arg=jvp.tangent_params[p], value=self.tangent_of(op.inputs[p]))
            for p in op.active_inputs
        ]
        target = op.target or self.names.fresh("_")
        targets = [name_node(target, True), name_node(self.tangent_name(target), True)]
        node = _located(assign(gast.Tuple(elts=targets, ctx=gast.Store()), call), op.stmt)
        node.ad_pure = False
        return [*checks, node]

    def dynamic_call(self, op: Op) -> list[gast.stmt]:
        """A call whose callee is known only when it runs (``model.energy(x)``, ``op(x)``
        for ``op`` from a tuple): ``y, y_dot = energy_jvp_dispatch(model, x, tangents=(x_dot,))``,
        the run-time dispatcher of ``dispatch_forward.py``."""
        from .dispatch_forward import dispatch_jvp

        active = tuple(op.active_inputs)
        dispatcher = types.CellType(dispatch_jvp(op.callee, active, op.result_used))
        stem = op.callee.through or op.callee.name.strip("_") or "call"
        name = self.bindings.bind_cell(f"{stem}_jvp_dispatch", dispatcher)
        tangents = gast.Tuple(
            elts=[self.tangent_of(op.inputs[key]) for key in active], ctx=gast.Load()
        )
        call = gast.Call(
            func=name_node(name),
            args=[self.object_atom(a) for a in op.call_args],
            keywords=[*op.call_keywords, gast.keyword(arg="tangents", value=tangents)],
        )
        target = op.target or self.names.fresh("_")
        targets = [name_node(target, True), name_node(self.tangent_name(target), True)]
        node = _located(assign(gast.Tuple(elts=targets, ctx=gast.Store()), call), op.stmt)
        node.ad_pure = False
        return [node]

    def jvp(self, op: Op) -> HelperJVP:
        if id(op) not in self.jvps:
            kinds = {p: self.analysis.kind_of(a) for p, a in op.inputs.items()}
            self.jvps[id(op)] = self.helper_jvp(op, list(op.active_inputs), kinds)
        return self.jvps[id(op)]


# primitives the lowering passes write for a user's construct: the name the user wrote
_LOWERED_NAMES = {"put_values": "np.put / np.place"}


def _user_name(rule) -> str:
    """The name of a rule's primitive as the user knows it: ``np.put`` rather than the
    runtime primitive it is lowered to (whose name follows in parentheses)."""
    if not rule.name.startswith("ad_transform."):
        return rule.name
    short = rule.name.rsplit(".", 1)[-1]
    user = _LOWERED_NAMES.get(short, "the operation on this line")
    return f"{user} (computed by ad_transform's {short})"


def _is_operator(primitive) -> bool:
    return (getattr(primitive, "__module__", None) or "") in ("operator", "_operator")


def _converts_lists(rule) -> bool:
    """Whether a call of ``rule``'s primitive takes list operands as NumPy arrays: an
    elementwise NumPy function or an arithmetic operator (on an array and a list)."""
    if rule.kind != "elementwise":
        return False
    primitive = rule.primitive
    module = getattr(primitive, "__module__", None) or ""
    return (
        isinstance(primitive, np.ufunc)
        or module == "numpy"
        or module.startswith("numpy.")
        or module in ("operator", "_operator")
    )


def _without_unread_placeholders(stmts: list[gast.stmt], read: set[str]) -> list[gast.stmt]:
    """``i = UNBOUND`` (a user's name unbound until a loop binds it) where nothing reads
    ``i``: nothing can raise ``UnboundLocalError`` through it."""
    out = []
    for stmt in stmts:
        if (
            getattr(stmt, "ad_unbound_user", False)
            and not name_ids(stmt.targets, gast.Store) & read
        ):
            continue
        for field_name in ("body", "orelse"):
            inner = getattr(stmt, field_name, None)
            if isinstance(inner, list) and inner:
                setattr(
                    stmt, field_name, _without_unread_placeholders(inner, read) or [gast.Pass()]
                )
        out.append(stmt)
    return out


def _copy_replacing(node, replacements: dict[int, gast.expr]):
    """A copy of ``node`` with the nodes whose ids are keys of ``replacements`` replaced
    (the operands of a call, found by identity: ``np.dot(x, x)`` has two)."""
    if id(node) in replacements:
        return clone(replacements[id(node)])
    if isinstance(node, list):
        return [_copy_replacing(item, replacements) for item in node]
    if not isinstance(node, gast.AST):
        return node
    new = node.__class__.__new__(node.__class__)
    for key, value in node.__dict__.items():
        new.__dict__[key] = _copy_replacing(value, replacements) if key in node._fields else value
    return new


def _is_zero_term(term: gast.expr) -> bool:
    """A tangent term written as the constant 0: an argument only the shape of which the
    rule reads (``like`` in ``unbroadcast(g, like)``, ``rules/runtime_helpers.py``)."""
    return isinstance(term, gast.Constant) and type(term.value) is float and term.value == 0


def _sum_of(terms: list[gast.expr]) -> gast.expr:
    """``a + b - c`` from the terms ``a``, ``b``, ``-c``."""
    total = terms[0]
    for term in terms[1:]:
        if isinstance(term, gast.UnaryOp) and isinstance(term.op, gast.USub):
            total = gast.BinOp(left=total, op=gast.Sub(), right=term.operand)
        else:
            total = gast.BinOp(left=total, op=gast.Add(), right=term)
    return total


def _doubled(terms: list[gast.expr]) -> list[gast.expr]:
    """``[t, t]`` (``x * x``: both operands one name) as ``[2.0 * t]``: the term is
    computed once, and doubling is exact, so ``2.0 * t == t + t`` for every float
    (``a * b`` and ``b * a`` count as one term: IEEE products commute)."""
    if len(terms) == 2 and _same_term(terms[0], terms[1]):
        return [
            gast.BinOp(left=gast.Constant(value=2.0, kind=None), op=gast.Mult(), right=terms[0])
        ]
    return terms


def _same_term(a: gast.expr, b: gast.expr) -> bool:
    if gast.dump(a) == gast.dump(b):
        return True
    products = all(isinstance(t, gast.BinOp) and isinstance(t.op, gast.Mult) for t in (a, b))
    return products and sorted(map(gast.dump, (a.left, a.right))) == sorted(
        map(gast.dump, (b.left, b.right))
    )


def _without_unit_factors(node: gast.AST) -> gast.AST:
    """``e * 1.0`` as ``e`` inside a tangent term (a folded ``math.log(math.e)``): the term
    is a float product with the tangent either way."""
    for name in node._fields:
        value = getattr(node, name, None)
        if isinstance(value, gast.AST):
            setattr(node, name, _without_unit_factors(value))
        elif isinstance(value, list):
            value[:] = [_without_unit_factors(v) if isinstance(v, gast.AST) else v for v in value]
    if isinstance(node, gast.BinOp) and isinstance(node.op, gast.Mult):
        for unit, other in ((node.right, node.left), (node.left, node.right)):
            if isinstance(unit, gast.Constant) and type(unit.value) is float and unit.value == 1.0:
                return other
    return node


# -- building and caching ----------------------------------------------------------------
def generate_jvp(
    func,
    wrt: tuple[int, ...],
    kinds: tuple,
    shapes: tuple | None = None,
    tangent_only: bool = False,
):
    """The generated (and cached) forward-mode code of ``func`` for arguments of these
    kinds: ``jvp_f(*args, *, x_dot, ...)`` returning ``(value, tangent)``. ``shapes``: each
    argument's shape facts (``shapes.argument_shapes``), or None for code that works for
    arrays of any rank (as ``pipeline.generate``'s). ``tangent_only``: the function
    returns the tangent alone, without the statements only the value needs (``hvp``,
    ``hessian``: the gradient's own last products are not computed)."""
    from .pipeline import Generated  # noqa: F401  (the type returned)

    if not isinstance(func, types.FunctionType):
        parse_function(func)  # raises the ADTransformError that explains why
    key = (wrt, kinds, JVP) if shapes is None else (wrt, kinds, JVP, ("shapes", shapes))
    if tangent_only:
        key = (*key, "tangent only")
    entries = _cache.get(func)
    if entries is not None and key in entries and not entries[key].is_stale():
        return entries[key]
    with _lock:
        entries = _cache.setdefault(func, {})
        if key not in entries or entries[key].is_stale():
            with one_transformation():
                entries[key] = _build_top_level(func, wrt, kinds, shapes, tangent_only)
        return entries[key]


def _build_top_level(
    func, wrt: tuple[int, ...], kinds: tuple, shapes: tuple | None, tangent_only: bool = False
):
    from .optimize.dead_code import eliminate_dead_code, may_raise
    from .pipeline import normalized_for_call

    fn, params, wrt_names = normalized_for_call(func, wrt, kinds)
    tangent_params = {p: fn.names.fresh(p + "_dot") for p in wrt_names}
    param_shapes = dict(zip(params, shapes)) if shapes is not None else None
    analysis = analyze(fn, wrt_names, dict(zip(params, kinds)), param_shapes=param_shapes)
    stage = _Forward(analysis, _helper_jvp, tangent_params)
    program = stage.run()
    base = func.__name__ if func.__name__.isidentifier() else fn.tree.name
    tangents = tuple(tangent_params.values())
    if not tangent_only:
        name = fn.names.fresh("jvp_" + base)
        return _emit(program, func, name, _docstring(func, tangents))
    # Only what the tangent reads, and what has an effect, stays. A statement that may
    # raise stays unless its tangent is computed: the tangent statement has the same
    # operand shapes and raises where it does (x_dot has x's shape).
    needed = set(name_ids(program.result_tangent))
    live = eliminate_dead_code(clone(program.body), set(needed), frozenset())
    computed = name_ids(gast.Module(body=live, type_ignores=[]))
    raising = frozenset(n for n in may_raise(analysis) if stage.tangents.get(n) not in computed)
    program.body = eliminate_dead_code(program.body, needed, raising)
    program.result = None
    name = fn.names.fresh("tangent_of_" + base)
    return _emit(program, func, name, _docstring(func, tangents, tangent_only=True))


def _helper_jvp(op: Op, active: list[str], arg_kinds: dict) -> HelperJVP:
    """The forward-mode function of the user function ``op`` calls (cached per callee,
    differentiated parameters and kinds; cached before it is built, for recursion)."""
    import inspect

    callee = op.callee
    parsed = parse_function(callee)
    fn_params = list(inspect.signature(callee, follow_wrapped=False).parameters)
    kinds = tuple(arg_kinds.get(p) for p in fn_params)
    key = (tuple(fn_params.index(p) for p in active), kinds, op.result_used, "jvp_helper")
    entries = _cache.setdefault(callee, {})
    cached = entries.get(key)
    if cached is not None and (cached.generated is None or not cached.generated.is_stale()):
        return cached  # built, or being built (recursion)
    fn = normalize(parsed, procedure=True)
    tangent_params = {p: fn.names.fresh(p + "_dot") for p in active}
    name = code_name(callee)
    helper = HelperJVP(types.CellType(), name + "_jvp", tangent_params)
    entries[key] = helper
    try:
        analysis = analyze(
            fn,
            tuple(active),
            dict(zip(fn_params, kinds)),
            helper=True,
            result_used=op.result_used,
        )
        program = forward(analysis, _helper_jvp, tangent_params)
        generated = _emit(
            program,
            callee,
            fn.names.fresh(name + "_jvp"),
            f"Forward mode of {fn.tree.name}: its value and tangent in the direction of "
            f"{', '.join(tangent_params.values())}.",
        )
    except BaseException:
        del entries[key]
        raise
    helper.cell.cell_contents = generated.function
    helper.generated = generated
    return helper


def _emit(program: ForwardProgram, func, name: str, docstring: str):
    from .emit import compile_functions
    from .pipeline import Generated, _defaults, _dependencies

    fn = program.fn
    params = parameters_source(fn.tree.args)
    tangents = ", ".join(program.tangent_params.values())
    if tangents:
        if fn.tree.args.vararg is not None or fn.tree.args.kwonlyargs:
            params += f", {tangents}"
        else:
            params += (", *, " if params else "*, ") + tangents
    if fn.tree.args.kwarg is not None:
        raise ADTransformError(
            f"jvp (forward mode) does not support a function with **{fn.tree.args.kwarg.id} yet"
        )
    text = FunctionText(name, params, docstring)
    text.statements(program.body, fn.parsed.file_lines)
    if program.result is None:  # tangent only
        text.line(f"return {expression_source(program.result_tangent)}")
    else:
        text.line(
            f"return {expression_source(program.result)}, "
            f"{expression_source(program.result_tangent)}"
        )
    source = text.source()
    cells = dict(fn.parsed.closure)
    cells.update(program.bindings.cells)
    kwdefaults = dict(func.__kwdefaults__ or {})
    functions = compile_functions(
        source, func.__qualname__, func.__globals__, cells, {name: (_defaults(func)[0], kwdefaults)}
    )
    generated = Generated(
        source,
        functions,
        name,
        wrt=tuple(program.tangent_params),
        dependencies=_dependencies(program),
        cells=cells,
    )
    generated.tangent_names = tuple(program.tangent_params.values())
    return generated


def _docstring(func, tangents: tuple[str, ...], tangent_only: bool = False) -> str:
    from .callables import source_location

    what = "Tangent (JVP; the value is not computed)" if tangent_only else "Value and tangent (JVP)"
    return (
        f"{what} of {func.__name__} in the direction of "
        f"{', '.join(tangents)}; generated by ad_transform from {source_location(func)}."
    )


__all__ = ["JVP", "ForwardProgram", "HelperJVP", "forward", "generate_jvp"]
