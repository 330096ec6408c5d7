"""Stage 1b: lower Python constructs to the core language the later stages know.

The normalizer understands a small core: assignments, calls, ``if``, ``for``,
``while``, lists, tuples, item writes and ``return``. Each module of this package
rewrites one family of other Python constructs into that core, at the syntax-tree
level, before desugaring (a comprehension becomes a loop with ``append``; ...). A pass
keeps the source location of the construct it replaces on every node it makes, so
generated code and errors still point at the user's line, and takes every new name
from ``LoweringContext.names`` so it clashes with nothing the user wrote.

Adding a family: write ``lower/<family>.py`` with ``run(context) -> None`` that
rewrites ``context.tree`` in place, and add it to ``PASSES`` below. A pass that
cannot lower a construct exactly raises ``context.error(...)`` naming it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

import gast

from ..errors import ADTransformError
from ..names import NameAllocator
from ..nodes import clone, name_ids


@dataclass
class LoweringContext:
    """What a lowering pass reads and writes: the tree, the namespace, fresh names."""

    parsed: object  # ParsedFunction (not imported: parse imports this package)
    tree: gast.FunctionDef
    names: NameAllocator
    new_locals: set[str] = field(default_factory=set)
    # names the code reaches through closure cells the passes made (lifted functions)
    cells: dict = field(default_factory=dict)
    removed_locals: set[str] = field(default_factory=set)  # locals now bound to a cell
    dependencies: list = field(default_factory=list)  # (namespace, name, object) read

    def fresh(self, base: str) -> str:
        """A new local name based on ``base`` that clashes with no name in the function."""
        name = self.names.fresh(base)
        self.new_locals.add(name)
        return name

    def bind(self, name: str, cell) -> None:
        """Make ``name`` a closure cell of the lowered function (no longer a local)."""
        self.cells[name] = cell
        self.names.reserve(name)
        self.removed_locals.add(name)

    def error(self, message: str, node: gast.AST | None = None) -> ADTransformError:
        """An ``ADTransformError`` located at ``node`` in the user's file."""
        return self.parsed.error(message, node)


LoweringPass = Callable[[LoweringContext], None]

# The passes, in the order they run. Each is ``run(context)`` of one module here.
from . import functions  # noqa: E402

PASSES: list[LoweringPass] = [functions.run]


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
    if not PASSES:
        return parsed
    tree = clone(parsed.tree)
    context = LoweringContext(parsed, tree, NameAllocator(name_ids(tree)))
    for lowering_pass in PASSES:
        lowering_pass(context)
    return dataclasses.replace(
        parsed,
        tree=tree,
        lowered_locals=frozenset(parsed.lowered_locals | context.new_locals),
        closure={**parsed.closure, **context.cells},
        lifted_names=frozenset(parsed.lifted_names | context.removed_locals),
        dependencies=(*parsed.dependencies, *context.dependencies),
    )
