"""Stage 1b: lower Python constructs to the core language the later stages know.

The normalizer understands a small core: assignments, calls, ``if``, ``for``,
``while``, lists, tuples, item writes and ``return``. Each module of this package
rewrites one family of other Python constructs into that core, at the syntax-tree
level, before desugaring (a comprehension becomes a loop with ``append``; ...); a large
family may span several modules (the functions pass: ``functions.py`` names its parts).
A pass keeps the source location of the construct it replaces on every node it makes,
so generated code and errors still point at the user's line, and takes every new name
from ``LoweringContext.names`` so it clashes with nothing the user wrote.

Adding a family: write ``lower/<family>.py`` with ``run(context) -> None`` that
rewrites ``context.tree`` in place, and add it to ``PASSES`` below. A pass that
cannot lower a construct exactly raises ``context.error(...)`` naming it.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Callable
from dataclasses import dataclass, field

import gast

from ..errors import ADTransformError
from ..names import NameAllocator
from ..nodes import clone, name_ids, subnodes
from . import comprehensions, exceptions


@dataclass
class LoweringContext:
    """What a lowering pass reads and writes: the tree, the namespace, fresh names."""

    parsed: object  # ParsedFunction (not imported: parse imports this package)
    tree: gast.FunctionDef
    names: NameAllocator
    new_locals: set[str] = field(default_factory=set)
    # names of control flags (``raised``): assigned on several paths, never versioned
    flags: set[str] = field(default_factory=set)
    # free names the passes bound to objects of their own (``ad_runtime``: the runtime module)
    closure: dict = field(default_factory=dict)
    objects: dict[str, object] = field(default_factory=dict)
    _bound: dict[tuple[str, int], str] = field(default_factory=dict)

    def bind(self, base: str, obj: object) -> str:
        """A new name, based on ``base``, under which the lowered code reaches ``obj`` (a
        runtime helper, a builtin the user may have shadowed, an imported module): the
        analysis resolves it to ``obj`` and the generated code gets it as a closure cell."""
        key = (base, id(obj))
        if key not in self._bound:
            self._bound[key] = self.names.fresh(base)
            self.objects[self._bound[key]] = obj
        return self._bound[key]

    # names the code reaches through closure cells the passes made (lifted functions)
    cells: dict = field(default_factory=dict)
    removed_locals: set[str] = field(default_factory=set)  # locals now bound to a cell
    dependencies: list = field(default_factory=list)  # (namespace, name, object) read

    def fresh(self, base: str) -> str:
        """A new local name based on ``base`` that clashes with no name in the function."""
        name = self.names.fresh(base)
        self.new_locals.add(name)
        return name

    def flag(self, base: str) -> str:
        """A new local control flag (like ``desugar``'s ``broke``): one name, no versions."""
        name = self.fresh(base)
        self.flags.add(name)
        return name

    def module(self, base: str, module) -> str:
        """A free name bound to ``module`` for the lowered code (``ad_runtime.throw(...)``):
        calls through it are static references, and no dependency of the cached code."""
        for name, cell in self.closure.items():
            if cell.cell_contents is module:
                return name
        name = self.names.fresh(base)
        self.closure[name] = types.CellType(module)
        return name

    def bind_cell(self, name: str, cell) -> None:
        """Make ``name`` a closure cell of the lowered function (no longer a local)."""
        self.cells[name] = cell
        self.names.reserve(name)
        self.removed_locals.add(name)

    def error(self, message: str, node: gast.AST | None = None) -> ADTransformError:
        """An ``ADTransformError`` located at ``node`` in the user's file."""
        return self.parsed.error(message, node)


LoweringPass = Callable[[LoweringContext], None]


def method_statement(
    stmt: gast.stmt, method: str, receivers: set[str]
) -> tuple[str | None, gast.Call] | None:
    """``(target, call)`` of the statement ``t = r.method(...)`` (``target`` the name ``t``)
    or ``r.method(...)`` (``target`` None), where ``r`` is a name in ``receivers``; None
    for any other statement. The passes that lower one method (``xs.pop``,
    ``d.update``) check the call's arguments themselves."""
    if isinstance(stmt, gast.Expr):
        target, call = None, stmt.value
    elif (
        isinstance(stmt, gast.Assign)
        and len(stmt.targets) == 1
        and isinstance(stmt.targets[0], gast.Name)
    ):
        target, call = stmt.targets[0].id, stmt.value
    else:
        return None
    if (
        isinstance(call, gast.Call)
        and isinstance(call.func, gast.Attribute)
        and call.func.attr == method
        and isinstance(call.func.value, gast.Name)
        and call.func.value.id in receivers
    ):
        return target, call
    return None


# nodes that open a scope of their own (their names are not the function's)
SCOPES = (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef, gast.Lambda)


def names_bound_otherwise(tree: gast.FunctionDef, inside_scopes: bool = False) -> set[str]:
    """The names ``tree`` binds other than by assigning a plain name: its parameters, the
    names it declares ``global``/``nonlocal``, imports, and the functions and classes it
    defines (with ``inside_scopes``, also every name used inside them). The passes that
    lower a method of a container the function made (``d.update``, ``xs.pop``, ``f(**d)``)
    exclude these: such a name may hold anything."""
    found: set[str] = set()
    args = tree.args
    for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
        if arg is not None:
            found.add(arg.id)
    for node in subnodes(tree.body):
        if isinstance(node, (gast.Global, gast.Nonlocal)):
            found.update(node.names)
        elif isinstance(node, (gast.Import, gast.ImportFrom)):  # binds without a Name
            found.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, SCOPES):
            found.add(getattr(node, "name", None) or "")
            if inside_scopes:
                found.update(n.id for n in subnodes(node) if isinstance(n, gast.Name))
    return found


# The passes, in the order they run. Each is ``run(context)`` of one module here.
# Order: ``super_calls`` first (the zero-argument ``super()`` of a method made explicit
# before any pass moves code out of the method); ``match`` next (its cases become
# if/else blocks every later pass walks; a comprehension in a guard is lowered in its new
# place); ``functions`` next (lambdas and inner functions lifted, ``map``/``key=`` calls
# turned into loops);
# ``comprehensions`` after any pass that turns expressions holding comprehensions into
# statements; ``exceptions`` before ``statements``, so that a ``raise`` inside a ``try``
# or a ``with`` becomes the exceptions pass's own throw and a bare ``raise`` in a
# handler its re-raise; ``statements`` lowers the ``raise``/``assert`` left.
from . import (  # noqa: E402
    array_puts,
    dict_comprehensions,
    dict_updates,
    functions,
    keyword_unpacking,
    list_pops,
    match,
    object_fields,
    statements,
    super_calls,
)

PASSES: list[LoweringPass] = [
    super_calls.run,
    match.run,
    object_fields.run,
    functions.run,
    comprehensions.run,
    dict_comprehensions.run,
    dict_updates.run,
    list_pops.run,
    keyword_unpacking.run,
    exceptions.run,
    statements.run,
    array_puts.run,  # after statements: imports inside the function are bound
]


def lower(parsed):
    """``parsed`` with its tree rewritten into the core language (the input is untouched).

    Args:
        parsed: a ``ParsedFunction`` straight from the parser.
    Returns:
        a ``ParsedFunction`` whose tree uses only core constructs, whose
        ``lowered_locals`` holds the local names the passes introduced.
    Raises:
        ADTransformError: a construct a pass recognises but cannot lower exactly.
    """
    # a pass may say it has nothing to do (``run.applies(tree)``): no copy is made then
    passes = [p for p in PASSES if getattr(p, "applies", lambda tree: True)(parsed.tree)]
    if not passes:
        return parsed
    tree = clone(parsed.tree)
    context = LoweringContext(parsed, tree, NameAllocator(name_ids(tree)))
    for lowering_pass in passes:
        lowering_pass(context)
    return dataclasses.replace(
        parsed,
        tree=tree,
        lowered_locals=frozenset(parsed.lowered_locals | context.new_locals),
        lowered_objects={**parsed.lowered_objects, **context.objects},
        lowered_flags=frozenset(parsed.lowered_flags | context.flags),
        closure={**parsed.closure, **context.closure, **context.cells},
        lifted_names=frozenset(parsed.lifted_names | context.removed_locals),
        dependencies=(*parsed.dependencies, *context.dependencies),
    )
