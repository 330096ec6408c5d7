"""Which values the plain code of a derivative saves that carry no derivative, so that
the next derivative may read them back as constants (``runtime.held_constant``): loop
indices, lengths, axes, masks, slice bounds. ``higher_order.PlainBuilder`` and
``higher_order.lower_tape`` use it for the tape and the saved tuple of a helper pair.

See docs/architecture/higher_order_third.md.
"""

from __future__ import annotations

import gast

from . import runtime
from .errors import ADTransformError
from .reverse import name_node
from .rules.registry import SCALAR


def held_constants(analysis, leaves: frozenset[str] = frozenset()) -> dict[str, bool]:
    """The names of ``analysis``'s function whose values carry no derivative whatever its
    arguments are (not only its ``wrt``): the next derivative may read them back from the
    tape or the saved tuple as constants (``runtime.held_constant``). Each maps to whether
    the value must be immutable when the code runs (``strict``: a number, text, a slice,
    a tuple of them), for names the function may change in place.

    A name is held where every operation binding it is a literal, a rule without
    derivative (``len``, ``.shape``, a comparison: a piecewise-constant result), the
    counter of a ``range`` loop, or a copy or rule with a derivative all of whose inputs
    are held (``k = min(m, n) - 1``). A value the function may change in place
    (``touched``: passed to a user function or an opaque call, stored into, appended to,
    changed by ``+=``, or what such a value may be a view of or hold) is no
    input of a held value; it may itself be held where it is a number (a ``range``
    counter, or of kind SCALAR), checked immutable when the code runs. ``leaves``:
    parameters taken as held numbers (``held_parameters``)."""
    from .analyze import _range_counters

    binders: dict[str, list] = {}
    for op in analysis.ops:
        if op.target is not None:
            binders.setdefault(op.target, []).append(op)
    candidates = (set(binders) | _range_counters(analysis.fn.body, analysis.fn)) - set(
        analysis.fn.params
    )
    candidates -= _bound_elsewhere(analysis, binders)
    candidates |= leaves
    touched = _touched(analysis.ops)
    counters = _range_counters(analysis.fn.body, analysis.fn)
    numbers = _immutable_names(candidates, binders, analysis.kinds, counters) | leaves
    held = candidates - (touched - numbers)  # a number handed on is still the same
    changed = True
    while changed:
        changed = False
        for name in list(held):
            if not all(_holds(op, held) for op in binders.get(name, ())):
                held.discard(name)
                changed = True
    return {name: name in touched for name in held}


# rules whose result is a number or a tuple of numbers, whatever they are given
_SIZES = frozenset(
    ("len", "ndarray.shape", "ndarray.ndim", "ndarray.size", "numpy.shape", "numpy.ndim")
)
# rules whose result is immutable where their arguments are: arithmetic on numbers and
# tuples, an element of a tuple
_ON_NUMBERS = frozenset(("min", "max", "abs", "int", "round", "divmod"))


def _immutable_names(candidates: set, binders: dict, kinds: dict, counters: set) -> set[str]:
    """The names among ``candidates`` certainly holding immutable values (numbers, text,
    tuples of them): ``range`` counters, numbers (kind SCALAR), literals, sizes and
    shapes, and arithmetic or indexing on those."""
    import operator

    arithmetic = {id(f) for f in vars(operator).values() if callable(f)}
    found = {n for n in candidates if n in counters or kinds.get(n) == SCALAR}

    def immutable(op) -> bool:
        if _is_literal(op):
            return True
        rule = op.rule
        if op.form != "rule" or rule is None or op.writes:
            return False
        if rule.name in _SIZES:
            return True
        on_numbers = id(rule.primitive) in arithmetic or rule.name in _ON_NUMBERS
        return on_numbers and _op_input_names(op) <= found

    changed = True
    while changed:
        changed = False
        for name in candidates - found:
            ops = binders.get(name, ())
            if ops and all(immutable(op) for op in ops):
                found.add(name)
                changed = True
    return found


def _bound_elsewhere(analysis, binders: dict) -> set[str]:
    """Names the function binds more often than its operations and ``range`` loops do
    (``with ... as n``, ``except E as n``, a tuple target): what binds them there is not
    known here, so they are never held."""
    from collections import Counter

    from .kinds import is_range

    stores = Counter(
        node.id
        for node in gast.walk(analysis.fn.tree)
        if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Store)
    )
    known = Counter({name: len(ops) for name, ops in binders.items()})
    for node in gast.walk(analysis.fn.tree):
        if (
            isinstance(node, gast.For)
            and isinstance(node.target, gast.Name)
            and is_range(node, analysis.fn)
        ):
            known[node.target.id] += 1
    return {name for name, count in stores.items() if count > known[name]}


def held_parameters(analysis) -> frozenset[str]:
    """The parameters whose values the plain code of ``analysis``'s function may take as
    constants: those without derivative here (not ``wrt``, not changed in place) that
    hold numbers, where the function is a twin (``rules/runtime_twins*``: its counts,
    axes and orders, ``n`` of ``matrix_power``) or plain code that took them as constants
    already. The generated function records the ones it uses
    (``ad_transform_held_params``): differentiating it with respect to one is refused by
    name (``check_held_parameters``)."""
    func = analysis.fn.parsed.func
    origin = getattr(func, "ad_transform_origin", "") or ""
    inherited = set(getattr(func, "ad_transform_held_params", ()))
    twin = origin.startswith("the twin of ")
    return frozenset(
        p
        for p in analysis.fn.params
        if (twin or p in inherited)
        and p not in analysis.wrt
        and p not in analysis.inout
        and analysis.kinds.get(p) == SCALAR
    )


def used_parameters(analysis, held: dict, leaves: frozenset[str]) -> tuple[str, ...]:
    """The ``leaves`` some held value is computed from."""
    used = set()
    for op in analysis.ops:
        if op.target in held:
            used |= _op_input_names(op) & leaves
    return tuple(p for p in analysis.fn.params if p in used)


def check_held_parameters(func, wrt) -> None:
    """Refuse, naming it, to differentiate plain code with respect to a parameter it takes
    as a constant (``held_parameters``)."""
    held = set(getattr(func, "ad_transform_held_params", ()))
    varied = [p for p in wrt if p in held]
    if varied:
        raise ADTransformError(
            f"cannot differentiate {getattr(func, '__name__', func)} with respect to its "
            f"argument '{varied[0]}': this code, a derivative made by ad_transform, takes it "
            "as a constant (a count, an axis or an order: a twin's argument without "
            "derivative)"
        )


def _is_literal(op) -> bool:
    from .ops import CONSTANT

    return op.form == CONSTANT and not any(isinstance(a, gast.Name) for a in op.inputs.values())


def _holds(op, held: set[str]) -> bool:
    """Whether ``op`` binds a value without derivative, given the ``held`` names."""
    from .ops import CONSTANT, COPY, RULE

    if op.form == CONSTANT:
        return _is_literal(op)
    if op.form == RULE and op.rule is not None and op.rule.template is None:
        return op.rule.pure and not op.writes
    if _changes_inputs(op):
        return False
    return op.form in (RULE, COPY) and _op_input_names(op) <= held


def _changes_inputs(op) -> bool:
    """Whether a rule, copy or literal ``op`` may change an input in place: ``a += v`` of
    an array (``ad_in_place``), a helper's in-out arguments, a rule with effects."""
    from .ops import RULE

    return (
        bool(op.writes)
        or getattr(op.stmt, "ad_in_place", None) is not None
        or (op.form == RULE and (op.rule is None or not op.rule.pure))
    )


def _viewed_inputs(op) -> list:
    """The inputs whose objects ``op``'s result may be (a copy's, a container's elements)
    or be a view of: a rule's array arguments (those it has a derivative for, and its
    first), not its integer arguments (an index, an axis); every input of a rule without
    derivative or a rule not known."""
    from .ops import RULE

    items = list(op.inputs.items())
    if op.form != RULE or op.rule is None or op.rule.template is None:
        return [atom for _, atom in items]
    outputs = op.rule.template.outputs
    return [atom for i, (p, atom) in enumerate(items) if i == 0 or p in outputs]


def _touched(ops: list) -> set[str]:
    """The names whose objects ``ops`` may change in place or hand on (see
    ``held_constants``)."""
    from .ops import BUILD, CONSTANT, COPY, MUTATIONS, RETURN, RULE

    touched = set()
    for op in ops:
        if op.form in (RULE, COPY, CONSTANT, BUILD):
            if _changes_inputs(op):
                touched |= _op_input_names(op)
            continue
        if op.form == RETURN:
            continue  # the caller's later changes are undone before this backward sweep
        touched |= _op_input_names(op)  # calls, stores, appends, objects
        if op.form in MUTATIONS and op.target is not None:
            touched.add(op.target)
    changed = True
    while changed:  # what a changed value may be a view of, or hold, changes with it
        changed = False
        for op in ops:
            if op.target not in touched or op.form not in (RULE, COPY, BUILD) or not op.inputs:
                continue
            if op.form == RULE and op.rule is not None and op.rule.fresh is True:
                continue  # a new object, no view of its inputs
            for atom in _viewed_inputs(op):
                for name in _atom_names(atom) - touched:
                    touched.add(name)
                    changed = True
    return touched


def held_call(value: gast.expr, names: list[str], strict: bool, bindings) -> gast.expr:
    """``held_constant(value, 'a, b')`` (``strict=True`` where it must be immutable)."""
    function = bindings.reference("held_constant", runtime.held_constant)
    label = gast.Constant(value=", ".join(names), kind=None)
    keywords = [gast.keyword(arg="strict", value=gast.Constant(value=True, kind=None))]
    return gast.Call(
        func=name_node(function), args=[value, label], keywords=keywords if strict else []
    )


def _op_input_names(op) -> set[str]:
    from .activity import input_names

    return input_names(op)


def _atom_names(atom) -> set[str]:
    from .activity import operand_names

    return operand_names(atom)
