"""The table from primitives to their adjoint templates.

Rules are keyed by the primitive object itself (``np.sin``, ``math.sin``,
``operator.mul``), or by ``("method", name)`` / ``("attribute", name)`` for the
method and attribute forms on arrays (``x.sum()``, ``x.T``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..templates import Template

# Output kinds, used to specialise generated code: a Python or NumPy scalar, an
# ndarray, a Python tuple/list built in the function, or not known statically.
SCALAR, ARRAY, SEQUENCE, UNKNOWN = "scalar", "array", "sequence", None


@dataclass
class Rule:
    """How to differentiate one primitive."""

    primitive: object
    name: str
    template: Template | None  # None: piecewise constant or integer valued (zero derivative)
    kind: str | None = "elementwise"
    scalar_template: Template | None = None
    pure: bool = True

    @property
    def differentiable(self) -> bool:
        return self.template is not None

    def template_for(self, all_scalar: bool) -> Template:
        if all_scalar and self.scalar_template is not None:
            return self.scalar_template
        return self.template

    def output_kind(self, arg_kinds: list) -> str | None:
        if self.kind != "elementwise":
            return self.kind
        if arg_kinds and all(k == SCALAR for k in arg_kinds):
            return SCALAR
        if any(k == ARRAY for k in arg_kinds):
            return ARRAY
        return UNKNOWN


_RULES: dict[object, Rule] = {}


def _key(primitive: object) -> object:
    try:
        hash(primitive)
        return primitive
    except TypeError:
        return ("id", id(primitive))


def lookup(primitive: object) -> Rule | None:
    """The rule for ``primitive`` (an object, or a ``("method", name)`` key), if any."""
    try:
        return _RULES.get(_key(primitive))
    except TypeError:
        return None


def all_rules() -> list[Rule]:
    return list(_RULES.values())


def display_name(primitive: object) -> str:
    if isinstance(primitive, tuple):
        return f"ndarray.{primitive[1]}" + ("()" if primitive[0] == "method" else "")
    module = getattr(primitive, "__module__", None) or ""
    name = getattr(primitive, "__name__", repr(primitive))
    if type(primitive).__name__ == "ufunc" and not module:
        module = "numpy" if getattr(np, name, None) is primitive else _module_holding(primitive)
    if module.startswith("numpy"):
        module = "numpy" + module[len("numpy") :].replace("._core", "").replace(".core", "")
        for private in (
            ".numeric",
            ".fromnumeric",
            ".multiarray",
            ".function_base",
            "._linalg",
            ".linalg.linalg",
            ".umath",
            ".shape_base",
            "._methods",
        ):
            module = module.replace(private, ".linalg" if "linalg" in private else "")
    if module in ("_operator", "operator"):
        module = "operator"
    return f"{module}.{name}" if module and module != "builtins" else name


def _module_holding(obj: object) -> str:
    """The public module that has ``obj`` as an attribute (for naming it in messages)."""
    name = getattr(obj, "__name__", None)
    holders = [
        module_name
        for module_name, module in list(sys.modules.items())
        if name
        and module is not None
        and not any(p.startswith("_") for p in module_name.split("."))
        and getattr(module, name, None) is obj
    ]
    return min(holders, key=len) if holders else "ufunc"


def register_adjoint(
    primitive: object,
    template: Callable,
    *,
    kind: str | None = "elementwise",
    scalar: Callable | None = None,
    name: str | None = None,
) -> None:
    """Register the adjoint template of ``primitive``.

    ``template(g, ans, *params)`` returns the contribution to the adjoint of each
    differentiable parameter (see :mod:`ad_transform.templates`). ``scalar`` is an
    optional faster template used when every argument is a Python or NumPy scalar.
    ``kind`` is the kind of the primitive's result: ``"elementwise"`` (scalar in,
    scalar out), ``"scalar"``, ``"array"`` or ``None`` (unknown).
    """
    rule = Rule(
        primitive,
        name or display_name(primitive),
        Template(template),
        kind,
        Template(scalar) if scalar is not None else None,
    )
    _RULES[_key(primitive)] = rule


def adjoint(primitive: object, *, kind: str | None = "elementwise", scalar: bool = False):
    """Decorator form of :func:`register_adjoint`.

    ``@adjoint(np.sin)`` registers the generic template; ``@adjoint(np.sin, scalar=True)``
    adds the scalar-specialised one to an existing rule.
    """

    def decorate(template: Callable) -> Callable:
        if scalar:
            _RULES[_key(primitive)].scalar_template = Template(template)
        else:
            register_adjoint(primitive, template, kind=kind)
        return template

    return decorate


def register_nondifferentiable(
    *primitives: object, kind: str | None = None, pure: bool = True
) -> None:
    """Declare primitives whose result carries no derivative (integers, booleans, shapes...).

    Gradients do not flow through them; ``pure=False`` marks a call with side effects
    (``print``) that must be kept even when its result is unused.
    """
    for primitive in primitives:
        _RULES[_key(primitive)] = Rule(primitive, display_name(primitive), None, kind, pure=pure)
