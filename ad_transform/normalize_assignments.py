"""Assignments in SSA form (part of stage 2, ``normalize.py``): plain, annotated and
augmented assignments, item stores and their changes in place, tuple unpacking (starred
too), expression statements and ``return``."""

from __future__ import annotations

import types

import gast

from . import runtime
from .nodes import clone, name_ids
from .normalize_nodes import _copy_location, _name, _store


class Assignments:
    """Methods of ``normalize._Normalizer``: assignments, item stores and unpacking."""

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
        if len(stmt.targets) == 1 and self.hold_pullback(stmt):
            return
        if len(stmt.targets) == 1:
            self.hold_derivative(stmt)
            self.assign_to(stmt.targets[0], stmt.value)
            return
        value = self.atom(stmt.value)
        for target in stmt.targets:
            self.assign_to(target, value)

    def hold_derivative(self, stmt: gast.Assign) -> None:
        """``d = jvp(h)`` as a statement of the function's body (run once, before what
        follows) binding a name assigned nowhere else: the calls ``d(...)`` after it call
        the derivative by a static name (``static_derivative``), as ``jvp(h)(...)``."""
        target = stmt.targets[0]
        if not isinstance(target, gast.Name) or not any(s is stmt for s in self.tree.body):
            return
        stores = [
            n
            for n in gast.walk(self.tree)
            if isinstance(n, gast.Name)
            and n.id == target.id
            and isinstance(n.ctx, (gast.Store, gast.Del))
        ]
        if len(stores) != 1 or target.id in self.params:
            return
        static = self.static_derivative(stmt.value, allow_vjp=True)
        if static is not None:
            self.held_derivatives[target.id] = static.id

    def hold_pullback(self, stmt: gast.Assign) -> bool:
        """``y, pb = vjp(h)(x)`` (``vjp(h)`` inline, held in a local, or at module level) as
        a statement of the function's body, where ``pb`` is bound nowhere else and only
        called (``pb(c)``): ``y = h(x)``, ``x`` held under a name of its own, and each
        ``pb(c)`` the call of the plain pullback ``pullback_of_pb(x, c)`` (the plain gradient
        of ``<h(x), c>``; ``higher_order_calls.plain_pullback``). False (nothing done) for
        anything else: the call is then refused by name where it is resolved."""
        from .higher_order_calls import is_vjp_object, plain_pullback

        target, call = stmt.targets[0], stmt.value
        if not (
            isinstance(target, (gast.Tuple, gast.List))
            and len(target.elts) == 2
            and all(isinstance(e, gast.Name) for e in target.elts)
            and isinstance(call, gast.Call)
            and not call.keywords
            and not any(isinstance(a, gast.Starred) for a in call.args)
            and any(s is stmt for s in self.tree.body)
        ):
            return False
        value, pullback = target.elts
        if not self._only_called(pullback.id) or value.id == pullback.id:
            return False
        func = call.func
        if isinstance(func, gast.Name) and func.id in self.held_derivatives:
            static = _name(self.held_derivatives[func.id], func)
        else:
            static = self.static_derivative(func, allow_vjp=True)
        if static is None:
            return False
        derivative = self.parsed.closure[static.id].cell_contents
        if not is_vjp_object(derivative):
            return False
        held = []
        for arg in call.args:  # the point the pullback differentiates at
            name = self.names.numbered("vjp_at")
            self.local_names.add(name)
            store = _store(name)
            _copy_location(store, arg)
            self.assign_to(store, arg)
            held.append(name)
        function = self.function_name(derivative.func)
        args = [_name(n, arg) for n, arg in zip(held, call.args)]
        value_call = gast.Call(func=_name(function, func), args=args, keywords=[])
        _copy_location(value_call, call)
        self.assign_to(value, value_call)
        pulled = self.names.fresh(f"pullback_of_{pullback.id}")
        self.parsed.closure[pulled] = types.CellType(plain_pullback(derivative))
        self.free_names.add(pulled)
        self.held_pullbacks[pullback.id] = (pulled, held)
        return True

    def function_name(self, func) -> str:
        """A name the function ``func`` is read by here: its own (``h``) where that name
        means it (a global or closure variable the function does not rebind), else a new
        closure cell (``h_1``)."""
        from .parse import is_missing

        name = getattr(func, "__name__", "")
        if name.isidentifier() and name not in self.local_names:
            found = self.parsed.lookup(name)
            if not is_missing(found) and found is func:
                self.free_names.add(name)
                return name
        cell = self.names.fresh(name if name.isidentifier() else "function")
        self.parsed.closure[cell] = types.CellType(func)
        self.free_names.add(cell)
        return cell

    def _only_called(self, name: str) -> bool:
        """Whether ``name`` is bound once in the function, never a parameter, and every
        read of it is the callee of a call (``pb(c)``)."""
        if name in self.params:
            return False
        stores = loads = called = 0
        for node in gast.walk(self.tree):
            if isinstance(node, gast.Name) and node.id == name:
                if isinstance(node.ctx, gast.Load):
                    loads += 1
                else:
                    stores += 1
            if (
                isinstance(node, gast.Call)
                and isinstance(node.func, gast.Name)
                and node.func.id == name
            ):
                called += 1
        return stores == 1 and loads == called

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
