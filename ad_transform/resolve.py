"""Stage 3a, resolution: which rule, user function, constructor or object operation each
normalized statement calls (:func:`describe` gives its :class:`ops.Op`).
"""

from __future__ import annotations

import inspect
import operator
import types

import gast
import numpy as np

from . import rules
from .callables import (
    is_differentiable_derivative,
    is_library_file,
)
from .nodes import subnodes
from .normalize import NormalizedFunction
from .ops import (
    APPEND,
    BINARY_OPERATORS,
    BUILD,
    CONSTANT,
    COPY,
    EXTEND,
    OPAQUE,
    RECORD,
    RETURN,
    RULE,
    STORE_ITEM,
    UNARY_OPERATORS,
    USER_CALL,
    Op,
)
from .parse import is_missing
from .rules.runtime_twins import twin_of
from .user_classes import dependencies_of_lookup, is_plain_namedtuple, is_user_class, record_layout


# -- resolution ---------------------------------------------------------------------------
def describe(stmt: gast.stmt, fn: NormalizedFunction) -> Op:
    if isinstance(stmt, gast.Return):
        return Op(stmt, RETURN, inputs={"value": stmt.value})
    if isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Subscript):
        item = stmt.targets[0]
        op = Op(stmt, STORE_ITEM, item.value.id, inputs={"value": stmt.value}, pure=False)
        op.array, op.index = item.value, item.slice
        return op
    if _is_append(stmt, fn):
        call = stmt.value
        form = APPEND if call.func.attr == "append" else EXTEND
        return Op(stmt, form, call.func.value.id, inputs={"value": call.args[0]}, pure=False)
    target = stmt.targets[0].id if isinstance(stmt, gast.Assign) else None
    value = stmt.value
    if isinstance(value, (gast.Name, gast.Constant)) or getattr(value, "ad_static", False):
        form = COPY if isinstance(value, gast.Name) else CONSTANT
        return Op(stmt, form, target, inputs={"x": value})
    if isinstance(value, (gast.Tuple, gast.List)):
        return Op(stmt, BUILD, target, inputs={str(i): e for i, e in enumerate(value.elts)})
    if isinstance(value, gast.Dict):  # a dict display: its values, by position
        return Op(stmt, BUILD, target, inputs={str(i): v for i, v in enumerate(value.values)})
    if isinstance(value, gast.BinOp) and formats_text(value):  # "%.3f" % x: not a remainder
        inputs = {str(i): n for i, n in enumerate([value.left, value.right])}
        return Op(stmt, OPAQUE, target, inputs=inputs, pure=False)
    if isinstance(value, gast.BinOp):
        return rule_op(
            stmt, target, BINARY_OPERATORS.get(type(value.op)), [value.left, value.right], {}, fn
        )
    if isinstance(value, gast.UnaryOp):
        return rule_op(stmt, target, UNARY_OPERATORS.get(type(value.op)), [value.operand], {}, fn)
    if isinstance(value, gast.Compare):
        return Op(
            stmt,
            RULE,
            target,
            rule=rules.lookup(operator.lt),
            inputs={str(i): a for i, a in enumerate([value.left, *value.comparators])},
        )
    if isinstance(value, gast.Subscript):
        return rule_op(
            stmt, target, _subscript_primitive(value, fn), [value.value, value.slice], {}, fn
        )
    if isinstance(value, gast.Attribute):
        return rule_op(stmt, target, ("attribute", value.attr), [value.value], {}, fn)
    if isinstance(value, gast.Call):
        return _call_op(stmt, target, value, fn)
    names = [n for n in subnodes(value) if isinstance(n, gast.Name)]
    return Op(stmt, OPAQUE, target, inputs={str(i): n for i, n in enumerate(names)}, pure=False)


def _subscript_primitive(value: gast.Subscript, fn: NormalizedFunction) -> object:
    """What ``obj[index]`` computes: an index trick such as ``np.r_[a, b]`` (a
    concatenation) when ``obj`` is one, else indexing (``operator.getitem``)."""
    receiver = value.value
    static = getattr(receiver, "ad_static", False) or (
        isinstance(receiver, gast.Name) and receiver.id in fn.free_names
    )
    if static:
        obj = resolve_static(receiver, fn)
        if any(obj is trick for trick in (np.r_, np.c_)):
            return obj
    return operator.getitem


def _is_append(stmt: gast.stmt, fn: NormalizedFunction) -> bool:
    """``xs.append(v)`` on a local list: a mutation the backward sweep undoes with ``pop``."""
    if not isinstance(stmt, gast.Expr) or not isinstance(stmt.value, gast.Call):
        return False
    call = stmt.value
    return (
        isinstance(call.func, gast.Attribute)
        and call.func.attr in ("append", "extend")
        and isinstance(call.func.value, gast.Name)
        and not getattr(call.func, "ad_static", False)
        and len(call.args) == 1
        and not call.keywords
    )


# Builtins that reach a function's variables by name: nothing can be differentiated through.
_INTROSPECTION = (eval, exec, locals, globals, vars)


# Builtins that turn a value into text: nothing numeric may be read back from the text of
# an active value (``float(str(x))``), so they are opaque, not derivative-free.
_TEXT_CONVERSIONS = (str, repr, ascii, format)


def _call_op(stmt, target, call: gast.Call, fn: NormalizedFunction) -> Op:
    keywords = {kw.arg: kw.value for kw in call.keywords}
    helper = getattr(call, "ad_runtime", None)
    if helper is not None:  # a construct normalize wrote as a runtime primitive
        return rule_op(stmt, target, helper, call.args, keywords, fn)
    if isinstance(call.func, gast.Attribute) and not getattr(call.func, "ad_static", False):
        return rule_op(
            stmt, target, ("method", call.func.attr), [call.func.value, *call.args], keywords, fn
        )
    callee = resolve_static(call.func, fn)
    if any(callee is f for f in _INTROSPECTION):
        raise fn.parsed.error(
            f"unsupported construct: a call of {callee.__name__}() (the function's values "
            "cannot be followed through it)",
            call,
        )
    if any(callee is f for f in _TEXT_CONVERSIONS):  # before their (derivative-free) rules
        atoms = {str(i): a for i, a in enumerate([*call.args, *keywords.values()])}
        return Op(stmt, OPAQUE, target, callee=callee, inputs=atoms, pure=False)
    origin = None
    if is_differentiable_derivative(callee):  # grad(f) called: its plain gradient code
        from .higher_order import generic_plain_gradient

        origin, callee = callee, generic_plain_gradient(callee)
    rule = rules.lookup(callee) if not is_missing(callee) else None
    if rule is None and not is_missing(callee):  # a runtime helper of plain derivative code
        callee = twin_of(callee) or callee
    starred = [a for a in call.args if isinstance(a, gast.Starred)]
    if starred and not is_user_function(callee):  # an unspread ``*args`` passed on
        atoms = [a.value if isinstance(a, gast.Starred) else a for a in call.args]
        atoms = {str(i): a for i, a in enumerate([*atoms, *keywords.values()])}
        return Op(stmt, OPAQUE, target, callee=callee, inputs=atoms, pure=False)
    if rule is None and isinstance(callee, type) and is_user_class(callee):
        return constructor_op(stmt, target, callee, call, fn)
    if rule is None and is_user_function(callee):
        inputs, spread, rest, spread_keywords = _bind_user_call(callee, call, fn, stmt)
        op = Op(
            stmt,
            USER_CALL,
            target,
            callee=callee,
            inputs=inputs,
            pure=False,
            spread=spread,
            keyword_rest=rest,
            spread_keywords=spread_keywords,
        )
        op.callee_origin = origin  # the derivative the name holds (staleness)
        return op
    if None in keywords:
        raise fn.parsed.error(
            "'**' keyword unpacking in a call is not supported (only in calls of your own "
            "functions, with values that are not differentiated)",
            next(kw for kw in call.keywords if kw.arg is None),
        )
    if rule is None:
        atoms = {str(i): a for i, a in enumerate([*call.args, *keywords.values()])}
        if isinstance(call.func, gast.Name) and is_missing(callee):
            # a call through a local variable: the function value is an input too (a
            # closure a helper made over a differentiated value, ``line(2.0)``)
            atoms["callee"] = call.func
        return Op(stmt, OPAQUE, target, callee=callee, inputs=atoms, pure=False)
    return rule_op(stmt, target, callee, call.args, keywords, fn)


def constructor_op(stmt, target, cls: type, call: gast.Call, fn: NormalizedFunction) -> Op:
    """``Cls(...)`` of a record class: a ``RECORD`` whose inputs are the arguments stored
    in each attribute (the forward sweep runs the constructor itself). Any other class is
    opaque, with the reason."""
    keywords = {kw.arg: kw.value for kw in call.keywords}
    if is_plain_namedtuple(cls):  # a tuple whose items are the arguments in field order
        try:
            bound = inspect.signature(cls.__new__).bind(None, *call.args, **keywords)
        except TypeError as exc:
            raise fn.parsed.error(f"call of {cls.__qualname__}: {exc}", call) from None
        positions = {name: str(i) for i, name in enumerate(cls._fields)}
        inputs = {positions[k]: v for k, v in bound.arguments.items() if k in positions}
        op = Op(stmt, BUILD, target, callee=cls, inputs=inputs)
        op.lookups = dependencies_of_lookup(cls, "__new__")
        return op
    layout = record_layout(cls)
    if isinstance(layout, str):
        atoms = {str(i): a for i, a in enumerate([*call.args, *keywords.values()])}
        op = Op(stmt, OPAQUE, target, callee=cls, inputs=atoms, pure=False)
        op.refusal = (
            f"cannot differentiate the construction of a {cls.__qualname__} object: {layout}"
        )
        return op
    try:
        bound = layout.signature.bind(None, *call.args, **keywords)
    except TypeError as exc:
        raise fn.parsed.error(f"call of {cls.__qualname__}: {exc}", call) from None
    inputs = {
        field: bound.arguments[param]
        for field, param in layout.fields.items()
        if param in bound.arguments
    }
    op = Op(stmt, RECORD, target, callee=cls, inputs=inputs, pure=False)
    op.lookups = dependencies_of_lookup(cls, "__init__")  # a new __init__: generate again
    return op


def rule_op(stmt, target, primitive, args, keywords, fn: NormalizedFunction) -> Op:
    rule = rules.lookup(primitive) if primitive is not None else None
    if rule is None:
        atoms = {str(i): a for i, a in enumerate([*args, *keywords.values()])}
        return Op(stmt, OPAQUE, target, callee=primitive, inputs=atoms, pure=False)
    if rule.template is None:
        atoms = {str(i): a for i, a in enumerate([*args, *keywords.values()])}
        return Op(stmt, RULE, target, rule=rule, inputs=atoms, pure=rule.pure)
    try:
        inputs = rule.template.bind(list(args), keywords)
    except TypeError as exc:
        raise fn.parsed.error(
            f"unsupported call of {rule.name}: {exc} (the adjoint rule takes "
            f"{rule.template.signature})",
            stmt.value,
        ) from None
    return Op(stmt, RULE, target, rule=rule, inputs=inputs)


def resolve_static(node: gast.expr, fn: NormalizedFunction) -> object:
    """The object a static name or attribute chain (``np.linalg.norm``) refers to now.

    A name the normalized function binds (a parameter, an SSA version, a temporary) is
    never static, even when a global of that name exists: it is missing here.
    """
    if isinstance(node, gast.Name):
        if node.id in fn.source_of or node.id in fn.params:
            return fn.parsed.lookup("\0")  # the missing marker
        return fn.parsed.lookup(node.id)
    if isinstance(node, gast.Attribute):
        base = resolve_static(node.value, fn)
        return getattr(base, node.attr, base) if not is_missing(base) else base
    return fn.parsed.lookup("\0")  # the missing marker


def is_user_function(obj: object) -> bool:
    """A plain Python function from the user's code (not from a library or the stdlib)."""
    return isinstance(obj, types.FunctionType) and not is_library_file(obj.__code__.co_filename)


def _bind_user_call(
    callee, call: gast.Call, fn: NormalizedFunction, stmt
) -> tuple[dict, int | None, list, tuple[str, ...]]:
    """The helper's parameters bound to the call's atoms; for a helper with ``*args`` the
    number of positional arguments spread into it (lower/signature.py); the atoms that
    reach it through ``**`` (``Op.keyword_rest``); the keywords its ``**kwargs`` collects
    by name, spread into parameters of their own (``Op.spread_keywords``)."""
    from .effects import helper_effects
    from .lower.signature import spread_keyword_names, spread_signature
    from .parse import parse_function

    signature = inspect.signature(callee, follow_wrapped=False)
    kinds = {p.kind: p for p in signature.parameters.values()}
    spread = None
    unpacked = [kw.value for kw in call.keywords if kw.arg is None]
    named = {kw.arg: kw.value for kw in call.keywords if kw.arg is not None}
    spread_keywords: tuple[str, ...] = ()
    if inspect.Parameter.VAR_KEYWORD in kinds and not unpacked:
        by_name = {
            p.name
            for p in signature.parameters.values()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        }
        spread_keywords = tuple(k for k in named if k not in by_name and k.isidentifier())
        if len(spread_keywords) != len([k for k in named if k not in by_name]):
            spread_keywords = ()
    if unpacked and helper_effects(callee).mutated:
        raise fn.parsed.error(
            f"'**' keyword unpacking in a call of {callee.__name__}, which changes a "
            "parameter in place: which object it changes cannot be known",
            call,
        )
    if inspect.Parameter.VAR_POSITIONAL in kinds:
        positional = [
            p
            for p in signature.parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        spread = max(len(call.args) - len(positional), 0)
    if spread is not None or spread_keywords:
        parsed = parse_function(callee)
        signature = spread_signature(callee, parsed, spread or 0, spread_keywords)
        renamed = spread_keyword_names(parsed, spread or 0, spread_keywords)
        named = {dict(zip(spread_keywords, renamed)).get(k, k): v for k, v in named.items()}
    starred = next((a for a in call.args if isinstance(a, gast.Starred)), None)
    positional = call.args if starred is None else call.args[: call.args.index(starred)]
    try:  # ``**d`` may give any parameter: those not bound here are not differentiated
        bind = signature.bind_partial if unpacked or starred else signature.bind
        bound = bind(*positional, **named)
    except TypeError as exc:
        raise fn.parsed.error(f"call of {callee.__name__}: {exc}", call) from None
    inputs = dict(bound.arguments)
    if starred is not None:  # an unspread ``*args`` (effects.py): any positional rest
        for parameter in signature.parameters.values():
            if parameter.name not in inputs and parameter.kind in (
                parameter.POSITIONAL_ONLY,
                parameter.POSITIONAL_OR_KEYWORD,
                parameter.VAR_POSITIONAL,
            ):
                inputs[parameter.name] = starred.value
    rest = list(unpacked)
    collector = kinds.get(inspect.Parameter.VAR_KEYWORD)
    if collector is not None and collector.name in inputs:
        rest += list(inputs.pop(collector.name).values())
    return inputs, spread, rest, spread_keywords


def bind_arguments(callee, args: list, keywords: list, fn: NormalizedFunction, node) -> dict:
    """The atoms of a call of the user function ``callee`` (a method, a property, an
    operator method) by its parameters. ``*args``/``**kwargs`` are not spread here:
    such a method is refused."""
    variadic = [
        p.name
        for p in inspect.signature(callee, follow_wrapped=False).parameters.values()
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    if variadic:
        raise fn.parsed.error(
            f"unsupported construct: a call of the method {callee.__qualname__}, which has "
            f"a '*{variadic[0]}' parameter (methods with *args/**kwargs are not supported yet)",
            node,
        )
    try:
        bound = inspect.signature(callee, follow_wrapped=False).bind(
            *args, **{kw.arg: kw.value for kw in keywords}
        )
    except TypeError as exc:
        raise fn.parsed.error(f"call of {callee.__qualname__}: {exc}", node) from None
    return dict(bound.arguments)


def formats_text(value: gast.expr) -> bool:
    """``"%.3f" % x`` or ``"{:.3f}".format(x)`` with a literal format string."""
    if isinstance(value, gast.BinOp) and isinstance(value.op, gast.Mod):
        template = value.left
    elif (
        isinstance(value, gast.Call)
        and isinstance(value.func, gast.Attribute)
        and value.func.attr == "format"
    ):
        template = value.func.value
    else:
        return False
    return isinstance(template, gast.Constant) and isinstance(template.value, (str, bytes))
