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

import inspect
import threading
import types
import weakref

import gast

from . import runtime
from .callables import mark_plain_code, source_location
from .emit import expression_source
from .errors import ADTransformError
from .held_values import held_call, held_constants, held_parameters, used_parameters
from .optimize import optimize
from .pipeline import GRAD, Generated, _Builder
from .reverse import AdjointProgram, assign, name_node
from .rules.registry import SCALAR, SEQUENCE, UNKNOWN

_lock = threading.RLock()
_plain_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class PlainBuilder(_Builder):
    """Builds first-order derivatives meant to be differentiated again."""

    plain = True

    def prepare(self, program: AdjointProgram, keep: set[str]) -> None:
        # before the optimizing passes, which substitute copies into the tests (``if v``)
        program.backward = _without_scalar_guards(program.backward, program.adjoint_kinds)
        optimize(program, keep, plain_tape=True)
        _check_no_guards(program.backward)
        program.backward = _functional_pops(program, program.backward)
        program.backward = _functional_item_adds(program, program.backward)
        _mark_scalar_reads(program)
        if program.tape:
            lower_tape(program)

    def saved_unpacking(self, program: AdjointProgram, saved: list[str], param: str) -> list:
        """``a, _, c = saved`` and ``b = held_constant(saved[1], 'b')`` for each saved value
        the next derivative takes as a constant (``held_constants``): it takes the saved
        tuple as one varied value, and a name bound twice would get an adjoint for each."""
        held = _program_held(program)
        if not any(n in held for n in saved):
            return super().saved_unpacking(program, saved, param)
        targets = ["_" if n in held else n for n in saved]
        lines = [f"{', '.join(targets)}{',' if len(targets) == 1 else ''} = {param}"]
        for position, name in enumerate(saved):
            if name in held:
                read = gast.Subscript(
                    value=name_node(param),
                    slice=gast.Constant(value=position, kind=None),
                    ctx=gast.Load(),
                )
                call = held_call(read, [name], held[name], program.bindings)
                lines.append(f"{name} = {expression_source(call)}")
        return lines

    def compile(self, source: str, program: AdjointProgram, func, defaults, main) -> Generated:
        generated = super().compile(source, program, func, defaults, main)
        held_params = getattr(program, "held_params", ())
        for function in generated.functions.values():
            mark_plain_code(function)
            function.ad_transform_origin = f"{function.__name__} ({source_location(func)})"
            if held_params and function.__name__ == main:
                function.ad_transform_held_params = held_params
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
    its plain gradient function, or for ``jvp(f)`` (``jvp_f(primals, tangents)``) its
    plain call function (:func:`plain_jvp_call`). Other derivatives are refused by name."""
    from .api import GradientFunction, _Transformed
    from .higher_order_calls import is_api_derivative, plain_api_call

    if is_jvp_derivative(func):
        return plain_jvp_call(func)
    if is_api_derivative(func):
        return plain_api_call(func)
    if not isinstance(func, _Transformed):
        return func
    what = f"{func.ad_transform_derivative}({getattr(func.func, '__name__', func.func)})"
    if type(func) is not GradientFunction or func.has_aux or func._receiver:
        raise ADTransformError(
            f"cannot differentiate {what}: it is a derivative made by ad_transform, and "
            "higher-order derivatives are not supported for it yet (grad(f) of a function, "
            "without has_aux, can be differentiated again; for Hessian-vector products "
            "use hvp(f), for Hessians hessian(f))"
        )
    inner = differentiable_target(func._function, kinds, shapes)
    return plain_gradient(inner, func._wrt, kinds, shapes)


def generic_plain_gradient(derivative) -> types.FunctionType:
    """The plain gradient function of ``derivative`` (``grad(f)`` called inside a
    differentiated function, ``force = grad(energy)``) for arguments of any kinds: the
    analysis of the caller calls it as a user function; for ``jvp(f)`` (``jvp_f =
    jvp(f)``, called as ``jvp_f((x,), (v,))``) its plain call function; for ``hvp(f)``,
    ``hessian(f)``, the Jacobians and ``elementwise_grad(f)`` the plain code around their
    ``jvp`` (``higher_order_calls.py``)."""
    from .higher_order_calls import is_api_derivative, plain_api_call

    if is_jvp_derivative(derivative):
        return plain_jvp_call(derivative)
    if is_api_derivative(derivative):
        return plain_api_call(derivative)
    params = [
        p
        for p in inspect.signature(derivative, follow_wrapped=False).parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    return differentiable_target(derivative, (UNKNOWN,) * len(params))


# -- jvp functions differentiated again ------------------------------------------------------
_jvp_call_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def is_jvp_derivative(obj) -> bool:
    """Whether ``obj`` is ``jvp(f)`` or ``jvp(f, wrt=...)`` (not ``hvp``, not a bound method)."""
    from .forward_api import JVPFunction, JVPOfEveryArgument

    return type(obj) in (JVPFunction, JVPOfEveryArgument)


def plain_jvp_call(derivative) -> types.FunctionType:
    """``jvp_call_f(primals, tangents)``: plain Python that unpacks the tuples and calls the
    forward-mode code of ``f`` (generated for arguments of any kinds, every function of it
    marked plain so the pipeline parses it like a user function), returning ``(value,
    tangent)``. Reverse mode over it is ``vjp(jvp(f))``, ``grad`` of a function calling
    ``jvp_f``; forward mode over it ``jvp(jvp(f))``. ``jvp(f)`` without ``wrt`` takes one
    tangent per positional parameter of ``f`` (integers included, as floats: pass
    ``wrt=`` to leave a count undifferentiated)."""
    from .forward import generate_jvp
    from .forward_api import JVPFunction

    if type(derivative) is JVPFunction:
        if derivative._receiver:
            raise ADTransformError(
                f"cannot differentiate jvp({derivative.func.__qualname__}) again: it is a jvp "
                "of a bound method; higher-order derivatives of jvp take plain functions"
            )
        func, positions = derivative._function, tuple(derivative._positions)
    else:
        func = derivative.func
        positions = tuple(range(_positional_parameters(func)))
    count = _positional_parameters(func)
    key = (positions, count)
    entries = _jvp_call_cache.get(func)
    if entries is not None and key in entries:
        function, generated = entries[key]
        if not generated.is_stale():
            return function
    with _lock:
        kinds = (UNKNOWN,) * count
        target = differentiable_target(func, kinds)
        generated = generate_jvp(target, positions, kinds)
        function = _jvp_call_function(target, generated, count)
        _jvp_call_cache.setdefault(func, {})[key] = (function, generated)
        return function


def _mark_forward_code(function: types.FunctionType, seen: set) -> None:
    """Mark ``function`` (generated forward-mode code) and the forward-mode functions of
    the helpers it calls (closure cells holding generated code) as plain code the pipeline
    may parse, after checking that no conditional tests a tangent (``e if t_dot else
    0.0`` would be a wrong derivative where the tangent is zero at a point)."""
    if function.__code__ in seen:
        return
    seen.add(function.__code__)
    import linecache
    import textwrap

    lines = linecache.getlines(function.__code__.co_filename)
    tree = gast.parse(textwrap.dedent("".join(lines)))
    for node in gast.walk(tree):
        test = getattr(node, "test", None)
        if isinstance(node, (gast.IfExp, gast.If, gast.While)) and any(
            isinstance(n, gast.Name) and "_dot" in n.id for n in gast.walk(test)
        ):
            raise ADTransformError(
                f"cannot differentiate the forward-mode code {function.__name__} again: the "
                f"condition '{expression_source(test)}' tests a tangent"
            )
    mark_plain_code(function)
    for cell in function.__closure__ or ():
        try:
            inner = cell.cell_contents
        except ValueError:
            continue
        if isinstance(inner, types.FunctionType) and inner.__code__.co_filename.startswith(
            "<ad_transform"
        ):
            _mark_forward_code(inner, seen)


def _positional_parameters(func) -> int:
    params = inspect.signature(func, follow_wrapped=False).parameters.values()
    found = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        raise ADTransformError(
            f"cannot differentiate jvp({func.__qualname__}) again: *args in its parameters"
        )
    return len(found)


def _jvp_call_function(func, generated, count: int) -> types.FunctionType:
    """Compile ``jvp_call_f(primals, tangents)`` around the forward-mode ``generated``."""
    from .emit import compile_functions

    _mark_forward_code(generated.function, set())
    names = [f"a{i}" for i in range(count)]
    tangents = list(generated.tangent_names)
    jvp_name = generated.function.__name__
    call_name = "call_" + jvp_name
    unpack = lambda items: ", ".join(items) + ("," if len(items) == 1 else "")  # noqa: E731
    arguments = ", ".join([*names, *(f"{t}={t}" for t in tangents)])
    source = (
        f"def {call_name}(primals, tangents):\n"
        f'    """The value and tangent of {func.__name__}: {jvp_name} called with the '
        f'primals and tangents unpacked; generated by ad_transform."""\n'
        + (f"    {unpack(names)} = primals\n" if names else "")
        + (f"    {unpack(tangents)} = tangents\n" if tangents else "")
        + f"    return {jvp_name}({arguments})\n"
    )
    cells = {jvp_name: types.CellType(generated.function)}
    functions = compile_functions(source, call_name, {"__builtins__": __builtins__}, cells)
    function = functions[call_name]
    mark_plain_code(function)
    function.ad_transform_origin = f"{call_name} ({source_location(func)})"
    function.ad_transform_jvp = generated
    return function


def plain_source(function: types.FunctionType) -> Generated | None:
    """The ``Generated`` of a plain derivative function (None for any other function)."""
    return getattr(function, "ad_transform_plain", None)


# -- the zero guards ----------------------------------------------------------------------
# adjoints whose zero may be a computed value (a number): their guards go; an array's,
# list's or dict's adjoint is a number only while nothing contributed to it
_VALUE_KINDS = (SCALAR, UNKNOWN)


def _without_scalar_guards(stmts: list[gast.stmt], adjoint_kinds: dict) -> list[gast.stmt]:
    """``stmts`` with the zero guards on adjoints of numbers (or of values of unknown kind)
    removed, in nested blocks too."""
    result: list[gast.stmt] = []
    for stmt in stmts:
        guard = getattr(stmt, "ad_zero_guard", None)
        if guard is not None and adjoint_kinds.get(guard) in _VALUE_KINDS:
            result.extend(_without_scalar_guards(stmt.body, adjoint_kinds))
            continue
        for block in ("body", "orelse"):
            inner = getattr(stmt, block, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], gast.stmt):
                setattr(stmt, block, _without_scalar_guards(inner, adjoint_kinds))
        _GuardRemover(adjoint_kinds).visit(stmt)
        result.append(stmt)
    return result


# the helpers a scalar template computes its value with where a factor is zero (IEEE
# ``inf``/NaN instead of ``ZeroDivisionError``); they have rules (rules/runtime_helpers.py)
_SCALAR_FALLBACKS = ("scalar_over", "scalar_times_ratio", "scalar_power_adjoint", "scalar_zero")


class _GuardRemover(gast.NodeTransformer):
    """The scalar templates' zero guards on an adjoint ``dv``: ``e if dv else 0.0`` -> ``e``;
    ``e if dv and d else scalar_over(dv, d)`` -> ``e if d else scalar_over(dv, d)`` (the
    test of the primal ``d`` stays: a piecewise definition). Any other conditional
    expression testing an adjoint is refused."""

    def __init__(self, adjoint_kinds: dict) -> None:
        self.adjoint_kinds = adjoint_kinds

    def visit_IfExp(self, node: gast.IfExp) -> gast.expr:
        self.generic_visit(node)
        tests = (
            list(node.test.values)
            if isinstance(node.test, gast.BoolOp) and isinstance(node.test.op, gast.And)
            else [node.test]
        )
        guards = [t for t in tests if isinstance(t, gast.Name) and t.id in self.adjoint_kinds]
        rest = [t for t in tests if t not in guards]
        if not guards and not any(_reads_any(t, self.adjoint_kinds) for t in tests):
            return node
        if (
            not guards
            or any(_reads_any(t, self.adjoint_kinds) for t in rest)
            or not all(_reads(node.body, g.id) for g in guards)
            or not _is_fallback(node.orelse)
        ):
            raise ADTransformError(
                "cannot make this derivative differentiable: the conditional expression "
                f"'{expression_source(node)}' tests an adjoint"
            )
        if not rest:
            return node.body
        node.test = rest[0] if len(rest) == 1 else gast.BoolOp(op=gast.And(), values=rest)
        node.ad_primal_test = True  # a piecewise definition, kept (_check_no_guards)
        return node


def _check_no_guards(stmts: list[gast.stmt]) -> None:
    """Refuse a conditional expression left in the backward sweep that is not one the guard
    removal kept on purpose (a test of primal values): the optimizing passes must not have
    made a new zero guard."""
    for stmt in _all_statements(stmts):
        for node in gast.walk(stmt):
            if isinstance(node, gast.IfExp) and not getattr(node, "ad_primal_test", False):
                raise ADTransformError(
                    "cannot make this derivative differentiable: the conditional expression "
                    f"'{expression_source(node)}' in its backward sweep"
                )


def _is_fallback(node: gast.expr) -> bool:
    """``0.0`` or a call of one of ``_SCALAR_FALLBACKS``."""
    if isinstance(node, gast.Constant):
        return node.value == 0
    return (
        isinstance(node, gast.Call)
        and isinstance(node.func, gast.Name)
        and node.func.id.split("_")[0] == "scalar"
        and any(node.func.id.startswith(name) for name in _SCALAR_FALLBACKS)
    )


def _reads_any(expr: gast.expr, names: dict) -> bool:
    return any(isinstance(n, gast.Name) and n.id in names for n in gast.walk(expr))


def _reads(expr: gast.expr, name: str) -> bool:
    return any(isinstance(n, gast.Name) and n.id == name for n in gast.walk(expr))


# -- element reads ------------------------------------------------------------------------
def _mark_scalar_reads(program: AdjointProgram) -> None:
    """``v = a[i]`` where the first analysis knew ``v`` is a number (an element of a float
    array, by the shape facts) becomes ``v = fresh_copy(a[i])``: the same value, and for
    the next analysis, which may not know the shapes, certainly no view of ``a`` that a
    later write into ``a`` (``a[i] = 0.0``, the undo of a write) would change."""
    kinds = {**program.analysis.kinds, **program.adjoint_kinds}
    copy = program.bindings.reference("fresh_copy", runtime.fresh_copy)
    for stmt in _all_statements([*program.forward, *program.backward]):
        if (
            isinstance(stmt, gast.Assign)
            and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], gast.Name)
            and isinstance(stmt.value, gast.Subscript)
            and kinds.get(stmt.targets[0].id) == SCALAR
        ):
            stmt.value = gast.Call(func=name_node(copy), args=[stmt.value], keywords=[])


# -- appends ------------------------------------------------------------------------------
def _functional_pops(program: AdjointProgram, stmts: list[gast.stmt]) -> list[gast.stmt]:
    """The backward sweep's ``dv += dxs.pop()`` (the adjoint of ``xs.append(v)``) as
    ``dv += last_item(dxs)`` then ``dxs = without_last(dxs)``: a read and a rebinding,
    which are differentiated again (the in-place pop of a list adjoint is not)."""
    result: list[gast.stmt] = []
    for stmt in stmts:
        for block in ("body", "orelse"):
            inner = getattr(stmt, block, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], gast.stmt):
                setattr(stmt, block, _functional_pops(program, inner))
        undone = _undo_pop(stmt)
        if undone is not None:
            drop = program.bindings.reference("dropped_last", runtime.dropped_last)
            call = gast.Call(func=name_node(drop), args=[name_node(undone)], keywords=[])
            result.append(_located_like(assign(undone, call), stmt))
            continue
        popped = _adjoint_pop(stmt, program.adjoint_kinds)
        if popped is None:
            result.append(stmt)
            continue
        call, adjoint = popped
        rest = program.bindings.reference("without_last", runtime.without_last)
        shrink = assign(
            adjoint, gast.Call(func=name_node(rest), args=[name_node(adjoint)], keywords=[])
        )
        shrink.ad_pure = False
        if not isinstance(stmt, gast.Expr):
            last = program.bindings.reference("last_item", runtime.last_item)
            call.func = name_node(last)
            call.args = [name_node(adjoint)]
            result.append(stmt)
        result.append(shrink)
    return result


def _functional_item_adds(program: AdjointProgram, stmts: list[gast.stmt]) -> list[gast.stmt]:
    """The backward sweep's ``dxs[i] += g`` into a list adjoint, or an adjoint whose kind
    is not known (the adjoint of a read ``v = xs[i]`` of a list the derivative code reads:
    ``dv3[0]`` of ``stack_adjoint``'s pieces), as ``dxs = item_added(dxs, i, g)``: a
    rebinding, differentiated again (an item write would need its old value restored:
    ``restore_slot``, which the plain tape does not take)."""
    result: list[gast.stmt] = []
    for stmt in stmts:
        for block in ("body", "orelse"):
            inner = getattr(stmt, block, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], gast.stmt):
                setattr(stmt, block, _functional_item_adds(program, inner))
        target = getattr(stmt, "target", None)
        if (
            isinstance(stmt, gast.AugAssign)
            and isinstance(stmt.op, gast.Add)
            and isinstance(target, gast.Subscript)
            and isinstance(target.value, gast.Name)
            and target.value.id in program.adjoint_kinds
            and program.adjoint_kinds[target.value.id] in (SEQUENCE, UNKNOWN)
        ):
            name = target.value.id
            added = program.bindings.reference("item_added", runtime.item_added)
            index = _index_value(target.slice, program)
            call = gast.Call(
                func=name_node(added), args=[name_node(name), index, stmt.value], keywords=[]
            )
            result.append(_located_like(assign(name, call), stmt))
            continue
        result.append(stmt)
    return result


def _index_value(index: gast.expr, program: AdjointProgram) -> gast.expr:
    """An index (``2:``, ``i, ::2``) as a value (``slice(2, None)``), to pass to a call."""
    if isinstance(index, gast.Slice):
        none = gast.Constant(value=None, kind=None)
        parts = [getattr(index, k) or none for k in ("lower", "upper", "step")]
        function = program.bindings.reference("slice", slice)
        return gast.Call(func=name_node(function), args=parts, keywords=[])
    if isinstance(index, gast.Tuple):
        return gast.Tuple(elts=[_index_value(e, program) for e in index.elts], ctx=gast.Load())
    return index


def _undo_pop(stmt: gast.stmt) -> str | None:
    """The list ``xs`` where ``stmt`` is ``xs.pop()``, the undo of an append."""
    value = getattr(stmt, "value", None)
    if (
        isinstance(stmt, gast.Expr)
        and isinstance(value, gast.Call)
        and isinstance(value.func, gast.Attribute)
        and value.func.attr == "pop"
        and not value.args
        and isinstance(value.func.value, gast.Name)
    ):
        return value.func.value.id
    return None


def _located_like(node: gast.stmt, like: gast.stmt) -> gast.stmt:
    for attribute in ("origin_line", "ad_pure"):
        if hasattr(like, attribute):
            setattr(node, attribute, getattr(like, attribute))
    gast.copy_location(node, like)
    return node


def _adjoint_pop(stmt: gast.stmt, adjoint_kinds: dict):
    """``(the call, the adjoint)`` where ``stmt`` is or reads ``dxs.pop()`` of an adjoint."""
    if isinstance(stmt, (gast.If, gast.For, gast.While)):
        return None
    for node in gast.walk(stmt):
        if (
            isinstance(node, gast.Call)
            and isinstance(node.func, gast.Attribute)
            and node.func.attr == "pop"
            and not node.args
            and isinstance(node.func.value, gast.Name)
            and node.func.value.id in adjoint_kinds
        ):
            return node, node.func.value.id
    return None


# -- the tape ---------------------------------------------------------------------------
def lower_tape(program: AdjointProgram) -> None:
    """``push(v)`` -> ``tape.append(v)``; ``v = pop()`` -> ``top = top - 1; v = tape[top]``,
    with ``top = len(tape)`` first in the backward sweep. Pops only happen in the backward
    sweep, after every push, in the reverse order (``reverse.py``).

    Values that carry no derivative (loop trip counts, branch flags, integer indices: names
    the first analysis found not varied) go on a second list, ``constants``, read the same
    way: a value read back from ``tape`` is active for the next derivative, and an active
    index (``dx[i] += g``) would be refused. A push and its pop are matched by their slot
    (``ad_tape_slot``, set by the reverse stage on both, kept by ``optimize/tape.py``);
    moving every push and pop of one slot to the other list keeps both lists stacks."""
    tape, push, pop = (program.tape[r] for r in ("tape", "push", "pop"))
    names = program.fn.names
    lists = _TapeLists(
        tape, names.fresh("top"), names.fresh("constants"), names.fresh("ctop"), program.bindings
    )
    lists.matched = _matched_slots(program, push, pop)
    lists.constant_names = _constant_slots(program, lists.matched)
    lists.held = _program_held(program)
    program.forward = _lowered(program.forward, lists, push, pop)
    program.backward = _lowered(program.backward, lists, push, pop)
    length = name_node("len")
    starts = [
        assign(lists.top, gast.Call(func=length, args=[name_node(tape)], keywords=[])),
    ]
    if lists.used_constants:
        starts.append(
            assign(
                lists.ctop,
                gast.Call(func=name_node("len"), args=[name_node(lists.constants)], keywords=[]),
            )
        )
        empty = gast.List(elts=[], ctx=gast.Load())
        program.forward.insert(0, assign(lists.constants, empty))
    program.backward[0:0] = starts


def _program_held(program: AdjointProgram) -> dict[str, bool]:
    """``held_constants`` of the program, computed once; the parameters its held values
    are computed from are kept as ``program.held_params``."""
    found = getattr(program, "held", None)
    if found is None:
        leaves = held_parameters(program.analysis)
        found = held_constants(program.analysis, leaves)
        program.held = found
        program.held_params = used_parameters(program.analysis, found, leaves)
    return found


class _TapeLists:
    """The names of the two tapes of plain code and of their read positions."""

    def __init__(self, tape: str, top: str, constants: str, ctop: str, bindings) -> None:
        self.tape, self.top, self.constants, self.ctop = tape, top, constants, ctop
        self.bindings = bindings
        self.matched: dict = {}  # slot -> the names of its push and its pop, the same
        self.constant_names: dict = {}  # slot -> the names of its push kept in ``constants``
        self.held: dict = {}  # names read back as constants (``held_constants``)
        self.used_constants = False


def program_reference(lists: _TapeLists, name: str, obj) -> str:
    """The name generated code calls ``obj`` by (a closure cell of the program)."""
    return lists.bindings.reference(name, obj)


def _matched_slots(program: AdjointProgram, push: str, pop: str) -> dict:
    """slot -> the names it saves, for slots with one push and one pop statement saving
    and restoring the same names (``push((a, b))``, ``a, b = pop()``): their values may be
    split between the two lists, the same way at both ends."""
    pushes: dict = {}
    pops: dict = {}
    for stmts, table, role in ((program.forward, pushes, push), (program.backward, pops, pop)):
        for stmt in _all_statements(stmts):
            slot = getattr(stmt, "ad_tape_slot", None)
            if slot is None or not _calls(stmt, role):
                continue
            table[slot] = None if slot in table else _tape_names(stmt, role)
    return {
        slot: saved
        for slot, saved in pushes.items()
        if saved is not None and pops.get(slot) == saved
    }


def _constant_slots(program: AdjointProgram, matched: dict) -> dict:
    """slot -> the names its push saves that carry no derivative, for slots pushed once and
    popped once with the same names (``matched``): names the first analysis knows (SSA
    names of the function) and found not varied. Not by the slot's kind:
    ``optimize/tape.py`` merges the pushes of a block into the push of the last slot,
    values and loop counts together; names the reverse stage made (trip counts) stay on
    ``tape``, where they are harmless."""
    analysis = program.analysis
    found = {}
    for slot, saved in matched.items():
        constant = [n for n in saved if n in analysis.kinds and n not in analysis.varied]
        if constant:
            found[slot] = constant
    return found


def _all_statements(stmts: list[gast.stmt]):
    for stmt in stmts:
        yield stmt
        for block in ("body", "orelse"):
            inner = getattr(stmt, block, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], gast.stmt):
                yield from _all_statements(inner)


def _tape_names(stmt: gast.stmt, role: str) -> list[str] | None:
    """The names ``push(a)``/``push((a, b))`` saves or ``a, b = pop()`` restores (``role``
    the push or pop name); None for any other statement."""
    if not _calls(stmt, role):
        return None
    if isinstance(stmt, gast.Expr):
        if len(stmt.value.args) != 1:
            return None
        node = stmt.value.args[0]
    elif isinstance(stmt, gast.Assign) and len(stmt.targets) == 1:
        node = stmt.targets[0]
    else:
        return None
    elts = node.elts if isinstance(node, gast.Tuple) else [node]
    if not all(isinstance(e, gast.Name) for e in elts):
        return None
    return [e.id for e in elts]


def _lowered(stmts: list[gast.stmt], lists: _TapeLists, push: str, pop: str) -> list:
    result: list[gast.stmt] = []
    for stmt in stmts:
        for block in ("body", "orelse"):
            inner = getattr(stmt, block, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], gast.stmt):
                setattr(stmt, block, _lowered(inner, lists, push, pop))
        groups = _slot_groups(lists, stmt, push, pop)
        if _calls(stmt, push) and isinstance(stmt, gast.Expr):
            if groups is not None:
                for tape, names, _ in groups:
                    lists.used_constants |= tape == lists.constants
                    result.append(_appended(tape, names, stmt))
                continue
            stmt.value.func = gast.Attribute(
                value=name_node(lists.tape), attr="append", ctx=gast.Load()
            )
            if _tape_names(stmt, push) is None:  # a part of an array a write overwrites
                copy = program_reference(lists, "fresh_copy", runtime.fresh_copy)
                stmt.value.args = [
                    gast.Call(func=name_node(copy), args=stmt.value.args, keywords=[])
                ]
        elif isinstance(stmt, gast.Assign) and _calls(stmt, pop):
            if groups is None:
                result.extend(_read_back(lists.tape, lists.top, None, stmt))
                continue
            for tape, names, strict in reversed(groups):
                top = lists.ctop if tape == lists.constants else lists.top
                read = _read_back(tape, top, names, stmt)
                if strict is not None:  # read as a constant: ``held_constant(tape[top])``
                    read[-1].value = held_call(read[-1].value, names, strict, lists.bindings)
                result.extend(read)
            continue
        elif any(isinstance(n, gast.Name) and n.id in (push, pop) for n in gast.walk(stmt)):
            raise ADTransformError(
                "cannot make this derivative differentiable: a tape operation in an "
                f"unexpected statement ({type(stmt).__name__}: "
                f"'{expression_source(stmt)}')"
            )
        result.append(stmt)
    return result


def _slot_groups(lists: _TapeLists, stmt: gast.stmt, push: str, pop: str) -> list | None:
    """How the push or pop ``stmt`` of a slot whose push and pop save the same names is
    split: ``[(list, names, strict)]`` in push order, ``strict`` None for values read as
    they are, else how ``held_constant`` checks them (names held as constants first, on
    ``constants``; then the other names without derivative, on ``constants``; the rest
    on ``tape``). None: the statement as it is, on ``tape``."""
    names = lists.matched.get(getattr(stmt, "ad_tape_slot", None))
    if names is None or (_tape_names(stmt, push) or _tape_names(stmt, pop)) != names:
        return None
    constant = lists.constant_names.get(stmt.ad_tape_slot, [])
    free = [n for n in names if lists.held.get(n) is False]
    strict = [n for n in names if lists.held.get(n) is True]
    plain = [n for n in constant if n not in lists.held]
    rest = [n for n in names if n not in lists.held and n not in constant]
    groups = [
        (lists.constants, free, False),
        (lists.constants, strict, True),
        (lists.constants, plain, None),
        (lists.tape, rest, None),
    ]
    return [g for g in groups if g[1]]


def _names_value(names: list[str], ctx) -> gast.expr:
    if len(names) == 1:
        return gast.Name(id=names[0], ctx=ctx, annotation=None, type_comment=None)
    elts = [gast.Name(id=n, ctx=ctx, annotation=None, type_comment=None) for n in names]
    return gast.Tuple(elts=elts, ctx=ctx)


def _appended(tape: str, names: list[str], like: gast.stmt) -> gast.stmt:
    """``tape.append((a, b))``."""
    method = gast.Attribute(value=name_node(tape), attr="append", ctx=gast.Load())
    call = gast.Call(func=method, args=[_names_value(names, gast.Load())], keywords=[])
    return _located_like(gast.Expr(value=call), like)


def _read_back(tape: str, top: str, names: list[str] | None, like: gast.stmt) -> list:
    """``top = top - 1`` and ``a, b = tape[top]`` (``names`` None: ``like``'s targets)."""
    decrement = gast.BinOp(
        left=name_node(top), op=gast.Sub(), right=gast.Constant(value=1, kind=None)
    )
    read = gast.Subscript(value=name_node(tape), slice=name_node(top), ctx=gast.Load())
    if names is None:
        like.value = read
        return [_located_like(assign(top, decrement), like), like]
    target = _names_value(names, gast.Store())
    return [
        _located_like(assign(top, decrement), like),
        _located_like(assign(target, read), like),
    ]


def _calls(stmt: gast.stmt, name: str) -> bool:
    value = getattr(stmt, "value", None)
    return (
        isinstance(value, gast.Call) and isinstance(value.func, gast.Name) and value.func.id == name
    )


__all__ = ["PlainBuilder", "lower_tape", "plain_gradient", "plain_source", "runtime"]
