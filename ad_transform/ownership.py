"""Which lists and arrays a function may change in place: those it created itself.

An item write (``a[i] = v``) or an append into an argument, a global, a closure
variable, or a view of one of them would change data the caller (or every caller) holds.
A name is *owned* when every definition binds a new object:

* a list or tuple display, a number, or ``None`` (a placeholder for another path);
* the result of a rule registered ``fresh`` (``rules/``: NumPy functions that return a
  new array, such as ``np.stack``, ``np.where``, reductions, arithmetic, ``x.copy()``);
  any ufunc without ``out=``;
* an index-array or mask read (``x[[0, 1]]``, ``x[x > 0]``: NumPy copies);
* ``CHART.copy()`` of a global array;
* a user function's result, when its returned value is owned in that function;
* a copy of an owned name.

Everything else may share memory with something the function does not own: views
(``reshape``, ``ravel``, ``.T``, basic slices, ``np.asarray``...), arguments, globals,
results of unknown calls. Writes into them are refused, naming where they come from.
"""

from __future__ import annotations

import operator
import types

import gast
import numpy as np

from .emit import expression_source
from .errors import ADTransformError
from .nodes import name_ids
from .rules.registry import ARRAY, DICT, SCALAR, SEQUENCE

_BUILD, _COPY, _CONSTANT, _RULE, _USER_CALL, _OPAQUE = (
    "build",
    "copy",
    "constant",
    "rule",
    "user_call",
    "opaque",
)
_MUTATIONS = ("store_item", "append", "extend", "call_write")  # analyze.MUTATIONS


def check_item_stores(analysis) -> None:
    """Refuse item writes and appends into containers the function did not create."""
    stores = [op for op in analysis.ops if op.form in _MUTATIONS]
    if not stores:
        return
    owned = owned_names(analysis.ops, analysis.fn, analysis.kinds)
    owned |= set(getattr(analysis, "inout", ()))  # a helper's in-out parameters: the caller's own
    for op in stores:
        if op.target not in owned:
            raise analysis.fn.parsed.error(_refusal(op, analysis), op.stmt)
        if _is_list_slice_store(op, analysis):
            name = _user_text(op.target, analysis)
            raise analysis.fn.parsed.error(
                f"unsupported construct: assigning a slice of the list '{name}' "
                "('xs[1:3] = [...]') in a differentiated function; assign its items one by "
                "one (xs[1] = a), or build a new list with append or extend",
                op.stmt,
            )
    _check_live_aliases(stores, analysis)


def _is_list_slice_store(op, analysis) -> bool:
    """``xs[i:j] = ys`` into a list (or a value that may be one): a write that may change
    the list's length, which the item-store adjoint (one element per index) does not undo."""
    return (
        op.form == "store_item"
        and isinstance(getattr(op, "index", None), gast.Slice)
        and analysis.kinds.get(op.target) in (SEQUENCE,)
    )


# -- other names for a changed object -------------------------------------------------------
def _check_live_aliases(stores: list, analysis) -> None:
    """Refuse a change of an object that another name, read afterwards, also holds.

    ``b = a; a[0] = v; ... b`` or ``w = a[1:]; a[1] = v; ... w``: the adjoint of the write
    zeroes ``da[0]`` but not the adjoint of ``b`` or ``w``, so the write is refused unless
    every other name for the object is dead at the write (read before it only, as in
    ``a[:2] = a[1:] * 2``). SSA versions of one variable joined by copies are such names
    too, usually dead by then."""
    varied = [op for op in stores if op.target in analysis.varied]
    if not varied:
        return
    pure = {id(op.stmt) for op in analysis.ops if op.pure and op.target is not None}
    live_after = _live_after(analysis.fn.body, {id(op.stmt) for op in varied}, pure)
    loops = _enclosing_loops(analysis.fn.body)
    everywhere, _ = _memory(analysis)
    for op in varied:
        changed = everywhere.get(op.target, {op.target})
        earlier = _may_run_before(op, changed, analysis.ops, loops)
        points, holds = _memory(analysis, earlier)
        # a helper that changes an argument and returns it: its result is bound after the
        # change, so it sees the changed object as the caller's code does
        bound_by_the_call = {op.stmt.targets[0].id} if _binds_a_name(op) else set()
        for name in sorted(live_after.get(id(op.stmt), set()) - {op.target} - bound_by_the_call):
            reach = points.get(name, {name}) | holds.get(name, set())
            if reach & changed:
                raise analysis.fn.parsed.error(_alias_refusal(op, name, analysis), op.stmt)


def _enclosing_loops(body: list) -> dict[int, frozenset[int]]:
    """Statement id -> ids of the loops around it."""
    found: dict[int, frozenset[int]] = {}

    def walk(stmts, around: frozenset[int]) -> None:
        for stmt in stmts:
            found[id(stmt)] = around
            inner = around | {id(stmt)} if isinstance(stmt, (gast.For, gast.While)) else around
            walk(getattr(stmt, "body", None) or [], inner)
            walk(getattr(stmt, "orelse", None) or [], inner)

    walk(body, frozenset())
    return found


def _may_run_before(change, changed: set[str], ops: list, loops: dict) -> set[int]:
    """Indices of the ops that may run before ``change`` (of the objects ``changed``) on
    one of those objects: earlier in the trace, or in a loop around both (a later
    iteration follows them) unless each iteration of that loop makes the objects anew."""
    at = next(i for i, op in enumerate(ops) if op is change)
    makers = [_maker(obj, ops) for obj in changed]
    around = {
        loop
        for loop in loops.get(id(change.stmt), frozenset())
        if not all(m is not None and loop in loops.get(id(m.stmt), ()) for m in makers)
    }
    return {i for i, op in enumerate(ops) if i < at or around & loops.get(id(op.stmt), set())}


def _maker(obj: str, ops: list):
    """The op that made object ``obj`` (``name@index``), None for an argument or global."""
    _, at, index = obj.rpartition("@")
    return ops[int(index)] if at and index.isdigit() and int(index) < len(ops) else None


def _memory(analysis, earlier: set[int] | None = None) -> tuple[dict[str, set], dict[str, set]]:
    """For each name: the objects it may be or be a view of (``points``), and the objects
    it may contain (``holds``: elements of a list or tuple). An object is named by the
    definition that made it, or by the argument or global it is. With ``earlier`` (op
    indices), only those ops put objects into containers: a container given an object
    after a change reads names that are live after it, which are checked themselves."""
    fn, kinds = analysis.fn, analysis.kinds
    definitions = _definitions(analysis.ops)
    points: dict[str, set] = {}
    holds: dict[str, set] = {}

    def of(name: str) -> set:
        return points.setdefault(name, set() if name in definitions else {name})

    def inside(name: str) -> set:
        return holds.setdefault(name, set())

    headers = [
        s
        for s in _all_statements(fn.body)
        if isinstance(s, gast.For) and isinstance(s.iter, gast.Name)
    ]
    changed = True
    while changed:
        before = ({k: set(v) for k, v in points.items()}, {k: set(v) for k, v in holds.items()})
        for index, op in enumerate(analysis.ops):
            if op.target is None:
                continue
            names = [a.id for a in op.inputs.values() if isinstance(a, gast.Name)]
            everything = set().union(*(of(n) | inside(n) for n in names)) if names else set()
            target = op.target
            joins = earlier is None or index in earlier  # may put objects into containers
            if op.form == _COPY and not joins:
                # a copy made after the change sees the changed object, as a read of the
                # changed name would (``d = result`` after a comprehension in a 'try')
                pass
            elif op.form == _COPY:
                of(target).update(of(names[0]) if names else set())
                inside(target).update(inside(names[0]) if names else set())
            elif op.form == _BUILD:
                of(target).add(f"{target}@{index}")
                inside(target).update(everything if joins else ())
            elif not joins and op.form in _MUTATIONS:
                pass
            elif op.form in ("append", "extend") or (
                op.form == "store_item" and _is_list(target, definitions)
            ):
                inside(target).update(everything)
            elif op.form == "store_item":
                pass  # an array copies the values stored into it
            elif op.form == "call_write":
                for held in _held_by_call(op, kinds):
                    inside(target).update(of(held) | inside(held))
            elif op.form == _RULE and op.rule.primitive is list and names:
                # list(x): a new list holding x's elements; an array's (or an object's of
                # unknown kind) are views of it
                of(target).add(f"{target}@{index}")
                if joins:
                    source = names[0]
                    views = set() if kinds.get(source) in (SEQUENCE, DICT) else of(source)
                    inside(target).update(inside(source) | views)
            elif _reads_an_item(op, names, kinds):
                # xs[i] of a list or tuple: an object it holds (xs[1:] a new list of them),
                # never the list itself, which an append changes
                of(target).update(inside(names[0]))
                if joins:
                    inside(target).update(_elements_joined(target, names, kinds, inside))
            elif op.form == _RULE and op.rule.template is None and not _writes_out(op):
                of(target).add(f"{target}@{index}")  # indices, masks, shapes: new objects
            elif op.form == "record":  # Cls(...): a new object holding its arguments
                of(target).add(f"{target}@{index}")
                inside(target).update(everything)
            elif op.form == "field":  # obj.a: what the object holds
                of(target).update(everything)
                inside(target).update(everything)
            elif (
                op.form == _USER_CALL
                and kinds.get(target) not in (ARRAY, SCALAR)
                and (_binds_new(op, set(), fn, kinds, definitions, frozenset()))
            ):  # a new list, tuple or object a helper made may hold its arguments
                of(target).add(f"{target}@{index}")
                inside(target).update(everything)
            elif op.form in (_RULE, _USER_CALL, _OPAQUE) and not _binds_new(
                op, set(), fn, kinds, definitions, frozenset()
            ):
                first = names[:1] if op.form == _RULE else names
                for name in first:
                    of(target).update(of(name) | inside(name))  # a view, or an element
                if joins:
                    inside(target).update(_elements_joined(target, names, kinds, inside))
            elif op.form == _CONSTANT and not isinstance(op.inputs["x"], gast.Constant):
                of(target).add(f"global {expression_source(op.inputs['x'])}")
            else:
                of(target).add(f"{target}@{index}")
                if joins:
                    inside(target).update(_elements_joined(target, names, kinds, inside))
        for loop in headers:
            for name in name_ids(loop.target, gast.Store):
                of(name).update(of(loop.iter.id) | inside(loop.iter.id))
        changed = (points, holds) != before
    return points, holds


def _reads_an_item(op, names: list[str], kinds: dict) -> bool:
    """Whether ``op`` is ``v = xs[index]`` of a name known to hold a list or tuple."""
    return (
        op.form == _RULE
        and op.rule.primitive is operator.getitem
        and bool(names)
        and isinstance(op.inputs.get("x"), gast.Name)
        and op.inputs["x"].id == names[0]
        and kinds.get(names[0]) == SEQUENCE
    )


def _elements_joined(target: str, names: list[str], kinds: dict, inside) -> set:
    """What a list or tuple made from ``names`` may hold: their elements (``s + t``,
    ``[v] * 2``, ``sum(rows, [])``, ``s += t``). A number or an array holds nothing."""
    if kinds.get(target) in (ARRAY, SCALAR):
        return set()
    return set().union(*(inside(name) for name in names)) if names else set()


def _held_by_call(op, kinds: dict) -> list[str]:
    """The caller's names whose objects a helper may have put into the container that the
    in-place change ``op`` (a ``call_write``) is of: ``keep(rows, row)`` -> ``row``. An
    array copies what is stored into it, so it holds nothing."""
    from .effects import helper_effects

    if kinds.get(op.target) == ARRAY:
        return []
    found = []
    for container, value in helper_effects(op.callee).holds:
        here, held = op.inputs.get(container), op.inputs.get(value)
        if isinstance(here, gast.Name) and here.id == op.target and isinstance(held, gast.Name):
            found.append(held.id)
    return found


def _is_list(name: str, definitions: dict) -> bool:
    defs = definitions.get(name, [])
    return bool(defs) and all(op.form == _BUILD for op in defs)


def _all_statements(stmts):
    for stmt in stmts:
        yield stmt
        yield from _all_statements(getattr(stmt, "body", None) or [])
        yield from _all_statements(getattr(stmt, "orelse", None) or [])


def _live_after(body: list, wanted: set[int], pure: set[int]) -> dict[int, set[str]]:
    """The names possibly read after each statement of ``wanted`` (ids), before being
    assigned again: backward liveness over branches and loops. A ``pure`` assignment to a
    dead name reads nothing (the join copy ``v = v_1`` at the end of a loop body)."""
    found: dict[int, set[str]] = {}

    def block(stmts, live: set, after_loop: set, loop_head: set) -> set:
        for stmt in reversed(stmts):
            if isinstance(stmt, gast.If):
                live = (
                    block(stmt.body, set(live), after_loop, loop_head)
                    | block(stmt.orelse, set(live), after_loop, loop_head)
                    | name_ids(stmt.test, gast.Load)
                )
            elif isinstance(stmt, (gast.For, gast.While)):
                header = stmt.iter if isinstance(stmt, gast.For) else stmt.test
                bound = name_ids(stmt.target, gast.Store) if isinstance(stmt, gast.For) else set()
                head = set(live) | name_ids(header, gast.Load)
                while True:
                    inner = block(stmt.body, set(head), set(live), head)
                    widened = head | (inner - bound)
                    if widened == head:
                        break
                    head = widened
                live = head
            elif isinstance(stmt, gast.Break):
                live = set(after_loop)
            elif isinstance(stmt, gast.Continue):
                live = set(loop_head)
            else:
                if id(stmt) in wanted:
                    found[id(stmt)] = set(live)
                if isinstance(stmt, gast.Assign) and not isinstance(
                    stmt.targets[0], gast.Subscript
                ):
                    targets = name_ids(stmt.targets, gast.Store)
                    if id(stmt) in pure and not targets & live:
                        continue
                    live = live - targets
                live = live | name_ids(stmt, gast.Load)
        return live

    block(body, set(), set(), set())
    return found


def _user_text(name: str, analysis) -> str:
    """What the user wrote for the SSA name ``name``: their variable, or for a temporary
    the expression it holds in their names (``a[2]``, not ``v2``)."""
    from .dispatch import user_name

    if getattr(analysis.fn, "user_locals", None) is None:
        return analysis.fn.source_of.get(name, name)
    return user_name(name, analysis.fn, analysis.ops)


def _alias_refusal(op, other: str, analysis) -> str:
    user_name = _user_text(op.target, analysis)
    other_name = _user_text(other, analysis)
    what = {
        "append": f"cannot append to '{user_name}'",
        "extend": f"cannot extend '{user_name}'",
        "call_write": f"cannot differentiate the call of {getattr(op.callee, '__name__', '?')}(), "
        f"which changes '{user_name}' in place",
    }.get(op.form, f"cannot assign into items of '{user_name}'")
    advice = (
        f"make one of them a copy ('{other_name} = ....copy()') or read '{user_name}' instead"
        if other_name.isidentifier()
        else f"read a copy ('{other_name}.copy()') or store into a copy of '{user_name}'"
    )
    return (
        f"{what}: '{other_name}' may hold the same array (a copy of "
        f"the name, a view or a container of it) and is read afterwards; the change would "
        f"reach '{other_name}', which the gradient does not follow; {advice}"
    )


def owned_names(ops: list, fn, kinds: dict, seen: frozenset = frozenset()) -> set[str]:
    """The names all of whose definitions bind an object the function created."""
    definitions = _definitions(ops)
    return _every_definition(
        definitions, lambda op, owned: _binds_new(op, owned, fn, kinds, definitions, seen)
    )


def _definitions(ops: list, names=None) -> dict[str, list]:
    """Name -> the ops binding it (not the changes in place), for ``names`` if given."""
    definitions: dict[str, list] = {}
    for op in ops:
        bound = op.target is not None and op.form not in _MUTATIONS
        if bound and (names is None or op.target in names):
            definitions.setdefault(op.target, []).append(op)
    return definitions


def _every_definition(definitions: dict[str, list], holds) -> set[str]:
    """The largest set of names every definition of which satisfies ``holds(op, names)``
    (a greatest fixpoint: a name is dropped, and the others checked again, until none is)."""
    names = set(definitions)
    changed = True
    while changed:
        changed = False
        for name in sorted(names):
            if not all(holds(op, names) for op in definitions[name]):
                names.discard(name)
                changed = True
    return names


def _binds_new(op, owned: set, fn, kinds: dict, definitions: dict, seen: frozenset) -> bool:
    """Whether ``op`` binds its target to a new object (or to one the function owns)."""
    if op.form == _BUILD:
        return True
    if op.form == _CONSTANT:
        return isinstance(op.inputs["x"], gast.Constant)  # not a global's attribute
    if op.form == _COPY:
        source = op.inputs["x"]
        return isinstance(source, gast.Name) and source.id in owned
    if _writes_out(op):
        return False
    if op.form == _RULE:
        return _rule_returns_new(op, kinds, definitions)
    if op.form == _USER_CALL:
        return returns_owned(op.callee, seen)
    if op.form == _OPAQUE:
        return _is_copy_method(op.callee) or type(op.callee) is np.ufunc
    return False


def creates_object(op) -> bool:
    """Whether ``op`` certainly binds a new object, judged from the op alone (no kinds: an
    index read may be a view and counts as not new)."""
    if op.form == _BUILD:
        return True
    if _writes_out(op):
        return False
    if op.form == _RULE:
        rule = op.rule
        if rule.primitive is operator.getitem:
            return False
        if rule.template is not None:
            return rule.returns_new(_given_parameters(op))
        return bool(rule.fresh) or type(rule.primitive) is np.ufunc
    if op.form == _OPAQUE:
        return _is_copy_method(op.callee) or type(op.callee) is np.ufunc
    return False


def _writes_out(op) -> bool:
    """``f(..., out=a)`` returns ``a``."""
    value = op.stmt.value
    return isinstance(value, gast.Call) and any(kw.arg == "out" for kw in value.keywords)


def _rule_returns_new(op, kinds: dict, definitions: dict) -> bool:
    rule = op.rule
    if rule.primitive is operator.getitem:
        return _is_array_index(op.inputs["index"], kinds, definitions)
    if rule.template is not None:
        return rule.returns_new(_given_parameters(op))
    return bool(rule.fresh) or type(rule.primitive) is np.ufunc


def _given_parameters(op) -> dict:
    """The parameters of ``op``'s rule that its call site gives (not left to defaults), each
    with the atom given."""
    value = op.stmt.value
    if isinstance(value, gast.Call):
        args = list(value.args)
        if isinstance(value.func, gast.Attribute) and not getattr(value.func, "ad_static", False):
            args = [value.func.value, *args]  # a method: the object is the first parameter
        keywords = {kw.arg: kw.value for kw in value.keywords}
    else:
        args, keywords = [op.inputs[p] for p in op.inputs][:2], {}
    try:
        return dict(op.rule.template.signature.bind(*args, **keywords).arguments)
    except TypeError:
        return dict(op.inputs)


def _is_array_index(index: gast.expr, kinds: dict, definitions: dict) -> bool:
    """An index that makes NumPy copy: an array (of integers or a mask) or a list."""
    parts = index.elts if isinstance(index, gast.Tuple) else [index]
    return any(_is_array_part(p, kinds, definitions) for p in parts)


def _is_array_part(part: gast.expr, kinds: dict, definitions: dict) -> bool:
    if not isinstance(part, gast.Name):
        return False
    if kinds.get(part.id) == ARRAY:
        return True
    defs = definitions.get(part.id, [])  # a list, or a mask made by a comparison
    return bool(defs) and all(isinstance(d.stmt.value, (gast.List, gast.Compare)) for d in defs)


def _is_copy_method(callee: object) -> bool:
    """``CHART.copy`` of a global array: its call returns a new array."""
    return (
        isinstance(callee, types.BuiltinMethodType)
        and callee.__name__ == "copy"
        and isinstance(getattr(callee, "__self__", None), np.ndarray)
    )


_RETURNS_OWNED: dict[tuple[object, bool], bool] = {}
# rules whose result may hold the objects its operands hold (list/tuple concatenation,
# repetition, containers of the elements)
_ELEMENT_CARRIERS = (operator.add, operator.mul, list, tuple, sorted, set, frozenset, dict)


def returns_owned(callee: object, seen: frozenset = frozenset(), whole: bool = False) -> bool:
    """Whether the user function ``callee`` always returns an object it created; with
    ``whole``, also one that holds no object it was given (a new number or array, not a
    new tuple ``(a, 2.0)`` holding its argument ``a``)."""
    code = getattr(callee, "__code__", None)
    if code is None or code in seen:
        return False  # recursion: not known
    if (code, whole) in _RETURNS_OWNED:
        return _RETURNS_OWNED[code, whole]
    from .kinds import _kinds, collect
    from .normalize import normalize
    from .parse import parse_function

    try:
        fn = normalize(parse_function(callee))
        ops: list = []
        collect(fn.body, fn, 0, ops, set(), set())
        kinds = _kinds(ops, {}, fn)
    except (ADTransformError, OSError, TypeError):
        _RETURNS_OWNED[code, whole] = False
        return False
    owned = owned_names(ops, fn, kinds, seen | {code})
    if whole:
        owned &= _holding_nothing_given(ops, owned, kinds, seen | {code})
    returned = [op.inputs["value"] for op in ops if op.form == "return"]
    result = bool(returned) and all(
        (isinstance(v, gast.Name) and v.id in owned) or isinstance(v, gast.Constant)
        for v in returned
    )
    _RETURNS_OWNED[code, whole] = result
    return result


def _arithmetic_operands(op, kinds: dict) -> bool:
    """``a + b`` / ``a * b`` is arithmetic (not a concatenation or repetition of lists)
    when an operand is a number or array: a float literal, or a name of those kinds."""
    if op.rule.primitive not in (operator.add, operator.mul):
        return False
    for atom in op.inputs.values():
        if isinstance(atom, gast.Constant) and type(atom.value) in (float, complex):
            return True
        if isinstance(atom, gast.Name) and kinds.get(atom.id) in (ARRAY, SCALAR):
            return True
    return False


def _holding_nothing_given(ops: list, owned: set, kinds: dict, seen: frozenset) -> set[str]:
    """The owned names whose objects hold no object made outside (a display holds its
    elements; ``a + b`` of lists, ``list(x)`` hold theirs; a number or an array holds none)."""
    return _every_definition(
        _definitions(ops, owned),
        lambda op, empty: _holds_nothing_given(op, empty, kinds, seen),
    )


def _holds_nothing_given(op, empty: set, kinds: dict, seen: frozenset) -> bool:
    names = [a.id for a in op.inputs.values() if isinstance(a, gast.Name)]
    if op.form == _BUILD:
        return all(name in empty for name in names)
    if op.form == _COPY:
        return all(name in empty for name in names)
    if op.form == _USER_CALL:
        return returns_owned(op.callee, seen, whole=True)
    if op.form == _RULE and op.rule.primitive in _ELEMENT_CARRIERS:
        return kinds.get(op.target) in (ARRAY, SCALAR) or _arithmetic_operands(op, kinds)
    return op.form in (_RULE, _CONSTANT, _OPAQUE)


# -- the message --------------------------------------------------------------------------
def _refusal(op, analysis) -> str:
    fn = analysis.fn
    user_name = _user_text(op.target, analysis)
    what = {"append": "append to", "extend": "extend"}.get(op.form, "assign into items of")
    subject = f"{what} '{user_name}'"
    if op.form == "call_write":
        subject = f"pass '{user_name}' to {op.callee.__name__}(), which changes it in place"
    owned = owned_names(analysis.ops, fn, analysis.kinds)
    root, via = _origin(op.target, analysis, owned)
    root_name = fn.source_of.get(root, root)
    lower = root_name.lower() if root_name.lower() != root_name else root_name + "_copy"
    item = _item_read(op.target, analysis) if root != op.target else None
    if root in fn.params and item is not None:
        source = f"the argument '{root_name}'"
        fix = (
            f"write into a copy of the item: '{user_name} = {expression_source(item)}.copy()', "
            f"then '{user_name}[...] = ...'"
        )
    elif root in fn.params:
        source = f"the argument '{root_name}'"
        fix = f"write into a copy: '{lower} = {root_name}.copy()', then '{lower}[...] = ...'"
    elif root in fn.free_names or root not in _defined(analysis):
        where = "closure" if root in fn.parsed.closure else "global"
        source = f"the {where} '{root_name}' (shared by every call)"
        fix = f"write into a copy: '{lower} = {root_name}.copy()', then '{lower}[...] = ...'"
    elif root in owned:
        source = f"'{root_name}' (writes through a view are not followed)"
        fix = f"write into '{root_name}' itself, or into a copy: '{user_name} = ....copy()'"
    else:
        source = f"'{root_name}', which the function did not create"
        fix = f"write into a copy: '{user_name} = {user_name}.copy()' first"
    shared = "is" if root == op.target else f"may share memory with {source}"
    if root == op.target:
        shared = f"is {source}"
    else:
        shared = f"may share memory with {source}{via}"
    return (
        f"cannot {subject}: it {shared}; only lists and arrays the function "
        f"creates ([], np.zeros, np.copy, x.copy(), arithmetic, np.stack, ...) can be changed "
        f"in place; {fix}"
    )


def _binds_a_name(op) -> bool:
    """A helper's in-place change (``call_write``) made by a call whose result is named."""
    stmt = op.stmt
    return (
        op.form == "call_write"
        and isinstance(stmt, gast.Assign)
        and isinstance(stmt.targets[0], gast.Name)
    )


def _defined(analysis) -> set[str]:
    return {op.target for op in analysis.ops if op.target is not None}


def _origin(name: str, analysis, owned: frozenset = frozenset()) -> tuple[str, str]:
    """The argument, global or unknown value ``name`` may share memory with, and how: the
    first object the function made (``owned``) on the way, if one."""
    definitions = {}
    for op in analysis.ops:
        if op.target is not None and op.form not in _MUTATIONS:
            definitions.setdefault(op.target, []).append(op)
    via = ""
    start = name
    for _ in range(50):
        ops = definitions.get(name)
        if not ops or (name != start and name in owned):
            return name, via
        step = next((op for op in ops if _source_of(op) is not None), None)
        if step is None:
            return name, via
        if step.form != _COPY and not via:
            via = f" (through {_describe(step, analysis)})"
        name = _source_of(step)
    return name, via


def _item_read(name: str, analysis) -> gast.expr | None:
    """``p["w"]`` (or ``layers[0]`` of a list) where ``name`` is, by copies, an item read
    with a constant key from a container parameter: the expression to copy instead of
    the whole container (an array's views keep the advice to copy the array)."""
    for _ in range(50):
        ops = [op for op in analysis.ops if op.target == name and op.form not in _MUTATIONS]
        if len(ops) != 1:
            return None
        if ops[0].form == _COPY and isinstance(ops[0].inputs["x"], gast.Name):
            name = ops[0].inputs["x"].id
            continue
        value = ops[0].stmt.value
        if not isinstance(value, gast.Subscript) or not isinstance(value.value, gast.Name):
            return None
        container, key = value.value.id, value.slice
        if container not in analysis.fn.params or not isinstance(key, gast.Constant):
            return None
        if isinstance(key.value, str) or analysis.kinds.get(container) in (SEQUENCE, DICT):
            return value
        return None
    return None


def _source_of(op) -> str | None:
    """The name whose memory ``op``'s result may share, if one."""
    if op.form == _COPY and isinstance(op.inputs["x"], gast.Name):
        return op.inputs["x"].id
    if op.form in (_RULE, _USER_CALL):
        names = [a.id for a in op.inputs.values() if isinstance(a, gast.Name)]
        return names[0] if names else None
    return None


def _describe(op, analysis=None) -> str:
    if analysis is None or getattr(analysis.fn, "user_locals", None) is None:
        return f"'{expression_source(op.stmt.value)}'"
    from .dispatch import user_expression

    return f"'{user_expression(op.stmt.value, analysis.fn, analysis.ops)}'"
