"""Method calls on objects whose class is known only when the code runs.

``l.apply(x)`` with ``l`` an element of a list of layers, ``d["body"].ke()``,
``layer(x)`` (``__call__``) on such an object, and ``self.l1(x)`` where ``l1`` is an
attribute stored on ``self`` (an Equinox/PyTorch-style sub-module) cannot be resolved
when the code is generated: the receiver's class is not known there. They become a
``USER_CALL`` of a ``DynamicMethod`` (analyze.py, objects.py); its "pair" is the pair of
run-time dispatchers below. When the call runs, ``dispatch_forward`` looks the method up
on the receiver's class as Python does, checks that it is a plain Python function of a
user class that changes nothing in place, and calls the forward half of that method's
own helper pair (``pipeline``, specialised for the classes and kinds the arguments have
then; cached like any helper pair). ``dispatch_backward`` calls its backward half and
hands the adjoints back in the order of the caller's active inputs. Anything else met
when the code runs raises ``ADTransformError`` naming the user's expression and the
class found.
"""

from __future__ import annotations

import inspect
import types
from dataclasses import dataclass

import numpy as np

from .errors import ADTransformError


@dataclass(frozen=True)
class DynamicMethod:
    """The callee of a method call whose receiver's class is known only when it runs.

    ``name``: the method (``__call__`` for ``obj(x)``); ``through``: an attribute read
    from the receiver first (``self.l1(x)``: the method ``__call__`` of ``self.l1``);
    ``expression``: the call as the user wrote it, for messages; ``keywords``: the
    keyword names of the call, in order (after the positional arguments)."""

    name: str
    expression: str
    location: tuple  # (file, line, column, source line) of the call, for messages
    through: str | None = None
    keywords: tuple[str, ...] = ()
    receiver: str = "the object"  # the called object in the user's words


def is_dynamic(callee: object) -> bool:
    return isinstance(callee, DynamicMethod)


def dynamic_inputs(receiver, args: list, keywords: list) -> dict | None:
    """The inputs of a dynamic call: ``receiver``, ``arg0``..., ``kw_<name>``; None when an
    argument is not a plain atom (``*xs``, ``**d``)."""
    import gast

    if any(isinstance(a, gast.Starred) for a in args) or any(k.arg is None for k in keywords):
        return None
    inputs = {"receiver": receiver}
    inputs.update({f"arg{i}": a for i, a in enumerate(args)})
    inputs.update({f"kw_{k.arg}": k.value for k in keywords})
    return inputs


# -- the pair of run-time dispatchers -----------------------------------------------------


def dynamic_pair(op, active: list[str]):
    """The ``HelperPair`` of a dynamic call: the run-time dispatchers bound to what the
    caller's code knows (its active inputs, whether it uses the result)."""
    from .reverse import HelperPair

    spec = _Spec(op.callee, tuple(active), op.result_used and op.active, op.complex_context)
    fwd, bwd = types.CellType(), types.CellType()
    fwd.cell_contents = spec.forward
    bwd.cell_contents = spec.backward
    stem = op.callee.name.strip("_") or "call"
    if op.callee.through is not None:
        stem = op.callee.through
    pair = HelperPair(fwd, bwd, f"{stem}_dispatch", list(active), [])
    # the method's own backward may undo appends to lists it made: a vjp's pullback copies
    # what was saved (a plain tuple, which ``runtime.fresh_saved`` copies through)
    pair.undoes_writes = True
    return pair


@dataclass(frozen=True)
class _Spec:
    method: DynamicMethod
    active: tuple[str, ...]
    result_used: bool
    complex_context: bool

    def fail(self, what: str) -> ADTransformError:
        from .errors import located_error

        message = f"cannot differentiate '{self.method.expression}': {what}"
        return located_error(message, *self.method.location)

    def forward(self, receiver, *args, **keywords):
        """``receiver.name(*args, **keywords)`` through the forward half of the method's
        own pair: ``(result, saved)``."""
        method = self.method
        target = receiver
        if method.through is not None:
            target = self.stored_attribute(receiver, method.through)
        rule = self.rule_of(target)
        if rule is not None:  # a NumPy function (``self.act = np.tanh``): its own rule
            return self.rule_forward(rule, target, args, keywords)
        func, receivers, found_in = self.method_function(target)
        try:
            bound = _signature(func).bind(*receivers, *args, **keywords)
        except TypeError as exc:
            raise self.fail(f"the call does not match {func.__qualname__}: {exc}") from None
        position = self.parameters_of_inputs(receivers, bound, len(args))
        values = dict(bound.arguments)
        wrt = [position[key] for key in self.active if key in position]
        pair = self.pair_of(func, values, wrt, found_in)
        result, saved = pair.fwd_cell.cell_contents(*receivers, *args, **keywords)
        return result, (pair, saved, tuple(pair.grad_params), position)

    def rule_of(self, target):
        """The adjoint rule of ``target`` when the call is ``target(...)`` of a function
        with a rule for numbers and arrays (``np.tanh``, ``math.exp``), else None."""
        from .rules.registry import lookup
        from .user_classes import is_user_class

        if self.method.name != "__call__" or is_user_class(type(target)):
            return None
        if isinstance(target, (types.FunctionType, types.MethodType)) or not callable(target):
            return None  # a user function, a bound method: not a library primitive
        try:
            rule = lookup(target)
        except TypeError:
            return None
        return rule if rule is not None and rule.sequence_form is None else None

    def rule_forward(self, rule, target, args: tuple, keywords: dict):
        """``target(*args)`` and, for the backward, what its rule's adjoint needs."""
        from .effects import _WRITES_FIRST_ARGUMENT

        if "out" in keywords or any(target is f for f in _WRITES_FIRST_ARGUMENT):
            raise self.fail(f"{rule.name} writes into an argument, which is not followed")
        result = target(*args, **keywords)
        values = [*args, *keywords.values(), result]
        if any(np.iscomplexobj(v) for v in values if isinstance(v, (complex, np.ndarray))):
            raise self.fail(
                f"{self.method.receiver} holds {rule.name} and complex values reach it, which "
                "is not followed where the function is known only when the code runs"
            )
        params = rule.template.params if rule.template is not None else []
        position = {f"arg{i}": p for i, p in enumerate(params[: len(args)])}
        position.update({f"kw_{k}": k for k in keywords if k in params})
        if rule.template is not None and (
            len(args) > len(params)
            or len(position) < len([k for k in self.active if k != "receiver"])
        ):
            raise self.fail(f"the call does not match the adjoint rule of {rule.name}")
        return result, (rule, result, (tuple(args), dict(keywords)), position)

    def backward(self, saved: tuple, g):
        """The adjoints of the caller's active inputs, in their order."""
        from .rules.registry import Rule

        if isinstance(saved[0], Rule):
            return self.rule_backward(saved, g)
        pair, inner, grad_params, position = saved
        grads = pair.bwd_cell.cell_contents(inner, g)
        if len(grad_params) == 1:
            grads = (grads,)
        by_param = dict(zip(grad_params, grads))
        adjoints = []
        for key in self.active:
            param = position.get(key)
            adjoint = by_param.get(param, 0.0) if param is not None else 0.0
            if key == "receiver" and self.method.through is not None:
                from .runtime import Fields

                adjoint = Fields(**{self.method.through: adjoint})
            adjoints.append(adjoint)
        return adjoints[0] if len(adjoints) == 1 else tuple(adjoints)

    def rule_backward(self, saved: tuple, g):
        rule, result, (args, keywords), position = saved
        by_param = {}
        if rule.template is not None:
            grads = rule.template.fn(g, result, *args, **keywords)
            params = rule.template.params
            grads = (grads,) if len(params) == 1 else grads
            by_param = {p: d for p, d in zip(params, grads) if d is not None}
        adjoints = [by_param.get(position.get(key), 0.0) for key in self.active]
        return adjoints[0] if len(adjoints) == 1 else tuple(adjoints)

    # -- checks made when the call runs ---------------------------------------------------
    def stored_attribute(self, obj, name: str):
        from .runtime.objects import _stored_attribute

        if not _stored_attribute(obj, type(obj), name):
            raise self.fail(
                f"'{name}' of a {type(obj).__qualname__} object is not an attribute stored on "
                "the object (a method, a property or a computed attribute), so what is "
                "called is not followed"
            )
        return getattr(obj, name)

    def method_function(self, target) -> tuple[types.FunctionType, list, str]:
        """The plain Python function Python calls for ``target.name(...)``, and what it
        takes before the call's arguments (the object, its class or nothing)."""
        from .callables import is_differentiable_derivative
        from .user_classes import find_attribute, plain_attribute_access

        cls, name = type(target), self.method.name
        if name == "__call__" and _plain_module_function(target):
            return target, [], f"'{target.__qualname__}' is called"  # a function value
        if name == "__call__" and is_differentiable_derivative(target):
            found = f"'{_derivative_name(target)}' is called"
            return self.derivative_function(target), [], found
        if name == "__call__" and not _is_user_class(cls) and callable(target):
            self.refuse_function_value(target)
        found_in = (
            f"the class of {self.method.receiver} is not known when the code is generated; "
            f"when it runs it is {_class_name(cls)}"
        )
        if not _is_user_class(cls):
            kind = (
                "NumPy's"
                if isinstance(target, (np.ndarray, np.generic))
                else "a library's or Python's own"
            )
            raise self.fail(
                f"{found_in}, a class that is {kind}, not one of the user's code (only "
                "methods written in Python of the user's own classes, and functions defined "
                "at module level, are differentiated there)"
            )
        access = plain_attribute_access(cls)
        if access is not None:
            raise self.fail(f"{found_in}: {access}, which is not followed")
        if name in getattr(target, "__dict__", ()):
            raise self.fail(
                f"{found_in}, and the object has its own attribute '{name}' (a function or "
                "object stored on it), which is not followed"
            )
        found = find_attribute(cls, name)
        value = found[1] if found is not None else None
        receivers = [target]
        if isinstance(value, staticmethod):
            value, receivers = value.__func__, []
        elif isinstance(value, classmethod):
            value, receivers = value.__func__, [cls]
        if not _is_user_function(value):
            what = (
                f"its class has no method '{name}'"
                if found is None
                else f"'{name}' of its class is not a method written in Python"
            )
            raise self.fail(f"{found_in}, and {what}")
        return value, receivers, found_in

    def derivative_function(self, target) -> types.FunctionType:
        """The plain code of a derivative ad_transform made (``grad(f)``, ``jvp(f)``,
        ``hessian(f)``...) held in a variable or made inline, to differentiate in its
        place (``higher_order.generic_plain_gradient``). The function it differentiates
        must be one defined at module level that captures nothing: a function defined
        in the differentiated one may capture its differentiated values, which the
        derivative would take for constants."""
        from .callables import derivative_origin, is_differentiable_derivative
        from .higher_order import generic_plain_gradient

        inner = target
        while hasattr(inner, "func") and (
            is_differentiable_derivative(inner) or derivative_origin(inner) is not None
        ):
            inner = inner.func
        if not _plain_module_function(inner):
            what = getattr(inner, "__qualname__", None) or type(inner).__qualname__
            raise self.fail(
                f"{self.method.receiver} holds {_derivative_name(target)}, a derivative of "
                f"'{what}', which is not a function defined at module level that captures "
                "nothing (a function defined inside the differentiated one may capture its "
                "differentiated values); differentiate a derivative of a module-level function"
            )
        return generic_plain_gradient(target)

    def check_function(self, func, found_in: str) -> None:
        """What is checked once per method and argument types (before its pair is made):
        no ``*args``/``**kwargs``, no change in place, no complex values."""
        parameters = _signature(func).parameters.values()
        if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in parameters):
            raise self.fail(
                f"{found_in}, and its function {func.__qualname__} takes *args or **kwargs, "
                "which is not supported where the class is known only when the code runs"
            )
        self.check_effects(func, found_in)

    def refuse_function_value(self, target) -> None:
        """A call through a name or an item that holds a function other than a plain
        module-level one (a library function, a closure, a derivative)."""
        from .callables import HIGHER_ORDER, derivative_origin

        receiver = self.method.receiver
        origin = derivative_origin(target)
        if origin is not None:
            raise self.fail(
                f"{receiver} holds {origin}, a derivative made by ad_transform, and {HIGHER_ORDER}"
            )
        what = getattr(target, "__qualname__", None) or type(target).__qualname__
        raise self.fail(
            f"a call through {receiver}, which holds a function ({_class_name(type(target))} "
            f"'{what}') when the code runs; only functions defined at module level (that "
            "capture no variables) and objects of the user's classes with a __call__ written "
            "in Python are differentiated through a parameter, a variable or an item"
        )

    def check_effects(self, func, found_in: str) -> None:
        from .complex_flows import _may_make_complex
        from .effects import helper_effects

        effects = helper_effects(func)
        if effects.mutated or effects.problems or effects.unless_number:
            what = (
                effects.problems[0]
                if effects.problems
                else f"it changes its parameter '{(effects.mutated or effects.unless_number)[0]}'"
                " in place"
                if effects.mutated
                else f"it {effects.unless_number[0][1]}"
            )
            raise self.fail(
                f"{found_in}, and its method {func.__qualname__} changes an object in place "
                f"({what}); such a change is not followed where the class is known only when "
                "the code runs"
            )
        if self.complex_context or _may_make_complex(func, set()):
            raise self.fail(
                f"{found_in}, and complex values may reach its method {func.__qualname__}, "
                "which is not followed where the class is known only when the code runs"
            )

    def parameters_of_inputs(self, receivers: list, bound, count: int) -> dict:
        """The caller's input names (``receiver``, ``arg0``, ``kw_x``) -> the method's
        parameters they were bound to."""
        names = list(bound.signature.parameters)
        position = {}
        if receivers and receivers[0] is not None and not isinstance(receivers[0], type):
            position["receiver"] = names[0]
        offset = len(receivers)
        for i in range(count):
            position[f"arg{i}"] = names[offset + i]
        for keyword in self.method.keywords:
            position[f"kw_{keyword}"] = keyword
        return position

    def pair_of(self, func, values: dict, wrt: list[str], found_in: str):
        """The method's own helper pair for arguments like ``values`` (cached; checked
        with ``check_function`` when it is made)."""
        from . import pipeline
        from .api import _kind_of_type
        from .ops import Op

        kinds = {p: _kind_of_type(type(v)) for p, v in values.items()}
        classes = {p: type(v) for p, v in values.items() if _is_user_class(type(v))}
        key = (
            func,
            func.__code__,
            tuple(wrt),
            tuple(kinds.items()),
            tuple(classes.items()),
            self.result_used,
            self.complex_context,
        )
        pair = _PAIRS.get(key)
        generated = getattr(pair, "generated", None)
        if pair is not None and generated is not None and not generated.is_stale():
            return pair
        self.check_function(func, found_in)
        op = Op(None, "user_call", None, callee=func, result_used=self.result_used)
        op.arg_classes = classes
        with pipeline._lock:
            pair = pipeline._Builder().helper_pair(op, wrt, kinds)
            generated = getattr(pair, "generated", None)
            if generated is not None and generated.is_stale():  # the method was redefined
                pipeline._forget_stale_pairs()
                pair = pipeline._Builder().helper_pair(op, wrt, kinds)
        _PAIRS[key] = pair
        return pair


_PAIRS: dict = {}  # (function, code, wrt, kinds, classes, ...) -> its checked helper pair
_SIGNATURES: dict = {}  # function -> (its code, its signature)
_USER_CLASSES: dict = {}  # class -> whether it is a class of the user's code


def _signature(func) -> inspect.Signature:
    cached = _SIGNATURES.get(func)
    if cached is None or cached[0] is not func.__code__:
        cached = _SIGNATURES[func] = (func.__code__, inspect.signature(func))
    return cached[1]


def _is_user_function(value) -> bool:
    """``analyze.is_user_function``, remembered per code object."""
    code = getattr(value, "__code__", None)
    if not isinstance(value, types.FunctionType) or code is None:
        return False
    found = _USER_FUNCTIONS.get(code)
    if found is None:
        from .resolve import is_user_function

        found = _USER_FUNCTIONS[code] = is_user_function(value)
    return found


_USER_FUNCTIONS: dict = {}  # code object -> whether its function is the user's


def _is_user_class(cls: type) -> bool:
    found = _USER_CLASSES.get(cls)
    if found is None:
        from .user_classes import is_user_class

        found = _USER_CLASSES[cls] = is_user_class(cls)
    return found


def _class_name(cls: type) -> str:
    module = cls.__module__
    return (
        cls.__qualname__ if module in ("builtins", "__main__") else f"{module}.{cls.__qualname__}"
    )


def _receiver_words(receiver, through: str | None, fn, ops: list) -> str:
    """The called object in the user's words: ``the parameter 'fn'``, ``'layers[0]'``,
    ``'self.l1'``."""
    text = user_expression(receiver, fn, ops)
    if through is not None:
        return f"'{text}.{through}'"
    if getattr(receiver, "id", None) in fn.params:
        return f"the parameter '{text}'"
    if text in (getattr(fn, "user_locals", None) or ()):
        return f"the local variable '{text}'"
    return f"'{text}'"


def _derivative_name(derivative) -> str:
    """``grad(f)``, ``jacfwd(f, wrt=0)``: a derivative ad_transform made, for messages."""
    from .callables import derivative_origin

    return derivative_origin(derivative) or repr(derivative).strip("<>")


def _plain_module_function(value) -> bool:
    """A user function defined at module level that captures nothing (no closure cells,
    no defaults computed from other values): calling it depends on its arguments only."""
    return (
        _is_user_function(value)
        and value.__closure__ is None
        and "<locals>" not in value.__qualname__
    )


# -- building the operations (analyze.py, objects.py) -------------------------------------


def user_expression(node, fn, ops: list) -> str:
    """``node`` in the user's words: SSA versions as the user's variables, temporaries
    (and names the lowering made) as the expressions they hold (``ps[0].mass``, not
    ``v2.mass``; ``Scale(x)``, not ``manager``)."""
    from .emit import expression_source

    return expression_source(_in_user_words(node, fn, ops, 0))


def _in_user_words(node, fn, ops: list, depth: int, visiting: frozenset = frozenset()):
    """``node`` in the user's words: SSA versions as the user's variables, temporaries
    (and names the lowering made) as the expressions they hold (``ps[0].mass``, not
    ``v2.mass``; ``Scale(x)``, not ``manager``)."""
    import gast

    from .emit import expression_source
    from .nodes import clone

    definitions: dict = {}
    for op in ops:
        value = getattr(op.stmt, "value", None)
        written = op.form in ("store_item", "append", "extend", "call_write")
        if op.target is not None and isinstance(value, gast.AST) and not written:
            definitions.setdefault(op.target, []).append(value)
    user_locals = getattr(fn, "user_locals", None) or frozenset()
    lowered = getattr(fn.parsed, "lowered_locals", frozenset())

    def as_name(text: str) -> gast.Name:
        return gast.Name(id=text, ctx=gast.Load(), annotation=None, type_comment=None)

    def replaced(name: gast.Name) -> gast.expr:
        source = fn.source_of.get(name.id, name.id)
        values = definitions.get(name.id, [])
        own = source in user_locals and source not in lowered
        if own or name.id in fn.params or name.id in visiting or depth > 6 or not values:
            return as_name(source)
        found, texts = [], []
        for value in values:
            node = _in_user_words(value, fn, ops, depth + 1, visiting | {name.id})
            text = expression_source(node)
            if text not in texts:
                texts.append(text)
                found.append(node)
        if not found or len(found) > 3:
            return as_name(source)
        if len(found) == 1:
            return found[0]
        return gast.BoolOp(op=gast.Or(), values=found)  # one of several (branches)

    class Replace(gast.NodeTransformer):
        def visit_Name(self, name):
            return replaced(name)

    return Replace().visit(clone(node))


def user_name(name: str, fn, ops: list) -> str:
    """The SSA name ``name`` in the user's words (``user_expression``)."""
    import gast

    node = gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None)
    text = user_expression(node, fn, ops)
    return text[1:-1] if text.startswith("(") and text.endswith(")") else text


def dynamic_op(
    op, fn, ops: list, receiver, args: list, keywords: list, name: str, through: str | None = None
):
    """The ``USER_CALL`` of a ``DynamicMethod`` replacing ``op`` (``receiver.name(...)``,
    or ``receiver.through(...)`` calling the stored attribute), or None where an argument
    is spread (``*xs``, ``**d``)."""
    from .ops import USER_CALL, Op

    inputs = dynamic_inputs(receiver, args, keywords)
    if inputs is None:
        return None
    node = op.stmt.value
    line, column = getattr(node, "lineno", None), getattr(node, "col_offset", None)
    lines = fn.parsed.file_lines
    text = lines[line - 1] if line is not None and 0 < line <= len(lines) else None
    callee = DynamicMethod(
        name,
        user_expression(op.stmt.value, fn, ops),
        (fn.parsed.filename, line, column, text),
        through,
        tuple(k.arg for k in keywords),
        _receiver_words(receiver, through, fn, ops),
    )
    new = Op(op.stmt, USER_CALL, op.target, callee=callee, inputs=inputs, pure=False)
    new.call_args, new.call_keywords = [receiver, *args], list(keywords)
    new.depth = op.depth
    return new
