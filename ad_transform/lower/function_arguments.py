"""Helpers called with a function argument: a call ``h(fn, v)`` of a user function calls
a specialisation ``h_fn(v, *, carried)`` made once per (``h``, parameter, function), and a
parameter whose default is a function is specialised on the default behind a run-time
check (part of the functions pass, ``lower/functions.py``)."""

from __future__ import annotations

import ast
import inspect
import types
from typing import TYPE_CHECKING

import gast

from ..nodes import clone, subnodes
from ..transform_memo import source_lines
from .function_registry import (
    _BUILDING,
    _SPECIALISED,
    _cell_full,
    check_default_function,
    compile_lifted,
    lifted_entry,
)
from .function_values import (
    FunctionValue,
    _display,
    _is_function,
    _is_user_function,
    _locate,
    _name,
    _own_nodes,
    _param,
    _parameters,
)

if TYPE_CHECKING:
    from .functions import _Scope


class FunctionArguments:
    """Methods of ``functions._Scope``: specialisation on function arguments and defaults."""

    # -- parameters whose default is a function -------------------------------------------
    def default_functions(self) -> list[gast.stmt]:
        """``def f(a, red=np.sum)``: calls of ``red`` call the default, which a check at
        the start of the body makes sure the caller did not replace (the checks, to put
        first). A differentiated caller calls a specialisation instead (``specialised``),
        made from the function lowered without these."""
        if getattr(_BUILDING, "active", False):
            return []
        func = self.parsed.func
        try:
            signature = inspect.signature(func, follow_wrapped=False)
        except (TypeError, ValueError):
            return
        called = {
            n.func.id
            for n in _own_nodes(self.tree.body)
            if isinstance(n, gast.Call) and isinstance(n.func, gast.Name)
        }
        checks = []
        for parameter in signature.parameters.values():
            default = parameter.default
            name = parameter.name
            if name not in called or name in self.values or not _is_function(default):
                continue
            if name not in _parameters(self.tree.args) or self.binding_count(name):
                continue
            static = self.static_expression(default)
            self.values[name] = FunctionValue(
                _display(static),
                types.CellType(default),
                (),
                f"the default of '{name}'",
                static=static,
            )
            check = self.reference("check_default_function", check_default_function)
            call = gast.Call(
                func=_name(check, self.tree),
                args=[
                    _name(name, self.tree),
                    clone(static),
                    gast.Constant(value=name, kind=None),
                ],
                keywords=[],
            )
            checks.append(_locate(gast.Expr(value=call), self.tree.body[0]))
        return checks

    def static_callee(self, func: gast.expr) -> object:
        """The function a call's target names, if it is not one of this scope's locals."""
        from ..parse import is_missing

        chain = []
        root = func
        while isinstance(root, gast.Attribute):
            chain.append(root.attr)
            root = root.value
        if not isinstance(root, gast.Name) or root.id in self.locals:
            return None
        obj = self.parsed.lookup(root.id)
        for attr in reversed(chain):
            obj = getattr(obj, attr, None) if not is_missing(obj) else obj
        return None if is_missing(obj) else obj

    # -- specialisation -------------------------------------------------------------------
    def specialised(self, node: gast.Call, callee: object, target: gast.expr) -> gast.Call:
        """``h(fn, v)`` with ``fn`` a function value: a call of ``h`` specialised on it."""
        if not _is_user_function(callee):
            return node
        if any(isinstance(a, gast.Starred) for a in node.args) or any(
            k.arg is None for k in node.keywords
        ):
            return node
        try:
            signature = inspect.signature(callee, follow_wrapped=False)
            bound = signature.bind(*node.args, **{k.arg: k.value for k in node.keywords})
        except (TypeError, ValueError):
            return node
        chosen = {}
        for parameter, argument in bound.arguments.items():
            value = self.function_argument(argument, callee, parameter)
            if value is not None:
                chosen[parameter] = value
        for parameter in signature.parameters.values():  # defaults that are functions
            default = parameter.default
            if parameter.name in bound.arguments or not _is_function(default):
                continue
            if _calls_parameter(callee, parameter.name):
                chosen[parameter.name] = FunctionValue(
                    getattr(default, "__name__", parameter.name),
                    types.CellType(default),
                    (),
                    f"the default of '{parameter.name}'",
                )
        if not chosen:
            return node
        name, captures = specialisation(self, callee, chosen, node)
        keep = {id(a) for p, a in bound.arguments.items() if p not in chosen}
        node.func = _name(name, target)
        node.args = [a for a in node.args if id(a) in keep]
        node.keywords = [k for k in node.keywords if id(k.value) in keep]
        node.keywords += [gast.keyword(arg=k, value=_name(n, node)) for k, n in captures]
        return node

    def function_argument(self, argument, callee, parameter: str) -> FunctionValue | None:
        """The function value ``argument`` holds when ``callee`` calls its ``parameter``."""
        if isinstance(argument, gast.Name) and argument.id in self.values:
            value = self.values[argument.id]
            if value.rebinds:
                raise self.error(
                    f"unsupported construct: {value.label} rebinds "
                    f"'{', '.join(value.rebinds)}' with 'nonlocal' and is passed to a function",
                    argument,
                )
            if value.table is not None:
                raise self.error(
                    f"unsupported construct: {value.label} passed to a function (pass the "
                    "function taken from it with a constant key)",
                    argument,
                )
            return value
        if not _calls_parameter(callee, parameter):
            return None
        obj = self.static_callee(argument)
        if obj is not None:
            self.refuse_special(obj, argument, f"{callee.__name__}(...) calls")
        if obj is None or not _is_function(obj):
            return None
        self.depend_on(argument, obj)
        label = _display(argument)
        return FunctionValue(label, types.CellType(obj), (), label)

    def refuse_special(self, obj: object, node: gast.expr, where: str) -> None:
        """A callable whose code is not differentiated (a derivative made by ad_transform,
        a cache, a partial object, a callable object) keeps the refusal of issue 11."""
        from ..callables import derivative_origin, higher_order_error_text, special_description

        if derivative_origin(obj) is not None:
            raise self.error(f"cannot differentiate a call of {higher_order_error_text(obj)}", node)
        special = special_description(obj)
        if special is not None:
            raise self.error(
                f"cannot differentiate: {where} {special}; ad_transform differentiates "
                "functions defined with 'def', lambdas, functools.partial written in the "
                "function, and primitives with an adjoint rule",
                node,
            )

    def depend_on(self, node: gast.expr, obj: object) -> None:
        """A specialisation made for the function a global or closure name holds is stale
        once the name is rebound (names rooted at a module are not followed, as for calls)."""
        if not isinstance(node, gast.Name):
            return
        if node.id in self.parsed.closure:
            self.context.dependencies.append((self.parsed.closure[node.id], node.id, obj))
        elif node.id in self.parsed.globals:
            self.context.dependencies.append((self.parsed.globals, node.id, obj))


def _calls_parameter(callee: types.FunctionType, parameter: str) -> bool:
    """Whether ``callee`` calls its ``parameter`` or passes it to a call (read from its
    source: ``callee`` may be the function being lowered)."""
    entry = lifted_entry(callee)
    if entry is not None:
        nodes = subnodes(entry.tree.body)
    else:
        import textwrap

        try:
            source = textwrap.dedent("".join(source_lines(callee.__code__)[0]))
            nodes = list(ast.walk(ast.parse(source)))
        except (OSError, TypeError, SyntaxError):
            return False

    def is_parameter(node) -> bool:
        return type(node).__name__ == "Name" and node.id == parameter

    for node in nodes:
        if type(node).__name__ == "Call":
            if is_parameter(node.func) or any(is_parameter(a) for a in node.args):
                return True
            if any(is_parameter(k.value) for k in node.keywords):
                return True
    return False


def specialisation(scope: _Scope, callee, chosen: dict, call: gast.Call):
    """The name (in ``scope``) of ``callee`` specialised on the function values ``chosen``
    (parameter -> value), and the captures its call passes, as ``(keyword, name)``."""
    from ..parse import parse_function

    key = tuple(sorted((p, _identity(v)) for p, v in chosen.items()))
    known = _SPECIALISED.setdefault(callee, {})
    base = callee.__name__ + "_" + "_".join(_short(v) for v in chosen.values())
    if key in known:
        cell, keywords = known[key]
    else:
        _BUILDING.active, was = True, getattr(_BUILDING, "active", False)
        try:
            parsed = parse_function(callee)  # without its defaults specialised
        finally:
            _BUILDING.active = was
        tree = clone(parsed.tree)
        taken = {n.id for n in subnodes(tree) if isinstance(n, gast.Name)} | set(
            _parameters(tree.args)
        )
        keywords = []
        values = {}
        closure = dict(parsed.closure)

        def parameter_for(base: str) -> str:
            fresh = base
            while fresh in taken:
                fresh += "_"
            taken.add(fresh)
            keywords.append(fresh)
            return fresh

        def passed(node: gast.expr) -> gast.expr:
            if isinstance(node, gast.Name):
                return _name(parameter_for(node.id), tree)
            return clone(node)

        for parameter, value in chosen.items():
            inner = tuple((keyword, parameter_for(keyword)) for keyword, _ in value.captures)
            prefix = tuple(passed(a) for a in value.prefix)
            prefix_keywords = tuple((k, passed(v)) for k, v in value.prefix_keywords)
            holder = value.name.split(".")[-1]
            while holder in taken:
                holder += "_"
            taken.add(holder)
            closure[holder] = value.cell
            values[parameter] = FunctionValue(
                holder,
                value.cell,
                inner,
                value.label,
                prefix=prefix,
                prefix_keywords=prefix_keywords,
                vectorized=value.vectorized,
            )
        _remove_parameters(tree.args, set(chosen))
        for keyword in keywords:
            tree.args.kwonlyargs.append(_param(keyword, tree))
            tree.args.kw_defaults.append(None)
        tree.name = base
        cell = types.CellType()
        known[key] = (cell, keywords)
        try:
            _lower_specialisation(parsed, tree, closure, values)
            argdefs, kwdefaults = _remaining_defaults(callee, set(chosen))
            func = compile_lifted(
                tree, parsed, callee.__globals__, closure, (argdefs, kwdefaults), lowered=True
            )
        except BaseException:
            del known[key]
            raise
        cell.cell_contents = func
    name = _bind_cell(scope, base, cell)
    # what each chosen value carries, in the order of the specialisation's keywords
    names = [n for v in chosen.values() for n in _carried(v)]
    return name, list(zip(keywords, names))


def _carried(value: FunctionValue) -> list[str]:
    """The names of the caller's scope a function value carries: captures, then the
    names among the arguments a partial bound."""
    names = [n for _, n in value.captures]
    names += [a.id for a in value.prefix if isinstance(a, gast.Name)]
    names += [v.id for _, v in value.prefix_keywords if isinstance(v, gast.Name)]
    return names


def _identity(value: FunctionValue) -> tuple:
    """What a specialisation on ``value`` depends on: the function, what it captures and
    binds (the constants bound by a partial are part of the specialisation's code)."""
    obj = id(value.obj) if _cell_full(value.cell) else id(value.cell)
    bound = tuple(
        ("name",) if isinstance(a, gast.Name) else ("constant", repr(a.value)) for a in value.prefix
    )
    keywords = tuple(
        (k, "name" if isinstance(v, gast.Name) else repr(v.value)) for k, v in value.prefix_keywords
    )
    return (obj, tuple(k for k, _ in value.captures), bound, keywords, value.vectorized)


def _bind_cell(scope: _Scope, base: str, cell: types.CellType) -> str:
    for name, existing in {**scope.parsed.closure, **scope.context.cells}.items():
        if existing is cell:
            return name
    name = scope.context.names.fresh(base)
    scope.context.bind_cell(name, cell)
    return name


def _short(value: FunctionValue) -> str:
    name = value.name.rstrip("_")
    return name.split(".")[-1]


def _remove_parameters(args: gast.arguments, removed: set[str]) -> None:
    positional = args.posonlyargs + args.args
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    kept = [(a, d) for a, d in zip(positional, defaults) if a.id not in removed]
    only = {id(a) for a in args.posonlyargs}
    args.posonlyargs = [a for a, _ in kept if id(a) in only]
    args.args = [a for a, _ in kept if id(a) not in only]
    first_default = next((i for i, (_, d) in enumerate(kept) if d is not None), len(kept))
    args.defaults = [d for _, d in kept[first_default:]]
    pairs = [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults) if a.id not in removed]
    args.kwonlyargs = [a for a, _ in pairs]
    args.kw_defaults = [d for _, d in pairs]


def _remaining_defaults(callee, removed: set[str]) -> tuple:
    signature = inspect.signature(callee, follow_wrapped=False)
    positional = [
        p
        for p in signature.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name not in removed
    ]
    defaults = [p.default for p in positional if p.default is not p.empty]
    kw = {
        p.name: p.default
        for p in signature.parameters.values()
        if p.kind == p.KEYWORD_ONLY and p.name not in removed and p.default is not p.empty
    }
    return (tuple(defaults) or None), (kw or None)


def _lower_specialisation(parsed, tree, closure: dict, values: dict) -> None:
    """Run this pass on a specialisation's tree, its function parameters bound."""
    import dataclasses

    from ..names import NameAllocator
    from ..nodes import name_ids
    from . import LoweringContext
    from .functions import _Scope

    view = dataclasses.replace(parsed, closure=closure, function_values=values)
    context = LoweringContext(view, tree, NameAllocator(name_ids(tree) | set(closure)))
    _Scope(context, dict(values)).run()
    closure.update(context.cells)
