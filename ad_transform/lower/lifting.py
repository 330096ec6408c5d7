"""Lifting of inner ``def`` and ``lambda`` into functions of their own whose captured
variables are keyword-only parameters (part of the functions pass, ``lower/functions.py``):
finding the inner definitions, their captures (a fixpoint over the inner functions they
call), defaults computed from locals, and ``nonlocal`` variables returned and rebound."""

from __future__ import annotations

import functools
import types

import gast
import numpy as np

from ..errors import ADTransformError
from ..nodes import clone
from .closure_factories import returned_function
from .function_registry import (
    _LIFTED,
    _REGISTRY,
    NOT_GIVEN,
    _cell_full,
    _plain_calls,
    _type_params,
    _with_default_marker,
    compile_lifted,
    lifted_entry,
)
from .function_values import (
    FunctionValue,
    _assign,
    _bound,
    _free,
    _is_function,
    _is_user_function,
    _locate,
    _name,
    _own_nodes,
    _param,
    _parameters,
)


class Lifting:
    """Methods of ``functions._Scope``: inner definitions lifted with their captures."""

    def refuse_nonlocal(self, tree) -> None:
        for node in _own_nodes(tree.body):
            if isinstance(node, gast.Nonlocal) and not (
                tree is not self.tree
                and set(node.names) <= self.locals - set(self.values) - set(self.bound_later)
            ):
                raise self.error(
                    f"unsupported construct: 'nonlocal {', '.join(node.names)}' (an inner "
                    "function that rebinds a variable of the function around it)",
                    node,
                )

    # -- inner definitions --------------------------------------------------------------
    def inner_definitions(self) -> dict[str, tuple[gast.AST, gast.stmt]]:
        """name -> (the def or lambda, its statement), for each function this body defines."""
        found: dict[str, tuple[gast.AST, gast.stmt]] = {}
        for node in _own_nodes(self.tree.body):
            if isinstance(node, gast.FunctionDef) and node is not self.tree:
                found[node.name] = self.checked_definition(node.name, node, node, found)
            elif (
                isinstance(node, gast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], gast.Name)
                and isinstance(node.value, gast.Lambda)
            ):
                name = node.targets[0].id
                found[name] = self.checked_definition(name, node.value, node, found)
            elif self.binds_function_value(node):
                name = node.targets[0].id
                self.checked_definition(name, node.value, node, found)
                self.bound_later.add(name)
        return found

    def binds_function_value(self, node: gast.AST) -> bool:
        """``p = functools.partial(...)``, ``v = np.vectorize(f)``, ``table = {"k": f}``."""
        if not (
            isinstance(node, gast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], gast.Name)
        ):
            return False
        value = node.value
        if isinstance(value, gast.Call):
            maker = self.static_callee(value.func)
            known = maker in (functools.partial, np.vectorize)
            return known or returned_function(maker) is not None
        return self.is_function_table(value)

    def defined_names(self) -> set[str]:
        """Names this body binds to an inner function or a lambda."""
        names = set()
        for node in _own_nodes(self.tree.body):
            if isinstance(node, gast.FunctionDef) and node is not self.tree:
                names.add(node.name)
            elif (
                isinstance(node, gast.Assign)
                and isinstance(node.value, gast.Lambda)
                and isinstance(node.targets[0], gast.Name)
            ):
                names.add(node.targets[0].id)
        return names

    def is_function_table(self, node: gast.expr) -> bool:
        """``{"tanh": np.tanh, "square": lambda t: t * t}``: constant keys, functions."""
        if not isinstance(node, gast.Dict) or not node.keys:
            return False
        if not all(isinstance(k, gast.Constant) for k in node.keys):
            return False
        for value in node.values:
            if isinstance(value, gast.Lambda):
                continue
            if isinstance(value, gast.Name) and (
                value.id in self.defined_names() or value.id in self.values
            ):
                continue
            if isinstance(value, (gast.Name, gast.Attribute)):
                obj = self.static_callee(value)
                if obj is not None and (_is_function(obj) or _is_user_function(obj)):
                    continue
            return False
        return True

    def checked_definition(self, name: str, function, stmt, found: dict):
        if name in found or self.binding_count(name) > 1 or name in _parameters(self.tree.args):
            raise self.error(
                f"unsupported construct: the name '{name}' holds an inner function and is "
                "bound again; give each inner function and lambda a name of its own",
                stmt,
            )
        if isinstance(function, gast.FunctionDef) and function.decorator_list:
            raise self.error(f"unsupported construct: the decorated inner function '{name}'", stmt)
        if isinstance(function, gast.FunctionDef):
            self.refuse_nonlocal(function)
        return function, stmt

    def binding_count(self, name: str) -> int:
        count = 0
        for node in _own_nodes(self.tree.body):
            stored = isinstance(node, gast.Name) and isinstance(node.ctx, gast.Store)
            if (stored and node.id == name) or (
                isinstance(node, gast.FunctionDef) and node.name == name
            ):
                count += 1
        return count

    def lift(self, definitions: dict) -> None:
        """Compile each inner function with its captures as keyword-only parameters."""
        if not definitions:
            return
        captures = self.captures(definitions)
        self.needs = getattr(self, "needs", {})
        for name in definitions:  # the inner functions a call of ``name`` may call
            self.needs[name] = self.reached(name, definitions)
        cells = {name: types.CellType() for name in definitions}
        rebinds = {name: _nonlocal_names(f) for name, (f, _) in definitions.items()}
        for name, (function, stmt) in definitions.items():
            callers = [other for other in self.needs if name in self.needs[other] - {other}]
            if rebinds[name] and (callers or name in _free(function)):
                raise self.error(
                    f"unsupported construct: the inner function '{name}' rebinds "
                    f"'{', '.join(rebinds[name])}' with 'nonlocal' and is called by an inner "
                    "function (only calls from the function that defines it are supported)",
                    stmt,
                )
        dynamic = {}
        for name, (function, stmt) in definitions.items():
            dynamic[name] = self.dynamic_defaults(name, function, stmt, definitions)
        for name, cell in cells.items():
            self.values[name] = FunctionValue(
                name,
                cell,
                tuple((c, c) for c in captures[name])
                + tuple((keyword, snapshot) for _, keyword, snapshot, _ in dynamic[name]),
                f"the inner function '{name}'",
                lifted=True,
                rebinds=rebinds[name],
            )
            self.context.bind_cell(name, cell)
        closure = {**self.parsed.closure, **self.context.cells}
        for name, (function, stmt) in definitions.items():
            cells[name].cell_contents = self.lifted_function(
                name, function, stmt, captures[name], closure, dynamic[name]
            )

    def dynamic_defaults(self, name: str, function, stmt, definitions: dict) -> list[tuple]:
        """Defaults computed from this function's variables (``lambda v, i=i: ...``):
        ``(parameter, keyword, snapshot, expression)`` each. The expression is evaluated
        into ``snapshot`` where the definition runs (Python evaluates defaults there), and
        a call passes it as ``keyword``; the parameter's default is a marker that the
        lifted function replaces with it."""
        args = function.args
        positional = args.posonlyargs + args.args
        pairs = list(zip(positional[len(positional) - len(args.defaults) :], args.defaults))
        pairs += [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None]
        found = []
        taken = _bound(function) | _free(function)
        for parameter, default in pairs:
            try:
                self.static_value(default)
                continue
            except ADTransformError:
                pass
            callers = [o for o in getattr(self, "needs", {}) if name in self.needs[o] - {o}]
            if callers or name in _free(function):
                raise self.error(
                    "unsupported construct: a default value computed from the function's "
                    f"variables in the inner function '{name}', which another inner function "
                    "(or itself) calls",
                    default,
                )
            keyword = f"{parameter.id}_default"
            while keyword in taken:
                keyword += "_"
            taken.add(keyword)
            snapshot = self.fresh(f"{name}_{parameter.id}")
            found.append((parameter.id, keyword, snapshot, default))
        return found

    def default_snapshots(self, name: str) -> list[gast.stmt]:
        """``scaler_k = k``: the defaults of ``name`` computed where it is defined."""
        value = self.values.get(name)
        entry = lifted_entry(value.obj) if value is not None and _cell_full(value.cell) else None
        if entry is None:
            return []
        return [
            _assign(snapshot, self.expression(clone(default)))
            for _, _, snapshot, default in getattr(entry, "dynamic_defaults", [])
        ]

    def reached(self, name: str, definitions: dict) -> set[str]:
        found, todo = {name}, [name]
        while todo:
            function = definitions[todo.pop()][0]
            for other in _free(function) & set(definitions):
                if other not in found:
                    found.add(other)
                    todo.append(other)
        return found

    def captures(self, definitions: dict) -> dict[str, list[str]]:
        """The variables of this function each inner function reads, also through the
        inner functions it calls or passes on (to a fixpoint)."""
        direct, refers = {}, {}
        for name, (function, _) in definitions.items():
            free = _free(function) | set(_nonlocal_names(function))
            refers[name] = free & set(definitions)
            known = {c for v in free & set(self.values) for _, c in self.values[v].captures}
            direct[name] = (free & self.locals) - set(definitions) - set(self.values) | known
        result = {name: set(d) for name, d in direct.items()}
        changed = True
        while changed:
            changed = False
            for name in definitions:
                for other in refers[name]:
                    if not result[other] <= result[name]:
                        result[name] |= result[other]
                        changed = True
        return {name: sorted(result[name]) for name in definitions}

    def lifted_function(
        self, name, function, stmt, captured, closure, dynamic=()
    ) -> types.FunctionType:
        where = (getattr(stmt, "lineno", 0), getattr(stmt, "col_offset", 0), name)
        # the captures are part of the key: a lowering in another context may need others
        key = (*where, tuple(captured), tuple(keyword for _, keyword, _, _ in dynamic))
        known = _LIFTED.setdefault(self.parsed.func, {})
        if key in known and lifted_entry(known[key]) is not None:
            lifted_entry(known[key]).dynamic_defaults = list(dynamic)
            return known[key]
        args = clone(function.args)
        for capture in captured:
            args.kwonlyargs.append(_param(capture, function))
            args.kw_defaults.append(None)
        for _, keyword, _, _ in dynamic:
            args.kwonlyargs.append(_param(keyword, function))
            args.kw_defaults.append(None)
        body = (
            clone(function.body)
            if isinstance(function, gast.FunctionDef)
            else [_locate(gast.Return(value=clone(function.body)), function.body)]
        )
        rebinds = _nonlocal_names(function)
        if rebinds:
            body = _returning_rebound(body, rebinds, function)
        tree = gast.FunctionDef(
            name=name,
            args=args,
            body=body,
            decorator_list=[],
            returns=None,
            type_comment=None,
            **_type_params(),
        )
        gast.copy_location(tree, stmt)
        argdefs, kwdefaults = self.default_values(function, {p for p, *_ in dynamic})
        if dynamic:
            closure = _with_default_marker(tree, dynamic, closure)
        values = {n: v for n, v in self.values.items() if n in _free(function) or n == name}
        plain = _plain_calls(tree, values, _bound(function))
        func = compile_lifted(
            tree,
            self.parsed,
            self.parsed.globals,
            closure,
            (argdefs, kwdefaults),
            compiled=plain,
            function_values=values,
        )
        _REGISTRY[func].dynamic_defaults = list(dynamic)  # this scope's snapshot names
        known[key] = func
        return func

    def default_values(self, function, dynamic: set[str] = frozenset()) -> tuple:
        """The default values of an inner function's parameters: constants and names of
        this function's globals (``np.sum``), evaluated now as Python would at the def;
        the marker for a default computed from the function's variables (``dynamic``)."""
        args = function.args
        positional = args.posonlyargs + args.args
        named = positional[len(positional) - len(args.defaults) :]
        values = [
            NOT_GIVEN if a.id in dynamic else self.static_value(d)
            for a, d in zip(named, args.defaults)
        ]
        kw = {
            a.id: NOT_GIVEN if a.id in dynamic else self.static_value(d)
            for a, d in zip(args.kwonlyargs, args.kw_defaults)
            if d is not None
        }
        return (tuple(values) or None), (kw or None)

    def static_value(self, node: gast.expr) -> object:
        if isinstance(node, gast.Constant):
            return node.value
        chain = []
        root = node
        while isinstance(root, gast.Attribute):
            chain.append(root.attr)
            root = root.value
        if isinstance(root, gast.Name) and root.id not in self.locals:
            value = self.parsed.lookup(root.id)
            try:
                for attr in reversed(chain):
                    value = getattr(value, attr)
            except AttributeError:
                value = None
            from ..parse import is_missing

            if not is_missing(value):
                return value
        raise self.error(
            "unsupported construct: a default value of an inner function computed from the "
            "function's variables (only constants and global names are supported)",
            node,
        )


def _nonlocal_names(function) -> tuple[str, ...]:
    """The names a def declares ``nonlocal`` (in its own body), in order."""
    if not isinstance(function, gast.FunctionDef):
        return ()
    names = []
    for node in _own_nodes(function.body):
        if isinstance(node, gast.Nonlocal):
            names += [n for n in node.names if n not in names]
    return tuple(sorted(names))


def _returning_rebound(body: list, rebinds: tuple[str, ...], like) -> list:
    """The body of a function that rebinds ``rebinds`` with ``nonlocal``, returning their
    values with its result: ``return (result, count)``; the declarations removed."""

    def carried(value: gast.expr | None) -> gast.Tuple:
        result = value if value is not None else gast.Constant(value=None, kind=None)
        return gast.Tuple(elts=[result, *(_name(n, like) for n in rebinds)], ctx=gast.Load())

    def rewrite(stmts: list) -> list:
        out = []
        for stmt in stmts:
            if isinstance(stmt, gast.Nonlocal):
                continue
            if isinstance(stmt, gast.Return):
                stmt.value = _locate(carried(stmt.value), stmt)
            if not isinstance(stmt, gast.FunctionDef):
                for field_name in ("body", "orelse", "finalbody"):
                    inner = getattr(stmt, field_name, None)
                    if isinstance(inner, list) and inner and isinstance(inner[0], gast.stmt):
                        setattr(stmt, field_name, rewrite(inner) or [gast.Pass()])
                for handler in getattr(stmt, "handlers", []):
                    handler.body = rewrite(handler.body) or [gast.Pass()]
                for case in getattr(stmt, "cases", []):
                    case.body = rewrite(case.body) or [gast.Pass()]
            out.append(stmt)
        return out

    body = rewrite(body)
    end = _locate(gast.Return(value=carried(None)), body[-1] if body else like)
    return [*body, end]
