"""Adjoint rules written as plain Python functions, parsed once and spliced into generated code.

A template is a function whose first two parameters are ``g`` (the adjoint of the
primitive's result) and ``ans`` (the result itself), followed by the primitive's own
parameters. It returns the contribution to the adjoint of each differentiable
parameter, in order (a tuple for several, ``None`` for a parameter with no derivative)::

    def d_multiply(g, ans, x, y):
        return unbroadcast(g * y, x), unbroadcast(g * x, y)

Keyword-only parameters (after ``*``) carry no derivative: they bind the call's keywords
(and refuse a positional argument in their place) and are never returned.

Splicing replaces the parameters by the atoms of the call site, gives the template's
own temporaries fresh names, and turns the template module's globals (``np``,
``unbroadcast``) into names bound in the generated function.
"""

from __future__ import annotations

import builtins
import inspect
import textwrap
import types
from dataclasses import dataclass

import gast

from .nodes import clone

_NO_DEFAULT = inspect.Parameter.empty


@dataclass
class Instance:
    """A template spliced at one call site."""

    preamble: list[gast.stmt]
    outputs: dict[str, gast.expr]  # parameter name -> contribution expression


class Template:
    """One parsed adjoint template.

    With ``lazy`` (ad_transform's own rules, ``rules.registry.lazy_templates``) the
    function is parsed when a parsed attribute is first read, not when it is registered:
    ``import ad_transform`` parses none of its few hundred templates.
    """

    _PARSED = frozenset({"params", "signature", "preamble", "outputs", "locals", "free"})

    def __init__(self, fn, lazy: bool = False, source: str | None = None) -> None:
        if not isinstance(fn, types.FunctionType):
            raise TypeError(
                f"an adjoint template must be a function defined with 'def', not {fn!r}"
            )
        self.fn = fn
        self.source = source  # the function's source, for one made by ``exec``
        if not lazy:
            self._parse()

    def __getattr__(self, name: str):
        # only called for attributes not set yet: those _parse sets, before it ran
        if name in Template._PARSED:
            self._parse()
            return self.__dict__[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _parse(self) -> None:
        """Parse the template function and set its parsed attributes (``_PARSED``), all at
        once (another thread reading them meanwhile parses it too)."""
        fn = self.fn
        # its own code: inspect.getsource(fn) would follow a decorator's __wrapped__
        source = self.source or inspect.getsource(fn.__code__)
        tree = gast.parse(textwrap.dedent(source)).body[0]
        arg_names = [a.id for a in tree.args.args]
        if arg_names[:2] != ["g", "ans"]:
            raise TypeError(
                f"adjoint template {fn.__qualname__} must start with the parameters (g, ans, ...)"
            )
        params = arg_names[2:]
        *preamble, last = tree.body
        if not isinstance(last, gast.Return) or last.value is None:
            raise TypeError(f"adjoint template {fn.__qualname__} must end with a 'return'")
        returned = last.value.elts if isinstance(last.value, gast.Tuple) else [last.value]
        if len(returned) > len(params):
            raise TypeError(
                f"adjoint template {fn.__qualname__} returns more adjoints than it has parameters"
            )
        locals_ = {
            n.id
            for s in preamble
            for n in gast.walk(s)
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)
        }
        loaded = {
            n.id
            for part in (*tree.body, tree.args)  # not the decorators
            for n in gast.walk(part)
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)
        }
        rebound = sorted(locals_ & set(arg_names))
        if rebound:
            # a load of a parameter is the call site's atom wherever it stands: a value
            # assigned to it would never be read (a check written ``g = check(g)`` dropped)
            raise TypeError(
                f"adjoint template {fn.__qualname__} assigns to its parameter(s) "
                f"{', '.join(rebound)}: give the new value a name of its own"
            )
        # keyword-only parameters (after ``*``) carry no derivative: never returned
        keyword_only = {a.id for a in tree.args.kwonlyargs}
        self.__dict__.update(
            params=params,
            signature=_drop_first_two(inspect.signature(fn, follow_wrapped=False)),
            preamble=preamble,
            outputs={
                p: e
                for p, e in zip(params, returned)
                if not (isinstance(e, gast.Constant) and e.value is None)
            },
            locals=locals_,
            free=sorted(loaded - set(arg_names) - keyword_only - locals_),
        )

    @property
    def differentiable(self) -> list[str]:
        return list(self.outputs)

    def resolve(self, name: str) -> object:
        if name in self.fn.__globals__:
            return self.fn.__globals__[name]
        return getattr(builtins, name)

    def bind(self, args: list[gast.expr], keywords: dict[str, gast.expr]) -> dict[str, gast.expr]:
        """Map the call site's atoms to parameter names, filling in defaults.

        Raises ``TypeError`` when the call does not fit the template's signature.
        """
        bound = self.signature.bind(*args, **keywords)
        result = dict(bound.arguments)
        for name, param in self.signature.parameters.items():
            if name not in result:
                if param.default is _NO_DEFAULT:
                    raise TypeError(f"missing argument {name!r}")
                result[name] = constant_node(param.default)
        return result

    def instantiate(
        self,
        wanted: list[str],
        bindings: dict[str, gast.expr],
        g: gast.expr,
        ans: gast.expr,
        reference,
        fresh_name,
    ) -> Instance:
        """Splice the contributions to ``wanted`` parameters.

        ``reference(name, obj)`` returns the identifier under which a template global is
        reachable from the generated code; ``fresh_name(base)`` allocates a temporary.
        """
        mapping: dict[str, gast.expr] = dict(bindings, g=g, ans=ans)
        renames = {local: fresh_name(local) for local in sorted(self.locals)}
        globals_ = {name: reference(name, self.resolve(name)) for name in self.free}
        splice = _Splice(self, mapping, renames, globals_)
        preamble = [splice.copy(s) for s in self.preamble] if wanted else []
        outputs = {p: splice.copy(self.outputs[p]) for p in wanted}
        return Instance(preamble, outputs)


class _Splice:
    """Copies a template's nodes for one call site, in a single pass over each.

    Parameters become copies of the call site's atoms, the template's temporaries get
    fresh names and its globals the names they are bound under. A call with only numbers
    as arguments (``math.log(2.0)``, or ``np.sqrt(x)`` where ``x`` is the atom ``4.0``)
    is computed now, when its function is in ``math`` or NumPy; the function is looked up
    under the template's own names, before they are renamed.
    """

    PURE_MODULES = ("math", "numpy")

    def __init__(self, template: Template, mapping, renames, globals_) -> None:
        self.template = template
        self.mapping, self.renames, self.globals = mapping, renames, globals_
        self.numbers = {p for p, v in mapping.items() if _is_number(v)}

    def copy(self, node):
        if isinstance(node, list):
            return [self.copy(item) for item in node]
        if not isinstance(node, gast.AST):
            return node
        if isinstance(node, gast.Name):
            return self.copy_name(node)
        new = node.__class__.__new__(node.__class__)
        fields = node._fields
        for key, value in node.__dict__.items():
            if key in fields:
                value = self.copy(value)
            elif isinstance(value, (list, gast.AST)):
                value = clone(value)
            new.__dict__[key] = value
        if isinstance(new, gast.Call):
            return self.folded(node, new)
        return new

    def copy_name(self, node: gast.Name) -> gast.expr:
        if isinstance(node.ctx, gast.Load) and node.id in self.mapping:
            return clone(self.mapping[node.id])
        new = clone(node)
        new_id = self.renames.get(node.id) or self.globals.get(node.id)
        if new_id is not None:
            new.id = new_id
        return new

    def folded(self, original: gast.Call, call: gast.Call) -> gast.expr:
        """``call`` (the copy of ``original``), or its value if it can be computed now."""
        if call.keywords or not all(_is_number(a) for a in call.args):
            return call
        function = self._resolve(original.func)
        module = getattr(function, "__module__", None) or ""
        if function is None or not (
            module.split(".")[0] in self.PURE_MODULES or type(function).__name__ == "ufunc"
        ):
            return call
        try:
            value = float(function(*(a.value for a in call.args)))
        except (ArithmeticError, ValueError, TypeError):
            return call
        if value != value or value in (float("inf"), float("-inf")):
            return call
        return gast.copy_location(gast.Constant(value=value, kind=None), call)

    def _resolve(self, node: gast.expr):
        """The object a template expression names: ``np``, ``np.log``; ``None`` for anything
        else, a parameter bound to a number included."""
        if isinstance(node, gast.Name):
            if isinstance(node.ctx, gast.Load) and node.id in self.numbers:
                return None
            try:
                return self.template.resolve(node.id)
            except AttributeError:
                return None
        if isinstance(node, gast.Attribute):
            base = self._resolve(node.value)
            return getattr(base, node.attr, None) if base is not None else None
        return None


def _is_number(node: gast.expr) -> bool:
    return (
        isinstance(node, gast.Constant)
        and isinstance(node.value, (int, float))
        and not isinstance(node.value, bool)
    )


def _drop_first_two(sig: inspect.Signature) -> inspect.Signature:
    return sig.replace(parameters=list(sig.parameters.values())[2:])


def constant_node(value: object) -> gast.expr:
    """A literal expression for a default value (numbers, strings, None, tuples of those)."""
    if isinstance(value, tuple):
        return gast.Tuple(elts=[constant_node(v) for v in value], ctx=gast.Load())
    if value is None or isinstance(value, (bool, int, float, complex, str)):
        return gast.Constant(value=value, kind=None)
    raise TypeError(f"template default {value!r} is not a literal")
