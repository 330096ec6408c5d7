"""Complex values between real arguments and a real result: where they may flow.

The rules written and tested for complex values under JAX's convention
(docs/conventions/complex.md) are listed in ``COMPLEX_RULES``; the others are written
for real values, and some give a wrong adjoint on complex ones (``np.correlate``
conjugates, a Python number's adjoint cast to float, SciPy's formulas). So in a function
where complex values may appear, every active statement must be one of those rules on
arrays or numbers (not lists or dicts of values), a user call (whose pair is built under
the same check), or a plain copy, display, item store or return; anything else is
refused, naming the operation.

Complex values may appear where the function has a complex constant, names a complex
type or dtype or a complex array of its globals, calls ``complex(...)`` or an FFT, or
calls a helper that may do so (its source, and its helpers', read statically), and in
every helper called from such a function (``Op.complex_context``, part of the helper
pair's cache key).
"""

from __future__ import annotations

import builtins
import types

import gast
import numpy as np

from .nodes import subnodes
from .rules.registry import ARRAY, DICT, SCALAR, SEQUENCE

_OPERATORS = ("add", "sub", "mul", "truediv", "pow", "neg", "pos", "getitem", "matmul")
# each checked on complex values by finite differences in tests/test_coverage2_fft.py
_NUMPY = (
    *("add", "subtract", "multiply", "divide", "true_divide", "power", "negative"),
    *("positive", "exp", "log", "sin", "cos", "tan", "sinh", "cosh", "tanh", "sqrt"),
    *("square", "reciprocal", "conjugate", "absolute", "angle", "real", "imag"),
    *("real_if_close", "sum", "mean", "prod", "cumprod", "cumsum", "reshape", "ravel"),
    *("transpose",),
    *("matmul", "dot", "where", "arcsin", "arctan", "arccosh", "arctanh", "log1p"),
    *("expm1", "log10", "float_power", "sinc", "trace", "diagonal", "diag"),
    *("concatenate", "stack", "array", "outer", "vdot", "tensordot", "einsum"),
    *("maximum", "max"),
)
_FFT = (
    *("fft", "ifft", "rfft", "irfft", "fft2", "ifft2", "rfft2", "irfft2", "fftn"),
    *("ifftn", "rfftn", "irfftn", "fftshift", "ifftshift"),
)
_ARRAY_MEMBERS = (
    *("real", "imag", "T", "conj()", "conjugate()", "sum()", "mean()", "prod()"),
    *("reshape()", "ravel()", "transpose()", "astype()"),
)
# runtime helpers of plain derivative code (second order, higher_order_rules_2.md) whose
# adjoint and tangent rules are complex-correct under the convention: linear or bilinear
# (holomorphic) maps and their transposes; not abs_adjoint (its partial in z is written
# for real z only)
_RUNTIME = (
    *("elementwise.times", "adjoints.unbroadcast", "higher_order.to_shape_of"),
    *("reductions.expand_reduced", "operators.add_adjoint_left", "operators.add_adjoint_right"),
    *("operators.mul_adjoint_left", "operators.mul_adjoint_right", "adjoints.as_gradient"),
    *("complex_values.real_adjoint", "complex_values.conjugate_adjoint"),
    *("complex_values.imag_adjoint", "fft.fft_adjoint", "fft.fftn_adjoint"),
    *("fft.rfft_adjoint", "fft.irfft_adjoint", "fft.fftshift_adjoint"),
    *("fft.rfftn_adjoint", "fft.irfftn_adjoint"),
    *("higher_order_2.rfftn_adjoint_cotangent", "higher_order_2.irfftn_adjoint_cotangent"),
    *("conversions.operand_adjoint", "conversions.array_operand"),  # identities on arrays
    *("shape_indexing.reshape_adjoint", "shape_indexing.transpose_adjoint"),
    # on numbers and arrays ``to_shape_of(times(c, y), adjoint)``, as the rule before them
    *("higher_order_containers.mul_left_cotangent", "higher_order_containers.mul_right_cotangent"),
)
COMPLEX_RULES = frozenset(
    {
        *(f"ad_transform.runtime.{name}" for name in _RUNTIME),
        *(f"operator.{name}" for name in _OPERATORS),
        *("abs", "complex", "numpy.linalg.inv", "numpy.linalg.solve", "numpy.linalg.det"),
        *(f"numpy.{name}" for name in _NUMPY),
        *(f"numpy.fft.{name}" for name in _FFT),
        *(f"ndarray.{name}" for name in _ARRAY_MEMBERS),
    }
)

# statements that move values without arithmetic of their own
_PLAIN_FORMS = frozenset({"copy", "constant", "build", "return", "store_item"})


_REAL_RESULTS = frozenset(
    {"numpy.real", "numpy.imag", "numpy.absolute", "numpy.angle", "abs"}
    | {"ndarray.real", "ndarray.imag"}
)


def refuse_complex_flows(analysis, complex_context: bool = False) -> None:
    """Refuse an active statement that reads a value that may be complex when its adjoint
    was not written for complex values; mark the user calls given such values (their
    pairs are checked the same way, their parameters taken as possibly complex)."""
    names = complex_names(analysis, complex_context)
    if not names and not any(_reads_complex(op, names, analysis) for op in analysis.ops):
        return
    analysis.complex_values = True
    for op in analysis.ops:
        if not _reads_complex(op, names, analysis):
            continue
        if op.form == "user_call":
            op.complex_context = True
        if not op.active or op.form in _PLAIN_FORMS or op.form == "user_call":
            continue
        if (
            op.form == "rule"
            and op.rule.name in COMPLEX_RULES
            and not _container_operand(op, names, analysis)
        ):
            continue
        what = op.rule.name if op.rule is not None else f"this {op.form.replace('_', ' ')}"
        raise analysis.fn.parsed.error(
            f"cannot differentiate {what} of a value that may be a complex array or number: "
            "its adjoint is written for real values (complex values are differentiated "
            "through arithmetic, the NumPy elementwise functions, sums, matrix products and "
            "the FFTs, on arrays and numbers; see docs/conventions/complex.md)",
            op.stmt,
        )


def complex_names(analysis, complex_context: bool = False) -> set[str]:
    """The names that may hold complex values: results of complex sources (constants,
    types, globals, ``complex(...)``, FFTs, helpers that make them) and of operations on
    such values (except ``real``/``imag``/``abs``/``angle``, which are real); with
    ``complex_context``, the parameters too."""
    names = set(analysis.fn.params) if complex_context else set()
    changed = True
    while changed:
        changed = False
        for op in analysis.ops:
            if op.target is None or op.target in names:
                continue
            if (op.rule is not None and op.rule.name in _REAL_RESULTS) or _is_slice(op):
                continue  # real results; a slice's complex step counts points (np.r_)
            if _makes_complex(op, analysis) or _reads_complex(op, names, analysis):
                names.add(op.target)
                changed = True
    return names


def _makes_complex(op, analysis) -> bool:
    if op.rule is not None and (op.rule.name == "complex" or op.rule.name.startswith("numpy.fft.")):
        return True
    return bool(op.form == "user_call" and _may_make_complex(op.callee, set()))


def _reads_complex(op, names: set, analysis) -> bool:
    if _is_slice(op):
        return False
    for atom in op.inputs.values():
        if _is_complex_atom(atom, analysis.fn.parsed, analysis.fn):
            return True
        if any(isinstance(n, gast.Name) and n.id in names for n in subnodes(atom)):
            return True
    return False


def _may_make_complex(callee, seen: set) -> bool:
    """Whether the user function ``callee`` (or one it calls) has a complex source."""
    from .parse import parse_function

    function = getattr(callee, "__func__", callee)
    if not isinstance(function, types.FunctionType) or id(function) in seen:
        return False
    if (function.__module__ or "").startswith("ad_transform.runtime"):
        return False  # a helper of generated code (higher_order.py): a primitive with rules
    seen.add(id(function))
    try:
        parsed = parse_function(function)
    except Exception:  # not readable: its own transformation refuses it
        return False
    for node in subnodes(parsed.tree):
        if _is_complex_atom(node, parsed, None, descend=False):
            return True
        if isinstance(node, gast.Call) and isinstance(node.func, gast.Name):
            inner = _lookup(parsed, node.func.id)
            if isinstance(inner, types.FunctionType) and _may_make_complex(inner, seen):
                return True
    return False


def _is_complex_atom(atom, parsed, fn, descend: bool = True) -> bool:
    nodes = subnodes(atom) if descend and isinstance(atom, gast.AST) else (atom,)
    steps = {id(n.step) for n in nodes if isinstance(n, gast.Slice) and n.step is not None}
    for node in nodes:
        if id(node) in steps:  # np.r_[0:1:5j]: a number of points, not a complex value
            continue
        if isinstance(node, gast.Constant):
            value = node.value
            if isinstance(value, complex) or (isinstance(value, str) and "complex" in value):
                return True
        elif isinstance(node, (gast.Name, gast.Attribute)):
            value = _static_value(node, parsed, fn)
            if _is_complex_object(value):
                return True
    return False


def _is_complex_object(value) -> bool:
    if value is builtins.complex or isinstance(value, complex):
        return True
    if isinstance(value, type) and issubclass(value, np.complexfloating):
        return True
    if isinstance(value, (np.ndarray, np.generic, np.dtype)):
        return getattr(value, "dtype", value).kind == "c"
    return value is np.fft


def _static_value(node, parsed, fn):
    """The object a global name or a module attribute chain (``np.complex128``) names."""
    if isinstance(node, gast.Name):
        if fn is not None and (node.id in fn.source_of or node.id in fn.params):
            return None
        return _lookup(parsed, node.id)
    if not isinstance(node.value, (gast.Name, gast.Attribute)):
        return None
    base = _static_value(node.value, parsed, fn)
    if base is None or not isinstance(base, types.ModuleType | type):
        return None
    return getattr(base, node.attr, None)


def _lookup(parsed, name: str):
    try:
        return parsed.lookup(name)
    except Exception:  # a local or an unbound global: nothing complex
        return None


# rules that may take possibly complex values inside a list or tuple (of arrays, or of
# NumPy numbers read from arrays); any other rule is refused such a container
_CONTAINER_RULES = frozenset(f"numpy.{name}" for name in ("array", "concatenate", "stack"))


def _container_operand(op, names: set, analysis) -> bool:
    """Whether ``op`` reads possibly complex values inside a list, tuple or dict in a way
    whose adjoint is not followed for complex values: by a rule other than the array
    constructors and joins, from a container not made by a display here, or holding
    values computed from Python numbers (their adjoints are cast to float)."""
    containers = [
        atom.id
        for atom in op.inputs.values()
        if isinstance(atom, gast.Name)
        and atom.id in names
        and analysis.kinds.get(atom.id) in (SEQUENCE, DICT)
    ]
    if not containers:
        return False
    if op.rule.name not in _CONTAINER_RULES:
        return True
    displays = {o.target: o for o in analysis.ops if o.form == "build" and o.target}
    numbers = _number_derived(analysis)
    for name in containers:
        build = displays.get(name)
        if build is None:
            return True
        if any(
            isinstance(e, gast.Name) and e.id in names and e.id in numbers
            for e in build.inputs.values()
        ):
            return True
    return False


def _number_derived(analysis) -> set[str]:
    """Names that hold Python numbers or values computed from them (not arrays)."""
    derived = {n for n, kind in analysis.kinds.items() if kind == SCALAR}
    changed = True
    while changed:
        changed = False
        for op in analysis.ops:
            target = op.target
            if target is None or target in derived or analysis.kinds.get(target) == ARRAY:
                continue
            if any(
                isinstance(n, gast.Name) and n.id in derived
                for atom in op.inputs.values()
                for n in gast.walk(atom)
            ):
                derived.add(target)
                changed = True
    return derived


def _is_slice(op) -> bool:
    """Whether ``op`` is ``v = slice(...)`` (normalize's form of ``a:b:c`` in ``np.r_``)."""
    value = getattr(op.stmt, "value", None)
    return (
        isinstance(value, gast.Call)
        and isinstance(value.func, gast.Name)
        and value.func.id == "slice"
    )
