"""Stage 3: what each statement is, and which statements the adjoint must handle.

:func:`analyze` drives the three parts, each in a module of its own:

* resolution (``resolve.py``): which rule (or user function) every primitive statement
  calls;
* kinds (``kinds.py``): which values are statically known to be scalars or arrays, so
  that code for Python numbers needs no broadcasting helpers;
* activity (``activity.py``): a value is active when it depends on a ``wrt`` argument
  *and* reaches the returned value; only active statements get adjoint code.

The forms of an operation, :class:`Op` and :class:`Analysis` are in ``ops.py``.
"""

from __future__ import annotations

import builtins
import dataclasses
import math
import operator
import types

import gast

from . import aliases, leaf_kinds, runtime
from .activity import (
    _useful,
    _varied,
    add_call_writes,
    check_in_place_calls,
    input_names,
    mark_active,
    mark_call_writes_active,
    operand_names,
    refuse_hidden_flows,
    refuse_hidden_flows_in_helpers,
    refuse_varied_keyword_rest,
)
from .complex_flows import refuse_complex_flows
from .dict_leaf_facts import DictFact, dicts_stay_unchanged
from .global_writes import assigned_when_called
from .kinds import _kinds, atom_kind, collect, is_range, result_dependencies, scalar_free_names
from .normalize import NormalizedFunction
from .ops import (
    APPEND,
    BUILD,
    CONSTANT,
    COPY,
    EXTEND,
    OPAQUE,
    RETURN,
    RULE,
    STORE_ITEM,
    USER_CALL,
    Analysis,
    Op,
)
from .ownership import _user_text, check_item_stores
from .parse import is_missing
from .resolve import describe, rule_op
from .rules.registry import (
    ARRAY,
    DICT,
    SCALAR,
    SEQUENCE,
    UNKNOWN,
)
from .shapes import ArrayFact, IntFact, ShapeFacts, derived_kinds, number_fact, parameter_fact
from .shapes import infer as infer_shapes
from .shift_invariance import shift_constants


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
    if getattr(fn.parsed.func, "ad_transform_held_params", None):
        from .held_values import check_held_parameters

        check_held_parameters(fn.parsed.func, (*wrt, *inout))
    ops: list[Op] = []
    counters: set[str] = set()
    loop_variant: set[str] = set()
    collect(fn.body, fn, 0, ops, counters, loop_variant)
    _refuse_globals_rebound_during_the_call(fn, ops)
    from .objects import resolve_objects

    classes = resolve_objects(ops, fn, param_classes or {})
    numbers = scalar_free_names(fn)
    start = dict(param_kinds, **{c: SCALAR for c in counters})
    start.update({name: SCALAR for name in numbers if name not in start})
    items: dict[str, tuple] = {}
    kinds = _kinds(ops, start, fn, items)
    if aliases.apply_kinds(ops, kinds, fn, describe):
        items = {}
        kinds = _kinds(ops, start, fn, items)
    shape_facts = ShapeFacts({}, {})
    if param_shapes:
        kinds, shape_facts = _kinds_with_shapes(ops, start, fn, param_shapes, kinds, numbers)
    _resolve_iteration_headers(ops, kinds, fn)
    _read_attributes_when_run(ops, kinds, fn)
    keys = _keys_taken_from_dicts(ops, kinds)  # keys carry no derivative
    flow = list(ops)  # the ops, and the in-place changes of the helpers they call
    shifts = shift_constants(ops, fn.tree, shape_facts)  # carry no derivative
    while True:
        facts = leaf_kinds.facts_of_names(flow, param_leaf_kinds or {})
        inert = keys | shifts | {name for name, f in facts.items() if f == leaf_kinds.STATIC}
        integers = frozenset(name for name, f in facts.items() if leaf_kinds.integer_valued(f))
        varied = _fixpoint(lambda known, inert=inert: _varied(flow, set(wrt) | known, inert))
        useful = _fixpoint(
            lambda known, integers=integers: _useful(
                flow, known | set(inout), result_used, integers
            )
        )
        if not add_call_writes(ops, flow, varied | useful, fn, kinds):
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
        mark_active(op, analysis)
    mark_call_writes_active(analysis)
    if not result_used:
        ops[-1].active, ops[-1].active_inputs = False, []
    _refuse_varied_keys(analysis)
    refuse_hidden_flows(analysis, helper)
    refuse_varied_keyword_rest(analysis)
    refuse_hidden_flows_in_helpers(analysis)
    refuse_complex_flows(analysis, complex_context)
    check_item_stores(dataclasses.replace(analysis, ops=flow))
    check_in_place_calls(analysis)
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
    _drop_dict_facts_unless_unchanged(params, ops, fn, counters)
    assigned = {op.target for op in ops if op.target is not None}
    number_facts = _number_facts(ops, fn, numbers, assigned | set(params))
    params.update(number_facts)
    derived: dict[int, str] = {}
    facts = ShapeFacts({}, {}, number_facts)
    for _ in range(6):
        facts = infer_shapes(ops, kinds, params, counters, assigned)
        facts.number_facts = number_facts
        facts.finite_numbers = _finite_numbers(number_facts, fn)
        found = derived_kinds(facts, kinds)
        if found == derived:
            break
        derived = found
        kinds = _kinds(ops, start, fn, derived=derived)
    return kinds, facts


def _drop_dict_facts_unless_unchanged(params: dict, ops: list[Op], fn, counters: set) -> None:
    """The leaf facts of dict parameters (``dict_leaf_facts.py``) hold only while no dict
    can change: where the function might change one, its dict parameters get none."""
    if not any(isinstance(f, DictFact) for f in params.values()):
        return
    safe = {
        name
        for name, fact in params.items()
        if isinstance(fact, DictFact | IntFact)
        or (isinstance(fact, ArrayFact) and fact.dtype is not None and fact.dtype in "biufc")
    }
    if not dicts_stay_unchanged(ops, fn, safe, counters):
        params.update({name: None for name, f in params.items() if isinstance(f, DictFact)})


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


def _finite_numbers(number_facts: dict, fn: NormalizedFunction) -> frozenset[str]:
    """Of the free names with number facts, those holding a finite number now (their
    guards then require one: ``kinds.NumberGuard(finite=True)``)."""
    values = {name: fn.parsed.lookup(name) for name in number_facts}
    return frozenset(
        name
        for name, v in values.items()
        if type(v) is int or (type(v) is float and math.isfinite(v))
    )


def _range_counters(stmts: list, fn: NormalizedFunction) -> set[str]:
    """The names that ``for`` loops over the builtin ``range`` bind: integers."""
    found = set()
    for stmt in stmts:
        if isinstance(stmt, gast.For) and isinstance(stmt.target, gast.Name) and is_range(stmt, fn):
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
        resolved = rule_op(op.stmt, op.target, primitive, [source, index], {}, fn)
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
        resolved = rule_op(op.stmt, op.target, runtime.attribute_of, [receiver, name], {}, fn)
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
        if not input_names(op) & varied:
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
        varied = sorted(n for key in keys for n in operand_names(key) if n in analysis.varied)
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
            copied = op.form == COPY and operand_names(op.inputs["x"]) <= keys
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
            used = operand_names(atom) & group.keys()
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


def _fixpoint(step) -> set[str]:
    """Repeat a monotone propagation over the statements until nothing changes (loops)."""
    previous, current = None, step(set())
    while current != previous:
        previous, current = current, step(current)
    return current
