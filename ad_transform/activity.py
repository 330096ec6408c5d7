"""Stage 3c, activity: a value is active when it depends on a ``wrt`` argument *and*
reaches the returned value; only active statements get adjoint code. The refusals of
what cannot be differentiated exactly are made here, and the in-place changes helpers
make to their arguments are followed.
"""

from __future__ import annotations

import sys
import types
import warnings

import gast

from . import rules, runtime
from .callables import (
    HIGHER_ORDER,
    derivative_origin,
    higher_order_error_text,
    is_transform,
    special_description,
)
from .dispatch import is_dynamic
from .emit import expression_source
from .errors import ADTransformError
from .kinds import atom_kind
from .normalize import NormalizedFunction
from .ops import (
    BUILD,
    CALL_WRITE,
    COPY,
    FIELD,
    MUTATIONS,
    OPAQUE,
    RECORD,
    RETURN,
    RULE,
    USER_CALL,
    Analysis,
    Op,
)
from .ownership import _user_text
from .parse import is_missing
from .resolve import _TEXT_CONVERSIONS, formats_text, is_user_function, resolve_static
from .rules.registry import (
    DICT,
    SCALAR,
    SEQUENCE,
    UNKNOWN,
)


# -- activity -----------------------------------------------------------------------------
def _carries_derivative(op: Op) -> bool:
    if op.form in (COPY, BUILD, USER_CALL, OPAQUE, RETURN, RECORD, FIELD, *MUTATIONS):
        return True
    return op.form == RULE and op.rule.template is not None


def input_names(op: Op) -> set[str]:
    """Every name an operation reads, those inside an index (``a[i, j]``, ``a[i:n]``) too."""
    return {name for a in op.inputs.values() for name in operand_names(a)}


def operand_names(operand: gast.expr) -> set[str]:
    """The names an operand reads: itself, or the parts of an index tuple or slice."""
    if isinstance(operand, gast.Name):
        return {operand.id}
    if isinstance(operand, (gast.Tuple, gast.List, gast.Slice)):
        return {n.id for n in gast.walk(operand) if isinstance(n, gast.Name)}
    return set()


def _varied(ops: list[Op], varied: set[str], keys: frozenset = frozenset()) -> set[str]:
    """The names that depend on ``varied``; never ``keys`` (keys of dicts, constants)."""
    varied = set(varied)
    for op in ops:
        if op.target is None or op.target in keys or not _carries_derivative(op):
            continue
        if input_names(op) & varied:
            varied.add(op.target)
    return varied


def _useful(
    ops: list[Op], useful: set[str], returns: bool = True, integers: frozenset = frozenset()
) -> set[str]:
    useful = set(useful)
    for op in reversed(ops):
        if (returns and op.form == RETURN) or (op.target in useful and _carries_derivative(op)):
            useful |= _derivative_inputs(op) - _integers_without_derivative(op, integers)
    return useful


def _derivative_inputs(op: Op) -> set[str]:
    """The names ``op`` reads that a derivative may reach: not a name given only to a
    rule's integer parameter (``axis=k``: ``INTEGER_PARAMETERS``), which never gets an
    adjoint (``mark_active``), so none may be read for it."""
    if op.form != RULE or op.rule is None or op.rule.template is None:
        return input_names(op)
    names = set()
    for param, atom in op.inputs.items():
        if param not in INTEGER_PARAMETERS or param in op.rule.template.outputs:
            names |= operand_names(atom)
    return names


def _integers_without_derivative(op: Op, integers: frozenset) -> set[str]:
    """The integer leaves ``op`` reads where no derivative goes: inside an index tuple or
    a slice, or as an argument its rule has no adjoint for (an index, a count)."""
    if not integers:
        return set()
    found = set()
    for param, atom in op.inputs.items():
        if not isinstance(atom, gast.Name):
            found |= operand_names(atom) & integers
        elif op.form == RULE and param not in op.rule.template.outputs and atom.id in integers:
            found.add(atom.id)
    return found


def mark_active(op: Op, analysis: Analysis) -> None:
    if op.form == RETURN:
        op.active_inputs = ["value"] if analysis.is_active(op.value) else []
        op.active = bool(op.active_inputs)
        return
    if op.target is None or op.target not in analysis.varied or op.target not in analysis.useful:
        return
    if not _carries_derivative(op):
        return  # e.g. np.zeros_like(x): the new array's adjoint does not reach x
    op.active_inputs = [p for p, a in op.inputs.items() if analysis.is_active(a)]
    if op.form == RULE:
        op.active_inputs = [
            p
            for p in op.active_inputs
            if p in op.rule.template.outputs
            or not (_is_integer_leaf(op.inputs[p], analysis) or p in INTEGER_PARAMETERS)
        ]
    op.active = bool(op.active_inputs) or op.form in MUTATIONS
    _refuse_active_inside_operand(op, analysis)
    if not op.active:
        return
    parsed = analysis.fn.parsed
    if op.form == OPAQUE and _is_text(op):
        raise parsed.error(
            f"cannot differentiate '{expression_source(op.value)}': it turns a value that "
            "depends on the differentiated argument into text, and a number read back from "
            "text has no derivative",
            op.value,
        )
    if op.refusal is not None:
        raise parsed.error(op.refusal, op.value)
    if op.form == OPAQUE:
        raise parsed.error(_opaque_refusal(op, analysis), op.value)
    if op.form == RULE:
        missing = [p for p in op.active_inputs if p not in op.rule.template.outputs]
        if missing:
            raise parsed.error(
                f"{op.rule.name} is not differentiable with respect to its argument "
                f"{missing[0]!r}{_chosen_by_name(op, analysis)}",
                op.value,
            )


# Parameters of rules (NumPy functions and the runtime helpers passing them on) that take
# only integers (or None): NumPy raises TypeError for a float axis, so a value reaching one
# is an integer and carries no derivative, whatever its kind says. Reached by a varied name
# of unknown kind in derivative code differentiated again: ``k`` unpacked from a helper
# pair's saved tuple (``x, k, ... = saved``), which is varied as a whole.
INTEGER_PARAMETERS = frozenset({"axis", "axes", "axis1", "axis2"})


def _is_integer_leaf(atom: gast.expr, analysis: Analysis) -> bool:
    """Whether ``atom`` names an integer leaf of a container parameter: as an argument
    without derivative (an index, a count, a shape) it contributes nothing."""
    return isinstance(atom, gast.Name) and atom.id in analysis.integer_names


def _chosen_by_name(op: Op, analysis: Analysis) -> str:
    """For a method rule on a receiver not known to be an array: say how it was chosen."""
    if not isinstance(op.rule.primitive, tuple):
        return ""
    receiver = op.inputs.get(op.rule.template.params[0])
    if receiver is None or analysis.kind_of(receiver) not in (UNKNOWN, SEQUENCE):
        return ""
    owner = "dict's" if op.rule.name.startswith("dict.") else "NumPy's"
    return (
        f" (the {op.rule.primitive[0]} was taken for {owner} by its name alone; a method of "
        "a user class is not differentiated)"
    )


def _is_text(op: Op) -> bool:
    """``str(x)``, ``repr(x)``, ``format(x)``, ``f"{x}"``, ``"%.3f" % x``,
    ``"{}".format(x)``: the value as text, nothing kept."""
    return (
        isinstance(op.value, gast.JoinedStr)
        or any(op.callee is f for f in _TEXT_CONVERSIONS)
        or formats_text(op.value)
    )


def refuse_hidden_flows(analysis: Analysis, helper: bool) -> None:
    """An unknown operation given a value that depends on a ``wrt`` argument is refused
    even when its result is not used: it may store the value (``G.append(x)``,
    ``setattr(b, "v", x)``, ``obj.set(x)``) or change it in place (``a.sort()``,
    ``xs.reverse()``), where no data flow the analysis follows can see it."""
    for op in analysis.ops:
        if op.form != OPAQUE or op.active or _is_text(op) or _only_observes(op.callee):
            continue
        if not helper and _appends_to_unread_global(op, analysis):
            continue
        if _only_raised(op, analysis):
            continue
        varied = sorted(input_names(op) & analysis.varied)
        if varied and op.callee in (runtime.set_global, runtime.set_cell):
            user_name = _user_text(varied[0], analysis)
            raise analysis.fn.parsed.error(
                f"cannot write '{user_name}', which depends on the differentiated argument, "
                "to a global or nonlocal variable: the derivative cannot follow it there",
                op.value,
            )
        if varied and op.refusal is not None:
            raise analysis.fn.parsed.error(op.refusal, op.value)
        container = _container_method_refusal(op, analysis) if varied else None
        if container is not None:
            raise analysis.fn.parsed.error(container, op.value)
        if varied:
            user_name = _user_text(varied[0], analysis)
            method = isinstance(op.callee, tuple) and op.callee[0] == "method"
            advice = (
                "it is not a method ad_transform differentiates on this value (an in-place "
                "method of a list is followed only as a statement on a list no other name "
                "holds), and it may keep or change the value where the derivative cannot follow"
                if method
                else "it has no adjoint rule, and it may keep or change the value where the "
                "derivative cannot follow; register a rule with ad_transform.register_adjoint"
            )
            raise analysis.fn.parsed.error(
                f"cannot differentiate {_describe_callee(op)} given '{user_name}', which "
                f"depends on the differentiated argument: {advice}",
                op.value,
            )


def refuse_varied_keyword_rest(analysis: Analysis) -> None:
    """What reaches a helper through ``**`` is not differentiated: it must not depend on a
    differentiated argument."""
    for op in analysis.ops:
        if op.form != USER_CALL:
            continue
        varied = sorted({n for a in op.keyword_rest for n in operand_names(a)} & analysis.varied)
        if varied:
            user_name = _user_text(varied[0], analysis)
            raise analysis.fn.parsed.error(
                f"cannot differentiate the call of {op.callee.__name__}: '{user_name}', which "
                "depends on the differentiated argument, reaches it through '**' (a "
                "'**kwargs' parameter or a '**d' argument), which is not differentiated; pass "
                "it as a named parameter",
                op.value,
            )


def _only_raised(op: Op, analysis: Analysis) -> bool:
    """``raise E(...)`` (lowered to ``raise_exception``): the function ends there, so what
    the exception holds never comes back to its result. An exception object built only to
    be raised is the same. Not where the function catches exceptions (``try``)."""
    callee = op.callee
    if callee is runtime.raise_exception:
        return not _catches(analysis)
    if not (isinstance(callee, type) and issubclass(callee, BaseException)) or not op.target:
        return False
    readers = [other for other in analysis.ops if op.target in input_names(other)]
    raised = bool(readers) and all(other.callee is runtime.raise_exception for other in readers)
    return raised and not _catches(analysis)


def _catches(analysis: Analysis) -> bool:
    """Whether the function has a ``try`` or a ``with`` statement (a handler or a context
    manager could read a raised value); lowering leaves control flags where it had one."""
    parsed = analysis.fn.parsed
    return bool(parsed.lowered_flags) or any(
        isinstance(n, _HANDLERS) for n in gast.walk(parsed.tree)
    )


_HANDLERS = tuple(getattr(gast, name) for name in ("Try", "TryStar") if hasattr(gast, name))


_HELPERS_BEING_CHECKED: set = set()  # (callee, varied parameters): recursion guard


def refuse_hidden_flows_in_helpers(analysis: Analysis) -> None:
    """A user function called for its effect (its result not active) but given a varied
    value is analysed as a helper all the same: what it does with the value (store it in
    a global, append it to a list it was given) must pass the same checks."""
    from .analyze import analyze  # imported here: a cycle

    for op in analysis.ops:
        if op.form != USER_CALL or op.active:
            continue
        varied = tuple(p for p, a in op.inputs.items() if operand_names(a) & analysis.varied)
        if is_dynamic(op.callee):  # checked when it runs: its forward goes through the pair
            op.dynamic_varied = list(varied)
            continue
        key = (op.callee, varied)
        if not varied or key in _HELPERS_BEING_CHECKED:
            continue
        from .effects import helper_effects

        inout = helper_effects(op.callee).mutated  # lent by this caller, which owns them
        _HELPERS_BEING_CHECKED.add(key)
        try:
            fn = _normalized_unless_inert(op.callee, op.spread, op.spread_keywords)
            if fn is not None:
                analyze(
                    fn,
                    varied,
                    {},
                    helper=True,
                    inout=inout,
                    result_used=False,
                    param_classes=op.arg_classes,
                    param_leaf_kinds=op.arg_leaf_kinds,
                )
        finally:
            _HELPERS_BEING_CHECKED.discard(key)


def _normalized_unless_inert(
    callee, spread: int | None = None, keywords: tuple[str, ...] = ()
) -> NormalizedFunction | None:
    """The helper normalized (its ``*args`` spread for ``spread`` arguments), or None where
    it cannot be (an ``assert``, say) but its syntax shows it changes and stores nothing,
    so a value given to it cannot come back."""
    from .effects import may_change_something
    from .lower.signature import spread_varargs
    from .normalize import normalize
    from .parse import parse_function

    parsed = parse_function(callee)
    try:
        return normalize(spread_varargs(parsed, spread or 0, keywords), procedure=True)
    except ADTransformError:
        if may_change_something(parsed):
            raise
        return None


_LOG_METHODS = {"debug", "info", "warning", "error", "critical", "exception", "log"}


def _only_observes(callee: object) -> bool:
    """Calls that look at their arguments and keep nothing the function could read back:
    ``grad(f)`` and its relatives, ``warnings.warn``, ``logging.info`` and the log
    methods of a ``logging.Logger``."""
    if type(callee).__module__ == "ad_transform.api" or callee is warnings.warn:
        return True
    if callee is runtime.matches_sequence:  # a lowered ``match`` looks at the subject
        return True
    name = getattr(callee, "__name__", None)
    owner = getattr(callee, "__self__", None)
    logging = sys.modules.get("logging")  # not imported here: a caller of it imported it
    if logging is None:
        return False
    if name in _LOG_METHODS and isinstance(owner, logging.Logger):
        return True
    return name in _LOG_METHODS and callee is getattr(logging, name, None)


def _appends_to_unread_global(op: Op, analysis: Analysis) -> bool:
    """``LOG.append(v)`` into a global list that nothing in the function reads back (a log
    of values): what it stores cannot reach the result. A user helper might read the
    list, so the function must call none; in a helper, its caller might read it."""
    func = op.value.func if isinstance(op.value, gast.Call) else None
    if not (
        isinstance(func, gast.Attribute)
        and func.attr == "append"
        and getattr(func, "ad_static", False)
        and isinstance(func.value, gast.Name)
        and isinstance(resolve_static(func.value, analysis.fn), list)
    ):
        return False
    root = func.value.id
    for other in analysis.ops:
        if other.form == USER_CALL:
            return False
        reads = [n for n in gast.walk(other.stmt) if isinstance(n, gast.Name) and n.id == root]
        if other is not op and reads:
            return False
    return True


def _refuse_active_inside_operand(op: Op, analysis: Analysis) -> None:
    """An active value inside an index (``a[i, v]``, ``a[v:]``) has no adjoint to go to."""
    for operand in op.inputs.values():
        if isinstance(operand, gast.Name):
            continue
        active = sorted(
            n
            for n in operand_names(operand)
            if n in analysis.varied and n in analysis.useful and n not in analysis.integer_names
        )
        if active:
            raise analysis.fn.parsed.error(
                "cannot differentiate this indexing: a part of its index (a slice bound or an "
                "element of an index tuple) depends on the differentiated argument, and "
                "indexing has no derivative with respect to its index",
                op.value,
            )


def _describe_callee(op: Op) -> str:
    callee = op.callee
    if isinstance(callee, tuple):
        return f"the {callee[0]} '.{callee[1]}'"
    if callee is None:
        return f"the expression '{expression_source(op.value)}'"
    if is_missing(callee):
        return "a call to an undefined name"
    owner = getattr(callee, "__self__", None)
    if owner is not None and not isinstance(owner, types.ModuleType):
        cls = type(owner)
        if is_user_function(getattr(callee, "__func__", None)):
            return (
                f"the method '{cls.__name__}.{callee.__name__}' of a user class held in a "
                "name (a bound method is differentiated where it is called as "
                "'obj.method(...)')"
            )
        return f"the method '{callee.__name__}' of a {cls.__name__} object"
    if isinstance(callee, type) and is_user_function(getattr(callee, "__init__", None)):
        return (
            f"the user class '{callee.__name__}' (objects of user classes are differentiated "
            "where their class is known)"
        )
    return f"a call to {rules.display_name(callee)}"


def _dispatched_call_refusal(callee) -> str | None:
    """Derivative code differentiated again that calls a run-time dispatcher
    (``dispatch.py``: a derivative made inline or held in a local variable, a method of an
    object whose class was not known): the dispatcher has no derivative of its own."""
    from .dispatch import _Spec

    spec = getattr(callee, "__self__", None)
    if not isinstance(callee, types.MethodType) or not isinstance(spec, _Spec):
        return None
    file, line = spec.method.location[0], spec.method.location[1]
    return (
        f"cannot differentiate the call '{spec.method.expression}' ({file}:{line}) again: "
        "what it calls is found when the code runs (a derivative made inline or held in a "
        "local variable, a method of an object whose class is not known where it is "
        "written), and that run-time dispatch has no derivative of its own (one order "
        "of differentiation through it is supported); for higher orders bind the "
        "derivative at module level (hf = hessian(f)) and call it by that name"
    )


def _opaque_refusal(op: Op, analysis: Analysis) -> str:
    """Why an active statement without a rule cannot be differentiated, saying what it is."""
    call = op.value if isinstance(op.value, gast.Call) else None
    callee = op.callee
    held = call is not None and is_missing(callee) and isinstance(call.func, gast.Name)
    if held and (call.func.id in analysis.fn.params or _definitions(call.func.id, analysis)):
        return _held_function_refusal(call.func.id, analysis)
    if call is not None and callee is not None and not isinstance(callee, tuple):
        dispatched = _dispatched_call_refusal(callee)
        if dispatched is not None:
            return dispatched
        higher_order = higher_order_error_text(callee)
        if higher_order is not None:
            return f"cannot differentiate a call of {higher_order}"
        if isinstance(callee, types.MethodType) and is_user_function(callee.__func__):
            return f"cannot differentiate {_describe_callee(op)}"
        if getattr(callee, "__module__", None) == "ad_transform.pytree":
            return _tree_helper_refusal(callee)
        special = special_description(callee)
        if special is not None:
            return (
                f"cannot differentiate a call of {special}; ad_transform differentiates "
                "functions defined with 'def' (a decorator's wrapper included) and "
                "primitives with an adjoint rule (ad_transform.register_adjoint)"
            )
    container = _container_method_refusal(op, analysis)
    if container is not None:
        return container
    held_object = _object_in_attribute(op, analysis)
    if held_object is not None:
        return (
            f"cannot differentiate {_describe_callee(op)} of '{held_object}', an object held "
            "in an attribute of another object: the class of such an object is not "
            "followed (a method of an attribute of an object, 'self.layer.forward(x)'); "
            "pass the inner object to the function, or call its method where it is a "
            "parameter or made in the function"
        )
    if isinstance(callee, tuple) and callee[0] == "method":  # of a list, a dict, an array
        from .effects import MUTATING_METHODS

        changes = (
            ": it changes its object in place (a list's pop/insert are followed only as a "
            "statement on a list no other name holds, with a constant index)"
            if callee[1] in MUTATING_METHODS
            else ""
        )
        return (
            f"cannot differentiate {_describe_callee(op)} in "
            f"'{_user_expression(op.value, analysis)}': it is not a method ad_transform "
            f"differentiates on this value{changes}"
        )
    return (
        f"cannot differentiate {_describe_callee(op)}: it has no adjoint rule; register one "
        "with ad_transform.register_adjoint"
    )


_LIST_ADVICE = (
    "append, extend and item writes are followed, and pop(i)/insert(i, v) with a constant "
    "i on a list the function builds with a display ([...]); use sorted(xs), "
    "reversed(xs) or xs[::-1] for a new order, and read items by position"
)


_DICT_ADVICE = (
    "item writes d[k] = v are followed, and update({...})/setdefault(k, v) on a dict the "
    "function builds with a display ({...}); build the dict you need with a display or a "
    "comprehension ({k: v for k, v in d.items() if k != 'w'}) and read items with d[k] or "
    "d.get(k)"
)


_CONTAINER_METHODS = {
    DICT: ("dict", {"pop", "popitem", "clear", "update", "setdefault"}, _DICT_ADVICE),
    SEQUENCE: (
        "list",
        {"pop", "insert", "remove", "clear", "sort", "reverse", "index", "count"},
        _LIST_ADVICE,
    ),
}


def _container_method_refusal(op: Op, analysis: Analysis) -> str | None:
    """``q.pop('w')``, ``xs.sort()`` on a dict or list (known to be one here) that holds
    differentiated values: what is followed instead."""
    callee = op.callee
    if not (isinstance(callee, tuple) and callee[0] == "method"):
        return None
    receiver = op.value.func.value if isinstance(op.value, gast.Call) else None
    if not isinstance(receiver, gast.Name) or not isinstance(op.value.func, gast.Attribute):
        return None
    kind = analysis.kind_of(receiver)
    if kind not in _CONTAINER_METHODS or callee[1] not in _CONTAINER_METHODS[kind][1]:
        return None
    what, _, advice = _CONTAINER_METHODS[kind]
    user_name = analysis.fn.source_of.get(receiver.id, receiver.id)
    return (
        f"cannot differentiate the method '.{callee[1]}' of '{user_name}', a {what} that "
        f"holds values depending on the differentiated argument: on such a {what}, {advice}"
    )


def _tree_helper_refusal(callee) -> str:
    """An ad_transform tree helper in a form the differentiated code does not follow."""
    name = getattr(callee, "__name__", "this tree helper")
    return (
        f"cannot differentiate this call of ad_transform's {name}: inside a differentiated "
        "function only 'tree_leaves(tree)' and 'tree_map(f, tree, *trees)' with 'f' a "
        "lambda, a function defined with 'def' or a library function (no keywords) are "
        "followed; the tree helpers are otherwise for outside the differentiated "
        "function (updating parameters with a gradient). Write the loop over the "
        "containers instead ('{k: f(v) for k, v in p.items()}', 'list(p.values())')"
    )


def _user_expression(node, analysis: Analysis) -> str:
    from .dispatch import user_expression

    return user_expression(node, analysis.fn, analysis.ops)


def _object_in_attribute(op: Op, analysis: Analysis) -> str | None:
    """``model.layer`` (as written) when ``op`` calls a method of a value read from an
    attribute of an object of a known class (a ``FIELD`` op)."""
    if not (isinstance(op.callee, tuple) and op.callee[:1] == ("method",)):
        return None
    receiver = op.inputs.get("self", op.inputs.get("0"))
    if not isinstance(receiver, gast.Name):
        return None
    for definition in _definitions(receiver.id, analysis):
        value = definition.value
        if definition.form != FIELD:
            continue
        if isinstance(value, gast.Attribute) and isinstance(value.value, gast.Name):
            owner = _user_text(value.value.id, analysis)
            return f"{owner}.{value.attr}"
        return _user_text(receiver.id, analysis)
    return None


def _definitions(name: str, analysis: Analysis) -> list[Op]:
    return [op for op in analysis.ops if op.target == name and op.form not in MUTATIONS]


def _held_function_refusal(name: str, analysis: Analysis) -> str:
    """A call through a parameter or local variable that holds a function value."""
    user_name = analysis.fn.source_of.get(name, name)
    if _holds_derivative(name, analysis, set()):
        return (
            f"cannot differentiate the call of '{user_name}': it holds a derivative made by "
            f"ad_transform (grad, value_and_grad, vjp or a pullback), and {HIGHER_ORDER}"
        )
    where = (
        f"the parameter '{user_name}', which holds a function passed in by the caller"
        if name in analysis.fn.params
        else f"the local variable '{user_name}', which holds a function chosen at run time"
    )
    return (
        f"cannot differentiate a call through {where}: calls of a function held in a "
        "parameter or a variable are not supported yet; call the function by the name it "
        "was defined or imported under"
    )


def _holds_derivative(name: str, analysis: Analysis, seen: set[str]) -> bool:
    """Whether ``name`` may hold something made by grad/value_and_grad/vjp (or a part of
    what one returned, such as vjp's pullback), following copies, items and calls."""
    if name in seen:
        return False
    seen.add(name)
    for op in _definitions(name, analysis):
        value = op.value
        if isinstance(value, gast.Name):
            sources = [value]
        elif isinstance(value, gast.Subscript):
            sources = [value.value]
        elif isinstance(value, gast.Call):
            callee = op.callee if op.form != RULE else None
            known = callee is not None and not isinstance(callee, tuple) and not is_missing(callee)
            if known and (is_transform(callee) or derivative_origin(callee) is not None):
                return True
            sources = [value.func]
        elif getattr(value, "ad_static", False):
            if derivative_origin(resolve_static(value, analysis.fn)) is not None:
                return True
            sources = []
        else:
            sources = []
        for source in sources:
            if isinstance(source, gast.Name):
                held = analysis.fn.parsed.lookup(source.id)
                if not is_missing(held) and derivative_origin(held) is not None:
                    return True
                if _holds_derivative(source.id, analysis, seen):
                    return True
    return False


# -- calls that change their arguments in place --------------------------------------------
def add_call_writes(
    ops: list[Op], flow: list[Op], reached: set[str], fn, analysis_kinds: dict
) -> bool:
    """Give each user call that reaches a varied or useful value the in-place changes its
    helper makes (``stash(s, v)`` changes ``s``): one ``CALL_WRITE`` op per in-out argument
    in ``flow``, after the call. Whether anything was added (activity must be redone)."""
    from .effects import helper_effects

    added = False
    for op in ops:
        if op.form != USER_CALL or getattr(op, "effects_known", False):
            continue
        if not input_names(op) & reached:
            continue
        op.effects_known = True
        if is_dynamic(op.callee):
            continue  # a method found when it runs: what it changes is checked then
        effects = helper_effects(op.callee)
        helper = op.callee.__name__
        if effects.problems:
            raise fn.parsed.error(
                f"cannot differentiate the call of {helper}(): it changes an object in place "
                f"that the transformer cannot follow: {effects.problems[0]}",
                op.value,
            )
        for param, words in effects.unless_number:
            atom = op.inputs.get(param)
            if not isinstance(atom, gast.Name) or atom_kind(atom, analysis_kinds, fn) == SCALAR:
                continue
            message = fn.parsed.error(
                f"cannot differentiate the call of {helper}(): {words}, here its argument "
                f"'{fn.source_of.get(atom.id, atom.id)}'; change a copy, or return the new value",
                op.value,
            )
            if atom_kind(atom, analysis_kinds, fn) != UNKNOWN:
                raise message
            op.number_checks.append((atom, param))  # checked when the call runs
        at = flow.index(op) + 1
        for param in effects.mutated:
            atom = op.inputs.get(param)
            if not isinstance(atom, gast.Name) or any(a.id == atom.id for a in op.writes.values()):
                what = (
                    "its default value"
                    if atom is None
                    else "an object passed twice"
                    if isinstance(atom, gast.Name)
                    else f"'{expression_source(atom)}'"
                )
                raise fn.parsed.error(
                    f"cannot differentiate the call of {helper}(): it changes its parameter "
                    f"'{param}' in place, here {what}; pass a list or array the function "
                    "created",
                    op.value,
                )
            op.writes[param] = atom
            write = Op(op.stmt, CALL_WRITE, atom.id, callee=op.callee, inputs=dict(op.inputs))
            write.pure, write.depth = False, op.depth
            flow.insert(at, write)
            at += 1
            added = True
    return added


def mark_call_writes_active(analysis: Analysis) -> None:
    """A call that changes a container in place is active when the container is (or its
    result is); the in-out arguments' adjoints then go in and out of the helper's pair."""
    for op in analysis.ops:
        if not op.writes:
            continue
        op.result_used = op.active
        containers = any(analysis.is_active(a) for a in op.writes.values())
        if op.active or containers:
            op.active = True
            op.active_inputs = [
                p for p, a in op.inputs.items() if analysis.is_active(a) and p not in op.writes
            ]


def check_in_place_calls(analysis: Analysis) -> None:
    """Library calls and methods that change a value in place (``xs.sort()``, ``a.fill(v)``,
    ``np.copyto(a, b)``, ``out=``) have no adjoint: refused where the value is varied or
    reaches the result, never dropped."""
    from .effects import in_place_changes, possible_changes

    reached = analysis.varied | analysis.useful
    for op in analysis.ops:
        if op.form == OPAQUE and (_only_observes(op.callee) or _is_text(op)):
            continue
        if op.form == OPAQUE and (
            _only_raised(op, analysis) or op.callee in (runtime.set_global, runtime.set_cell)
        ):
            continue  # the function ends there, or the value is stored, not changed
        changes = in_place_changes(op, analysis.fn) + possible_changes(op, analysis.fn)
        for name, words in changes:
            if name.id in reached and op.callee is runtime.reraise:
                raise analysis.fn.parsed.error(
                    "cannot differentiate this 'try' statement: its handler reads the exception "
                    "it caught, and the values an exception carries are not differentiated (one "
                    "raised from a value that depends on the differentiated argument would give "
                    "a wrong derivative); return the value instead of raising it, or read no "
                    "value from the exception",
                    op.value,
                )
            if name.id in reached and analysis.kinds.get(name.id) != SCALAR:
                raise analysis.fn.parsed.error(
                    f"cannot differentiate this statement: {words}, and the change has no adjoint "
                    "rule (build a new value instead)",
                    op.value,
                )
