"""Lowering pass: functions as values (inner ``def``, ``lambda``, functions as arguments).

Every function value a differentiated function makes or passes becomes a call of a
plain user function, so that the existing helper-pair machinery differentiates it:

* an inner ``def g(t)`` or ``g = lambda t: ...`` is *lifted*: compiled into a function
  of its own, ``g(t, *, a)``, whose extra keyword-only parameters are the enclosing
  function's variables it reads (its captures). A call ``g(x)`` becomes
  ``g(x, a=a)``: the captures are read when the call runs, which is Python's late
  binding, and an active capture gets its adjoint through the helper pair like any
  argument. Inner functions calling each other (or themselves) pass captures on.
* a call ``h(fn, v)`` of a user function whose argument is a function value (an inner
  function, a lambda, a user or NumPy function) calls a *specialisation*
  ``h_fn(v, *, captures)``: ``h`` with the parameter ``fn`` bound to that function,
  made once per (``h``, parameter, function) and recursive through itself.
* a parameter whose default is a function (``red=np.sum``) is specialised on the
  default, behind a run-time check that the caller did not pass another one.

Lifted functions and specialisations are real function objects (compiled from the
lowered tree in the user's file); ``parse_function`` finds their trees in a registry
rather than in the source. What cannot be followed exactly (a function value stored,
returned or rebound, ``nonlocal``, a decorated inner function) is refused.
"""

from __future__ import annotations

import ast
import inspect
import types
import weakref
from dataclasses import dataclass, field

import gast
import numpy as np

from ..nodes import clone, subnodes
from ..rules.registry import register_nondifferentiable

# -- function values ----------------------------------------------------------------


@dataclass
class FunctionValue:
    """A function known while lowering: a name in scope, its object, its captures.

    ``captures`` are ``(keyword, name)`` pairs: each call passes ``keyword=name``.
    ``cell`` holds the object (filled later for a specialisation being built)."""

    name: str
    cell: types.CellType
    captures: tuple[tuple[str, str], ...] = ()
    label: str = ""
    lifted: bool = False  # an inner function or lambda (never a value of its own)
    inline: bool = False  # a lambda lifted where it is written (defined where it is used)

    @property
    def obj(self) -> object:
        return self.cell.cell_contents


@dataclass
class LiftedEntry:
    """What ``parse_function`` needs of a lifted function or a specialisation."""

    tree: gast.FunctionDef
    filename: str
    file_lines: list[str]
    closure: dict[str, types.CellType]
    function_values: dict[str, FunctionValue] = field(default_factory=dict)
    lowered: bool = False  # the tree is final (a specialisation): no lowering again


_REGISTRY: dict[types.CodeType, LiftedEntry] = {}
# outer function -> (line, column) of an inner def -> its lifted function
_LIFTED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
# callee -> key of the bound parameters -> (cell, name) of its specialisation
_SPECIALISED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def lifted_entry(func: types.FunctionType) -> LiftedEntry | None:
    """The registry entry of a lifted function or specialisation, or None."""
    return _REGISTRY.get(func.__code__)


# Builtins whose function argument is lowered elsewhere (or not at all): never specialised.
_FUNCTION_TAKERS: tuple = ()


def run(context) -> None:
    """Lift the inner functions of ``context.tree`` and rewrite the calls of function values."""
    _Scope(context, dict(getattr(context.parsed, "function_values", {}) or {})).run()


# -- scopes -------------------------------------------------------------------------


def _own_nodes(nodes) -> list[gast.AST]:
    """Nodes of one scope: not inside the bodies of nested functions and lambdas (their
    defaults and decorators are evaluated in this scope and are included)."""
    found = list(nodes) if isinstance(nodes, list) else [nodes]
    result = []
    while found:
        node = found.pop()
        result.append(node)
        if isinstance(node, gast.FunctionDef):
            found.extend(node.args.defaults + [d for d in node.args.kw_defaults if d])
            found.extend(node.decorator_list)
            continue
        if isinstance(node, gast.Lambda):
            found.extend(node.args.defaults + [d for d in node.args.kw_defaults if d])
            continue
        for name in node._fields:
            value = getattr(node, name, None)
            if isinstance(value, list):
                found.extend(v for v in value if isinstance(v, gast.AST))
            elif isinstance(value, gast.AST):
                found.append(value)
    return result


def _parameters(args: gast.arguments) -> list[str]:
    names = [a.id for a in args.posonlyargs + args.args + args.kwonlyargs]
    names += [a.id for a in (args.vararg, args.kwarg) if a is not None]
    return names


def _bound(function: gast.FunctionDef | gast.Lambda) -> set[str]:
    """The names a function binds itself (its locals)."""
    body = function.body if isinstance(function.body, list) else [function.body]
    names = set(_parameters(function.args))
    for node in _own_nodes(body):
        if isinstance(node, gast.Name) and isinstance(node.ctx, (gast.Store, gast.Del)):
            names.add(node.id)
        elif isinstance(node, gast.FunctionDef):
            names.add(node.name)
    return names


def _free(function: gast.FunctionDef | gast.Lambda) -> set[str]:
    """The names a function (and the functions inside it) reads but does not bind."""
    body = function.body if isinstance(function.body, list) else [function.body]
    loads = set()
    for node in _own_nodes(body):
        if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load):
            loads.add(node.id)
        elif isinstance(node, (gast.FunctionDef, gast.Lambda)):
            loads |= _free(node)
    return loads - _bound(function)


def _name(identifier: str, like: gast.AST | None = None, store: bool = False) -> gast.Name:
    node = gast.Name(
        id=identifier, ctx=gast.Store() if store else gast.Load(), annotation=None, type_comment=None
    )
    if like is not None:
        gast.copy_location(node, like)
    return node


def _locate(node: gast.AST, like: gast.AST) -> gast.AST:
    for sub in subnodes(node):
        for attr in ("lineno", "col_offset", "end_lineno", "end_col_offset"):
            if getattr(sub, attr, None) is None and getattr(like, attr, None) is not None:
                setattr(sub, attr, getattr(like, attr))
    return node


class _Scope:
    """The lowering of one function body (the differentiated function, a lifted inner
    function or a specialisation)."""

    def __init__(self, context, values: dict[str, FunctionValue]) -> None:
        self.context = context
        self.parsed = context.parsed
        self.tree = context.tree
        self.values = values  # name in this scope -> the function it holds
        self.locals = _bound(self.tree) | set(context.parsed.local_names)

    # -- driver -----------------------------------------------------------------------
    def run(self) -> None:
        definitions = self.inner_definitions()
        self.lift(definitions)
        self.default_functions()
        self.tree.body = self.block(self.tree.body, [])
        self.refuse_nonlocal(self.tree)

    def error(self, message: str, node: gast.AST):
        return self.context.error(message, node)

    def refuse_nonlocal(self, tree) -> None:
        for node in _own_nodes(tree.body):
            if isinstance(node, gast.Nonlocal):
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
        return found

    def checked_definition(self, name: str, function, stmt, found: dict):
        if name in found or self.binding_count(name) > 1 or name in _parameters(self.tree.args):
            raise self.error(
                f"unsupported construct: the name '{name}' holds an inner function and is "
                "bound again; give each inner function and lambda a name of its own",
                stmt,
            )
        if isinstance(function, gast.FunctionDef) and function.decorator_list:
            raise self.error(
                f"unsupported construct: the decorated inner function '{name}'", stmt
            )
        if isinstance(function, gast.FunctionDef):
            self.refuse_nonlocal(function)
        return function, stmt

    def binding_count(self, name: str) -> int:
        count = 0
        for node in _own_nodes(self.tree.body):
            if isinstance(node, gast.Name) and node.id == name and isinstance(node.ctx, gast.Store):
                count += 1
            elif isinstance(node, gast.FunctionDef) and node.name == name:
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
        for name, cell in cells.items():
            self.values[name] = FunctionValue(
                name,
                cell,
                tuple((c, c) for c in captures[name]),
                f"the inner function '{name}'",
                lifted=True,
            )
            self.context.bind(name, cell)
        closure = {**self.parsed.closure, **self.context.cells}
        for name, (function, stmt) in definitions.items():
            cells[name].cell_contents = self.lifted_function(
                name, function, stmt, captures[name], closure
            )

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
            free = _free(function)
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

    def lifted_function(self, name, function, stmt, captured, closure) -> types.FunctionType:
        key = (getattr(stmt, "lineno", 0), getattr(stmt, "col_offset", 0), name)
        known = _LIFTED.setdefault(self.parsed.func, {})
        if key in known and lifted_entry(known[key]) is not None:
            return known[key]
        args = clone(function.args)
        for capture in captured:
            args.kwonlyargs.append(_param(capture, function))
            args.kw_defaults.append(None)
        body = (
            clone(function.body)
            if isinstance(function, gast.FunctionDef)
            else [_locate(gast.Return(value=clone(function.body)), function.body)]
        )
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
        argdefs, kwdefaults = self.default_values(function)
        func = _compile(tree, self.parsed.filename, self.parsed.globals, closure, argdefs, kwdefaults)
        values = {n: v for n, v in self.values.items() if n in _free(function) or n == name}
        _REGISTRY[func.__code__] = LiftedEntry(
            tree, self.parsed.filename, self.parsed.file_lines, closure, values
        )
        known[key] = func
        return func

    def default_values(self, function) -> tuple:
        """The default values of an inner function's parameters: constants and names of
        this function's globals (``np.sum``), evaluated now as Python would at the def."""
        args = function.args
        values = [self.static_value(d) for d in args.defaults]
        kw = {
            a.id: self.static_value(d)
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

    # -- parameters whose default is a function -------------------------------------------
    def default_functions(self) -> None:
        """``def f(a, red=np.sum)``: calls of ``red`` call the default, which a check at
        the start of the body makes sure the caller did not replace."""
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
            reference = self.reference(getattr(default, "__name__", name), default)
            self.values[name] = FunctionValue(
                reference, types.CellType(default), (), f"the default of '{name}'"
            )
            check = self.reference("check_default_function", check_default_function)
            call = gast.Call(
                func=_name(check, self.tree),
                args=[
                    _name(name, self.tree),
                    _name(reference, self.tree),
                    gast.Constant(value=name, kind=None),
                ],
                keywords=[],
            )
            checks.append(_locate(gast.Expr(value=call), self.tree.body[0]))
        if checks:
            docstring = (
                1
                if isinstance(self.tree.body[0], gast.Expr)
                and isinstance(self.tree.body[0].value, gast.Constant)
                else 0
            )
            self.tree.body[docstring:docstring] = checks

    def reference(self, base: str, obj: object) -> str:
        """A name under which the code of this scope reaches ``obj`` (a closure cell)."""
        for name, cell in {**self.parsed.closure, **self.context.cells}.items():
            if _cell_holds(cell, obj) and name not in self.locals:
                return name
        if base.isidentifier() and base not in self.locals and self.parsed.lookup(base) is obj:
            return base
        name = self.context.names.fresh(base if base.isidentifier() else "function")
        self.context.bind(name, types.CellType(obj))
        return name

    # -- statements and expressions ------------------------------------------------------
    def block(self, stmts: list[gast.stmt], path: list) -> list[gast.stmt]:
        out = []
        self.blocks = getattr(self, "blocks", 0) + 1
        number = self.blocks
        for index, stmt in enumerate(stmts):
            here = [*path, (number, index)]
            if self.is_definition(stmt):
                self.positions[stmt_key(stmt)] = here
                continue
            for name in ("body", "orelse", "finalbody"):
                inner = getattr(stmt, name, None)
                if isinstance(inner, list) and inner and isinstance(inner[0], gast.stmt):
                    setattr(stmt, name, self.block(inner, here) or [gast.Pass()])
            if hasattr(stmt, "handlers"):
                for handler in stmt.handlers:
                    handler.body = self.block(handler.body, here) or [gast.Pass()]
            self.path = here
            self.rewrite_fields(stmt)
            out.append(stmt)
        return out

    @property
    def positions(self) -> dict:
        if not hasattr(self, "_positions"):
            self._positions = {}
        return self._positions

    def is_definition(self, stmt: gast.stmt) -> bool:
        if isinstance(stmt, gast.FunctionDef):
            return stmt.name in self.values and self.values[stmt.name].lifted
        return (
            isinstance(stmt, gast.Assign)
            and isinstance(stmt.value, gast.Lambda)
            and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], gast.Name)
            and stmt.targets[0].id in self.values
        )

    def rewrite_fields(self, node: gast.AST) -> None:
        """Rewrite the expressions of ``node`` (not the statements of its blocks)."""
        for name in node._fields:
            value = getattr(node, name, None)
            if isinstance(value, list):
                if value and isinstance(value[0], gast.stmt):
                    continue
                setattr(node, name, [self.expression(v) for v in value])
            elif isinstance(value, gast.expr):
                setattr(node, name, self.expression(value))
            elif isinstance(value, gast.AST) and not isinstance(value, gast.stmt):
                self.rewrite_fields(value)

    def expression(self, node):
        if not isinstance(node, gast.AST):
            return node
        if isinstance(node, gast.Call):
            return self.call(node)
        if isinstance(node, gast.Name) and node.id in self.values and isinstance(
            node.ctx, gast.Load
        ):
            return self.value_reference(node)
        if isinstance(node, gast.Lambda):
            raise self.error(
                "unsupported construct: a lambda used as a value here (a lambda can be "
                "assigned to a name, called, or passed to a function)",
                node,
            )
        if isinstance(node, gast.keyword):
            node.value = self.expression(node.value)
            return node
        self.rewrite_fields(node)
        return node

    def value_reference(self, node: gast.Name) -> gast.expr:
        value = self.values[node.id]
        if value.lifted or value.captures:
            raise self.error(
                f"unsupported construct: {value.label} used as a value (stored, returned "
                "or passed where it cannot be followed); call it, or pass it to a function",
                node,
            )
        return _name(value.name, node)

    def call(self, node: gast.Call) -> gast.expr:
        func = node.func
        if isinstance(func, gast.Lambda):
            func = self.lambda_value(func)
        if isinstance(func, gast.Name) and func.id in self.values:
            value = self.values[func.id]
            self.check_dominated(func.id, node)
            node.func = _name(value.name, func)
            self.arguments(node)
            node.keywords += self.capture_keywords(value, node)
            return self.no_function_values(self.specialised(node, value.obj, node.func))
        node.func = self.expression(func) if not isinstance(func, gast.Name) else func
        callee = self.static_callee(node.func)
        if _is_user_function(callee):
            self.arguments(node)
            return self.no_function_values(self.specialised(node, callee, node.func))
        node.args = [self.expression(a) for a in node.args]
        node.keywords = [self.expression(k) for k in node.keywords]
        return node

    def arguments(self, node: gast.Call) -> None:
        node.args = [self.argument(a) for a in node.args]
        for keyword in node.keywords:
            keyword.value = self.argument(keyword.value)

    def no_function_values(self, node: gast.Call) -> gast.Call:
        """Function values left among the arguments (no specialisation took them)."""
        node.args = [self.expression(a) for a in node.args]
        node.keywords = [self.expression(k) for k in node.keywords]
        return node

    def argument(self, node: gast.expr) -> gast.expr:
        """An argument of a user function: function values stay as they are (the call is
        specialised on them); everything else is rewritten as usual."""
        if isinstance(node, gast.Lambda):
            return self.lambda_value(node)
        if isinstance(node, gast.Name) and node.id in self.values:
            self.check_dominated(node.id, node)
            return node
        return self.expression(node)

    def lambda_value(self, node: gast.Lambda) -> gast.Name:
        """A lambda written where it is called or passed: lifted under a fresh name."""
        name = self.context.names.numbered("lambda")
        self.lift({name: (node, _locate(gast.Expr(value=node), node))})
        self.values[name].label = "a lambda"
        self.values[name].inline = True
        return _name(name, node)

    def capture_keywords(self, value: FunctionValue, like) -> list[gast.keyword]:
        return [
            gast.keyword(arg=keyword, value=_name(name, like)) for keyword, name in value.captures
        ]

    def check_dominated(self, name: str, node: gast.AST) -> None:
        """A call of an inner function must come after its definition on every path (and
        so must the definitions of the inner functions it calls)."""
        for needed in sorted(getattr(self, "needs", {}).get(name, ())):
            self.check_defined(needed, node)

    def check_defined(self, name: str, node: gast.AST) -> None:
        value = self.values[name]
        if not value.lifted or value.inline:
            return
        where = self.positions.get(_definition_key(value))
        if where is None:
            raise self.error(
                f"unsupported construct: {value.label} is used before (or where it may not "
                "be) defined; define it before every use, in the same block or an outer one",
                node,
            )
        block, index = where[-1]
        for step_block, step_index in self.path:
            if step_block == block and step_index > index:
                return
        raise self.error(
            f"unsupported construct: {value.label} is used where it may not be defined "
            "(before its 'def' or outside the block that defines it); define it before every "
            "use, in the same block or an outer one",
            node,
        )

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
            return self.values[argument.id]
        if not _calls_parameter(callee, parameter):
            return None
        obj = self.static_callee(argument)
        if obj is None or not _is_function(obj):
            return None
        label = _display(argument)
        return FunctionValue(self.reference_name(argument, obj), types.CellType(obj), (), label)

    def reference_name(self, argument: gast.expr, obj: object) -> str:
        base = argument.attr if isinstance(argument, gast.Attribute) else argument.id
        return base


def stmt_key(stmt: gast.stmt) -> tuple:
    return (getattr(stmt, "lineno", 0), getattr(stmt, "col_offset", 0))


def _definition_key(value: FunctionValue) -> tuple:
    entry = _REGISTRY.get(value.obj.__code__) if _cell_full(value.cell) else None
    if entry is None:
        return (None,)
    return (entry.tree.lineno, entry.tree.col_offset)


def _cell_full(cell: types.CellType) -> bool:
    try:
        cell.cell_contents
    except ValueError:
        return False
    return True


def _cell_holds(cell: types.CellType, obj: object) -> bool:
    return _cell_full(cell) and cell.cell_contents is obj


def _display(node: gast.expr) -> str:
    parts = []
    while isinstance(node, gast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, gast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def _is_user_function(obj: object) -> bool:
    from ..callables import is_library_file

    return isinstance(obj, types.FunctionType) and not is_library_file(obj.__code__.co_filename)


def _is_function(obj: object) -> bool:
    """Something a parameter can hold and call: a function, a NumPy ufunc or routine, a
    builtin (not a class, not a partial or other callable object)."""
    return isinstance(
        obj, (types.FunctionType, types.BuiltinFunctionType, np.ufunc)
    ) or type(obj).__name__ in ("_ArrayFunctionDispatcher",)


def _calls_parameter(callee: types.FunctionType, parameter: str) -> bool:
    """Whether ``callee`` calls its ``parameter`` or passes it to a call (read from its
    source: ``callee`` may be the function being lowered)."""
    entry = lifted_entry(callee)
    if entry is not None:
        nodes = subnodes(entry.tree.body)
    else:
        import textwrap

        try:
            source = textwrap.dedent(inspect.getsource(callee.__code__))
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

    key = tuple(
        sorted((p, id(v.obj), tuple(k for k, _ in v.captures)) for p, v in chosen.items())
    )
    known = _SPECIALISED.setdefault(callee, {})
    base = callee.__name__ + "_" + "_".join(_short(v) for v in chosen.values())
    if key in known:
        cell, keywords = known[key]
    else:
        parsed = parse_function(callee)
        tree = clone(parsed.tree)
        taken = {n.id for n in subnodes(tree) if isinstance(n, gast.Name)} | set(
            _parameters(tree.args)
        )
        keywords = []
        values = {}
        closure = dict(parsed.closure)
        for parameter, value in chosen.items():
            inner = []
            for keyword, _ in value.captures:
                fresh = keyword
                while fresh in taken:
                    fresh += "_"
                taken.add(fresh)
                inner.append((keyword, fresh))
                keywords.append(fresh)
            holder = value.name
            while holder in taken:
                holder += "_"
            taken.add(holder)
            closure[holder] = value.cell
            values[parameter] = FunctionValue(holder, value.cell, tuple(inner), value.label)
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
            func = _compile(tree, parsed.filename, callee.__globals__, closure, argdefs, kwdefaults)
        except BaseException:
            del known[key]
            raise
        _REGISTRY[func.__code__] = LiftedEntry(
            tree, parsed.filename, parsed.file_lines, closure, {}, lowered=True
        )
        cell.cell_contents = func
    name = _bind_cell(scope, base, cell)
    # the captures of each chosen value, in the order of the specialisation's keywords
    names = [n for v in chosen.values() for _, n in v.captures]
    return name, list(zip(keywords, names))


def _bind_cell(scope: _Scope, base: str, cell: types.CellType) -> str:
    for name, existing in {**scope.parsed.closure, **scope.context.cells}.items():
        if existing is cell:
            return name
    name = scope.context.names.fresh(base)
    scope.context.bind(name, cell)
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

    from . import LoweringContext
    from ..names import NameAllocator
    from ..nodes import name_ids

    view = dataclasses.replace(parsed, closure=closure, function_values=values)
    context = LoweringContext(view, tree, NameAllocator(name_ids(tree) | set(closure)))
    _Scope(context, dict(values)).run()
    closure.update(context.cells)


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
        c for c in factory_code.co_consts if isinstance(c, types.CodeType) and c.co_name == tree.name
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


register_nondifferentiable(check_default_function, pure=False)


def _param(identifier: str, like: gast.AST) -> gast.Name:
    node = gast.Name(id=identifier, ctx=gast.Param(), annotation=None, type_comment=None)
    return gast.copy_location(node, like)
