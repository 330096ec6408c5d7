"""Derivatives of derivatives: the code ad_transform generates, made fit to be
differentiated again.

``grad(grad(f))``, ``jvp(grad(f))``, ``hvp``, ``hessian`` and a gradient called inside a
differentiated function all differentiate a first-order derivative. Its optimized code
(what ``grad(f).source`` shows) is made for speed: ``dv * x if dv else 0.0`` skips a zero
adjoint, a bound method ``pop`` reads the tape. Differentiating that would branch on the
value of an adjoint (a wrong derivative where an adjoint is zero at one point). So the
derivative is generated again, *plain* (``PlainBuilder``): the same reverse stage, no
optimizing passes, and then:

- the zero guards on numbers are dropped (``dv * x if dv else 0.0`` becomes ``dv * x``,
  ``if not is_zero(dv):`` around the statements of a scalar adjoint goes): adjoint
  templates are linear in ``dv``, so the value is the same wherever the partials are
  finite; guards on array adjoints stay (they test whether anything contributed at all,
  which the values around do not change);
- the tape is a list, appended to (``tape.append(v)``) and read by index from the end
  (``top = top - 1; v = tape[top]``): list operations the transformer differentiates in
  both modes (the tape holds primal values; their adjoints are accumulated into the
  list's adjoint in reverse-over-reverse, their tangents carried beside them in
  forward-over-reverse);
- gradients are returned untyped (``type(x)(dx)`` is left to the API).

The plain function is compiled like any generated function (its source registered with
``linecache``) and handed to the pipeline as a user function. The runtime helpers it
calls have rules of their own (``rules/runtime_helpers.py``).
"""

from __future__ import annotations

import threading
import types
import weakref

import gast

from . import runtime
from .callables import mark_plain_code
from .errors import ADTransformError
from .pipeline import GRAD, Generated, _Builder
from .reverse import AdjointProgram, assign, name_node
from .rules.registry import SCALAR

_lock = threading.RLock()
_plain_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class PlainBuilder(_Builder):
    """Builds first-order derivatives meant to be differentiated again."""

    plain = True

    def prepare(self, program: AdjointProgram, keep: set[str]) -> None:
        program.backward = _without_scalar_guards(program.backward, program.adjoint_kinds)
        if program.tape:
            lower_tape(program)

    def compile(self, source: str, program: AdjointProgram, func, defaults, main) -> Generated:
        generated = super().compile(source, program, func, defaults, main)
        for function in generated.functions.values():
            mark_plain_code(function)
        return generated


def plain_gradient(
    func: types.FunctionType, wrt: tuple[int, ...] | int, kinds: tuple, shapes: tuple | None
) -> types.FunctionType:
    """The plain gradient function of ``func`` (``grad_f(*args)`` returning the gradient,
    a tuple for a tuple ``wrt``) for arguments of these kinds, cached per function."""
    key = (wrt, kinds, shapes)
    entries = _plain_cache.get(func)
    if entries is not None and key in entries and not entries[key].is_stale():
        return entries[key].function
    with _lock:
        entries = _plain_cache.setdefault(func, {})
        if key not in entries or entries[key].is_stale():
            generated = PlainBuilder().top_level(func, wrt, kinds, GRAD, None, None, shapes)
            generated.function.ad_transform_plain = generated
            entries[key] = generated
        return entries[key].function


def differentiable_target(func, kinds: tuple, shapes: tuple | None = None):
    """What the pipeline differentiates for ``func`` called with arguments of these kinds:
    ``func`` itself, or, for a derivative ad_transform made (``grad(f)``, to any depth),
    its plain gradient function. Other derivatives are refused by name."""
    from .api import GradientFunction, _Transformed

    if not isinstance(func, _Transformed):
        return func
    what = f"{func.ad_transform_derivative}({getattr(func.func, '__name__', func.func)})"
    if type(func) is not GradientFunction or func.has_aux or func._receiver:
        raise ADTransformError(
            f"cannot differentiate {what}: only derivatives made by grad (without has_aux, "
            "of a function, not a bound method) can be differentiated again; for "
            "Hessian-vector products use hvp(f), for Hessians hessian(f)"
        )
    inner = differentiable_target(func._function, kinds, shapes)
    return plain_gradient(inner, func._wrt, kinds, shapes)


def plain_source(function: types.FunctionType) -> Generated | None:
    """The ``Generated`` of a plain derivative function (None for any other function)."""
    return getattr(function, "ad_transform_plain", None)


# -- the zero guards ----------------------------------------------------------------------
def _without_scalar_guards(stmts: list[gast.stmt], adjoint_kinds: dict) -> list[gast.stmt]:
    """``stmts`` with the zero guards on scalar adjoints removed (in nested blocks too)."""
    result: list[gast.stmt] = []
    for stmt in stmts:
        guard = getattr(stmt, "ad_zero_guard", None)
        if guard is not None and adjoint_kinds.get(guard) == SCALAR:
            result.extend(_without_scalar_guards(stmt.body, adjoint_kinds))
            continue
        for block in ("body", "orelse"):
            inner = getattr(stmt, block, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], gast.stmt):
                setattr(stmt, block, _without_scalar_guards(inner, adjoint_kinds))
        _GuardRemover(adjoint_kinds).visit(stmt)
        result.append(stmt)
    return result


class _GuardRemover(gast.NodeTransformer):
    """``e if dv else 0.0`` (the scalar templates' zero guard on the adjoint ``dv``) -> ``e``."""

    def __init__(self, adjoint_kinds: dict) -> None:
        self.adjoint_kinds = adjoint_kinds

    def visit_IfExp(self, node: gast.IfExp) -> gast.expr:
        self.generic_visit(node)
        test, orelse = node.test, node.orelse
        if (
            isinstance(test, gast.Name)
            and test.id in self.adjoint_kinds
            and isinstance(orelse, gast.Constant)
            and orelse.value == 0
            and _reads(node.body, test.id)
        ):
            return node.body
        return node


def _reads(expr: gast.expr, name: str) -> bool:
    return any(isinstance(n, gast.Name) and n.id == name for n in gast.walk(expr))


# -- the tape -----------------------------------------------------------------------------
def lower_tape(program: AdjointProgram) -> None:
    """``push(v)`` -> ``tape.append(v)``; ``v = pop()`` -> ``top = top - 1; v = tape[top]``,
    with ``top = len(tape)`` first in the backward sweep. Pops only happen in the backward
    sweep, after every push, in the reverse order (``reverse.py``)."""
    tape, push, pop = (program.tape[r] for r in ("tape", "push", "pop"))
    top = program.fn.names.fresh("top")
    program.forward = _lowered(program.forward, tape, push, pop, top)
    program.backward = _lowered(program.backward, tape, push, pop, top)
    start = assign(top, gast.Call(func=name_node("len"), args=[name_node(tape)], keywords=[]))
    program.backward.insert(0, start)


def _lowered(stmts: list[gast.stmt], tape: str, push: str, pop: str, top: str) -> list:
    result: list[gast.stmt] = []
    for stmt in stmts:
        for block in ("body", "orelse"):
            inner = getattr(stmt, block, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], gast.stmt):
                setattr(stmt, block, _lowered(inner, tape, push, pop, top))
        if _calls(stmt, push) and isinstance(stmt, gast.Expr):
            stmt.value.func = gast.Attribute(value=name_node(tape), attr="append", ctx=gast.Load())
        elif isinstance(stmt, gast.Assign) and _calls(stmt, pop):
            decrement = gast.BinOp(
                left=name_node(top), op=gast.Sub(), right=gast.Constant(value=1, kind=None)
            )
            result.append(assign(top, decrement))
            stmt.value = gast.Subscript(value=name_node(tape), slice=name_node(top), ctx=gast.Load())
        elif any(isinstance(n, gast.Name) and n.id in (push, pop) for n in gast.walk(stmt)):
            raise ADTransformError(
                "cannot make this derivative differentiable: a tape operation in an "
                f"unexpected statement ({type(stmt).__name__})"
            )
        result.append(stmt)
    return result


def _calls(stmt: gast.stmt, name: str) -> bool:
    value = getattr(stmt, "value", None)
    return (
        isinstance(value, gast.Call)
        and isinstance(value.func, gast.Name)
        and value.func.id == name
    )


__all__ = ["PlainBuilder", "lower_tape", "plain_gradient", "plain_source", "runtime"]
