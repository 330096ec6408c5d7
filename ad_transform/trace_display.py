"""The expressions the evaluation trace shows (``trace.py``): names as labels or values,
``np.log`` as ``log``, and the adjoint helpers of the rules written as the textbook
formulas they compute (``_TEXTBOOK``, ``_TEXTBOOK_OF_VALUES``)."""

from __future__ import annotations

import types

import gast
import numpy as np

from . import runtime
from .trace_text import _MISSING


class _Display(gast.NodeTransformer):
    """Names become labels (``v3``, ``v̄3``) or values; ``np.log`` becomes ``log``."""

    def __init__(self, name_text, ns: dict) -> None:
        self.name_text, self.ns = name_text, ns

    def visit_Name(self, node: gast.Name) -> gast.expr:
        shown = self.name_text(node.id)
        if shown is None:
            return node
        if isinstance(shown, str):
            return gast.Name(id=shown, ctx=node.ctx, annotation=None, type_comment=None)
        return gast.Constant(value=shown, kind=None)

    def visit_Attribute(self, node: gast.Attribute) -> gast.expr:
        chain = []
        root = node
        while isinstance(root, gast.Attribute):
            chain.append(root)
            root = root.value
        if isinstance(root, gast.Name) and isinstance(self.ns.get(root.id), types.ModuleType):
            # drop the module: np.log -> log, np.linalg.norm -> linalg.norm
            innermost = chain[-1]
            replacement = gast.Name(
                id=innermost.attr, ctx=gast.Load(), annotation=None, type_comment=None
            )
            if innermost is node:
                return replacement
            parent = chain[-2]
            parent.value = replacement
            return node
        self.generic_visit(node)
        return node

    def visit_Call(self, node: gast.Call) -> gast.expr:
        """A runtime helper of the shape-generic code is shown as the textbook operation
        it computes (``matmul_adjoint_left(g, a, b)`` as ``g @ bᵀ``); only the text
        changes: the value shown is what the helper computed. The helpers of
        ``_TEXTBOOK_OF_VALUES`` also see the values of their arguments (a shape, whether
        there is a tie) and keep the call when no textbook form fits them."""
        values = [self.value_of(a) for a in node.args]  # before the names become labels
        self.generic_visit(node)
        func = node.func
        helper = self.ns.get(func.id) if isinstance(func, gast.Name) else None
        if not (getattr(helper, "__module__", None) or "").startswith(runtime.__name__ + "."):
            return node
        name = getattr(helper, "__name__", None)
        rewrite = _TEXTBOOK.get(name)
        try:
            if rewrite is not None:
                return rewrite(*node.args)
            by_value = _TEXTBOOK_OF_VALUES.get(name)
            if by_value is not None and not node.keywords:
                return by_value(node.args, values) or node
        except (TypeError, ValueError):  # another arity or argument: show the call
            pass
        return node

    def value_of(self, node: gast.expr) -> object:
        """The value of a name or constant argument, else ``_MISSING``."""
        if isinstance(node, gast.Constant):
            return node.value
        if isinstance(node, gast.Name):
            return self.ns.get(node.id, _MISSING)
        return _MISSING

    def visit_IfExp(self, node: gast.IfExp) -> gast.expr:
        """A scalar rule's guard (``g * d if g else 0.0``, ``g / d if g and d else
        scalar_over(g, d)``) is shown as its rule, ``g * d``: the table teaches the rule."""
        if _is_guard(node):
            return self.visit(node.body)
        self.generic_visit(node)
        return node

    def visit_Constant(self, node: gast.Constant) -> gast.expr:
        value = node.value
        if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
            return gast.Constant(value=int(value), kind=None)
        return node


def _binary(left: gast.expr, op: gast.operator, right: gast.expr) -> gast.expr:
    return gast.BinOp(left=left, op=op, right=right)


def _transposed(node: gast.expr) -> gast.expr:
    """``vᵀ`` for a label, ``(...).T`` for anything else."""
    if isinstance(node, gast.Name):
        return gast.Name(id=node.id + "ᵀ", ctx=gast.Load(), annotation=None, type_comment=None)
    return gast.Attribute(value=node, attr="T", ctx=gast.Load())


def _first(g, *rest):
    return g


# runtime helper name -> the textbook expression of its arguments (display only)
_TEXTBOOK = {
    "seed": lambda ans: gast.Constant(value=1, kind=None),
    "unbroadcast": lambda g, x: g,
    "expand_reduced": _first,
    "as_gradient": _first,
    "times": lambda g, d: _binary(g, gast.Mult(), d),
    "over": lambda g, d: _binary(g, gast.Div(), d),
    "add_adjoint_left": _first,
    "add_adjoint_right": _first,
    "mul_adjoint_left": lambda g, x, y: _binary(g, gast.Mult(), y),
    "mul_adjoint_right": lambda g, x, y: _binary(g, gast.Mult(), x),
    "matmul_adjoint_left": lambda g, x, y: _binary(g, gast.MatMult(), _transposed(y)),
    "matmul_adjoint_right": lambda g, x, y: _binary(_transposed(x), gast.MatMult(), g),
    "dot_adjoint_left": lambda g, a, b: _binary(g, gast.MatMult(), _transposed(b)),
    "dot_adjoint_right": lambda g, a, b: _binary(_transposed(a), gast.MatMult(), g),
}


def _call(function: str, *args: gast.expr) -> gast.Call:
    return gast.Call(
        func=gast.Name(id=function, ctx=gast.Load(), annotation=None, type_comment=None),
        args=list(args),
        keywords=[],
    )


def _constant(value: object) -> gast.Constant:
    return gast.Constant(value=value, kind=None)


def _compare(left: gast.expr, op: gast.cmpop, right: gast.expr) -> gast.Compare:
    return gast.Compare(left=left, ops=[op], comparators=[right])


def _is_array(value: object, ndim: int | None = None) -> bool:
    return isinstance(value, np.ndarray) and (ndim is None or value.ndim == ndim)


def _is_default(rest: list, default: str) -> bool:
    """Whether the optional string argument is absent or its default."""
    return not rest or (len(rest) == 1 and isinstance(rest[0], str) and rest[0] == default)


def _count(x, ddof) -> int | None:
    if not (_is_array(x) and isinstance(ddof, int)):
        return None
    return x.size - ddof


def _norm_text(args, values):
    g, ans, x = args[:3]
    ord_, axis = (values[3:5] + [None, None])[:2]
    if axis is None and ord_ in (None, 2):
        return _binary(_binary(g, gast.Mult(), x), gast.Div(), ans)
    if axis is None and ord_ == 1:
        return _binary(g, gast.Mult(), _call("sign", x))
    return None


def _tie_share_text(args, values):
    g, x, y = args
    known = all(v is not _MISSING for v in values[1:])
    ties = np.equal(values[1], values[2]) if known else True
    return None if np.any(ties) else _binary(g, gast.Mult(), _compare(x, gast.Gt(), y))


def _sort_text(args, values):
    g, x, *_ = args
    if not _is_array(values[1], 1):
        return None
    inverse = _call("argsort", _call("argsort", x))
    return gast.Subscript(value=g, slice=inverse, ctx=gast.Load())


def _pad_text(args, values):
    g = args[0]
    if not _is_default(values[3:], "constant") or not _is_array(values[0]):
        return None
    try:
        widths = np.broadcast_to(np.asarray(values[2], dtype=np.intp), (values[0].ndim, 2))
    except (TypeError, ValueError):
        return None
    slices = [
        gast.Slice(
            lower=_constant(int(before)) if before else None,
            upper=_constant(-int(after)) if after else None,
            step=None,
        )
        for before, after in widths
    ]
    index = slices[0] if len(slices) == 1 else gast.Tuple(elts=slices, ctx=gast.Load())
    return gast.Subscript(value=g, slice=index, ctx=gast.Load())


def _reduced_count_text(args, values):
    x = values[0]
    axis = values[1] if len(values) > 1 else None
    if x is _MISSING or axis is _MISSING:
        return None
    return _constant(runtime.reduced_count(x, axis))


def _extremum_text(args, values):
    g, ans, x, *_ = args
    axis = values[3] if len(values) > 3 else None
    if axis is not None or not _is_array(values[2]) or values[1] is _MISSING:
        return None
    if np.count_nonzero(values[2] == values[1]) != 1:
        return None  # ties share the adjoint: keep the call
    return _binary(g, gast.Mult(), _compare(x, gast.Eq(), ans))


def _centered(x: gast.expr) -> gast.expr:
    return _binary(x, gast.Sub(), _call("mean", x))


def _var_text(args, values):
    g, x, *_ = args
    axis, ddof, _, correction = (values[2:6] + [None, 0, False, None])[:4]
    count = _count(values[1], ddof)
    if axis is not None or correction is not None or not count:
        return None
    scaled = _binary(_binary(g, gast.Mult(), _constant(2)), gast.Mult(), _centered(x))
    return _binary(scaled, gast.Div(), _constant(count))


def _std_text(args, values):
    g, ans, x, *_ = args
    axis, ddof, _, correction = (values[3:7] + [None, 0, False, None])[:4]
    count = _count(values[2], ddof)
    if axis is not None or correction is not None or not count:
        return None
    denominator = _binary(_constant(count), gast.Mult(), ans)
    return _binary(_binary(g, gast.Mult(), _centered(x)), gast.Div(), denominator)


def _cumsum_text(args, values):
    g = args[0]
    axis = values[2] if len(values) > 2 else None
    if axis not in (None, 0, -1) or not _is_array(values[1], 1):
        return None
    backwards = gast.Slice(lower=None, upper=None, step=_constant(-1))
    reversed_g = gast.Subscript(value=g, slice=backwards, ctx=gast.Load())
    return gast.Subscript(value=_call("cumsum", reversed_g), slice=backwards, ctx=gast.Load())


def _reshape_text(args, values):
    g = args[0]
    if not _is_default(values[2:], "C") or not _is_array(values[1]):
        return None
    return _call("reshape", g, _constant(values[1].shape))


def _power_derivative_text(args, values):
    """``y * x ** (y - 1)`` (folded for a number ``y``: ``2 * x``); the call where ``y``
    is 0 somewhere (the derivative is 0 there, even at ``x == 0``) or not a number."""
    x = args[0]
    exponent = values[1]
    if len(args) != 2 or not isinstance(exponent, (int, float)) or exponent == 0:
        return None
    lower = exponent - 1
    if lower == 1:
        return _binary(_constant(exponent), gast.Mult(), x)
    return _binary(_constant(exponent), gast.Mult(), _binary(x, gast.Pow(), _constant(lower)))


# runtime helper name -> its textbook expression, from the arguments (display nodes) and
# their values (``_MISSING`` when not a name or constant); None keeps the call
_TEXTBOOK_OF_VALUES = {
    "norm_adjoint": _norm_text,
    "tie_share": _tie_share_text,
    "sort_adjoint": _sort_text,
    "pad_adjoint": _pad_text,
    "reduced_count": _reduced_count_text,
    "extremum_adjoint": _extremum_text,
    "var_adjoint": _var_text,
    "std_adjoint": _std_text,
    "cumsum_adjoint": _cumsum_text,
    "reshape_adjoint": _reshape_text,
    "power_derivative": _power_derivative_text,
}


def _is_guard(node: gast.IfExp) -> bool:
    """Whether ``node`` is a guard of a scalar adjoint template (see ``rules/operators``)."""
    orelse = node.orelse
    if isinstance(orelse, gast.Constant) and orelse.value == 0:
        return True
    return (
        isinstance(orelse, gast.Call)
        and isinstance(orelse.func, gast.Name)
        and orelse.func.id.startswith("scalar_")
    )
