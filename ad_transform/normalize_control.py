"""Control flow in SSA form (part of stage 2, ``normalize.py``): ``if`` branches joined by
conditional copies, ``while`` and ``for`` loops with their loop-carried names, and the
indexed iteration a ``for`` loop over a sequence, ``range``, ``zip`` or ``enumerate``
becomes."""

from __future__ import annotations

import gast

from .nodes import subnodes
from .normalize_nodes import (
    _assign,
    _assign_node,
    _assigned_names,
    _copy_location,
    _copy_location_of,
    _is_builtin_call,
    _name,
    _store,
)


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


def _is_pair_of_names(target: gast.expr) -> bool:
    return (
        isinstance(target, gast.Tuple)
        and len(target.elts) == 2
        and all(isinstance(e, gast.Name) for e in target.elts)
    )


class ControlFlow:
    """Methods of ``normalize._Normalizer``: blocks, branches and loops."""

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
