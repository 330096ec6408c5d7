"""Stage 2: desugar the user's function and put it in SSA / A-normal form.

After this stage every statement is one primitive operation whose operands are
atoms (names, constants or references to module attributes such as ``np.pi``),
every local name is assigned once (``x``, ``x_1``, ``x_2`` ... for a reassigned
``x``), and every statement remembers the line of the source it came from.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import gast

from . import runtime
from .aliases import plan_aliases
from .callables import HIGHER_ORDER, is_transform
from .desugar import desugar
from .names import NameAllocator
from .nodes import clone, name_ids, subnodes
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


class _Normalizer:
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

    # -- control flow ------------------------------------------------------------------
    def block(self, stmts: list[gast.stmt]) -> list[gast.stmt]:
        """Normalize ``stmts`` into a separate list (the body of a compound statement)."""
        saved, self.out = self.out, []
        for stmt in stmts:
            self.statement(stmt)
        block, self.out = self.out, saved
        return block

    def stmt_If(self, stmt: gast.If) -> None:
        catching = getattr(stmt, "ad_catch", False)
        context = getattr(stmt, "ad_context", None)
        if context is not None:  # ``with`` body: always runs (see lower/exceptions.py)
            test = _copy_location_of(gast.Constant(value=True, kind=None), stmt)
        else:
            test = self.condition(stmt.test, "ran" if catching else "v")
        before = dict(self.current)
        body = self.block(stmt.body)
        if catching:  # every statement of it may raise: an effect the forward sweep keeps
            for inner in subnodes(body):
                if isinstance(inner, gast.stmt):
                    inner.ad_may_raise = True
        after_body, self.current = self.current, dict(before)
        orelse = self.block(stmt.orelse)
        self.current = self.join(after_body, self.current, body, orelse, stmt)
        node = gast.If(test=test, body=body or [gast.Pass()], orelse=orelse)
        node.ad_loop_exit = getattr(stmt, "ad_loop_exit", False)
        node.ad_exit_guard = getattr(stmt, "ad_exit_guard", False)
        node.ad_catch = catching
        if context is not None:
            node.ad_context = context
        self.origin = stmt
        self.emit(node, stmt)

    def condition(self, test: gast.expr, base: str = "v") -> gast.Name:
        """The test of an ``if`` as a temporary that nothing reassigns (``base``: its
        prefix; the test of a catching statement is reassigned by the forward sweep)."""
        atom = self.atom(test)
        if isinstance(atom, gast.Name) and atom.id in self.temps and base == "v":
            return atom
        return self.temporary(atom, test, base)

    def temporary(self, value: gast.expr, like: gast.AST, base: str = "v") -> gast.Name:
        temp = self.names.numbered(base)
        self.temps.add(temp)
        self.source_of[temp] = temp
        self.emit(_assign(temp, value, like), self.origin)
        return _name(temp, like)

    def join(self, a: dict, b: dict, block_a: list, block_b: list, stmt) -> dict:
        """SSA join after an ``if``: names that differ get one new version, copied in both."""
        merged = {}
        for name in sorted(set(a) | set(b)):
            va, vb = a.get(name), b.get(name)
            if va == vb or va is None or vb is None or name in self.unversioned:
                merged[name] = va if va is not None else vb
                if (va is None) != (vb is None) and name not in self.unversioned:
                    self.maybe_unbound.append(merged[name])
                continue
            joined = self.version(name)
            for block, version in ((block_a, va), (block_b, vb)):
                copy_stmt = _assign(joined, _name(version, stmt), stmt)
                copy_stmt.origin_line = stmt.lineno
                copy_stmt.ad_join = True
                block.append(copy_stmt)
            merged[name] = joined
        return merged

    def enter_loop(self, stmt) -> dict[str, str]:
        """Give every name the loop assigns one loop-carried version, copied in on entry."""
        carried = {}
        targets = (
            _assigned_names([gast.Assign(targets=[stmt.target], value=None)])
            if isinstance(stmt, gast.For)
            else set()
        )
        for name in sorted(_assigned_names([stmt]) - self.unversioned):
            loop_name = self.version(name)
            if name in self.current:
                entry = _assign(loop_name, _name(self.current[name], stmt), stmt)
                entry.ad_join = True
                self.emit(entry, stmt)
            elif name not in targets:
                # A join inside the loop may copy it before its first assignment.
                entry = _assign(loop_name, gast.Constant(value=None, kind=None), stmt)
                entry.ad_unbound = True
                self.emit(entry, stmt)
            else:
                self.maybe_unbound.append(loop_name)  # unbound after zero iterations
            self.current[name] = loop_name
            carried[name] = loop_name
        return carried

    def loop_body(self, body: list, carried: dict, headers: list, stmt) -> list[gast.stmt]:
        """The loop's body, ending with the back-edge copies (before the loop's exit test)."""
        exit_test = [body[-1]] if body and getattr(body[-1], "ad_loop_exit", False) else []
        main = body[: len(body) - len(exit_test)]
        saved, self.out = self.out, list(headers)
        self.loop_depth += 1
        for inner in main:
            self.statement(inner)
        for name, loop_name in carried.items():
            if self.current.get(name) != loop_name and name in self.current:
                back = _assign(loop_name, _name(self.current[name], stmt), stmt)
                back.ad_join = True
                self.emit(back, stmt)
                self.current[name] = loop_name
        for inner in exit_test:
            self.statement(inner)
        self.loop_depth -= 1
        block, self.out = self.out, saved
        return block

    def stmt_While(self, stmt: gast.While) -> None:
        carried = self.enter_loop(stmt)
        body = self.loop_body(stmt.body, carried, [], stmt)
        self.origin = stmt
        self.emit(gast.While(test=gast.Constant(value=True, kind=None), body=body, orelse=[]), stmt)

    def stmt_For(self, stmt: gast.For) -> None:
        if _is_builtin_call(stmt.iter, "range", self.parsed):
            iterable = self.primitive(stmt.iter)
            carried = self.enter_loop(stmt)
            target, headers = self.store_target(stmt.target), []
            body_source = stmt.body
        else:
            iterable, carried, target, headers, body_source = self.indexed_iteration(stmt)
        body = self.loop_body(body_source, carried, headers, stmt)
        self.origin = stmt
        node = gast.For(target=target, iter=iterable, body=body, orelse=[], type_comment=None)
        node.ad_range_is_builtin = _is_builtin_call(stmt.iter, "range", self.parsed)
        self.emit(node, stmt)

    def store_target(self, target: gast.expr) -> gast.expr:
        if isinstance(target, gast.Name):
            return gast.Name(
                id=self.current[target.id], ctx=gast.Store(), annotation=None, type_comment=None
            )
        if isinstance(target, (gast.Tuple, gast.List)):
            return gast.Tuple(elts=[self.store_target(e) for e in target.elts], ctx=gast.Store())
        raise self.parsed.error("unsupported loop target: only names and tuples of names", target)

    def indexed_iteration(self, stmt: gast.For):
        """``for x in X`` runs as ``for k, x in enumerate(X)``; ``x = X[k]`` is its header.

        The header statement is not executed by the forward sweep (the loop assigns ``x``);
        it is what the backward sweep differentiates: the adjoint of ``x`` flows into ``X``.
        """
        source_loop = stmt
        if self.parsed.lookup("enumerate") is not enumerate:
            raise self.parsed.error("'enumerate' is shadowed; cannot rewrite this loop", stmt)
        stmt = self.nested_targets_unpacked(stmt)
        call = stmt.iter
        target = stmt.target
        before_headers = []
        if (
            _is_builtin_call(call, "enumerate", self.parsed)
            and len(_enumerate_arguments(call)) in (1, 2)
            and _is_pair_of_names(target)
        ):
            sources = [self.atom(call.args[0])]
            start = [self.atom(a) for a in _enumerate_arguments(call)[1:]]
            carried = self.enter_loop(stmt)
            index = self.current[target.elts[0].id]
            if start:  # enumerate(X, start): the position in X is i - start
                position = self.names.numbered("k")
                self.unversioned.add(position)
                offset = gast.BinOp(left=_name(index, call), op=gast.Sub(), right=start[0])
                before_headers.append(_assign(position, offset, call))
                before_headers[-1].origin_line = stmt.lineno
                index = position
            elements = [target.elts[1]]
            iterable = gast.Call(
                func=gast.Name(id="enumerate", ctx=gast.Load(), annotation=None, type_comment=None),
                args=sources + start,
                keywords=[],
            )
            loop_target = gast.Tuple(
                elts=[self.store_target(target.elts[0]), self.store_target(target.elts[1])],
                ctx=gast.Store(),
            )
        elif (
            _is_builtin_call(call, "zip", self.parsed)
            and not call.keywords
            and isinstance(target, gast.Tuple)
            and len(target.elts) == len(call.args)
            and all(isinstance(e, gast.Name) for e in target.elts)
        ):
            sources = [self.atom(a) for a in call.args]
            carried = self.enter_loop(stmt)
            index = self.names.numbered("k")
            self.unversioned.add(index)
            elements = list(target.elts)
            zipped = gast.Call(
                func=gast.Name(id="zip", ctx=gast.Load(), annotation=None, type_comment=None),
                args=sources,
                keywords=[],
            )
            iterable = gast.Call(
                func=gast.Name(id="enumerate", ctx=gast.Load(), annotation=None, type_comment=None),
                args=[zipped],
                keywords=[],
            )
            loop_target = gast.Tuple(
                elts=[_store(index), self.store_target(target)], ctx=gast.Store()
            )
        else:
            sources = [self.atom(call)]
            if isinstance(target, gast.Name):
                carried = self.enter_loop(stmt)
                index = self.names.fresh(target.id + "_index")
                element = target
            else:
                element = _name(self.names.numbered("item"), target)
                self.local_names.add(element.id)
                stmt = gast.For(
                    target=target,
                    iter=call,
                    body=[_loop_element_unpack(target, element)] + stmt.body,
                    orelse=[],
                    type_comment=None,
                )
                _copy_location(stmt, call if hasattr(call, "lineno") else source_loop)
                carried = self.enter_loop(stmt)
                carried.pop(element.id, None)
                self.current[element.id] = self.version(element.id)
                index = self.names.fresh("index")
            self.unversioned.add(index)
            elements = [element]
            iterable = gast.Call(
                func=gast.Name(id="enumerate", ctx=gast.Load(), annotation=None, type_comment=None),
                args=sources,
                keywords=[],
            )
            loop_target = gast.Tuple(
                elts=[_store(index), self.store_target(element)], ctx=gast.Store()
            )
        headers = []
        for source, element in zip(sources, elements):
            item = gast.Subscript(value=source, slice=_name(index, element), ctx=gast.Load())
            _copy_location(item, element)
            header = _assign(self.current[element.id], item, element)
            header.ad_header = True
            header.origin_line = stmt.lineno
            headers.append(header)
        # For a tuple target, ``stmt`` is the rewritten loop whose body starts by unpacking.
        return iterable, carried, loop_target, before_headers + headers, stmt.body

    def nested_targets_unpacked(self, stmt: gast.For) -> gast.For:
        """``for i, (w, b) in enumerate(xs)`` and ``for (w, b), s in zip(xs, ys)``: each
        nested part of the target (past ``enumerate``'s index) becomes a name of its own,
        unpacked at the start of the body like ``for w, b in xs``; the loop is then the
        indexed loop of a flat tuple target (``for [i, x] in ...`` too). Other loops are
        returned as they are."""
        call, target = stmt.iter, stmt.target
        pairing = _is_builtin_call(call, "enumerate", self.parsed) or _is_builtin_call(
            call, "zip", self.parsed
        )
        if not pairing or not isinstance(target, (gast.Tuple, gast.List)):
            return stmt
        first = 1 if call.func.id == "enumerate" else 0
        nested = [
            k
            for k, e in enumerate(target.elts)
            if k >= first and isinstance(e, (gast.Tuple, gast.List))
        ]
        if any(isinstance(e, gast.Starred) for e in target.elts):
            return stmt
        if not nested and isinstance(target, gast.Tuple):
            return stmt  # already flat (a list target ``[i, x]`` is made a tuple below)
        elements, unpacks = list(target.elts), []
        for k in nested:
            element = _name(self.names.numbered("item"), target.elts[k])
            self.local_names.add(element.id)
            unpacks.append(_loop_element_unpack(target.elts[k], element))
            elements[k] = gast.Name(
                id=element.id, ctx=gast.Store(), annotation=None, type_comment=None
            )
            _copy_location(elements[k], target.elts[k])
        flat = gast.Tuple(elts=elements, ctx=gast.Store())
        _copy_location(flat, target)
        loop = gast.For(
            target=flat, iter=call, body=unpacks + stmt.body, orelse=[], type_comment=None
        )
        _copy_location(loop, stmt)
        return loop

    def stmt_Expr(self, stmt: gast.Expr) -> None:
        if isinstance(stmt.value, gast.Constant):
            return  # a bare string or number does nothing
        value = self.primitive(stmt.value)
        self.emit(gast.Expr(value=value), stmt)
        self.mark_mutation(stmt)

    def stmt_Return(self, stmt: gast.Return) -> None:
        if stmt.value is None:
            raise self.parsed.error("'return' without a value: nothing to differentiate", stmt)
        self.emit(gast.Return(value=self.atom(stmt.value)), stmt)

    def stmt_AnnAssign(self, stmt: gast.AnnAssign) -> None:
        if stmt.value is None:
            return
        self.assign_to(stmt.target, stmt.value)

    def stmt_Assign(self, stmt: gast.Assign) -> None:
        refresh = getattr(stmt, "ad_refresh", None)
        if refresh is not None:  # ``b = a`` after ``a`` changed in place (see aliases.py)
            old = self.current.get(stmt.targets[0].id)
            self.assign_to(stmt.targets[0], stmt.value)
            self.out[-1].ad_refresh = (refresh, old)
            return
        if len(stmt.targets) == 1:
            self.assign_to(stmt.targets[0], stmt.value)
            return
        value = self.atom(stmt.value)
        for target in stmt.targets:
            self.assign_to(target, value)

    def stmt_AugAssign(self, stmt: gast.AugAssign) -> None:
        if isinstance(stmt.target, gast.Subscript):
            self.augmented_item(stmt)
            return
        if not isinstance(stmt.target, gast.Name):
            raise self.parsed.error(
                "augmented assignment to an attribute is not supported", stmt.target
            )
        load = gast.Name(id=stmt.target.id, ctx=gast.Load(), annotation=None, type_comment=None)
        _copy_location(load, stmt.target)
        value = gast.BinOp(left=load, op=stmt.op, right=stmt.value)
        _copy_location(value, stmt)
        self.assign_to(stmt.target, value)
        self.mark_mutation(stmt)

    def assign_to(self, target: gast.expr, value: gast.expr) -> None:
        if isinstance(target, gast.Name):
            primitive = self.primitive(value)
            self.bind(target, primitive)
        elif isinstance(target, (gast.Tuple, gast.List)):
            self.unpack(target, value)
        elif isinstance(target, gast.Subscript):
            array, index = self.item_target(target)
            self.store_item(array, index, self.atom(value), target)
        else:
            raise self.parsed.error("assignment to an attribute is not supported", target)

    def item_target(self, target: gast.Subscript) -> tuple[gast.Name, gast.expr]:
        """The array and the (atomized) index of ``array[index] = ...``."""
        if not isinstance(target.value, gast.Name):
            raise self.parsed.error(
                "only items of a named array can be assigned ('a[i] = ...')", target
            )
        return self.load(target.value), self.index(target.slice)

    def store_item(self, array: gast.Name, index: gast.expr, value: gast.expr, like) -> None:
        item = gast.Subscript(value=array, slice=index, ctx=gast.Store())
        _copy_location(item, like)
        stmt = gast.Assign(targets=[item], value=value, type_comment=None)
        _copy_location(stmt, like)
        self.emit(stmt, self.origin)
        self.mark_mutation(self.source_statement)

    def mark_mutation(self, source: gast.stmt) -> None:
        """The statement just emitted is the change ``source`` makes in place."""
        info = self.mutations.get(id(source))
        if info is not None:
            self.out[-1].ad_mutation = info

    def augmented_item(self, stmt: gast.AugAssign) -> None:
        """``a[i] += v`` is ``a[i] = a[i] + v`` with the index evaluated once."""
        array, index = self.item_target(stmt.target)
        old = gast.Subscript(value=array, slice=index, ctx=gast.Load())
        _copy_location(old, stmt.target)
        old_value = self.atom(old)
        new = gast.BinOp(left=old_value, op=stmt.op, right=self.atom(stmt.value))
        _copy_location(new, stmt)
        new_value = self.atom(new)
        self.item_changed_in_place(stmt)
        self.store_item(array, clone(index), new_value, stmt.target)

    def item_changed_in_place(self, stmt: gast.AugAssign) -> None:
        """``xs[i] op= v`` changes the item in place if it is an array or a list; where other
        names may hold the item (``aliases``), the forward sweep refuses at run time if it
        is one (``runtime.in_place``); a number is plain arithmetic."""
        from .aliases import AUGMENTED_OPERATORS

        info = self.mutations.get(id(stmt))
        problem = getattr(info, "element_problem", None)
        if problem is None:
            return
        computed = self.out[-1]
        computed.ad_in_place = AUGMENTED_OPERATORS[type(stmt.op)]
        computed.ad_in_place_refusal = str(self.parsed.error(problem, stmt)).splitlines()[0]

    def unpack(self, target: gast.Tuple | gast.List, value: gast.expr) -> None:
        starred = [k for k, e in enumerate(target.elts) if isinstance(e, gast.Starred)]
        if starred:
            self.starred_unpack(target, value, starred[0])
            return
        if isinstance(value, (gast.Tuple, gast.List)) and len(value.elts) == len(target.elts):
            atoms = [self.atom(e) for e in value.elts]  # all right-hand sides first
            rebound = name_ids(target, gast.Store)
            atoms = [  # a, b = b, a: the old 'a' is read before 'a' is bound again
                self.temporary(atom, atom)
                if isinstance(atom, gast.Name) and atom.id in rebound
                else atom
                for atom in atoms
            ]
            for sub_target, atom in zip(target.elts, atoms):
                self.assign_to(sub_target, atom)
            return
        whole = self.atom(value)
        loop_element = getattr(self.source_statement, "ad_loop_element", False)
        if not loop_element and not self.is_tuple_of(whole, len(target.elts)):
            # Python iterates the value (a dict gives its keys) and checks the count
            count = gast.Constant(value=len(target.elts), kind=None)
            parts = self.runtime_call(runtime.unpacked, [whole, count], target)
            _copy_location(parts, target)
            whole = self.temporary(parts, target)
        for index, sub_target in enumerate(target.elts):
            item = gast.Subscript(
                value=whole, slice=gast.Constant(value=index, kind=None), ctx=gast.Load()
            )
            _copy_location(item, sub_target)
            self.assign_to(sub_target, item)

    def is_tuple_of(self, atom: gast.expr, count: int) -> bool:
        """Whether ``atom`` is a name this statement's function bound to a tuple display
        of ``count`` elements (its items are then read directly)."""
        elements = self.tuples.get(atom.id) if isinstance(atom, gast.Name) else None
        return elements is not None and len(elements) == count

    def starred_unpack(self, target, value: gast.expr, star: int) -> None:
        """``a, *rest, b = xs`` is ``a, rest, b = starred_parts(xs, 1, 1)`` (``rest`` a list;
        too few elements raise Python's ``ValueError``)."""
        after = len(target.elts) - star - 1
        counts = [gast.Constant(value=n, kind=None) for n in (star, after)]
        parts = self.runtime_call(runtime.starred_parts, [self.atom(value), *counts], target)
        _copy_location(parts, target)
        plain = [e.value if isinstance(e, gast.Starred) else e for e in target.elts]
        whole = self.temporary(parts, target)
        for index, sub_target in enumerate(plain):
            item = gast.Subscript(
                value=whole, slice=gast.Constant(value=index, kind=None), ctx=gast.Load()
            )
            _copy_location(item, sub_target)
            self.assign_to(sub_target, item)

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

    def static_reference(self, expr: gast.expr) -> gast.expr | None:
        """``np.linalg.norm``-style chains rooted at a free (global) name, left as they are."""
        node = expr
        while isinstance(node, gast.Attribute):
            node = node.value
        if isinstance(node, gast.Name) and node.id in self.free_names and node is not expr:
            expr.ad_static = True
            return expr
        return None

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

    def expr_BinOp(self, expr: gast.BinOp) -> gast.expr:
        return gast.BinOp(left=self.atom(expr.left), op=expr.op, right=self.atom(expr.right))

    def expr_UnaryOp(self, expr: gast.UnaryOp) -> gast.expr:
        return gast.UnaryOp(op=expr.op, operand=self.atom(expr.operand))

    def expr_Compare(self, expr: gast.Compare) -> gast.expr:
        return gast.Compare(
            left=self.atom(expr.left),
            ops=expr.ops,
            comparators=[self.atom(c) for c in expr.comparators],
        )

    def expr_Attribute(self, expr: gast.Attribute) -> gast.expr:
        static = self.static_reference(expr)
        if static is not None:
            return static
        return gast.Attribute(value=self.atom(expr.value), attr=expr.attr, ctx=gast.Load())

    def expr_Subscript(self, expr: gast.Subscript) -> gast.expr:
        value = self.atom(expr.value)
        if self.is_concatenator(value):
            return gast.Subscript(
                value=value, slice=self.concatenated_items(expr.slice), ctx=gast.Load()
            )
        return gast.Subscript(value=value, slice=self.index(expr.slice), ctx=gast.Load())

    def is_concatenator(self, atom: gast.expr) -> bool:
        """``np.r_`` / ``np.c_`` (however imported): a subscript of it is a concatenation."""
        import numpy as np

        node, chain = atom, []
        while isinstance(node, gast.Attribute):
            chain.append(node.attr)
            node = node.value
        if not isinstance(node, gast.Name) or node.id not in self.free_names:
            return False
        obj = self.parsed.lookup(node.id)
        for attr in reversed(chain):
            obj = getattr(obj, attr, None)
        return any(obj is trick for trick in (np.r_, np.c_))

    def concatenated_items(self, index: gast.expr) -> gast.expr:
        """``np.r_[a, 0:3, b]`` is ``np.r_.__getitem__((a, slice(0, 3), b))``: the items as
        one tuple (a built sequence whose elements each get their adjoint); a single item
        (``np.r_[v]``, ``np.r_[items]``) is passed as it is, as Python does."""
        if not isinstance(index, (gast.Tuple, gast.Slice)):  # np.r_[v], np.r_[items]
            self.refuse_directive(index)
            return self.atom(index)
        elements = index.elts if isinstance(index, gast.Tuple) else [index]
        atoms = []
        for position, element in enumerate(elements):
            self.refuse_directive(element, first=position == 0 and len(elements) > 1)
            if isinstance(element, gast.Slice):
                bounds = [
                    gast.Constant(value=None, kind=None) if part is None else self.atom(part)
                    for part in (element.lower, element.upper, element.step)
                ]
                call = gast.Call(func=_name("slice", element), args=bounds, keywords=[])
                _copy_location(call, element)
                atoms.append(self.temporary(call, element))
            else:
                atoms.append(self.atom(element))
        if isinstance(index, gast.Slice):
            return atoms[0]
        items = gast.Tuple(elts=atoms, ctx=gast.Load())
        _copy_location(items, index)
        return self.temporary(items, index)

    def refuse_directive(self, element: gast.expr, first: bool = False) -> None:
        """Refuse a directive string but an axis directive first of several items
        (``np.r_['0,2', a, b]``, ``np.r_['-1', a, b]``): the matrix ones (``'r'``, ``'c'``)
        make an ``np.matrix``, and NumPy accepts none elsewhere."""
        if isinstance(element, gast.Constant) and isinstance(element.value, str):
            if first and element.value not in ("r", "c"):
                return
            raise self.parsed.error(
                "unsupported construct: a directive string in np.r_/np.c_ "
                f"({element.value!r}); use np.concatenate or np.stack",
                element,
            )

    def index(self, node: gast.expr) -> gast.expr:
        if isinstance(node, gast.Slice):
            parts = {
                k: None if getattr(node, k) is None else self.atom(getattr(node, k))
                for k in ("lower", "upper", "step")
            }
            result = gast.Slice(**parts)
        elif isinstance(node, gast.Tuple):
            result = gast.Tuple(elts=[self.index(e) for e in node.elts], ctx=gast.Load())
        else:
            return self.atom(node)
        _copy_location(result, node)
        return result

    def expr_Tuple(self, expr: gast.Tuple) -> gast.expr:
        if any(isinstance(e, gast.Starred) for e in expr.elts):
            return self.starred_display(expr, runtime.joined_tuple)
        return gast.Tuple(elts=[self.atom(e) for e in expr.elts], ctx=gast.Load())

    def expr_Dict(self, expr: gast.Dict) -> gast.expr:
        """``{k: v, ...}``: keys and values as atoms, in Python's order of evaluation.
        ``{**m, "k": v, ...}`` (one ``**`` first, string keys after) is ``dict(m, k=v)``."""
        rest = list(zip(expr.keys[1:], expr.values[1:]))
        if (
            expr.keys
            and expr.keys[0] is None
            and all(isinstance(k, gast.Constant) and type(k.value) is str for k, _ in rest)
        ):
            names = [k.value for k, _ in rest]
            mapping = self.atom(expr.values[0])
            values = [self.atom(v) for _, v in rest]
            return self.dict_copy(mapping, names, values, False, expr)
        keys, values = [], []
        for key, value in zip(expr.keys, expr.values):
            if key is None:
                raise self.parsed.error(
                    "unsupported construct: '**' unpacking in a dict display", value
                )
            keys.append(self.atom(key))
            values.append(self.atom(value))
        return gast.Dict(keys=keys, values=values)

    def expr_List(self, expr: gast.List) -> gast.expr:
        if any(isinstance(e, gast.Starred) for e in expr.elts):
            return self.starred_display(expr, runtime.joined_list)
        return gast.List(elts=[self.atom(e) for e in expr.elts], ctx=gast.Load())

    def starred_display(self, expr: gast.List | gast.Tuple, join) -> gast.Call:
        """``[*s, x, y, *t]`` is ``joined_list((s, [x, y], t))``: each starred iterable and
        each run of plain elements (as a list) is one part, joined in order."""
        parts, run = [], []
        for element in expr.elts:
            if isinstance(element, gast.Starred):
                if run:
                    parts.append(self.temporary(gast.List(elts=run, ctx=gast.Load()), expr))
                    run = []
                parts.append(self.atom(element.value))
            else:
                run.append(self.atom(element))
        if run:
            parts.append(self.temporary(gast.List(elts=run, ctx=gast.Load()), expr))
        whole = self.temporary(gast.Tuple(elts=parts, ctx=gast.Load()), expr)
        return self.runtime_call(join, [whole], expr)

    def runtime_call(self, helper, args: list[gast.expr], like: gast.AST) -> gast.Call:
        """A call of ``helper`` from ``runtime`` (a primitive with a rule) standing for a
        construct: analyze resolves it by ``ad_runtime``, the forward sweep binds it."""
        func = _name(f"runtime.{helper.__name__}", like)  # never a user's name
        call = gast.Call(func=func, args=args, keywords=[])
        call.ad_runtime = helper
        return call

    def expr_Call(self, expr: gast.Call) -> gast.expr:
        func = expr.func
        if isinstance(func, gast.Name):
            callee = self.load(func)
        elif isinstance(func, gast.Attribute):
            callee = self.static_reference(func)
            if callee is None:  # a method call on a value: x.sum()
                callee = gast.Attribute(
                    value=self.atom(func.value), attr=func.attr, ctx=gast.Load()
                )
                _copy_location(callee, func)
        elif isinstance(func, (gast.Call, gast.Subscript)):
            # ``make(a)(x)``, ``layers[0](x)``: the callee is a value first
            self.refuse_derivative_call(func)
            callee = self.atom(func)
        else:
            self.refuse_derivative_call(func)
            inline_lambda = isinstance(func, gast.Lambda)
            what = "a lambda called inline" if inline_lambda else "this call target"
            raise self.parsed.error(
                f"unsupported construct: {what}; only calls of named functions "
                "and methods can be differentiated",
                expr if inline_lambda else func,
            )
        special = self.container_call(expr)
        if special is not None:
            return special
        args = []
        for arg in expr.args:
            if isinstance(arg, gast.Starred):
                args += self.unpacked(arg, expr)
            else:
                args.append(self.atom(arg))
        keywords = []
        for kw in expr.keywords:  # ``**d`` (arg None): analyze decides
            keyword = gast.keyword(arg=kw.arg, value=self.atom(kw.value))
            keywords.append(_copy_location_of(keyword, kw))
        return gast.Call(func=callee, args=args, keywords=keywords)

    def unpacked(self, starred: gast.Starred, call: gast.Call | None = None) -> list[gast.expr]:
        """The atoms of ``*parts`` in a call: a tuple or list display written there, or a
        name bound to a tuple display (the spread ``*args`` of the function among them),
        or a slice with constant bounds of such a name (``*parts[:1]``); or, as the last
        argument of a call of a user function with a fixed number of positional
        parameters, any name (a list built in the function): its items by index, after a
        check of its length (``TypeError`` as Python's call raises)."""
        value = starred.value
        if isinstance(value, gast.Subscript) and isinstance(value.value, gast.Name):
            bounds = _constant_slice(value.slice)
            atom = self.load(value.value) if bounds is not None else None
            if atom is not None and atom.id in self.tuples:
                return [clone(e) for e in self.tuples[atom.id][bounds]]
        if isinstance(value, (gast.Tuple, gast.List)) and not any(
            isinstance(e, gast.Starred) for e in value.elts
        ):
            return [self.atom(e) for e in value.elts]
        if isinstance(value, gast.Name):
            atom = self.load(value)
            if atom.id in self.tuples:
                return [clone(e) for e in self.tuples[atom.id]]
            vararg = self.tree.args.vararg
            if vararg is not None and atom.id == vararg.id:
                # the function's own ``*args``, not spread: a helper analysed once for all
                # its calls (effects.py); the call binds it as "any of the remaining"
                return [_copy_location_of(gast.Starred(value=atom, ctx=gast.Load()), starred)]
            count = self.fixed_positional_count(call, starred)
            if count is not None:
                length = gast.Constant(value=count, kind=None)
                check = self.runtime_call(runtime.check_unpacked_length, [atom, length], starred)
                self.emit(gast.Expr(value=check), self.origin)
                return [
                    self.temporary(
                        gast.Subscript(
                            value=clone(atom),
                            slice=gast.Constant(value=i, kind=None),
                            ctx=gast.Load(),
                        ),
                        starred,
                    )
                    for i in range(count)
                ]
        raise self.parsed.error(
            "unsupported construct: starred expression '*x' in a call, where 'x' is not a "
            "tuple the function builds with a known number of items",
            starred,
        )

    def fixed_positional_count(self, call, starred) -> int | None:
        """How many items ``*xs``, the last argument of ``call``, must give: the call's
        callee is a global user function whose parameters are all positional without
        defaults (nothing else is given by keyword); None otherwise."""
        import inspect
        import types

        if call is None or call.keywords or call.args[-1] is not starred:
            return None
        if any(isinstance(a, gast.Starred) for a in call.args[:-1]):
            return None
        func = call.func
        if not isinstance(func, gast.Name) or func.id in self.local_names:
            return None
        callee = self.parsed.lookup(func.id)
        if not isinstance(callee, types.FunctionType):
            return None
        parameters = list(inspect.signature(callee, follow_wrapped=False).parameters.values())
        positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        if any(p.kind not in positional or p.default is not p.empty for p in parameters):
            return None
        count = len(parameters) - (len(call.args) - 1)
        return count if count >= 0 else None

    def container_call(self, expr: gast.Call) -> gast.Call | None:
        """Builtins over an iterable that become primitives of their own: ``reversed(xs)``
        (a list), ``max(xs)``/``min(xs)`` of one iterable (``max(a, b)`` keeps its rule),
        ``zip(*rows)`` (a list of tuples), ``dict(d, k=v)`` / ``dict(**d)`` (a copy)."""
        if _is_builtin_call(expr, "dict", self.parsed):
            return self.dict_call(expr)
        if expr.keywords or len(expr.args) != 1:
            return None
        (arg,) = expr.args
        starred = isinstance(arg, gast.Starred)
        for name, helper, wants_star in (
            ("reversed", runtime.reversed_list, False),
            ("max", runtime.max_of, False),
            ("min", runtime.min_of, False),
            ("zip", runtime.zip_rows, True),
        ):
            if starred == wants_star and _is_builtin_call(expr, name, self.parsed):
                value = arg.value if starred else arg
                return self.runtime_call(helper, [self.atom(value)], expr)
        return None

    def dict_call(self, expr: gast.Call) -> gast.Call | None:
        """``dict(m)``, ``dict(m, k=v, ...)``, ``dict(**m, k=v)``, ``dict(k=v)`` as
        ``runtime.dict_copy(m, ("k", ...), (v, ...), spread)``: a new dict whose values'
        adjoints go back to ``m``'s keys and to the keywords. Other forms are left alone."""
        spreads = [kw for kw in expr.keywords if kw.arg is None]
        if len(expr.args) + len(spreads) > 1 or any(isinstance(a, gast.Starred) for a in expr.args):
            return None
        mapping = None
        names, values = [], []
        for position, node in enumerate([*expr.args, *expr.keywords]):
            value = node.value if isinstance(node, gast.keyword) else node
            atom = self.atom(value)  # in the order Python evaluates them
            if position < len(expr.args) or node.arg is None:
                mapping = atom
            else:
                names.append(node.arg)
                values.append(atom)
        if mapping is None:
            mapping = self.temporary(gast.Dict(keys=[], values=[]), expr)
        return self.dict_copy(mapping, names, values, bool(spreads), expr)

    def dict_copy(self, mapping, names: list, values: list, spread: bool, like) -> gast.Call:
        """``runtime.dict_copy(mapping, names, values, spread)`` of atoms."""
        names_tuple = gast.Constant(value=tuple(names), kind=None)
        values_tuple = (
            self.temporary(gast.Tuple(elts=values, ctx=gast.Load()), like)
            if values
            else gast.Constant(value=(), kind=None)
        )
        spread_flag = gast.Constant(value=spread, kind=None)
        return self.runtime_call(
            runtime.dict_copy, [mapping, names_tuple, values_tuple, spread_flag], like
        )

    def refuse_derivative_call(self, func: gast.expr) -> None:
        """``grad(h)(x)`` inside a differentiated function: a higher-order derivative."""
        if not isinstance(func, gast.Call) or not isinstance(func.func, gast.Name):
            return
        if func.func.id in self.local_names:
            return
        transform = self.parsed.lookup(func.func.id)
        if is_transform(transform):
            raise self.parsed.error(
                f"cannot differentiate a call of the derivative {func.func.id}(...)(...) "
                f"made by ad_transform: {HIGHER_ORDER}",
                func,
            )

    def expr_BoolOp(self, expr: gast.BoolOp) -> gast.expr:
        """``a and b`` / ``a or b`` with short-circuit evaluation, as ``if`` statements."""
        result = self.names.numbered("v")
        self.local_names.add(result)
        self.assign_to(_store(result), expr.values[0])
        for value in expr.values[1:]:
            test = _name(result, expr)
            if isinstance(expr.op, gast.Or):
                test = gast.UnaryOp(op=gast.Not(), operand=test)
                _copy_location(test, expr)
            self.stmt_If(
                _copy_location_of(
                    gast.If(test=test, body=[_assign_node(_store(result), value)], orelse=[]), expr
                )
            )
        return self.load(_name(result, expr))

    def expr_IfExp(self, expr: gast.IfExp) -> gast.expr:
        result = self.names.numbered("v")
        self.local_names.add(result)
        self.stmt_If(
            _copy_location_of(
                gast.If(
                    test=expr.test,
                    body=[_assign_node(_store(result), expr.body)],
                    orelse=[_assign_node(_store(result), expr.orelse)],
                ),
                expr,
            )
        )
        return self.load(_name(result, expr))

    def expr_NamedExpr(self, expr: gast.NamedExpr) -> gast.expr:
        """``(y := value)``: ``y`` is bound where the expression is evaluated, then read."""
        self.assign_to(expr.target, expr.value)
        return self.load(_name(expr.target.id, expr))

    def expr_JoinedStr(self, expr: gast.JoinedStr) -> gast.expr:
        values = []
        for part in expr.values:
            if isinstance(part, gast.FormattedValue):
                part = gast.FormattedValue(
                    value=self.atom(part.value),
                    conversion=part.conversion,
                    format_spec=part.format_spec,
                )
            values.append(part)
        return gast.JoinedStr(values=values)


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


def _store(identifier: str) -> gast.Name:
    return gast.Name(id=identifier, ctx=gast.Store(), annotation=None, type_comment=None)


def _enumerate_arguments(call: gast.Call) -> list[gast.expr]:
    """The arguments of ``enumerate(X)``, ``enumerate(X, s)`` or ``enumerate(X, start=s)``
    in positional order; an empty list for any other form."""
    keywords = [k for k in call.keywords if k.arg == "start"]
    if len(keywords) != len(call.keywords) or len(call.args) + len(keywords) > 2 or not call.args:
        return []
    return [*call.args, *(k.value for k in keywords)]


def _loop_element_unpack(target: gast.expr, element: gast.Name) -> gast.Assign:
    """``a, b = item`` at the start of a loop body: the loop's element is read by
    position (the analysis knows a dict item's first part is its key)."""
    node = _assign_node(target, element)
    node.ad_loop_element = True
    return node


def _assign_node(target: gast.expr, value: gast.expr) -> gast.Assign:
    node = gast.Assign(targets=[target], value=value, type_comment=None)
    _copy_location(node, value)
    return node


def _constant_slice(node: gast.expr) -> slice | None:
    """``node`` as a Python slice when it is ``a:b:c`` of integer constants (or none)."""
    if not isinstance(node, gast.Slice):
        return None
    bounds = []
    for part in (node.lower, node.upper, node.step):
        if part is None:
            bounds.append(None)
        elif isinstance(part, gast.Constant) and type(part.value) is int:
            bounds.append(part.value)
        elif (
            isinstance(part, gast.UnaryOp)
            and isinstance(part.op, gast.USub)
            and isinstance(part.operand, gast.Constant)
            and type(part.operand.value) is int
        ):
            bounds.append(-part.operand.value)
        else:
            return None
    if bounds[2] == 0:
        return None  # Python raises ValueError: left to the refusal
    return slice(*bounds)


def _copy_location_of(node: gast.AST, like: gast.AST) -> gast.AST:
    _copy_location(node, like)
    return node


def _is_builtin_call(node: gast.expr, name: str, parsed: ParsedFunction) -> bool:
    import builtins

    return (
        isinstance(node, gast.Call)
        and isinstance(node.func, gast.Name)
        and node.func.id == name
        and parsed.lookup(name) is getattr(builtins, name)
    )


def _is_pair_of_names(target: gast.expr) -> bool:
    return (
        isinstance(target, gast.Tuple)
        and len(target.elts) == 2
        and all(isinstance(e, gast.Name) for e in target.elts)
    )


def _assigned_names(body: list[gast.stmt]) -> set[str]:
    """The names ``body`` binds or unbinds (``del``)."""
    return name_ids(body, (gast.Store, gast.Del))


def _name(identifier: str, like: gast.AST | None = None) -> gast.Name:
    node = gast.Name(id=identifier, ctx=gast.Load(), annotation=None, type_comment=None)
    if like is not None:
        _copy_location(node, like)
    return node


def _assign(target: str, value: gast.expr, like: gast.AST) -> gast.Assign:
    store = gast.Name(id=target, ctx=gast.Store(), annotation=None, type_comment=None)
    stmt = gast.Assign(targets=[store], value=value, type_comment=None)
    _copy_location(store, like)
    _copy_location(stmt, like)
    return stmt


def _copy_location(node: gast.AST, like: gast.AST | None) -> None:
    if like is None:
        return
    for attr in ("lineno", "col_offset", "end_lineno", "end_col_offset"):
        if getattr(node, attr, None) is None:
            value = getattr(like, attr, None)
            if value is not None:
                setattr(node, attr, value)


def _type_params() -> dict:
    fields = gast.FunctionDef._fields
    return {"type_params": []} if "type_params" in fields else {}
