"""Lowering of simple statements: ``assert``, ``raise``, imports, ``global``/``nonlocal``.

- ``assert test, msg`` becomes ``if not test: raise_exception(AssertionError(msg))`` (the
  builtin ``AssertionError``, whatever the user's module calls by that name; nothing
  under ``python -O``, as Python does). The branch is an ordinary ``if``: the forward
  sweep raises the user's error, the backward sweep never sees the path that raised.
- ``raise e`` / ``raise e from c`` / bare ``raise`` become calls of
  ``runtime.raise_exception`` / ``runtime.reraise_current``: expression statements the later
  stages already treat as opaque calls run for their effect. An exception built from a
  value that depends on a differentiated argument is refused by the analysis like any
  opaque call given one (a text of it, ``f"{x}"``, is not such a value).
- ``import m`` / ``from m import f`` at the top level of the function bind the user's
  own name to the object imported now (``ParsedFunction.lowered_objects``), as a global
  lookup would: the analysis resolves ``m.sin`` and ``f`` to NumPy's or math's.
- ``global g`` / ``nonlocal n``: each read in a simple statement becomes a local snapshot
  first (``g_read = module_globals['g']``, ``n_read = n_cell.cell_contents``), which the
  statement, and so the backward sweep, reads: a later write in the function must not
  change what an adjoint reads, nor may a loop take the value for a constant. Each write
  becomes ``set_global(module_globals, 'g', value)`` or ``set_cell(n_cell, value)``.
  ``g += v`` keeps Python's in-place meaning (``iadd(g, v)``). Writing a value that
  depends on a differentiated argument is refused (the analysis's hidden-flow check).
"""

from __future__ import annotations

import operator
import sys
from typing import TYPE_CHECKING

import gast

from .. import runtime
from ..nodes import subnodes

if TYPE_CHECKING:
    from . import LoweringContext

_SCOPES = (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef, gast.Lambda)

_IN_PLACE = {
    gast.Add: operator.iadd,
    gast.Sub: operator.isub,
    gast.Mult: operator.imul,
    gast.Div: operator.itruediv,
    gast.FloorDiv: operator.ifloordiv,
    gast.Mod: operator.imod,
    gast.Pow: operator.ipow,
    gast.MatMult: operator.imatmul,
    gast.BitAnd: operator.iand,
    gast.BitOr: operator.ior,
    gast.BitXor: operator.ixor,
    gast.LShift: operator.ilshift,
    gast.RShift: operator.irshift,
}


def run(context: LoweringContext) -> None:
    """Lower the simple statements of ``context.tree`` in place."""
    _Statements(context).run()


def _located(node: gast.AST, like: gast.AST) -> gast.AST:
    for attr in ("lineno", "col_offset", "end_lineno", "end_col_offset"):
        value = getattr(like, attr, None)
        if value is not None and getattr(node, attr, None) is None:
            setattr(node, attr, value)
    return node


def _name(identifier: str, like: gast.AST, store: bool = False) -> gast.Name:
    ctx = gast.Store() if store else gast.Load()
    return _located(gast.Name(id=identifier, ctx=ctx, annotation=None, type_comment=None), like)


def _call(func: str, args: list, like: gast.AST) -> gast.Call:
    return _located(gast.Call(func=_name(func, like), args=args, keywords=[]), like)


def _located_tree(node: gast.AST, like: gast.AST) -> gast.AST:
    for sub in gast.walk(node):
        _located(sub, like)
    return node


def _statement_lists(node: gast.AST):
    """The statement lists directly inside ``node`` (bodies, ``else`` blocks, cases)."""
    for field in ("body", "orelse", "finalbody"):
        value = getattr(node, field, None)
        if isinstance(value, list) and value and isinstance(value[0], gast.stmt):
            yield value
    for handler in getattr(node, "handlers", ()) or ():
        yield handler.body
    for case in getattr(node, "cases", ()) or ():
        yield case.body


class _Statements:
    def __init__(self, context: LoweringContext) -> None:
        self.context = context
        self.parsed = context.parsed
        self.declared: dict[str, str] = {}  # name -> "global" / "nonlocal"

    def run(self) -> None:
        tree = self.context.tree
        self.collect_declarations(tree.body)
        self.bind_imports(tree.body)
        tree.body = self.block(tree.body) or [_located(gast.Pass(), tree)]

    # -- declarations and imports --------------------------------------------------------
    def collect_declarations(self, body: list) -> None:
        for stmt in body:
            if isinstance(stmt, _SCOPES):
                continue
            if isinstance(stmt, (gast.Global, gast.Nonlocal)):
                kind = "global" if isinstance(stmt, gast.Global) else "nonlocal"
                for name in stmt.names:
                    if kind == "nonlocal" and name not in self.parsed.closure:
                        raise self.context.error(
                            f"unsupported construct: 'nonlocal {name}' of a variable that "
                            "is not a closure variable of the function",
                            stmt,
                        )
                    self.declared[name] = kind
            for inner in _statement_lists(stmt):
                self.collect_declarations(inner)

    def bind_imports(self, body: list) -> None:
        """Imports at the top level of the body bind their names now, as globals would be."""
        for index, stmt in enumerate(body):
            if not isinstance(stmt, (gast.Import, gast.ImportFrom)):
                continue
            for name, obj in self.imported(stmt):
                self.refuse_other_bindings(name, stmt, body[:index])
                self.context.objects[name] = obj

    def imported(self, stmt) -> list[tuple[str, object]]:
        found = []
        globals_ = self.parsed.globals
        try:
            if isinstance(stmt, gast.Import):
                for alias in stmt.names:
                    module = __import__(alias.name, globals_, None, [], 0)
                    if alias.asname is None:
                        found.append((alias.name.split(".")[0], module))
                    else:
                        for part in alias.name.split(".")[1:]:
                            module = getattr(module, part)
                        found.append((alias.asname, module))
                return found
            names = [alias.name for alias in stmt.names]
            if "*" in names:
                raise self.context.error(
                    "unsupported construct: 'from ... import *' inside a function", stmt
                )
            module = __import__(stmt.module or "", globals_, None, names, stmt.level)
            for alias in stmt.names:
                found.append((alias.asname or alias.name, getattr(module, alias.name)))
            return found
        except (ImportError, AttributeError) as exc:
            raise self.context.error(
                f"the import inside the function fails: {type(exc).__name__}: {exc}", stmt
            ) from None

    def refuse_other_bindings(self, name: str, stmt, before: list) -> None:
        tree = self.context.tree
        binders = [
            node
            for node in gast.walk(tree)
            if isinstance(node, gast.Name)
            and node.id == name
            and not isinstance(node.ctx, gast.Load)
        ]
        params = [a.id for a in (*tree.args.posonlyargs, *tree.args.args, *tree.args.kwonlyargs)]
        imports = [
            node
            for node in gast.walk(tree)
            if isinstance(node, (gast.Import, gast.ImportFrom))
            and node is not stmt
            and any((a.asname or a.name.split(".")[0]) == name for a in node.names)
        ]
        if binders or imports or name in params or name in self.declared:
            raise self.context.error(
                f"unsupported construct: '{name}' is imported inside the function and also "
                "bound otherwise there; an import inside a differentiated function must be "
                "the only binding of its name",
                stmt,
            )
        if any(isinstance(n, gast.Name) and n.id == name for n in subnodes(before)):
            raise self.context.error(
                f"'{name}' is read before the import inside the function that binds it", stmt
            )

    # -- statements ------------------------------------------------------------------------
    def block(self, stmts: list) -> list:
        out = []
        for stmt in stmts:
            out.extend(self.statement(stmt))
        return out

    def statement(self, stmt) -> list:
        if isinstance(stmt, _SCOPES):
            return [stmt]
        if isinstance(stmt, gast.Assert):
            return self.assertion(stmt)
        if isinstance(stmt, gast.Raise):
            return [self.raising(stmt)]
        if isinstance(stmt, (gast.Global, gast.Nonlocal)):
            return []
        if isinstance(stmt, (gast.Import, gast.ImportFrom)):
            if not any(
                self.context.objects.get(a.asname or a.name.split(".")[0]) is not None
                for a in stmt.names
            ):
                raise self.context.error(
                    "unsupported construct: an import inside a block of the function (only "
                    "imports at the top level of its body are bound)",
                    stmt,
                )
            return []
        if self.declared:
            reads = self.declared_reads(stmt)
            lowered = self.declared_write(stmt)
            if lowered is not None:
                return [*reads, lowered]
            if reads:
                return [*reads, stmt]
        for inner in _statement_lists(stmt):
            inner[:] = self.block(inner) or [_located(gast.Pass(), stmt)]
        return [stmt]

    def declared_reads(self, stmt) -> list:
        """``S_read = S`` before a simple statement that reads the ``global``/``nonlocal``
        ``S``, which the statement then reads instead: the value at this point of the
        forward sweep, a local the backward sweep reads (or the tape keeps), not the
        variable, which a later write in the function changes."""
        if next(_statement_lists(stmt), None) is not None or isinstance(stmt, _SCOPES):
            return []  # a compound statement's test: forward only, its body lowered apart
        reads = []
        snapshots: dict[str, str] = {}
        for node in gast.walk(stmt):
            if not (isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load)):
                continue
            if node.id not in self.declared:
                continue
            if node.id not in snapshots:
                snapshots[node.id] = self.context.fresh(node.id + "_read")
                read = gast.Assign(
                    targets=[_name(snapshots[node.id], node, store=True)],
                    value=self.variable_read(node.id, node),
                    type_comment=None,
                )
                reads.append(_located(read, stmt))
            node.id = snapshots[node.id]
        return reads

    def variable_read(self, name: str, like) -> gast.expr:
        """``module_globals['S']`` or ``n_cell.cell_contents``: a read of the variable the
        analysis takes for what it is, a value that may differ at each read (a bare ``S``
        holding a number would be a constant of the loops it is read in)."""
        if self.declared[name] == "global":
            namespace = _name(self.context.bind("module_globals", self.parsed.globals), like)
            key = _located(gast.Constant(value=name, kind=None), like)
            return _located(gast.Subscript(value=namespace, slice=key, ctx=gast.Load()), like)
        cell = _name(self.context.bind(name + "_cell", self.parsed.closure[name]), like)
        return _located(gast.Attribute(value=cell, attr="cell_contents", ctx=gast.Load()), like)

    def assertion(self, stmt: gast.Assert) -> list:
        if sys.flags.optimize:
            return []  # python -O: asserts are not run
        error = self.context.bind("AssertionError", AssertionError)
        args = [] if stmt.msg is None else [stmt.msg]
        raised = self.raise_call(_call(error, args, stmt), None, stmt)
        test = _located(gast.UnaryOp(op=gast.Not(), operand=stmt.test), stmt.test)
        return [_located(gast.If(test=test, body=[raised], orelse=[]), stmt)]

    def raising(self, stmt: gast.Raise) -> gast.stmt:
        if stmt.exc is None:
            helper = self.context.bind("reraise_current", runtime.reraise_current)
            return _located(gast.Expr(value=_call(helper, [], stmt)), stmt)
        return self.raise_call(stmt.exc, stmt.cause, stmt)

    def raise_call(self, exc: gast.expr, cause: gast.expr | None, like) -> gast.stmt:
        helper = self.context.bind("raise_exception", runtime.raise_exception)
        args = [exc] if cause is None else [exc, cause]
        raised = _located(gast.Expr(value=_call(helper, args, like)), like)
        raised.ad_raise = True
        return raised

    def declared_write(self, stmt) -> gast.stmt | None:
        """A write of a ``global``/``nonlocal`` name as a call that changes the variable."""
        stored = {
            n.id
            for n in gast.walk(stmt)
            if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load)
        } & self.declared.keys()
        stored -= {n for n in stored if not self.stored_here(stmt, n)}
        if not stored:
            return None
        target, value = None, None
        if (
            isinstance(stmt, gast.Assign)
            and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], gast.Name)
        ):
            target, value = stmt.targets[0], stmt.value
        elif isinstance(stmt, gast.AnnAssign) and isinstance(stmt.target, gast.Name):
            target, value = stmt.target, stmt.value
        elif isinstance(stmt, gast.AugAssign) and isinstance(stmt.target, gast.Name):
            target = stmt.target
            operation = self.context.bind(
                _IN_PLACE[type(stmt.op)].__name__, _IN_PLACE[type(stmt.op)]
            )
            value = _call(operation, [_name(target.id, target), stmt.value], stmt)
        if target is None or value is None:
            name = sorted(stored)[0]
            raise self.context.error(
                f"unsupported construct: this statement binds the {self.declared[name]} "
                f"'{name}'; only 'name = value' and 'name op= value' can change a "
                f"{self.declared[name]} variable in a differentiated function",
                stmt,
            )
        name = target.id
        if self.declared[name] == "global":
            namespace = self.context.bind("module_globals", self.parsed.globals)
            helper = self.context.bind("set_global", runtime.set_global)
            args = [_name(namespace, stmt), _located(gast.Constant(value=name, kind=None), stmt)]
        else:
            cell = self.context.bind(name + "_cell", self.parsed.closure[name])
            helper = self.context.bind("set_cell", runtime.set_cell)
            args = [_name(cell, stmt)]
        call = _call(helper, [*args, value], stmt)
        return _located(gast.Expr(value=call), stmt)

    def stored_here(self, stmt, name: str) -> bool:
        """Whether ``stmt`` itself (not a statement nested in it) binds ``name``."""
        nested = [s for inner in _statement_lists(stmt) for s in inner]
        if isinstance(stmt, _SCOPES):
            return False
        inner_nodes = {id(n) for s in nested for n in gast.walk(s)}
        return any(
            isinstance(n, gast.Name)
            and n.id == name
            and not isinstance(n.ctx, gast.Load)
            and id(n) not in inner_nodes
            for n in gast.walk(stmt)
        )
