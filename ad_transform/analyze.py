"""Stage 3: what each statement is, and which statements the adjoint must handle.

* resolution: which rule (or user function) every primitive statement calls;
* kinds: which values are statically known to be scalars or arrays, so that
  code for Python numbers needs no broadcasting helpers;
* activity: a value is active when it depends on a ``wrt`` argument *and* reaches
  the returned value; only active statements get adjoint code.
"""

from __future__ import annotations

import builtins
import copy
import dataclasses
import inspect
import operator
import sys
import types
import warnings
from dataclasses import dataclass, field

import gast
import numpy as np

from . import aliases, leaf_kinds, rules, runtime
from .callables import (
    HIGHER_ORDER,
    derivative_origin,
    higher_order_error_text,
    is_differentiable_derivative,
    is_library_file,
    is_library_module,
    is_transform,
    special_description,
)
from .complex_flows import refuse_complex_flows
from .dispatch import is_dynamic
from .emit import expression_source
from .errors import ADTransformError
from .global_writes import assigned_when_called
from .nodes import name_ids, subnodes
from .normalize import NormalizedFunction
from .objects import (
    class_of_atom,
    dependencies_of_lookup,
    is_plain_namedtuple,
    is_user_class,
    record_layout,
)
from .ownership import _user_text, check_item_stores
from .parse import is_missing
from .rules.registry import (
    ARRAY,
    DICT,
    DYNAMIC,
    DYNAMIC_IN_PLACE,
    NUMBERS,
    SCALAR,
    SEQUENCE,
    UNKNOWN,
    Rule,
)
from .shapes import ShapeFacts, derived_kinds, number_fact, parameter_fact
from .shapes import infer as infer_shapes

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
# Objects of user classes (objects.py): ``Cls(...)`` of a record class, and the read of an
# attribute stored on an object of a known class.
RECORD, FIELD = "record", "field"
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
    # a user call of a helper with ``*args``: how many positional arguments it spreads
    spread: int | None = None
    # a user call where complex values may appear: its pair is checked for them too
    complex_context: bool = False
    # the keywords such a call gives a helper's ``**kwargs`` by name (spread like ``*args``)
    spread_keywords: tuple[str, ...] = ()
    # a user call: atoms that reach the helper through ``**`` (a ``**d`` at the call, or
    # keywords its ``**kwargs`` collects): never differentiated, refused if varied
    keyword_rest: list[gast.expr] = field(default_factory=list)
    # a method, property or operator method of a user class called as a user function:
    # the arguments of the call of its pair (the receiver first), and the classes known
    # of its arguments (parameter -> class), which its pair is specialised for
    call_args: list[gast.expr] | None = None
    call_keywords: list[gast.keyword] = field(default_factory=list)
    arg_classes: dict[str, type] = field(default_factory=dict)
    # a user call: the facts of the leaves of container arguments (leaf_kinds.py)
    arg_leaf_kinds: dict = field(default_factory=dict)
    # a method looked up on a receiver whose instance attributes are not known: the
    # receiver and the name, checked when it runs (an instance attribute would shadow it)
    class_method_check: tuple[gast.expr, str] | None = None
    lookups: list[tuple] = field(default_factory=list)  # (namespace, name, object) resolved
    attr: str | None = None  # FIELD: the attribute read
    refusal: str | None = None  # why an operation on an object cannot be differentiated

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
    classes: dict[str, type] = field(default_factory=dict)  # names of objects of user classes
    # complex values may appear (complex_flows.py): adjoints are added out of place, so a
    # real value's adjoint may become complex (its real part is the gradient)
    complex_values: bool = False
    # what is known of each value's rank, dtype and unit axes (shapes.py); empty for
    # code not specialised by shape
    shapes: ShapeFacts = field(default_factory=lambda: ShapeFacts({}, {}))
    # free names (globals, closure variables) holding a Python number when it was
    # analysed, treated as scalars: name -> namespace (a globals dict or a closure cell);
    # the generated code is stale once one of them holds something else
    scalar_globals: dict[str, object] = field(default_factory=dict)
    # what the kinds of the results of user functions called here relied on by name
    # (``result_dependencies``): the generated code is stale once one is rebound
    call_dependencies: list = field(default_factory=list)
    # names certainly holding a tuple of a known length -> the kinds of its elements
    items: dict[str, tuple] = field(default_factory=dict)
    # names holding an integer leaf of a container parameter (``leaf_kinds.INT``): varied
    # where they enter arithmetic; as an index, a count or a shape they carry no derivative
    integer_names: frozenset[str] = frozenset()

    def class_of(self, atom: gast.expr) -> type | None:
        return class_of_atom(atom, self.classes, self.fn)

    def op(self, stmt: gast.stmt) -> Op:
        return self.op_of[id(stmt)]

    @property
    def result(self) -> gast.expr:
        return self.ops[-1].stmt.value

    def kind_of(self, atom: gast.expr) -> str | None:
        return atom_kind(atom, self.kinds, self.fn)

    def is_active(self, atom: gast.expr) -> bool:
        return isinstance(atom, gast.Name) and atom.id in self.varied and atom.id in self.useful

    def sequence_form(self, op: Op) -> str:
        if not hasattr(self, "_definitions"):
            self._definitions = _definitions_of(self.ops)
        return sequence_form(op, self.kinds, self.fn, self._definitions)

    def certainly_numeric(self, atom: gast.expr) -> bool:
        """Whether ``atom`` is certainly a number or a NumPy value (never a list)."""
        if not hasattr(self, "_definitions"):
            self._definitions = _definitions_of(self.ops)
        return _numeric(atom, self.kinds, self.fn, self._definitions, set())


def analyze(
    fn: NormalizedFunction,
    wrt: tuple[str, ...],
    param_kinds: dict[str, str | None],
    helper: bool = False,
    inout: tuple[str, ...] = (),
    result_used: bool = True,
    param_classes: dict[str, type] | None = None,
    complex_context: bool = False,
    param_leaf_kinds: dict | None = None,
    param_shapes: dict[str, object] | None = None,
) -> Analysis:
    """Resolve every statement of ``fn`` and mark what the adjoint needs.

    ``helper``: ``fn`` is called by a differentiated function (which may read what it
    leaves behind), not the function differentiated itself. For a helper's pair:
    ``inout`` are the parameters it changes in place (outputs as much as the result),
    and ``result_used`` says whether the caller uses its result. ``param_classes``: the
    user classes of parameters that hold objects (their methods are resolved by class).
    ``complex_context``: complex values may reach ``fn`` from its caller
    (``complex_flows.py``). ``param_leaf_kinds``: the facts of container parameters'
    leaves (``leaf_kinds.py``); reads of leaves without derivative are never varied.
    ``param_shapes``: the parameters' shape facts (``shapes.parameter_fact``), for code
    specialised by shape."""
    ops: list[Op] = []
    counters: set[str] = set()
    loop_variant: set[str] = set()
    _collect(fn.body, fn, 0, ops, counters, loop_variant)
    _refuse_globals_rebound_during_the_call(fn, ops)
    from .objects import resolve_objects

    classes = resolve_objects(ops, fn, param_classes or {})
    numbers = scalar_free_names(fn)
    start = dict(param_kinds, **{c: SCALAR for c in counters})
    start.update({name: SCALAR for name in numbers if name not in start})
    items: dict[str, tuple] = {}
    kinds = _kinds(ops, start, fn, items)
    if aliases.apply_kinds(ops, kinds, fn, _describe):
        items = {}
        kinds = _kinds(ops, start, fn, items)
    shape_facts = ShapeFacts({}, {})
    if param_shapes:
        kinds, shape_facts = _kinds_with_shapes(ops, start, fn, param_shapes, kinds, numbers)
    _resolve_iteration_headers(ops, kinds, fn)
    _read_attributes_when_run(ops, kinds, fn)
    keys = _keys_taken_from_dicts(ops, kinds)  # keys carry no derivative
    flow = list(ops)  # the ops, and the in-place changes of the helpers they call
    while True:
        facts = leaf_kinds.facts_of_names(flow, param_leaf_kinds or {})
        inert = keys | {name for name, f in facts.items() if f == leaf_kinds.STATIC}
        integers = frozenset(name for name, f in facts.items() if leaf_kinds.integer_valued(f))
        varied = _fixpoint(lambda known, inert=inert: _varied(flow, set(wrt) | known, inert))
        useful = _fixpoint(
            lambda known, integers=integers: _useful(
                flow, known | set(inout), result_used, integers
            )
        )
        if not _add_call_writes(ops, flow, varied | useful, fn, kinds):
            break
    _dispatch_when_run(ops, kinds, fn, varied)
    for op in ops:
        if op.form == USER_CALL:
            op.arg_leaf_kinds = leaf_kinds.argument_facts_of_call(op, facts)
    analysis = Analysis(
        fn,
        wrt,
        ops,
        kinds,
        varied,
        useful,
        {id(op.stmt): op for op in ops},
        loop_variant,
        inout,
        classes,
        shapes=shape_facts,
        scalar_globals=numbers,
        call_dependencies=result_dependencies(ops, kinds, fn, {}),
        items=items,
        integer_names=integers,
    )
    for op in ops:
        _mark_active(op, analysis)
    _mark_call_writes_active(analysis)
    if not result_used:
        ops[-1].active, ops[-1].active_inputs = False, []
    _refuse_varied_keys(analysis)
    _refuse_hidden_flows(analysis, helper)
    _refuse_varied_keyword_rest(analysis)
    _refuse_hidden_flows_in_helpers(analysis)
    refuse_complex_flows(analysis, complex_context)
    check_item_stores(dataclasses.replace(analysis, ops=flow))
    _check_in_place_calls(analysis)
    aliases.check_mutations(analysis)
    return analysis


def _refuse_globals_rebound_during_the_call(fn: NormalizedFunction, ops: list[Op]) -> None:
    """A global the function reads that a user function it calls assigns (``global M``):
    the backward sweep would read the new value where the forward sweep read the old one.
    (Functions called through values, known only when the code runs, are not seen.)"""
    parsed = fn.parsed
    read = {
        name
        for name in fn.free_names
        if name not in parsed.lowered_objects
        and name not in parsed.local_names
        and name not in parsed.closure
    }
    if not read:
        return
    for op in ops:
        callee = getattr(op.callee, "__func__", op.callee)
        if op.form != USER_CALL or not isinstance(callee, types.FunctionType):
            continue
        rebound = assigned_when_called(callee)
        for name in sorted(read & set(rebound)):
            raise parsed.error(
                f"cannot differentiate {parsed.func.__name__}: it reads the global '{name}', "
                f"which {rebound[name]}() assigns ('global {name}') during the call; the "
                "derivative would use the new value where the function used the old one. "
                f"Pass '{name}' as an argument",
                op.stmt,
            )


def scalar_free_names(fn: NormalizedFunction) -> dict[str, object]:
    """Free names the function reads that hold a Python ``float`` or ``int`` now (a
    module constant ``STEP = 0.01``), each with the namespace it is found in: the
    globals, or the closure cell. The one source of numbers held by free names
    (``Analysis.scalar_globals``): they are scalars for the kinds, and with shape facts
    they have ``shapes.number_fact`` of their value (``_kinds_with_shapes``). The
    generated code records each as a dependency guarded by a ``NumberGuard``
    (``pipeline.Generated.is_stale``): rebinding it to something else than a number
    (or, where its fact was used, a number of another fact) makes it generated again."""
    parsed = fn.parsed
    found = {}
    for name in fn.free_names:
        if name in parsed.lowered_objects or name in parsed.local_names:
            continue
        value = parsed.lookup(name)
        if type(value) not in (float, int):
            continue
        found[name] = parsed.closure.get(name, parsed.globals)
    return found


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


def _kinds_with_shapes(
    ops: list[Op],
    start: dict,
    fn: NormalizedFunction,
    param_shapes: dict,
    kinds: dict,
    numbers: dict,
) -> tuple[dict, ShapeFacts]:
    """Kinds refined by shape facts (``shapes.py``): an element of a float array is a
    scalar, a matrix-vector product an array. Facts and kinds are computed in turn until
    the kinds the facts prove no longer change. ``numbers`` are the free names holding
    numbers (``scalar_free_names``)."""
    params = {name: parameter_fact(entry, start.get(name)) for name, entry in param_shapes.items()}
    counters = _range_counters(fn.body, fn)
    assigned = {op.target for op in ops if op.target is not None}
    number_facts = _number_facts(ops, fn, numbers, assigned | set(params))
    params.update(number_facts)
    derived: dict[int, str] = {}
    facts = ShapeFacts({}, {}, number_facts)
    for _ in range(6):
        facts = infer_shapes(ops, kinds, params, counters, assigned)
        facts.number_facts = number_facts
        found = derived_kinds(facts, kinds)
        if found == derived:
            break
        derived = found
        kinds = _kinds(ops, start, fn, derived=derived)
    return kinds, facts


# statements that run no code of the user's (which could rebind a global)
_NO_USER_CODE = (RULE, COPY, CONSTANT, RETURN, STORE_ITEM, APPEND, EXTEND, BUILD)


def _number_facts(ops: list[Op], fn: NormalizedFunction, numbers: dict, bound: set[str]) -> dict:
    """The facts of the free names holding numbers (``numbers``) that the statements read:
    name -> ``number_fact`` of its value now. None where the function calls user code,
    which could rebind one during the call (its kind stays SCALAR, which any number
    keeps)."""
    if any(op.form not in _NO_USER_CODE for op in ops):
        return {}  # a helper might rebind the name while the function runs
    read = {atom.id for op in ops for atom in op.inputs.values() if isinstance(atom, gast.Name)}
    return {
        name: number_fact(fn.parsed.lookup(name))
        for name in numbers
        if name in read and name not in bound
    }


def _range_counters(stmts: list, fn: NormalizedFunction) -> set[str]:
    """The names that ``for`` loops over the builtin ``range`` bind: integers."""
    found = set()
    for stmt in stmts:
        if (
            isinstance(stmt, gast.For)
            and isinstance(stmt.target, gast.Name)
            and _is_range(stmt, fn)
        ):
            found.add(stmt.target.id)
        for field_name in ("body", "orelse"):
            found |= _range_counters(getattr(stmt, field_name, None) or [], fn)
    return found


def _resolve_iteration_headers(ops: list[Op], kinds: dict, fn: NormalizedFunction) -> None:
    """``x = X[k]``, the header of ``for x in X`` (differentiated, never run), is indexing
    where ``X`` is known to be an array, a list or a tuple. A dict's elements are its keys,
    which carry no derivative (``runtime.dict_key``); for ``X`` of unknown kind the adjoint
    asks ``X`` when it runs (``runtime.iterated``: a dict, its views, a list...)."""
    for op in ops:
        if not getattr(op.stmt, "ad_header", False) or op.form != RULE:
            continue
        if op.rule.primitive is not operator.getitem:
            continue
        source, index = op.inputs["x"], op.inputs["index"]
        kind = atom_kind(source, kinds, fn)
        if kind in (ARRAY, SEQUENCE, SCALAR):
            continue
        primitive = runtime.dict_key if kind == DICT else runtime.iterated
        resolved = _rule_op(op.stmt, op.target, primitive, [source, index], {}, fn)
        op.rule, op.inputs, op.pure = resolved.rule, resolved.inputs, resolved.pure


def _read_attributes_when_run(ops: list[Op], kinds: dict, fn: NormalizedFunction) -> None:
    """``v = obj.name`` on a local whose class is not known here (an element of a list of
    dataclass layers, a named tuple in a dict) and that is not known to be an array or a
    number: differentiated by ``runtime.attribute_adjoint``, which asks the object when
    it runs (a named tuple's field, an attribute stored on it; anything else is refused).
    Reads the objects machinery described or refused (``objects.py``) are left alone, and
    so are reads of a ``super()`` proxy (refused when active)."""
    proxies = {
        op.target for op in ops if op.rule is not None and op.rule.primitive is runtime.super_of
    }
    for op in ops:
        callee = op.callee
        if op.form != OPAQUE or op.refusal is not None or not isinstance(callee, tuple):
            continue
        if callee[0] != "attribute" or not isinstance(op.stmt.value, gast.Attribute):
            continue
        receiver = op.stmt.value.value
        local = isinstance(receiver, gast.Name) and (
            receiver.id in fn.source_of or receiver.id in fn.params
        )
        if not local or receiver.id in proxies:
            continue  # a global or a module: static
        if atom_kind(receiver, kinds, fn) not in (UNKNOWN, None):
            continue
        name = gast.Constant(value=callee[1], kind=None)
        resolved = _rule_op(op.stmt, op.target, runtime.attribute_of, [receiver, name], {}, fn)
        op.form, op.rule, op.inputs, op.pure = RULE, resolved.rule, resolved.inputs, True
        op.callee = None


def _dispatch_when_run(ops: list[Op], kinds: dict, fn: NormalizedFunction, varied: set) -> None:
    """``obj.m(args)`` and ``obj(args)`` given a varied value, on a local whose class is
    not known here (an element of a list of layers, a value from a dict) and that is not
    known to be an array, a number, a list or a dict: a call of the method Python finds
    on the object's class when it runs, through its own pair (``dispatch.py``), which
    checks what it finds. Calls the objects machinery described or refused are left
    alone, and so are calls on a ``super()`` proxy (refused when active), methods named
    like the in-place methods of lists, dicts and arrays (``pop``, ``sort``: refused as
    such), and calls given no varied value (run as written; opaque)."""
    from .dispatch import dynamic_op
    from .effects import MUTATING_METHODS

    proxies = {
        op.target for op in ops if op.rule is not None and op.rule.primitive is runtime.super_of
    }
    for op in ops:
        if op.form != OPAQUE or op.refusal is not None or not isinstance(op.stmt.value, gast.Call):
            continue
        call = op.stmt.value
        callee = op.callee
        if isinstance(callee, tuple) and callee[0] == "method":
            receiver, name = call.func.value, callee[1]
        elif isinstance(call.func, gast.Name) and is_missing(callee):
            receiver, name = call.func, "__call__"
        else:
            continue
        local = isinstance(receiver, gast.Name) and (
            receiver.id in fn.source_of or receiver.id in fn.params
        )
        if not local or receiver.id in proxies or getattr(call, "ad_runtime", None) is not None:
            continue
        if atom_kind(receiver, kinds, fn) not in (UNKNOWN, None):
            continue
        if name in MUTATING_METHODS or name in ("append", "extend"):
            continue
        if not _input_names(op) & varied:
            continue
        dynamic = dynamic_op(op, fn, ops, receiver, list(call.args), list(call.keywords), name)
        if dynamic is not None:  # in place: the data flow holds the same op
            vars(op).update(vars(dynamic))


def _refuse_varied_keys(analysis: Analysis) -> None:
    """A dict key that depends on a differentiated argument (``{x: 1.0}``, ``d[x] = v``)
    is refused: keys carry no derivative, and a loop over the dict would hand the key on
    as if it were a constant."""
    for op in analysis.ops:
        if op.form == BUILD and isinstance(op.value, gast.Dict):
            keys = op.value.keys
        elif op.form == STORE_ITEM and analysis.kinds.get(op.target) == DICT:
            keys = [op.index]
        else:
            continue
        varied = sorted(n for key in keys for n in _operand_names(key) if n in analysis.varied)
        if varied:
            user_name = _user_text(varied[0], analysis)
            raise analysis.fn.parsed.error(
                f"cannot differentiate a dict keyed by '{user_name}', which depends on the "
                "differentiated argument: dict keys carry no derivative",
                op.stmt,
            )


# Calls that give the elements of an iterable, reordered or not (keys stay keys).
_REORDERINGS = (builtins.list, builtins.tuple, builtins.sorted, runtime.reversed_list)
_EXTREMES = (runtime.max_of, runtime.min_of)


def _keys_taken_from_dicts(ops: list[Op], kinds: dict) -> set[str]:
    """Names that hold a key of a dict: the element of a loop over a dict or its
    ``keys()`` (also ``sorted(d)``, ``list(d.keys())``...), an item of these
    (``list(d)[0]``), the first of a pair from
    ``items()``, and copies of these. A key is never an active value (the keys this
    function puts in a dict are checked, ``_refuse_varied_keys``; so are a helper's): they
    are never varied."""
    views: set[str] = set()  # items() and reorderings of it: (key, value) pairs
    key_views: set[str] = set()  # keys() and reorderings of a dict or of its keys
    while True:
        before = len(views) + len(key_views)
        for op in ops:
            if op.target is None or op.form != RULE:
                continue
            primitive = op.rule.primitive
            if primitive == ("method", "items"):
                views.add(op.target)
            elif primitive == ("method", "keys"):
                key_views.add(op.target)
            elif any(primitive is r for r in _REORDERINGS) and op.inputs:
                source = next(iter(op.inputs.values()))
                if not isinstance(source, gast.Name):
                    continue
                if source.id in key_views or kinds.get(source.id) == DICT:
                    key_views.add(op.target)
                elif source.id in views:
                    views.add(op.target)
        if len(views) + len(key_views) == before:
            break
    pairs: set[str] = set()
    keys: set[str] = set()
    for op in ops:  # max(d), min(d.keys()): a key
        if op.form == RULE and any(op.rule.primitive is p for p in _EXTREMES) and op.inputs:
            source = next(iter(op.inputs.values()))
            if isinstance(source, gast.Name) and (
                source.id in key_views or kinds.get(source.id) == DICT
            ):
                keys.add(op.target)
    for op in ops:
        if op.form != RULE:
            continue
        source = op.inputs.get("x", op.inputs.get("0"))
        source = source.id if isinstance(source, gast.Name) else None
        if op.rule.primitive is operator.getitem and source in key_views:
            keys.add(op.target)  # list(d)[0], sorted(d)[-1], keys[1:]: keys
            continue
        if not getattr(op.stmt, "ad_header", False):
            continue
        if op.rule.primitive is runtime.dict_key or source in key_views:
            keys.add(op.target)
        elif source in views:
            pairs.add(op.target)
    keys |= _elements_used_as_keys(ops)
    changed = True
    while changed:
        before = len(keys)
        for op in ops:
            if op.target is None or op.target in keys:
                continue
            copied = op.form == COPY and _operand_names(op.inputs["x"]) <= keys
            if copied or _first_of_pair(op, pairs):
                keys.add(op.target)
        changed = len(keys) != before
    return keys


def _elements_used_as_keys(ops: list[Op]) -> set[str]:
    """The element ``k`` of ``for k in X``, ``X`` of a kind not known here (a dict inside
    a dict parameter), when ``k`` (or a copy of it) is only used as an index or a key:
    ``X[k]``, ``d.get(k)``, ``out[k] = v``, comparisons. If ``X`` is a dict, ``k`` is a
    key (no derivative); if not, ``k``'s value only selects an item, which is constant
    in it wherever it is defined. Either way no derivative flows through ``k``."""
    group: dict[str, str] = {}  # the element and its copies -> the element
    for op in ops:
        header = getattr(op.stmt, "ad_header", False) and op.form == RULE
        if header and op.rule.primitive is runtime.iterated and op.target is not None:
            group[op.target] = op.target
    changed = True
    while changed:
        changed = False
        for op in ops:
            if op.form == COPY and op.target not in group:
                source = op.inputs["x"]
                if isinstance(source, gast.Name) and source.id in group:
                    group[op.target] = group[source.id]
                    changed = True
    if not group:
        return set()
    misused: set[str] = set()
    for op in ops:
        if op.form == COPY and op.target in group:
            continue
        for param, atom in op.inputs.items():
            used = _operand_names(atom) & group.keys()
            if used and not _selects(op, param):
                misused |= {group[name] for name in used}
    return {name for name, element in group.items() if element not in misused}


def _selects(op: Op, param: str) -> bool:
    """Whether ``op`` reads its operand ``param`` only to select an item (an index, a
    key) or to compare it: nothing of its value reaches the result's derivative."""
    if op.form != RULE:
        return False
    if op.rule.template is None:
        return op.rule.primitive is operator.lt  # comparisons: ``k == "w"``
    if op.rule.primitive is operator.getitem:
        return param == "index"
    return op.rule.name == "dict.get()" and param == "key"


def _first_of_pair(op: Op, pairs: set[str]) -> bool:
    """``k = item[0]`` where ``item`` is a ``(key, value)`` pair from a dict's ``items()``."""
    if op.form != RULE or op.rule.primitive is not operator.getitem:
        return False
    source, index = op.inputs["x"], op.inputs["index"]
    return (
        isinstance(source, gast.Name)
        and source.id in pairs
        and isinstance(index, gast.Constant)
        and index.value == 0
    )


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
    if isinstance(value, gast.Dict):  # a dict display: its values, by position
        return Op(stmt, BUILD, target, inputs={str(i): v for i, v in enumerate(value.values)})
    if isinstance(value, gast.BinOp) and _formats_text(value):  # "%.3f" % x: not a remainder
        inputs = {str(i): n for i, n in enumerate([value.left, value.right])}
        return Op(stmt, OPAQUE, target, inputs=inputs, pure=False)
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
        return _rule_op(
            stmt, target, _subscript_primitive(value, fn), [value.value, value.slice], {}, fn
        )
    if isinstance(value, gast.Attribute):
        return _rule_op(stmt, target, ("attribute", value.attr), [value.value], {}, fn)
    if isinstance(value, gast.Call):
        return _call_op(stmt, target, value, fn)
    names = [n for n in subnodes(value) if isinstance(n, gast.Name)]
    return Op(stmt, OPAQUE, target, inputs={str(i): n for i, n in enumerate(names)}, pure=False)


def _subscript_primitive(value: gast.Subscript, fn: NormalizedFunction) -> object:
    """What ``obj[index]`` computes: an index trick such as ``np.r_[a, b]`` (a
    concatenation) when ``obj`` is one, else indexing (``operator.getitem``)."""
    receiver = value.value
    static = getattr(receiver, "ad_static", False) or (
        isinstance(receiver, gast.Name) and receiver.id in fn.free_names
    )
    if static:
        obj = resolve_static(receiver, fn)
        if any(obj is trick for trick in (np.r_, np.c_)):
            return obj
    return operator.getitem


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


# Builtins that turn a value into text: nothing numeric may be read back from the text of
# an active value (``float(str(x))``), so they are opaque, not derivative-free.
_TEXT_CONVERSIONS = (str, repr, ascii, format)


def _call_op(stmt, target, call: gast.Call, fn: NormalizedFunction) -> Op:
    keywords = {kw.arg: kw.value for kw in call.keywords}
    helper = getattr(call, "ad_runtime", None)
    if helper is not None:  # a construct normalize wrote as a runtime primitive
        return _rule_op(stmt, target, helper, call.args, keywords, fn)
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
    if any(callee is f for f in _TEXT_CONVERSIONS):  # before their (derivative-free) rules
        atoms = {str(i): a for i, a in enumerate([*call.args, *keywords.values()])}
        return Op(stmt, OPAQUE, target, callee=callee, inputs=atoms, pure=False)
    origin = None
    if is_differentiable_derivative(callee):  # grad(f) called: its plain gradient code
        from .higher_order import generic_plain_gradient

        origin, callee = callee, generic_plain_gradient(callee)
    rule = rules.lookup(callee) if not is_missing(callee) else None
    starred = [a for a in call.args if isinstance(a, gast.Starred)]
    if starred and not is_user_function(callee):  # an unspread ``*args`` passed on
        atoms = [a.value if isinstance(a, gast.Starred) else a for a in call.args]
        atoms = {str(i): a for i, a in enumerate([*atoms, *keywords.values()])}
        return Op(stmt, OPAQUE, target, callee=callee, inputs=atoms, pure=False)
    if rule is None and isinstance(callee, type) and is_user_class(callee):
        return constructor_op(stmt, target, callee, call, fn)
    if rule is None and is_user_function(callee):
        inputs, spread, rest, spread_keywords = _bind_user_call(callee, call, fn, stmt)
        op = Op(
            stmt,
            USER_CALL,
            target,
            callee=callee,
            inputs=inputs,
            pure=False,
            spread=spread,
            keyword_rest=rest,
            spread_keywords=spread_keywords,
        )
        op.callee_origin = origin  # the derivative the name holds (staleness)
        return op
    if None in keywords:
        raise fn.parsed.error(
            "'**' keyword unpacking in a call is not supported (only in calls of your own "
            "functions, with values that are not differentiated)",
            next(kw for kw in call.keywords if kw.arg is None),
        )
    if rule is None:
        atoms = {str(i): a for i, a in enumerate([*call.args, *keywords.values()])}
        if isinstance(call.func, gast.Name) and is_missing(callee):
            # a call through a local variable: the function value is an input too (a
            # closure a helper made over a differentiated value, ``line(2.0)``)
            atoms["callee"] = call.func
        return Op(stmt, OPAQUE, target, callee=callee, inputs=atoms, pure=False)
    return _rule_op(stmt, target, callee, call.args, keywords, fn)


def constructor_op(stmt, target, cls: type, call: gast.Call, fn: NormalizedFunction) -> Op:
    """``Cls(...)`` of a record class: a ``RECORD`` whose inputs are the arguments stored
    in each attribute (the forward sweep runs the constructor itself). Any other class is
    opaque, with the reason."""
    keywords = {kw.arg: kw.value for kw in call.keywords}
    if is_plain_namedtuple(cls):  # a tuple whose items are the arguments in field order
        try:
            bound = inspect.signature(cls.__new__).bind(None, *call.args, **keywords)
        except TypeError as exc:
            raise fn.parsed.error(f"call of {cls.__qualname__}: {exc}", call) from None
        positions = {name: str(i) for i, name in enumerate(cls._fields)}
        inputs = {positions[k]: v for k, v in bound.arguments.items() if k in positions}
        op = Op(stmt, BUILD, target, callee=cls, inputs=inputs)
        op.lookups = dependencies_of_lookup(cls, "__new__")
        return op
    layout = record_layout(cls)
    if isinstance(layout, str):
        atoms = {str(i): a for i, a in enumerate([*call.args, *keywords.values()])}
        op = Op(stmt, OPAQUE, target, callee=cls, inputs=atoms, pure=False)
        op.refusal = (
            f"cannot differentiate the construction of a {cls.__qualname__} object: {layout}"
        )
        return op
    try:
        bound = layout.signature.bind(None, *call.args, **keywords)
    except TypeError as exc:
        raise fn.parsed.error(f"call of {cls.__qualname__}: {exc}", call) from None
    inputs = {
        field: bound.arguments[param]
        for field, param in layout.fields.items()
        if param in bound.arguments
    }
    op = Op(stmt, RECORD, target, callee=cls, inputs=inputs, pure=False)
    op.lookups = dependencies_of_lookup(cls, "__init__")  # a new __init__: generate again
    return op


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
    """The object a static name or attribute chain (``np.linalg.norm``) refers to now.

    A name the normalized function binds (a parameter, an SSA version, a temporary) is
    never static, even when a global of that name exists: it is missing here.
    """
    if isinstance(node, gast.Name):
        if node.id in fn.source_of or node.id in fn.params:
            return fn.parsed.lookup("\0")  # the missing marker
        return fn.parsed.lookup(node.id)
    if isinstance(node, gast.Attribute):
        base = resolve_static(node.value, fn)
        return getattr(base, node.attr, base) if not is_missing(base) else base
    return fn.parsed.lookup("\0")  # the missing marker


def is_user_function(obj: object) -> bool:
    """A plain Python function from the user's code (not from a library or the stdlib)."""
    return isinstance(obj, types.FunctionType) and not is_library_file(obj.__code__.co_filename)


def _bind_user_call(
    callee, call: gast.Call, fn: NormalizedFunction, stmt
) -> tuple[dict, int | None, list, tuple[str, ...]]:
    """The helper's parameters bound to the call's atoms; for a helper with ``*args`` the
    number of positional arguments spread into it (lower/signature.py); the atoms that
    reach it through ``**`` (``Op.keyword_rest``); the keywords its ``**kwargs`` collects
    by name, spread into parameters of their own (``Op.spread_keywords``)."""
    from .effects import helper_effects
    from .lower.signature import spread_keyword_names, spread_signature
    from .parse import parse_function

    signature = inspect.signature(callee, follow_wrapped=False)
    kinds = {p.kind: p for p in signature.parameters.values()}
    spread = None
    unpacked = [kw.value for kw in call.keywords if kw.arg is None]
    named = {kw.arg: kw.value for kw in call.keywords if kw.arg is not None}
    spread_keywords: tuple[str, ...] = ()
    if inspect.Parameter.VAR_KEYWORD in kinds and not unpacked:
        by_name = {
            p.name
            for p in signature.parameters.values()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        }
        spread_keywords = tuple(k for k in named if k not in by_name and k.isidentifier())
        if len(spread_keywords) != len([k for k in named if k not in by_name]):
            spread_keywords = ()
    if unpacked and helper_effects(callee).mutated:
        raise fn.parsed.error(
            f"'**' keyword unpacking in a call of {callee.__name__}, which changes a "
            "parameter in place: which object it changes cannot be known",
            call,
        )
    if inspect.Parameter.VAR_POSITIONAL in kinds:
        positional = [
            p
            for p in signature.parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        spread = max(len(call.args) - len(positional), 0)
    if spread is not None or spread_keywords:
        parsed = parse_function(callee)
        signature = spread_signature(callee, parsed, spread or 0, spread_keywords)
        renamed = spread_keyword_names(parsed, spread or 0, spread_keywords)
        named = {dict(zip(spread_keywords, renamed)).get(k, k): v for k, v in named.items()}
    starred = next((a for a in call.args if isinstance(a, gast.Starred)), None)
    positional = call.args if starred is None else call.args[: call.args.index(starred)]
    try:  # ``**d`` may give any parameter: those not bound here are not differentiated
        bind = signature.bind_partial if unpacked or starred else signature.bind
        bound = bind(*positional, **named)
    except TypeError as exc:
        raise fn.parsed.error(f"call of {callee.__name__}: {exc}", call) from None
    inputs = dict(bound.arguments)
    if starred is not None:  # an unspread ``*args`` (effects.py): any positional rest
        for parameter in signature.parameters.values():
            if parameter.name not in inputs and parameter.kind in (
                parameter.POSITIONAL_ONLY,
                parameter.POSITIONAL_OR_KEYWORD,
                parameter.VAR_POSITIONAL,
            ):
                inputs[parameter.name] = starred.value
    rest = list(unpacked)
    collector = kinds.get(inspect.Parameter.VAR_KEYWORD)
    if collector is not None and collector.name in inputs:
        rest += list(inputs.pop(collector.name).values())
    return inputs, spread, rest, spread_keywords


def bind_arguments(callee, args: list, keywords: list, fn: NormalizedFunction, node) -> dict:
    """The atoms of a call of the user function ``callee`` (a method, a property, an
    operator method) by its parameters. ``*args``/``**kwargs`` are not spread here:
    such a method is refused."""
    variadic = [
        p.name
        for p in inspect.signature(callee, follow_wrapped=False).parameters.values()
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    if variadic:
        raise fn.parsed.error(
            f"unsupported construct: a call of the method {callee.__qualname__}, which has "
            f"a '*{variadic[0]}' parameter (methods with *args/**kwargs are not supported yet)",
            node,
        )
    try:
        bound = inspect.signature(callee, follow_wrapped=False).bind(
            *args, **{kw.arg: kw.value for kw in keywords}
        )
    except TypeError as exc:
        raise fn.parsed.error(f"call of {callee.__qualname__}: {exc}", node) from None
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
        if isinstance(fn.parsed.lookup(root.id), types.ModuleType) and type(value) is float:
            return SCALAR  # recorded by module_number_reads: a rebinding is noticed
    return UNKNOWN


def module_number_reads(ops: list[Op], fn: NormalizedFunction) -> list:
    """``(namespace, attribute, ANY_NUMBER)`` for each number the function reads as an
    attribute of one of the user's modules (``cfgmod.K``, ``cfgmod.Config.K``): ``atom_kind``
    makes it a scalar, so, like a global name holding a number (``scalar_free_names``),
    the code is stale once it holds anything but a number. Attributes of library modules
    (``math.pi``, ``np.e``) are constants and not followed."""
    found = []
    for op in ops:
        for node in gast.walk(op.stmt):
            if not (isinstance(node, gast.Attribute) and getattr(node, "ad_static", False)):
                continue
            root = node
            while isinstance(root, gast.Attribute):
                root = root.value
            module = fn.parsed.lookup(root.id) if isinstance(root, gast.Name) else None
            if not isinstance(module, types.ModuleType) or is_library_module(module):
                continue
            holder = resolve_static(node.value, fn)
            namespace = getattr(holder, "__dict__", None)
            if hasattr(namespace, "get") and type(namespace.get(node.attr)) in (float, int):
                found.append((namespace, node.attr, ANY_NUMBER))
    return found


class NumberGuard:
    """The object of a dependency on a free name that held a number (``STEP = 0.01``,
    ``N = 3``): the one cache-key rule for such names (``pipeline.Generated.is_stale``).

    ``fact`` None (``ANY_NUMBER``): only the kinds used it, and the code stays valid while
    the name holds any ``float`` or ``int``. Otherwise the shape facts used its
    ``shapes.number_fact`` too, and the code stays valid while the name holds a number
    of the same fact: any float (``REAL``), or the same int (an index or a length)."""

    __slots__ = ("fact",)

    def __init__(self, fact: object = None) -> None:
        self.fact = fact

    def holds(self, value: object) -> bool:
        """Whether code generated under this guard is right for ``value``."""
        if type(value) not in (float, int):
            return False
        return self.fact is None or number_fact(value) == self.fact

    def __repr__(self) -> str:
        return "<any Python number>" if self.fact is None else f"<a number with {self.fact}>"


ANY_NUMBER = NumberGuard()

_BOTTOM = "bottom"  # not known yet, during the fixpoint over loops


def _kinds(
    ops: list[Op],
    start: dict,
    fn: NormalizedFunction,
    items_out: dict | None = None,
    derived: dict | None = None,
) -> dict:
    """Kinds of all names: joined over every assignment, iterated to a fixpoint for loops.

    ``items_out`` receives the kinds of the elements of names known to hold a tuple of a
    known length (``_output_items``). ``derived``: kinds proven by shape facts for
    statements (by ``id``) whose operands' kinds leave theirs unknown."""
    kinds = dict(start)
    items: dict[str, tuple] = {}
    assigned = {op.target for op in ops if op.target is not None}
    definitions = _definitions_of(ops)
    for _ in range(20):
        new = dict(start)
        new_items: dict[str, tuple] = {}
        known = {**kinds, **new}  # the last sweep's kinds, updated by this one's
        known_items = {**items}
        for op in ops:
            if op.target is None:
                continue
            kind = _output_kind(op, known, fn, assigned, definitions, known_items)
            if kind == _BOTTOM:
                continue
            if kind == UNKNOWN and derived:
                kind = derived.get(id(op.stmt), UNKNOWN)
            previous = new.get(op.target, _BOTTOM)
            new[op.target] = known[op.target] = kind if previous in (_BOTTOM, kind) else UNKNOWN
            elements = _output_items(op, known, fn, definitions, known_items)
            if elements is not None and new[op.target] == SEQUENCE:
                new_items[op.target] = known_items[op.target] = elements
            else:
                known_items.pop(op.target, None)
        if new == kinds and new_items == items:
            break
        kinds, items = new, new_items
    else:
        kinds = {name: (kind if name in start else UNKNOWN) for name, kind in kinds.items()}
        items = {}
    if items_out is not None:
        items_out.update(items)
    return kinds


_COPIES = (copy.copy, copy.deepcopy)  # compared by identity: functions


def _output_items(
    op: Op, kinds: dict, fn: NormalizedFunction, definitions: dict, items: dict
) -> tuple | None:
    """The kinds of the elements of the tuple ``op`` makes, when it is certainly a tuple of
    a known length: a tuple display, a copy or an unpacking (``unpacked(t, 2)``) of one,
    or the result of a user function that returns one (``helper_result``). Only names
    bound once have them (a tuple never changes)."""
    if len(definitions.get(op.target, ())) != 1:
        return None
    if op.form == BUILD and isinstance(op.value, gast.Tuple):
        if any(isinstance(e, gast.Starred) for e in op.value.elts):
            return None
        return tuple(atom_kind(op.inputs[str(i)], kinds, fn) for i in range(len(op.value.elts)))
    if op.form == COPY and isinstance(op.inputs["x"], gast.Name):
        return items.get(op.inputs["x"].id)
    if op.form == RULE and op.rule.primitive is runtime.unpacked:
        whole, count = op.inputs.get("whole"), op.inputs.get("count")
        elements = items.get(whole.id) if isinstance(whole, gast.Name) else None
        if elements is not None and isinstance(count, gast.Constant):
            return elements if count.value == len(elements) else None
        return None
    if op.form == USER_CALL:
        return _user_call_result(op, kinds, fn)[1]
    return None


def tuple_element(op: Op, items: dict) -> int | None:
    """``t[i]`` of a name ``t`` known to hold a tuple (``_output_items``) with a constant
    index in range: the element's position, else None."""
    if op.form != RULE or op.rule.primitive is not operator.getitem:
        return None
    whole, index = op.inputs.get("x"), op.inputs.get("index")
    if not isinstance(whole, gast.Name) or whole.id not in items:
        return None
    if not isinstance(index, gast.Constant) or type(index.value) is not int:
        return None
    length = len(items[whole.id])
    if not -length <= index.value < length:
        return None
    return index.value % length


def _user_call_result(op: Op, kinds: dict, fn: NormalizedFunction) -> tuple:
    """(kind, element kinds) of what a plain call of a user function returns, given the
    kinds of its arguments here (``helper_result``); (UNKNOWN, None) for calls of
    methods, with ``*args``/``**kwargs``, or of objects."""
    if (
        op.call_args is not None
        or op.spread is not None
        or op.spread_keywords
        or op.keyword_rest
        or op.arg_classes
        or not isinstance(op.callee, types.FunctionType)
    ):
        return UNKNOWN, None
    try:
        signature = inspect.signature(op.callee, follow_wrapped=False)
    except (TypeError, ValueError):
        return UNKNOWN, None
    if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in signature.parameters.values()):
        return UNKNOWN, None
    param_kinds = tuple(
        atom_kind(op.inputs[p], kinds, fn) if p in op.inputs else UNKNOWN
        for p in signature.parameters
    )
    return helper_result(op.callee, param_kinds)


# (function, parameter kinds) -> (kind, element kinds, dependencies); emptied at the
# start of each transformation (``forget_helper_results``): a helper's result depends on
# the functions and numbers it finds by name, which may be rebound between two
_helper_results: dict = {}
_in_progress: set = set()


def forget_helper_results() -> None:
    """Forget the results of the helpers' kinds analyses (``helper_result``)."""
    _helper_results.clear()


def helper_result(callee: types.FunctionType, param_kinds: tuple) -> tuple:
    """(kind, element kinds) of the value the user function ``callee`` returns when its
    parameters have ``param_kinds``: its own kinds analysis, as its helper pair's
    (``pipeline._Builder.helper_pair``, whose cache key holds the same kinds) makes it.
    (UNKNOWN, None) where it cannot be analysed, and for a call of a function whose
    result is being worked out (recursion)."""
    return _helper_summary(callee, param_kinds)[:2]


def helper_dependencies(callee: types.FunctionType, param_kinds: tuple) -> list:
    """The ``(namespace, name, object)`` bindings ``helper_result`` relied on."""
    return _helper_summary(callee, param_kinds)[2]


def _helper_summary(callee: types.FunctionType, param_kinds: tuple) -> tuple:
    key = (callee, param_kinds)
    cached = _helper_results.get(key)
    if cached is not None:
        return cached
    if key in _in_progress:
        return UNKNOWN, None, []
    _in_progress.add(key)
    try:
        result = _analyse_result(callee, param_kinds)
    except (ADTransformError, OSError, TypeError, ValueError):
        result = (UNKNOWN, None, [])  # the call itself is analysed (or refused) when reached
    finally:
        _in_progress.discard(key)
    _helper_results[key] = result
    return result


def _analyse_result(callee: types.FunctionType, param_kinds: tuple) -> tuple:
    from .normalize import normalize
    from .objects import resolve_objects
    from .parse import parse_function

    fn = normalize(parse_function(callee), procedure=True)
    params = list(inspect.signature(callee, follow_wrapped=False).parameters)
    ops: list[Op] = []
    counters: set[str] = set()
    _collect(fn.body, fn, 0, ops, counters, set())
    resolve_objects(ops, fn, {})
    numbers = scalar_free_names(fn)
    start = dict(zip(params, param_kinds), **{c: SCALAR for c in counters})
    start.update({name: SCALAR for name in numbers if name not in start})
    items: dict = {}
    kinds = _kinds(ops, start, fn, items)
    if aliases.apply_kinds(ops, kinds, fn, _describe):
        items = {}
        kinds = _kinds(ops, start, fn, items)
    result = ops[-1].inputs.get("value") if ops and ops[-1].form == RETURN else None
    if result is None:
        return UNKNOWN, None, []
    kind = atom_kind(result, kinds, fn)
    elements = items.get(result.id) if isinstance(result, gast.Name) else None
    return kind, elements, result_dependencies(ops, kinds, fn, numbers)


def result_dependencies(ops: list[Op], kinds: dict, fn: NormalizedFunction, numbers: dict) -> list:
    """What the kinds of ``ops`` relied on by name: the free names holding numbers
    (``pipeline.ANY_NUMBER``) and the user functions called by name, with what those
    relied on in turn, and the numbers read as attributes of the user's modules."""
    found = [(namespace, name, ANY_NUMBER) for name, namespace in numbers.items()]
    found.extend(module_number_reads(ops, fn))
    parsed = fn.parsed
    for op in ops:
        if op.form != USER_CALL:
            continue
        func = op.stmt.value.func if isinstance(op.stmt.value, gast.Call) else None
        if isinstance(func, gast.Name):
            found.append((parsed.closure.get(func.id, parsed.globals), func.id, op.callee))
        if isinstance(op.callee, types.FunctionType) and op.call_args is None:
            try:
                names = list(inspect.signature(op.callee, follow_wrapped=False).parameters)
            except (TypeError, ValueError):
                continue
            param_kinds = tuple(
                atom_kind(op.inputs[p], kinds, fn) if p in op.inputs else UNKNOWN for p in names
            )
            found.extend(helper_dependencies(op.callee, param_kinds))
    return found


def _output_kind(
    op: Op,
    kinds: dict,
    fn: NormalizedFunction,
    assigned: set[str] = frozenset(),
    definitions: dict | None = None,
    items: dict | None = None,
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
    if op.form == FIELD:
        return _field_kind(op, kinds, fn, definitions or {})
    if op.form == USER_CALL:
        return _user_call_result(op, kinds, fn)[0]
    position = tuple_element(op, items or {})
    if position is not None:  # t[0] of a tuple whose elements' kinds are known
        return items[op.inputs["x"].id][position]
    if op.form == BUILD:
        return DICT if isinstance(op.value, gast.Dict) else SEQUENCE
    if op.form == RULE and op.rule.sequence_form is not None:
        form = sequence_form(op, kinds, fn, definitions or {})
        if form != NUMBERS:  # ``s + [v]``, ``[v] * 3``: a list or tuple, or not known
            return UNKNOWN if form in (DYNAMIC, DYNAMIC_IN_PLACE) else SEQUENCE
    if op.form == RULE and op.rule.primitive in _COPIES and op.inputs:
        return atom_kind(op.inputs["x"], kinds, fn)  # the same kind of value, new
    if op.form == RULE and op.rule.primitive == ("method", "copy"):
        receiver = atom_kind(op.inputs.get("self"), kinds, fn)
        if receiver in (SEQUENCE, DICT, UNKNOWN):  # xs.copy(), d.copy(): a list or a dict
            return receiver  # (of a value of unknown kind: an array, a dict, a list...)
    if op.form == RULE and op.rule.template is not None:
        differentiable = op.rule.template.params
        arg_kinds = [
            atom_kind(op.inputs[p], kinds, fn)
            for p in differentiable
            if p in op.inputs and not _is_none(op.inputs[p])
        ]
        return op.rule.output_kind(arg_kinds)
    if op.form == RULE and op.rule.kind == ARRAY:  # np.zeros(n): a new array, no derivative
        return ARRAY
    return UNKNOWN


def _field_kind(op: Op, kinds: dict, fn: NormalizedFunction, definitions: dict) -> str:
    """``p.x`` where every definition of ``p`` is ``Cls(...)`` of a record class: the kind
    of what each stored in ``x`` (objects never change their attributes); else UNKNOWN."""
    obj = op.inputs["obj"]
    records = definitions.get(obj.id, []) if isinstance(obj, gast.Name) else []
    if not records or any(d.form != RECORD or op.attr not in d.inputs for d in records):
        return UNKNOWN
    found = {atom_kind(d.inputs[op.attr], kinds, fn) for d in records}
    return found.pop() if len(found) == 1 else UNKNOWN


def _is_none(node: gast.expr) -> bool:
    return isinstance(node, gast.Constant) and node.value is None


def _definitions_of(ops: list[Op]) -> dict[str, list[Op]]:
    definitions: dict[str, list[Op]] = {}
    for op in ops:
        if op.target is not None and op.form not in MUTATIONS:
            definitions.setdefault(op.target, []).append(op)
    return definitions


def sequence_form(op: Op, kinds: dict, fn: NormalizedFunction, definitions: dict) -> str:
    """What a ``+`` or ``*`` statement computes, from its operands' kinds: arithmetic
    (``NUMBERS``), lists or tuples joined or repeated, or not known until it runs
    (``DYNAMIC``; ``DYNAMIC_IN_PLACE`` for ``xs += ys``, which extends a list by any
    iterable). ``NUMBERS`` for every other statement. An operand of unknown kind that is
    certainly a NumPy value (``_numeric``: an item of an array, a ufunc's result) counts
    as an array."""
    return _form(op, kinds, fn, definitions, set())


def _form(op: Op, kinds: dict, fn, definitions: dict, seen: set) -> str:
    if op.form != RULE or op.rule.sequence_form is None:
        return NUMBERS
    operands = [op.inputs[p] for p in op.rule.template.params]
    constants = [a.value if isinstance(a, gast.Constant) else None for a in operands]
    operand_kinds = [
        ARRAY if kind == UNKNOWN and _numeric(a, kinds, fn, definitions, seen) else kind
        for a, kind in ((a, atom_kind(a, kinds, fn)) for a in operands)
    ]
    form = op.rule.form_of(operand_kinds, constants)
    if form == DYNAMIC and getattr(op.stmt, "ad_in_place", None) is not None:
        return DYNAMIC_IN_PLACE
    return form


# Operators whose result is never a list or tuple (``+`` and ``*`` are, on sequences).
_NUMERIC_OPERATORS = (
    operator.sub,
    operator.truediv,
    operator.pow,
    operator.mod,
    operator.matmul,
    operator.neg,
    operator.pos,
)


def _numeric(atom, kinds: dict, fn, definitions: dict, seen: set) -> bool:
    """Whether ``atom`` is certainly a number or a NumPy value, never a list or tuple:
    every definition of it is an item of a known array, the result of a ufunc or of an
    operator that only computes, ``+``/``*`` of such values, or a copy of one."""
    if isinstance(atom, gast.Constant):
        return isinstance(atom.value, (int, float)) and not isinstance(atom.value, bool)
    if not isinstance(atom, gast.Name) or atom.id not in definitions or atom.id in seen:
        return False
    seen.add(atom.id)
    for op in definitions[atom.id]:
        if op.form == COPY:
            if not _numeric(op.inputs["x"], kinds, fn, definitions, seen):
                return False
            continue
        if op.form != RULE:
            return False
        primitive = op.rule.primitive
        if primitive is operator.getitem:
            if atom_kind(op.inputs.get("x"), kinds, fn) != ARRAY:
                return False
        elif op.rule.sequence_form is not None:
            if _form(op, kinds, fn, definitions, seen) != NUMBERS:
                return False
        elif not (
            isinstance(primitive, np.ufunc) or any(primitive is p for p in _NUMERIC_OPERATORS)
        ):
            return False
    return True


# -- activity -----------------------------------------------------------------------------
def _carries_derivative(op: Op) -> bool:
    if op.form in (COPY, BUILD, USER_CALL, OPAQUE, RETURN, RECORD, FIELD, *MUTATIONS):
        return True
    return op.form == RULE and op.rule.template is not None


def _input_names(op: Op) -> set[str]:
    """Every name an operation reads, those inside an index (``a[i, j]``, ``a[i:n]``) too."""
    return {name for a in op.inputs.values() for name in _operand_names(a)}


def _operand_names(operand: gast.expr) -> set[str]:
    """The names an operand reads: itself, or the parts of an index tuple or slice."""
    if isinstance(operand, gast.Name):
        return {operand.id}
    if isinstance(operand, (gast.Tuple, gast.List, gast.Slice)):
        return {n.id for n in gast.walk(operand) if isinstance(n, gast.Name)}
    return set()


def _varied(ops: list[Op], varied: set[str], keys: frozenset = frozenset()) -> set[str]:
    """The names that depend on ``varied``; never ``keys`` (keys of dicts, constants)."""
    varied = set(varied)
    for op in ops:
        if op.target is None or op.target in keys or not _carries_derivative(op):
            continue
        if _input_names(op) & varied:
            varied.add(op.target)
    return varied


def _useful(
    ops: list[Op], useful: set[str], returns: bool = True, integers: frozenset = frozenset()
) -> set[str]:
    useful = set(useful)
    for op in reversed(ops):
        if (returns and op.form == RETURN) or (op.target in useful and _carries_derivative(op)):
            useful |= _input_names(op) - _integers_without_derivative(op, integers)
    return useful


def _integers_without_derivative(op: Op, integers: frozenset) -> set[str]:
    """The integer leaves ``op`` reads where no derivative goes: inside an index tuple or
    a slice, or as an argument its rule has no adjoint for (an index, a count)."""
    if not integers:
        return set()
    found = set()
    for param, atom in op.inputs.items():
        if not isinstance(atom, gast.Name):
            found |= _operand_names(atom) & integers
        elif op.form == RULE and param not in op.rule.template.outputs and atom.id in integers:
            found.add(atom.id)
    return found


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
    if op.form == RULE:
        op.active_inputs = [
            p
            for p in op.active_inputs
            if p in op.rule.template.outputs or not _is_integer_leaf(op.inputs[p], analysis)
        ]
    op.active = bool(op.active_inputs) or op.form in MUTATIONS
    _refuse_active_inside_operand(op, analysis)
    if not op.active:
        return
    parsed = analysis.fn.parsed
    if op.form == OPAQUE and _is_text(op):
        raise parsed.error(
            f"cannot differentiate '{expression_source(op.value)}': it turns a value that "
            "depends on the differentiated argument into text, and a number read back from "
            "text has no derivative",
            op.value,
        )
    if op.refusal is not None:
        raise parsed.error(op.refusal, op.value)
    if op.form == OPAQUE:
        raise parsed.error(_opaque_refusal(op, analysis), op.value)
    if op.form == RULE:
        missing = [p for p in op.active_inputs if p not in op.rule.template.outputs]
        if missing:
            raise parsed.error(
                f"{op.rule.name} is not differentiable with respect to its argument "
                f"{missing[0]!r}{_chosen_by_name(op, analysis)}",
                op.value,
            )


def _is_integer_leaf(atom: gast.expr, analysis: Analysis) -> bool:
    """Whether ``atom`` names an integer leaf of a container parameter: as an argument
    without derivative (an index, a count, a shape) it contributes nothing."""
    return isinstance(atom, gast.Name) and atom.id in analysis.integer_names


def _chosen_by_name(op: Op, analysis: Analysis) -> str:
    """For a method rule on a receiver not known to be an array: say how it was chosen."""
    if not isinstance(op.rule.primitive, tuple):
        return ""
    receiver = op.inputs.get(op.rule.template.params[0])
    if receiver is None or analysis.kind_of(receiver) not in (UNKNOWN, SEQUENCE):
        return ""
    owner = "dict's" if op.rule.name.startswith("dict.") else "NumPy's"
    return (
        f" (the {op.rule.primitive[0]} was taken for {owner} by its name alone; a method of "
        "a user class is not differentiated)"
    )


def _is_text(op: Op) -> bool:
    """``str(x)``, ``repr(x)``, ``format(x)``, ``f"{x}"``, ``"%.3f" % x``,
    ``"{}".format(x)``: the value as text, nothing kept."""
    return (
        isinstance(op.value, gast.JoinedStr)
        or any(op.callee is f for f in _TEXT_CONVERSIONS)
        or _formats_text(op.value)
    )


def _formats_text(value: gast.expr) -> bool:
    """``"%.3f" % x`` or ``"{:.3f}".format(x)`` with a literal format string."""
    if isinstance(value, gast.BinOp) and isinstance(value.op, gast.Mod):
        template = value.left
    elif (
        isinstance(value, gast.Call)
        and isinstance(value.func, gast.Attribute)
        and value.func.attr == "format"
    ):
        template = value.func.value
    else:
        return False
    return isinstance(template, gast.Constant) and isinstance(template.value, (str, bytes))


def _refuse_hidden_flows(analysis: Analysis, helper: bool) -> None:
    """An unknown operation given a value that depends on a ``wrt`` argument is refused
    even when its result is not used: it may store the value (``G.append(x)``,
    ``setattr(b, "v", x)``, ``obj.set(x)``) or change it in place (``a.sort()``,
    ``xs.reverse()``), where no data flow the analysis follows can see it."""
    for op in analysis.ops:
        if op.form != OPAQUE or op.active or _is_text(op) or _only_observes(op.callee):
            continue
        if not helper and _appends_to_unread_global(op, analysis):
            continue
        if _only_raised(op, analysis):
            continue
        varied = sorted(_input_names(op) & analysis.varied)
        if varied and op.callee in (runtime.set_global, runtime.set_cell):
            user_name = _user_text(varied[0], analysis)
            raise analysis.fn.parsed.error(
                f"cannot write '{user_name}', which depends on the differentiated argument, "
                "to a global or nonlocal variable: the derivative cannot follow it there",
                op.value,
            )
        if varied and op.refusal is not None:
            raise analysis.fn.parsed.error(op.refusal, op.value)
        container = _container_method_refusal(op, analysis) if varied else None
        if container is not None:
            raise analysis.fn.parsed.error(container, op.value)
        if varied:
            user_name = _user_text(varied[0], analysis)
            method = isinstance(op.callee, tuple) and op.callee[0] == "method"
            advice = (
                "it is not a method ad_transform differentiates on this value (an in-place "
                "method of a list is followed only as a statement on a list no other name "
                "holds), and it may keep or change the value where the derivative cannot follow"
                if method
                else "it has no adjoint rule, and it may keep or change the value where the "
                "derivative cannot follow; register a rule with ad_transform.register_adjoint"
            )
            raise analysis.fn.parsed.error(
                f"cannot differentiate {_describe_callee(op)} given '{user_name}', which "
                f"depends on the differentiated argument: {advice}",
                op.value,
            )


def _refuse_varied_keyword_rest(analysis: Analysis) -> None:
    """What reaches a helper through ``**`` is not differentiated: it must not depend on a
    differentiated argument."""
    for op in analysis.ops:
        if op.form != USER_CALL:
            continue
        varied = sorted({n for a in op.keyword_rest for n in _operand_names(a)} & analysis.varied)
        if varied:
            user_name = _user_text(varied[0], analysis)
            raise analysis.fn.parsed.error(
                f"cannot differentiate the call of {op.callee.__name__}: '{user_name}', which "
                "depends on the differentiated argument, reaches it through '**' (a "
                "'**kwargs' parameter or a '**d' argument), which is not differentiated; pass "
                "it as a named parameter",
                op.value,
            )


def _only_raised(op: Op, analysis: Analysis) -> bool:
    """``raise E(...)`` (lowered to ``raise_exception``): the function ends there, so what
    the exception holds never comes back to its result. An exception object built only to
    be raised is the same. Not where the function catches exceptions (``try``)."""
    callee = op.callee
    if callee is runtime.raise_exception:
        return not _catches(analysis)
    if not (isinstance(callee, type) and issubclass(callee, BaseException)) or not op.target:
        return False
    readers = [other for other in analysis.ops if op.target in _input_names(other)]
    raised = bool(readers) and all(other.callee is runtime.raise_exception for other in readers)
    return raised and not _catches(analysis)


def _catches(analysis: Analysis) -> bool:
    """Whether the function has a ``try`` or a ``with`` statement (a handler or a context
    manager could read a raised value); lowering leaves control flags where it had one."""
    parsed = analysis.fn.parsed
    return bool(parsed.lowered_flags) or any(
        isinstance(n, _HANDLERS) for n in gast.walk(parsed.tree)
    )


_HANDLERS = tuple(getattr(gast, name) for name in ("Try", "TryStar") if hasattr(gast, name))
_HELPERS_BEING_CHECKED: set = set()  # (callee, varied parameters): recursion guard


def _refuse_hidden_flows_in_helpers(analysis: Analysis) -> None:
    """A user function called for its effect (its result not active) but given a varied
    value is analysed as a helper all the same: what it does with the value (store it in
    a global, append it to a list it was given) must pass the same checks."""
    for op in analysis.ops:
        if op.form != USER_CALL or op.active:
            continue
        varied = tuple(p for p, a in op.inputs.items() if _operand_names(a) & analysis.varied)
        if is_dynamic(op.callee):  # checked when it runs: its forward goes through the pair
            op.dynamic_varied = list(varied)
            continue
        key = (op.callee, varied)
        if not varied or key in _HELPERS_BEING_CHECKED:
            continue
        from .effects import helper_effects

        inout = helper_effects(op.callee).mutated  # lent by this caller, which owns them
        _HELPERS_BEING_CHECKED.add(key)
        try:
            fn = _normalized_unless_inert(op.callee, op.spread, op.spread_keywords)
            if fn is not None:
                analyze(
                    fn,
                    varied,
                    {},
                    helper=True,
                    inout=inout,
                    result_used=False,
                    param_classes=op.arg_classes,
                    param_leaf_kinds=op.arg_leaf_kinds,
                )
        finally:
            _HELPERS_BEING_CHECKED.discard(key)


def _normalized_unless_inert(
    callee, spread: int | None = None, keywords: tuple[str, ...] = ()
) -> NormalizedFunction | None:
    """The helper normalized (its ``*args`` spread for ``spread`` arguments), or None where
    it cannot be (an ``assert``, say) but its syntax shows it changes and stores nothing,
    so a value given to it cannot come back."""
    from .effects import may_change_something
    from .lower.signature import spread_varargs
    from .normalize import normalize
    from .parse import parse_function

    parsed = parse_function(callee)
    try:
        return normalize(spread_varargs(parsed, spread or 0, keywords), procedure=True)
    except ADTransformError:
        if may_change_something(parsed):
            raise
        return None


_LOG_METHODS = {"debug", "info", "warning", "error", "critical", "exception", "log"}


def _only_observes(callee: object) -> bool:
    """Calls that look at their arguments and keep nothing the function could read back:
    ``grad(f)`` and its relatives, ``warnings.warn``, ``logging.info`` and the log
    methods of a ``logging.Logger``."""
    if type(callee).__module__ == "ad_transform.api" or callee is warnings.warn:
        return True
    if callee is runtime.matches_sequence:  # a lowered ``match`` looks at the subject
        return True
    name = getattr(callee, "__name__", None)
    owner = getattr(callee, "__self__", None)
    logging = sys.modules.get("logging")  # not imported here: a caller of it imported it
    if logging is None:
        return False
    if name in _LOG_METHODS and isinstance(owner, logging.Logger):
        return True
    return name in _LOG_METHODS and callee is getattr(logging, name, None)


def _appends_to_unread_global(op: Op, analysis: Analysis) -> bool:
    """``LOG.append(v)`` into a global list that nothing in the function reads back (a log
    of values): what it stores cannot reach the result. A user helper might read the
    list, so the function must call none; in a helper, its caller might read it."""
    func = op.value.func if isinstance(op.value, gast.Call) else None
    if not (
        isinstance(func, gast.Attribute)
        and func.attr == "append"
        and getattr(func, "ad_static", False)
        and isinstance(func.value, gast.Name)
        and isinstance(resolve_static(func.value, analysis.fn), list)
    ):
        return False
    root = func.value.id
    for other in analysis.ops:
        if other.form == USER_CALL:
            return False
        reads = [n for n in gast.walk(other.stmt) if isinstance(n, gast.Name) and n.id == root]
        if other is not op and reads:
            return False
    return True


def _refuse_active_inside_operand(op: Op, analysis: Analysis) -> None:
    """An active value inside an index (``a[i, v]``, ``a[v:]``) has no adjoint to go to."""
    for operand in op.inputs.values():
        if isinstance(operand, gast.Name):
            continue
        active = sorted(
            n
            for n in _operand_names(operand)
            if n in analysis.varied and n in analysis.useful and n not in analysis.integer_names
        )
        if active:
            raise analysis.fn.parsed.error(
                "cannot differentiate this indexing: a part of its index (a slice bound or an "
                "element of an index tuple) depends on the differentiated argument, and "
                "indexing has no derivative with respect to its index",
                op.value,
            )


def _describe_callee(op: Op) -> str:
    callee = op.callee
    if isinstance(callee, tuple):
        return f"the {callee[0]} '.{callee[1]}'"
    if callee is None:
        return f"the expression '{expression_source(op.value)}'"
    if is_missing(callee):
        return "a call to an undefined name"
    owner = getattr(callee, "__self__", None)
    if owner is not None and not isinstance(owner, types.ModuleType):
        cls = type(owner)
        if is_user_function(getattr(callee, "__func__", None)):
            return (
                f"the method '{cls.__name__}.{callee.__name__}' of a user class held in a "
                "name (a bound method is differentiated where it is called as "
                "'obj.method(...)')"
            )
        return f"the method '{callee.__name__}' of a {cls.__name__} object"
    if isinstance(callee, type) and is_user_function(getattr(callee, "__init__", None)):
        return (
            f"the user class '{callee.__name__}' (objects of user classes are differentiated "
            "where their class is known)"
        )
    return f"a call to {rules.display_name(callee)}"


def _opaque_refusal(op: Op, analysis: Analysis) -> str:
    """Why an active statement without a rule cannot be differentiated, saying what it is."""
    call = op.value if isinstance(op.value, gast.Call) else None
    callee = op.callee
    held = call is not None and is_missing(callee) and isinstance(call.func, gast.Name)
    if held and (call.func.id in analysis.fn.params or _definitions(call.func.id, analysis)):
        return _held_function_refusal(call.func.id, analysis)
    if call is not None and callee is not None and not isinstance(callee, tuple):
        higher_order = higher_order_error_text(callee)
        if higher_order is not None:
            return f"cannot differentiate a call of {higher_order}"
        if isinstance(callee, types.MethodType) and is_user_function(callee.__func__):
            return f"cannot differentiate {_describe_callee(op)}"
        if getattr(callee, "__module__", None) == "ad_transform.pytree":
            return _tree_helper_refusal(callee)
        special = special_description(callee)
        if special is not None:
            return (
                f"cannot differentiate a call of {special}; ad_transform differentiates "
                "functions defined with 'def' (a decorator's wrapper included) and "
                "primitives with an adjoint rule (ad_transform.register_adjoint)"
            )
    container = _container_method_refusal(op, analysis)
    if container is not None:
        return container
    held_object = _object_in_attribute(op, analysis)
    if held_object is not None:
        return (
            f"cannot differentiate {_describe_callee(op)} of '{held_object}', an object held "
            "in an attribute of another object: the class of such an object is not "
            "followed (a method of an attribute of an object, 'self.layer.forward(x)'); "
            "pass the inner object to the function, or call its method where it is a "
            "parameter or made in the function"
        )
    if isinstance(callee, tuple) and callee[0] == "method":  # of a list, a dict, an array
        from .effects import MUTATING_METHODS

        changes = (
            ": it changes its object in place (a list's pop/insert are followed only as a "
            "statement on a list no other name holds, with a constant index)"
            if callee[1] in MUTATING_METHODS
            else ""
        )
        return (
            f"cannot differentiate {_describe_callee(op)} in "
            f"'{_user_expression(op.value, analysis)}': it is not a method ad_transform "
            f"differentiates on this value{changes}"
        )
    return (
        f"cannot differentiate {_describe_callee(op)}: it has no adjoint rule; register one "
        "with ad_transform.register_adjoint"
    )


_LIST_ADVICE = (
    "append, extend and item writes are followed, and pop(i)/insert(i, v) with a constant "
    "i on a list the function builds with a display ([...]); use sorted(xs), "
    "reversed(xs) or xs[::-1] for a new order, and read items by position"
)
_DICT_ADVICE = (
    "item writes d[k] = v are followed, and update({...})/setdefault(k, v) on a dict the "
    "function builds with a display ({...}); build the dict you need with a display or a "
    "comprehension ({k: v for k, v in d.items() if k != 'w'}) and read items with d[k] or "
    "d.get(k)"
)
_CONTAINER_METHODS = {
    DICT: ("dict", {"pop", "popitem", "clear", "update", "setdefault"}, _DICT_ADVICE),
    SEQUENCE: (
        "list",
        {"pop", "insert", "remove", "clear", "sort", "reverse", "index", "count"},
        _LIST_ADVICE,
    ),
}


def _container_method_refusal(op: Op, analysis: Analysis) -> str | None:
    """``q.pop('w')``, ``xs.sort()`` on a dict or list (known to be one here) that holds
    differentiated values: what is followed instead."""
    callee = op.callee
    if not (isinstance(callee, tuple) and callee[0] == "method"):
        return None
    receiver = op.value.func.value if isinstance(op.value, gast.Call) else None
    if not isinstance(receiver, gast.Name) or not isinstance(op.value.func, gast.Attribute):
        return None
    kind = analysis.kind_of(receiver)
    if kind not in _CONTAINER_METHODS or callee[1] not in _CONTAINER_METHODS[kind][1]:
        return None
    what, _, advice = _CONTAINER_METHODS[kind]
    user_name = analysis.fn.source_of.get(receiver.id, receiver.id)
    return (
        f"cannot differentiate the method '.{callee[1]}' of '{user_name}', a {what} that "
        f"holds values depending on the differentiated argument: on such a {what}, {advice}"
    )


def _tree_helper_refusal(callee) -> str:
    """An ad_transform tree helper in a form the differentiated code does not follow."""
    name = getattr(callee, "__name__", "this tree helper")
    return (
        f"cannot differentiate this call of ad_transform's {name}: inside a differentiated "
        "function only 'tree_leaves(tree)' and 'tree_map(f, tree, *trees)' with 'f' a "
        "lambda, a function defined with 'def' or a library function (no keywords) are "
        "followed; the tree helpers are otherwise for outside the differentiated "
        "function (updating parameters with a gradient). Write the loop over the "
        "containers instead ('{k: f(v) for k, v in p.items()}', 'list(p.values())')"
    )


def _user_expression(node, analysis: Analysis) -> str:
    from .dispatch import user_expression

    return user_expression(node, analysis.fn, analysis.ops)


def _object_in_attribute(op: Op, analysis: Analysis) -> str | None:
    """``model.layer`` (as written) when ``op`` calls a method of a value read from an
    attribute of an object of a known class (a ``FIELD`` op)."""
    if not (isinstance(op.callee, tuple) and op.callee[:1] == ("method",)):
        return None
    receiver = op.inputs.get("self", op.inputs.get("0"))
    if not isinstance(receiver, gast.Name):
        return None
    for definition in _definitions(receiver.id, analysis):
        value = definition.value
        if definition.form != FIELD:
            continue
        if isinstance(value, gast.Attribute) and isinstance(value.value, gast.Name):
            owner = _user_text(value.value.id, analysis)
            return f"{owner}.{value.attr}"
        return _user_text(receiver.id, analysis)
    return None


def _definitions(name: str, analysis: Analysis) -> list[Op]:
    return [op for op in analysis.ops if op.target == name and op.form not in MUTATIONS]


def _held_function_refusal(name: str, analysis: Analysis) -> str:
    """A call through a parameter or local variable that holds a function value."""
    user_name = analysis.fn.source_of.get(name, name)
    if _holds_derivative(name, analysis, set()):
        return (
            f"cannot differentiate the call of '{user_name}': it holds a derivative made by "
            f"ad_transform (grad, value_and_grad, vjp or a pullback), and {HIGHER_ORDER}"
        )
    where = (
        f"the parameter '{user_name}', which holds a function passed in by the caller"
        if name in analysis.fn.params
        else f"the local variable '{user_name}', which holds a function chosen at run time"
    )
    return (
        f"cannot differentiate a call through {where}: calls of a function held in a "
        "parameter or a variable are not supported yet; call the function by the name it "
        "was defined or imported under"
    )


def _holds_derivative(name: str, analysis: Analysis, seen: set[str]) -> bool:
    """Whether ``name`` may hold something made by grad/value_and_grad/vjp (or a part of
    what one returned, such as vjp's pullback), following copies, items and calls."""
    if name in seen:
        return False
    seen.add(name)
    for op in _definitions(name, analysis):
        value = op.value
        if isinstance(value, gast.Name):
            sources = [value]
        elif isinstance(value, gast.Subscript):
            sources = [value.value]
        elif isinstance(value, gast.Call):
            callee = op.callee if op.form != RULE else None
            known = callee is not None and not isinstance(callee, tuple) and not is_missing(callee)
            if known and (is_transform(callee) or derivative_origin(callee) is not None):
                return True
            sources = [value.func]
        elif getattr(value, "ad_static", False):
            if derivative_origin(resolve_static(value, analysis.fn)) is not None:
                return True
            sources = []
        else:
            sources = []
        for source in sources:
            if isinstance(source, gast.Name):
                held = analysis.fn.parsed.lookup(source.id)
                if not is_missing(held) and derivative_origin(held) is not None:
                    return True
                if _holds_derivative(source.id, analysis, seen):
                    return True
    return False


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
        if is_dynamic(op.callee):
            continue  # a method found when it runs: what it changes is checked then
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
        if op.form == OPAQUE and (_only_observes(op.callee) or _is_text(op)):
            continue
        if op.form == OPAQUE and (
            _only_raised(op, analysis) or op.callee in (runtime.set_global, runtime.set_cell)
        ):
            continue  # the function ends there, or the value is stored, not changed
        changes = in_place_changes(op, analysis.fn) + possible_changes(op, analysis.fn)
        for name, words in changes:
            if name.id in reached and op.callee is runtime.reraise:
                raise analysis.fn.parsed.error(
                    "cannot differentiate this 'try' statement: its handler reads the exception "
                    "it caught, and the values an exception carries are not differentiated (one "
                    "raised from a value that depends on the differentiated argument would give "
                    "a wrong derivative); return the value instead of raising it, or read no "
                    "value from the exception",
                    op.value,
                )
            if name.id in reached and analysis.kinds.get(name.id) != SCALAR:
                raise analysis.fn.parsed.error(
                    f"cannot differentiate this statement: {words}, and the change has no adjoint "
                    "rule (build a new value instead)",
                    op.value,
                )
