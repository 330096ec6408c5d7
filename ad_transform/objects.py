"""Objects of user classes: what a method call, an attribute read, an operator or a
constructor call on one computes.

Python decides these by the object's class: ``obj.m(a)`` calls ``type(obj).m(obj, a)``,
``a + b`` calls ``type(a).__add__(a, b)``, ``obj.p`` calls a property's getter or reads
the instance's ``__dict__``. Where the analysis knows an object's class exactly (a
parameter's class is known when the code is specialised for its argument types, an
object made by ``Cls(...)`` has the class it names), these questions are answered here,
from the class's own ``__dict__`` along its MRO, never from an instance.

A *record class* is one whose constructor only stores its parameters into attributes
(``self.x = x``; a dataclass without ``__post_init__``): an object made by ``Cls(...)``
then holds exactly the arguments given, and the derivative of each attribute read goes
to the argument stored there. Anything else is described in words for the refusal.

This module finds which class each name holds and drives the resolution
(:func:`resolve_objects`); the facts about the classes themselves are in
``user_classes.py``, what each operation on an object becomes in ``object_operations.py``.
"""

from __future__ import annotations

import types

import gast

from . import runtime
from .object_operations import _Context
from .user_classes import TheClass, _is_namedtuple_class, class_of_atom, is_user_class


# -- resolution of the operations of a normalized function on objects ----------------------
def resolve_objects(ops: list, fn, param_classes: dict[str, type]) -> dict[str, type]:
    """Re-describe the operations of ``ops`` (``analyze.Op``, in place) that act on an
    object of a known user class: a method, property or operator method becomes a
    ``USER_CALL`` of its function with the object as first argument, an attribute stored
    on the object a ``FIELD`` read. An operation on such an object that cannot be followed
    gets a ``refusal`` (raised if it is active). Returns the known classes of names.

    Classes are inferred by induction over the execution: first optimistically (an
    operation not resolved yet gives no class, so ``acc = acc + v`` in a loop can keep
    the class of its first value); the result is kept only if the classes it resolved to
    are exactly those the resolved operations give (each unresolved one giving no known
    class), else the inference is redone without optimism."""
    if not _may_involve_objects(ops, fn, param_classes):
        return {}  # the common case: nothing to resolve (each answer would be "unknown")
    original = list(ops)
    resolved, classes, results = _resolve_all(original, fn, param_classes, optimistic=True)
    if _classes_of_names(resolved, fn, param_classes, results, optimistic=False) != classes:
        resolved, classes, results = _resolve_all(original, fn, param_classes, optimistic=False)
    ops[:] = resolved
    for op in ops:  # a global object whose class was used: rebinding it makes code stale
        for atom in {id(a): a for a in [*op.inputs.values(), *(op.call_args or ())]}.values():
            if not isinstance(atom, gast.Constant) and class_of_atom(atom, classes, fn):
                op.lookups.extend(_global_bindings(atom, fn))
    return classes


def _may_involve_objects(ops: list, fn, param_classes: dict) -> bool:
    """Whether any operation of ``ops`` may act on an object of a user class: a parameter
    of one, ``Cls(...)``, a bound method or callable object reached statically, a global
    object or class read, a helper that names a user class (it may return an object)."""
    from .ops import OPAQUE, RECORD, USER_CALL

    if param_classes:
        return True
    seen: set[int] = set()
    for op in ops:
        if op.form == RECORD or (isinstance(op.callee, type) and is_user_class(op.callee)):
            return True  # an object made here (a record, a named tuple, a refused one)
        callee = op.callee
        if op.form == OPAQUE and (
            isinstance(callee, types.MethodType)
            or (callee is not None and is_user_class(type(callee)))
            or (isinstance(callee, type) and is_user_class(callee))  # not followed: refused
        ):
            return True
        if op.form == USER_CALL and id(callee) not in seen:
            seen.add(id(callee))
            if _names_a_user_class(callee):
                return True
        for atom in op.inputs.values():
            global_name = isinstance(atom, gast.Name) and atom.id not in fn.source_of
            if (global_name or getattr(atom, "ad_static", False)) and class_of_atom(atom, {}, fn):
                return True
    return False


def _global_bindings(atom, fn) -> list[tuple]:
    """``(namespace, name, object)`` of each step that reached the object ``atom`` names
    through a global or closure name (``MODEL``, ``CONFIG.model``); nothing for a local."""
    node, chain = atom, []
    while isinstance(node, gast.Attribute):
        chain.append(node.attr)
        node = node.value
    if not isinstance(node, gast.Name) or node.id in fn.source_of or node.id in fn.params:
        return []
    parsed = fn.parsed
    if node.id in parsed.closure:
        namespace = parsed.closure[node.id]
    elif node.id in parsed.globals:
        namespace = parsed.globals
    else:
        return []
    obj = parsed.lookup(node.id)
    found = [(namespace, node.id, obj)]
    for attr in reversed(chain):
        attributes = getattr(obj, "__dict__", None)
        if not hasattr(attributes, "get") or attr not in attributes:
            break
        obj = attributes[attr]
        found.append((attributes, attr, obj))
    return found


def _resolve_all(original: list, fn, param_classes: dict, optimistic: bool) -> tuple:
    """``original`` resolved with the classes they imply, iterated until the classes of
    names and of helpers' results stop changing: (ops, classes, results)."""
    from .ops import USER_CALL

    results: dict[int, type] = {}  # position of a USER_CALL -> the class it returns
    current = list(original)
    classes: dict = {}
    for _ in range(20):
        classes = _classes_of_names(current, fn, param_classes, results, optimistic)
        records = _record_names(current)
        proxies = _super_proxies(original, fn, classes)
        proxies.update(_unfollowed_objects(original))
        current = []
        for op in original:
            resolved = _resolve(op, fn, classes, records, proxies, original)
            if resolved is not None:
                resolved.depth = op.depth
            current.append(resolved or op)
        found: dict[int, type] = {}
        for position, op in enumerate(current):
            if op.form != USER_CALL:
                continue
            op.arg_classes = {
                param: cls
                for param, atom in op.inputs.items()
                if (cls := class_of_atom(atom, classes, fn)) is not None
            }
            returned = returned_class(op.callee, op.arg_classes)
            if returned is not None:
                found[position] = returned
        stable = _classes_of_names(current, fn, param_classes, found, optimistic) == classes
        if found == results and stable:
            break
        results = found
    return current, classes, results


_RETURNED: dict[tuple, object] = {}
_RETURNED_IN_PROGRESS: set[tuple] = set()


def returned_class(callee: types.FunctionType, arg_classes: dict) -> type | None:
    """The user class of what the user function ``callee`` returns when given objects of
    ``arg_classes``, where every ``return`` gives the same known class (a constructor
    ``Cls(...)``, an operator method of a record class); None where it is not known."""
    from .errors import ADTransformError
    from .kinds import collect
    from .normalize import normalize
    from .ops import RETURN
    from .parse import parse_function

    if not isinstance(callee, types.FunctionType):
        return None  # a method found when the call runs (dispatch.py)
    if not arg_classes and not _names_a_user_class(callee):
        return None
    namespace = callee.__globals__
    classes_named = tuple(  # a global rebound to another class: answered again
        (name, namespace.get(name))
        for name in callee.__code__.co_names
        if isinstance(namespace.get(name), type)
    )
    key = (
        callee,
        callee.__code__,
        tuple(sorted(arg_classes.items(), key=lambda kv: kv[0])),
        classes_named,
        tuple(v if isinstance(v, type) else None for v in _cell_values(callee)),
    )
    if key in _RETURNED:
        return _RETURNED[key]
    if key in _RETURNED_IN_PROGRESS:
        return None  # recursion: not known
    _RETURNED_IN_PROGRESS.add(key)
    try:
        fn = normalize(parse_function(callee), procedure=True)
        ops: list = []
        collect(fn.body, fn, 0, ops, set(), set())
        classes = resolve_objects(ops, fn, arg_classes)
        found = {class_of_atom(op.inputs["value"], classes, fn) for op in ops if op.form == RETURN}
    except ADTransformError:
        found = {None}  # the pair's own analysis says why, if it is ever built
    finally:
        _RETURNED_IN_PROGRESS.discard(key)
    result = found.pop() if len(found) == 1 else None
    if isinstance(result, TheClass):
        result = None
    _RETURNED[key] = result
    return result


def _names_a_user_class(func: types.FunctionType) -> bool:
    """Whether ``func`` reads a global or closure name bound to a user class."""
    code, namespace = func.__code__, func.__globals__
    if any(is_user_class(namespace.get(name)) for name in code.co_names):
        return True
    return any(is_user_class(value) for value in _cell_values(func))


def _cell_values(func: types.FunctionType) -> list:
    values = []
    for cell in func.__closure__ or ():
        try:
            values.append(cell.cell_contents)
        except ValueError:
            values.append(None)
    return values


_UNKNOWN = object()  # a name whose class is not one known class


def _classes_of_names(
    ops: list, fn, param_classes: dict, results: dict[int, type], optimistic: bool
) -> dict[str, type]:
    """Names whose every definition gives an object of the same user class: a parameter
    of that class, ``Cls(...)`` of a record class, a helper's result of a known class
    (``results``, by position), an attribute of a record stored from such a name, a copy
    (joined over branches and loops, to a fixpoint). ``optimistic``: an operation not
    resolved (yet) gives nothing instead of an unknown class."""
    from .ops import BUILD, CONSTANT, COPY, FIELD, MUTATIONS, OPAQUE, RECORD, RULE

    definitions: dict[str, list] = {}
    for position, op in enumerate(ops):
        if op.target is not None and op.form not in MUTATIONS:
            definitions.setdefault(op.target, []).append((position, op))
    known: dict[str, object] = {}
    for _ in range(50):
        new: dict[str, object] = {}
        for name, defs in definitions.items():
            found = {param_classes[name]} if name in param_classes else set()
            for position, op in defs:
                if op.form == RECORD or (op.form == BUILD and isinstance(op.callee, type)):
                    found.add(op.callee)  # an object or a named tuple made here
                elif position in results:  # a helper returning an object of a known class
                    found.add(results[position])
                elif op.form == COPY and op.inputs["x"].id in definitions:
                    source = known.get(op.inputs["x"].id)
                    if source is not None:  # None: not known yet (a loop)
                        found.add(source)
                elif op.form == COPY:
                    found.add(class_of_atom(op.inputs["x"], param_classes, fn) or _UNKNOWN)
                elif op.form == FIELD:
                    found.add(_field_class(op, definitions, known, param_classes, fn))
                elif op.form == RULE and _lowered_helper(op) is runtime.narrowed:
                    found.add(_narrowed_class(op, param_classes, fn))
                elif optimistic and op.form in (RULE, OPAQUE):
                    continue
                elif not (op.form == CONSTANT and _is_none(op.inputs["x"])):
                    found.add(_UNKNOWN)  # ``x = None``: a placeholder for another path
            if found:
                new[name] = found.pop() if len(found) == 1 else _UNKNOWN
        if new == known:
            break
        known = new
    classes = {name: cls for name, cls in known.items() if cls is not _UNKNOWN}
    for name, cls in param_classes.items():
        if name not in definitions:
            classes[name] = cls
    return classes


_LOWERED_HELPERS = (runtime.narrowed, runtime.has_attribute, runtime.super_of)


def _lowered_helper(op) -> object:
    """The runtime helper of a lowered ``match`` class pattern (``narrowed``,
    ``has_attribute``) or ``super()`` (``super_of``) that ``op`` calls, else None."""
    primitive = op.rule.primitive if op.rule is not None else None
    return primitive if any(primitive is h for h in _LOWERED_HELPERS) else None


def _unfollowed_objects(ops: list) -> dict[str, tuple]:
    """Names bound only to ``Cls(...)`` of a user class whose construction is not followed
    (not a record): name -> (None, None, Cls), so that what is done with them is refused
    with the reason."""
    from .ops import MUTATIONS, OPAQUE

    definitions: dict[str, list] = {}
    for op in ops:
        if op.target is not None and op.form not in MUTATIONS:
            definitions.setdefault(op.target, []).append(op)
    found = {}
    for name, defs in definitions.items():
        classes = {d.callee for d in defs if d.form == OPAQUE and isinstance(d.callee, type)}
        if len(classes) == 1 and len(defs) == 1 and is_user_class(next(iter(classes))):
            found[name] = (None, None, classes.pop())
    return found


def _super_proxies(ops: list, fn, classes: dict) -> dict[str, tuple]:
    """Names bound to ``super_of(C, obj)`` (a lowered ``super()``) where ``obj`` is an
    instance of a known class: name -> (C, the atom ``obj``, its class)."""
    from .ops import RULE

    proxies = {}
    for op in ops:
        if op.form != RULE or _lowered_helper(op) is not runtime.super_of or not op.target:
            continue
        start = class_of_atom(op.inputs["cls"], classes, fn)
        receiver = op.inputs["obj"]
        cls = class_of_atom(receiver, classes, fn)
        if isinstance(start, TheClass) and isinstance(cls, type) and start.cls in cls.__mro__:
            proxies[op.target] = (start.cls, receiver, cls)
    return proxies


def _narrowed_class(op, param_classes: dict, fn) -> object:
    """The class ``runtime.narrowed(subject, Cls)`` (a lowered ``match`` class pattern)
    gives its result: ``Cls``, checked exactly when it runs."""
    cls = class_of_atom(op.inputs["cls"], param_classes, fn)
    return cls.cls if isinstance(cls, TheClass) else _UNKNOWN


def _field_class(op, definitions: dict, known: dict, param_classes: dict, fn) -> object:
    """The class of ``obj.a`` where every definition of ``obj`` is ``Cls(...)`` of a record
    class storing, in ``a``, an object of one known class."""
    from .ops import RECORD

    obj = op.inputs["obj"]
    defs = definitions.get(obj.id, []) if isinstance(obj, gast.Name) else []
    if not defs or any(d.form != RECORD for _, d in defs):
        return _UNKNOWN
    found = set()
    for _, record in defs:
        atom = record.inputs.get(op.attr)
        if isinstance(atom, gast.Name) and atom.id in definitions:
            found.add(known.get(atom.id, _UNKNOWN))
        else:
            found.add(class_of_atom(atom, param_classes, fn) or _UNKNOWN if atom else _UNKNOWN)
    return found.pop() if len(found) == 1 else _UNKNOWN


def _record_names(ops: list) -> set[str]:
    """Names bound only to objects this function made with ``Cls(...)`` (or copies)."""
    from .ops import COPY, MUTATIONS, RECORD

    definitions: dict[str, list] = {}
    for op in ops:
        if op.target is not None and op.form not in MUTATIONS:
            definitions.setdefault(op.target, []).append(op)
    records = set(definitions)
    changed = True
    while changed:
        changed = False
        for name in list(records):
            for op in definitions[name]:
                copy_of_record = op.form == COPY and getattr(op.inputs["x"], "id", None) in records
                if op.form != RECORD and not copy_of_record:
                    records.discard(name)
                    changed = True
                    break
    return records


def _is_none(node) -> bool:
    return isinstance(node, gast.Constant) and node.value is None


def _resolve(op, fn, classes: dict[str, type], records: set[str], proxies: dict, ops=()):
    """The operation ``op`` re-described for the objects it acts on, or None."""
    from .ops import OPAQUE, RULE

    if op.form not in (RULE, OPAQUE):
        return None
    if not hasattr(op, "described_refusal"):  # resolved again as more classes are known
        op.described_refusal = op.refusal
    op.refusal = op.described_refusal
    if isinstance(op.callee, type):
        return None  # a constructor that is not a record's (described already)
    if _lowered_helper(op) is not None:
        return None  # a ``match`` subject's class now known, a ``super()`` proxy
    value = getattr(op.stmt, "value", None)
    context = _Context(op, fn, classes, records, proxies, list(ops))
    if isinstance(value, (gast.Subscript, gast.Attribute)) and _is_namedtuple_class(
        context.class_of(value.value) if isinstance(value.value, gast.Name) else None
    ):
        return context.namedtuple_read(value)
    if isinstance(value, gast.Call) and _unpacks_namedtuple(value, context):
        return None  # 'w, b = p' of a named tuple: a tuple's items, as for any tuple
    if isinstance(value, gast.Call):
        return context.call(value)
    if isinstance(value, gast.Attribute):
        return context.attribute(value)
    if isinstance(value, gast.BinOp):
        return context.binary(value)
    if isinstance(value, gast.UnaryOp):
        return context.unary(value)
    context.refuse_objects(list(op.inputs.values()))
    return None


def _unpacks_namedtuple(call: gast.Call, context) -> bool:
    """Whether ``call`` is normalize's ``runtime.unpacked(t, n)`` of a named tuple ``t``
    (``a, b = t``): the tuple's items, read as Python iterates a tuple."""
    if getattr(call, "ad_runtime", None) is not runtime.unpacked or not call.args:
        return False
    whole = call.args[0]
    return isinstance(whole, gast.Name) and _is_namedtuple_class(context.class_of(whole))
