"""Expressions in A-normal form (part of stage 2, ``normalize.py``): operators,
comparisons, subscripts, displays, calls (argument unpacking, container constructors,
derivatives made in place: static or refused), ``and``/``or``, conditional expressions,
walrus and f-strings, each one primitive statement whose operands are atoms."""

from __future__ import annotations

import types

import gast

from . import runtime
from .callables import VJP_INSIDE, is_transform
from .nodes import clone, slice_bound
from .normalize_nodes import (
    _assign_node,
    _copy_location,
    _copy_location_of,
    _is_builtin_call,
    _name,
    _store,
)

# transforms whose results have no plain code to differentiate (higher_order.py)
_NOT_DIFFERENTIABLE = ("vjp",)


def _constant_slice(node: gast.expr) -> slice | None:
    """``node`` as a Python slice when it is ``a:b:c`` of integer constants (or none)."""
    if not isinstance(node, gast.Slice):
        return None
    bounds = []
    for part in (node.lower, node.upper, node.step):
        bound = slice_bound(part)
        if bound is False:
            return None
        bounds.append(bound)
    if bounds[2] == 0:
        return None  # Python raises ValueError: left to the refusal
    return slice(*bounds)


class Expressions:
    """Methods of ``normalize._Normalizer``: one primitive statement per expression."""

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
                k: None if getattr(node, k) is None else self.index_atom(getattr(node, k))
                for k in ("lower", "upper", "step")
            }
            result = gast.Slice(**parts)
        elif isinstance(node, gast.Tuple):
            result = gast.Tuple(elts=[self.index(e) for e in node.elts], ctx=gast.Load())
        else:
            return self.index_atom(node)
        _copy_location(result, node)
        return result

    def index_atom(self, node: gast.expr) -> gast.expr:
        """An index or slice bound as an atom; ``-1`` stays the constant ``-1`` (an index
        is never an operand of ``**``, where a negative constant would need parentheses)."""
        if (
            isinstance(node, gast.UnaryOp)
            and isinstance(node.op, gast.USub)
            and isinstance(node.operand, gast.Constant)
            and type(node.operand.value) is int
        ):
            return _copy_location_of(gast.Constant(value=-node.operand.value, kind=None), node)
        return self.atom(node)

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
        jvp_call = self.jvp_with_primals(expr)
        if jvp_call is not None:  # jvp(h, primals, tangents): jvp(h)(primals, tangents)
            expr = jvp_call
            func = expr.func
            callee = func
        elif isinstance(func, gast.Name) and func.id in self.held_pullbacks:
            pulled, held = self.held_pullbacks[func.id]  # hold_pullback: pb(c)
            at = [_name(n, func) for n in held]
            expr = _copy_location_of(
                gast.Call(func=func, args=[*at, *expr.args], keywords=expr.keywords), expr
            )
            callee = _name(pulled, func)
        elif isinstance(func, gast.Name) and func.id in self.held_derivatives:
            callee = _name(self.held_derivatives[func.id], func)  # hold_derivative
        elif isinstance(func, gast.Name):
            callee = self.load(func)
        elif isinstance(func, gast.Attribute):
            callee = self.static_reference(func, callee=True)
            if callee is None:  # a method call on a value: x.sum()
                callee = gast.Attribute(
                    value=self.atom(func.value), attr=func.attr, ctx=gast.Load()
                )
                _copy_location(callee, func)
        elif isinstance(func, (gast.Call, gast.Subscript)):
            # ``make(a)(x)``, ``layers[0](x)``: the callee is a value first
            self.refuse_derivative_call(func)
            callee = self.static_derivative(func) or self.atom(func)
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

    def jvp_with_primals(self, expr: gast.Call) -> gast.Call | None:
        """``jvp(h, primals, tangents)`` (JAX's form, ``wrt=`` a constant) of a module-level
        ``h``: the call ``jvp_of_h(primals, tangents)`` of the static derivative
        ``jvp(h, wrt=...)``; None for any other call."""
        from .forward_api import jvp

        func = expr.func
        if not isinstance(func, gast.Name) or func.id in self.local_names:
            return None
        if self.parsed.lookup(func.id) is not jvp or len(expr.args) != 3:
            return None
        if any(isinstance(a, gast.Starred) for a in expr.args) or any(
            k.arg not in ("wrt", "argnums") for k in expr.keywords
        ):
            return None
        maker = gast.Call(func=func, args=[expr.args[0]], keywords=expr.keywords)
        _copy_location(maker, expr)
        static = self.static_derivative(maker)
        if static is None:
            return None
        call = gast.Call(func=static, args=list(expr.args[1:]), keywords=[])
        return _copy_location_of(call, expr)

    def static_derivative(self, func: gast.expr, allow_vjp: bool = False) -> gast.Name | None:
        """``grad(h)``, ``jvp(h, wrt=1)``, ``hessian(h)``... written where it is called, of
        module-level names and constants: the derivative made now, under a name of its
        own (a closure cell), so that the analysis calls its plain code like that of a
        module-level ``hf = hessian(h)`` (any order; ``higher_order.py``). None for
        anything else (a call through a value: ``dispatch.py``)."""
        from .callables import is_differentiable_derivative
        from .higher_order_calls import is_vjp_object

        found = self.derivative_value(func, [], allow_vjp)
        if found is None:
            return None
        obj, bindings = found
        if not (is_differentiable_derivative(obj) or (allow_vjp and is_vjp_object(obj))):
            return None
        functions = [n for _, n, o in bindings[1:] if isinstance(o, types.FunctionType)]
        name = self.names.fresh(f"{bindings[0][1]}_of_{functions[0] if functions else 'f'}")
        self.parsed.closure[name] = types.CellType(obj)
        self.free_names.add(name)
        self.parsed.dependencies = (*self.parsed.dependencies, *bindings)
        return _name(name, func)

    def derivative_value(
        self, node: gast.expr, bindings: list, allow_vjp: bool = False
    ) -> tuple | None:
        """The value of ``node`` when it is a call of a derivative maker (``grad``,
        ``jvp``, ``hvp``, ``hessian``, ``jacfwd``...) whose arguments are module-level
        names (or such calls) and constants; with the (namespace, name, object) of each
        name read, for staleness. None otherwise."""
        from .higher_order_api import elementwise_grad, hessian, hvp
        from .parse import is_missing

        if isinstance(node, gast.Constant):
            return node.value, bindings
        if isinstance(node, gast.Tuple):
            items = [self.derivative_value(e, bindings, allow_vjp) for e in node.elts]
            return None if None in items else (tuple(i[0] for i in items), bindings)
        if isinstance(node, gast.Name):
            if node.id in self.local_names or node.id not in self.parsed.globals:
                return None
            obj = self.parsed.lookup(node.id)
            if is_missing(obj):
                return None
            bindings.append((self.parsed.globals, node.id, obj))
            return obj, bindings
        if not isinstance(node, gast.Call) or not isinstance(node.func, gast.Name):
            return None
        maker = self.derivative_value(node.func, bindings)
        makers = (hvp, hessian, elementwise_grad)
        excluded = () if allow_vjp else _NOT_DIFFERENTIABLE
        if maker is None or not (
            (is_transform(maker[0]) and maker[0].ad_transform_transform not in excluded)
            or any(maker[0] is m for m in makers)
        ):
            return None
        args = [self.derivative_value(a, bindings) for a in node.args]
        keywords = {k.arg: self.derivative_value(k.value, bindings) for k in node.keywords}
        if None in args or None in keywords.values() or None in keywords:
            return None
        try:
            obj = maker[0](*(a[0] for a in args), **{k: v[0] for k, v in keywords.items()})
        except (TypeError, ValueError):
            return None  # the call raises where the code runs, as written
        return obj, bindings

    def refuse_derivative_call(self, func: gast.expr) -> None:
        """``grad(h)(x)`` inside a differentiated function: a higher-order derivative."""
        if not isinstance(func, gast.Call) or not isinstance(func.func, gast.Name):
            return
        if func.func.id in self.local_names:
            return
        transform = self.parsed.lookup(func.func.id)
        # grad(h)(x), jvp(h)(p, t), jacfwd(h)(x)... are differentiated through their plain
        # code where they are called (dispatch.py); vjp has none
        if is_transform(transform) and transform.ad_transform_transform in _NOT_DIFFERENTIABLE:
            raise self.parsed.error(
                f"cannot differentiate {func.func.id}(...)(...) here: {VJP_INSIDE}", func
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
