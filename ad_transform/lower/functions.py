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
rather than in the source. Also: defaults computed from locals (passed like captures,
evaluated at the definition), ``nonlocal`` (the variables returned with the result and
rebound at each direct call), functions returned by a helper (``return lambda ...``),
and locals holding one of several known functions (identity dispatch at the call).
What cannot be followed exactly (a function value stored, returned or rebound, a
decorated inner function) is refused.
"""

from __future__ import annotations

import ast
import builtins
import functools
import inspect
import threading
import types
import weakref
from dataclasses import dataclass, field

import gast
import numpy as np

from ..errors import ADTransformError
from ..nodes import clone, subnodes
from ..rules.registry import register_nondifferentiable
from ..runtime.vectorize import check_vectorized_outputs
from . import function_holders

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
    # functools.partial: the arguments bound (names or constants of this scope)
    prefix: tuple[gast.expr, ...] = ()
    prefix_keywords: tuple[tuple[str, gast.expr], ...] = ()
    vectorized: bool = False  # np.vectorize(f): called elementwise
    static: gast.expr | None = None  # how this scope names a library or global function
    defined_at: tuple | None = None  # (line, column) of the statement binding it here
    table: dict | None = None  # a dict of functions: constant key -> FunctionValue
    rebinds: tuple[str, ...] = ()  # 'nonlocal' names: returned with the result, rebound

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


def run(context) -> None:
    """Lift the inner functions of ``context.tree`` and rewrite the calls of function values."""
    values = dict(getattr(context.parsed, "function_values", {}) or {})
    if values or _has_function_values(context):
        _Scope(context, values).run()


# Names of the builtins and library functions this pass rewrites when they get a function.
_TAKER_NAMES = frozenset(
    {"map", "filter", "reduce", "sorted", "max", "min", "list", "partial", "vectorize"}
)


def _has_function_values(context) -> bool:
    """A quick look for anything this pass rewrites (most functions have nothing)."""
    parsed = context.parsed
    defaults = (*(parsed.func.__defaults__ or ()), *(parsed.func.__kwdefaults__ or {}).values())
    if any(_is_function(d) for d in defaults):
        return True
    from ..parse import is_missing

    for node in subnodes(context.tree.body):
        if isinstance(node, (gast.Lambda, gast.FunctionDef)):
            return True
        if isinstance(node, gast.Call):
            func = node.func
            name = func.id if isinstance(func, gast.Name) else getattr(func, "attr", None)
            if name in _TAKER_NAMES or not isinstance(func, (gast.Name, gast.Attribute)):
                return True
            if isinstance(func, gast.Name) and _may_return_function(parsed.lookup(func.id)):
                return True
            arguments = [*node.args, *(k.value for k in node.keywords)]
        elif isinstance(node, gast.Dict):
            arguments = node.values
        elif isinstance(node, gast.Assign):
            arguments = _choice_leaves(node.value)  # act = np.tanh if c else np.sin
        else:
            continue
        for argument in arguments:  # a function passed by name (np.sin, a user function)
            root = argument
            while isinstance(root, gast.Attribute):
                root = root.value
            if isinstance(root, gast.Name):
                obj = parsed.lookup(root.id)
                if root is not argument and isinstance(obj, types.ModuleType):
                    obj = getattr(obj, argument.attr, None)
                if not is_missing(obj) and callable(obj) and not isinstance(obj, type):
                    return True  # a function, or a callable that must be refused by name
    return False


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
        id=identifier,
        ctx=gast.Store() if store else gast.Load(),
        annotation=None,
        type_comment=None,
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
        self.bound_later: set[str] = set()  # names bound by partial/vectorize, not yet reached
        self.pending: list[gast.stmt] = []
        self.placeholders: dict[tuple, tuple[list, gast.stmt]] = {}
        self.positions: dict[tuple, list] = {}  # definition -> its path of (block, index)
        self.markers: dict[tuple, str] = {}  # definition -> name bound when it runs
        self.blocked: str | None = None

    # -- driver -----------------------------------------------------------------------
    def run(self) -> None:
        function_holders.name_lambda_stores(self, self.tree.body)
        definitions = self.inner_definitions()
        self.holders = function_holders.find_holders(self, set(definitions))
        self.lift(definitions)
        checks = self.default_functions()
        self.choices = self.chosen_functions()
        self.tree.body = self.block(self.tree.body, [])
        self.fill_placeholders()
        if checks:
            first = self.tree.body[0]
            docstring = isinstance(first, gast.Expr) and isinstance(first.value, gast.Constant)
            self.tree.body[int(docstring) : int(docstring)] = checks

    def error(self, message: str, node: gast.AST):
        return self.context.error(message, node)

    # -- locals holding one of several known functions -------------------------------------
    def chosen_functions(self) -> dict[str, list[gast.expr]]:
        """Locals every binding of which is ``act = np.tanh`` or ``act = np.tanh if c else
        np.sin`` (library or global user functions): name -> the candidates (one node per
        distinct function). A call of such a local dispatches on identity at run time."""
        stores: dict[str, int] = {}
        assigned: dict[str, list[gast.Assign]] = {}
        declared = set()
        for node in _own_nodes(self.tree.body):
            for bound in _bound_names(node):
                stores[bound] = stores.get(bound, 0) + 1
            if isinstance(node, (gast.Global, gast.Nonlocal)):
                declared.update(node.names)
            elif (
                isinstance(node, gast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], gast.Name)
                and isinstance(node.value, (gast.IfExp, gast.Name, gast.Attribute))
            ):
                assigned.setdefault(node.targets[0].id, []).append(node)
        parameters = set(_parameters(self.tree.args))
        choices = {}
        for name, assigns in assigned.items():
            if name in self.values or name in parameters or name in declared:
                continue
            if stores.get(name) != len(assigns):
                continue  # also bound otherwise (a loop target, augmented, unpacked)
            candidates: dict[int, gast.expr] = {}
            for assign in assigns:
                for leaf in _choice_leaves(assign.value):
                    obj = self.static_callee(leaf)
                    if obj is None or not (_is_function(obj) or _is_user_function(obj)):
                        break
                    self.refuse_special(obj, leaf, "this call would call")
                    candidates.setdefault(id(obj), leaf)
                else:
                    continue
                break
            else:
                choices[name] = list(candidates.values())
        return choices

    def chosen_call(self, node: gast.Call) -> gast.expr:
        """``act(z)`` with ``act`` one of the known functions: ``np.tanh(z) if act is
        np.tanh else np.sin(z)`` (only the branch taken runs, so the arguments are
        evaluated once)."""
        name = node.func.id
        candidates = self.choices[name]

        def called(leaf: gast.expr) -> gast.Call:
            call = gast.Call(
                func=clone(leaf),
                args=[clone(a) for a in node.args],
                keywords=[clone(k) for k in node.keywords],
            )
            return _locate(call, node)

        result = called(candidates[-1])
        if len(candidates) == 1:  # reads the local, which raises where Python would
            test = gast.Compare(
                left=_name(name, node), ops=[gast.Is()], comparators=[clone(candidates[0])]
            )
            result = gast.IfExp(test=test, body=result, orelse=called(candidates[0]))
        for leaf in reversed(candidates[:-1]):
            test = gast.Compare(left=_name(name, node), ops=[gast.Is()], comparators=[clone(leaf)])
            result = gast.IfExp(test=test, body=called(leaf), orelse=result)
        return self.expression(_locate(result, node))

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

    def static_expression(self, obj: object) -> gast.expr:
        """How this scope names a function: ``np.sum`` through a module it imported, else
        its own name or a closure cell."""
        name = getattr(obj, "__name__", None)
        if isinstance(name, str) and name.isidentifier():
            for module_name, module in sorted(self.parsed.globals.items()):
                if (
                    isinstance(module, types.ModuleType)
                    and module_name not in self.locals
                    and getattr(module, name, None) is obj
                ):
                    return gast.Attribute(value=_name(module_name), attr=name, ctx=gast.Load())
        return _name(self.reference(name or "function", obj))

    def reference(self, base: str, obj: object) -> str:
        """A name under which the code of this scope reaches ``obj`` (a closure cell)."""
        for name, cell in {**self.parsed.closure, **self.context.cells}.items():
            if _cell_holds(cell, obj) and name not in self.locals:
                return name
        if base.isidentifier() and base not in self.locals and self.parsed.lookup(base) is obj:
            return base
        name = self.context.names.fresh(base if base.isidentifier() else "function")
        self.context.bind_cell(name, types.CellType(obj))
        return name

    # -- statements and expressions ------------------------------------------------------
    def block(self, stmts: list[gast.stmt], path: list) -> list[gast.stmt]:
        out = []
        self.blocks = getattr(self, "blocks", 0) + 1
        number = self.blocks
        for index, stmt in enumerate(stmts):
            here = [*path, (number, index)]
            if self.is_definition(stmt):
                self.define_here(stmt, here, out)
                name = stmt.name if isinstance(stmt, gast.FunctionDef) else stmt.targets[0].id
                self.path, self.statement = here, stmt
                self.pending, self.blocked = out, None
                snapshots = self.default_snapshots(name)
                out.extend(_locate(s, stmt) for s in snapshots)
                continue
            for name in ("body", "orelse", "finalbody"):
                inner = getattr(stmt, name, None)
                if isinstance(inner, list) and inner and isinstance(inner[0], gast.stmt):
                    setattr(stmt, name, self.block(inner, here) or [gast.Pass()])
            if hasattr(stmt, "handlers"):
                for handler in stmt.handlers:
                    handler.body = self.block(handler.body, here) or [gast.Pass()]
            self.path = here
            self.statement = stmt
            self.pending, self.blocked = out, None
            if self.is_bound_value(stmt):  # p = functools.partial(...), v = np.vectorize(f)
                self.define_here(stmt, here, out)
                self.bind_value(stmt)
                continue
            if isinstance(stmt, gast.While):
                stmt.test = self.blocked_expression(stmt.test, "the test of a 'while' loop")
            if not function_holders.stored_value(self, stmt):
                self.rewrite_fields(stmt)
            out.append(stmt)
        return out

    def blocked_expression(self, node: gast.expr, where: str) -> gast.expr:
        """Rewrite ``node``, which runs a varying number of times (or maybe not at all):
        nothing may be hoisted out of it."""
        saved, self.blocked = self.blocked, self.blocked or where
        try:
            return self.expression(node)
        finally:
            self.blocked = saved

    def hoist(self, stmts: list[gast.stmt], like: gast.AST, what: str) -> None:
        """Statements that compute a value before the statement using it."""
        if self.blocked:
            raise self.error(
                f"unsupported construct: {what} inside {self.blocked} (it becomes a loop "
                "that cannot be placed there); compute it in a statement of its own first",
                like,
            )
        for stmt in stmts:
            self.pending.append(_locate(stmt, like))

    def fresh(self, base: str) -> str:
        return self.context.fresh(base)

    # -- functools.partial and np.vectorize bound to names ---------------------------------
    def is_bound_value(self, stmt: gast.stmt) -> bool:
        return (
            isinstance(stmt, gast.Assign)
            and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], gast.Name)
            and stmt.targets[0].id in self.bound_later
        )

    def bind_value(self, stmt: gast.Assign) -> None:
        name = stmt.targets[0].id
        if isinstance(stmt.value, gast.Dict):
            table = {
                k.value: self.function_of(v) for k, v in zip(stmt.value.keys, stmt.value.values)
            }
            self.values[name] = FunctionValue(
                name,
                types.CellType(None),
                label=f"the dict of functions '{name}'",
                lifted=True,
                defined_at=stmt_key(stmt),
                table=table,
            )
            self.bound_later.discard(name)
            return
        value = self.function_of(stmt.value)
        if value is None:
            raise self.error(
                "unsupported construct: a partial application or np.vectorize of a function "
                "that is not known here (call a function defined with 'def', a lambda or a "
                "library function)",
                stmt.value,
            )
        import dataclasses

        self.values[name] = dataclasses.replace(
            value, lifted=True, inline=False, label=f"'{name}'", defined_at=stmt_key(stmt)
        )
        self.bound_later.discard(name)

    # -- function values in expressions -----------------------------------------------------
    def function_of(self, node: gast.expr) -> FunctionValue | None:
        """The function ``node`` evaluates to, when it is known here; None otherwise."""
        import dataclasses

        if isinstance(node, gast.Lambda):
            node = self.lambda_value(node)
        if self.is_table_item(node):
            self.check_dominated(node.value.id, node)
            table = self.values[node.value.id]
            key = node.slice
            if not isinstance(key, gast.Constant) or key.value not in table.table:
                raise self.error(
                    f"unsupported construct: a function taken from {table.label} by a key that "
                    "is not one of its keys written as a constant",
                    node,
                )
            return table.table[key.value]
        if isinstance(node, gast.Name) and node.id in self.values:
            self.check_dominated(node.id, node)
            if self.values[node.id].table is not None:
                raise self.error(
                    f"unsupported construct: {self.values[node.id].label} used other than "
                    "by taking a function with a constant key",
                    node,
                )
            return self.values[node.id]
        if isinstance(node, gast.Call) and not any(isinstance(a, gast.Starred) for a in node.args):
            maker = self.static_callee(node.func)
            if maker is functools.partial and node.args and all(k.arg for k in node.keywords):
                base = self.function_of(node.args[0])
                if base is None:
                    return None
                prefix = tuple(self.snapshot(a) for a in node.args[1:])
                keywords = tuple((k.arg, self.snapshot(k.value)) for k in node.keywords)
                return dataclasses.replace(
                    base,
                    prefix=base.prefix + prefix,
                    prefix_keywords=base.prefix_keywords + keywords,
                    label=f"functools.partial({base.label}, ...)",
                    inline=True,
                )
            if returned_function(maker) is not None:
                return self.factory_value(node, maker)
            if maker is np.vectorize and len(node.args) == 1 and not node.keywords:
                base = self.function_of(node.args[0])
                if base is None or base.vectorized:
                    return None
                return dataclasses.replace(
                    base, vectorized=True, label=f"np.vectorize({base.label})", inline=True
                )
            return None
        obj = self.static_callee(node) if isinstance(node, (gast.Name, gast.Attribute)) else None
        if obj is not None:
            self.refuse_special(obj, node, "this call would call")
        if obj is None or not (_is_function(obj) or isinstance(obj, types.FunctionType)):
            return None
        self.depend_on(node, obj)
        return FunctionValue(
            _display(node), types.CellType(obj), (), _display(node), static=clone(node)
        )

    def factory_value(self, node: gast.Call, factory: types.FunctionType) -> FunctionValue:
        """``make_affine(x, y)`` whose body is ``return lambda t: a * t + b``: the lambda,
        lifted, whose captures are the factory's parameters it reads, bound to the
        arguments evaluated now (once, as the call would)."""
        if any(isinstance(a, gast.Starred) for a in node.args) or any(
            k.arg is None for k in node.keywords
        ):
            raise self.error("unsupported construct: '*' or '**' in a call of a factory", node)
        function, parsed = returned_function(factory)
        try:
            raw = inspect.signature(factory).bind(
                *node.args, **{k.arg: k.value for k in node.keywords}
            )
        except TypeError as exc:
            message = f"this call of {factory.__name__} does not match it: {exc}"
            raise self.error(message, node) from None
        parameter_of = {id(a): p for p, a in raw.arguments.items()}
        snapshots = [self.argument_snapshot(a, parameter_of[id(a)]) for a in node.args]
        keywords = {
            k.arg: self.argument_snapshot(k.value, parameter_of[id(k.value)]) for k in node.keywords
        }
        bound = inspect.signature(factory).bind(*snapshots, **keywords)
        captured = sorted(_free(function) & set(_parameters(parsed.tree.args)))
        captures = []
        for parameter in captured:
            if parameter in bound.arguments:
                captures.append((parameter, bound.arguments[parameter].id))
                continue
            default = inspect.signature(factory).parameters[parameter].default
            if not isinstance(default, (int, float, complex, bool, str, type(None))):
                raise self.error(
                    f"unsupported construct: the function {factory.__name__} returns reads "
                    f"its parameter '{parameter}', whose default is not a constant",
                    node,
                )
            name = self.fresh(parameter)
            self.hoist([_assign(name, gast.Constant(value=default, kind=None))], node, "a call")
            captures.append((parameter, name))
        self.depend_on(node.func, factory)
        func = _lift_returned(factory, function, parsed, captured)
        label = f"the function {factory.__name__}(...) returns"
        name = self.reference(func.__name__, func)
        return FunctionValue(
            name, types.CellType(func), tuple(captures), label, lifted=True, inline=True
        )

    def argument_snapshot(self, node: gast.expr, parameter: str) -> gast.Name:
        """An argument evaluated now into a name of its own."""
        node = self.expression(node)
        name = self.fresh(parameter)
        self.hoist([_assign(name, node)], node, "a call of a function that returns a function")
        return _name(name, node)

    def snapshot(self, node: gast.expr) -> gast.expr:
        """An argument bound by functools.partial, evaluated now (a constant stays one)."""
        node = self.expression(node)
        if isinstance(node, gast.Constant):
            return node
        name = self.fresh("bound")
        self.hoist([_assign(name, node)], node, "functools.partial")
        return _name(name, node)

    def rebinding_call(self, value: FunctionValue, node: gast.Call) -> gast.expr:
        """``step(x)`` where ``step`` rebinds ``count`` with ``nonlocal``: hoisted as
        ``step_result, count = step(x, count=count)``. Nothing else in the statement may
        read ``count`` or call an inner function that reads it (the hoisted call would run
        before it). A call inside a ``try`` or ``with`` body is refused: an exception
        raised in the inner function after it rebound the name would lose the rebinding."""
        if value.name not in self.defined_names():
            raise self.error(
                f"unsupported construct: a call of {value.label}, which rebinds "
                f"'{', '.join(value.rebinds)}' with 'nonlocal', from a function other than "
                "the one that defines it",
                node,
            )
        for guard in _own_nodes(self.tree.body):
            if isinstance(guard, (gast.Try, gast.With)) and any(
                sub is node for sub in subnodes(guard.body)
            ):
                raise self.error(
                    f"unsupported construct: a call of {value.label}, which rebinds "
                    f"'{', '.join(value.rebinds)}' with 'nonlocal', inside a "
                    f"'{type(guard).__name__.lower()}' body",
                    node,
                )
        for sub in subnodes(self.statement):
            reads = isinstance(sub, gast.Name) and isinstance(sub.ctx, gast.Load)
            if reads and sub.id in value.rebinds:
                raise self.error(
                    f"unsupported construct: '{sub.id}' is read in the statement that calls "
                    f"{value.label}, which rebinds it with 'nonlocal'; read it in a statement "
                    "of its own",
                    sub,
                )
            if isinstance(sub, gast.Call) and isinstance(sub.func, gast.Name):
                other = self.values.get(sub.func.id)
                reached = {c for _, c in other.captures} if other is not None else set()
                if other is not None and not other.rebinds and reached & set(value.rebinds):
                    raise self.error(
                        f"unsupported construct: {other.label} reads a variable that "
                        f"{value.label} rebinds with 'nonlocal', in the same statement; call "
                        "them in statements of their own",
                        sub,
                    )
        call = self.call_value(value, node.args, node.keywords, node, direct=True)
        result = self.fresh(f"{value.name}_result")
        targets = [_name(result, node, store=True)]
        targets += [_name(n, node, store=True) for n in value.rebinds]
        unpack = gast.Assign(
            targets=[gast.Tuple(elts=targets, ctx=gast.Store())], value=call, type_comment=None
        )
        self.hoist([unpack], node, f"a call of {value.label}")
        return _name(result, node)

    def call_value(
        self, value: FunctionValue, args: list, keywords: list, like, direct: bool = False
    ) -> gast.expr:
        """A call of the function ``value`` with these (rewritten) arguments."""
        if value.rebinds and not direct:
            raise self.error(
                f"unsupported construct: {value.label} rebinds "
                f"'{', '.join(value.rebinds)}' with 'nonlocal' and is called here other than "
                "directly by the function that defines it",
                like,
            )
        if value.vectorized:
            return self.vectorized_call(value, args, keywords, like)
        func = clone(value.static) if value.static is not None else _name(value.name, like)
        call = gast.Call(
            func=func,
            args=[clone(a) for a in value.prefix] + list(args),
            keywords=[gast.keyword(arg=k, value=clone(v)) for k, v in value.prefix_keywords]
            + list(keywords)
            + self.capture_keywords(value, like),
        )
        _locate(call, like)
        callee = value.obj if _cell_full(value.cell) else None
        if _is_user_function(callee):
            return self.no_function_values(self.specialised(call, callee, call.func))
        return self.no_function_values(call)

    def vectorized_call(self, value, args, keywords, like) -> gast.expr:
        """``np.vectorize(f)(x)``: ``f`` on every element of ``x``, in a loop."""
        import dataclasses

        if len(args) != 1 or keywords:
            raise self.error(
                "unsupported construct: a call of np.vectorize(f) with more than one "
                "argument (only f(x) elementwise over one array is supported)",
                like,
            )
        np_name = self.reference("np", np)
        source, flat, out, item = (
            self.fresh("vectorized_input"),
            self.fresh("flat"),
            self.fresh("elements"),
            self.fresh("element"),
        )
        result = self.fresh("vectorized")

        def numpy(function: str, *arguments) -> gast.Call:
            func = gast.Attribute(value=_name(np_name, like), attr=function, ctx=gast.Load())
            return gast.Call(func=func, args=list(arguments), keywords=[])

        # NumPy hands the function Python numbers (``float``, not ``np.float64``)
        scalar = self.fresh("scalar")
        item_call = gast.Call(
            func=gast.Attribute(value=_name(item, like), attr="item", ctx=gast.Load()),
            args=[],
            keywords=[],
        )
        body = [_assign(scalar, item_call)]
        saved = self.pending
        self.pending = body
        try:
            element = self.call_value(
                dataclasses.replace(value, vectorized=False), [_name(scalar, like)], [], like
            )
        finally:
            self.pending = saved
        body.append(_append(out, element))
        where = str(self.error(f"{value.label}(...)", like)).splitlines()[0]
        check = gast.Call(
            func=_name(self.reference("check_vectorized_outputs", check_vectorized_outputs), like),
            args=[_name(out, like), gast.Constant(value=where, kind=None)],
            keywords=[],
        )
        loop = gast.For(
            target=_name(item, like, store=True),
            iter=_name(flat, like),
            body=body,
            orelse=[],
            type_comment=None,
        )
        shaped = numpy(
            "reshape", numpy("array", _name(out, like)), numpy("shape", _name(source, like))
        )
        self.hoist(
            [
                _assign(source, args[0]),
                _assign(flat, numpy("ravel", _name(source, like))),
                _assign(out, gast.List(elts=[], ctx=gast.Load())),
                loop,
                gast.Expr(value=check),
                _assign(result, shaped),
            ],
            like,
            "np.vectorize",
        )
        return _name(result, like)

    # -- map, filter, functools.reduce, sorted/max/min with key= -----------------------------
    def builtin_form(self, node: gast.Call, callee: object) -> gast.expr | None:
        """A call of a builtin that takes a function, as a loop; None if it is not one."""
        if any(isinstance(a, gast.Starred) for a in node.args) or any(
            k.arg is None for k in node.keywords
        ):
            return None
        keywords = {k.arg: k.value for k in node.keywords}
        if callee is builtins.list and len(node.args) == 1 and not keywords:
            inner = node.args[0]  # list(map(...)): the loop's list is already a new list
            if isinstance(inner, gast.Call):
                maker = self.static_callee(inner.func)
                if maker in (builtins.map, builtins.filter):
                    return self.builtin_form(inner, maker)
            return None
        if callee is builtins.map and len(node.args) >= 2 and not keywords:
            value = self.function_of(node.args[0])
            return None if value is None else self.mapped(value, node.args[1:], node)
        if callee is builtins.filter and len(node.args) == 2 and not keywords:
            function = node.args[0]
            none = isinstance(function, gast.Constant) and function.value is None
            value = None if none else self.function_of(function)
            if value is None and not none:
                return None
            return self.filtered(value, node.args[1], node)
        if callee is functools.reduce and len(node.args) in (2, 3) and not keywords:
            value = self.function_of(node.args[0])
            return None if value is None else self.reduced(value, node.args[1:], node)
        if callee in (builtins.sorted, builtins.max, builtins.min) and "key" in keywords:
            allowed = {"key", "reverse"} if callee is builtins.sorted else {"key"}
            if set(keywords) - allowed or not node.args:
                return None
            if callee is builtins.sorted and len(node.args) != 1:
                return None
            value = self.function_of(keywords["key"])
            if value is None:
                return None
            return self.keyed(callee, value, node.args, keywords.get("reverse"), node)
        return None

    def items_name(self, node: gast.expr, like) -> gast.Name:
        node = self.expression(node)
        if isinstance(node, gast.Name):
            return node
        name = self.fresh("items")
        self.hoist([_assign(name, node)], like, "this call")
        return _name(name, like)

    def loop_calling(self, value, iterables: list, like, each) -> None:
        """``for e in xs: each(f(e))`` (``zip`` for several iterables), hoisted."""
        elements = [self.fresh("element") for _ in iterables]
        body = []
        saved = self.pending
        self.pending = body
        try:
            result = self.call_value(value, [_name(e, like) for e in elements], [], like)
            body.extend(each(result, elements))
        finally:
            self.pending = saved
        if len(iterables) == 1:
            target, iterable = _name(elements[0], like, store=True), iterables[0]
        else:
            target = gast.Tuple(
                elts=[_name(e, like, store=True) for e in elements], ctx=gast.Store()
            )
            zip_name = self.reference("zip", builtins.zip)
            iterable = gast.Call(func=_name(zip_name, like), args=iterables, keywords=[])
        loop = gast.For(target=target, iter=iterable, body=body, orelse=[], type_comment=None)
        self.hoist([loop], like, "a call of a function on every element")

    def mapped(self, value, iterables, like) -> gast.expr:
        iterables = [self.expression(i) for i in iterables]
        result = self.fresh("mapped")
        self.hoist([_assign(result, gast.List(elts=[], ctx=gast.Load()))], like, "map(...)")
        self.loop_calling(value, iterables, like, lambda r, _: [_append(result, r)])
        return _name(result, like)

    def filtered(self, value, iterable, like) -> gast.expr:
        iterable = self.expression(iterable)
        result = self.fresh("kept")
        self.hoist([_assign(result, gast.List(elts=[], ctx=gast.Load()))], like, "filter(...)")
        element = self.fresh("element")
        body = []
        saved = self.pending
        self.pending = body
        try:
            test = (
                _name(element, like)
                if value is None
                else self.call_value(value, [_name(element, like)], [], like)
            )
        finally:
            self.pending = saved
        body.append(gast.If(test=test, body=[_append(result, _name(element, like))], orelse=[]))
        loop = gast.For(
            target=_name(element, like, store=True),
            iter=iterable,
            body=body,
            orelse=[],
            type_comment=None,
        )
        self.hoist([loop], like, "filter(...)")
        return _name(result, like)

    def reduced(self, value, arguments, like) -> gast.expr:
        accumulator = self.fresh("reduced")
        element = self.fresh("element")
        body = []
        if len(arguments) == 2:
            iterable = self.expression(arguments[0])
            start = self.expression(arguments[1])
            target = element
        else:  # no initial value: the first element starts, the others are folded in
            items = self.items_name(arguments[0], like)
            start = gast.Subscript(
                value=clone(items), slice=gast.Constant(value=0, kind=None), ctx=gast.Load()
            )
            target = self.fresh("position")
            size = gast.Call(
                func=_name(self.reference("len", builtins.len), like),
                args=[clone(items)],
                keywords=[],
            )
            iterable = gast.Call(
                func=_name(self.reference("range", builtins.range), like),
                args=[gast.Constant(value=1, kind=None), size],
                keywords=[],
            )
            item = gast.Subscript(value=clone(items), slice=_name(target, like), ctx=gast.Load())
            body.append(_assign(element, item))
        self.hoist([_assign(accumulator, start)], like, "functools.reduce(...)")
        saved = self.pending
        self.pending = body
        try:
            step = self.call_value(
                value, [_name(accumulator, like), _name(element, like)], [], like
            )
        finally:
            self.pending = saved
        body.append(_assign(accumulator, step))
        loop = gast.For(
            target=_name(target, like, store=True),
            iter=iterable,
            body=body,
            orelse=[],
            type_comment=None,
        )
        self.hoist([loop], like, "functools.reduce(...)")
        return _name(accumulator, like)

    def keyed(self, callee, value, arguments, reverse, like) -> gast.expr:
        """``sorted``/``max``/``min`` with ``key=``: the keys in a loop, the order (or the
        position) from them without derivative, then the elements themselves."""
        keys = self.fresh("keys")
        if len(arguments) == 1:
            # the elements as the one loop over the iterable meets them: a dict gives its
            # keys, a view or an iterator can be neither indexed nor iterated again
            iterable = self.expression(arguments[0])
            items = _name(self.fresh("candidates"), like)
            empty = [_assign(n, gast.List(elts=[], ctx=gast.Load())) for n in (items.id, keys)]
            self.hoist(empty, like, "key=")
            self.loop_calling(
                value,
                [iterable],
                like,
                lambda r, elements: [_append(items.id, _name(elements[0], like)), _append(keys, r)],
            )
        else:  # max(a, b, key=f): of the arguments
            items = _name(self.fresh("items"), like)
            display = gast.Tuple(elts=[self.expression(a) for a in arguments], ctx=gast.Load())
            self.hoist([_assign(items.id, display)], like, "this call")
            self.hoist([_assign(keys, gast.List(elts=[], ctx=gast.Load()))], like, "key=")
            self.loop_calling(value, [clone(items)], like, lambda r, _: [_append(keys, r)])
        if callee is builtins.sorted:
            order = self.fresh("order")
            helper = self.reference("sort_order", sort_order)
            flags = [self.expression(reverse)] if reverse is not None else []
            call = gast.Call(
                func=_name(helper, like), args=[_name(keys, like), *flags], keywords=[]
            )
            result = self.fresh("ordered")
            position = self.fresh("position")
            item = gast.Subscript(value=clone(items), slice=_name(position, like), ctx=gast.Load())
            loop = gast.For(
                target=_name(position, like, store=True),
                iter=_name(order, like),
                body=[_append(result, item)],
                orelse=[],
                type_comment=None,
            )
            self.hoist(
                [_assign(order, call), _assign(result, gast.List(elts=[], ctx=gast.Load())), loop],
                like,
                "sorted(..., key=...)",
            )
            return _name(result, like)
        chooser = first_max_position if callee is builtins.max else first_min_position
        helper = self.reference(chooser.__name__, chooser)
        position = self.fresh("position")
        call = gast.Call(func=_name(helper, like), args=[_name(keys, like)], keywords=[])
        self.hoist([_assign(position, call)], like, "max/min(..., key=...)")
        return gast.Subscript(value=clone(items), slice=_name(position, like), ctx=gast.Load())

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
        if (
            isinstance(node, gast.Name)
            and node.id in self.values
            and isinstance(node.ctx, gast.Load)
        ):
            return self.value_reference(node)
        if isinstance(node, gast.Name) and node.id in self.bound_later:
            self.refuse_early(node)
        if isinstance(node, gast.BoolOp):
            node.values = [self.expression(node.values[0])] + [
                self.blocked_expression(v, "a short-circuit 'and'/'or'") for v in node.values[1:]
            ]
            return node
        if isinstance(node, gast.IfExp):
            node.test = self.expression(node.test)
            node.body = self.blocked_expression(node.body, "a conditional expression")
            node.orelse = self.blocked_expression(node.orelse, "a conditional expression")
            return node
        if isinstance(node, (gast.ListComp, gast.SetComp, gast.DictComp, gast.GeneratorExp)):
            saved, self.blocked = self.blocked, self.blocked or "a comprehension"
            try:
                self.rewrite_fields(node)
            finally:
                self.blocked = saved
            return node
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

    def refuse_early(self, node: gast.Name) -> None:
        raise self.error(
            f"unsupported construct: '{node.id}' is used before the statement that binds it "
            "to a function; bind it first",
            node,
        )

    def value_reference(self, node: gast.Name) -> gast.expr:
        value = self.values[node.id]
        plain = not (value.prefix or value.prefix_keywords or value.vectorized)
        if value.static is not None and plain:
            return clone(value.static)
        if value.lifted or value.captures or value.prefix or value.vectorized:
            raise self.error(
                f"unsupported construct: {value.label} used as a value (stored, returned "
                "or passed where it cannot be followed); call it, or pass it to a function",
                node,
            )
        return _name(value.name, node)

    def is_table_item(self, node: gast.expr) -> bool:
        return (
            isinstance(node, gast.Subscript)
            and isinstance(node.value, gast.Name)
            and node.value.id in self.values
            and self.values[node.value.id].table is not None
        )

    def call(self, node: gast.Call) -> gast.expr:
        held = function_holders.element_of_call(self, node)
        if held is not None:
            return function_holders.element_call(self, *held, node)
        func = node.func
        if isinstance(func, gast.Name) and func.id in getattr(self, "choices", {}):
            return self.chosen_call(node)
        if isinstance(func, gast.Lambda):
            func = self.lambda_value(func)
        value = None
        if (isinstance(func, gast.Name) and func.id in self.values) or self.is_table_item(func):
            value = self.function_of(func)
        elif isinstance(func, gast.Call):
            value = self.function_of(func)  # functools.partial(f, a)(x), np.vectorize(f)(x)
        if value is not None:
            if any(isinstance(a, gast.Starred) for a in node.args):
                raise self.error("unsupported construct: '*' unpacking in this call", node)
            self.arguments(node)
            if value.rebinds:
                return self.rebinding_call(value, node)
            return self.call_value(value, node.args, node.keywords, node)
        if isinstance(func, gast.Name) and func.id in self.bound_later:
            self.refuse_early(func)
        node.func = self.expression(func) if not isinstance(func, gast.Name) else func
        callee = self.static_callee(node.func)
        if callee is not None:
            lowered = self.builtin_form(node, callee)
            if lowered is not None:
                return lowered
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
        """Function values left among the (rewritten) arguments: no specialisation took
        them, so they must be plain references (a library function) or are refused."""

        def checked(argument):
            if isinstance(argument, gast.Name) and argument.id in self.values:
                return self.value_reference(argument)
            return argument

        node.args = [checked(a) for a in node.args]
        for keyword in node.keywords:
            keyword.value = checked(keyword.value)
        return node

    def argument(self, node: gast.expr) -> gast.expr:
        """An argument of a user function: function values stay as they are (the call is
        specialised on them); everything else is rewritten as usual."""
        if isinstance(node, gast.Lambda):
            return self.lambda_value(node)
        if isinstance(node, gast.Name) and node.id in self.values:
            self.check_dominated(node.id, node)
            return node
        maker = self.static_callee(node.func) if isinstance(node, gast.Call) else None
        if self.is_table_item(node) or (
            maker in (functools.partial, np.vectorize) or returned_function(maker) is not None
        ):
            value = self.function_of(node)
            if value is not None:
                name = self.context.names.numbered("function")
                self.values[name] = value
                return _name(name, node)
        return self.expression(node)

    def lambda_value(self, node: gast.Lambda) -> gast.Name:
        """A lambda written where it is called or passed: lifted under a fresh name."""
        name = self.context.names.numbered("lambda")
        self.lift({name: (node, _locate(gast.Expr(value=node), node))})
        snapshots = self.default_snapshots(name)
        if snapshots:
            self.hoist(snapshots, node, "a lambda whose defaults are computed")
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
        key = value.defined_at or _definition_key(value)
        where = self.positions.get(key)
        if where is not None:
            block, index = where[-1]
            for step_block, step_index in self.path:
                if step_block == block and step_index > index:
                    return  # the definition ran before, on every path to here
        if not self.blocked:
            self.check_at_run_time(name, key, node)
            return
        raise self.error(
            f"unsupported construct: {value.label} is used where it may not be defined "
            "(before its 'def' or outside the block that defines it); define it before every "
            "use, in the same block or an outer one",
            node,
        )

    def define_here(self, stmt: gast.stmt, path: list, out: list) -> None:
        """The definition's place: a placeholder that becomes ``g_defined = True`` if a
        use must check at run time that the definition ran."""
        key = stmt_key(stmt)
        self.positions[key] = path
        placeholder = _locate(gast.Pass(), stmt)
        self.placeholders[key] = (out, placeholder)
        out.append(placeholder)

    def check_at_run_time(self, name: str, key: tuple, node: gast.AST) -> None:
        """A use the definition may not reach on every path (defined in a branch or a
        loop, used after it; used in a loop before the 'def' of a later iteration):
        a marker bound where it is defined is read first, which raises
        ``UnboundLocalError`` on a path where Python would."""
        if key not in self.markers:
            self.markers[key] = self.fresh(f"{name}_defined")
        check = self.reference("check_function_defined", check_function_defined)
        call = gast.Call(
            func=_name(check, node), args=[_name(self.markers[key], node)], keywords=[]
        )
        self.hoist([gast.Expr(value=call)], node, "a call of an inner function")

    def fill_placeholders(self) -> None:
        for key, (block, placeholder) in self.placeholders.items():
            index = next(i for i, s in enumerate(block) if s is placeholder)
            if key in self.markers:
                marker = _assign(self.markers[key], gast.Constant(value=True, kind=None))
                block[index] = _locate(marker, placeholder)
            elif len(block) > 1:
                del block[index]

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


def stmt_key(stmt: gast.stmt) -> tuple:
    return (getattr(stmt, "lineno", 0), getattr(stmt, "col_offset", 0))


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


def _may_return_function(obj: object) -> bool:
    """A user function with a lambda or def inside (cheap: its code's constants)."""
    return _is_user_function(obj) and any(
        isinstance(c, types.CodeType) for c in obj.__code__.co_consts
    )


_RETURNED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # factory -> found


def returned_function(obj: object):
    """``(the lambda or def, parsed factory)`` for a user function whose body is only
    ``return lambda ...`` or ``def g(...): ...`` then ``return g`` (a docstring allowed);
    None for anything else."""
    if not _may_return_function(obj) or lifted_entry(obj) is not None:
        return None
    if obj in _RETURNED:
        return _RETURNED[obj]
    found = _find_returned(obj)
    _RETURNED[obj] = found
    return found


def _find_returned(factory: types.FunctionType):
    from ..errors import ADTransformError
    from ..parse import parse_source

    try:
        parsed = parse_source(factory)
    except ADTransformError:
        return None
    args = parsed.tree.args
    if args.vararg is not None or args.kwarg is not None:
        return None
    body = list(parsed.tree.body)
    if body and isinstance(body[0], gast.Expr) and isinstance(body[0].value, gast.Constant):
        body = body[1:]
    if len(body) == 1 and isinstance(body[0], gast.Return):
        function = body[0].value
        if not isinstance(function, gast.Lambda):
            return None
    elif (
        len(body) == 2
        and isinstance(body[0], gast.FunctionDef)
        and not body[0].decorator_list
        and isinstance(body[1], gast.Return)
        and isinstance(body[1].value, gast.Name)
        and body[1].value.id == body[0].name
    ):
        function = body[0]
        if any(isinstance(n, (gast.Nonlocal, gast.Global)) for n in _own_nodes(function.body)):
            return None
        if function.name in _free(function):
            return None  # a recursive inner function (its name is a local of the factory)
    else:
        return None
    defaults = function.args.defaults + [d for d in function.args.kw_defaults if d]
    if not all(isinstance(d, gast.Constant) for d in defaults):
        return None
    return function, parsed


def _lift_returned(factory, function, parsed, captured: list[str]) -> types.FunctionType:
    """The function ``factory`` returns, compiled with the factory's parameters it reads
    as keyword-only parameters (memoised per factory)."""
    known = _LIFTED.setdefault(factory, {})
    key = ("returned", function.lineno, function.col_offset)
    if key in known and lifted_entry(known[key]) is not None:
        return known[key]
    args = clone(function.args)
    for capture in captured:
        args.kwonlyargs.append(_param(capture, function))
        args.kw_defaults.append(None)
    if isinstance(function, gast.FunctionDef):
        body, name = clone(function.body), function.name
    else:
        body = [_locate(gast.Return(value=clone(function.body)), function.body)]
        name = f"{factory.__name__}_lambda"
    tree = gast.FunctionDef(
        name=name,
        args=args,
        body=body,
        decorator_list=[],
        returns=None,
        type_comment=None,
        **_type_params(),
    )
    gast.copy_location(tree, function)
    positional = tuple(d.value for d in function.args.defaults) or None
    keyword = {
        a.id: d.value for a, d in zip(function.args.kwonlyargs, function.args.kw_defaults) if d
    } or None
    closure = dict(parsed.closure)
    func = compile_lifted(tree, parsed, factory.__globals__, closure, (positional, keyword))
    known[key] = func
    return func


def _bound_names(node: gast.AST) -> list[str]:
    """The names ``node`` itself binds or deletes (any binding form)."""
    if isinstance(node, gast.Name) and isinstance(node.ctx, (gast.Store, gast.Del)):
        return [node.id]
    if isinstance(node, gast.alias):
        return [node.asname or node.name.split(".")[0]]
    if isinstance(node, (gast.FunctionDef, gast.ClassDef)):
        return [node.name]
    if isinstance(node, (gast.MatchAs, gast.MatchStar)) and node.name:
        return [node.name]
    if isinstance(node, gast.MatchMapping) and node.rest:
        return [node.rest]
    return []


def _choice_leaves(node: gast.expr) -> list[gast.expr]:
    """The values ``a if c else (b if d else e)`` can take (the expression itself
    otherwise)."""
    if isinstance(node, gast.IfExp):
        return _choice_leaves(node.body) + _choice_leaves(node.orelse)
    return [node]


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
    return isinstance(obj, (types.FunctionType, types.BuiltinFunctionType, np.ufunc)) or type(
        obj
    ).__name__ in ("_ArrayFunctionDispatcher",)


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

    view = dataclasses.replace(parsed, closure=closure, function_values=values)
    context = LoweringContext(view, tree, NameAllocator(name_ids(tree) | set(closure)))
    _Scope(context, dict(values)).run()
    closure.update(context.cells)


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


def sort_order(keys: list, reverse: bool = False) -> list[int]:
    """The positions of ``keys`` in the order ``sorted(..., key=, reverse=)`` puts them
    (stable, as sorted is)."""
    return sorted(range(len(keys)), key=keys.__getitem__, reverse=reverse)


def first_max_position(keys: list) -> int:
    """The position of the first largest key (the element ``max(..., key=)`` returns)."""
    return max(range(len(keys)), key=keys.__getitem__) if keys else max(keys)


def first_min_position(keys: list) -> int:
    """The position of the first smallest key (the element ``min(..., key=)`` returns)."""
    return min(range(len(keys)), key=keys.__getitem__) if keys else min(keys)


def _assign(name: str, value: gast.expr) -> gast.Assign:
    return gast.Assign(targets=[_name(name, store=True)], value=value, type_comment=None)


def _append(name: str, value: gast.expr) -> gast.Expr:
    method = gast.Attribute(value=_name(name), attr="append", ctx=gast.Load())
    return gast.Expr(value=gast.Call(func=method, args=[value], keywords=[]))


register_nondifferentiable(
    check_default_function, check_function_defined, check_vectorized_outputs, pure=False
)
register_nondifferentiable(sort_order, first_max_position, first_min_position)


def _param(identifier: str, like: gast.AST) -> gast.Name:
    node = gast.Name(id=identifier, ctx=gast.Param(), annotation=None, type_comment=None)
    return gast.copy_location(node, like)
