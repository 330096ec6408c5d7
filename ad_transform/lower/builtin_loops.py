"""Builtins and library functions that take a function, written as loops hoisted before
the statement: ``map``, ``filter``, ``functools.reduce``, ``sorted``/``max``/``min`` with
``key=``, and ``np.vectorize`` (part of the functions pass, ``lower/functions.py``)."""

from __future__ import annotations

import builtins
import functools

import gast
import numpy as np

from .. import pytree, runtime
from ..nodes import clone
from ..rules.registry import register_nondifferentiable
from ..runtime.vectorize import check_vectorized_outputs
from .function_values import _append, _assign, _name


def _call(function: str, args: list, like) -> gast.Call:
    """``function(*args)``, located at ``like``."""
    call = gast.Call(func=_name(function, like), args=args, keywords=[])
    return gast.copy_location(call, like)


class BuiltinLoops:
    """Methods of ``functions._Scope``: builtins taking a function, as loops."""

    def vectorized_call(self, value, args, keywords, like) -> gast.expr:
        """``np.vectorize(f)(x)``: ``f`` on every element of ``x``, in a loop."""
        import dataclasses

        if len(args) != 1 or keywords:
            raise self.error(
                "unsupported construct: a call of np.vectorize(f) with more than one "
                "argument (only f(x) elementwise over one array is supported)",
                like,
            )
        np_name = self.reference("np", np)
        source, flat, out, item = (
            self.fresh("vectorized_input"),
            self.fresh("flat"),
            self.fresh("elements"),
            self.fresh("element"),
        )
        result = self.fresh("vectorized")

        def numpy(function: str, *arguments) -> gast.Call:
            func = gast.Attribute(value=_name(np_name, like), attr=function, ctx=gast.Load())
            return gast.Call(func=func, args=list(arguments), keywords=[])

        # NumPy hands the function Python numbers (``float``, not ``np.float64``)
        scalar = self.fresh("scalar")
        item_call = gast.Call(
            func=gast.Attribute(value=_name(item, like), attr="item", ctx=gast.Load()),
            args=[],
            keywords=[],
        )
        body = [_assign(scalar, item_call)]
        saved = self.pending
        self.pending = body
        try:
            element = self.call_value(
                dataclasses.replace(value, vectorized=False), [_name(scalar, like)], [], like
            )
        finally:
            self.pending = saved
        body.append(_append(out, element))
        where = str(self.error(f"{value.label}(...)", like)).splitlines()[0]
        check = gast.Call(
            func=_name(self.reference("check_vectorized_outputs", check_vectorized_outputs), like),
            args=[_name(out, like), gast.Constant(value=where, kind=None)],
            keywords=[],
        )
        loop = gast.For(
            target=_name(item, like, store=True),
            iter=_name(flat, like),
            body=body,
            orelse=[],
            type_comment=None,
        )
        shaped = numpy(
            "reshape", numpy("array", _name(out, like)), numpy("shape", _name(source, like))
        )
        self.hoist(
            [
                _assign(source, args[0]),
                _assign(flat, numpy("ravel", _name(source, like))),
                _assign(out, gast.List(elts=[], ctx=gast.Load())),
                loop,
                gast.Expr(value=check),
                _assign(result, shaped),
            ],
            like,
            "np.vectorize",
        )
        return _name(result, like)

    # -- map, filter, functools.reduce, sorted/max/min with key= -----------------------------
    def builtin_form(self, node: gast.Call, callee: object) -> gast.expr | None:
        """A call of a builtin that takes a function, as a loop; None if it is not one."""
        if any(isinstance(a, gast.Starred) for a in node.args) or any(
            k.arg is None for k in node.keywords
        ):
            return None
        keywords = {k.arg: k.value for k in node.keywords}
        if callee is builtins.list and len(node.args) == 1 and not keywords:
            inner = node.args[0]  # list(map(...)): the loop's list is already a new list
            if isinstance(inner, gast.Call):
                maker = self.static_callee(inner.func)
                if maker in (builtins.map, builtins.filter):
                    return self.builtin_form(inner, maker)
            return None
        if callee is builtins.map and len(node.args) >= 2 and not keywords:
            value = self.function_of(node.args[0])
            return None if value is None else self.mapped(value, node.args[1:], node)
        if callee is builtins.filter and len(node.args) == 2 and not keywords:
            function = node.args[0]
            none = isinstance(function, gast.Constant) and function.value is None
            value = None if none else self.function_of(function)
            if value is None and not none:
                return None
            return self.filtered(value, node.args[1], node)
        if callee is pytree.tree_map and len(node.args) >= 2 and not keywords:
            value = self.function_of(node.args[0])
            return None if value is None else self.tree_mapped(value, node.args[1:], node)
        if callee is functools.reduce and len(node.args) in (2, 3) and not keywords:
            value = self.function_of(node.args[0])
            return None if value is None else self.reduced(value, node.args[1:], node)
        if callee in (builtins.sorted, builtins.max, builtins.min) and "key" in keywords:
            allowed = {"key", "reverse"} if callee is builtins.sorted else {"key"}
            if set(keywords) - allowed or not node.args:
                return None
            if callee is builtins.sorted and len(node.args) != 1:
                return None
            value = self.function_of(keywords["key"])
            if value is None:
                return None
            return self.keyed(callee, value, node.args, keywords.get("reverse"), node)
        return None

    def items_name(self, node: gast.expr, like) -> gast.Name:
        node = self.expression(node)
        if isinstance(node, gast.Name):
            return node
        name = self.fresh("items")
        self.hoist([_assign(name, node)], like, "this call")
        return _name(name, like)

    def loop_calling(self, value, iterables: list, like, each) -> None:
        """``for e in xs: each(f(e))`` (``zip`` for several iterables), hoisted."""
        elements = [self.fresh("element") for _ in iterables]
        body = []
        saved = self.pending
        self.pending = body
        try:
            result = self.call_value(value, [_name(e, like) for e in elements], [], like)
            body.extend(each(result, elements))
        finally:
            self.pending = saved
        if len(iterables) == 1:
            target, iterable = _name(elements[0], like, store=True), iterables[0]
        else:
            target = gast.Tuple(
                elts=[_name(e, like, store=True) for e in elements], ctx=gast.Store()
            )
            zip_name = self.reference("zip", builtins.zip)
            iterable = gast.Call(func=_name(zip_name, like), args=iterables, keywords=[])
        loop = gast.For(target=target, iter=iterable, body=body, orelse=[], type_comment=None)
        self.hoist([loop], like, "a call of a function on every element")

    def mapped(self, value, iterables, like) -> gast.expr:
        iterables = [self.expression(i) for i in iterables]
        result = self.fresh("mapped")
        self.hoist([_assign(result, gast.List(elts=[], ctx=gast.Load()))], like, "map(...)")
        self.loop_calling(value, iterables, like, lambda r, _: [_append(result, r)])
        return _name(result, like)

    def tree_mapped(self, value, trees, like) -> gast.expr:
        """``tree_map(f, t, *rest)``: ``f`` over the leaves of ``t`` (and the parts of the
        others at the same places) in a loop, the results put back in ``t``'s structure
        (``runtime/trees.py``)."""
        first = self.items_name(trees[0], like)
        shape = self.fresh("shape")
        structure = self.reference("tree_structure", runtime.tree_structure)
        self.hoist([_assign(shape, _call(structure, [first], like))], like, "tree_map(...)")
        leaves = [_call(self.reference("tree_leaves", pytree.tree_leaves), [first], like)]
        for other in trees[1:]:
            like_leaves = self.reference("tree_leaves_like", runtime.tree_leaves_like)
            other = self.items_name(other, like)
            leaves.append(_call(like_leaves, [other, _name(shape, like)], like))
        mapped = self.mapped(value, leaves, like)
        rebuilt = self.reference("tree_rebuilt", runtime.tree_rebuilt)
        return _call(rebuilt, [_name(shape, like), mapped], like)

    def filtered(self, value, iterable, like) -> gast.expr:
        iterable = self.expression(iterable)
        result = self.fresh("kept")
        self.hoist([_assign(result, gast.List(elts=[], ctx=gast.Load()))], like, "filter(...)")
        element = self.fresh("element")
        body = []
        saved = self.pending
        self.pending = body
        try:
            test = (
                _name(element, like)
                if value is None
                else self.call_value(value, [_name(element, like)], [], like)
            )
        finally:
            self.pending = saved
        body.append(gast.If(test=test, body=[_append(result, _name(element, like))], orelse=[]))
        loop = gast.For(
            target=_name(element, like, store=True),
            iter=iterable,
            body=body,
            orelse=[],
            type_comment=None,
        )
        self.hoist([loop], like, "filter(...)")
        return _name(result, like)

    def reduced(self, value, arguments, like) -> gast.expr:
        accumulator = self.fresh("reduced")
        element = self.fresh("element")
        body = []
        if len(arguments) == 2:
            iterable = self.expression(arguments[0])
            start = self.expression(arguments[1])
            target = element
        else:  # no initial value: the first element starts, the others are folded in
            items = self.items_name(arguments[0], like)
            start = gast.Subscript(
                value=clone(items), slice=gast.Constant(value=0, kind=None), ctx=gast.Load()
            )
            target = self.fresh("position")
            size = gast.Call(
                func=_name(self.reference("len", builtins.len), like),
                args=[clone(items)],
                keywords=[],
            )
            iterable = gast.Call(
                func=_name(self.reference("range", builtins.range), like),
                args=[gast.Constant(value=1, kind=None), size],
                keywords=[],
            )
            item = gast.Subscript(value=clone(items), slice=_name(target, like), ctx=gast.Load())
            body.append(_assign(element, item))
        self.hoist([_assign(accumulator, start)], like, "functools.reduce(...)")
        saved = self.pending
        self.pending = body
        try:
            step = self.call_value(
                value, [_name(accumulator, like), _name(element, like)], [], like
            )
        finally:
            self.pending = saved
        body.append(_assign(accumulator, step))
        loop = gast.For(
            target=_name(target, like, store=True),
            iter=iterable,
            body=body,
            orelse=[],
            type_comment=None,
        )
        self.hoist([loop], like, "functools.reduce(...)")
        return _name(accumulator, like)

    def keyed(self, callee, value, arguments, reverse, like) -> gast.expr:
        """``sorted``/``max``/``min`` with ``key=``: the keys in a loop, the order (or the
        position) from them without derivative, then the elements themselves."""
        keys = self.fresh("keys")
        if len(arguments) == 1:
            # the elements as the one loop over the iterable meets them: a dict gives its
            # keys, a view or an iterator can be neither indexed nor iterated again
            iterable = self.expression(arguments[0])
            items = _name(self.fresh("candidates"), like)
            empty = [_assign(n, gast.List(elts=[], ctx=gast.Load())) for n in (items.id, keys)]
            self.hoist(empty, like, "key=")
            self.loop_calling(
                value,
                [iterable],
                like,
                lambda r, elements: [_append(items.id, _name(elements[0], like)), _append(keys, r)],
            )
        else:  # max(a, b, key=f): of the arguments
            items = _name(self.fresh("items"), like)
            display = gast.Tuple(elts=[self.expression(a) for a in arguments], ctx=gast.Load())
            self.hoist([_assign(items.id, display)], like, "this call")
            self.hoist([_assign(keys, gast.List(elts=[], ctx=gast.Load()))], like, "key=")
            self.loop_calling(value, [clone(items)], like, lambda r, _: [_append(keys, r)])
        if callee is builtins.sorted:
            order = self.fresh("order")
            helper = self.reference("sort_order", sort_order)
            flags = [self.expression(reverse)] if reverse is not None else []
            call = gast.Call(
                func=_name(helper, like), args=[_name(keys, like), *flags], keywords=[]
            )
            result = self.fresh("ordered")
            position = self.fresh("position")
            item = gast.Subscript(value=clone(items), slice=_name(position, like), ctx=gast.Load())
            loop = gast.For(
                target=_name(position, like, store=True),
                iter=_name(order, like),
                body=[_append(result, item)],
                orelse=[],
                type_comment=None,
            )
            self.hoist(
                [_assign(order, call), _assign(result, gast.List(elts=[], ctx=gast.Load())), loop],
                like,
                "sorted(..., key=...)",
            )
            return _name(result, like)
        chooser = first_max_position if callee is builtins.max else first_min_position
        helper = self.reference(chooser.__name__, chooser)
        position = self.fresh("position")
        call = gast.Call(func=_name(helper, like), args=[_name(keys, like)], keywords=[])
        self.hoist([_assign(position, call)], like, "max/min(..., key=...)")
        return gast.Subscript(value=clone(items), slice=_name(position, like), ctx=gast.Load())


def sort_order(keys: list, reverse: bool = False) -> list[int]:
    """The positions of ``keys`` in the order ``sorted(..., key=, reverse=)`` puts them
    (stable, as sorted is)."""
    return sorted(range(len(keys)), key=keys.__getitem__, reverse=reverse)


def first_max_position(keys: list) -> int:
    """The position of the first largest key (the element ``max(..., key=)`` returns)."""
    return max(range(len(keys)), key=keys.__getitem__) if keys else max(keys)


def first_min_position(keys: list) -> int:
    """The position of the first smallest key (the element ``min(..., key=)`` returns)."""
    return min(range(len(keys)), key=keys.__getitem__) if keys else min(keys)


register_nondifferentiable(check_vectorized_outputs, pure=False)
register_nondifferentiable(sort_order, first_max_position, first_min_position)
