"""What a call changes in place, besides the value it returns.

* ``helper_effects``: the parameters a user helper changes in place (its *in-out*
  parameters: ``store.append(v)``, ``buf[i] = v``, ``xs.extend(vs)``, or passing the
  parameter on to another helper that does), and the changes it makes that cannot be
  differentiated (into a global, a closure variable, a default value, a view or an
  element of a parameter, or through a call the transformer cannot follow);
* ``in_place_changes``: the names a library call or method may change in place
  (``xs.sort()``, ``a.fill(0.0)``, ``np.copyto(a, b)``, ``np.add(a, b, out=a)``), which
  have no adjoint: a differentiated function must not apply them to active values.
"""

from __future__ import annotations

import inspect
import random
import sys
import threading
import types
import weakref
from dataclasses import dataclass

import gast
import numpy as np

from . import runtime
from .dispatch import is_dynamic
from .errors import ADTransformError
from .kinds import _is_none, collect
from .normalize import NormalizedFunction, normalize
from .ops import BUILD, CONSTANT, COPY, MUTATIONS, OPAQUE, USER_CALL, Op
from .ownership import creates_object
from .parse import ParsedFunction, parse_function
from .resolve import resolve_static

# Methods of lists, arrays, dicts and sets that change their receiver in place (``append``
# and ``extend`` on a list have adjoints; these do not).
MUTATING_METHODS = frozenset(
    {
        "insert",
        "pop",
        "remove",
        "clear",
        "sort",
        "reverse",
        "fill",
        "put",
        "resize",
        "itemset",
        "partition",
        "setfield",
        "byteswap",
        "update",
        "add",
        "discard",
        "setdefault",
        "popitem",
        "__setitem__",
        "__delitem__",
        "__iadd__",
        "__isub__",
        "__imul__",
        "__itruediv__",
    }
)
# Library functions that write into their first argument.
_WRITES_FIRST_ARGUMENT = (
    np.copyto,
    np.put,
    np.place,
    np.putmask,
    np.fill_diagonal,
    np.put_along_axis,
    random.shuffle,
)


def _writes_first_argument() -> tuple:
    """``_WRITES_FIRST_ARGUMENT`` and ``np.random.shuffle`` once ``numpy.random`` is imported
    (NumPy imports it on first use: a function calling it has imported it)."""
    np_random = sys.modules.get("numpy.random")
    return _WRITES_FIRST_ARGUMENT + ((np_random.shuffle,) if np_random is not None else ())


# Library calls known to change none of their arguments (whose results may go unused).
_CHANGE_NOTHING = (print, len, isinstance, repr, str, format, id, type, hasattr, callable)


def in_place_changes(op: Op, fn: NormalizedFunction) -> list[tuple[gast.Name, str]]:
    """The names a non-user call may change in place, each with words for the change."""
    call = op.value if isinstance(op.stmt, (gast.Assign, gast.Expr)) else None
    if not isinstance(call, gast.Call) or op.form in (USER_CALL, *MUTATIONS):
        return []
    source = _call_words(call)
    changes = []
    for keyword in call.keywords:
        if keyword.arg == "out":
            for name in _names(keyword.value):
                changes.append((name, f"{source} writes into its out= argument '{name.id}'"))
    func = call.func
    if isinstance(func, gast.Attribute) and not getattr(func, "ad_static", False):
        if func.attr in MUTATING_METHODS and isinstance(func.value, gast.Name):
            changes.append((func.value, f"{source} changes '{func.value.id}' in place"))
        return changes
    if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name):
        receiver = resolve_static(func.value, fn)
        changing = MUTATING_METHODS | {"append", "extend"}
        if isinstance(receiver, (list, dict, set, np.ndarray)) and func.attr in changing:
            # a global's or closure variable's list: a constant for the function
            return [*changes, (func.value, f"{source} changes '{func.value.id}' in place")]
    callee = resolve_static(func, fn)
    writes_first = any(callee is f for f in _writes_first_argument()) or (
        getattr(callee, "__name__", None) == "at" and isinstance(callee.__self__, np.ufunc)
        if isinstance(callee, types.BuiltinMethodType)
        else False
    )
    if writes_first and call.args and isinstance(call.args[0], gast.Name):
        changes.append((call.args[0], f"{source} writes into '{call.args[0].id}'"))
    return changes


def possible_changes(op: Op, fn: NormalizedFunction) -> list[tuple[gast.Name, str]]:
    """The arguments of a library call whose result goes unused: it is called for an
    effect, which may be a change of an argument in place (unless it is a number)."""
    call = op.value
    if not isinstance(op.stmt, gast.Expr) or op.form != OPAQUE or in_place_changes(op, fn):
        return []
    callee = resolve_static(call.func, fn)
    if isinstance(getattr(callee, "__self__", None), (list, dict, set)):
        return []  # a method of a global's list or dict: it keeps its argument, unchanged
    if any(callee is f for f in _CHANGE_NOTHING):
        return []
    words = f"{_call_words(call)} discards its result: it may change '{{}}' in place"
    names = _names([*call.args, *(k.value for k in call.keywords)])
    if isinstance(call.func, gast.Attribute) and not getattr(call.func, "ad_static", False):
        names = [*_names(call.func.value), *names]  # an unknown method of a local object
    return [(name, words.format(name.id)) for name in names]


def _names(nodes) -> list[gast.Name]:
    nodes = nodes if isinstance(nodes, list) else [nodes]
    out = []
    for node in nodes:
        if isinstance(node, gast.Name):
            out.append(node)
        elif isinstance(node, gast.Tuple):
            out.extend(e for e in node.elts if isinstance(e, gast.Name))
    return out


def _call_words(call: gast.Call) -> str:
    from .emit import expression_source

    return f"the call '{expression_source(call.func)}(...)'"


@dataclass(frozen=True)
class HelperEffects:
    """What a user helper changes in place."""

    mutated: tuple[str, ...]  # its in-out parameters, in signature order
    problems: tuple[str, ...]  # changes that cannot be differentiated, described
    # (parameter, words): ``p += v``, ``log(p)``: a change in place unless it is a number
    unless_number: tuple[tuple[str, str], ...] = ()
    # (container, value): in-out parameter ``container`` may afterwards hold (an object made
    # from) parameter ``value``: ``rows.append(row)``; the caller's other name for ``value``
    # then must not be changed while ``container`` is read
    holds: tuple[tuple[str, str], ...] = ()


_NO_EFFECTS = HelperEffects((), (), ())
_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # function -> (code, effects)
_progress = threading.local()  # .assumed: function -> (effects assumed, whether used)


def helper_effects(callee: types.FunctionType) -> HelperEffects:
    """The parameters ``callee`` changes in place, and what it changes that cannot be
    differentiated. Recursive helpers are iterated until the answer is stable."""
    if is_dynamic(callee):  # a method found when it runs: its effects are checked then
        return _NO_EFFECTS
    cached = _cache.get(callee)
    if cached is not None and _still_valid(callee, set()):
        return cached[1]
    _in_progress = _progress.__dict__.setdefault("assumed", {})
    if callee in _in_progress:
        _in_progress[callee] = (_in_progress[callee][0], True)  # its answer was used
        return _in_progress[callee][0]
    assumed = _NO_EFFECTS
    try:
        while True:
            _in_progress[callee] = (assumed, False)
            effects, calls = _analyse_helper(callee)
            used = _in_progress[callee][1]
            if not used or effects == assumed:
                break
            assumed = effects
    finally:
        del _in_progress[callee]
    _cache[callee] = (callee.__code__, effects, calls)
    return effects


def effect_dependencies(callee) -> list[tuple[ParsedFunction, str, object]]:
    """Each (function, name, helper) the answer for ``callee`` relied on, at any depth: a
    caller's generated code is stale once one of these names refers to another helper."""
    if is_dynamic(callee):
        return []
    found, stack, seen = [], [callee], set()
    while stack:
        cached = _cache.get(stack.pop())
        for parsed, name, obj in cached[2] if cached is not None else ():
            found.append((parsed, name, obj))
            if obj not in seen:
                seen.add(obj)
                stack.append(obj)
    return found


def _still_valid(callee, seen: set) -> bool:
    """The cached answer for ``callee`` holds: same code, and each name it calls still
    refers to the same helper, whose answer holds too."""
    cached = _cache.get(callee)
    if cached is None or cached[0] is not callee.__code__:
        return False
    seen.add(callee)
    for parsed, name, obj in cached[2]:
        if parsed.lookup(name) is not obj:
            return False
        if obj not in seen and not _still_valid(obj, seen):
            return False
    return True


def _analyse_helper(callee: types.FunctionType) -> tuple[HelperEffects, tuple]:
    parsed = parse_function(callee)
    try:
        fn = normalize(parsed, procedure=True)
    except ADTransformError:
        # e.g. an ``assert`` or a ``raise``: fine for a helper that cannot change anything
        if may_change_something(parsed):
            raise
        return _NO_EFFECTS, ()
    ops: list[Op] = []
    collect(fn.body, fn, 0, ops, set(), set())
    params = list(inspect.signature(callee, follow_wrapped=False).parameters)
    definitions: dict[str, list[Op]] = {}
    for op in ops:
        if op.target is not None and op.form not in MUTATIONS:
            definitions.setdefault(op.target, []).append(op)
    mutated: set[str] = set()
    problems: list[str] = []
    unless_number: dict[str, str] = {}

    def where(op: Op) -> str:
        line = getattr(op.stmt, "lineno", None)
        return f"{fn.parsed.filename}:{line}: {callee.__name__}()"

    def user(name: str) -> str:
        return fn.source_of.get(name, name)

    for op, name, words, supported in _writes(ops, fn, where):
        if name is None:
            problems.append(words)
            continue
        origin = _parameter_of(name, definitions, params, set())
        if supported is None:  # a change unless the value is a number
            for param in _parameters_held(name, definitions, params, fn):
                unless_number.setdefault(
                    param,
                    words
                    if param == name
                    else f"{words} through '{user(name)}', another name for parameter '{param}'",
                )
            continue
        if origin == name and supported:
            mutated.add(origin)
            continue
        if origin is not None and supported:
            # the adjoint of a change through another name does not reach the parameter's
            problems.append(
                f"{where(op)} writes into '{user(name)}', another name for parameter "
                f"'{origin}' (write through '{origin}' itself)"
            )
            continue
        outside = _outside_object(name, definitions, params, set())
        if outside is None:
            continue  # a list or array of its own: its own analysis decides
        free = name not in definitions and name not in params
        if free and not _depends_on(_input_names_of(op), definitions, set(params), set()):
            continue  # a global's list: a problem only if what goes in is from the arguments
        if supported:
            problems.append(f"{where(op)} writes into '{user(name)}', which may be {outside}")
        else:
            problems.append(words if origin is not None else f"{words} (it may be {outside})")
    for param, words in _augmented_parameters(fn, params, definitions).items():
        unless_number.setdefault(param, words)
    problems.extend(_augmented_free_values(fn, params, definitions, callee))
    vararg = fn.parsed.tree.args.vararg
    if vararg is not None and vararg.id in mutated | unless_number.keys():
        # the caller's arguments are spread per call: which one changes is not followed
        mutated.discard(vararg.id)
        unless_number.pop(vararg.id, None)
        problems.append(
            f"{callee.__name__}() changes an argument it receives through '*{vararg.id}' in place"
        )
    calls = tuple(
        (fn.parsed, op.stmt.value.func.id, op.callee)
        for op in ops
        if op.form == USER_CALL and isinstance(op.stmt.value.func, gast.Name)
    )
    effects = HelperEffects(
        tuple(p for p in params if p in mutated),
        tuple(problems),
        tuple(unless_number.items()),
        _held_parameters(ops, definitions, params, mutated),
    )
    return effects, calls


def _held_parameters(ops: list[Op], definitions, params: list[str], mutated: set[str]):
    """Pairs (container, value) of parameters: what is put into in-out parameter
    ``container`` may be parameter ``value``'s object, a view of it, or hold it."""
    held = set()
    for op in ops:
        if op.form in MUTATIONS:
            pairs = [(op.target, _input_names_of(op) - {op.target})]
        elif op.form == USER_CALL:
            pairs = [
                (op.inputs[c].id, {op.inputs[v].id})
                for c, v in helper_effects(op.callee).holds
                if isinstance(op.inputs.get(c), gast.Name)
                and isinstance(op.inputs.get(v), gast.Name)
            ]
        else:
            continue
        for container, values in pairs:
            owner = _parameter_of(container, definitions, params, set())
            if owner not in mutated:
                continue
            for param in params:
                if param != owner and _may_hold(values, definitions, param, set()):
                    held.add((owner, param))
    return tuple(sorted(held))


def _augmented_parameters(fn: NormalizedFunction, params: list[str], definitions) -> dict[str, str]:
    """``buf += v`` on a parameter, or on another name for one (``q = p; q += v``): in
    place for an array or a list the caller gave, a new value for a number. Which it is
    depends on the call: parameter -> words for it."""
    found = {}
    for node in gast.walk(fn.parsed.tree):
        if not isinstance(node, gast.AugAssign):
            continue
        target = node.target
        element = isinstance(target, gast.Subscript) and isinstance(target.value, gast.Name)
        if not (isinstance(target, gast.Name) or element):
            continue
        name = target.value.id if element else target.id
        line = getattr(node, "lineno", None)
        sign = _OPERATOR_SIGNS.get(type(node.op), "?")
        written = f"{name}[...]" if element else name
        words = (
            f"{fn.parsed.filename}:{line}: {fn.parsed.name}() assigns '{written} {sign}= "
            f"...', which changes {'an item' if element else 'an array or a list'} in place"
        )
        if name in params:
            if not element:  # an item of a parameter: an in-out write the pair follows
                found.setdefault(name, words)
            continue
        versions = {ssa for ssa, user in fn.source_of.items() if user == name}
        for version in versions:
            for param in _parameters_held(version, definitions, params, fn):
                if element:
                    what = "may hold"
                elif _parameter_of(version, definitions, params, set()) == param:
                    what = "is another name for"
                else:
                    what = "may be a part of"
                found.setdefault(param, f"{words}, here '{name}', which {what} parameter '{param}'")
    return found


def _augmented_free_values(fn: NormalizedFunction, params: list[str], definitions, callee):
    """``q = G; q += v`` with ``G`` a global or closure variable holding an array or a
    list (not a number): the helper changes a value from outside in place. Words for
    each such change."""
    if _is_generated(fn):
        return []  # see _parameters_held
    found = []
    values = {**callee.__globals__, **inspect.getclosurevars(callee).nonlocals}
    for node in gast.walk(fn.parsed.tree):
        if not (isinstance(node, gast.AugAssign) and isinstance(node.target, gast.Name)):
            continue
        name = node.target.id
        versions = {ssa for ssa, user in fn.source_of.items() if user == name}
        for free in sorted(_free_names_held(versions, definitions, set(params), set())):
            if free not in values:
                continue  # a name of the lowering (a loop's index), not a variable from outside
            value = values[free]
            if runtime.rebound_by_augmented_assignment(value) or isinstance(
                value, (types.ModuleType, types.FunctionType)
            ):
                continue
            line = getattr(node, "lineno", None)
            found.append(
                f"{fn.parsed.filename}:{line}: {fn.parsed.name}() assigns '{name} "
                f"{_OPERATOR_SIGNS.get(type(node.op), '?')}= ...', which changes '{free}', a "
                f"global or closure variable holding a {type(value).__name__}, in place"
            )
    return found


def _free_names_held(names: set[str], definitions, params: set[str], seen: set[str]) -> set[str]:
    """The global or closure variables whose object one of ``names`` may be (or be a view
    of, or hold)."""
    free = set()
    for name in names - seen:
        seen.add(name)
        for op in definitions.get(name, []):
            if creates_object(op) and op.form != BUILD:
                continue
            inputs = _input_names_of(op)
            free |= {n for n in inputs if n not in definitions and n not in params}
            free |= _free_names_held(inputs, definitions, params, seen)
    return free


_OPERATOR_SIGNS = {
    gast.Add: "+",
    gast.Sub: "-",
    gast.Mult: "*",
    gast.Div: "/",
    gast.Pow: "**",
    gast.MatMult: "@",
    gast.FloorDiv: "//",
    gast.Mod: "%",
}


def _writes(ops: list[Op], fn: NormalizedFunction, where):
    """Each change a statement makes in place: (op, name, words, supported), where
    ``supported`` is None for a change only if the value is not a number."""
    for op in ops:
        if op.form in MUTATIONS:
            yield op, op.target, "", True
        elif op.form == USER_CALL:
            inner = helper_effects(op.callee)
            for problem in inner.problems:
                yield op, None, problem, False
            for param, words in inner.unless_number:
                atom = op.inputs.get(param)
                if isinstance(atom, gast.Name):
                    yield op, atom.id, words, None
            for param in inner.mutated:
                atom = op.inputs.get(param)
                words = f"{op.callee.__name__}() changes its argument '{param}' in place"
                if isinstance(atom, gast.Name):
                    yield op, atom.id, words, True
                else:
                    what = "its default value" if atom is None else "a value that is not a name"
                    yield op, None, f"{where(op)} calls {words}, here {what}", False
        else:
            for name, words in in_place_changes(op, fn):
                yield op, name.id, f"{where(op)}: {words}", False
            for name, words in possible_changes(op, fn):
                yield op, name.id, f"{where(op)}: {words}", None


def may_change_something(parsed: ParsedFunction) -> bool:
    """Whether a helper the transformer cannot normalize may change an object in place,
    judged from its syntax alone (conservatively)."""
    for node in gast.walk(parsed.tree):
        if isinstance(node, gast.AugAssign):
            return True
        if isinstance(node, (gast.Assign, gast.AnnAssign)):
            targets = node.targets if isinstance(node, gast.Assign) else [node.target]
            if any(not isinstance(n, gast.Name) for t in targets for n in _flat(t)):
                return True
        if isinstance(node, gast.Call):
            if any(k.arg == "out" for k in node.keywords):
                return True
            func = node.func
            if isinstance(func, gast.Attribute) and func.attr in _SYNTACTIC_CHANGES:
                return True
            if isinstance(func, gast.Name):
                target = parsed.lookup(func.id)
                if any(target is f for f in _LOWERED_OBSERVERS):
                    continue  # a lowered ``raise``/``assert``/``match``: changes nothing
                if isinstance(target, types.FunctionType) or func.id in _SYNTACTIC_CHANGES:
                    return True
    return False


# Runtime helpers the lowering passes call (lower/) that change no object.
_LOWERED_OBSERVERS = (
    runtime.raise_exception,
    runtime.reraise_current,
    runtime.matches_sequence,
    runtime.narrowed,
    runtime.has_attribute,
    runtime.super_of,
)


def _flat(target: gast.expr) -> list[gast.expr]:
    if isinstance(target, (gast.Tuple, gast.List)):
        return [n for e in target.elts for n in _flat(e)]
    return [target]


_SYNTACTIC_CHANGES = MUTATING_METHODS | {
    "append",
    "extend",
    "copyto",
    "place",
    "putmask",
    "fill_diagonal",
    "put_along_axis",
    "shuffle",
    "at",
    "setattr",
}


def _input_names_of(op: Op) -> set[str]:
    return {a.id for a in op.inputs.values() if isinstance(a, gast.Name)}


def _depends_on(names: set[str], definitions, params: set[str], seen: set[str]) -> bool:
    """Whether any of ``names`` may be computed from ``params``."""
    for name in names - seen:
        seen.add(name)
        if name in params:
            return True
        for op in definitions.get(name, []):
            if _depends_on(_input_names_of(op), definitions, params, seen):
                return True
    return False


def _may_hold(names: set[str], definitions, param: str, seen: set[str]) -> bool:
    """Whether one of ``names`` may be ``param``'s object, a view of it, or a list or
    tuple holding it (a new object made by arithmetic holds nothing)."""
    for name in names - seen:
        seen.add(name)
        if name == param and name not in definitions:
            return True
        for op in definitions.get(name, []):
            if creates_object(op) and op.form != BUILD:
                continue
            if _may_hold(_input_names_of(op), definitions, param, seen):
                return True
    return False


def _parameters_held(name: str, definitions, params: list[str], fn) -> list[str]:
    """The parameters whose object ``name`` may be (or be a view of, or hold).

    In derivative code ad_transform generated (differentiated again), only ``name``
    itself: its in-place updates of adjoints were proven safe when it was generated (the
    ownership checks), and its runtime helpers' results, which this analysis cannot see
    into, never are their shape arguments."""
    if _is_generated(fn):
        return [name] if name in params and name not in definitions else []
    return [param for param in params if _may_hold({name}, definitions, param, set())]


def _is_generated(fn: NormalizedFunction) -> bool:
    return fn.parsed.filename.startswith("<ad_transform ")


def _parameter_of(name, definitions, params, seen) -> str | None:
    """The parameter whose object ``name`` always is (itself, or copies of it)."""
    if name is None or name in seen:
        return None
    if name in params and name not in definitions:
        return name
    seen.add(name)
    origins = set()
    for op in definitions.get(name, []):
        source = op.inputs.get("x") if op.form == COPY else None
        if not isinstance(source, gast.Name):
            return None
        origins.add(_parameter_of(source.id, definitions, params, seen))
    return origins.pop() if len(origins) == 1 else None


def _outside_object(name, definitions, params, seen) -> str | None:
    """Words for an object from outside the helper that ``name`` may be (or be a view or
    an element of): a parameter, a global or a closure variable; None if it is local."""
    if name in seen:
        return None
    seen.add(name)
    if name in params and name not in definitions:
        return f"(a part of) parameter '{name}'"
    if name not in definitions:
        return f"'{name}', a global or closure variable"
    for op in definitions[name]:
        if creates_object(op) or (op.form == CONSTANT and _is_none(op.inputs["x"])):
            continue
        for source in op.inputs.values():
            if isinstance(source, gast.Name):
                outside = _outside_object(source.id, definitions, params, seen)
                if outside is not None:
                    return outside
    return None
