"""User classes as the transformer sees them (``objects.py`` resolves the operations on
their instances): which classes are the user's, an attribute found in a class's MRO, data
descriptors, the record layout of an instance (the fields ``__init__`` stores), the
operator methods, named tuples, and the class of the object an atom holds
(:func:`class_of_atom`; :class:`TheClass` for a name holding a class itself)."""

from __future__ import annotations

import abc
import ast
import dataclasses
import inspect
import textwrap
import types
from dataclasses import dataclass

import gast

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
