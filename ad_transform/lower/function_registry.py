"""Compile and register lifted functions and specialisations.

Lifted inner functions and specialisations are real function objects, compiled from
their trees in the user's file (``compile_lifted``) and registered by function object;
``parse.parse_function`` takes their tree from ``lifted_entry(func)``. Also the run-time
checks their generated code calls (``check_default_function``, ``check_function_defined``)
and the ``NOT_GIVEN`` marker of defaults computed by the definer."""

from __future__ import annotations

import ast
import threading
import types
import weakref
from dataclasses import dataclass, field

import gast

from ..nodes import clone, subnodes
from ..rules.registry import register_nondifferentiable
from .function_values import FunctionValue, _assign, _locate, _name


@dataclass
class LiftedEntry:
    """What ``parse_function`` needs of a lifted function or a specialisation."""

    tree: gast.FunctionDef
    filename: str
    file_lines: list[str]
    closure: dict[str, types.CellType]
    function_values: dict[str, FunctionValue] = field(default_factory=dict)
    lowered: bool = False  # the tree is final (a specialisation): no lowering again
    # defaults computed by the definer: (parameter, keyword, snapshot name, expression)
    dynamic_defaults: list = field(default_factory=list)


_REGISTRY: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # function -> entry


_BUILDING = threading.local()  # .active: lowering a function to specialise it


# outer function -> (line, column) of an inner def -> its lifted function
_LIFTED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


# callee -> key of the bound parameters -> (cell, name) of its specialisation
_SPECIALISED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def lifted_entry(func: types.FunctionType) -> LiftedEntry | None:
    """The registry entry of a lifted function or specialisation, or None."""
    return _REGISTRY.get(func) if isinstance(func, types.FunctionType) else None


def _definition_key(value: FunctionValue) -> tuple:
    entry = lifted_entry(value.obj) if _cell_full(value.cell) else None
    if entry is None:
        return (None,)
    return (entry.tree.lineno, entry.tree.col_offset)


def _cell_full(cell: types.CellType) -> bool:
    try:
        _ = cell.cell_contents
    except ValueError:
        return False
    return True


def _cell_holds(cell: types.CellType, obj: object) -> bool:
    return _cell_full(cell) and cell.cell_contents is obj


def _plain_calls(tree: gast.FunctionDef, values: dict, own: set[str]) -> gast.FunctionDef:
    """The tree a lifted function's object runs when it is called as a plain function
    (not differentiated: a call whose result is not needed): its calls of the inner
    functions it reaches pass their captures, which the lowering adds otherwise (the
    tree kept in the registry is lowered when it is parsed)."""
    plain = clone(tree)
    for node in subnodes(plain):
        if not (isinstance(node, gast.Call) and isinstance(node.func, gast.Name)):
            continue
        value = values.get(node.func.id)
        if value is None or node.func.id in own - {tree.name} or not value.captures:
            continue
        if value.prefix or value.prefix_keywords or value.vectorized or value.table:
            continue
        present = {k.arg for k in node.keywords}
        node.keywords += [
            gast.keyword(arg=k, value=_name(n, node)) for k, n in value.captures if k not in present
        ]
    return plain


class _NotGiven:
    """The default of a parameter whose default value is passed by the caller."""

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN = _NotGiven()


def _with_default_marker(tree: gast.FunctionDef, dynamic, closure: dict) -> dict:
    """Start ``tree`` with ``if k is not_given: k = k_default`` for each default
    computed by the caller; the closure that gives it the marker."""
    taken = {n.id for n in subnodes(tree) if isinstance(n, gast.Name)} | set(closure)
    marker = "not_given"
    while marker in taken:
        marker += "_"
    checks = []
    for parameter, keyword, _, _ in dynamic:
        test = gast.Compare(
            left=_name(parameter, tree), ops=[gast.Is()], comparators=[_name(marker, tree)]
        )
        replace = _assign(parameter, _name(keyword, tree))
        checks.append(_locate(gast.If(test=test, body=[replace], orelse=[]), tree.body[0]))
    first = tree.body[0]
    docstring = isinstance(first, gast.Expr) and isinstance(first.value, gast.Constant)
    tree.body[int(docstring) : int(docstring)] = checks
    args = tree.args
    for container in (args.defaults, args.kw_defaults):
        for index, default in enumerate(container):
            if default is not None and not isinstance(default, gast.Constant):
                container[index] = _name(marker, default)
    return {**closure, marker: types.CellType(NOT_GIVEN)}


def compile_lifted(
    tree: gast.FunctionDef,
    parsed,
    globals_: dict,
    closure: dict,
    defaults: tuple,
    compiled: gast.FunctionDef | None = None,
    function_values: dict | None = None,
    lowered: bool = False,
) -> types.FunctionType:
    """A function made by lowering (a lifted inner function, a specialisation, a field
    function), compiled in ``parsed``'s file and registered so that ``parse_function``
    takes its tree (``tree``) from the registry. ``compiled`` is the tree to compile when
    it differs (the plain calls of a lifted function); ``defaults`` is
    ``(positional defaults, keyword-only defaults)``."""
    argdefs, kwdefaults = defaults
    func = _compile(
        compiled if compiled is not None else tree,
        parsed.filename,
        globals_,
        closure,
        argdefs,
        kwdefaults,
    )
    _REGISTRY[func] = LiftedEntry(
        tree,
        parsed.filename,
        parsed.file_lines,
        closure,
        dict(function_values or {}),
        lowered=lowered,
    )
    return func


def _compile(tree, filename, globals_, closure, argdefs, kwdefaults) -> types.FunctionType:
    """A function object from a lifted tree; its free names come from ``closure``."""
    definition = gast.gast_to_ast(clone(tree))
    names = sorted(closure)
    factory = ast.FunctionDef(
        name="__ad_lift__",
        args=ast.arguments(
            posonlyargs=[],
            args=[ast.arg(arg=n) for n in names],
            vararg=None,
            kwonlyargs=[],
            kw_defaults=[],
            kwarg=None,
            defaults=[],
        ),
        body=[definition, ast.Return(value=ast.Name(id=tree.name, ctx=ast.Load()))],
        decorator_list=[],
        returns=None,
        **({"type_params": []} if "type_params" in ast.FunctionDef._fields else {}),
    )
    factory.lineno = getattr(tree, "lineno", 1)
    module = ast.Module(body=[factory], type_ignores=[])
    ast.fix_missing_locations(module)
    for node in ast.walk(module):  # only lines matter (tracebacks); keep ranges valid
        if hasattr(node, "lineno"):
            node.end_lineno, node.end_col_offset = node.lineno, node.col_offset
    code = compile(module, filename, "exec")
    factory_code = next(c for c in code.co_consts if isinstance(c, types.CodeType))
    inner = next(
        c
        for c in factory_code.co_consts
        if isinstance(c, types.CodeType) and c.co_name == tree.name
    )
    cells = tuple(closure[n] for n in inner.co_freevars)
    func = types.FunctionType(inner, globals_, tree.name, argdefs, cells)
    func.__kwdefaults__ = kwdefaults
    func.__qualname__ = tree.name
    return func


def check_default_function(value: object, default: object, name: str) -> None:
    """Raise when a parameter whose default is a function was given another function: the
    generated code was specialised on the default."""
    if value is not default:
        from ..errors import ADTransformError

        raise ADTransformError(
            f"the parameter '{name}' holds {getattr(value, '__name__', repr(value))}, not its "
            f"default {getattr(default, '__name__', repr(default))}: the derivative was "
            "generated for the default; pass the function from a differentiated caller (which "
            "specialises the call) or define a function that calls it by name"
        )


def _type_params() -> dict:
    return {"type_params": []} if "type_params" in gast.FunctionDef._fields else {}


def check_function_defined(marker: bool) -> None:
    """Reads the marker of an inner function's definition (the read is what raises)."""


register_nondifferentiable(check_default_function, check_function_defined, pure=False)
