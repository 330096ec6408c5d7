"""Forward mode of calls whose callee is known only when the code runs (``dispatch.py``).

``model.energy(x)`` with ``model`` an argument, ``layer(x)`` for ``layer`` in a list of
objects, ``op(x)`` for ``op`` in ``(np.sin, np.cos)``: the generated forward-mode code
calls the dispatcher of this module, ``y, y_dot = energy_jvp_dispatch(model, x,
tangents=(x_dot,))``. When it runs, it finds what Python calls, with the checks of the
reverse-mode dispatcher (``dispatch._Spec``: a method written in Python of a user's class
that changes nothing in place, a module-level function, or a NumPy/math function with a
rule) and returns ``(value, tangent)``: from the forward-mode function of the method
(``forward._helper_jvp``, cached like any helper's), or from the function's tangent rule.
"""

from __future__ import annotations

from .dispatch import DynamicMethod, _signature, _Spec
from .rules.registry import MULTILINEAR

__all__ = ["dispatch_jvp"]

_CHECKED: set = set()  # (function, code) checked by ``_Spec.check_function``


def dispatch_jvp(callee: DynamicMethod, active: tuple[str, ...], result_used: bool):
    """The run-time dispatcher the generated code calls for a dynamic call whose inputs
    ``active`` (``receiver``, ``arg0``, ``kw_x``) carry tangents."""
    spec = _JVPSpec(callee, tuple(active), result_used, False)
    return spec.jvp


class _JVPSpec(_Spec):
    def jvp(self, receiver, *args, tangents: tuple, **keywords):
        """``receiver.name(*args, **keywords)`` and its tangent: ``(value, tangent)``."""
        tangent_of = dict(zip(self.active, tangents, strict=True))
        method = self.method
        target = receiver
        if method.through is not None:
            target = self.stored_attribute(receiver, method.through)
            if "receiver" in tangent_of:
                from .runtime import attribute_tangent

                tangent_of["receiver"] = attribute_tangent(
                    tangent_of["receiver"], receiver, method.through
                )
        rule = self.rule_of(target)
        if rule is not None:
            return self.rule_jvp(rule, target, args, keywords, tangent_of)
        func, receivers, found_in = self.method_function(target)
        try:
            bound = _signature(func).bind(*receivers, *args, **keywords)
        except TypeError as exc:
            raise self.fail(f"the call does not match {func.__qualname__}: {exc}") from None
        position = self.parameters_of_inputs(receivers, bound, len(args))
        by_param = {position[k]: t for k, t in tangent_of.items() if k in position}
        if not by_param:
            from .runtime import zero_tangent

            value = func(*receivers, *args, **keywords)
            return value, zero_tangent(value)
        helper = self.helper_of(func, dict(bound.arguments), list(by_param), found_in)
        named = {helper.tangent_params[p]: t for p, t in by_param.items()}
        return helper.cell.cell_contents(*receivers, *args, **keywords, **named)

    def helper_of(self, func, values: dict, active: list[str], found_in: str):
        """The forward-mode function of ``func`` for arguments like ``values``."""
        from .api import _kind_of_type
        from .forward import _helper_jvp
        from .ops import Op

        key = (func, func.__code__)
        if key not in _CHECKED:
            self.check_function(func, found_in)
            _CHECKED.add(key)
        kinds = {p: _kind_of_type(type(v)) for p, v in values.items()}
        op = Op(None, "user_call", None, callee=func, result_used=self.result_used)
        return _helper_jvp(op, active, kinds)

    def rule_jvp(self, rule, target, args: tuple, keywords: dict, tangent_of: dict):
        """``target(*args)`` of a function with a rule (``np.sin``) and its tangent."""
        from .runtime import zero_tangent

        result, saved = self.rule_forward(rule, target, args, keywords)
        position = saved[3]  # caller's input -> the rule's parameter
        by_param = {position[k]: t for k, t in tangent_of.items() if k in position}
        if not by_param:
            return result, zero_tangent(result)
        if rule.tangent is not None:
            params = rule.tangent.params
            total = None
            for param, tangent in by_param.items():
                terms = rule.tangent.fn(tangent, result, *args, **keywords)
                terms = terms if _returns_tuple(rule.tangent) else (terms,)
                term = dict(zip(params, terms)).get(param)
                if term is None:
                    raise self.fail(f"the tangent rule of {rule.name} has no term for {param!r}")
                total = term if total is None else total + term
            return result, total
        if rule.linear is not None:
            return result, self.linear_tangent(rule, target, args, keywords, by_param)
        raise self.fail(f"{rule.name} has no tangent rule yet, so jvp cannot follow it")

    def linear_tangent(self, rule, target, args: tuple, keywords: dict, by_param: dict):
        """A function linear in its differentiable arguments: the call on the tangents."""
        from .runtime import zero_tangent

        params = rule.template.params
        differentiable = [p for p in rule.template.outputs if p in params]
        groups = [[p] for p in by_param] if rule.linear == MULTILINEAR else [differentiable]
        total = None
        for group in groups:
            given = list(args)
            named = dict(keywords)
            for p in group:
                index = params.index(p)
                if index < len(given):
                    value = given[index]
                    given[index] = by_param.get(p, zero_tangent(value))
                elif p in named:
                    named[p] = by_param.get(p, zero_tangent(named[p]))
            term = target(*given, **named)
            total = term if total is None else total + term
        return total


_RETURNS_TUPLE: dict = {}


def _returns_tuple(template) -> bool:
    """Whether a template's ``return`` is a tuple display (one term per parameter) rather
    than one expression (the term of the first parameter)."""
    import inspect
    import textwrap

    import gast

    found = _RETURNS_TUPLE.get(template.fn)
    if found is None:
        source = textwrap.dedent(inspect.getsource(template.fn.__code__))
        last = gast.parse(source).body[0].body[-1]
        found = _RETURNS_TUPLE[template.fn] = isinstance(last.value, gast.Tuple)
    return found
