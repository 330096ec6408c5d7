"""Lowering of list, set and generator comprehensions into loops with ``append``.

``squares = [x * i for i in range(n) if i % 2]`` becomes::

    squares = []
    for i in range(n):
        if i % 2:
            squares.append(x * i)

and the later stages differentiate the loop like any other. A comprehension is hoisted
out of the statement that holds it into statements just before it (in evaluation
order), and replaced there by the name of the list it built. Its targets are scoped to
it, as in Python 3: a target keeps its name when the function uses that name nowhere
else, and is renamed to a fresh name otherwise, so the user's locals are never touched.

A generator expression is lowered only where it is consumed at once, as the iterable
of ``sum``, ``max``, ``min``, ``sorted``, ``list``, ``tuple``, ``set`` or ``frozenset``
(a list, then the call; ``list(...)`` is the list itself), or of ``any``/``all`` (a
loop that stops where they stop). Anywhere else (assigned to a name, given to a helper,
or to ``np.array``/``np.stack``/``np.sum``, which do not iterate a generator) it is
refused: its laziness cannot be kept exactly.

Refused too, with the reason: a comprehension in a branch of ``a if c else b`` or
after ``and``/``or`` (hoisted, it would always run), in a ``while`` condition, after a
call in the same statement that may change what it reads, and ``:=`` or ``async for``
inside one. Dict comprehensions are left to the normalizer.
"""

from __future__ import annotations

import builtins
import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import gast
import numpy as np

from ..nodes import children, subnodes

if TYPE_CHECKING:
    from . import LoweringContext

_COMPREHENSIONS = (gast.ListComp, gast.SetComp, gast.GeneratorExp)

# Consumers of a generator expression that iterate it to the end at once: a list in its
# place gives the same result.
_LIST_CONSUMERS = {
    builtins.sum: "terms",
    builtins.max: "candidates",
    builtins.min: "candidates",
    builtins.sorted: "items",
    builtins.tuple: "items",
    builtins.set: "members",
    builtins.frozenset: "members",
    builtins.list: "items",
}
_SHORT_CIRCUIT = {builtins.any: "found", builtins.all: "all_hold"}

# Readable names for a list comprehension given to a call.
_ARGUMENT_NAMES = {
    builtins.sum: "terms",
    builtins.max: "candidates",
    builtins.min: "candidates",
    np.sum: "terms",
    np.stack: "rows",
    np.vstack: "rows",
    np.hstack: "parts",
    np.concatenate: "parts",
}

# Calls a comprehension may follow in one statement (see ``check_calls_before``).
_BUILTINS_WITH_EFFECTS = (next, setattr, delattr, exec, eval, iter)
_READING_METHODS = frozenset(
    {"sum", "mean", "prod", "std", "var", "max", "min", "argmax", "argmin", "cumsum", "dot"}
    | {"reshape", "transpose", "ravel", "flatten", "copy", "astype", "conj", "item", "tolist"}
    | {"count", "index", "all", "any", "round", "clip"}
)

# Statement fields evaluated before the statement runs, in Python's order.
_OWN_EXPRESSIONS = {
    gast.Assign: ("value", "targets"),
    gast.AugAssign: ("target", "value"),
    gast.AnnAssign: ("value", "target"),
    gast.Expr: ("value",),
    gast.Return: ("value",),
    gast.If: ("test",),
    gast.For: ("iter",),
    gast.Assert: ("test", "msg"),
    gast.Raise: ("exc", "cause"),
    gast.Delete: ("targets",),
}


def run(context: LoweringContext) -> None:
    """Rewrite every list, set and generator comprehension of ``context.tree`` into loops."""
    if any(isinstance(node, _COMPREHENSIONS) for node in subnodes(context.tree)):
        _Lowering(context).run()


@dataclass
class _Found:
    """A comprehension in a statement, and the conditional part holding it, if any."""

    node: gast.expr
    parent: gast.AST | None
    conditional: str | None  # "a conditional expression", "'and'/'or'", or None
    calls_before: list  # the calls of its statement that complete before it runs


@dataclass(frozen=True)
class _Where:
    """Where a block is: what the lowering of a comprehension there depends on."""

    live: frozenset = frozenset()  # loop names of the comprehensions lowered around it
    in_try: bool = False  # inside a ``try`` (its handlers may read a name after a raise)
    in_loop: bool = False  # inside a loop (a list made there is made once per iteration)


class _Lowering:
    def __init__(self, context: LoweringContext) -> None:
        self.context = context
        self.scope_names = _function_scope_names(context.tree)
        self.kept_names = _appended_names(context.tree)
        self.where = _Where()  # where the statement being lowered is
        self.bound: frozenset = frozenset()  # loop names of the comprehension just lowered

    def run(self) -> None:
        tree = self.context.tree
        tree.body = self.block(tree.body, _Where())

    # -- statements ---------------------------------------------------------------------
    def block(self, stmts: list, where: _Where) -> list:
        """``stmts`` with their comprehensions lowered."""
        out: list = []
        for stmt in stmts:
            out.extend(self.statement(stmt, where))
        return out

    def statement(self, stmt: gast.stmt, where: _Where) -> list:
        self.nested_blocks(stmt, where)
        before: list = []
        while True:
            found = self.first_comprehension(stmt)
            if found is None:
                return before + [stmt]
            if found.conditional is not None:
                raise self.context.error(
                    f"unsupported construct: a {_describe(found.node)} inside {found.conditional} "
                    "(it would run whether or not that part is evaluated); assign it to a "
                    "variable first",
                    found.node,
                )
            self.check_calls_before(found)
            self.where = where
            made, keep = self.lower(found, stmt)
            inner = dataclasses.replace(where, live=where.live | self.bound)
            before.extend(self.block(made, inner))
            if not keep:
                return before

    def nested_blocks(self, stmt: gast.stmt, where: _Where) -> None:
        """Lower the blocks inside a compound statement in place."""
        if isinstance(stmt, (gast.FunctionDef, gast.ClassDef)):
            where = _Where()  # a body that runs when called, not here
        body_where = where
        if isinstance(stmt, (gast.Try, gast.With)):
            # a handler, or a context manager that suppresses the exception, may read a
            # name after a raise: it must still hold its old value
            body_where = dataclasses.replace(where, in_try=True)
        if isinstance(stmt, (gast.For, gast.While)):
            body_where = dataclasses.replace(where, in_loop=True)
        for field in ("body", "orelse", "finalbody"):
            value = getattr(stmt, field, None)
            if isinstance(value, list) and value and isinstance(value[0], gast.stmt):
                inner = body_where if field == "body" or isinstance(stmt, gast.Try) else where
                setattr(stmt, field, self.block(value, inner))
        for handler in getattr(stmt, "handlers", None) or []:
            handler.body = self.block(handler.body, where)
        for case in getattr(stmt, "cases", None) or []:
            case.body = self.block(case.body, where)

    def first_comprehension(self, stmt: gast.stmt) -> _Found | None:
        """The first comprehension ``stmt`` evaluates before it runs (not in its blocks)."""
        fields = _OWN_EXPRESSIONS.get(type(stmt))
        if fields is None:
            for node in _own_parts(stmt):
                for found in _comprehensions_in(node):
                    raise self.context.error(
                        f"unsupported construct: a {_describe(found.node)} in "
                        f"{_statement_words(stmt)}; assign it to a variable first",
                        found.node,
                    )
            return None
        calls_before: list = []
        for field in fields:
            value = getattr(stmt, field, None)
            for node in value if isinstance(value, list) else [value]:
                if isinstance(node, gast.AST):
                    for found in _comprehensions_in(node, stmt):
                        found.calls_before[:0] = calls_before
                        return found
                    calls_before.extend(c for c in subnodes(node) if isinstance(c, gast.Call))
        return None

    def check_calls_before(self, found: _Found) -> None:
        """Refuse a comprehension that its statement evaluates after a call that may change
        what it reads: hoisted before the statement, it would run before that call."""
        for call in found.calls_before:
            if not self.changes_nothing(call):
                raise self.context.error(
                    f"unsupported construct: a {_describe(found.node)} evaluated after a "
                    f"call of {_call_words(call)} in the same statement (the call may change "
                    "what the comprehension reads); assign the call's result to a variable "
                    "first",
                    found.node,
                )

    def changes_nothing(self, call: gast.Call) -> bool:
        """Whether ``call`` surely changes no object: a NumPy, ``math`` or builtin function
        (``np.exp``, ``len``) without ``out=``, or a method that only reads (``a.sum()``)."""
        from ..effects import _WRITES_FIRST_ARGUMENT

        if any(keyword.arg == "out" for keyword in call.keywords):
            return False
        callee = self.resolve(call.func)
        if callee is not None:
            module = getattr(callee, "__module__", None) or ""  # NumPy 1.x ufuncs: none
            library = module.split(".")[0] in ("builtins", "numpy", "math") or isinstance(
                callee, np.ufunc
            )
            writes = any(callee is f for f in _WRITES_FIRST_ARGUMENT + _BUILTINS_WITH_EFFECTS)
            return library and not writes
        return isinstance(call.func, gast.Attribute) and call.func.attr in _READING_METHODS

    # -- one comprehension --------------------------------------------------------------
    def lower(self, found: _Found, stmt: gast.stmt) -> tuple[list, bool]:
        """The statements that compute ``found.node``; the node (or the call consuming
        it) is replaced in ``stmt`` by their result. The flag says whether ``stmt`` is
        still needed (not when the statements assign its target themselves)."""
        comp = found.node
        self.check(comp, stmt)
        consumer = self.consumer(found)
        whole = _whole_value_target(stmt, found, self.where.in_try, consumer)
        renamed = self.renamed(comp)
        if isinstance(comp, gast.GeneratorExp) and _lookup(_SHORT_CIRCUIT, consumer):
            return self.short_circuit(consumer, found, renamed, stmt, whole), whole is None
        if isinstance(comp, gast.GeneratorExp) and not _lookup(_LIST_CONSUMERS, consumer):
            raise self.generator_error(found, consumer)
        kept = _appended(stmt, comp) or (whole is not None and whole in self.kept_names)
        result = whole or self.readable("row" if kept else self.result_base(comp, consumer))
        if self.where.in_loop and kept:
            # a list made in each iteration and kept in another list: ``items + [elt]``
            # makes a new list per element, so no list the outer one holds is changed
            extended = _binary(_load(result, comp), gast.Add(), _display([renamed.elt], comp))
            add = _assign(result, extended, comp)
        else:
            add = _expression(
                _call(_attribute(_load(result, comp), "append", comp), [renamed.elt], comp), comp
            )
        made = [_assign(result, _display([], comp), comp)] + _loops(renamed.generators, [add], comp)
        if whole is not None:
            return made, False
        if isinstance(comp, gast.SetComp):
            self.require_builtin("set", comp)
            _replace(stmt, comp, _call(_load("set", comp), [_load(result, comp)], comp))
        elif isinstance(comp, gast.GeneratorExp) and consumer is builtins.list:
            _replace(stmt, found.parent, _load(result, comp))
        elif self.where.in_try and _whole_value_target(stmt, found, False, consumer):
            # ``ys = list(items)``: the target is bound only once the loop finished, and
            # to a list of its own, so no later append to ``items`` may reach it
            self.require_builtin("list", comp)
            _replace(stmt, comp, _call(_load("list", comp), [_load(result, comp)], comp))
        else:
            _replace(stmt, comp, _load(result, comp))
        return made, True

    def check(self, comp: gast.expr, stmt: gast.stmt) -> None:
        """Refuse what a comprehension may hold but the lowering cannot keep exact: ``:=``
        binds in the function's scope, so the hoisted loop binds it before the rest of
        the statement runs, which only matters if the statement reads the name too."""
        for generator in comp.generators:
            if generator.is_async:
                raise self.context.error(
                    "unsupported construct: 'async for' in a comprehension", comp
                )
        inside = {id(node) for node in gast.walk(comp)}
        own = [  # the statement's own expressions, not its body (which runs after)
            value
            for field, value in gast.iter_fields(stmt)
            if field not in ("body", "orelse", "finalbody", "handlers")
        ]
        read_around = {
            node.id
            for node in subnodes(_expressions_in(own))
            if isinstance(node, gast.Name)
            and isinstance(node.ctx, gast.Load)
            and id(node) not in inside
        }
        for node in gast.walk(comp):
            if isinstance(node, gast.NamedExpr) and node.target.id in read_around:
                raise self.context.error(
                    "unsupported construct: assignment expression ':=' inside a comprehension "
                    f"whose statement also reads '{node.target.id}' (hoisted, the "
                    "comprehension would bind it before that read)",
                    node,
                )

    def consumer(self, found: _Found) -> object:
        """The function ``found.node`` is the iterable argument of, if any: the first
        positional argument, alone but for ``sum``'s start (and for a generator given to
        ``np.sum``, alone altogether)."""
        call = found.parent
        if not isinstance(call, gast.Call) or not call.args or call.args[0] is not found.node:
            return None
        callee = self.resolve(call.func)
        if len(call.args) > 1 and not (callee is builtins.sum and len(call.args) == 2):
            return None
        return callee

    def resolve(self, func: gast.expr) -> object:
        """The object a static callee (``sum``, ``np.stack``) refers to, or ``None``."""
        if isinstance(func, gast.Name):
            if func.id in self.context.parsed.local_names:
                return None
            obj = self.context.parsed.lookup(func.id)
            return None if _is_missing(obj) else obj
        if isinstance(func, gast.Attribute):
            base = self.resolve(func.value)
            return getattr(base, func.attr, None) if base is not None else None
        return None

    def require_builtin(self, name: str, node: gast.AST) -> None:
        if self.resolve(_load(name, node)) is not getattr(builtins, name):
            raise self.context.error(
                f"cannot lower this comprehension: it needs the builtin '{name}', which "
                "this function's namespace shadows",
                node,
            )

    def generator_error(self, found: _Found, consumer: object):
        if consumer is not None and getattr(consumer, "__module__", "").startswith("numpy"):
            why = (
                f"NumPy's {consumer.__name__} does not iterate a generator (it raises, or "
                "makes an object array); pass a list comprehension [...] instead"
            )
        else:
            why = (
                "a generator is lazy; only one consumed at once is differentiated: the "
                "iterable of sum, max, min, any, all, sorted, list, tuple, set or frozenset; "
                "use a list comprehension [...] instead"
            )
        return self.context.error(
            f"unsupported construct: a generator expression here ({why})", found.node
        )

    def short_circuit(self, consumer, found: _Found, renamed, stmt, whole) -> list:
        """``any``/``all`` of a generator: a loop that stops at the first decisive element."""
        comp = found.node
        is_any = consumer is builtins.any
        flag = whole or self.context.fresh(_lookup(_SHORT_CIRCUIT, consumer))
        decisive = renamed.elt if is_any else _not(renamed.elt, comp)
        stop = [_assign(flag, _constant(is_any, comp), comp), _located(gast.Break(), comp)]
        innermost = [_located(gast.If(test=decisive, body=stop, orelse=[]), comp)]
        stopped = _load(flag, comp) if is_any else _not(_load(flag, comp), comp)
        made = [_assign(flag, _constant(not is_any, comp), comp)] + _loops(
            renamed.generators, innermost, comp, stopped
        )
        if whole is None:
            _replace(stmt, found.parent, _load(flag, comp))
        return made

    # -- names --------------------------------------------------------------------------
    def result_base(self, comp: gast.expr, consumer: object) -> str:
        """A readable base for the name of the list a comprehension builds."""
        if isinstance(comp, gast.SetComp):
            return "members"
        return _lookup(_ARGUMENT_NAMES, consumer) or _lookup(_LIST_CONSUMERS, consumer) or "items"

    def renamed(self, comp: gast.expr) -> gast.expr:
        """A copy of ``comp`` whose targets (and their uses) carry their loop names."""
        mapping: dict[str, str] = {}
        for generator in comp.generators:
            for name in sorted(gast_names(generator.target)):
                mapping[name] = self.loop_name(name)
        self.bound = frozenset(mapping.values())
        return _rename_comprehension(comp, mapping)

    def loop_name(self, name: str) -> str:
        """``name`` itself if the function uses it nowhere outside comprehensions and no
        comprehension around this one uses it; a fresh name otherwise."""
        if name not in self.scope_names and name not in self.where.live:
            self.context.new_locals.add(name)
            return name
        return self.readable(name)

    def readable(self, base: str) -> str:
        """A new name for ``base`` that reads as what it is: ``base`` if it is free, else
        ``inner_base`` (a comprehension inside another, or whose variable the function
        uses too), numbered only when that is taken as well."""
        if base in self.context.names.taken and f"inner_{base}" not in self.context.names.taken:
            return self.context.fresh(f"inner_{base}")
        return self.context.fresh(base)


# -- scoping ------------------------------------------------------------------------------
def _function_scope_names(tree: gast.FunctionDef) -> set[str]:
    """The names the function's own scope uses: every name outside a comprehension, and
    inside one every name it does not bind itself."""
    names: set[str] = set()

    def visit(node, bound: frozenset) -> None:
        if isinstance(node, _COMPREHENSIONS + (gast.DictComp,)):
            visit(node.generators[0].iter, bound)
            inner = bound
            for index, generator in enumerate(node.generators):
                if index:
                    visit(generator.iter, inner)
                inner = inner | gast_names(generator.target)
                for condition in generator.ifs:
                    visit(condition, inner)
            for part in ("elt", "key", "value"):
                if getattr(node, part, None) is not None:
                    visit(getattr(node, part), inner)
            return
        if isinstance(node, gast.Name) and node.id not in bound:
            names.add(node.id)
        for child in children(node):
            visit(child, bound)

    visit(tree, frozenset())
    return names


def gast_names(target: gast.AST) -> frozenset:
    return frozenset(n.id for n in gast.walk(target) if isinstance(n, gast.Name))


def _names_in(node: gast.AST) -> set[str]:
    return {n.id for n in gast.walk(node) if isinstance(n, gast.Name)}


def _rename_comprehension(comp: gast.expr, mapping: dict[str, str]) -> gast.expr:
    """A copy of ``comp`` with its own targets renamed by ``mapping``; its first iterable is
    in the enclosing scope, and inner scopes that bind a name again keep theirs."""
    import copy

    comp = copy.deepcopy(comp)
    bound: dict[str, str] = {}
    for index, generator in enumerate(comp.generators):
        if index:
            generator.iter = _rename(generator.iter, bound)
        bound.update({name: mapping[name] for name in gast_names(generator.target)})
        generator.target = _rename(generator.target, bound)
        generator.ifs = [_rename(condition, bound) for condition in generator.ifs]
    comp.elt = _rename(comp.elt, bound)
    return comp


def _rename(node: gast.AST, mapping: dict[str, str]) -> gast.AST:
    if not mapping:
        return node
    if isinstance(node, gast.Name):
        node.id = mapping.get(node.id, node.id)
        return node
    if isinstance(node, _COMPREHENSIONS + (gast.DictComp,)):
        inner = dict(mapping)
        for index, generator in enumerate(node.generators):
            generator.iter = _rename(generator.iter, mapping if index == 0 else inner)
            for name in gast_names(generator.target):
                inner.pop(name, None)
            generator.ifs = [_rename(c, inner) for c in generator.ifs]
        for part in ("elt", "key", "value"):
            if getattr(node, part, None) is not None:
                setattr(node, part, _rename(getattr(node, part), inner))
        return node
    if isinstance(node, gast.Lambda):  # defaults in the enclosing scope, body in its own
        args = node.args
        args.defaults = [_rename(d, mapping) for d in args.defaults]
        args.kw_defaults = [_rename(d, mapping) if d is not None else d for d in args.kw_defaults]
        params = {a.id for a in gast.walk(args) if isinstance(a, gast.Name)}
        node.body = _rename(node.body, {k: v for k, v in mapping.items() if k not in params})
        return node
    for field, value in gast.iter_fields(node):
        if isinstance(value, list):
            setattr(
                node, field, [_rename(v, mapping) if isinstance(v, gast.AST) else v for v in value]
            )
        elif isinstance(value, gast.AST):
            setattr(node, field, _rename(value, mapping))
    return node


# -- finding comprehensions ---------------------------------------------------------------
def _comprehensions_in(node: gast.AST, stmt: gast.stmt | None = None) -> Iterator[_Found]:
    """The comprehensions in ``node`` in evaluation order (not those inside another one or
    inside a lambda), with the node holding each and the calls completed before it."""
    completed: list[gast.Call] = []

    def visit(current, parent, conditional):
        if isinstance(current, _COMPREHENSIONS):
            yield _Found(current, parent, conditional, list(completed))
            return
        if isinstance(current, (gast.Lambda, gast.DictComp)):
            return
        if isinstance(current, gast.IfExp):
            yield from visit(current.test, current, conditional)
            for branch in (current.body, current.orelse):
                yield from visit(branch, current, conditional or "a conditional expression")
            return
        if isinstance(current, gast.BoolOp):
            yield from visit(current.values[0], current, conditional)
            for value in current.values[1:]:
                yield from visit(value, current, conditional or "'and'/'or'")
            return
        for child in gast.iter_child_nodes(current):
            yield from visit(child, current, conditional)
        if isinstance(current, gast.Call):
            completed.append(current)

    yield from visit(node, stmt, None)


def _own_parts(stmt: gast.stmt) -> Iterator[gast.AST]:
    """The parts of a statement other than its blocks of statements."""
    for field, value in gast.iter_fields(stmt):
        if field in ("body", "orelse", "finalbody", "handlers", "cases"):
            if field == "handlers":
                yield from (h.type for h in value if h.type is not None)
            if field == "cases":
                yield from (c.guard for c in value if c.guard is not None)
            continue
        if isinstance(value, list):
            yield from (v for v in value if isinstance(v, gast.AST))
        elif isinstance(value, gast.AST):
            yield value


def _expressions_in(values: list) -> list:
    found = []
    for value in values:
        if isinstance(value, list):
            found += _expressions_in(value)
        elif isinstance(value, gast.AST):
            found.append(value)
    return found


def _whole_value_target(stmt: gast.stmt, found: _Found, in_try: bool, consumer) -> str | None:
    """The name ``stmt`` assigns when a list comprehension (or ``any``/``all`` of a
    generator) is its whole right-hand side and does not read that name: the lowering then
    builds the value under that name. Not inside a ``try``: a handler must still see the
    old value if the loop raises."""
    if in_try or not isinstance(stmt, gast.Assign) or len(stmt.targets) != 1:
        return None
    target = stmt.targets[0]
    if not isinstance(target, gast.Name):
        return None
    if isinstance(found.node, gast.ListComp):
        whole = stmt.value is found.node
    else:
        whole = bool(_lookup(_SHORT_CIRCUIT, consumer)) and stmt.value is found.parent
    if not whole or target.id in _names_in(stmt.value):
        return None
    return target.id


def _lookup(table: dict, obj: object) -> str | None:
    """``table[obj]`` by identity (``obj`` may be any object, even an unhashable one)."""
    for key, value in table.items():
        if key is obj:
            return value
    return None


def _appended_names(tree: gast.AST) -> set[str]:
    """The names ``xs.append(e)`` keeps somewhere in ``tree``: ``e`` itself, or inside a
    list or tuple display that is ``e``."""
    kept: set[str] = set()
    for node in subnodes(tree):
        if isinstance(node, gast.Expr) and _append_argument(node) is not None:
            pending = [_append_argument(node)]
            while pending:
                item = pending.pop()
                if isinstance(item, gast.Name):
                    kept.add(item.id)
                elif isinstance(item, (gast.List, gast.Tuple)):
                    pending.extend(item.elts)
    return kept


def _append_argument(stmt: gast.stmt) -> gast.expr | None:
    """``e`` of a statement ``xs.append(e)``."""
    call = getattr(stmt, "value", None)
    if not isinstance(stmt, gast.Expr) or not isinstance(call, gast.Call):
        return None
    if not isinstance(call.func, gast.Attribute) or call.func.attr != "append":
        return None
    if len(call.args) != 1 or call.keywords:
        return None
    return call.args[0]


def _appended(stmt: gast.stmt, comp: gast.expr) -> bool:
    """Whether ``stmt`` is ``xs.append(e)`` with ``comp`` as ``e`` or inside a list or tuple
    display that is ``e`` (the list ``comp`` makes is kept in ``xs``)."""
    argument = _append_argument(stmt)
    if argument is None:
        return False
    pending = [argument]
    while pending:
        node = pending.pop()
        if node is comp:
            return True
        if isinstance(node, (gast.List, gast.Tuple)):
            pending.extend(node.elts)
    return False


def _describe(node: gast.expr) -> str:
    return {
        gast.ListComp: "list comprehension",
        gast.SetComp: "set comprehension",
        gast.GeneratorExp: "generator expression",
    }[type(node)]


def _statement_words(stmt: gast.stmt) -> str:
    words = {
        gast.While: "the condition of a 'while' loop (it is evaluated again each iteration)",
        gast.With: "the context manager of a 'with' statement",
        gast.Try: "an 'except' clause",
    }
    return words.get(type(stmt), f"a {type(stmt).__name__} statement")


def _call_words(call: gast.Call) -> str:
    func = call.func
    parts = []
    while isinstance(func, gast.Attribute):
        parts.append(func.attr)
        func = func.value
    if isinstance(func, gast.Name):
        parts.append(func.id)
        return "'" + ".".join(reversed(parts)) + "'"
    return "a function"


def _is_missing(obj: object) -> bool:
    from ..parse import is_missing

    return is_missing(obj)


# -- building nodes -----------------------------------------------------------------------
def _loops(generators, innermost: list, like, stopped: gast.expr | None = None) -> list:
    """The loop nest of ``generators`` around ``innermost``; with ``stopped``, each outer
    loop also breaks when it is true after an inner loop."""
    body = innermost
    for index in range(len(generators) - 1, -1, -1):
        generator = generators[index]
        for condition in reversed(generator.ifs):
            body = [_located(gast.If(test=condition, body=body, orelse=[]), condition)]
        loop = gast.For(
            target=generator.target, iter=generator.iter, body=body, orelse=[], type_comment=None
        )
        body = [_located(loop, like)]
        if stopped is not None and index > 0:
            exit_test = gast.If(
                test=_clone(stopped), body=[_located(gast.Break(), like)], orelse=[]
            )
            body.append(_located(exit_test, like))
    return _fill_locations(body, like)


def _clone(node):
    import copy

    return copy.deepcopy(node)


def _fill_locations(stmts: list, like) -> list:
    for stmt in stmts:
        for node in gast.walk(stmt):
            locatable = "lineno" in getattr(node, "_attributes", ())
            if locatable and getattr(node, "lineno", None) is None:
                _located(node, like)
    return stmts


def _located(node, like):
    for attr in ("lineno", "col_offset", "end_lineno", "end_col_offset"):
        setattr(node, attr, getattr(like, attr, None))
    return node


def _load(identifier: str, like) -> gast.Name:
    return _located(
        gast.Name(id=identifier, ctx=gast.Load(), annotation=None, type_comment=None), like
    )


def _store(identifier: str, like) -> gast.Name:
    return _located(
        gast.Name(id=identifier, ctx=gast.Store(), annotation=None, type_comment=None), like
    )


def _assign(identifier: str, value: gast.expr, like) -> gast.Assign:
    return _located(
        gast.Assign(targets=[_store(identifier, like)], value=value, type_comment=None), like
    )


def _constant(value, like) -> gast.Constant:
    return _located(gast.Constant(value=value, kind=None), like)


def _display(elements: list, like) -> gast.List:
    return _located(gast.List(elts=elements, ctx=gast.Load()), like)


def _binary(left: gast.expr, op: gast.operator, right: gast.expr) -> gast.BinOp:
    return _located(gast.BinOp(left=left, op=op, right=right), left)


def _attribute(value: gast.expr, attr: str, like) -> gast.Attribute:
    return _located(gast.Attribute(value=value, attr=attr, ctx=gast.Load()), like)


def _call(func: gast.expr, args: list, like) -> gast.Call:
    return _located(gast.Call(func=func, args=args, keywords=[]), like)


def _expression(value: gast.expr, like) -> gast.Expr:
    return _located(gast.Expr(value=value), like)


def _not(operand: gast.expr, like) -> gast.UnaryOp:
    return _located(gast.UnaryOp(op=gast.Not(), operand=operand), like)


def _replace(root: gast.AST, old: gast.AST, new: gast.AST) -> None:
    """Put ``new`` where ``old`` (found by identity) is inside ``root``."""
    for node in gast.walk(root):
        for field, value in gast.iter_fields(node):
            if value is old:
                setattr(node, field, new)
                return
            if isinstance(value, list):
                for index, item in enumerate(value):
                    if item is old:
                        value[index] = new
                        return
    raise AssertionError("comprehension not found in its statement")
