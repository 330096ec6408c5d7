"""Stage 2a (first half of normalize): structured control flow with explicit flags.

``break``, ``continue`` and ``return`` inside blocks become flag assignments; the
statements they skip are guarded by ``if not flag:``, and each loop body ends with
one ``if flag: break``. ``while test:`` becomes ``while True:`` whose body starts
with the test. A guard on ``break``/``return`` flags only is marked ``ad_exit_guard``:
it is true in every iteration but the last, so the backward sweep needs only its last
value, not one per iteration. The forward sweep therefore still stops exactly where the user's
code stops (no extra iteration runs under a guard), while every path through a
loop body is a nest of ``if``/``else`` that the backward sweep can replay.
"""

from __future__ import annotations

import gast

from .names import NameAllocator
from .nodes import subnodes
from .parse import ParsedFunction


def desugar(parsed: ParsedFunction, body: list, names: NameAllocator) -> tuple[list, set[str]]:
    """``body`` with structured exits, and the names of the flags introduced (a new list)."""
    transformer = _Desugar(parsed, names)
    return transformer.function_body(body), transformer.flags


def _name(identifier: str, store: bool = False, like=None) -> gast.Name:
    node = gast.Name(
        id=identifier,
        ctx=gast.Store() if store else gast.Load(),
        annotation=None,
        type_comment=None,
    )
    return _located(node, like)


def _located(node, like):
    if like is not None:
        for attr in ("lineno", "col_offset", "end_lineno", "end_col_offset"):
            if getattr(like, attr, None) is not None:
                setattr(node, attr, getattr(like, attr))
    return node


def _set(flag: str, value: bool, like) -> gast.Assign:
    return _located(
        gast.Assign(
            targets=[_name(flag, True, like)],
            value=gast.Constant(value=value, kind=None),
            type_comment=None,
        ),
        like,
    )


def _any(flags: list[str], like) -> gast.expr:
    expr = _name(flags[0], like=like)
    for flag in flags[1:]:
        expr = gast.BinOp(left=expr, op=gast.BitOr(), right=_name(flag, like=like))
    return _located(expr, like)


class _Loop:
    def __init__(self) -> None:
        self.break_flag: str | None = None
        self.continue_flag: str | None = None


class _Desugar:
    def __init__(self, parsed: ParsedFunction, names: NameAllocator) -> None:
        self.parsed = parsed
        self.names = names
        self.loops: list[_Loop] = []
        self.return_flag: str | None = None
        self.return_value: str | None = None
        self.flags: set[str] = set()

    def flag(self, base: str) -> str:
        name = self.names.fresh(base)
        self.flags.add(name)
        return name

    def function_body(self, body: list) -> list:
        if not self._needs_restructuring(body):
            out, _ = self.block(body)
            return out
        self.return_flag = self.flag("returned")
        self.return_value = self.names.fresh("result")
        out, _ = self.block(body)
        last = body[-1]
        prologue = [_set(self.return_flag, False, body[0])]
        final = _located(gast.Return(value=_name(self.return_value, like=last)), last)
        final.ad_final_return = True
        return prologue + out + [final]

    def _needs_restructuring(self, body: list) -> bool:
        if any(isinstance(node, gast.Return) for node in subnodes(body[:-1])):
            return True
        if body and not isinstance(body[-1], gast.Return):
            return any(isinstance(n, gast.Return) for n in subnodes(body[-1]))
        return False

    def block(self, stmts: list) -> tuple[list, list[str]]:
        """Rewrite a block; returns it and the flags that may be set when it ends early."""
        out: list = []
        for index, stmt in enumerate(stmts):
            new, flags = self.statement(stmt)
            out.extend(new)
            if flags:
                rest, rest_flags = self.block(stmts[index + 1 :])
                if rest:
                    guard = gast.If(
                        test=_located(gast.UnaryOp(op=gast.Not(), operand=_any(flags, stmt)), stmt),
                        body=rest,
                        orelse=[],
                    )
                    guard.ad_exit_guard = self._all_exit(flags)
                    out.append(_located(guard, stmts[index + 1]))
                return out, sorted(set(flags) | set(rest_flags))
        return out, []

    def _all_exit(self, flags: list[str]) -> bool:
        """Whether every flag ends the innermost loop (a ``break`` or a ``return``): a guard
        on them is then true in every iteration but the loop's last."""
        loop = self.loops[-1] if self.loops else None
        exits = {self.return_flag, loop.break_flag if loop else None} - {None}
        return bool(self.loops) and set(flags) <= exits

    def statement(self, stmt) -> tuple[list, list[str]]:
        if isinstance(stmt, gast.Break):
            loop = self._innermost(stmt, "break")
            loop.break_flag = loop.break_flag or self.flag("broke")
            return [_set(loop.break_flag, True, stmt)], [loop.break_flag]
        if isinstance(stmt, gast.Continue):
            loop = self._innermost(stmt, "continue")
            loop.continue_flag = loop.continue_flag or self.flag("skipped")
            return [_set(loop.continue_flag, True, stmt)], [loop.continue_flag]
        if isinstance(stmt, gast.Return) and self.return_flag is not None:
            if stmt.value is None:
                raise self.parsed.error("'return' without a value: nothing to differentiate", stmt)
            value = _located(
                gast.Assign(
                    targets=[_name(self.return_value, True, stmt)],
                    value=stmt.value,
                    type_comment=None,
                ),
                stmt,
            )
            return [value, _set(self.return_flag, True, stmt)], [self.return_flag]
        if isinstance(stmt, gast.If):
            body, body_flags = self.block(stmt.body)
            orelse, else_flags = self.block(stmt.orelse)
            new = _located(gast.If(test=stmt.test, body=body or [gast.Pass()], orelse=orelse), stmt)
            _keep_marks(new, stmt)
            return [new], sorted(set(body_flags) | set(else_flags))
        if isinstance(stmt, (gast.For, gast.While)):
            return self.loop(stmt)
        return [stmt], []

    def loop(self, stmt) -> tuple[list, list[str]]:
        """A loop with structured exits; its ``else`` block after it, run unless a ``break``
        (or a ``return``) left the loop: guarded by ``not broke`` for a ``for`` loop, by a
        flag set where the test of a ``while`` loop fails (``exhausted``)."""
        loop = _Loop()
        self.loops.append(loop)
        body = list(stmt.body)
        exhausted = None
        if isinstance(stmt, gast.While) and not _is_true(stmt.test):
            exit_test = _located(gast.UnaryOp(op=gast.Not(), operand=stmt.test), stmt.test)
            leave = [_located(gast.Break(), stmt)]
            if stmt.orelse:
                exhausted = self.flag("exhausted")
                leave.insert(0, _set(exhausted, True, stmt.test))
            body.insert(0, _located(gast.If(test=exit_test, body=leave, orelse=[]), stmt.test))
        new_body, flags = self.block(body)
        self.loops.pop()
        escaping = [f for f in flags if f == self.return_flag]
        exits = [f for f in (loop.break_flag, *escaping) if f]
        before = []
        if loop.break_flag:
            before.append(_set(loop.break_flag, False, stmt))
        if loop.continue_flag:
            new_body.insert(0, _set(loop.continue_flag, False, stmt))
        if exits:
            exit_if = _located(
                gast.If(test=_any(exits, stmt), body=[_located(gast.Break(), stmt)], orelse=[]),
                stmt,
            )
            exit_if.ad_loop_exit = True
            new_body.append(exit_if)
        if isinstance(stmt, gast.For):
            new = gast.For(
                target=stmt.target, iter=stmt.iter, body=new_body, orelse=[], type_comment=None
            )
        else:
            new = gast.While(test=gast.Constant(value=True, kind=None), body=new_body, orelse=[])
        if exhausted is not None:
            before.insert(0, _set(exhausted, False, stmt))
        after, else_flags = self.loop_else(stmt, loop, exhausted, escaping)
        return before + [_located(new, stmt), *after], sorted(set(escaping) | set(else_flags))

    def loop_else(self, stmt, loop: _Loop, exhausted, escaping) -> tuple[list, list[str]]:
        """The loop's ``else`` block (rewritten in the enclosing loop's context) with its guard."""
        if not stmt.orelse:
            return [], []
        orelse, flags = self.block(stmt.orelse)
        if isinstance(stmt, gast.While) and _is_true(stmt.test):
            return [], []  # ``while True`` ends only by break or return: never runs
        if exhausted is not None:
            test = _name(exhausted, like=stmt.orelse[0])
        else:
            exits = [f for f in (loop.break_flag, *escaping) if f]
            if not exits:
                return orelse, flags
            test = _located(
                gast.UnaryOp(op=gast.Not(), operand=_any(exits, stmt.orelse[0])), stmt.orelse[0]
            )
        guard = _located(
            gast.If(test=test, body=orelse or [gast.Pass()], orelse=[]), stmt.orelse[0]
        )
        return [guard], flags

    def _innermost(self, stmt, word: str) -> _Loop:
        if not self.loops:
            raise self.parsed.error(f"'{word}' outside a loop", stmt)
        return self.loops[-1]


def _keep_marks(new: gast.If, old: gast.If) -> None:
    """The marks of the lowering (lower/exceptions.py) survive the rebuilt ``if``."""
    for mark in ("ad_catch", "ad_context"):
        if hasattr(old, mark):
            setattr(new, mark, getattr(old, mark))


def _is_true(test) -> bool:
    return isinstance(test, gast.Constant) and test.value is True
