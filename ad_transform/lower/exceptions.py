"""Lowering of ``try`` / ``except`` / ``else`` / ``finally`` and ``with``.

The path that ran is the path differentiated. Each statement of a ``try`` body (and of a
``with`` body) becomes a *catching statement*: an ``if`` marked ``ad_catch`` whose body is
the statement and whose ``else`` branch records the exception::

    if True:                      # ad_catch: the forward sweep prints it as
        y = y / z                 #   try:
    else:                         #       y_1 = y / z
        raised = True             #   except BaseException:
        caught = ad_runtime.current_exception()   # ran = False; raised = True; ...

The forward sweep runs the body in a ``try`` and, if it raises, sets the test to False and
runs the ``else`` branch instead (the SSA joins there give every name the value it had
before the statement). To every later stage the statement is an ordinary branch, taken if
it completed: the backward sweep replays the adjoints of exactly the statements that
completed. The statements after one that may raise are guarded by ``if not raised:``;
loops in the body end with ``if raised: break``. ``return``, and ``break``/``continue``
that leave the ``try``, set ``raised`` and a flag of their own (``returning``...), so that
``finally`` runs before they are carried out after it. Handlers are an ``if`` chain on
``ad_runtime.exception_matches(caught, E)``; an exception no handler takes is raised
again (``ad_runtime.reraise``) after ``finally``. With a ``finally`` clause, the handlers
and ``else`` are protected the same way, so that ``finally`` runs when they raise.

``with m as v: body`` is ``v = ad_runtime.enter_context(m)``, the body protected like a
``try`` body, then ``raised = ad_runtime.exit_context(m, caught)`` (``__exit__`` may
suppress the exception) and the re-raise. ``np.errstate(...)`` and
``warnings.catch_warnings(...)`` with constant arguments also wrap the body's backward
sweep (the body is an ``if True:`` marked ``ad_context``).
"""

from __future__ import annotations

import builtins
import contextlib
import warnings

import gast
import numpy as np

from .. import runtime
from ..nodes import children, subnodes

# Context managers whose numerics the backward sweep of the body keeps (a new one each time).
_NUMERIC_CONTEXTS = (np.errstate, warnings.catch_warnings)
# Context managers that need nothing in the backward sweep.
_INERT_CONTEXTS = (contextlib.nullcontext, contextlib.suppress)


def run(context) -> None:
    """Lower every ``try`` and ``with`` statement of ``context.tree`` (in place)."""
    context.tree.body = _Lowering(context).block(context.tree.body)


def applies(tree: gast.FunctionDef) -> bool:
    """Whether ``tree`` has a ``try`` or ``with`` statement to lower."""
    return any(isinstance(node, (gast.Try, gast.With)) for node in subnodes(tree))


run.applies = applies


def _located(node, like):
    for attr in ("lineno", "col_offset", "end_lineno", "end_col_offset"):
        if getattr(like, attr, None) is not None and getattr(node, attr, None) is None:
            setattr(node, attr, getattr(like, attr))
    for child in children(node):
        if not isinstance(child, gast.stmt):
            _located(child, like)
    return node


def _name(identifier: str, store: bool = False) -> gast.Name:
    ctx = gast.Store() if store else gast.Load()
    return gast.Name(id=identifier, ctx=ctx, annotation=None, type_comment=None)


def _const(value) -> gast.Constant:
    return gast.Constant(value=value, kind=None)


def _assign(target: str, value: gast.expr, like) -> gast.Assign:
    return _located(
        gast.Assign(targets=[_name(target, True)], value=value, type_comment=None), like
    )


def _not(expr: gast.expr) -> gast.expr:
    return gast.UnaryOp(op=gast.Not(), operand=expr)


def _if(test, body, orelse, like) -> gast.If:
    return _located(gast.If(test=test, body=body, orelse=orelse), like)


class _Region:
    """The flags of one ``try`` or ``with``: ``raised`` (left early), ``caught`` (the
    exception, or None) and the exits that leave it (created when first needed)."""

    def __init__(self, lowering: _Lowering) -> None:
        self.lowering = lowering
        self.raised = lowering.context.flag("raised")
        self.caught = lowering.context.flag("caught")
        self.exits: dict[str, str] = {}  # 'return' / 'break' / 'continue' -> its flag
        self.result: str | None = None  # the value of a 'return' (a local)

    def exit_flag(self, kind: str) -> str:
        if kind not in self.exits:
            word = {"return": "returning", "break": "breaking", "continue": "continuing"}
            self.exits[kind] = self.lowering.context.flag(word[kind])
        return self.exits[kind]


class _Lowering:
    def __init__(self, context) -> None:
        self.context = context
        self.runtime = context.module("ad_runtime", runtime)

    # -- walking the function ----------------------------------------------------------
    def block(self, stmts: list) -> list:
        out = []
        for stmt in stmts:
            out.extend(self.statement(stmt))
        return out

    def statement(self, stmt) -> list:
        if isinstance(stmt, gast.Try):
            return self.lower_try(stmt)
        if isinstance(stmt, gast.With):
            return self.lower_with(stmt, stmt.items)
        if isinstance(stmt, (gast.If, gast.For, gast.While)):
            stmt.body = self.block(stmt.body)
            stmt.orelse = self.block(stmt.orelse)
        return [stmt]

    def call(self, function: str, args: list, like) -> gast.Call:
        func = gast.Attribute(value=_name(self.runtime), attr=function, ctx=gast.Load())
        return _located(gast.Call(func=func, args=args, keywords=[]), like)

    def call_statement(self, function: str, args: list, like) -> gast.Expr:
        return _located(gast.Expr(value=self.call(function, args, like)), like)

    # -- try ---------------------------------------------------------------------------
    def lower_try(self, stmt: gast.Try) -> list:
        region = _Region(self)
        final = self.raises_lowered(self.block(stmt.finalbody), None)
        body = self.protect(self.raises_lowered(self.block(stmt.body), None), region, 0)
        handlers = []
        for handler in stmt.handlers:
            handlers.append((handler, self.raises_lowered(self.block(handler.body), region)))
        orelse = self.raises_lowered(self.block(stmt.orelse), None)
        if stmt.finalbody:  # what the handlers and 'else' raise waits for 'finally'
            handlers = [(h, self.protect(b, region, 0)) for h, b in handlers]
            orelse = self.protect(orelse, region, 0)
        out = self.start(region, stmt) + body
        dispatch = None
        for handler, handler_body in reversed(handlers):
            kinds = handler.type if handler.type is not None else _name("BaseException")
            if handler.type is None and self.context.parsed.lookup("BaseException") is not (
                builtins.BaseException
            ):
                raise self.context.error(
                    "unsupported construct: a bare 'except:' where 'BaseException' is redefined",
                    handler,
                )
            test = self.call("exception_matches", [_name(region.caught), kinds], handler)
            taken = [_assign(region.raised, _const(False), handler)]
            if handler.name is not None:
                taken.append(_assign(handler.name.id, _name(region.caught), handler))
            taken.extend(handler_body)
            dispatch = [_if(test, taken, dispatch or [], handler)]
        if dispatch or orelse:
            out.append(_if(_name(region.raised), dispatch or [gast.Pass()], orelse, stmt))
        out.extend(final)
        return out + self.finish(region, stmt)

    def start(self, region: _Region, like) -> list:
        return [
            _assign(region.raised, _const(False), like),
            _assign(region.caught, _const(None), like),
        ] + [_assign(flag, _const(False), like) for flag in region.exits.values()]

    def finish(self, region: _Region, like) -> list:
        """After ``finally`` (or ``__exit__``): the exits, then the pending exception."""
        out = []
        for kind, flag in region.exits.items():
            if kind == "return":
                jump = gast.Return(value=_name(region.result))
            else:
                jump = gast.Break() if kind == "break" else gast.Continue()
            out.append(_if(_name(flag), [_located(jump, like)], [], like))
        reraise = self.call_statement("reraise", [_name(region.caught)], like)
        out.append(_if(_name(region.raised), [reraise], [], like))
        return out

    def raises_lowered(self, stmts: list, region: _Region | None) -> list:
        """``raise`` statements as calls of ``ad_runtime.throw`` (a bare ``raise`` in a
        handler of ``region``: ``ad_runtime.reraise(caught)``), in branches and loops, not
        in functions defined there; nested ``try`` statements were lowered before."""
        out = []
        for stmt in stmts:
            if isinstance(stmt, gast.Raise):
                out.append(self.raise_call(stmt, region))
                continue
            if isinstance(stmt, (gast.If, gast.For, gast.While)):
                stmt.body = self.raises_lowered(stmt.body, region)
                stmt.orelse = self.raises_lowered(stmt.orelse, region)
            out.append(stmt)
        return out

    def raise_call(self, stmt: gast.Raise, region: _Region | None) -> gast.Expr:
        if stmt.exc is None:
            if region is None:
                raise self.context.error(
                    "unsupported construct: a bare 'raise' outside an 'except' clause", stmt
                )
            return self.call_statement("reraise", [_name(region.caught)], stmt)
        args = [stmt.exc]
        if stmt.cause is not None:
            args += [stmt.cause, _const(True)]
        return self.call_statement("throw", args, stmt)

    # -- with --------------------------------------------------------------------------
    def lower_with(self, stmt: gast.With, items: list) -> list:
        item, rest = items[0], items[1:]
        inner = self.lower_with(stmt, rest) if rest else self.block(stmt.body)
        region = _Region(self)
        manager = self.context.fresh("manager")
        out = [_assign(manager, item.context_expr, item.context_expr)]
        entered = self.call("enter_context", [_name(manager)], item.context_expr)
        if item.optional_vars is None:
            out.append(_located(gast.Expr(value=entered), item.context_expr))
        else:
            target = _located(
                gast.Assign(targets=[item.optional_vars], value=entered, type_comment=None),
                item.context_expr,
            )
            out.append(target)
        body = self.protect(self.raises_lowered(inner, None), region, 0)
        wrapper = self.backward_context(item.context_expr)
        if wrapper is not None and body:
            region_if = _if(_const(True), body, [], stmt)
            region_if.ad_context = wrapper
            body = [region_if]
        exit_call = self.call("exit_context", [_name(manager), _name(region.caught)], stmt)
        leave = _assign(region.raised, exit_call, stmt)
        return out + self.start(region, stmt) + body + [leave] + self.finish(region, stmt)

    def backward_context(self, expr: gast.expr) -> gast.expr | None:
        """The manager expression to wrap the body's backward sweep in, if it changes
        numerics (``np.errstate(divide="ignore")``); None for managers that need nothing
        there (user managers are entered once, by the forward sweep)."""
        if not isinstance(expr, gast.Call):
            return None
        target = self.static_object(expr.func)
        if not any(target is known for known in _NUMERIC_CONTEXTS):
            return None
        arguments = [*expr.args, *(k.value for k in expr.keywords)]
        if not all(isinstance(a, gast.Constant) for a in arguments) or any(
            k.arg is None for k in expr.keywords
        ):
            raise self.context.error(
                "unsupported construct: a numeric context manager with arguments that are "
                "not constants (its backward sweep runs under the same settings)",
                expr,
            )
        if target is np.errstate:
            # the adjoint code neither warns nor raises where the function did not (the
            # adjoint of sqrt at 0 meets inf * 0): its errstate ignores everything
            ignore = gast.keyword(arg="all", value=gast.Constant(value="ignore", kind=None))
            return gast.Call(func=expr.func, args=[], keywords=[ignore])
        return expr

    def static_object(self, expr: gast.expr):
        """What a dotted name rooted at a global (``np.errstate``) refers to, or None."""
        chain = []
        while isinstance(expr, gast.Attribute):
            chain.append(expr.attr)
            expr = expr.value
        if not isinstance(expr, gast.Name) or expr.id in self.context.parsed.local_names:
            return None
        obj = self.context.parsed.lookup(expr.id)
        for attr in reversed(chain):
            obj = getattr(obj, attr, None)
        return obj

    # -- protected regions -------------------------------------------------------------
    def protect(self, stmts: list, region: _Region, loops: int) -> list:
        """``stmts`` with each statement that may raise made a catching statement, and
        the statements after it guarded by ``if not raised:``. ``loops``: how many loops
        of the region enclose ``stmts`` (a ``break`` there stays inside the region)."""
        out = []
        for index, stmt in enumerate(stmts):
            pieces, may_stop = self.protected(stmt, region, loops)
            out.extend(pieces)
            rest = stmts[index + 1 :]
            if may_stop and rest:
                guarded = self.protect(rest, region, loops)
                out.append(_if(_not(_name(region.raised)), guarded, [], rest[0]))
                return out
        return out

    def protected(self, stmt, region: _Region, loops: int) -> tuple[list, bool]:
        """One statement of a protected block: its lowered form, and whether the block
        may stop after it (an exception, or an exit of the region)."""
        if isinstance(stmt, gast.Pass) or getattr(stmt, "ad_catch", False):
            return [stmt], False
        if isinstance(stmt, (gast.Break, gast.Continue)):
            if loops:
                return [stmt], False  # desugar guards what follows
            kind = "break" if isinstance(stmt, gast.Break) else "continue"
            return self.leave(region, kind, stmt), True
        if isinstance(stmt, gast.Return):
            if stmt.value is None:
                raise self.context.error("'return' without a value: nothing to differentiate", stmt)
            if region.result is None:
                region.result = self.context.fresh("result")
            store = self.catching(_assign(region.result, stmt.value, stmt), region)
            guarded = _if(_not(_name(region.raised)), self.leave(region, "return", stmt), [], stmt)
            return [store, guarded], True
        if isinstance(stmt, gast.If):
            if not _cannot_raise(stmt.test):
                self.refuse_walrus(stmt.test)
                return self.hoisted(stmt, region, loops), True
            stmt.body = self.protect(stmt.body, region, loops) or [gast.Pass()]
            stmt.orelse = self.protect(stmt.orelse, region, loops)
            return [stmt], True
        if isinstance(stmt, gast.For):
            return self.protected_for(stmt, region, loops), True
        if isinstance(stmt, gast.While):
            return self.protected_while(stmt, region, loops), True
        if _is_flag_assignment(stmt, self.context.flags):
            return [stmt], False
        jump = _jump_inside(stmt)
        if jump is not None:  # a compound statement this lowering does not look into
            raise self.context.error(
                f"unsupported construct: '{type(jump).__name__.lower()}' inside a "
                f"'{type(stmt).__name__.lower()}' statement of a 'try' or 'with' body",
                jump,
            )
        self.refuse_walrus(stmt)
        return [self.catching(stmt, region)], True

    def refuse_walrus(self, node: gast.AST) -> None:
        """A ``:=`` in a statement that may raise after it binds its name in Python, but a
        catching statement gives every name it binds its old value when it raises."""
        for inner in gast.walk(node):
            if isinstance(inner, gast.NamedExpr):
                raise self.context.error(
                    f"unsupported construct: assignment expression ':=' of "
                    f"'{inner.target.id}' inside a 'try' or 'with' body (if the rest of the "
                    "statement raises, Python keeps the binding); assign it in a statement "
                    "of its own",
                    inner,
                )

    def catching(self, stmt, region: _Region) -> gast.If:
        """``stmt`` as a catching statement of ``region``."""
        record = [
            _assign(region.raised, _const(True), stmt),
            _assign(region.caught, self.call("current_exception", [], stmt), stmt),
        ]
        node = _if(_const(True), [stmt], record, stmt)
        node.ad_catch = True
        return node

    def leave(self, region: _Region, kind: str, like) -> list:
        return [
            _assign(region.exit_flag(kind), _const(True), like),
            _assign(region.raised, _const(True), like),
        ]

    def hoisted(self, stmt: gast.If, region: _Region, loops: int) -> list:
        """``if test:`` whose test may raise: ``t = test`` is a statement of its own."""
        test = self.context.fresh("condition")
        stmt_test, stmt.test = stmt.test, _name(test)
        return self.protect([_assign(test, stmt_test, stmt_test), stmt], region, loops)

    def protected_for(self, stmt: gast.For, region: _Region, loops: int) -> list:
        before = []
        if _is_pairing_call(stmt.iter):
            # enumerate(...)/zip(...) stay in the header (normalize reads them there);
            # their arguments are evaluated first, each a protected statement
            assigns = []
            for position, argument in enumerate(stmt.iter.args):
                if not _cannot_raise(argument):
                    items = self.context.fresh("items")
                    assigns.append(_assign(items, argument, argument))
                    stmt.iter.args[position] = _name(items)
            before = self.protect(assigns, region, loops) if assigns else []
        elif not (_is_range_of_atoms(stmt.iter) or _cannot_raise(stmt.iter)):
            items = self.context.fresh("items")
            before = self.protect([_assign(items, stmt.iter, stmt.iter)], region, loops)
            stmt.iter = _name(items)
        stmt.body = self.loop_body(stmt.body, region, loops, stmt)
        stmt.orelse = self.protect(stmt.orelse, region, loops)
        if before:
            return [*before, _if(_not(_name(region.raised)), [stmt], [], stmt)]
        return [stmt]

    def protected_while(self, stmt: gast.While, region: _Region, loops: int) -> list:
        if not _cannot_raise(stmt.test):
            test = self.context.fresh("condition")
            check = _assign(test, stmt.test, stmt.test)
            leave = _if(_not(_name(test)), [_located(gast.Break(), stmt)], [], stmt.test)
            stmt.body = [check, leave, *stmt.body]
            stmt.test = _const(True)
        stmt.body = self.loop_body(stmt.body, region, loops, stmt)
        stmt.orelse = self.protect(stmt.orelse, region, loops)
        return [stmt]

    def loop_body(self, body: list, region: _Region, loops: int, like) -> list:
        stop = _if(_name(region.raised), [_located(gast.Break(), like)], [], like)
        return self.protect(body, region, loops + 1) + [stop]


def _cannot_raise(expr: gast.expr) -> bool:
    """A constant, a name, or ``not`` of one (the tests the lowering writes)."""
    if isinstance(expr, gast.UnaryOp) and isinstance(expr.op, gast.Not):
        expr = expr.operand
    return isinstance(expr, (gast.Constant, gast.Name))


def _jump_inside(stmt) -> gast.stmt | None:
    """A ``return``, ``break`` or ``continue`` nested in ``stmt`` (not in a function it
    defines), or None."""
    todo = [stmt]
    while todo:
        node = todo.pop()
        if node is not stmt and isinstance(node, (gast.Return, gast.Break, gast.Continue)):
            return node
        scopes = (gast.FunctionDef, gast.AsyncFunctionDef, gast.Lambda, gast.ClassDef)
        if isinstance(node, scopes) and node is not stmt:
            continue
        todo.extend(children(node))
    return None


def _is_pairing_call(expr: gast.expr) -> bool:
    """``enumerate(xs)`` or ``zip(xs, ys)`` (positional arguments): kept in the loop header,
    where normalize makes them an indexed loop (as for ``range``, a ``TypeError`` of the
    call itself is not caught by the ``try``)."""
    return (
        isinstance(expr, gast.Call)
        and isinstance(expr.func, gast.Name)
        and expr.func.id in ("enumerate", "zip")
        and not expr.keywords
        and bool(expr.args)
        and not any(isinstance(a, gast.Starred) for a in expr.args)
    )


def _is_range_of_atoms(expr: gast.expr) -> bool:
    """``range(n)``, ``range(a, b)``, ``zip(x, y)``, ``enumerate(x)`` of names and numbers:
    kept, so the loop stays a loop the normalizer knows (a ``TypeError`` of the call itself,
    for an argument that is not a number or not iterable, is not caught by the ``try``)."""
    return (
        isinstance(expr, gast.Call)
        and isinstance(expr.func, gast.Name)
        and expr.func.id in ("range", "zip", "enumerate")  # also zip(x, y), enumerate(x)
        and all(k.arg == "start" and expr.func.id == "enumerate" for k in expr.keywords)
        and all(isinstance(a, (gast.Name, gast.Constant)) for a in expr.args)
        and all(isinstance(k.value, (gast.Name, gast.Constant)) for k in expr.keywords)
    )


def _is_flag_assignment(stmt, flags: set[str]) -> bool:
    """``name = constant`` or ``name = flag``: cannot raise (the lowering's own flags;
    reading a user's name may raise ``UnboundLocalError``)."""
    return (
        isinstance(stmt, gast.Assign)
        and all(isinstance(t, gast.Name) for t in stmt.targets)
        and (
            isinstance(stmt.value, gast.Constant)
            or (isinstance(stmt.value, gast.Name) and stmt.value.id in flags)
        )
    )
