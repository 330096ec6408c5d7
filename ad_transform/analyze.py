"""Stage 3: what each statement is, and which statements the adjoint must handle.

* resolution: which rule (or user function) every primitive statement calls;
* kinds: which values are statically known to be scalars or arrays, so that
  code for Python numbers needs no broadcasting helpers;
* activity: a value is active when it depends on a ``wrt`` argument *and* reaches
  the returned value; only active statements get adjoint code.
"""

from __future__ import annotations

import dataclasses
import inspect
import operator
import os
import sysconfig
import types
from dataclasses import dataclass, field

import gast
import numpy as np

from . import rules
from .emit import expression_source
from .nodes import name_ids, subnodes
from .normalize import NormalizedFunction
from .parse import is_missing
from .rules.constructors import FROM_SHAPE
from .rules.registry import SCALAR, SEQUENCE, UNKNOWN, Rule

BINARY_OPERATORS = {
    gast.Add: operator.add,
    gast.Sub: operator.sub,
    gast.Mult: operator.mul,
    gast.Div: operator.truediv,
    gast.Pow: operator.pow,
    gast.MatMult: operator.matmul,
    gast.Mod: operator.mod,
    gast.FloorDiv: operator.floordiv,
    gast.BitAnd: operator.and_,
    gast.BitOr: operator.or_,
    gast.BitXor: operator.xor,
    gast.LShift: operator.lshift,
    gast.RShift: operator.rshift,
}
UNARY_OPERATORS = {
    gast.USub: operator.neg,
    gast.UAdd: operator.pos,
    gast.Not: operator.not_,
    gast.Invert: operator.invert,
}

# What an operation is: a rule's primitive, a copy, a user function, or something opaque.
RULE, COPY, CONSTANT, USER_CALL, BUILD, OPAQUE, RETURN, STORE_ITEM, APPEND = (
    "rule",
    "copy",
    "constant",
    "user_call",
    "build",
    "opaque",
    "return",
    "store_item",
    "append",
)
EXTEND = "extend"  # xs.extend(values) on a list
# A user helper's in-place change of a container passed to it: never a statement's own
# op, only in the data flow (one per in-out argument, after the call's USER_CALL op).
CALL_WRITE = "call_write"
MUTATIONS = (STORE_ITEM, APPEND, EXTEND, CALL_WRITE)  # statements that change an object in place


@dataclass
class Op:
    """One normalized statement, resolved."""

    stmt: gast.stmt
    form: str
    target: str | None = None
    rule: Rule | None = None
    callee: object = None
    inputs: dict[str, gast.expr] = field(default_factory=dict)  # parameter -> atom
    active_inputs: list[str] = field(default_factory=list)
    active: bool = False
    pure: bool = True
    depth: int = 0  # how many loops enclose the statement
    # a user call: the in-out parameters the helper changes in place -> the caller's atoms
    writes: dict[str, gast.Name] = field(default_factory=dict)
    result_used: bool = True  # a user call: whether its result's adjoint is needed
    # a user call: arguments that must be numbers when it runs (the helper would change
    # an array in place), each with the helper's parameter
    number_checks: list[tuple[gast.Name, str]] = field(default_factory=list)

    @property
    def value(self) -> gast.expr:
        return self.stmt.value


@dataclass
class Analysis:
    """The resolved, kind-annotated and activity-annotated trace of one function."""

    fn: NormalizedFunction
    wrt: tuple[str, ...]
    ops: list[Op]
    kinds: dict[str, str | None]
    varied: set[str]
    useful: set[str]
    op_of: dict[int, Op] = field(default_factory=dict)  # id(statement) -> Op
    loop_variant: set[str] = field(default_factory=set)  # names assigned inside a loop
    # a helper's in-out parameters: changed in place for its caller, adjoints in and out
    inout: tuple[str, ...] = ()

    def op(self, stmt: gast.stmt) -> Op:
        return self.op_of[id(stmt)]

    @property
    def result(self) -> gast.expr:
        return self.ops[-1].stmt.value

    def kind_of(self, atom: gast.expr) -> str | None:
        return atom_kind(atom, self.kinds, self.fn)

    def is_active(self, atom: gast.expr) -> bool:
        return isinstance(atom, gast.Name) and atom.id in self.varied and atom.id in self.useful


def analyze(
    fn: NormalizedFunction,
    wrt: tuple[str, ...],
    param_kinds: dict[str, str | None],
    inout: tuple[str, ...] = (),
    result_used: bool = True,
) -> Analysis:
    """Resolve every statement of ``fn`` and mark what the adjoint needs.

    For a helper's pair: ``inout`` are the parameters it changes in place (outputs as
    much as the result), and ``result_used`` says whether the caller uses its result."""
    ops: list[Op] = []
    counters: set[str] = set()
    loop_variant: set[str] = set()
    _collect(fn.body, fn, 0, ops, counters, loop_variant)
    kinds = _kinds(ops, dict(param_kinds, **{c: SCALAR for c in counters}), fn)
    flow = list(ops)  # the ops, and the in-place changes of the helpers they call
    while True:
        varied = _fixpoint(lambda known: _varied(flow, set(wrt) | known))
        useful = _fixpoint(lambda known: _useful(flow, known | set(inout), result_used))
        if not _add_call_writes(ops, flow, varied | useful, fn, kinds):
            break
    analysis = Analysis(
        fn, wrt, ops, kinds, varied, useful, {id(op.stmt): op for op in ops}, loop_variant, inout
    )
    for op in ops:
        _mark_active(op, analysis)
    _mark_call_writes_active(analysis)
    if not result_used:
        ops[-1].active, ops[-1].active_inputs = False, []
    _check_item_stores(dataclasses.replace(analysis, ops=flow))
    _check_in_place_calls(analysis)
    return analysis


def _collect(stmts, fn, depth: int, ops: list, counters: set, loop_variant: set) -> None:
    """Describe every simple statement, in program order, noting its loop depth."""
    for stmt in stmts:
        if isinstance(stmt, gast.If):
            _collect(stmt.body, fn, depth, ops, counters, loop_variant)
            _collect(stmt.orelse, fn, depth, ops, counters, loop_variant)
        elif isinstance(stmt, (gast.For, gast.While)):
            if isinstance(stmt, gast.For):
                targets = [n.id for n in subnodes(stmt.target) if isinstance(n, gast.Name)]
                counters.update(targets[:1] if len(targets) > 1 or _is_range(stmt, fn) else [])
                loop_variant.update(targets)
            loop_variant.update(name_ids(stmt.body, gast.Store))
            _collect(stmt.body, fn, depth + 1, ops, counters, loop_variant)
        elif isinstance(stmt, (gast.Break, gast.Pass)):
            continue
        else:
            op = _describe(stmt, fn)
            op.depth = depth
            ops.append(op)


def _is_range(stmt: gast.For, fn: NormalizedFunction) -> bool:
    call = stmt.iter
    return isinstance(call, gast.Call) and resolve_static(call.func, fn) is range


def _fixpoint(step) -> set[str]:
    """Repeat a monotone propagation over the statements until nothing changes (loops)."""
    previous, current = None, step(set())
    while current != previous:
        previous, current = current, step(current)
    return current


# -- resolution ---------------------------------------------------------------------------
def _describe(stmt: gast.stmt, fn: NormalizedFunction) -> Op:
    if isinstance(stmt, gast.Return):
        return Op(stmt, RETURN, inputs={"value": stmt.value})
    if isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Subscript):
        item = stmt.targets[0]
        op = Op(stmt, STORE_ITEM, item.value.id, inputs={"value": stmt.value}, pure=False)
        op.array, op.index = item.value, item.slice
        return op
    if _is_append(stmt, fn):
        call = stmt.value
        form = APPEND if call.func.attr == "append" else EXTEND
        return Op(stmt, form, call.func.value.id, inputs={"value": call.args[0]}, pure=False)
    target = stmt.targets[0].id if isinstance(stmt, gast.Assign) else None
    value = stmt.value
    if isinstance(value, (gast.Name, gast.Constant)) or getattr(value, "ad_static", False):
        form = COPY if isinstance(value, gast.Name) else CONSTANT
        return Op(stmt, form, target, inputs={"x": value})
    if isinstance(value, (gast.Tuple, gast.List)):
        return Op(stmt, BUILD, target, inputs={str(i): e for i, e in enumerate(value.elts)})
    if isinstance(value, gast.BinOp):
        return _rule_op(
            stmt, target, BINARY_OPERATORS.get(type(value.op)), [value.left, value.right], {}, fn
        )
    if isinstance(value, gast.UnaryOp):
        return _rule_op(stmt, target, UNARY_OPERATORS.get(type(value.op)), [value.operand], {}, fn)
    if isinstance(value, gast.Compare):
        return Op(
            stmt,
            RULE,
            target,
            rule=rules.lookup(operator.lt),
            inputs={str(i): a for i, a in enumerate([value.left, *value.comparators])},
        )
    if isinstance(value, gast.Subscript):
        return _rule_op(stmt, target, operator.getitem, [value.value, value.slice], {}, fn)
    if isinstance(value, gast.Attribute):
        return _rule_op(stmt, target, ("attribute", value.attr), [value.value], {}, fn)
    if isinstance(value, gast.Call):
        return _call_op(stmt, target, value, fn)
    names = [n for n in subnodes(value) if isinstance(n, gast.Name)]
    return Op(stmt, OPAQUE, target, inputs={str(i): n for i, n in enumerate(names)}, pure=False)


def _is_append(stmt: gast.stmt, fn: NormalizedFunction) -> bool:
    """``xs.append(v)`` on a local list: a mutation the backward sweep undoes with ``pop``."""
    if not isinstance(stmt, gast.Expr) or not isinstance(stmt.value, gast.Call):
        return False
    call = stmt.value
    return (
        isinstance(call.func, gast.Attribute)
        and call.func.attr in ("append", "extend")
        and isinstance(call.func.value, gast.Name)
        and not getattr(call.func, "ad_static", False)
        and len(call.args) == 1
        and not call.keywords
    )


# Builtins that reach a function's variables by name: nothing can be differentiated through.
_INTROSPECTION = (eval, exec, locals, globals, vars)


def _call_op(stmt, target, call: gast.Call, fn: NormalizedFunction) -> Op:
    keywords = {kw.arg: kw.value for kw in call.keywords}
    if isinstance(call.func, gast.Attribute) and not getattr(call.func, "ad_static", False):
        return _rule_op(
            stmt, target, ("method", call.func.attr), [call.func.value, *call.args], keywords, fn
        )
    callee = resolve_static(call.func, fn)
    if any(callee is f for f in _INTROSPECTION):
        raise fn.parsed.error(
            f"unsupported construct: a call of {callee.__name__}() (the function's values "
            "cannot be followed through it)",
            call,
        )
    rule = rules.lookup(callee) if not is_missing(callee) else None
    if rule is None and is_user_function(callee):
        inputs = _bind_user_call(callee, call, fn, stmt)
        return Op(stmt, USER_CALL, target, callee=callee, inputs=inputs, pure=False)
    if rule is None:
        atoms = {str(i): a for i, a in enumerate([*call.args, *keywords.values()])}
        return Op(stmt, OPAQUE, target, callee=callee, inputs=atoms, pure=False)
    return _rule_op(stmt, target, callee, call.args, keywords, fn)


def _rule_op(stmt, target, primitive, args, keywords, fn: NormalizedFunction) -> Op:
    rule = rules.lookup(primitive) if primitive is not None else None
    if rule is None:
        atoms = {str(i): a for i, a in enumerate([*args, *keywords.values()])}
        return Op(stmt, OPAQUE, target, callee=primitive, inputs=atoms, pure=False)
    if rule.template is None:
        atoms = {str(i): a for i, a in enumerate([*args, *keywords.values()])}
        return Op(stmt, RULE, target, rule=rule, inputs=atoms, pure=rule.pure)
    try:
        inputs = rule.template.bind(list(args), keywords)
    except TypeError as exc:
        raise fn.parsed.error(
            f"unsupported call of {rule.name}: {exc} (the adjoint rule takes "
            f"{rule.template.signature})",
            stmt.value,
        ) from None
    return Op(stmt, RULE, target, rule=rule, inputs=inputs)


def resolve_static(node: gast.expr, fn: NormalizedFunction) -> object:
    """The object a static name or attribute chain (``np.linalg.norm``) refers to now."""
    if isinstance(node, gast.Name):
        return fn.parsed.lookup(node.id)
    if isinstance(node, gast.Attribute):
        base = resolve_static(node.value, fn)
        return getattr(base, node.attr, base) if not is_missing(base) else base
    return fn.parsed.lookup("\0")  # the missing marker


_LIBRARY_PATHS = tuple(
    os.path.realpath(p)
    for p in {
        sysconfig.get_paths()["stdlib"],
        sysconfig.get_paths()["purelib"],
        sysconfig.get_paths()["platlib"],
    }
)
_OWN_PACKAGE = os.path.dirname(os.path.realpath(__file__))


def is_user_function(obj: object) -> bool:
    """A plain Python function from the user's code (not from a library or the stdlib)."""
    if not isinstance(obj, types.FunctionType):
        return False
    filename = os.path.realpath(obj.__code__.co_filename)
    library = (_OWN_PACKAGE, *_LIBRARY_PATHS)
    return not any(filename.startswith(path + os.sep) for path in library)


def _bind_user_call(callee, call: gast.Call, fn: NormalizedFunction, stmt) -> dict:
    variadic = [
        p.name
        for p in inspect.signature(callee).parameters.values()
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    if variadic:  # the helper's own check names the parameter and points at it
        from .normalize import normalize
        from .parse import parse_function

        normalize(parse_function(callee))
    try:
        bound = inspect.signature(callee).bind(
            *call.args, **{kw.arg: kw.value for kw in call.keywords}
        )
    except TypeError as exc:
        raise fn.parsed.error(f"call of {callee.__name__}: {exc}", call) from None
    return dict(bound.arguments)


# -- kinds --------------------------------------------------------------------------------
def atom_kind(atom: gast.expr, kinds: dict, fn: NormalizedFunction) -> str | None:
    if isinstance(atom, gast.Constant):
        value = atom.value
        return (
            SCALAR if isinstance(value, (int, float)) and not isinstance(value, bool) else UNKNOWN
        )
    if isinstance(atom, gast.Name):
        return kinds.get(atom.id, UNKNOWN)
    if getattr(atom, "ad_static", False):
        root = atom
        while isinstance(root, gast.Attribute):
            root = root.value
        value = resolve_static(atom, fn)
        if isinstance(fn.parsed.lookup(root.id), types.ModuleType) and isinstance(value, float):
            return SCALAR
    return UNKNOWN


_BOTTOM = "bottom"  # not known yet, during the fixpoint over loops


def _kinds(ops: list[Op], start: dict, fn: NormalizedFunction) -> dict:
    """Kinds of all names: joined over every assignment, iterated to a fixpoint for loops."""
    kinds = dict(start)
    assigned = {op.target for op in ops if op.target is not None}
    for _ in range(20):
        new = dict(start)
        known = {**kinds, **new}  # the last sweep's kinds, updated by this one's
        for op in ops:
            if op.target is None:
                continue
            kind = _output_kind(op, known, fn, assigned)
            if kind == _BOTTOM:
                continue
            previous = new.get(op.target, _BOTTOM)
            new[op.target] = known[op.target] = kind if previous in (_BOTTOM, kind) else UNKNOWN
        if new == kinds:
            break
        kinds = new
    else:
        kinds = {name: (kind if name in start else UNKNOWN) for name, kind in kinds.items()}
    return kinds


def _output_kind(
    op: Op, kinds: dict, fn: NormalizedFunction, assigned: set[str] = frozenset()
) -> str | None:
    if op.form in MUTATIONS:
        return kinds.get(op.target, _BOTTOM)
    if op.form == CONSTANT and _is_none(op.inputs["x"]):
        return _BOTTOM  # a placeholder for a value assigned on another path
    if any(
        isinstance(a, gast.Name) and a.id not in kinds and a.id in assigned
        for a in op.inputs.values()
    ):
        return _BOTTOM
    if op.form in (COPY, CONSTANT):
        return atom_kind(op.inputs["x"], kinds, fn)
    if op.form == BUILD:
        return SEQUENCE
    if op.form == RULE and op.rule.template is not None:
        differentiable = op.rule.template.params
        arg_kinds = [
            atom_kind(op.inputs[p], kinds, fn)
            for p in differentiable
            if p in op.inputs and not _is_none(op.inputs[p])
        ]
        return op.rule.output_kind(arg_kinds)
    return UNKNOWN


def _is_none(node: gast.expr) -> bool:
    return isinstance(node, gast.Constant) and node.value is None


# -- activity -----------------------------------------------------------------------------
def _carries_derivative(op: Op) -> bool:
    if op.form in (COPY, BUILD, USER_CALL, OPAQUE, RETURN, *MUTATIONS):
        return True
    return op.form == RULE and op.rule.template is not None


def _input_names(op: Op) -> set[str]:
    return {a.id for a in op.inputs.values() if isinstance(a, gast.Name)}


def _varied(ops: list[Op], varied: set[str]) -> set[str]:
    varied = set(varied)
    for op in ops:
        if op.target is not None and _carries_derivative(op) and _input_names(op) & varied:
            varied.add(op.target)
    return varied


def _useful(ops: list[Op], useful: set[str], returns: bool = True) -> set[str]:
    useful = set(useful)
    for op in reversed(ops):
        if (returns and op.form == RETURN) or (op.target in useful and _carries_derivative(op)):
            useful |= _input_names(op)
    return useful


def _mark_active(op: Op, analysis: Analysis) -> None:
    if op.form == RETURN:
        op.active_inputs = ["value"] if analysis.is_active(op.value) else []
        op.active = bool(op.active_inputs)
        return
    if op.target is None or op.target not in analysis.varied or op.target not in analysis.useful:
        return
    if not _carries_derivative(op):
        return  # e.g. np.zeros_like(x): the new array's adjoint does not reach x
    op.active_inputs = [p for p, a in op.inputs.items() if analysis.is_active(a)]
    op.active = bool(op.active_inputs) or op.form in MUTATIONS
    if not op.active:
        return
    parsed = analysis.fn.parsed
    if op.form == OPAQUE:
        what = _describe_callee(op)
        raise parsed.error(
            f"cannot differentiate {what}: it has no adjoint rule; register one with "
            "ad_transform.register_adjoint",
            op.value,
        )
    if op.form == RULE:
        missing = [p for p in op.active_inputs if p not in op.rule.template.outputs]
        if missing:
            raise parsed.error(
                f"{op.rule.name} is not differentiable with respect to its argument {missing[0]!r}",
                op.value,
            )


# Calls whose result is a new array that nothing else holds: safe to write items into.
# constructors that return a new array (those from a shape have no derivative; these
# others do, in their values)
_FRESH_CONSTRUCTORS = (
    *FROM_SHAPE,
    np.full,
    np.full_like,
    np.arange,
    np.linspace,
    np.array,
    np.copy,
)


def _creates_array(op: Op) -> bool:
    if op.form == BUILD:
        return True
    callee = op.rule.primitive if op.rule is not None else op.callee
    if callee == ("method", "copy"):
        return True
    if isinstance(op.value, (gast.BinOp, gast.UnaryOp)) and op.form == RULE:
        return True
    try:
        return any(callee is c for c in _FRESH_CONSTRUCTORS) or type(callee) is np.ufunc
    except TypeError:
        return False


def _check_item_stores(analysis: Analysis) -> None:
    """Items may only be written into arrays the function created itself.

    Writing into an argument (or a view of one) would change the caller's data.
    """
    stores = [op for op in analysis.ops if op.form in MUTATIONS]
    if not stores:
        return
    definitions: dict[str, list[Op]] = {}
    for op in analysis.ops:
        if op.target is not None and op.form not in MUTATIONS:
            definitions.setdefault(op.target, []).append(op)
    definitions.update({p: [] for p in analysis.inout})  # the caller's, lent for the call
    owned = {name for name, ops in definitions.items()}
    changed = True
    while changed:
        changed = False
        for name in sorted(owned):
            for op in definitions[name]:
                source = op.inputs.get("x") if op.form == COPY else None
                ok = (
                    _creates_array(op)
                    or (op.form == CONSTANT and _is_none(op.inputs["x"]))
                    or (isinstance(source, gast.Name) and source.id in owned)
                )
                if not ok:
                    owned.discard(name)
                    changed = True
                    break
    for op in stores:
        if op.target not in owned:
            user_name = analysis.fn.source_of.get(op.target, op.target)
            what = "append to" if op.form == APPEND else "assign into items of"
            what = "extend" if op.form == EXTEND else what
            subject = f"{what} '{user_name}'"
            if op.form == CALL_WRITE:
                subject = (
                    f"pass '{user_name}' to {op.callee.__name__}(), which changes it in place,"
                )
            raise analysis.fn.parsed.error(
                f"cannot {subject}: only lists and arrays created inside the "
                f"function ([], np.zeros, np.copy, x.copy(), arithmetic) can be changed in "
                f"place; use '{user_name} = {user_name}.copy()' first",
                op.stmt,
            )


def _describe_callee(op: Op) -> str:
    callee = op.callee
    if isinstance(callee, tuple):
        return f"the {callee[0]} '.{callee[1]}'"
    if callee is None:
        return f"the expression '{expression_source(op.value)}'"
    if is_missing(callee):
        return "a call to an undefined name"
    return f"a call to {rules.display_name(callee)}"


# -- calls that change their arguments in place --------------------------------------------
def _add_call_writes(
    ops: list[Op], flow: list[Op], reached: set[str], fn, analysis_kinds: dict
) -> bool:
    """Give each user call that reaches a varied or useful value the in-place changes its
    helper makes (``stash(s, v)`` changes ``s``): one ``CALL_WRITE`` op per in-out argument
    in ``flow``, after the call. Whether anything was added (activity must be redone)."""
    from .effects import helper_effects

    added = False
    for op in ops:
        if op.form != USER_CALL or getattr(op, "effects_known", False):
            continue
        if not _input_names(op) & reached:
            continue
        op.effects_known = True
        effects = helper_effects(op.callee)
        helper = op.callee.__name__
        if effects.problems:
            raise fn.parsed.error(
                f"cannot differentiate the call of {helper}(): it changes an object in place "
                f"that the transformer cannot follow: {effects.problems[0]}",
                op.value,
            )
        for param, words in effects.unless_number:
            atom = op.inputs.get(param)
            if not isinstance(atom, gast.Name) or atom_kind(atom, analysis_kinds, fn) == SCALAR:
                continue
            message = fn.parsed.error(
                f"cannot differentiate the call of {helper}(): {words}, here its argument "
                f"'{fn.source_of.get(atom.id, atom.id)}'; change a copy, or return the new value",
                op.value,
            )
            if atom_kind(atom, analysis_kinds, fn) != UNKNOWN:
                raise message
            op.number_checks.append((atom, param))  # checked when the call runs
        at = flow.index(op) + 1
        for param in effects.mutated:
            atom = op.inputs.get(param)
            if not isinstance(atom, gast.Name) or any(a.id == atom.id for a in op.writes.values()):
                what = (
                    "its default value"
                    if atom is None
                    else "an object passed twice"
                    if isinstance(atom, gast.Name)
                    else f"'{expression_source(atom)}'"
                )
                raise fn.parsed.error(
                    f"cannot differentiate the call of {helper}(): it changes its parameter "
                    f"'{param}' in place, here {what}; pass a list or array the function "
                    "created",
                    op.value,
                )
            op.writes[param] = atom
            write = Op(op.stmt, CALL_WRITE, atom.id, callee=op.callee, inputs=dict(op.inputs))
            write.pure, write.depth = False, op.depth
            flow.insert(at, write)
            at += 1
            added = True
    return added


def _mark_call_writes_active(analysis: Analysis) -> None:
    """A call that changes a container in place is active when the container is (or its
    result is); the in-out arguments' adjoints then go in and out of the helper's pair."""
    for op in analysis.ops:
        if not op.writes:
            continue
        op.result_used = op.active
        containers = any(analysis.is_active(a) for a in op.writes.values())
        if op.active or containers:
            op.active = True
            op.active_inputs = [
                p for p, a in op.inputs.items() if analysis.is_active(a) and p not in op.writes
            ]


def _check_in_place_calls(analysis: Analysis) -> None:
    """Library calls and methods that change a value in place (``xs.sort()``, ``a.fill(v)``,
    ``np.copyto(a, b)``, ``out=``) have no adjoint: refused where the value is varied or
    reaches the result, never dropped."""
    from .effects import in_place_changes, possible_changes

    reached = analysis.varied | analysis.useful
    for op in analysis.ops:
        changes = in_place_changes(op, analysis.fn) + possible_changes(op, analysis.fn)
        for name, words in changes:
            if name.id in reached and analysis.kinds.get(name.id) != SCALAR:
                raise analysis.fn.parsed.error(
                    f"cannot differentiate this statement: {words}, and the change has no adjoint "
                    "rule (build a new value instead)",
                    op.value,
                )
