"""Runs the stages in order and caches what they produce.

One entry per (function, wrt, argument kinds, mode), built lazily at the first call
with those kinds. A user function called by a differentiated one gets its own
forward/backward pair; the pair is cached before its body is generated, through
closure cells filled afterwards, so that recursion works.
"""

from __future__ import annotations

import inspect
import threading
import types
import weakref
from dataclasses import dataclass, field

import gast

from . import numba_compile, runtime
from .analyze import analyze
from .callables import code_name, is_library_module, source_location
from .dispatch import dynamic_pair, is_dynamic
from .effects import effect_dependencies
from .emit import FunctionText, compile_functions, expression_source, parameters_source
from .kinds import ANY_NUMBER, NumberGuard, forget_helper_results
from .lower.signature import spread_signature, spread_varargs
from .nodes import name_ids, subnodes
from .normalize import NormalizedFunction, normalize
from .numba_form import numba_variant
from .ops import Analysis, Op
from .optimize import optimize
from .optimize.inline_pairs import inline_form
from .parse import is_missing, parse_function
from .reverse import JOINT, SPLIT, AdjointProgram, HelperPair, name_node, reverse
from .rules.registry import ARRAY, SCALAR
from .transform_memo import one_transformation
from .value_kinds import GRAD, VALUE_AND_GRAD, VJP

_lock = threading.RLock()

_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@dataclass
class Generated:
    """The compiled product of one transformation."""

    source: str
    functions: dict[str, types.FunctionType]
    main: str  # the name of the function to call (the forward half for vjp)
    backward: str | None = None
    wrt: tuple[str, ...] = ()
    # (namespace, name, object): what it resolved through a global or closure name (user
    # functions and every other callee), to notice rebindings; namespace is a dict, a
    # mapping proxy (a class's or an object's attributes) or a closure cell
    dependencies: tuple = ()
    cells: dict = field(default_factory=dict)  # free name of the source -> closure cell
    inline: object = None  # a helper pair's halves as optimize.inline_pairs.InlineForm
    compiled: dict = field(default_factory=dict)  # compile="numba": name -> Numba dispatcher

    def is_stale(self) -> bool:
        """Whether a name it resolved (a user function, a global holding ``np.tanh``...) was
        rebound since it was generated."""
        for namespace, name, obj in self.dependencies:
            current = namespace.get(name) if hasattr(namespace, "get") else _cell_value(namespace)
            if isinstance(obj, NumberGuard):
                if not obj.holds(current):
                    return True
            elif current is not obj:
                return True
        return False

    def bindings_now(self) -> tuple:
        """The objects the names it depends on hold now (for ``rebound_since``)."""
        return tuple(_bound_object(namespace, name) for namespace, name, _ in self.dependencies)

    def rebound_since(self, bindings: tuple) -> str | None:
        """The first name it depends on that holds another object than in ``bindings`` (a
        number: another value), or None. A pullback checks it: its backward sweep reads
        globals when it runs, so a global rebound after the forward sweep would give it
        another function than the one the forward sweep computed."""
        for (namespace, name, _), then in zip(self.dependencies, bindings):
            now = _bound_object(namespace, name)
            if now is not then and not (_is_plain_number(now) and now == then):
                return name
        return None

    @property
    def function(self) -> types.FunctionType:
        return self.functions[self.main]


def _bound_object(namespace, name: str) -> object:
    return namespace.get(name) if hasattr(namespace, "get") else _cell_value(namespace)


def _is_plain_number(value) -> bool:
    return type(value) in (float, int, bool)


def generate(
    func: types.FunctionType,
    wrt: tuple[int, ...],
    kinds: tuple,
    mode: str,
    classes: tuple | None = None,
    leaf_kinds: tuple | None = None,
    shapes: tuple | None = None,
    compile: str | None = None,
) -> Generated:
    """The generated (and cached) gradient code of ``func`` for arguments of these kinds;
    ``classes``: the user class of each argument that is an object of one (else None);
    ``leaf_kinds``: the facts of each container argument's leaves (``leaf_kinds.py``;
    None where there are none); ``shapes``: each argument's shape facts
    (``shapes.argument_shapes``), or None for code that works for arrays of any rank;
    ``compile="numba"``: the Numba variant, compiled by Numba (``numba_compile.py``)."""
    if not isinstance(func, types.FunctionType):
        parse_function(func)  # raises the ADTransformError that explains why
    classes = classes if classes is not None and any(classes) else None
    key = (wrt, kinds, mode) if classes is None else (wrt, kinds, mode, classes)
    if leaf_kinds is not None and any(f is not None for f in leaf_kinds):
        key = (*key, ("leaf_kinds", leaf_kinds))
    else:
        leaf_kinds = None
    if shapes is not None:
        key = (*key, ("shapes", shapes))
    if compile is not None:
        key = (*key, ("compile", compile))
    entries = _cache.get(func)
    if entries is not None and key in entries and not entries[key].is_stale():
        return entries[key]
    with _lock:
        entries = _cache.setdefault(func, {})
        if key not in entries or entries[key].is_stale():
            _forget_stale_pairs()
            with one_transformation():
                builder = _Builder(numba=compile == "numba")
                entries[key] = builder.top_level(
                    func, wrt, kinds, mode, classes, leaf_kinds, shapes
                )
        return entries[key]


def _forget_stale_pairs() -> None:
    for entries in list(_cache.values()):
        for key, entry in list(entries.items()):
            generated = getattr(entry, "generated", None)
            if key[-1] == "pair" and generated is not None and generated.is_stale():
                del entries[key]


def ssa_source(func: types.FunctionType) -> str:
    """The primal function in SSA form: one primitive per line, versioned names."""
    fn = normalize(parse_function(func))
    text = FunctionText(
        fn.tree.name,
        parameters_source(fn.tree.args),
        f"{fn.tree.name} in SSA form, one primitive operation per line.",
    )
    text.statements(fn.body, fn.parsed.file_lines)
    return text.source()


def normalized_for_call(func, wrt: tuple[int, ...], kinds: tuple) -> tuple:
    """``func`` parsed and normalized for a call with ``len(kinds)`` positional arguments
    (``*args`` spread to them): ``(fn, its positional parameters, the wrt names)``; a
    ``wrt`` index out of range is an ``ADTransformError``."""
    parsed = parse_function(func)
    declared = parsed.tree.args
    spread = len(kinds) - len(declared.posonlyargs) - len(declared.args)
    fn = normalize(spread_varargs(parsed, spread))
    params = positional_params(fn)
    for index in wrt:
        if not 0 <= index < len(params):
            raise _wrt_out_of_range(func, index, len(params))
    return fn, params, tuple(params[i] for i in wrt)


def positional_params(fn: NormalizedFunction) -> list[str]:
    args = fn.tree.args
    return [a.id for a in (*args.posonlyargs, *args.args)]


def bound_params(fn: NormalizedFunction) -> list[str]:
    """Every name the call binds: positional, keyword-only, ``*args`` and ``**kwargs``."""
    args = fn.tree.args
    variadic = [a for a in (args.vararg, args.kwarg) if a is not None]
    return [a.id for a in (*args.posonlyargs, *args.args, *args.kwonlyargs, *variadic)]


class _Builder:
    """Builds one top-level transformation and the helper pairs it needs; ``numba``: the
    Numba variant (typed tapes, untyped returns, compiled by ``numba_compile``)."""

    def __init__(self, numba: bool = False) -> None:
        self.numba = numba

    # ``higher_order.PlainBuilder``: code meant to be differentiated again (no optimizing
    # passes, no zero guards on numbers, the tape a list read by index)
    plain = False

    @property
    def fuses(self) -> bool:
        """Whether adjoints may be fused into runtime helpers without rules of their own
        (``normalized_adjoint``): not in code differentiated again or compiled by Numba."""
        return not (self.plain or self.numba)

    def prepare(self, program: AdjointProgram, keep: set[str]) -> None:
        """The optimizing passes (``higher_order.PlainBuilder`` replaces them)."""
        optimize(program, keep, plain_tape=self.numba, recompute=not self.numba)

    def saved_unpacking(self, program: AdjointProgram, saved: list[str], param: str) -> list:
        """The lines of the backward half reading what the forward half saved: ``a, b =
        saved`` (``higher_order.PlainBuilder`` reads some as constants)."""
        return [f"{_tuple_source_names(saved)} = {param}"] if saved else []

    def top_level(
        self,
        func,
        wrt: tuple[int, ...] | int,
        kinds: tuple,
        mode: str,
        classes=None,
        leaf_kinds: tuple | None = None,
        shapes: tuple | None = None,
    ) -> Generated:
        single = isinstance(wrt, int)
        wrt = (wrt,) if single else tuple(wrt)
        forget_helper_results()  # names may have been rebound since the last one
        fn, params, wrt_names = normalized_for_call(func, wrt, kinds)
        param_kinds = dict(zip(params, kinds))
        param_classes = {p: c for p, c in zip(params, classes or ()) if c is not None}
        param_leaf_kinds = {p: f for p, f in zip(params, leaf_kinds or ()) if f is not None}
        param_shapes = dict(zip(params, shapes)) if shapes is not None else None
        analysis = analyze(
            fn,
            wrt_names,
            param_kinds,
            param_classes=param_classes,
            param_leaf_kinds=param_leaf_kinds,
            param_shapes=param_shapes,
        )
        program = reverse(
            analysis, JOINT if mode != VJP else SPLIT, self.helper_pair, fuse=self.fuses
        )
        if mode == VJP:
            return self.emit_split(
                program,
                func,
                f"{func.__name__}_fwd",
                f"{func.__name__}_bwd",
                single_gradient=single,
                reusable=True,
                copies_saved=True,
                typed=True,
            )
        return self.emit_joint(program, func, mode, single)

    # -- helper pairs --------------------------------------------------------------------
    def helper_pair(self, op: Op, active: list[str], arg_kinds: dict) -> HelperPair:
        callee = op.callee
        if is_dynamic(callee):  # a method found when the call runs
            return dynamic_pair(op, active)
        parsed = parse_function(callee)
        if op.spread is not None or op.spread_keywords:  # ``*args``/``**kwargs`` spread
            signature = spread_signature(callee, parsed, op.spread or 0, op.spread_keywords)
            parsed = spread_varargs(parsed, op.spread or 0, op.spread_keywords)
        else:
            signature = inspect.signature(callee, follow_wrapped=False)
        fn_params = list(signature.parameters)
        kinds = tuple(arg_kinds.get(p) for p in fn_params)
        wrt = tuple(fn_params.index(p) for p in active)
        inout = tuple(op.writes)  # the parameters it changes in place, in signature order
        classes = tuple(op.arg_classes.get(p) for p in fn_params)
        key = (wrt, kinds, inout, op.result_used, "pair")
        if self.plain:
            key = (*key[:-1], "plain", "pair")
        if op.spread_keywords:  # the spread parameters' names depend on the keys
            key = (*key[:-1], op.spread_keywords, "pair")
        if any(classes):
            key = (*key[:-1], classes, "pair")
        if self.numba:  # its halves are compiled, its tapes typed
            key = (*key[:-1], "numba", "pair")
        if op.complex_context:  # complex values may reach it: its rules are checked for them
            key = (*key[:-1], "complex", "pair")
        leaf_kinds = tuple(op.arg_leaf_kinds.get(p) for p in fn_params)
        if any(f is not None for f in leaf_kinds):  # leaves without derivative (leaf_kinds.py)
            key = (*key[:-1], ("leaf_kinds", leaf_kinds), "pair")
        entries = _cache.setdefault(callee, {})
        if key in entries:
            return entries[key]
        name = code_name(callee)
        pair = HelperPair(types.CellType(), types.CellType(), name, list(active), list(inout))
        entries[key] = pair
        try:
            fn = normalize(parsed, procedure=True)
            analysis = analyze(
                fn,
                (*active, *inout),
                dict(zip(fn_params, kinds)),
                helper=True,
                inout=inout,
                result_used=op.result_used,
                param_classes=dict(op.arg_classes),
                complex_context=op.complex_context,
                param_leaf_kinds=dict(op.arg_leaf_kinds),
            )
            program = reverse(analysis, SPLIT, self.helper_pair, fuse=self.fuses)
            generated = self.emit_split(
                program,
                callee,
                f"{name}_fwd",
                f"{name}_bwd",
                single_gradient=not inout,
                reusable=True,
            )
        except BaseException:
            del entries[key]
            raise
        halves = generated.compiled or generated.functions
        pair.fwd_cell.cell_contents = halves[generated.main]
        pair.bwd_cell.cell_contents = halves[generated.backward]
        pair.generated = generated
        pair.undoes_writes = _undoes_writes(program)
        return pair

    # -- emission ------------------------------------------------------------------------
    def gradient_expressions(self, program: AdjointProgram, typed: bool) -> list[gast.expr]:
        """The gradient of each parameter: its adjoint, or a zero (``0.0`` inside a helper
        pair, ``type(x)(0.0)`` where the caller gets it, ``typed``)."""
        exprs = []
        for param, adjoint in program.grads.items():
            if adjoint is not None:
                exprs.append(name_node(adjoint))
            elif program.analysis.kinds.get(param) == SCALAR:
                zero = gast.Constant(value=0.0, kind=None)
                if typed and not self.numba:
                    type_name = program.bindings.reference("type", type)
                    kind = gast.Call(name_node(type_name), [name_node(param)], [])
                    zero = gast.Call(func=kind, args=[zero], keywords=[])
                exprs.append(zero)
            else:
                helper = program.bindings.reference("zeros_like", runtime.zeros_like)
                exprs.append(
                    gast.Call(func=name_node(helper), args=[name_node(param)], keywords=[])
                )
        return exprs

    def owned_gradients(
        self, program: AdjointProgram, exprs: list[gast.expr], typed: bool
    ) -> list[gast.expr]:
        """Gradients of non-scalars go through ``as_gradient``: the argument's shape and type,
        and a copy where the array may alias another one (or another gradient). Where the
        caller gets them (``typed``), gradients of scalars get the type of their argument
        (``typed_scalar_gradient``)."""
        owned = getattr(program, "owned", {})
        result = []
        for param, expr in zip(program.grads, exprs):
            scalar = program.analysis.kinds.get(param) == SCALAR
            if isinstance(expr, gast.Name) and scalar and typed:
                if not self.numba:  # Numba returns a float as it is
                    expr = self.typed_scalar_gradient(program, expr, param)
            elif isinstance(expr, gast.Name) and not scalar:
                helper = program.bindings.reference("as_gradient", runtime.as_gradient)
                copy = not owned.get(expr.id)
                args = [expr, name_node(param)] + (
                    [gast.Constant(value=True, kind=None)] if copy else []
                )
                keywords = []
                if not typed and program.analysis.kinds.get(param) != ARRAY:
                    # a helper's list: its caller adds the adjoint to others (a list adjoint)
                    flag = gast.Constant(value=True, kind=None)
                    keywords = [gast.keyword(arg="adjoint", value=flag)]
                expr = gast.Call(func=name_node(helper), args=args, keywords=keywords)
            result.append(expr)
        return result

    def typed_scalar_gradient(self, program: AdjointProgram, dx: gast.Name, param: str):
        """``dx if type(dx) is type(x) else type(x)(dx)`` for the parameter ``x`` (a Python or
        NumPy float: the caller's integers became floats): plain Python, one type test for
        the common case."""
        type_name = program.bindings.reference("type", type)

        def type_of(name: str) -> gast.expr:
            return gast.Call(func=name_node(type_name), args=[name_node(name)], keywords=[])

        return gast.IfExp(
            test=gast.Compare(left=type_of(dx.id), ops=[gast.Is()], comparators=[type_of(param)]),
            body=name_node(dx.id),
            orelse=gast.Call(func=type_of(param), args=[name_node(dx.id)], keywords=[]),
        )

    def emit_joint(self, program: AdjointProgram, func, mode: str, single: bool) -> Generated:
        fn = program.fn
        grads = self.gradient_expressions(program, typed=not self.plain)
        keep = name_ids(grads)
        if mode == VALUE_AND_GRAD and isinstance(program.result, gast.Name):
            if program.result.id in program.analysis.loop_variant:
                program.result = _snapshot_result(program)  # the backward sweep restores it
            keep.add(program.result.id)
        self.prepare(program, keep)
        tapes = self.tapes(program)
        grads = self.owned_gradients(program, grads, typed=not self.plain)
        # the name users know (a decorator's wrapper keeps the decorated function's name)
        base = func.__name__ if func.__name__.isidentifier() else fn.tree.name
        name = fn.names.fresh(("grad_" if mode == GRAD else "value_and_grad_") + base)
        text = FunctionText(name, parameters_source(fn.tree.args), _docstring(program, func, mode))
        for tape in tapes:
            _tape_prologue(text, tape, push=True, pop=not self.plain, plain=self.plain)
        text.statements(program.forward, fn.parsed.file_lines)
        text.statements(program.backward, fn.parsed.file_lines, heading="backward sweep")
        returned = expression_source(grads[0]) if single else _tuple_source(grads)
        if mode == VALUE_AND_GRAD:
            returned = f"{expression_source(program.result)}, " + (
                returned if single else f"({returned})"
            )
        text.line(f"return {returned}")
        return self.compile(text.source(), program, func, {name: _defaults(func)}, name)

    def emit_split(
        self,
        program: AdjointProgram,
        func,
        fwd_name: str,
        bwd_name: str,
        single_gradient: bool,
        reusable: bool = False,
        copies_saved: bool = False,
        typed: bool = False,
    ) -> Generated:
        """Forward and backward functions; ``reusable``: the backward may run many times
        on the same saved values (vjp's pullback), so it pops from a copy of its tape;
        ``copies_saved`` (vjp's own pair): it starts from ``fresh_saved``, a copy of
        everything it saved (helper pairs' saved values included, views kept as views),
        where some backward sweep undoes writes. Helper pairs never copy: their saved views
        must stay views of the objects their caller hands to their backward sweep."""
        fn = program.fn
        names = fn.names
        fwd_name, bwd_name = names.fresh(fwd_name), names.fresh(bwd_name)
        grads = self.gradient_expressions(program, typed)
        backward_reads = name_ids(grads)
        self.prepare(program, backward_reads | _names_in(program.result))
        tapes = self.tapes(program)
        grads = self.owned_gradients(program, grads, typed)
        inout = program.inout_adjoints  # in-out parameter -> its adjoint: raw, in and out
        grads = [name_node(inout[p]) if p in inout else g for p, g in zip(program.grads, grads)]
        defined_forward = set(bound_params(fn)) | name_ids(program.forward, gast.Store)
        read = _names_read(program.backward) | name_ids(grads)
        saved = sorted(read & defined_forward - set(inout), key=_definition_order(fn, program))
        saved.extend(tape["tape"] for tape in tapes)
        saved_param = names.fresh("saved")
        seed = program.seed_name or names.fresh(
            "d"
            + (
                expression_source(program.result)
                if isinstance(program.result, gast.Name)
                else "result"
            )
        )
        fwd = FunctionText(
            fwd_name,
            parameters_source(fn.tree.args),
            f"Forward sweep of {fn.tree.name}: its value and what {bwd_name} needs.",
        )
        for tape in tapes:
            _tape_prologue(fwd, tape, push=True, pop=False, plain=self.plain)
        top_level = set(bound_params(fn)) | name_ids(
            [st for st in program.forward if not isinstance(st, (gast.If, gast.For, gast.While))],
            gast.Store,
        )
        for name in saved if not self.numba else ():  # Numba: zero where unbound
            if name not in top_level and name not in {tape["tape"] for tape in tapes}:
                fwd.line(f"{name} = None  # set only on some paths; read only on those")
        fwd.statements(program.forward, fn.parsed.file_lines)
        fwd.line(f"return {expression_source(program.result)}, ({_tuple_source_names(saved)})")
        shared_seed = seed in inout.values()  # it returns a container it changes in place
        seed_param = names.fresh("dresult") if shared_seed else seed
        bwd = FunctionText(
            bwd_name,
            ", ".join([saved_param, seed_param, *inout, *inout.values()]),
            f"Backward sweep of {fn.tree.name}: the adjoints of "
            f"{', '.join(program.grads) or 'nothing'}.",
        )
        undoes_writes = copies_saved and bool(saved) and _undoes_writes(program)
        if undoes_writes:
            copier = program.bindings.reference("fresh_saved", runtime.fresh_saved)
            bwd.line(f"{saved_param} = {copier}({saved_param})  # the undo below changes copies")
        for line in self.saved_unpacking(program, saved, saved_param):
            bwd.line(line)
        if inout:
            shaped = program.bindings.reference("container_adjoint", runtime.container_adjoint)
            for param, adjoint in inout.items():  # the caller's adjoint may be a plain zero
                bwd.line(f"{adjoint} = {shaped}({adjoint}, {param})")
        if shared_seed:  # the returned object's adjoint, and the same object's as argument
            bwd.line(f"{seed} = {seed} + {seed_param}")
        if self.plain:
            tapes = []  # plain code reads its tape by index (higher_order.lower_tape)
        if tapes:
            copy_tape = reusable and not undoes_writes
            copier = program.bindings.reference("list", list) if copy_tape else None
        for tape in tapes:
            _tape_prologue(bwd, tape, push=False, pop=True, copy=copier, method=self.numba)
        bwd.statements(program.backward, fn.parsed.file_lines)
        returned = (
            expression_source(grads[0])
            if len(grads) == 1 and single_gradient
            else f"({_tuple_source(grads)})"
        )
        bwd.line(f"return {returned}")
        source = fwd.source() + "\n\n" + bwd.source()
        generated = self.compile(source, program, func, {fwd_name: _defaults(func)}, fwd_name)
        generated.backward = bwd_name
        args = fn.tree.args
        if not (typed or inout or shared_seed or args.vararg or args.kwarg or args.kwonlyargs):
            returned_node = (
                grads[0]
                if len(grads) == 1 and single_gradient
                else gast.Tuple(elts=list(grads), ctx=gast.Load())
            )
            generated.inline = inline_form(
                program, positional_params(fn), saved, seed, returned_node, func
            )
        return generated

    def tapes(self, program: AdjointProgram) -> list[dict]:
        """The tapes the code keeps: the one tape, or in the Numba variant one per slot
        (``numba_form.split_tape``)."""
        if self.numba:
            return numba_variant(program)
        return [program.tape] if program.tape else []

    def compile(self, source: str, program: AdjointProgram, func, defaults, main) -> Generated:
        cells = dict(program.fn.parsed.closure)
        cells.update(program.bindings.cells)
        label = f"{func.__qualname__}"
        if self.numba:
            return self.compile_numba(source, program, func, defaults, main, cells)
        functions = compile_functions(source, label, func.__globals__, cells, defaults)
        return Generated(
            source,
            functions,
            main,
            wrt=tuple(program.grads),
            dependencies=_dependencies(program),
            cells=cells,
        )

    def compile_numba(self, source, program, func, defaults, main, cells) -> Generated:
        """The same text compiled by Numba: cells and globals checked, numbers it reads
        made dependencies on their objects (Numba freezes them), each function wrapped."""
        label = f"{func.__qualname__}"
        functions = compile_functions(source, label, func.__globals__, cells, defaults)
        used = {name for fn in functions.values() for name in fn.__code__.co_freevars}
        used = {name: cell for name, cell in cells.items() if name in used}
        cells = numba_compile.numba_cells(used, source, label)
        globals_, frozen = numba_compile.numba_globals(functions, func.__globals__, source, label)
        functions = compile_functions(source, label, globals_, cells, defaults)
        dependencies = [
            (
                namespace,
                name,
                _frozen_value(namespace, name) if isinstance(obj, NumberGuard) else obj,
            )
            for namespace, name, obj in _dependencies(program)
        ]
        dispatchers = numba_compile.jit(functions)
        wrapped = {
            name: numba_compile.CompiledFunction(dispatcher, label)
            for name, dispatcher in dispatchers.items()
        }
        return Generated(
            source,
            wrapped,
            main,
            wrt=tuple(program.grads),
            dependencies=tuple(_unique([*dependencies, *frozen])),
            cells=cells,
            compiled=dispatchers,
        )


def _frozen_value(namespace, name: str) -> object:
    """The number a global or closure name holds now (Numba compiles it as a constant)."""
    return namespace.get(name) if hasattr(namespace, "get") else _cell_value(namespace)


def _undoes_writes(program: AdjointProgram) -> bool:
    """Whether the backward sweep (or that of a helper pair it calls) undoes item writes or
    appends on objects the forward sweep saved."""
    return bool(program.mutated) or any(pair.undoes_writes for pair in program.pairs_used)


def _wrt_out_of_range(func, index: int, count: int) -> Exception:
    return ValueError(
        f"wrt={index} is out of range: {func.__qualname__} has {count} "
        f"positional parameter{'s' if count != 1 else ''}"
    )


def _cell_value(cell) -> object:
    try:
        return cell.cell_contents
    except ValueError:
        return None


def _dependencies(program: AdjointProgram) -> tuple:
    """Where each user function this code calls was found, to notice redefinitions."""
    parsed = program.fn.parsed
    found = []
    for op in program.analysis.ops:
        found.extend(op.lookups)  # methods and attributes looked up on a class
        if op.call_args is not None:
            pass  # a method: where it was found is in its lookups
        elif op.form == "user_call" and isinstance(op.stmt.value.func, gast.Name):
            name = op.stmt.value.func.id
            namespace = parsed.closure.get(name, parsed.globals)
            found.append((namespace, name, getattr(op, "callee_origin", None) or op.callee))
        if op.form == "user_call" and getattr(op, "effects_known", False):
            # the helpers its in-place changes were read from, called or not
            for inner, name, obj in effect_dependencies(op.callee):
                found.append((inner.closure.get(name, inner.globals), name, obj))
    found.extend(_name_dependencies(program))
    facts = program.analysis.shapes.number_facts  # numbers the shape facts used
    finite = program.analysis.shapes.finite_numbers
    for name, namespace in program.analysis.scalar_globals.items():
        fact = facts.get(name)
        guard = ANY_NUMBER if fact is None else NumberGuard(fact, name in finite)
        found.append((namespace, name, guard))
    found.extend(program.analysis.call_dependencies)
    found.extend(parsed.dependencies)  # functions the lowering specialised calls on
    for pair in program.pairs_used:
        generated = getattr(pair, "generated", None)
        if generated is not None:
            found.extend(generated.dependencies)
    plain = getattr(parsed.func, "ad_transform_plain", None)
    if plain is not None:  # plain derivative code: stale when its own sources change
        found.extend(plain.dependencies)
    return tuple(_unique(found))


def _unique(found: list) -> list:
    """``found`` without repeats (a callee called in several places)."""
    seen, unique = set(), []
    for namespace, name, obj in found:
        key = (id(namespace), name, id(obj))
        if key not in seen:
            seen.add(key)
            unique.append((namespace, name, obj))
    return unique


def _name_dependencies(program: AdjointProgram) -> list:
    """The bindings every callee (and ``r_``-style indexer) was resolved through: a global
    or closure name (``ACT = np.tanh; ACT(x)``), and the attributes of a chain rooted at an
    object that is not a module (``OPS.act(x)``). The rule chosen for ``np.tanh`` is wrong
    once ``ACT`` is ``np.sin``, so a rebinding makes the code stale.

    Chains rooted at a library module (``np.sin``, ``math.sin``) and builtins (``abs``,
    ``range``) are not recorded: code calling them keeps the fast call path (api.py) that
    code with dependencies gives up. Chains rooted at one of the user's modules
    (``cfgmod.act(x)``, ``helpers.loss(x)``) are: rebinding their attributes is followed."""
    found = []
    for op in program.analysis.ops:
        value = getattr(op.stmt, "value", None)
        if isinstance(value, gast.Call):
            found.extend(_binding_of(value.func, program.fn))
        elif isinstance(value, gast.Subscript):
            found.extend(_binding_of(value.value, program.fn))
    return found


def _binding_of(node: gast.expr, fn: NormalizedFunction) -> list:
    """(namespace, name, object) of each step that resolved ``node``, unless it is a local,
    a builtin or rooted at a module."""
    chain = []
    while isinstance(node, gast.Attribute):
        chain.append(node.attr)
        node = node.value
    if not isinstance(node, gast.Name) or node.id in fn.source_of or node.id in fn.params:
        return []  # a local: never static (the analysis refused or followed it)
    parsed = fn.parsed
    if node.id in parsed.lowered_objects:
        return []  # bound by lowering (an import inside the function): fixed
    if node.id in parsed.closure:
        namespace = parsed.closure[node.id]
    elif node.id in parsed.globals:
        namespace = parsed.globals
    else:
        return []  # a builtin, or undefined
    obj = parsed.lookup(node.id)
    if is_library_module(obj) or is_missing(obj):
        return []  # an empty cell (recursion) is filled later, which is no rebinding
    found = [(namespace, node.id, obj)]
    for attr in reversed(chain):
        attributes = getattr(obj, "__dict__", None)
        if is_library_module(obj) or not hasattr(attributes, "get"):
            break
        if attr not in attributes:
            break  # found on its class (a method) or computed: not followed
        obj = attributes[attr]
        found.append((attributes, attr, obj))
    return found


def _snapshot_result(program: AdjointProgram) -> gast.Name:
    """Copy the result before the backward sweep, which may pop older values into its name."""
    value = program.fn.names.fresh("value")
    stmt = gast.Assign(
        targets=[name_node(value, store=True)], value=program.result, type_comment=None
    )
    stmt.ad_pure = False
    program.forward.append(stmt)
    return name_node(value)


def _tape_prologue(
    text: FunctionText,
    tape: dict,
    push: bool,
    pop: bool,
    copy: str | None = None,
    method: bool = False,
    plain: bool = False,
) -> None:
    """The tape is a local list of each call; ``push``/``pop`` are its bound methods.

    ``copy`` names ``list``: the backward pops from a copy, so it can run again (with
    ``method``, the Numba variant's ``tape.copy()``). ``plain`` (code to be differentiated
    again): the list only; it is appended to and read by index
    (``higher_order.lower_tape``)."""
    if push:
        text.line(f"{tape['tape']} = []")
        if plain:
            return
        text.line(f"{tape['push']} = {tape['tape']}.append")
    if pop:
        source = f"{copy}({tape['tape']})" if copy else tape["tape"]
        if copy and method:
            source = f"{tape['tape']}.copy()"
        text.line(f"{tape['pop']} = {source}.pop")


def _defaults(func) -> tuple:
    return func.__defaults__, func.__kwdefaults__


def _docstring(program: AdjointProgram, func, mode: str) -> str:
    wrt = ", ".join(program.grads)
    what = "Gradient" if mode == GRAD else "Value and gradient"
    return (
        f"{what} of {func.__name__} with respect to {wrt}; generated by ad_transform "
        f"from {source_location(func)}."
    )


def _tuple_source(exprs: list[gast.expr]) -> str:
    parts = [expression_source(e) for e in exprs]
    return ", ".join(parts) + ("," if len(parts) == 1 else "")


def _tuple_source_names(names: list[str]) -> str:
    return ", ".join(names) + ("," if len(names) == 1 else "")


def _names_in(expr: gast.expr) -> set[str]:
    return name_ids(expr)


def _names_read(stmts: list[gast.stmt]) -> set[str]:
    return name_ids(stmts, gast.Load)


def _definition_order(fn: NormalizedFunction, program: AdjointProgram):
    order = {p: i for i, p in enumerate(bound_params(fn))}
    for stmt in program.forward:
        for n in subnodes(stmt):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
                order.setdefault(n.id, len(order))
    return lambda name: order.get(name, len(order))


__all__ = ["GRAD", "VALUE_AND_GRAD", "VJP", "Analysis", "Generated", "generate", "ssa_source"]
