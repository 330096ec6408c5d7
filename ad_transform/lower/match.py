"""Lowering of ``match`` into an ``if``/``else`` chain with the same meaning.

Each case becomes a test of its pattern (a conjunction of ``isinstance``, ``len``,
``==``, ``is``, ``in`` and ``hasattr`` on the subject and its parts) followed, when it
holds, by the bindings of the captured names and the case's body. The subject is
evaluated once, into a fresh local. A case with a guard whose later cases are not empty
records whether it was taken in a fresh flag (``matched``), as the taken case must be
known before the following cases are tried; without guards the chain is plain
``if``/``else``. The branch taken is recorded by the backward sweep like any ``if``.

Patterns: values (``case 1``, ``case Color.RED``), ``None``/``True``/``False``, captures
and ``_``, ``as``, alternatives without captures, sequences (with one ``*rest``),
mappings without ``**rest``, classes (keyword sub-patterns; positional ones through
``__match_args__`` of a class found now, or the value itself for ``int(x)``,
``float(x)`` and the other builtins that match themselves). Anything else is refused.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import TYPE_CHECKING

import gast

from .. import runtime
from ..nodes import clone, subnodes
from ..user_classes import is_user_class

if TYPE_CHECKING:
    from . import LoweringContext

# Builtin classes whose single positional sub-pattern matches the subject itself.
_SELF_MATCHING = (bool, bytearray, bytes, dict, float, frozenset, int, list, set, str, tuple)


def run(context: LoweringContext) -> None:
    """Lower every ``match`` statement of ``context.tree`` in place."""
    if not hasattr(gast, "Match"):
        return
    _Lowering(context).block_in(context.tree)


def _located(node: gast.AST, like: gast.AST) -> gast.AST:
    for sub in subnodes(node):
        for attr in ("lineno", "col_offset", "end_lineno", "end_col_offset"):
            value = getattr(like, attr, None)
            if value is not None and getattr(sub, attr, None) is None:
                setattr(sub, attr, value)
    return node


def _load(identifier: str) -> gast.Name:
    return gast.Name(id=identifier, ctx=gast.Load(), annotation=None, type_comment=None)


def _store(identifier: str) -> gast.Name:
    return gast.Name(id=identifier, ctx=gast.Store(), annotation=None, type_comment=None)


def _constant(value) -> gast.Constant:
    return gast.Constant(value=value, kind=None)


def _all(tests: list[gast.expr]) -> gast.expr:
    return tests[0] if len(tests) == 1 else gast.BoolOp(op=gast.And(), values=tests)


class _Lowering:
    def __init__(self, context: LoweringContext) -> None:
        self.context = context

    def block_in(self, node: gast.AST) -> None:
        for field in ("body", "orelse", "finalbody"):
            stmts = getattr(node, field, None)
            if isinstance(stmts, list) and stmts and isinstance(stmts[0], gast.stmt):
                setattr(node, field, self.block(stmts))
        for handler in getattr(node, "handlers", ()) or ():
            handler.body = self.block(handler.body)

    def block(self, stmts: list) -> list:
        out = []
        for stmt in stmts:
            if isinstance(stmt, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)):
                out.append(stmt)
                continue
            if isinstance(stmt, gast.Match):
                out.extend(self.match(stmt))
                continue
            self.block_in(stmt)
            out.append(stmt)
        return out

    # -- the chain -------------------------------------------------------------------------
    def match(self, stmt) -> list:
        subject = self.context.fresh("subject")
        out = [
            _located(
                gast.Assign(targets=[_store(subject)], value=stmt.subject, type_comment=None), stmt
            )
        ]
        rest: list = []
        for case in reversed(stmt.cases):
            body = self.block(case.body)
            tests, binds = self.pattern(case.pattern, _load(subject))
            assigns = [
                _located(gast.Assign(targets=[_store(n)], value=v, type_comment=None), case.pattern)
                for n, v in binds
            ]
            rest = self.case(case, tests, assigns, body, rest)
        return out + rest

    def case(self, case, tests: list, assigns: list, body: list, rest: list) -> list:
        where = case.pattern
        if case.guard is None:
            if not tests:
                return assigns + body  # irrefutable: later cases never run (Python says so)
            return [_located(gast.If(test=_all(tests), body=assigns + body, orelse=rest), where)]
        if not rest:
            guarded = [_located(gast.If(test=case.guard, body=body, orelse=[]), case.guard)]
            if not tests:
                return assigns + guarded
            return [_located(gast.If(test=_all(tests), body=assigns + guarded, orelse=[]), where)]
        flag = self.context.fresh("matched")
        taken = [
            _located(
                gast.Assign(targets=[_store(flag)], value=_constant(True), type_comment=None),
                case.guard,
            )
        ]
        guarded = [_located(gast.If(test=case.guard, body=taken + body, orelse=[]), case.guard)]
        tried = assigns + guarded
        if tests:
            tried = [_located(gast.If(test=_all(tests), body=tried, orelse=[]), where)]
        untaken = _located(gast.UnaryOp(op=gast.Not(), operand=_load(flag)), where)
        reset = _located(
            gast.Assign(targets=[_store(flag)], value=_constant(False), type_comment=None), where
        )
        return [reset, *tried, _located(gast.If(test=untaken, body=rest, orelse=[]), where)]

    # -- patterns --------------------------------------------------------------------------
    def builtin(self, name: str, obj: object = None) -> gast.Name:
        """``name`` for ``obj`` (a builtin by default): the user's own name where it means
        ``obj`` in the function, else a fresh name bound to it."""
        obj = obj if obj is not None else getattr(builtins, name)
        if self.context.parsed.lookup(name) is obj:
            return _load(name)
        return _load(self.context.bind(name, obj))

    def call(self, name: str, args: list, obj: object = None) -> gast.Call:
        return gast.Call(func=self.builtin(name, obj), args=args, keywords=[])

    def pattern(self, pattern, subject: gast.expr) -> tuple[list, list]:
        """The tests that ``subject`` matches ``pattern``, and the names it binds then."""
        result = self._pattern(pattern, subject)
        for test in result[0]:
            _located(test, pattern)
        for _, value in result[1]:
            _located(value, pattern)
        return result

    def _pattern(self, pattern, subject: gast.expr) -> tuple[list, list]:
        if isinstance(pattern, gast.MatchValue):
            test = gast.Compare(left=subject, ops=[gast.Eq()], comparators=[pattern.value])
            return [test], []
        if isinstance(pattern, gast.MatchSingleton):
            test = gast.Compare(
                left=subject, ops=[gast.Is()], comparators=[_constant(pattern.value)]
            )
            return [test], []
        if isinstance(pattern, gast.MatchAs):
            tests, binds = (
                ([], [])
                if pattern.pattern is None
                else self._pattern(pattern.pattern, clone(subject))
            )
            if pattern.name is not None:
                binds = [*binds, (pattern.name, clone(subject))]
            return tests, binds
        if isinstance(pattern, gast.MatchOr):
            alternatives = [self._pattern(p, clone(subject)) for p in pattern.patterns]
            if any(binds for _, binds in alternatives):
                raise self.context.error(
                    "unsupported construct: a 'match' alternative ('|') that captures names",
                    pattern,
                )
            if any(not tests for tests, _ in alternatives):
                return [], []
            return [gast.BoolOp(op=gast.Or(), values=[_all(t) for t, _ in alternatives])], []
        if isinstance(pattern, gast.MatchSequence):
            return self.sequence(pattern, subject)
        if isinstance(pattern, gast.MatchMapping):
            return self.mapping(pattern, subject)
        if isinstance(pattern, gast.MatchClass):
            return self.class_pattern(pattern, subject)
        raise self.context.error(
            f"unsupported construct: the 'match' pattern {type(pattern).__name__}", pattern
        )

    def sequence(self, pattern, subject) -> tuple[list, list]:
        stars = [i for i, p in enumerate(pattern.patterns) if isinstance(p, gast.MatchStar)]
        count = len(pattern.patterns) - len(stars)
        arguments = [clone(subject), _constant(count)] + ([_constant(True)] if stars else [])
        tests = [self.call("matches_sequence", arguments, runtime.matches_sequence)]
        binds = []
        star = stars[0] if stars else len(pattern.patterns)
        after = len(pattern.patterns) - star - 1
        for i, sub in enumerate(pattern.patterns):
            if i == star:
                if sub.name is not None:
                    upper = None if after == 0 else _constant(-after)
                    part = gast.Subscript(
                        value=clone(subject),
                        slice=gast.Slice(lower=_constant(i), upper=upper, step=None),
                        ctx=gast.Load(),
                    )
                    binds.append((sub.name, self.call("list", [part])))
                continue
            index = i if i < star else i - len(pattern.patterns)
            item = gast.Subscript(value=clone(subject), slice=_constant(index), ctx=gast.Load())
            sub_tests, sub_binds = self._pattern(sub, item)
            tests += sub_tests
            binds += sub_binds
        return tests, binds

    def mapping(self, pattern, subject) -> tuple[list, list]:
        if pattern.rest is not None:
            raise self.context.error(
                "unsupported construct: a 'match' mapping pattern with '**rest'", pattern
            )
        tests = [self.call("isinstance", [clone(subject), self.builtin("Mapping", Mapping)])]
        binds = []
        for key, sub in zip(pattern.keys, pattern.patterns):
            tests.append(
                gast.Compare(left=clone(key), ops=[gast.In()], comparators=[clone(subject)])
            )
            item = gast.Subscript(value=clone(subject), slice=clone(key), ctx=gast.Load())
            sub_tests, sub_binds = self._pattern(sub, item)
            tests += sub_tests
            binds += sub_binds
        return tests, binds

    def class_pattern(self, pattern, subject) -> tuple[list, list]:
        tests = [self.call("isinstance", [clone(subject), clone(pattern.cls)])]
        binds = []
        attributes = list(zip(pattern.kwd_attrs, pattern.kwd_patterns))
        if pattern.patterns:
            cls = self.resolve(pattern.cls)
            if cls in _SELF_MATCHING and len(pattern.patterns) == 1:
                sub_tests, sub_binds = self._pattern(pattern.patterns[0], clone(subject))
                return tests + sub_tests, sub_binds
            names = getattr(cls, "__match_args__", None)
            if not isinstance(names, tuple) or len(names) < len(pattern.patterns):
                raise self.context.error(
                    "unsupported construct: positional sub-patterns of a class whose "
                    "'__match_args__' cannot be read now (or has too few names)",
                    pattern,
                )
            attributes = list(zip(names, pattern.patterns)) + attributes
        user_class = attributes and is_user_class(self.resolve(pattern.cls))
        for attr, sub in attributes:
            looked_up = [clone(subject), _constant(attr)]
            holder = clone(subject)
            if not user_class:
                tests.append(self.call("hasattr", looked_up))
            else:  # read through the object of the now known class
                tests.append(self.call("has_attribute", looked_up, runtime.has_attribute))
                narrowing = [holder, clone(pattern.cls), _constant(attr)]
                holder = self.call("narrowed", narrowing, runtime.narrowed)
            value = gast.Attribute(value=holder, attr=attr, ctx=gast.Load())
            sub_tests, sub_binds = self._pattern(sub, value)
            tests += sub_tests
            binds += sub_binds
        return tests, binds

    def resolve(self, node: gast.expr) -> object:
        chain = []
        while isinstance(node, gast.Attribute):
            chain.append(node.attr)
            node = node.value
        if not isinstance(node, gast.Name):
            return None
        obj = self.context.parsed.lookup(node.id)
        for attr in reversed(chain):
            obj = getattr(obj, attr, None)
        return obj
