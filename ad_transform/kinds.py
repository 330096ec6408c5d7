"""Stage 3b, kinds: which values are statically known to be scalars, arrays, sequences or
dicts (so that code for Python numbers needs no broadcasting helpers), and the kinds of
what user functions return.
"""

from __future__ import annotations

import copy
import inspect
import math
import operator
import types

import gast
import numpy as np

from . import aliases, runtime
from .callables import (
    is_library_module,
)
from .errors import ADTransformError
from .nodes import name_ids, subnodes
from .normalize import NormalizedFunction
from .ops import BUILD, CONSTANT, COPY, FIELD, MUTATIONS, RECORD, RETURN, RULE, USER_CALL, Op
from .resolve import describe, resolve_static
from .rules.registry import (
    ARRAY,
    DICT,
    DYNAMIC,
    DYNAMIC_IN_PLACE,
    NUMBERS,
    SCALAR,
    SEQUENCE,
    UNKNOWN,
)
from .shapes import number_fact


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


def collect(stmts, fn, depth: int, ops: list, counters: set, loop_variant: set) -> None:
    """Describe every simple statement, in program order, noting its loop depth."""
    for stmt in stmts:
        if isinstance(stmt, gast.If):
            collect(stmt.body, fn, depth, ops, counters, loop_variant)
            collect(stmt.orelse, fn, depth, ops, counters, loop_variant)
        elif isinstance(stmt, (gast.For, gast.While)):
            if isinstance(stmt, gast.For):
                targets = [n.id for n in subnodes(stmt.target) if isinstance(n, gast.Name)]
                counters.update(targets[:1] if len(targets) > 1 or is_range(stmt, fn) else [])
                loop_variant.update(targets)
            loop_variant.update(name_ids(stmt.body, gast.Store))
            collect(stmt.body, fn, depth + 1, ops, counters, loop_variant)
        elif isinstance(stmt, (gast.Break, gast.Pass)):
            continue
        else:
            op = describe(stmt, fn)
            op.depth = depth
            ops.append(op)


def is_range(stmt: gast.For, fn: NormalizedFunction) -> bool:
    call = stmt.iter
    return isinstance(call, gast.Call) and resolve_static(call.func, fn) is range


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
    of the same fact: any float (``REAL``), or the same int (an index or a length).
    ``finite``: the code multiplies adjoints by it without the guard of ``times`` (a
    zero adjoint times inf is 0), so it holds only while the number is finite too."""

    __slots__ = ("fact", "finite")

    def __init__(self, fact: object = None, finite: bool = False) -> None:
        self.fact = fact
        self.finite = finite

    def holds(self, value: object) -> bool:
        """Whether code generated under this guard is right for ``value``."""
        if type(value) not in (float, int):
            return False
        if self.finite and type(value) is float and not math.isfinite(value):
            return False
        return self.fact is None or number_fact(value) == self.fact

    def __repr__(self) -> str:
        if self.fact is None:
            return "<any Python number>"
        return f"<a {'finite ' if self.finite else ''}number with {self.fact}>"


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
    definitions = definitions_of(ops)
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
    if op.form == RULE and op.rule.primitive is runtime.held_constant:
        held = op.inputs.get("x", op.inputs.get("0"))
        return items.get(held.id) if isinstance(held, gast.Name) else None
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
    collect(fn.body, fn, 0, ops, counters, set())
    resolve_objects(ops, fn, {})
    numbers = scalar_free_names(fn)
    start = dict(zip(params, param_kinds), **{c: SCALAR for c in counters})
    start.update({name: SCALAR for name in numbers if name not in start})
    items: dict = {}
    kinds = _kinds(ops, start, fn, items)
    if aliases.apply_kinds(ops, kinds, fn, describe):
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
    if op.form == RULE and op.rule.primitive is runtime.held_constant:
        held = op.inputs.get("x", op.inputs.get("0"))
        return atom_kind(held, kinds, fn) if held is not None else UNKNOWN  # read back
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


def definitions_of(ops: list[Op]) -> dict[str, list[Op]]:
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
    certainly a NumPy value (``numeric``: an item of an array, a ufunc's result) counts
    as an array."""
    return _form(op, kinds, fn, definitions, set())


def _form(op: Op, kinds: dict, fn, definitions: dict, seen: set) -> str:
    if op.form != RULE or op.rule.sequence_form is None:
        return NUMBERS
    operands = [op.inputs[p] for p in op.rule.template.params]
    constants = [a.value if isinstance(a, gast.Constant) else None for a in operands]
    operand_kinds = [
        ARRAY if kind == UNKNOWN and numeric(a, kinds, fn, definitions, seen) else kind
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


def numeric(atom, kinds: dict, fn, definitions: dict, seen: set) -> bool:
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
            if not numeric(op.inputs["x"], kinds, fn, definitions, seen):
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
