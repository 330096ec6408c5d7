"""The table from primitives to their adjoint templates.

Rules are keyed by the primitive object itself (``np.sin``, ``math.sin``,
``operator.mul``), or by ``("method", name)`` / ``("attribute", name)`` for the
method and attribute forms on arrays (``x.sum()``, ``x.T``).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import inspect
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from ..templates import Template
from ..value_kinds import ARRAY, DICT, SCALAR, SEQUENCE, UNKNOWN  # noqa: F401 (re-exported)

# The forms of ``+`` and ``*``, which also join and repeat lists and tuples: arithmetic,
# two sequences joined, a sequence repeated (on the left, ``[v] * 3``, or on the right,
# ``3 * [v]``), or not known until the code runs (operands of unknown kinds).
NUMBERS, JOIN, REPEAT_LEFT, REPEAT_RIGHT, DYNAMIC, DYNAMIC_IN_PLACE = (
    "numbers",
    "join",
    "repeat_left",
    "repeat_right",
    "dynamic",
    "dynamic_in_place",
)


@dataclass
class Rule:
    """How to differentiate one primitive."""

    primitive: object
    name: str
    template: Template | None  # None: piecewise constant or integer valued (zero derivative)
    kind: str | None = "elementwise"
    scalar_template: Template | None = None
    pure: bool = True
    # whether the result is a new object nothing else holds (not a view of, or the same
    # object as, an argument): True, False, or a test of the parameters the call gives
    # (a dict: parameter name -> the atom given, a gast node)
    fresh: bool | Callable[[dict], bool] = False
    # ``+`` and ``*`` (the operators only, not ``np.add``): ``sequence_form(kinds,
    # constants)`` is the form of a call from its operands' kinds and literal values;
    # ``sequence_templates`` the adjoint of each form but ``NUMBERS`` (the rule's own)
    sequence_form: Callable[[list, list], str] | None = None
    sequence_templates: dict[str, Template] = field(default_factory=dict)
    # forward mode (``forward.py``): the tangent (JVP) template, written like an adjoint
    # template whose ``g`` is the tangent of each parameter in turn; each returned term is
    # that parameter's contribution to the result's tangent (None: no tangent rule yet)
    tangent: Template | None = None
    scalar_tangent: Template | None = None  # used where every argument is a scalar
    # a primitive linear in its differentiable arguments needs no template: its tangent
    # is the same call on their tangents (``LINEAR``: jointly, as a concatenation;
    # ``MULTILINEAR``: in each one separately, as a product, one term per argument)
    linear: str | None = None

    def tangent_for(self, all_scalar: bool) -> Template | None:
        """The tangent template for a call on these arguments (None: none written)."""
        if all_scalar and self.scalar_tangent is not None:
            return self.scalar_tangent
        return self.tangent

    def form_of(self, kinds: list, constants: list) -> str:
        """The form of a call whose operands have these kinds (and literal values, None
        for a name): ``NUMBERS`` for every rule but ``+`` and ``*`` on sequences."""
        return self.sequence_form(kinds, constants) if self.sequence_form else NUMBERS

    def returns_new(self, given: dict) -> bool:
        """Whether a call giving the parameters ``given`` (name -> the atom given) returns a
        new object."""
        return self.fresh(given) if callable(self.fresh) else self.fresh

    @property
    def differentiable(self) -> bool:
        return self.template is not None

    def template_for(self, all_scalar: bool, form: str = NUMBERS) -> Template:
        if form != NUMBERS:
            return self.sequence_templates[form]
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

# Whether templates registered now are parsed on first use (ad_transform's own rule
# families, imported under ``lazy_templates()``) or at once (a user's, so that a broken
# template fails where it is registered).
_LAZY_TEMPLATES = False


@contextlib.contextmanager
def lazy_templates():
    """Register the templates of the rules imported within as parsed on first use: rules are
    looked up by their primitive without parsing anything (``list_primitives`` included),
    and a template is parsed when analyze first reads it."""
    global _LAZY_TEMPLATES
    before, _LAZY_TEMPLATES = _LAZY_TEMPLATES, True
    try:
        yield
    finally:
        _LAZY_TEMPLATES = before


def _template(fn) -> Template:
    return Template(fn, lazy=_LAZY_TEMPLATES)


def _key(primitive: object) -> object:
    try:
        hash(primitive)
        return primitive
    except TypeError:
        return ("id", id(primitive))


def lookup(primitive: object) -> Rule | None:
    """The rule for ``primitive`` (an object, or a ``("method", name)`` key), if any.

    A miss first registers the rules of the optional libraries imported since (SciPy):
    an object of ``scipy.special`` can only reach here once ``scipy.special`` is imported.
    """
    try:
        key = _key(primitive)
        rule = _RULES.get(key)
    except TypeError:
        return None
    if rule is None and _OPTIONAL and load_optional_rules(import_missing=False):
        rule = _RULES.get(key)
    return rule


# Rules for optional libraries, registered only once the library is imported (never at
# ``import ad_transform``): the library module -> the rules module that registers them.
_OPTIONAL: dict[str, str] = {
    "scipy.special": "ad_transform.rules.scipy_special",
    "scipy.linalg": "ad_transform.rules.scipy_linalg",
    "scipy.stats": "ad_transform.rules.scipy_stats",
}


def load_optional_rules(import_missing: bool = True) -> bool:
    """Register the rules of the optional libraries (SciPy) that are imported, or with
    ``import_missing`` that are installed (importing them); whether any were registered.

    A rule the user registered before for the same primitive is kept. The rules count as
    ad_transform's own (``list_primitives(builtin_only=True)``, the README table).
    """
    loaded = False
    for library, rules_module in list(_OPTIONAL.items()):
        if library not in sys.modules and not (import_missing and _installed(library)):
            continue
        del _OPTIONAL[library]
        before = dict(_RULES)
        with lazy_templates():
            importlib.import_module(rules_module)
        for key in list(_RULES):
            if key in before:
                _RULES[key] = before[key]  # the user's own rule wins
            else:
                _BUILTIN.add(key)
        loaded = True
    return loaded


def _installed(module_name: str) -> bool:
    try:
        return importlib.util.find_spec(module_name) is not None
    except (ImportError, ValueError):
        return False


def all_rules() -> list[Rule]:
    """The rules of the primitives users write (not those of generated code's helpers)."""
    return [rule for rule in _RULES.values() if not _internal(rule)]


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
    fresh: bool | Callable[[dict], bool] = False,
) -> None:
    """Register the adjoint template of ``primitive``.

    ``template(g, ans, *params)`` returns the contribution to the adjoint of each
    differentiable parameter (see :mod:`ad_transform.templates`). ``scalar`` is an
    optional faster template used when every argument is a Python or NumPy scalar.
    ``kind`` is the kind of the primitive's result: ``"elementwise"`` (scalar in,
    scalar out), ``"scalar"``, ``"array"`` or ``None`` (unknown). ``fresh`` says that
    the result is always a new array (never a view of an argument, never an argument
    itself), so the function may write items into it; or it is a test of the parameters
    a call gives, a dict from their names to the atoms given (``lambda given: "copy" not
    in given``).
    """
    rule = Rule(
        primitive,
        name or display_name(primitive),
        _template(template),
        kind,
        _template(scalar) if scalar is not None else None,
        fresh=fresh,
    )
    _RULES[_key(primitive)] = rule


def register_like(primitive: object, model: object) -> None:
    """Give ``primitive`` the rule of ``model``, templates and all (``np.add`` and
    ``operator.add`` differentiate alike)."""
    rule = _RULES[_key(model)]
    _LIKE.setdefault(_key(model), []).append(_key(primitive))
    _RULES[_key(primitive)] = replace(
        rule,
        primitive=primitive,
        name=display_name(primitive),
        # a ufunc turns lists into arrays: np.add never joins them as ``+`` does
        sequence_form=None,
        sequence_templates={},
    )


def register_sequence_forms(
    primitive: object, choose: Callable[[list, list], str], templates: dict[str, Callable]
) -> None:
    """Give the rule of an operator that also joins or repeats lists and tuples (``+``,
    ``*``) the adjoints of those forms; ``choose(kinds, constants)`` picks the form of a
    call from its operands' kinds and literal values."""
    rule = _RULES[_key(primitive)]
    rule.sequence_form = choose
    rule.sequence_templates = {form: _template(t) for form, t in templates.items()}


def adjoint(
    primitive: object,
    *,
    kind: str | None = "elementwise",
    scalar: bool = False,
    fresh: bool | Callable[[dict], bool] = False,
):
    """Decorator form of :func:`register_adjoint`.

    ``@adjoint(np.sin)`` registers the generic template; ``@adjoint(np.sin, scalar=True)``
    adds the scalar-specialised one to an existing rule.
    """

    def decorate(template: Callable) -> Callable:
        if scalar:
            _RULES[_key(primitive)].scalar_template = _template(template)
        else:
            register_adjoint(primitive, template, kind=kind, fresh=fresh)
        return template

    return decorate


def tangent(primitive: object, *, scalar: bool = False):
    """Declare the tangent (JVP) template of a primitive whose adjoint rule is registered.

    ``template(g, ans, *params)`` has the adjoint template's parameters; here ``g`` is the
    tangent of each differentiable parameter in turn, and the template returns, per
    parameter, that parameter's term of the result's tangent (``J_i g``), ``None`` for a
    parameter without derivative. Forward mode adds the terms of the active parameters.
    ``scalar=True`` declares the variant used where every argument is a scalar. Primitives
    that share a rule through :func:`register_like` share its tangent too.
    """

    def decorate(template: Callable) -> Callable:
        rule = _RULES[_key(primitive)]
        if scalar:
            rule.scalar_tangent = _template(template)
        else:
            rule.tangent = _template(template)
        _share_tangent(rule)
        return template

    return decorate


def diagonal_tangents(*primitives: object) -> None:
    """The tangent of an elementwise function of real values is its adjoint template: its
    Jacobian is diagonal, hence its own transpose (``J g`` = ``J^T g`` elementwise; forward
    mode drops the template's ``unbroadcast``, which only sums a broadcast adjoint back)."""
    for primitive in primitives:
        rule = _RULES[_key(primitive)]
        rule.tangent, rule.scalar_tangent = rule.template, rule.scalar_template
        _share_tangent(rule)


_LIKE: dict[object, list[object]] = {}  # model key -> keys registered like it


def _share_tangent(rule: Rule) -> None:
    """Give the primitives registered like ``rule``'s the same tangent templates."""
    for key in _LIKE.get(_key(rule.primitive), ()):
        other = _RULES.get(key)
        if other is not None:
            other.tangent, other.scalar_tangent = rule.tangent, rule.scalar_tangent


LINEAR, MULTILINEAR = "linear", "multilinear"


def linear_tangents(*primitives: object, separately: bool = False) -> None:
    """Declare primitives linear in their differentiable arguments (those their adjoint
    template returns a contribution for): jointly (``np.concatenate``, ``np.diag``, ``x.T``;
    the tangent is the call on every one's tangent) or, with ``separately``, in each one
    with the others fixed (``np.dot``, ``np.kron``; a sum of one call per active argument)."""
    for primitive in primitives:
        rule = _RULES[_key(primitive)]
        if not _LAZY_TEMPLATES:  # ad_transform's own: checked by tests/test_forward_rules.py
            check_linear_defaults(rule)
        rule.linear = MULTILINEAR if separately else LINEAR
        for key in _LIKE.get(_key(primitive), ()):
            if key in _RULES:
                _RULES[key].linear = rule.linear


def check_linear_defaults(rule: Rule) -> None:
    """A ``TypeError`` unless each differentiable parameter of ``rule`` defaults to nothing
    or to 0 (a default a call leaves out stays in the tangent of a linear primitive)."""
    for param in rule.template.outputs:
        default = rule.template.signature.parameters[param].default
        if default is not inspect.Parameter.empty and default not in (None, 0, ()):
            raise TypeError(f"{rule.name}: the default of {param!r} is not 0: not linear")


def tangent_counts(builtin_only: bool = True) -> tuple[int, int]:
    """How many differentiable primitives have a tangent rule, and how many have an
    adjoint rule (``list_primitives``' primitives, by display name)."""
    load_optional_rules()
    adjoints, tangents = set(), set()
    for key, rule in _RULES.items():
        if (builtin_only and key not in _BUILTIN) or _internal(rule) or not rule.differentiable:
            continue
        adjoints.add(rule.name)
        if rule.tangent is not None or rule.linear is not None:
            tangents.add(rule.name)
    return len(tangents), len(adjoints)


NONDIFFERENTIABLE_MARKER = " (no derivative)"


_BUILTIN: set = set()  # keys of the rules ad_transform itself registers


def mark_builtin_rules() -> None:
    """Remember the rules registered so far as ad_transform's own (``rules/__init__``)."""
    _BUILTIN.update(_RULES)


def list_primitives(builtin_only: bool = False) -> list[str]:
    """Every supported primitive, by display name, sorted: one line each.

    Functions (``numpy.sin``), methods (``ndarray.sum()``), attributes (``ndarray.T``),
    operators (``operator.add``) and builtins (``abs``); those registered by the user
    too unless ``builtin_only``. Primitives whose result carries no derivative (indices,
    masks, shapes, constructors from shapes) end with ``NONDIFFERENTIABLE_MARKER``.
    The rules of installed optional libraries (SciPy) are registered first.
    """
    load_optional_rules()
    return sorted(
        {
            rule.name + ("" if rule.differentiable else NONDIFFERENTIABLE_MARKER)
            for key, rule in _RULES.items()
            if (not builtin_only or key in _BUILTIN) and not _internal(rule)
        }
    )


def _internal(rule: Rule) -> bool:
    """A rule of a helper only generated code calls (``runtime.alias_after``): not a
    primitive users write."""
    return (getattr(rule.primitive, "__module__", None) or "").startswith("ad_transform.")


def primitives_markdown() -> str:
    """The supported primitives as a Markdown table, one row per namespace (for the README).

    Generated from the registry's own rules, like ``list_primitives(builtin_only=True)``:
    functions of ``numpy``,
    ``numpy.linalg``, ``math``, ``operator`` and the builtins, and the methods and
    attributes of arrays, each split into differentiable ones and those recognised as
    having no derivative; SciPy's too when it is installed.
    """
    load_optional_rules()
    groups: dict[str, tuple[list[str], list[str]]] = {}
    for key, rule in _RULES.items():
        if key not in _BUILTIN or _internal(rule):
            continue
        name = rule.name
        if name.startswith("ndarray."):
            namespace, member = "ndarray", name[len("ndarray") :]
        elif "." in name:
            namespace, _, member = name.rpartition(".")
        else:
            namespace, member = "builtins", name
        differentiable, constant = groups.setdefault(namespace, ([], []))
        (differentiable if rule.differentiable else constant).append(member)
    order = ["numpy", "numpy.linalg", "ndarray", "operator", "math", "builtins"]
    namespaces = sorted(groups, key=lambda n: (order.index(n) if n in order else len(order), n))
    total = len(list_primitives(builtin_only=True))
    numpy_total = sum(
        len(set(groups[n][0])) + len(set(groups[n][1]))
        for n in namespaces
        if n.startswith("numpy") or n == "ndarray"
    )
    lines = [
        f"{total} primitives, {numpy_total} of them NumPy functions, array methods and attributes.",
        "",
        "| namespace | differentiable | recognised, no derivative |",
        "| --- | --- | --- |",
    ]
    for namespace in namespaces:
        cells = [", ".join(f"`{m}`" for m in sorted(set(names))) for names in groups[namespace]]
        lines.append(f"| `{namespace}` | {cells[0]} | {cells[1]} |")
    aliases = _numpy_aliases()
    if aliases:
        lines += ["", "Also spelled (the same objects): " + ", ".join(aliases) + "."]
    return "\n".join(lines) + "\n"


def _numpy_aliases() -> list[str]:
    """``np.abs`` = ``np.absolute`` and the like: public NumPy names of registered rules."""
    aliases = []
    for module, prefix in ((np, "numpy."), (np.linalg, "numpy.linalg.")):
        for attribute in sorted(dir(module)):
            if attribute.startswith("_"):
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # deprecated aliases warn when read
                primitive = getattr(module, attribute, None)
            rule = lookup(primitive)
            if rule is None or _key(primitive) not in _BUILTIN or not rule.name.startswith(prefix):
                continue
            canonical = rule.name[len(prefix) :]
            if "." not in canonical and canonical != attribute:
                aliases.append(f"`{prefix}{attribute}` = `{canonical}`")
    return aliases


def register_nondifferentiable(
    *primitives: object, kind: str | None = None, pure: bool = True, fresh: bool = False
) -> None:
    """Declare primitives whose result carries no derivative (integers, booleans, shapes...).

    Gradients do not flow through them; ``pure=False`` marks a call with side effects
    (``print``) that must be kept even when its result is unused; ``fresh`` one whose
    result is a new array (``np.zeros``).
    """
    for primitive in primitives:
        _RULES[_key(primitive)] = Rule(
            primitive, display_name(primitive), None, kind, pure=pure, fresh=fresh
        )
