"""Stage 2: desugar the user's function and put it in SSA / A-normal form.

After this stage every statement is one primitive operation whose operands are
atoms (names, constants or references to module attributes such as ``np.pi``),
every local name is assigned once (``x``, ``x_1``, ``x_2`` ... for a reassigned
``x``), and every statement remembers the line of the source it came from.
"""

from __future__ import annotations

import dataclasses
import types
from dataclasses import dataclass, field

import gast

from . import runtime
from .aliases import plan_aliases
from .desugar import desugar
from .names import NameAllocator
from .nodes import clone, name_ids, subnodes
from .normalize_assignments import Assignments
from .normalize_control import ControlFlow
from .normalize_expressions import Expressions
from .normalize_nodes import _assign, _assigned_names, _copy_location, _copy_location_of, _name
from .parse import ParsedFunction

# Statements and expressions that are rejected, with the words used to name them.
# (``assert``, ``raise``, ``match``, imports and ``global``/``nonlocal`` are lowered
# before this stage: lower/statements.py, lower/match.py.)
_UNSUPPORTED_STATEMENTS = {
    gast.AsyncWith: "'async with' statement",
    gast.AsyncFor: "'async for' loop",
    gast.AsyncFunctionDef: "nested 'async def'",
    gast.FunctionDef: "nested function definition",
    gast.ClassDef: "class definition inside a differentiated function",
}
_UNSUPPORTED_EXPRESSIONS = {
    gast.Lambda: "lambda expression",
    gast.DictComp: "dict comprehension",
    gast.Yield: "'yield' expression",
    gast.YieldFrom: "'yield from' expression",
    gast.Await: "'await' expression",
    gast.Starred: "starred expression '*x' here (it is supported in list and tuple "
    "displays, assignment targets and zip(*rows))",
    gast.Set: "set display of values other than constants",
}
if hasattr(gast, "Match"):
    _UNSUPPORTED_STATEMENTS[gast.Match] = "'match' statement"
if hasattr(gast, "TryStar"):
    _UNSUPPORTED_STATEMENTS[gast.TryStar] = "'try ... except*' statement"


@dataclass
class NormalizedFunction:
    """The primal function as a flat SSA trace of primitive statements."""

    parsed: ParsedFunction
    tree: gast.FunctionDef
    params: list[str]
    free_names: set[str]
    names: NameAllocator
    source_of: dict[str, str] = field(default_factory=dict)  # SSA name -> user name
    user_locals: frozenset[str] = frozenset()  # the variables the user's own code binds

    @property
    def body(self) -> list[gast.stmt]:
        return self.tree.body


def normalize(parsed: ParsedFunction, procedure: bool = False) -> NormalizedFunction:
    """Rewrite ``parsed.tree`` into SSA / A-normal form (a new tree; the input is untouched).

    ``procedure``: a helper called by a differentiated function may end without a
    ``return`` or use a bare ``return``, as Python allows; both return ``None``."""
    if procedure:
        parsed = _returning_none(parsed)
    return _Normalizer(parsed).run()


def _returning_none(parsed: ParsedFunction) -> ParsedFunction:
    """``parsed`` with each bare ``return`` as ``return None``, and one at the end if the
    body can fall off it (a copy: the input is untouched)."""
    tree = clone(parsed.tree)
    for node in subnodes(tree):
        if isinstance(node, gast.Return) and node.value is None:
            node.value = _copy_location_of(gast.Constant(value=None, kind=None), node)
    if not tree.body or not isinstance(tree.body[-1], gast.Return):
        last = _copy_location_of(
            gast.Return(value=gast.Constant(value=None, kind=None)), tree.body[-1]
        )
        _copy_location(last.value, last)
        tree.body.append(last)
    return dataclasses.replace(parsed, tree=tree)


def is_atom(node: gast.AST) -> bool:
    """Names, constants and static attribute references (``np.pi``) are atoms."""
    return isinstance(node, (gast.Name, gast.Constant)) or getattr(node, "ad_static", False)


class _Normalizer(ControlFlow, Assignments, Expressions):
    """The SSA / A-normal form of one function: the driver and the primitive statements
    here; control flow in ``normalize_control.py``, assignments in
    ``normalize_assignments.py``, expressions in ``normalize_expressions.py``."""

    def __init__(self, parsed: ParsedFunction) -> None:
        self.parsed = parsed
        self.tree = parsed.tree
        self.params = [
            a.id
            for a in self.tree.args.posonlyargs + self.tree.args.args + self.tree.args.kwonlyargs
        ] + [a.id for a in (self.tree.args.vararg, self.tree.args.kwarg) if a is not None]
        self.local_names = _assigned_names(self.tree.body) | set(self.params)
        self.user_locals = set(self.local_names)  # before desugar and normalize add theirs
        every_name = name_ids(self.tree)
        # co_varnames is Python's own list of the locals: a name it binds is never free
        self.free_names = every_name - self.local_names - parsed.local_names
        self.names = NameAllocator(every_name | parsed.lowered_objects.keys())
        self.claimed: set[str] = set(self.params)
        self.current: dict[str, str] = {p: p for p in self.params}
        self.source_of: dict[str, str] = {p: p for p in self.params}
        self.out: list[gast.stmt] = []
        self.origin: gast.stmt | None = None
        self.unversioned: set[str] = set()
        self.loop_depth = 0
        self.held_derivatives: dict[str, str] = {}  # d = jvp(h): d -> its static name
        # y, pb = vjp(h)(x): pb -> (the static name of its plain pullback, x's held names)
        self.held_pullbacks: dict[str, tuple[str, list[str]]] = {}
        self.temps: set[str] = set()
        self.maybe_unbound: list[str] = []  # defined on one path only: bound to None first
        self.mutations: dict = {}  # id of a statement that changes an object -> MutationInfo
        self.source_statement: gast.stmt | None = None  # the user's statement being normalized
        # SSA name bound to a tuple display -> its atoms (a tuple and SSA names never change)
        self.tuples: dict[str, list[gast.expr]] = {}

    # -- driver ------------------------------------------------------------------------
    def run(self) -> NormalizedFunction:
        body = self.tree.body
        if (
            body
            and isinstance(body[0], gast.Expr)
            and isinstance(body[0].value, gast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            body = body[1:]
        body, self.mutations = plan_aliases(self.parsed, body, self.params)
        body, self.unversioned = desugar(self.parsed, body, self.names)
        self.unversioned |= self.parsed.lowered_flags
        self.local_names |= _assigned_names(body)
        for stmt in body:
            self.statement(stmt)
        if not self.out or not isinstance(self.out[-1], gast.Return):
            raise self.parsed.error(
                f"function '{self.parsed.name}' must end with a 'return' statement of the "
                "value to differentiate",
                self.tree,
            )
        self.out[:0] = [self.unbound_marker(name) for name in dict.fromkeys(self.maybe_unbound)]
        _mark_unbound_reads(self.out, self.user_locals, self.source_of)
        tree = gast.FunctionDef(
            name=self.tree.name,
            args=self.tree.args,
            body=self.out,
            decorator_list=[],
            returns=None,
            type_comment=None,
            **_type_params(),
        )
        _copy_location(tree, self.tree)
        return NormalizedFunction(
            self.parsed,
            tree,
            self.params,
            self.free_names,
            self.names,
            self.source_of,
            frozenset(self.user_locals),
        )

    # -- statements --------------------------------------------------------------------
    def statement(self, stmt: gast.stmt) -> None:
        if self.out and isinstance(self.out[-1], gast.Return):
            raise self.parsed.error("statement after 'return' is never executed", stmt)
        self.origin = self.source_statement = stmt
        for kind, words in _UNSUPPORTED_STATEMENTS.items():
            if isinstance(stmt, kind):
                raise self.parsed.error(f"unsupported construct: {words}", stmt)
        handler = getattr(self, "stmt_" + type(stmt).__name__, None)
        if handler is None:
            raise self.parsed.error(f"unsupported construct: {type(stmt).__name__} statement", stmt)
        handler(stmt)

    def stmt_Pass(self, stmt: gast.Pass) -> None:
        pass

    def stmt_Delete(self, stmt: gast.Delete) -> None:
        """``del x`` of a local: later reads of ``x`` raise ``UnboundLocalError`` as in
        Python (the name gets a new version bound to the unbound placeholder)."""
        for target in stmt.targets:
            if not isinstance(target, gast.Name):
                raise self.parsed.error(
                    "unsupported construct: 'del' of an item or an attribute (only 'del name' "
                    "of a local variable)",
                    target,
                )
            self.load(target)  # a name never assigned before is refused here
            marker = _assign(self.version(target.id), gast.Constant(value=None, kind=None), stmt)
            marker.ad_unbound = True
            self.emit(marker, stmt)
            self.current[target.id] = marker.targets[0].id

    def stmt_Break(self, stmt: gast.Break) -> None:
        self.emit(gast.Break(), stmt)

    def unbound_marker(self, name: str) -> gast.Assign:
        """``name = None``: a join may copy it on a path where Python leaves it unbound."""
        first = self.tree.body[0]
        stmt = _assign(name, gast.Constant(value=None, kind=None), first)
        stmt.origin_line = first.lineno
        stmt.ad_unbound = True
        return stmt

    def bind(self, target: gast.Name, primitive: gast.expr) -> None:
        user_name = target.id
        ssa_name = self.version(user_name)
        self.emit(_assign(ssa_name, primitive, target), self.origin)
        self.current[user_name] = ssa_name
        if isinstance(primitive, gast.Tuple) and user_name not in self.unversioned:
            self.tuples[ssa_name] = list(primitive.elts)  # bound by this statement only

    def version(self, user_name: str) -> str:
        if user_name in self.unversioned:
            self.source_of[user_name] = user_name
            return user_name
        if user_name not in self.claimed:
            self.claimed.add(user_name)
            ssa_name = user_name
        else:
            ssa_name = self.names.numbered(user_name + "_")
        self.source_of[ssa_name] = user_name
        return ssa_name

    def emit(self, stmt: gast.stmt, origin: gast.stmt | None) -> None:
        origin = origin or self.origin
        if getattr(stmt, "lineno", None) is None:
            _copy_location(stmt, origin)
        stmt.origin_line = getattr(origin, "lineno", None)
        self.out.append(stmt)

    # -- expressions -------------------------------------------------------------------
    def atom(self, expr: gast.expr) -> gast.expr:
        """``expr`` as an atom, emitting temporaries for its parts."""
        if isinstance(expr, gast.Constant):
            return expr
        if isinstance(expr, gast.Name):
            return self.load(expr)
        static = self.static_reference(expr)
        if static is not None:
            return static
        primitive = self.primitive(expr)
        if is_atom(primitive):
            return primitive
        return self.temporary(primitive, expr)

    def load(self, name: gast.Name) -> gast.Name:
        if name.id in self.current:
            return _name(self.current[name.id], name)
        if name.id in self.local_names:
            raise self.parsed.error(
                f"local variable '{name.id}' is read before it is assigned", name
            )
        return _name(name.id, name)

    def static_reference(self, expr: gast.expr, callee: bool = False) -> gast.expr | None:
        """``np.linalg.norm``-style chains rooted at a free (global) name, left as they are:
        a value (``np.pi``) only where the root is a module. A chain rooted at another
        object (``counter.c``, ``data.batch``) is read into a temporary where the function
        reads it: the generated code reads it again nowhere, so a later change of the
        object (a method the function calls, a property's next value) is not seen by the
        backward sweep. The callee of a call (``model.predict(x)``) stays a chain."""
        node = expr
        while isinstance(node, gast.Attribute):
            node = node.value
        if not (isinstance(node, gast.Name) and node.id in self.free_names and node is not expr):
            return None
        if not callee and not isinstance(self.parsed.lookup(node.id), types.ModuleType):
            return None
        expr.ad_static = True
        return expr

    def primitive(self, expr: gast.expr) -> gast.expr:
        """``expr`` as one primitive operation on atoms."""
        if isinstance(expr, gast.Set) and all(isinstance(e, gast.Constant) for e in expr.elts):
            # {"a", "b"}: a set of constants (membership tests), no derivative anywhere
            return self.runtime_call(runtime.set_of, list(expr.elts), expr)
        for kind, words in _UNSUPPORTED_EXPRESSIONS.items():
            if isinstance(expr, kind):
                raise self.parsed.error(f"unsupported construct: {words}", expr)
        if isinstance(expr, (gast.Name, gast.Constant)):
            return self.atom(expr)
        handler = getattr(self, "expr_" + type(expr).__name__, None)
        if handler is None:
            raise self.parsed.error(
                f"unsupported construct: {type(expr).__name__} expression", expr
            )
        result = handler(expr)
        _copy_location(result, expr)
        return result


def _mark_unbound_reads(body: list, user_locals: set[str], source_of: dict) -> None:
    """Mark each statement that reads a user's variable Python may find unbound there.

    Placeholders (``ad_unbound``) stand for a variable not yet bound on some path; the SSA
    copies at joins and loop edges (``ad_join``) pass them on without reading them. Any
    other statement that reads a name not bound on every path to it gets
    ``ad_check_bound``: ``(SSA name, user name)`` pairs, for which the forward sweep raises
    ``UnboundLocalError`` as Python would. A function with no such path gets no marks.
    """
    simple = [s for s in subnodes(body) if isinstance(s, gast.Assign | gast.Expr | gast.Return)]
    markers = [
        s
        for s in simple
        if getattr(s, "ad_unbound", False) and source_of.get(s.targets[0].id) in user_locals
    ]
    if not markers:
        return
    for marker in markers:
        marker.ad_unbound_user = True  # the forward binds it to runtime.UNBOUND, not None
    _BoundWalk({s.targets[0].id for s in markers}, source_of).block(body, set())


class _BoundWalk:
    """Which placeholders are certainly bound at each statement, in program order."""

    def __init__(self, placeholders: set[str], source_of: dict) -> None:
        self.placeholders = placeholders
        self.source_of = source_of
        self.marking = True

    def block(self, stmts: list, bound: set[str]) -> set[str]:
        bound = set(bound)
        for stmt in stmts:
            bound = self.statement(stmt, bound)
        return bound

    def check(self, stmt: gast.stmt, reads: set[str], bound: set[str]) -> None:
        if not self.marking or _passes_placeholders_on(stmt):
            return
        unsure = sorted((reads & self.placeholders) - bound)
        if unsure:
            stmt.ad_check_bound = [(n, self.source_of.get(n, n)) for n in unsure]
        elif hasattr(stmt, "ad_check_bound"):
            del stmt.ad_check_bound

    def statement(self, stmt: gast.stmt, bound: set[str]) -> set[str]:
        if isinstance(stmt, gast.If):
            self.check(stmt, name_ids(stmt.test, gast.Load), bound)
            return self.block(stmt.body, bound) & self.block(stmt.orelse, bound)
        if isinstance(stmt, gast.For | gast.While):
            reads = name_ids(stmt.iter if isinstance(stmt, gast.For) else stmt.test, gast.Load)
            self.check(stmt, reads, bound)
            targets = name_ids(stmt.target, gast.Store) if isinstance(stmt, gast.For) else set()
            head, marking = set(bound), self.marking
            self.marking = False
            while True:  # what is bound at the loop's head: on entry and after each iteration
                end = self.block(stmt.body, head | targets)
                if head <= end:
                    break
                head &= end
            self.marking = marking
            self.block(stmt.body, head | targets)
            return head
        if getattr(stmt, "ad_unbound", False):
            return bound - {stmt.targets[0].id}
        self.check(stmt, name_ids(stmt, gast.Load), bound)
        if not isinstance(stmt, gast.Assign):
            return bound
        stored = name_ids(stmt.targets, gast.Store)
        source = stmt.value.id if getattr(stmt, "ad_join", False) else None
        if source in self.placeholders and source not in bound:
            return bound - stored  # passes a placeholder on
        return bound | stored


def _passes_placeholders_on(stmt: gast.stmt) -> bool:
    return any(getattr(stmt, flag, False) for flag in ("ad_join", "ad_unbound", "ad_header"))


def _type_params() -> dict:
    fields = gast.FunctionDef._fields
    return {"type_params": []} if "type_params" in fields else {}
