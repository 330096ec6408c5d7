"""Which names share an object, so that a change in place reaches every one of them.

In Python, ``a += x`` on an ndarray (or a list) changes the object ``a`` names, and every
other name of that object (``b = a``, a slice ``b = a[1:]``, a list holding it) sees the
change; on numbers, tuples and strings it makes a new object. Item writes ``a[i] = v``
and ``a.append(v)`` always change the object. The SSA form gives each name its own
value, so after a change in place the other names of the object must be bound again:

* :func:`plan_aliases` runs on the user's function before SSA. A points-to walk over the
  source knows, at each statement, which objects each variable may hold, and which
  variables certainly hold a given object (or a view of it with a basic index). After a
  change in place it inserts *refresh* statements ``b = a`` / ``b = a[1:]`` for the
  certain aliases, and records on the statement the other possible holders that are
  read later (a *problem*: the change cannot be followed) and whether the object may be
  an argument's or a global's.
* :func:`apply_kinds` runs in the analysis, once the kinds are known. For ``a += x`` on
  a Python number the refresh becomes ``b_1 = b`` (rebinding: ``b`` keeps its value);
  on arrays the refresh stays, the forward sweep computes ``a op= x`` with NumPy's
  in-place semantics on a copy (``runtime.in_place``), and what cannot be followed is
  refused. :func:`check_mutations` refuses, after the activity analysis, item writes
  and appends whose object has holders that cannot be refreshed.
"""

from __future__ import annotations

import builtins
import copy
import math
import operator
import types
from dataclasses import dataclass, field

import gast
import numpy as np

from .liveness import live_at_loop_head
from .nodes import children, clone, name_ids, subnodes
from .parse import ParsedFunction, is_missing
from .rules.registry import ARRAY, SCALAR, SEQUENCE

AUGMENTED_OPERATORS = {
    gast.Add: operator.iadd,
    gast.Sub: operator.isub,
    gast.Mult: operator.imul,
    gast.Div: operator.itruediv,
    gast.Pow: operator.ipow,
    gast.MatMult: operator.imatmul,
    gast.Mod: operator.imod,
    gast.FloorDiv: operator.ifloordiv,
    gast.BitAnd: operator.iand,
    gast.BitOr: operator.ior,
    gast.BitXor: operator.ixor,
    gast.LShift: operator.ilshift,
    gast.RShift: operator.irshift,
}

# Attributes that are never an array sharing the object's data.
_PLAIN_ATTRIBUTES = {"shape", "ndim", "size", "dtype", "itemsize", "nbytes", "__len__"}
# Methods of arrays whose result is a new object (never a view of the one called on).
_NEW_FROM_METHODS = {
    "copy", "sum", "mean", "prod", "std", "var", "max", "min", "dot", "astype", "cumsum",
    "cumprod", "tolist", "item", "all", "any", "argmax", "argmin", "round", "clip",
    "flatten", "trace", "nonzero", "argsort", "count", "index",
}  # fmt: skip
# Methods that change a list in place and may store their arguments in it.
_LIST_MUTATORS = {"append", "extend", "insert"}
# NumPy functions whose result is a new array (without ``out=``; ufuncs are added below).
_NEW_FROM_NUMPY = {
    "array", "copy", "zeros", "ones", "empty", "full", "zeros_like", "ones_like",
    "empty_like", "full_like", "arange", "linspace", "logspace", "eye", "identity", "sum",
    "mean", "prod", "std", "var", "max", "min", "amax", "amin", "dot", "matmul", "inner",
    "outer", "cumsum", "cumprod", "concatenate", "stack", "vstack", "hstack", "tile",
    "where", "clip", "diff", "kron", "cross", "trace", "sort", "argsort", "round",
    "allclose", "isclose", "all", "any", "argmax", "argmin", "average", "median",
    "nansum", "polyval", "interp", "repeat", "tensordot", "vdot", "count_nonzero", "shape",
    "ndim", "size",
}  # fmt: skip
_NEW_FROM_LINALG = {"norm", "inv", "solve", "det", "slogdet", "cholesky", "eigh", "svd", "qr"}
_NEW_FROM_BUILTINS = {"len", "float", "int", "bool", "range", "abs", "round", "sum", "str",
                      "isinstance", "complex", "divmod", "pow", "repr", "format",
                      "dict"}  # fmt: skip


def _new_from_callables() -> list[object]:
    found = [getattr(np, n) for n in _NEW_FROM_NUMPY if hasattr(np, n)]
    found += [getattr(np.linalg, n) for n in _NEW_FROM_LINALG]
    found += [getattr(builtins, n) for n in _NEW_FROM_BUILTINS]
    return found


_NEW_FROM = _new_from_callables()


@dataclass(eq=False)
class MutationInfo:
    """What the points-to walk found at one change in place (shared by its SSA statements).

    ``refresh``: the user names bound again after it (``(name, index or None)``);
    ``problem``: why other holders of the object cannot be followed (None: they can);
    ``caller``: the argument or global the object may be (None: made by the function).
    """

    augmented: bool  # ``a op= x`` on a name: its meaning depends on the kind of ``a``
    target: str
    node: gast.AST
    refresh: list[tuple[str, gast.expr | None]] = field(default_factory=list)
    problem: str | None = None
    caller: str | None = None
    # ``xs[i] op= v``: why a change in place of the item itself cannot be followed
    element_problem: str | None = None


@dataclass
class _State:
    """Per variable: the objects it may hold (or be a view of, or contain), and the one
    object it certainly is (``(token, None)``) or is a basic view of (``(token, index,
    names the index reads)``), when that is known on every path."""

    holds: dict[str, frozenset] = field(default_factory=dict)
    must: dict[str, tuple | None] = field(default_factory=dict)

    def copy(self) -> _State:
        return _State(dict(self.holds), dict(self.must))

    def join(self, other: _State) -> _State:
        holds = {n: self.holds.get(n, frozenset()) | other.holds.get(n, frozenset())
                 for n in self.holds.keys() | other.holds.keys()}  # fmt: skip
        must = {n: self.must.get(n) if self.must.get(n) == other.must.get(n) else None
                for n in holds}  # fmt: skip
        return _State(holds, must)


def plan_aliases(
    parsed: ParsedFunction, body: list, params: list[str]
) -> tuple[list, dict[int, MutationInfo]]:
    """``body`` with refresh statements (``ad_refresh``) after changes in place, and what
    was found at each change, by ``id`` of its statement. The input is not changed."""
    if not any(_changes_in_place(node, parsed) for node in subnodes(body)):
        return body, {}
    walk = _Walk(parsed)
    state = _State()
    for p in params:
        token = f"argument '{p}'"
        state.holds[p] = frozenset({token})
        state.must[p] = (token, None, frozenset())
    walk.block(body, state)
    if not walk.insertions:
        return body, walk.infos
    return _with_refreshes(body, walk.insertions), walk.infos


def _changes_in_place(node, parsed: ParsedFunction) -> bool:
    if isinstance(node, gast.AugAssign):
        return True
    if isinstance(node, gast.Subscript):
        return isinstance(node.ctx, gast.Store)
    if isinstance(node, gast.Call) and _helper_changes(node, parsed):
        return True
    return (
        isinstance(node, gast.Call)
        and isinstance(node.func, gast.Attribute)
        and node.func.attr in _LIST_MUTATORS
    )


def _helper_changes(call: gast.Call, parsed: ParsedFunction) -> list[str]:
    """The variables given to a user function that changes them in place (``stash(xs,
    v)`` appends to ``xs``: ``effects.helper_effects``), in the order of its parameters."""
    import inspect

    from .effects import helper_effects
    from .resolve import is_user_function

    callee = _resolve(call.func, parsed)
    if is_missing(callee) or not is_user_function(callee):
        return []
    mutated = helper_effects(callee).mutated
    if not mutated:
        return []
    try:
        bound = inspect.signature(callee, follow_wrapped=False).bind(
            *call.args, **{kw.arg: kw.value for kw in call.keywords if kw.arg is not None}
        )
    except TypeError:
        return []  # the analysis reports the call
    return [bound.arguments[p].id for p in mutated if isinstance(bound.arguments.get(p), gast.Name)]


def _with_refreshes(stmts: list, insertions: dict[int, list]) -> list:
    """A copy of ``stmts`` (compound statements copied, simple ones shared) with the
    refresh statements after the changes they follow."""
    out = []
    for stmt in stmts:
        if isinstance(stmt, gast.If | gast.For | gast.While):
            stmt = copy.copy(stmt)
            stmt.body = _with_refreshes(stmt.body, insertions)
            stmt.orelse = _with_refreshes(stmt.orelse, insertions)
        out.append(stmt)
        out.extend(insertions.get(id(stmt), []))
    return out


class _Walk:
    def __init__(self, parsed: ParsedFunction) -> None:
        self.parsed = parsed
        self.later: list[frozenset] = []  # names read after the statement being walked
        self.final = True  # False while iterating a loop to its fixpoint
        self.insertions: dict[int, list] = {}
        self.infos: dict[int, MutationInfo] = {}
        self.read_cache: dict[int, frozenset] = {}
        self.live_heads: dict[int, frozenset] = {}  # loop id -> names live at its head
        self.loops = 0  # how many loops enclose the statement being walked

    # -- statements ----------------------------------------------------------------------
    def block(self, stmts: list, state: _State) -> _State:
        reads = [self.reads(s) for s in stmts]
        after = [frozenset()] * (len(stmts) + 1)
        for k in range(len(stmts) - 1, -1, -1):
            after[k] = after[k + 1] | reads[k]
        for k, stmt in enumerate(stmts):
            self.later.append(after[k + 1])
            state = self.statement(stmt, state)
            self.later.pop()
        return state

    def reads(self, stmt) -> frozenset:
        if id(stmt) not in self.read_cache:
            self.read_cache[id(stmt)] = frozenset(name_ids(stmt, gast.Load))
        return self.read_cache[id(stmt)]

    def read_later(self) -> frozenset:
        return frozenset().union(*self.later)

    def statement(self, stmt, state: _State) -> _State:
        if self.loops and not isinstance(stmt, gast.If | gast.For | gast.While):
            self.renew(stmt, state)  # (outside loops a statement runs once)
        if isinstance(stmt, gast.If):
            return self.block(stmt.body, state.copy()).join(self.block(stmt.orelse, state.copy()))
        if isinstance(stmt, gast.For | gast.While):
            return self.loop(stmt, state)
        if isinstance(stmt, gast.Assign | gast.AnnAssign) and stmt.value is not None:
            targets = stmt.targets if isinstance(stmt, gast.Assign) else [stmt.target]
            self.helper_call(stmt, stmt.value, state)
            holds, must = self.value(stmt.value, state)
            for target in targets:
                self.bind(target, holds, must, state, stmt.value, stmt)
        elif isinstance(stmt, gast.AugAssign):
            self.value(stmt.value, state)
            if isinstance(stmt.target, gast.Name):
                self.change(stmt, stmt.target.id, state, augmented=True)
                self.after_augmented(stmt.target.id, stmt, state)
            elif isinstance(stmt.target, gast.Subscript) and isinstance(
                stmt.target.value, gast.Name
            ):
                info = self.change(stmt, stmt.target.value.id, state, augmented=False)
                info.element_problem = self.element_problem(stmt, info, state)
        elif isinstance(stmt, gast.Expr):
            call = stmt.value
            self.helper_call(stmt, call, state)
            self.value(call, state)
            if (
                isinstance(call, gast.Call)
                and isinstance(call.func, gast.Attribute)
                and isinstance(call.func.value, gast.Name)
                and call.func.value.id in state.holds
                and call.func.attr in _LIST_MUTATORS
            ):
                self.change(stmt, call.func.value.id, state, augmented=False)
        elif isinstance(stmt, gast.Return) and stmt.value is not None:
            self.value(stmt.value, state)
        return state

    def renew(self, stmt, state: _State) -> None:
        """``stmt`` runs again (a loop): the objects its expressions made before are not
        the ones they make now. Their tokens become the ones of earlier objects (recency
        abstraction: Balakrishnan and Reps, "Recency-abstraction for heap-allocated
        storage", SAS 2006), so a name still holding the previous iteration's array
        (``dy_3 = dy_1`` before ``dy_1 = index_adjoint(...)``) shares nothing with the new
        one. ``a op= x``'s own token (``after_augmented``) may be the old object: kept."""
        made = {
            f"new:{kind}{id(node)}"
            for node in subnodes(stmt)
            if not (node is stmt and isinstance(stmt, gast.AugAssign))
            for kind in ("", "container:")
        }
        for name, held in state.holds.items():
            stale = held & made
            if stale:
                state.holds[name] = (held - stale) | {_earlier(t) for t in stale}
        for name, known in state.must.items():
            if known is not None and known[0] in made:
                state.must[name] = None  # one of the earlier objects, not certainly which

    def helper_call(self, stmt, value, state: _State) -> None:
        """A user function that changes a list or array it is given (``stash(l1, v)``)
        changes it for every other name of the object too (``l0`` after ``l1 = l0``).
        Seen before the call's arguments are walked: the walk assumes an unknown call
        may store any argument into another, which a helper's known effects exclude."""
        if isinstance(value, gast.Call):
            for name in _helper_changes(value, self.parsed):
                if name in state.holds:
                    self.change(stmt, name, state, augmented=False)

    def loop(self, stmt, state: _State) -> _State:
        # what the next iterations read before assigning it (``g = 2 * x`` first in the
        # body holds nothing they read, whatever it held when ``x`` changed)
        if id(stmt) not in self.live_heads:
            self.live_heads[id(stmt)] = live_at_loop_head(stmt)
        loop_reads = self.live_heads[id(stmt)]
        final, self.final = self.final, False
        self.loops += 1
        head = state.copy()
        for _ in range(20):
            end = self.block(stmt.body, self.loop_entry(stmt, head.copy()))
            joined = head.join(end)
            if joined == head:
                break
            head = joined
        else:  # no fixpoint: nothing is certain any more
            head = _State(dict(head.holds), dict.fromkeys(head.must))
        self.final = final
        self.later.append(loop_reads)  # the next iteration reads them again
        self.block(stmt.body, self.loop_entry(stmt, head.copy()))
        self.later.pop()
        self.loops -= 1
        return head

    def loop_entry(self, stmt, state: _State) -> _State:
        if isinstance(stmt, gast.For):
            holds, _ = self.value(stmt.iter, state)  # an element may be a view, or in a list
            elements = self.fresh(stmt, state) if _is_range(stmt.iter) else holds
            for name in name_ids(stmt.target, gast.Store):
                self.set(name, elements, None, state)
        return state

    # -- bindings and changes --------------------------------------------------------------
    def bind(self, target, holds, must, state: _State, value, stmt) -> None:
        if isinstance(target, gast.Name):
            self.set(target.id, holds, must, state)
        elif isinstance(target, gast.Tuple | gast.List):
            if isinstance(value, gast.Tuple | gast.List) and len(value.elts) == len(target.elts):
                values = [self.value(sub_value, state) for sub_value in value.elts]  # all first
                for sub_target, sub_value, (sub_holds, sub_must) in zip(
                    target.elts, value.elts, values
                ):
                    self.bind(sub_target, sub_holds, sub_must, state, sub_value, stmt)
            else:
                for sub_target in target.elts:
                    self.bind(sub_target, holds, None, state, None, stmt)
        elif isinstance(target, gast.Subscript) and isinstance(target.value, gast.Name):
            self.change(stmt, target.value.id, state, augmented=False)
            base = target.value.id
            state.holds[base] = state.holds.get(base, frozenset()) | holds  # a list may keep it

    def set(self, name: str, holds: frozenset, must, state: _State) -> None:
        state.holds[name] = holds
        state.must[name] = must
        for other, known in state.must.items():  # views whose index reads ``name`` go stale
            if other != name and known is not None and name in known[2]:
                state.must[other] = None

    def fresh(self, node, state: _State, container: bool = False) -> frozenset:
        """A new object made by ``node``; names holding the one it made before keep it,
        but are no longer certain to be what a name bound now is (a loop runs it again)."""
        token = f"new:{'container:' if container else ''}{id(node)}"
        for other, known in state.must.items():
            if known is not None and known[0] == token:
                state.must[other] = None
        return frozenset({token})

    def change(self, stmt, name: str, state: _State, augmented: bool) -> MutationInfo:
        """``stmt`` changes the object ``name`` holds in place (if it is mutable)."""
        holds = state.holds.get(name, frozenset())
        must = state.must.get(name)
        info = MutationInfo(augmented, name, stmt)
        whole = must is not None and must[1] is None
        changed = frozenset({must[0]}) if must is not None else holds  # not what it contains
        if whole:
            for other, known in sorted(state.must.items()):
                if other != name and known is not None and known[0] == must[0]:
                    info.refresh.append((other, known[1]))
        refreshed = {other for other, _ in info.refresh}
        later = self.read_later()
        unsure = sorted(
            other
            for other, other_holds in state.holds.items()
            if other != name and other not in refreshed and other in later and other_holds & changed
        )
        if unsure:
            info.problem = (
                f"'{unsure[0]}' may share its data with '{name}' (the same array, a view of it, "
                f"or a list holding it), and the change to '{name}' cannot be followed into it"
            )
        outside = sorted(t for t in changed if not t.startswith("new:"))
        info.caller = outside[0] if outside else None
        if self.final:
            self.infos[id(stmt)] = info
            if info.refresh:
                self.insertions[id(stmt)] = [
                    _refresh(stmt, name, other, index, info) for other, index in info.refresh
                ]
        return info

    def element_problem(self, stmt, info: MutationInfo, state: _State) -> str | None:
        """``xs[i] op= v``: if the item is an array or a list, Python changes it in place
        (``xs[i].__iadd__(v)``), and every other holder of it sees the change. Why that
        cannot be followed: another name read later may hold an object ``xs`` contains."""
        base = info.target
        own = state.must.get(base)
        contained = state.holds.get(base, frozenset()) - ({own[0]} if own else set())
        refreshed = {other for other, _ in info.refresh}
        later = self.read_later()
        holders = sorted(
            other
            for other, other_holds in state.holds.items()
            if other not in (base, *refreshed) and other in later and other_holds & contained
        )
        if not holders:
            return None
        return (
            f"cannot differentiate '{_source_of(stmt)}': if the item is an array or a list, "
            f"it is changed in place, and '{holders[0]}' may hold it too (the change cannot "
            f"be followed into it); write '{base}[...] = {base}[...] "
            f"{_OPERATOR_TEXT.get(type(stmt.op), '+')} ...' to store a new value instead"
        )

    def after_augmented(self, name: str, stmt, state: _State) -> None:
        """After ``a op= x``: an array stays the object it was; a number is a new one."""
        if state.must.get(name) is None:
            token = self.fresh(stmt, state)
            holds = state.holds.get(name, frozenset()) | token
            self.set(name, holds, (min(token), None, frozenset()), state)

    # -- values --------------------------------------------------------------------------
    def value(self, expr, state: _State) -> tuple[frozenset, tuple | None]:
        """The objects ``expr``'s value may hold, and the one it certainly is (or None)."""
        if isinstance(expr, gast.Name):
            if expr.id in state.holds:
                return state.holds[expr.id], state.must.get(expr.id)
            token = f"global '{expr.id}'"
            return frozenset({token}), (token, None, frozenset())
        if isinstance(expr, gast.Subscript):
            holds, must = self.value(expr.value, state)
            self.parts(expr.slice, state)
            if must is not None and must[1] is None and _certainly_a_view(expr.slice):
                return holds, (must[0], expr.slice, frozenset(name_ids(expr.slice, gast.Load)))
            if must is not None and _is_container(must[0]) and not _is_slice_like(expr.slice):
                return holds - {must[0]}, None  # an element of a list is not the list itself
            return holds, None
        if isinstance(expr, gast.Attribute):
            if expr.attr in _PLAIN_ATTRIBUTES:
                self.value(expr.value, state)
                return self.new(expr, state)
            return self.value(expr.value, state)[0], None
        if isinstance(expr, gast.Tuple | gast.List | gast.Dict):
            elements = expr.values if isinstance(expr, gast.Dict) else expr.elts
            holds = self.parts([e for e in elements if e is not None], state)
            if isinstance(expr, gast.Dict):
                self.parts([k for k in expr.keys if k is not None], state)
            token = self.fresh(expr, state, container=True)
            return holds | token, (min(token), None, frozenset())
        if isinstance(expr, gast.Starred):  # [*xs]: what xs holds
            return self.value(expr.value, state)[0], None
        if isinstance(expr, gast.BinOp):
            holds = self.parts([expr.left, expr.right], state)
            if any(_is_container(t) for t in holds):  # list or tuple concatenation
                token = self.fresh(expr, state, container=True)  # always a new list
                return holds | token, (min(token), None, frozenset())
            return self.new(expr, state)
        if isinstance(expr, gast.BoolOp):
            return self.parts(expr.values, state), None
        if isinstance(expr, gast.IfExp):
            self.value(expr.test, state)
            return self.parts([expr.body, expr.orelse], state), None
        if isinstance(expr, gast.Call):
            return self.call(expr, state)
        self.parts(children(expr), state)
        return self.new(expr, state)

    def new(self, expr, state: _State) -> tuple[frozenset, tuple]:
        token = self.fresh(expr, state)
        return token, (min(token), None, frozenset())

    def parts(self, nodes, state: _State) -> frozenset:
        nodes = nodes if isinstance(nodes, list) else [nodes]
        holds = frozenset()
        for node in nodes:
            if isinstance(node, gast.expr):
                holds |= self.value(node, state)[0]
            elif isinstance(node, gast.AST):
                holds |= self.parts(children(node), state)
        return holds

    def call(self, call: gast.Call, state: _State) -> tuple[frozenset, tuple | None]:
        arguments = [*call.args, *(kw.value for kw in call.keywords)]
        holds = self.parts(arguments, state)
        copied = self.shallow_copy(call, state)
        if copied is not None:
            return copied
        if self.returns_new(call, state):
            callee = _resolve(call.func, self.parsed)
            if any(callee is builder for builder in _ELEMENT_CONTAINERS):
                return self.container_of_elements(call, holds, state)
            if _helper_returns_new(callee) and not _helper_returns_new(callee, whole=True):
                token = self.fresh(call, state, container=True)  # a new tuple holding them
                return holds | token, (min(token), None, frozenset())
            return self.new(call, state)
        func = call.func
        if (
            isinstance(func, gast.Attribute)
            and func.attr in _LIST_MUTATORS
            and isinstance(func.value, gast.Name)
            and func.value.id in state.holds
        ):  # the list keeps what it is given
            state.holds[func.value.id] = state.holds[func.value.id] | holds
            return self.new(call, state)
        if isinstance(call.func, gast.Attribute):
            holds |= self.value(call.func.value, state)[0]
        # an unknown function may return any argument, or store one into another; a user
        # function that changes some of its arguments may store the others into those
        changed = _helper_changes(call, self.parsed)
        for node in [*arguments, getattr(call.func, "value", None)]:
            stores = not changed or getattr(node, "id", None) in changed
            if isinstance(node, gast.Name) and node.id in state.holds and stores:
                state.holds[node.id] = state.holds[node.id] | holds
        return holds | self.fresh(call, state), None

    def container_of_elements(self, call: gast.Call, holds: frozenset, state: _State):
        """``list(x)``, ``tuple(x)``, ``sorted(x)``: a new container holding the elements of
        ``x``: the objects a list holds, or views of an array (its rows), so a change of an
        element in place (``rows[i] += v``) changes what ``x`` holds."""
        for argument in call.args:
            must = state.must.get(argument.id) if isinstance(argument, gast.Name) else None
            if must is not None and must[1] is None and _is_container(must[0]):
                holds = holds - {must[0]}  # the elements, not the list itself
        token = self.fresh(call, state, container=True)
        return holds | token, (min(token), None, frozenset())

    def shallow_copy(self, call: gast.Call, state: _State) -> tuple | None:
        """``xs.copy()`` / ``d.copy()`` of a list or dict the function made: a new container
        holding the same elements. Of a value the function did not make (an argument, an
        item of one: a list, a dict or an array) the same, conservatively. None where the
        receiver is an array or object the function made (its ``copy`` holds nothing of
        the original)."""
        func = call.func
        if not (isinstance(func, gast.Attribute) and func.attr == "copy" and not call.args):
            return None
        if isinstance(func.value, gast.Subscript) or (
            isinstance(func.value, gast.Name) and func.value.id not in state.holds
        ):  # p["w"].copy(), g.copy(): an array's copy or a list's, which holds its items
            holds, _ = self.value(func.value, state)
            token = self.fresh(call, state, container=True)
            return holds | token, (min(token), None, frozenset())
        if not isinstance(func.value, gast.Name):
            return None
        must = state.must.get(func.value.id)
        if must is None or not _is_container(must[0]):
            if any(not t.startswith("new:") for t in state.holds[func.value.id]):
                # an argument's (or a global's) copy: if it is a list or a dict, the copy
                # holds the same items
                token = self.fresh(call, state, container=True)
                return state.holds[func.value.id] | token, (min(token), None, frozenset())
            return None
        contents = state.holds[func.value.id] - {must[0]}
        token = self.fresh(call, state, container=True)
        return contents | token, (min(token), None, frozenset())

    def returns_new(self, call: gast.Call, state: _State) -> bool:
        if any(kw.arg == "out" for kw in call.keywords):
            return False
        func = call.func
        root = func
        while isinstance(root, gast.Attribute):
            root = root.value
        if isinstance(root, gast.Name) and root.id in state.holds:  # a method of a local value
            copies = not any(kw.arg == "copy" for kw in call.keywords)  # astype(copy=False)
            return isinstance(func, gast.Attribute) and func.attr in _NEW_FROM_METHODS and copies
        callee = _resolve(func, self.parsed)
        if is_missing(callee):
            return False
        if isinstance(callee, np.ufunc) or any(callee is f for f in _NEW_FROM):
            return not (callee is np.array and any(kw.arg == "copy" for kw in call.keywords))
        if isinstance(callee, types.BuiltinFunctionType) and callee.__self__ is math:
            return True
        return _rule_returns_new(callee, call) or _helper_returns_new(callee)


def _rule_returns_new(callee: object, call: gast.Call) -> bool:
    """Whether ``callee``'s adjoint rule says this call returns a new array (``fresh``)."""
    from . import rules

    try:
        rule = rules.lookup(callee)
    except TypeError:
        return False
    if rule is None:
        return False
    if rule.template is None:
        return bool(rule.fresh)
    try:
        # the parameters the call gives (not those left to their defaults), with the atoms
        given = rule.template.signature.bind(
            *call.args, **{kw.arg: kw.value for kw in call.keywords}
        ).arguments
    except TypeError:
        return False
    return rule.returns_new(dict(given))


# builtins whose result is a new container of their argument's elements (rows of an array)
def _element_containers() -> tuple:
    from . import pytree
    from .runtime import tree_leaves_like, tree_rebuilt

    # new containers holding their arguments' elements (the trees': their leaves)
    return (list, tuple, sorted, set, frozenset, dict, copy.copy, pytree.tree_leaves) + (
        tree_leaves_like,
        tree_rebuilt,
    )


_ELEMENT_CONTAINERS = _element_containers()

_HELPERS_BEING_READ: set = set()  # code objects: recursion guard of _helper_returns_new


def _helper_returns_new(callee: object, whole: bool = False) -> bool:
    """Whether ``callee`` is a user function that always returns an object it created
    (with ``whole``: one holding none of the objects it was given)."""
    from .callables import is_library_file
    from .ownership import returns_owned

    if not isinstance(callee, types.FunctionType) or is_library_file(callee.__code__.co_filename):
        return False
    code = callee.__code__
    if code in _HELPERS_BEING_READ:
        return False  # recursion: not known
    _HELPERS_BEING_READ.add(code)
    try:
        return returns_owned(callee, whole=whole)
    finally:
        _HELPERS_BEING_READ.discard(code)


def _resolve(node, parsed: ParsedFunction) -> object:
    if isinstance(node, gast.Name):
        return parsed.lookup(node.id)
    if isinstance(node, gast.Attribute):
        base = _resolve(node.value, parsed)
        return base if is_missing(base) else getattr(base, node.attr, parsed.lookup("\0"))
    return parsed.lookup("\0")


def _earlier(token: str) -> str:
    """The token of the objects an expression made before its latest run."""
    return token if token.endswith(_EARLIER) else token + _EARLIER


_EARLIER = " (made earlier)"


def _is_range(node) -> bool:
    return (
        isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and node.func.id == "range"
    )


def _is_container(token: str) -> bool:
    return token.startswith("new:container:")


def _certainly_a_view(index) -> bool:
    """A basic index with a slice, ``...`` or ``None``: on an array, always a view (on a
    list a slice is a copy: the analysis accepts view refreshes on arrays only)."""
    parts = index.elts if isinstance(index, gast.Tuple) else [index]
    if not any(_is_slice_like(p) for p in parts):
        return False
    return all(_is_slice_like(p) or _is_int_like(p) for p in parts)


def _is_slice_like(node) -> bool:
    if isinstance(node, gast.Slice):
        return all(p is None or _is_int_like(p) for p in (node.lower, node.upper, node.step))
    return isinstance(node, gast.Constant) and (node.value is None or node.value is Ellipsis)


def _is_int_like(node) -> bool:
    if isinstance(node, gast.Constant):
        return type(node.value) is int
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub):
        return _is_int_like(node.operand)
    return isinstance(node, gast.Name)  # an int at run time, or the forward raises


def _refresh(stmt, name: str, other: str, index, info: MutationInfo) -> gast.Assign:
    value = gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None)
    if index is not None:
        value = gast.Subscript(value=value, slice=clone(index), ctx=gast.Load())
    target = gast.Name(id=other, ctx=gast.Store(), annotation=None, type_comment=None)
    node = gast.Assign(targets=[target], value=value, type_comment=None)
    for n in (node, target, value):
        for attr in ("lineno", "col_offset", "end_lineno", "end_col_offset"):
            setattr(n, attr, getattr(stmt, attr, None))
    node.ad_refresh = info
    return node


# -- after the kinds are known ------------------------------------------------------------
def apply_kinds(ops: list, kinds: dict, fn, describe) -> bool:
    """Give each change in place its meaning for the kinds now known; True if a refresh
    statement became a plain copy of the old value (the kinds must then be recomputed).

    ``a op= x`` on a number makes a new object: its refreshes keep the old values. On an
    array the forward sweep computes it with NumPy's in-place semantics
    (``ad_in_place``); what cannot be followed is refused. A slice of a list is a copy:
    its refresh keeps the old value too.
    """
    from .kinds import atom_kind

    refreshes: dict[int, list[int]] = {}
    for position, op in enumerate(ops):
        refresh = getattr(op.stmt, "ad_refresh", None)
        if refresh is not None:
            refreshes.setdefault(id(refresh[0]), []).append(position)
    changed = False
    for op in list(ops):
        info = getattr(op.stmt, "ad_mutation", None)
        if info is None:
            continue
        if info.augmented:
            kind = atom_kind(op.value.left, kinds, fn)
        elif op.form == "user_call":  # a helper changed an argument: that argument's kind
            given = [
                a
                for a in op.inputs.values()
                if isinstance(a, gast.Name) and fn.source_of.get(a.id, a.id) == info.target
            ]
            kind = atom_kind(given[0], kinds, fn) if given else None
        else:
            kind = kinds.get(op.target) if op.target is not None else None
        known_array = kind == ARRAY
        for position in refreshes.get(id(info), []):
            refresh_op = ops[position]
            view = isinstance(refresh_op.value, gast.Subscript)
            if info.augmented and kind != SCALAR and not view:
                changed |= _refresh_if_in_place(ops, position, op, fn)
            elif (info.augmented and not known_array) or (view and kind == SEQUENCE):
                changed |= _keep_old_value(ops, position, describe, fn)
        if info.augmented and kind != SCALAR:
            _check_augmented(op, info, kind, fn)
    return changed


def _keep_old_value(ops: list, position: int, describe, fn) -> bool:
    op = ops[position]
    old = op.stmt.ad_refresh[1]
    if isinstance(op.value, gast.Name) and op.value.id == old:
        return False
    op.stmt.value = gast.Name(id=old, ctx=gast.Load(), annotation=None, type_comment=None)
    new = describe(op.stmt, fn)
    new.depth = op.depth
    ops[position] = new
    return True


def _refresh_if_in_place(ops: list, position: int, change, fn) -> bool:
    """``b_1 = a_1`` after ``a_1 = a + x`` on a value of the kind ARRAY, which may be an
    ndarray (changed in place: ``b`` is the changed object) or a NumPy scalar (``x * 1.0``
    of a 0-d array; a new object: ``b`` keeps its value). The kinds do not know which:
    ``b_1 = alias_after(a, a_1, b)`` decides when it runs, and its adjoint goes to the
    value it chose (``runtime.alias_after``)."""
    from .resolve import rule_op
    from .runtime import alias_after

    op = ops[position]
    old = op.stmt.ad_refresh[1]
    target = change.value.left
    if not isinstance(op.value, gast.Name) or not isinstance(target, gast.Name) or old is None:
        return False
    args = [
        gast.Name(id=n, ctx=gast.Load(), annotation=None, type_comment=None)
        for n in (target.id, op.value.id, old)
    ]
    op.stmt.value = gast.Call(
        func=gast.Name(id="alias_after", ctx=gast.Load(), annotation=None, type_comment=None),
        args=args,
        keywords=[],
    )
    op.stmt.ad_alias_after = alias_after
    new = rule_op(op.stmt, op.target, alias_after, args, {}, fn)
    new.depth = op.depth
    ops[position] = new
    return True


def _check_augmented(op, info: MutationInfo, kind, fn) -> None:
    """``a op= x`` where ``a`` may be an array: refuse what cannot be followed, and make the
    forward sweep compute it as NumPy does in place (dtype and shape kept).

    On a known array the refusal is now; where the kind is not known (a list, a tuple, a
    value a helper returned) the forward sweep refuses at run time, if what arrives is
    changed in place (an array or a list): the refreshes were made plain copies."""
    refusal = _refusal(info, kind)
    if refusal is not None and kind == ARRAY:
        raise fn.parsed.error(refusal, info.node)
    op.stmt.ad_in_place = AUGMENTED_OPERATORS[type(info.node.op)]
    if refusal is not None:  # its first line: the place and the reason
        refusal = str(fn.parsed.error(refusal, info.node)).splitlines()[0]
    op.stmt.ad_in_place_refusal = refusal
    views = [other for other, index in info.refresh if index is not None]
    if views and refusal is None:  # ``b = a[...]`` of a NumPy scalar is a new 0-d array
        op.stmt.ad_in_place_refusal = str(
            fn.parsed.error(
                f"cannot differentiate '{_source_of(info.node)}' on a NumPy scalar (not an "
                f"ndarray: a new value, not a change in place) while '{views[0]}' was "
                "made from it by indexing",
                info.node,
            )
        ).splitlines()[0]
        op.stmt.ad_in_place_when = "rebinding"


def _refusal(info: MutationInfo, kind) -> str | None:
    stmt = info.node
    user = info.target
    words = f"'{_source_of(stmt)}'"
    rewrite = f"'{user} = {user} {_OPERATOR_TEXT.get(type(stmt.op), '+')} ...'"
    if info.caller is not None:
        return (
            f"{words} changes the caller's data in place ({info.caller}): writes into "
            f"arguments and globals are not supported; write {rewrite} to compute a new "
            "array instead"
        )
    if info.problem is not None:
        return f"cannot differentiate {words} in place: {info.problem}"
    views = [other for other, index in info.refresh if index is not None]
    if views and kind != ARRAY:
        names = ", ".join(f"'{other}'" for other in views)
        return (
            f"cannot differentiate {words} on a value whose type is not known here: {names} "
            f"also names it, and would see a change in place; write {rewrite} instead"
        )
    return None


def check_mutations(analysis) -> None:
    """Refuse item writes and appends (which always change the object) whose object other
    names may hold in a way the refreshes cannot follow, where derivatives flow; and
    method calls on such values whose result is dropped (``a.sort()``, ``a.__iadd__(x)``,
    ``xs.extend(ys)``): they can only matter by changing the object in place."""
    from .ops import APPEND, MUTATIONS, USER_CALL

    for op in analysis.ops:
        if op.target is None and op.form != APPEND:
            _refuse_method_in_place(op, analysis)
        info = getattr(op.stmt, "ad_mutation", None)
        if info is None or info.augmented or info.problem is None:
            continue
        if op.form in MUTATIONS or op.form == USER_CALL:
            continue  # an item write, append or helper's change: check_item_stores decided it
        if op.target in analysis.varied or any(analysis.is_active(a) for a in op.inputs.values()):
            words = f"'{_source_of(info.node)}'"
            raise analysis.fn.parsed.error(
                f"cannot differentiate {words}: {info.problem}", info.node
            )


def _refuse_method_in_place(op, analysis) -> None:
    """A call whose result is dropped, given a value derivatives flow through: a method of
    it (``a.sort()``) or a library function (``np.add.at(a, i, v)``, ``np.copyto(a, b)``)
    can only matter by changing it in place. ``print`` and user functions (which get
    their own pair) are left alone."""
    from .ops import USER_CALL
    from .resolve import resolve_static

    call = op.stmt.value if isinstance(op.stmt, gast.Expr) else None
    if not isinstance(call, gast.Call) or op.form == USER_CALL:
        return
    method = isinstance(call.func, gast.Attribute) and not getattr(call.func, "ad_static", False)
    if method:  # a.sort(): the object it is called on (TRACE.append(y) changes TRACE only)
        given = [call.func.value]
    elif _numpy_changes_first_argument(resolve_static(call.func, analysis.fn)):
        given = call.args[:1]  # np.add.at(a, i, v), np.copyto(a, b), np.put(a, i, v) ...
    else:
        return
    varied = [a.id for a in given if isinstance(a, gast.Name) and a.id in analysis.varied]
    if not varied:
        return
    from .ownership import _user_text

    user = _user_text(varied[0], analysis)
    raise analysis.fn.parsed.error(
        f"cannot differentiate the call of '{_source_of(call.func)}(...)': its result is not "
        "used, so it can only "
        f"matter by changing '{user}' in place, which is not supported (use a function that "
        "returns a new value, such as np.sort(a) or a + x)",
        op.stmt,
    )


def _numpy_changes_first_argument(callee) -> bool:
    """A NumPy function (or ufunc method such as ``np.add.at``) whose result is dropped:
    outside ``numpy.testing`` it can only have been called to change its first argument."""
    owner = getattr(callee, "__self__", None)
    if isinstance(owner, np.ufunc):
        return True
    module = getattr(callee, "__module__", None) or ""
    return module.split(".")[0] == "numpy" and not module.startswith("numpy.testing")


def _source_of(stmt) -> str:
    from .emit import expression_source

    return expression_source(stmt)


_OPERATOR_TEXT = {
    gast.Add: "+", gast.Sub: "-", gast.Mult: "*", gast.Div: "/", gast.Pow: "**",
    gast.MatMult: "@", gast.Mod: "%", gast.FloorDiv: "//", gast.BitAnd: "&",
    gast.BitOr: "|", gast.BitXor: "^", gast.LShift: "<<", gast.RShift: ">>",
}  # fmt: skip
