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

This module holds the pass's driver and the rewriting of one function body
(``_Scope``); its jobs live in modules of their own, mixed into ``_Scope``:
``lifting.py`` (inner ``def``/``lambda`` and their captures, ``nonlocal``),
``closure_factories.py`` (functions returned by a helper), ``function_arguments.py``
(specialisations on a function argument or a function default), ``builtin_loops.py``
(``map``/``filter``/``reduce``/``key=``/``np.vectorize`` as loops); shared data and tree
helpers are in ``function_values.py``, compiling and registering lifted functions in
``function_registry.py``.
"""

from __future__ import annotations

import functools
import types

import gast
import numpy as np

from ..nodes import clone, subnodes
from . import function_holders
from .builtin_loops import BuiltinLoops
from .closure_factories import ClosureFactories, _may_return_function, returned_function
from .function_arguments import FunctionArguments
from .function_registry import (
    _cell_full,
    _cell_holds,
    _definition_key,
    check_function_defined,
)
from .function_values import (
    FunctionValue,
    _assign,
    _bound,
    _bound_names,
    _choice_leaves,
    _display,
    _is_function,
    _is_user_function,
    _locate,
    _name,
    _own_nodes,
    _parameters,
    stmt_key,
)
from .lifting import Lifting


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


class _Scope(Lifting, ClosureFactories, FunctionArguments, BuiltinLoops):
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

    # -- names under which this scope reaches a function -----------------------------------
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
        captured = self.capture_keywords(value, like)
        given = {k.arg for k in captured}  # a call lowered again (a 'while' test) has them
        call = gast.Call(
            func=func,
            args=[clone(a) for a in value.prefix] + list(args),
            keywords=[gast.keyword(arg=k, value=clone(v)) for k, v in value.prefix_keywords]
            + [k for k in keywords if k.arg not in given]
            + captured,
        )
        _locate(call, like)
        callee = value.obj if _cell_full(value.cell) else None
        if _is_user_function(callee):
            return self.no_function_values(self.specialised(call, callee, call.func))
        return self.no_function_values(call)

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
