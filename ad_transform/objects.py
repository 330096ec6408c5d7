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
"""

from __future__ import annotations

import abc
import ast
import dataclasses
import inspect
import operator
import textwrap
import types
from dataclasses import dataclass

import gast

from . import runtime
from .callables import is_library_file
from .transform_memo import source_lines

# Names of attributes that are never an ordinary stored value of an object.
_SPECIAL_ATTRIBUTES = {"__dict__", "__class__", "__slots__", "__weakref__"}


def is_user_class(cls: object) -> bool:
    """A class defined in the user's code (not a builtin, NumPy's, or a library's)."""
    if not isinstance(cls, type) or cls.__module__ == "builtins":
        return False
    module = inspect.getmodule(cls)
    filename = getattr(module, "__file__", None)
    if filename is None:  # a module not in sys.modules (loaded from a path): its methods
        files = [f.__code__.co_filename for f in vars(cls).values() if _is_def(f)]
        made = ("<", dataclasses.__file__)  # what @dataclass wrote into the class
        files = [name for name in files if not name.startswith(made)]
        if files:
            return not any(is_library_file(name) for name in files)
        return cls.__module__ == "__main__"
    return not is_library_file(filename)


def _is_def(attribute: object) -> bool:
    return isinstance(attribute, types.FunctionType)


def plain_attribute_access(cls: type) -> str | None:
    """None when reading and calling attributes of ``cls`` objects is Python's default
    lookup; else what makes it different (in words)."""
    if cls.__getattribute__ is not object.__getattribute__:
        owner = next(c for c in cls.__mro__ if "__getattribute__" in vars(c))
        if owner is tuple:
            pass  # tuple's lookup is object's (named tuples)
        elif owner.__module__ == "builtins":  # an exception class, a subclass of a builtin
            return (
                f"the class {cls.__qualname__} derives from the built-in class "
                f"{owner.__qualname__}, whose objects are not followed"
            )
        else:
            return f"the class {cls.__qualname__} defines __getattribute__"
    if find_attribute(cls, "__getattr__") is not None:
        return f"the class {cls.__qualname__} defines __getattr__"
    if type(cls) not in (type, abc.ABCMeta):  # ABCMeta only checks abstract methods
        return f"the class {cls.__qualname__} has the metaclass {type(cls).__qualname__}"
    return None


def find_attribute(cls: type, name: str) -> tuple[type, object] | None:
    """``(owner, value)``: the class along ``cls``'s MRO whose ``__dict__`` holds ``name``
    and what it holds there (no descriptor is invoked); None if no class defines it."""
    for owner in cls.__mro__:
        if owner is object:
            continue
        if name in owner.__dict__:
            return owner, owner.__dict__[name]
    return None


def is_data_descriptor(value: object) -> bool:
    kind = type(value)
    return hasattr(kind, "__set__") or hasattr(kind, "__delete__")


def dependencies_of_lookup(cls: type, name: str) -> list[tuple]:
    """``(namespace, name, object)`` entries (``pipeline.Generated.dependencies``) that
    make code resolved by looking ``name`` up on ``cls`` stale once any class of its MRO
    binds ``name`` differently (a method redefined, a property added)."""
    return [
        (owner.__dict__, name, owner.__dict__.get(name))
        for owner in cls.__mro__
        if owner is not object
    ]


@dataclass(frozen=True)
class RecordLayout:
    """What ``Cls(...)`` stores: attribute -> the ``__init__`` parameter stored there."""

    cls: type
    fields: dict[str, str]
    signature: inspect.Signature  # of __init__, ``self`` included


def record_layout(cls: type) -> RecordLayout | str:
    """The layout of the objects ``cls(...)`` makes, or why it cannot be followed."""
    if not is_user_class(cls):
        return f"{cls.__qualname__} is not a class of the user's code"
    access = plain_attribute_access(cls)
    if access is not None:
        return access
    if cls.__new__ is not object.__new__:
        return f"the class {cls.__qualname__} defines __new__"
    if find_attribute(cls, "__post_init__") is not None:
        return f"the dataclass {cls.__qualname__} defines __post_init__"
    init = cls.__init__
    if not isinstance(init, types.FunctionType):
        return f"the class {cls.__qualname__} has no __init__ written in Python"
    frozen = dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen
    if cls.__setattr__ is not object.__setattr__ and not frozen:
        return f"the class {cls.__qualname__} defines __setattr__"
    signature = inspect.signature(init, follow_wrapped=False)
    parameters = list(signature.parameters.values())
    if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in parameters):
        return f"the __init__ of {cls.__qualname__} takes *args or **kwargs"
    if dataclasses.is_dataclass(cls) and _generated_init(cls):
        fields = {f.name: f.name for f in dataclasses.fields(cls) if f.init}
    else:
        fields = _stored_parameters(init, cls)
        if isinstance(fields, str):
            return fields
    for name in fields:
        found = find_attribute(cls, name)
        value = found[1] if found is not None else None
        slot = isinstance(value, types.MemberDescriptorType)  # a __slots__ entry
        if found is not None and is_data_descriptor(value) and not slot:
            return (
                f"the attribute '{name}' of {cls.__qualname__} is a property or another "
                "descriptor, which runs code when it is stored"
            )
        if name in _SPECIAL_ATTRIBUTES:
            return f"the __init__ of {cls.__qualname__} stores into '{name}'"
    return RecordLayout(cls, fields, signature)


def _generated_init(cls: type) -> bool:
    """Whether ``cls.__init__`` is the one ``@dataclass`` wrote (no source file)."""
    code = cls.__init__.__code__
    return code.co_filename.startswith("<") and cls.__dataclass_params__.init


def _stored_parameters(init: types.FunctionType, cls: type) -> dict[str, str] | str:
    """``{attribute: parameter}`` when every statement of ``init`` is ``self.a = p`` (a
    parameter, each stored as it is); else the first statement that is not, in words."""
    try:
        lines, first = source_lines(init.__code__)
    except (OSError, TypeError):
        return f"the source of {cls.__qualname__}.__init__ is not available"
    tree = ast.parse(textwrap.dedent("".join(lines))).body[0]
    if not isinstance(tree, ast.FunctionDef) or not tree.args.args:
        return f"{cls.__qualname__}.__init__ is not a plain 'def' taking self"
    params = [a.arg for a in (*tree.args.posonlyargs, *tree.args.args, *tree.args.kwonlyargs)]
    self_name, others = params[0], set(params[1:])
    fields: dict[str, str] = {}
    body = tree.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    for stmt in body:
        target = (
            stmt.targets[0] if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 else None
        )
        if (
            isinstance(target, ast.Attribute)
            and isinstance(target.value, ast.Name)
            and target.value.id == self_name
            and isinstance(stmt.value, ast.Name)
            and stmt.value.id in others
        ):
            fields[target.attr] = stmt.value.id
            continue
        if isinstance(stmt, ast.Pass):
            continue
        where = f"{init.__code__.co_filename}:{stmt.lineno + first - 1}"
        return (
            f"{cls.__qualname__}.__init__ does more than store its parameters into "
            f"attributes ('{ast.unparse(stmt)}' at {where}); an object made inside the "
            "differentiated function must be built by an __init__ whose statements are all "
            "'self.name = parameter' (or be a dataclass without __post_init__)"
        )
    return fields


# Binary operators: (method, reflected method, in-place method).
BINARY_METHODS = {
    "Add": ("__add__", "__radd__", "__iadd__"),
    "Sub": ("__sub__", "__rsub__", "__isub__"),
    "Mult": ("__mul__", "__rmul__", "__imul__"),
    "Div": ("__truediv__", "__rtruediv__", "__itruediv__"),
    "FloorDiv": ("__floordiv__", "__rfloordiv__", "__ifloordiv__"),
    "Mod": ("__mod__", "__rmod__", "__imod__"),
    "Pow": ("__pow__", "__rpow__", "__ipow__"),
    "MatMult": ("__matmul__", "__rmatmul__", "__imatmul__"),
}
UNARY_METHODS = {"USub": "__neg__", "UAdd": "__pos__"}


def mentions_not_implemented(func: types.FunctionType) -> bool:
    """Whether ``func`` may return ``NotImplemented`` (Python then tries the other operand)."""
    return "NotImplemented" in func.__code__.co_names


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


@dataclass(frozen=True)
class TheClass:
    """What a name holds when it holds a user class itself (a classmethod's ``cls``)."""

    cls: type


def class_of_atom(atom, classes: dict[str, type], fn) -> type | TheClass | None:
    """The user class of the object ``atom`` holds, where it is known (``TheClass`` for
    a user class itself, reached through a name the function binds)."""
    from .parse import is_missing
    from .resolve import resolve_static

    if getattr(atom, "ad_object", None) is not None:
        return TheClass(atom.ad_object)
    if isinstance(atom, gast.Name):
        if atom.id in classes:
            return classes[atom.id]
        if atom.id in fn.source_of or atom.id in fn.params:
            return None
        obj = fn.parsed.lookup(atom.id)  # a global object
    elif getattr(atom, "ad_static", False):
        obj = resolve_static(atom, fn)
    else:
        return None
    if isinstance(obj, type):
        return TheClass(obj) if is_user_class(obj) else None
    if is_missing(obj) or isinstance(obj, (types.ModuleType, types.FunctionType)):
        return None
    return type(obj) if is_user_class(type(obj)) else None


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


def _changed_attributes(func: object) -> list[str]:
    """The attributes of its first parameter (``self``) the method ``func`` assigns."""
    try:
        lines, _ = source_lines(func.__code__)
        tree = ast.parse(textwrap.dedent("".join(lines))).body[0]
    except (AttributeError, OSError, TypeError, SyntaxError, IndexError):
        return []
    if not isinstance(tree, ast.FunctionDef) or not tree.args.args:
        return []
    receiver = tree.args.args[0].arg
    changed = []
    for node in ast.walk(tree):
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        for target in (
            targets if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)) else []
        ):
            if (
                isinstance(target, ast.Attribute)
                and isinstance(target.value, ast.Name)
                and target.value.id == receiver
                and target.attr not in changed
            ):
                changed.append(target.attr)
    return changed


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


def _is_tree_helper(primitive: object) -> bool:
    """``tree_leaves`` and the primitives of a lowered ``tree_map`` (``runtime/trees.py``):
    they take dataclass, named tuple and registered objects apart as trees."""
    from . import pytree

    helpers = (
        pytree.tree_leaves,
        runtime.tree_structure,
        runtime.tree_rebuilt,
        runtime.tree_leaves_like,
    )
    return any(primitive is helper for helper in helpers)


def _unpacks_namedtuple(call: gast.Call, context) -> bool:
    """Whether ``call`` is normalize's ``runtime.unpacked(t, n)`` of a named tuple ``t``
    (``a, b = t``): the tuple's items, read as Python iterates a tuple."""
    if getattr(call, "ad_runtime", None) is not runtime.unpacked or not call.args:
        return False
    whole = call.args[0]
    return isinstance(whole, gast.Name) and _is_namedtuple_class(context.class_of(whole))


@dataclass
class _Context:
    op: object
    fn: object
    classes: dict
    records: set
    # names of ``super()`` proxies: (class, receiver atom, its class); of objects whose
    # construction is not followed: (None, None, class)
    proxies: dict
    ops: list = dataclasses.field(default_factory=list)  # every op (for the user's words)

    def class_of(self, atom) -> type | None:
        return class_of_atom(atom, self.classes, self.fn)

    def error_text(self, atom, cls: type, what: str) -> str:
        from .dispatch import user_name

        name = user_name(atom.id, self.fn, self.ops) if isinstance(atom, gast.Name) else "it"
        what_it_is = (
            f"the class {cls.cls.__qualname__} itself"
            if isinstance(cls, TheClass)
            else f"an instance of the class {cls.__qualname__}"
        )
        return f"cannot differentiate this operation: '{name}' is {what_it_is}, and {what}"

    def refuse_objects(self, atoms: list) -> None:
        """An operation with no rule for objects, given one: refused if it is active."""
        for atom in atoms:
            cls = self.class_of(atom) if isinstance(atom, gast.Name) else None
            if cls is not None and self.op.callee in (
                runtime.enter_context,
                runtime.exit_context,
            ):
                self.op.refusal = self.with_refusal(atom, cls)
                return
            if cls is not None:
                from .emit import expression_source

                self.op.refusal = self.error_text(
                    atom,
                    cls,
                    f"'{expression_source(self.op.stmt.value)}' is not a method, property or "
                    "operator method of that class written in Python (nor an attribute "
                    "stored on the object)",
                )
                return

    def with_refusal(self, manager, cls) -> str:
        """``with m as v:`` where ``m`` (an object of a user class) depends on the
        differentiated argument: what its ``__enter__``/``__exit__`` do is not followed."""
        from .dispatch import user_name

        what = user_name(manager.id, self.fn, self.ops)
        return (
            f"cannot differentiate 'with {what}': the context manager depends on the "
            f"differentiated argument, and its class {cls.__qualname__}'s __enter__ and "
            "__exit__ run as written in the forward sweep (what they do with the value, or "
            "return from it, is not differentiated); read the value before the 'with', or "
            "give the manager values that are not differentiated"
        )

    def user_call(self, func, args: list, keywords: list, cls: type, name: str):
        """A ``USER_CALL`` of ``func`` with ``args`` (the receiver first)."""
        from .ops import USER_CALL, Op
        from .resolve import bind_arguments

        inputs = bind_arguments(func, args, keywords, self.fn, self.op.stmt)
        op = Op(self.op.stmt, USER_CALL, self.op.target, callee=func, inputs=inputs, pure=False)
        op.call_args, op.call_keywords = list(args), list(keywords)
        op.lookups = dependencies_of_lookup(cls, name)
        return op

    def access_refusal(self, atom, cls: type) -> bool:
        reason = plain_attribute_access(cls)
        if reason is not None:
            self.op.refusal = self.error_text(atom, cls, f"{reason}, which is not followed")
        return reason is not None

    # -- calls ----------------------------------------------------------------------------
    def call(self, call: gast.Call):
        func = call.func
        owner = func.value if isinstance(func, gast.Attribute) else None
        if isinstance(owner, gast.Name) and owner.id in self.proxies:
            start, receiver, cls = self.proxies[owner.id]
            if start is None:
                self.refuse_unfollowed(owner, cls, func.attr, call=True)
                return None
            return self.super_method_call(call, start, receiver, cls, func.attr)  # super().m()
        if isinstance(func, gast.Attribute) and not getattr(func, "ad_static", False):
            cls = self.class_of(func.value)
            if cls is not None:
                return self.method_call(call, func.value, cls, func.attr)
        elif getattr(func, "ad_static", False) or (
            isinstance(func, gast.Name) and func.id not in self.fn.source_of
        ):
            resolved = self.static_call(call)
            if resolved is not None:
                return resolved
        if isinstance(func, gast.Name):
            cls = self.class_of(func)
            if cls is not None:
                return self.operator_method(
                    func, cls, "__call__", [func, *call.args], call.keywords
                )
        if self.op.rule is not None and _is_tree_helper(self.op.rule.primitive):
            return None  # tree_leaves(model): its adjoint takes the object's fields apart
        self.refuse_objects([*call.args, *(kw.value for kw in call.keywords)])
        return None

    def static_call(self, call: gast.Call):
        """``MODEL.predict(x)``, ``Model.create(x)`` (a classmethod) and ``MODEL(x)`` of a
        global object: the method's function with the object (or class) first."""
        from .ops import OPAQUE
        from .resolve import is_user_function

        if self.op.form != OPAQUE:
            return None
        callee = self.op.callee
        func = call.func
        if isinstance(callee, types.MethodType) and is_user_function(callee.__func__):
            if not isinstance(func, gast.Attribute):
                return None
            owner = callee.__self__
            cls = owner if isinstance(owner, type) else type(owner)
            op = self.user_call(
                callee.__func__, [func.value, *call.args], call.keywords, cls, func.attr
            )
            if not isinstance(owner, type):
                op.class_method_check = (func.value, func.attr)
            return op
        cls = self.class_of(func)
        if cls is not None:
            return self.operator_method(func, cls, "__call__", [func, *call.args], call.keywords)
        return None

    def method_call(self, call: gast.Call, receiver, cls, name: str):
        from .resolve import is_user_function

        if isinstance(cls, TheClass):
            return self.class_call(call, receiver, cls.cls, name)
        if self.access_refusal(receiver, cls):
            return None
        found = find_attribute(cls, name)
        value = found[1] if found is not None else None
        receivers = [receiver]
        if isinstance(value, staticmethod):
            value, receivers = value.__func__, []
        elif isinstance(value, classmethod):
            value, receivers = value.__func__, [_class_atom(cls, receiver)]
        if found is None and isinstance(cls, type):
            # an attribute stored on the object (a sub-module, ``self.l1(x)``): what it
            # holds is called through the method its class has when the call runs
            from .dispatch import dynamic_op

            return dynamic_op(
                self.op,
                self.fn,
                self.ops,
                receiver,
                list(call.args),
                list(call.keywords),
                "__call__",
                through=name,
            )
        if not is_user_function(value):
            what = f"'{name}" + "' is not a method written in Python"
            self.op.refusal = self.error_text(receiver, cls, what)
            return None
        op = self.user_call(value, [*receivers, *call.args], call.keywords, cls, name)
        if isinstance(receiver, gast.Name) and receiver.id not in self.records:
            op.class_method_check = (receiver, name)
        elif _shadowed_by_field(cls, name):
            self.op.refusal = self.error_text(
                receiver, cls, f"its attribute '{name}' hides the method of that name"
            )
            return None
        return op

    def refuse_unfollowed(self, atom, cls: type, name: str, call: bool) -> None:
        """``obj.name`` or ``obj.name(...)`` on an object made here by a constructor that
        is not followed: refused (if active) with the reason."""
        user_name = self.fn.source_of.get(atom.id, atom.id)
        found = find_attribute(cls, name)
        changed = _changed_attributes(found[1]) if found is not None else []
        change = (
            f"; its method '{name}' changes the object's attribute"
            f"{'s' if len(changed) > 1 else ''} {', '.join(repr(a) for a in changed)} "
            "(objects whose attributes change after construction are not supported)"
            if changed
            else ""
        )
        reason = record_layout(cls)
        self.op.refusal = (
            f"cannot differentiate '{user_name}.{name}{'(...)' if call else ''}': "
            f"'{user_name}' is an instance of the class "
            f"{cls.__qualname__} whose construction is not followed"
            f"{': ' + reason if isinstance(reason, str) else ''}{change}"
        )

    def super_method_call(self, call: gast.Call, start: type, receiver, cls: type, name: str):
        """``super().name(...)`` in a method of ``start`` given an instance of ``cls``: the
        ``name`` found in the classes after ``start`` in ``cls.__mro__``, called on the
        instance (the instance's own attributes are not looked at, as in Python)."""
        from .resolve import is_user_function

        if self.access_refusal(receiver, cls):
            return None
        after = cls.__mro__[cls.__mro__.index(start) + 1 :]
        owner = next((k for k in after if name in vars(k)), None)
        value = vars(owner)[name] if owner is not None else None
        receivers = [receiver]
        if isinstance(value, staticmethod):
            value, receivers = value.__func__, []
        elif isinstance(value, classmethod):
            value, receivers = value.__func__, [_class_atom(cls, receiver)]
        if not is_user_function(value):
            self.op.refusal = self.error_text(
                receiver,
                cls,
                f"'super().{name}' (after {start.__qualname__} in its MRO) is not a method "
                "written in Python",
            )
            return None
        return self.user_call(value, [*receivers, *call.args], call.keywords, cls, name)

    def class_call(self, call: gast.Call, receiver, cls: type, name: str):
        """``cls.name(...)`` on a name holding the class itself: a static method or a
        plain function gets the arguments as they are, a class method the class first."""
        from .resolve import is_user_function

        found = find_attribute(cls, name)
        value = found[1] if found is not None else None
        receivers = []
        if isinstance(value, staticmethod):
            value = value.__func__
        elif isinstance(value, classmethod):
            value, receivers = value.__func__, [_class_atom(cls, receiver)]
        if not is_user_function(value):
            self.op.refusal = self.error_text(
                receiver,
                TheClass(cls),
                f"'{name}' is not a function of that class written in Python",
            )
            return None
        return self.user_call(value, [*receivers, *call.args], call.keywords, cls, name)

    def operator_method(self, receiver, cls, name: str, args: list, keywords=()):
        """``type(receiver).name(*args)``: looked up on the class, as Python does."""
        from .resolve import is_user_function

        if isinstance(cls, TheClass):
            if name == "__call__":  # cls(...): a constructor
                return self.constructor(cls.cls, args[1:], list(keywords))
            self.op.refusal = self.error_text(
                receiver, cls, "operators on classes are not differentiated"
            )
            return None
        if self.access_refusal(receiver, cls):
            return None
        found = find_attribute(cls, name)
        func = found[1] if found is not None else None
        if not is_user_function(func):
            self.op.refusal = self.error_text(
                receiver, cls, f"it has no method {name} written in Python"
            )
            return None
        if name != "__call__" and mentions_not_implemented(func):
            self.op.refusal = self.error_text(
                receiver,
                cls,
                f"its {name} may return NotImplemented (Python then asks the other "
                "operand), which is not followed",
            )
            return None
        return self.user_call(func, args, list(keywords), cls, name)

    def constructor(self, cls: type, args: list, keywords: list):
        from .resolve import constructor_op

        call = gast.Call(func=gast.Constant(value=None, kind=None), args=args, keywords=keywords)
        gast.copy_location(call, self.op.stmt.value)
        return constructor_op(self.op.stmt, self.op.target, cls, call, self.fn)

    # -- named tuples ---------------------------------------------------------------------
    def namedtuple_read(self, node: gast.Subscript | gast.Attribute):
        """``t[i]`` of a named tuple is a tuple's item (its rule as it stands); ``t.x`` of a
        field ``x`` (the class's own field getter) is ``t[i]`` of its position. Anything
        else on a named tuple (its methods, other attributes) is refused when active."""
        from .resolve import rule_op

        if isinstance(node, gast.Subscript):
            return None
        cls = self.class_of(node.value)
        fields = cls._fields
        getter = find_attribute(cls, node.attr)
        if node.attr not in fields or getter is None or getter[0] not in _namedtuple_bases(cls):
            self.op.refusal = self.error_text(
                node.value, cls, f"'{node.attr}' is not one of its fields {fields}"
            )
            return None
        index = gast.Constant(value=fields.index(node.attr), kind=None)
        return rule_op(
            self.op.stmt, self.op.target, operator.getitem, [node.value, index], {}, self.fn
        )

    # -- attributes -----------------------------------------------------------------------
    def attribute(self, node: gast.Attribute):
        from .ops import FIELD, Op
        from .resolve import is_user_function

        receiver = node.value
        if isinstance(receiver, gast.Name) and receiver.id in self.proxies:
            start, _, unfollowed = self.proxies[receiver.id]
            if start is None:
                self.refuse_unfollowed(receiver, unfollowed, node.attr, call=False)
            return None
        cls = self.class_of(receiver) if isinstance(receiver, gast.Name) else None
        if isinstance(cls, TheClass):
            return None  # a class attribute: a constant, opaque
        if cls is None or self.access_refusal(receiver, cls):
            return None
        name = node.attr
        found = find_attribute(cls, name)
        value = found[1] if found is not None else None
        if isinstance(value, property):
            if is_user_function(value.fget):
                return self.user_call(value.fget, [receiver], [], cls, name)
            self.op.refusal = self.error_text(
                receiver, cls, f"its property '{name}' has no getter written in Python"
            )
            return None
        descriptor = hasattr(type(value), "__get__")
        slot = isinstance(value, types.MemberDescriptorType)  # an entry of __slots__
        if name in _SPECIAL_ATTRIBUTES or (found is not None and descriptor and not slot):
            self.op.refusal = self.error_text(
                receiver, cls, f"'{name}' is not an attribute stored on the object"
            )
            return None
        op = Op(self.op.stmt, FIELD, self.op.target, inputs={"obj": receiver})
        op.attr = name
        op.lookups = dependencies_of_lookup(cls, name)
        return op

    # -- operators ------------------------------------------------------------------------
    def binary(self, node: gast.BinOp):
        left, right = node.left, node.right
        left_class, right_class = self.class_of(left), self.class_of(right)
        if left_class is None and right_class is None:
            return None
        methods = BINARY_METHODS.get(type(node.op).__name__)
        receiver, cls = (left, left_class) if left_class is not None else (right, right_class)
        if methods is None or isinstance(left_class, TheClass) or isinstance(right_class, TheClass):
            self.op.refusal = self.error_text(
                receiver, cls, "this operator is not differentiated on objects"
            )
            return None
        method, reflected, in_place = methods
        mutation = getattr(self.op.stmt, "ad_mutation", None)
        augmented = mutation is not None and mutation.augmented
        if augmented and left_class is not None and find_attribute(left_class, in_place):
            self.op.refusal = self.error_text(
                receiver,
                cls,
                f"its {in_place} (an augmented assignment that may change the object in "
                "place) is not followed; write 'a = a + b'",
            )
            return None
        if left_class is not None:
            if (
                right_class is not None
                and right_class is not left_class
                and issubclass(right_class, left_class)
            ):
                self.op.refusal = self.error_text(
                    right,
                    right_class,
                    f"a subclass on the right may take the operator first ({reflected})",
                )
                return None
            return self.operator_method(left, left_class, method, [left, right])
        number = isinstance(left, gast.Constant) and type(left.value) in (int, float)
        if not number:
            self.op.refusal = self.error_text(
                right,
                right_class,
                f"the left operand is not a number literal; {reflected} is differentiated "
                "only where the left operand is one (write the object on the left)",
            )
            return None
        return self.operator_method(right, right_class, reflected, [right, left])

    def unary(self, node: gast.UnaryOp):
        cls = self.class_of(node.operand)
        if cls is None:
            return None
        method = UNARY_METHODS.get(type(node.op).__name__)
        if method is None:
            self.op.refusal = self.error_text(
                node.operand, cls, "this operator is not differentiated on objects"
            )
            return None
        return self.operator_method(node.operand, cls, method, [node.operand])


def _is_namedtuple_class(cls) -> bool:
    """A named tuple class (``collections.namedtuple``, ``typing.NamedTuple``)."""
    return (
        isinstance(cls, type)
        and issubclass(cls, tuple)
        and isinstance(getattr(cls, "_fields", None), tuple)
    )


def is_plain_namedtuple(cls) -> bool:
    """A named tuple class whose ``__new__`` is the one ``namedtuple`` made: calling it
    builds the tuple of its arguments in field order."""
    if not _is_namedtuple_class(cls):
        return False
    found = find_attribute(cls, "__new__")
    return found is not None and found[0] in _namedtuple_bases(cls)


def _namedtuple_bases(cls: type) -> list[type]:
    """The classes of ``cls``'s MRO that ``namedtuple`` made (their field getters are the
    tuple's items; a subclass may define a property of the same name)."""
    return [c for c in cls.__mro__ if "_make" in vars(c) and "_fields" in vars(c)]


def _class_atom(cls: type, like) -> gast.expr:
    """An operand that stands for the class ``cls`` itself (a classmethod's ``cls``):
    ``reverse`` binds it to the class object."""
    atom = gast.Constant(value=None, kind=None)
    atom.ad_object = cls
    gast.copy_location(atom, like)
    return atom


def _shadowed_by_field(cls: type, name: str) -> bool:
    layout = record_layout(cls)
    return isinstance(layout, RecordLayout) and name in layout.fields
