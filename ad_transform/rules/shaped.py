"""Adjoint forms chosen by shape facts (``shapes.py``): what a person writes when the
ranks are known. Not registered for any primitive: ``reverse.py`` uses them in place of
a rule's generic template where the facts prove the ranks (and real float dtypes).

``x @ y`` (and ``np.dot(a, b)``, ``a.dot(b)``, which compute the same for 1-D and 2-D
operands) of real float arrays: the adjoints are the matrix products themselves, no
runtime dispatch on the ranks (``matmul_adjoint_left``/``_right``, ``dot_adjoint_*``
decide when run). The parameter names are the rule's (``x, y``; ``a, b``; ``self, b``)."""

from __future__ import annotations

import functools

import gast
import numpy as np

from ..nodes import clone
from ..templates import Template


def d_matmul_matrices(g, ans, x, y):
    return g @ y.T, x.T @ g


def d_matmul_matrix_vector(g, ans, x, y):
    return np.outer(g, y), x.T @ g


def d_matmul_vector_matrix(g, ans, x, y):
    return y @ g, np.outer(x, g)


def d_copy_array(g, ans, self):
    return g


def d_matmul_vectors(g, ans, x, y):
    return g * y, g * x


def d_dot_matrices(g, ans, a, b):
    return g @ b.T, a.T @ g


def d_dot_matrix_vector(g, ans, a, b):
    return np.outer(g, b), a.T @ g


def d_dot_vector_matrix(g, ans, a, b):
    return b @ g, np.outer(a, g)


def d_dot_vectors(g, ans, a, b):
    return g * b, g * a


def d_dot_method_matrices(g, ans, self, b):
    return g @ b.T, self.T @ g


def d_dot_method_matrix_vector(g, ans, self, b):
    return np.outer(g, b), self.T @ g


def d_dot_method_vector_matrix(g, ans, self, b):
    return b @ g, np.outer(self, g)


def d_dot_method_vectors(g, ans, self, b):
    return g * b, g * self


_FORMS = {
    "x": {
        (2, 2): d_matmul_matrices,
        (2, 1): d_matmul_matrix_vector,
        (1, 2): d_matmul_vector_matrix,
        (1, 1): d_matmul_vectors,
    },
    "a": {
        (2, 2): d_dot_matrices,
        (2, 1): d_dot_matrix_vector,
        (1, 2): d_dot_vector_matrix,
        (1, 1): d_dot_vectors,
    },
    "self": {
        (2, 2): d_dot_method_matrices,
        (2, 1): d_dot_method_matrix_vector,
        (1, 2): d_dot_method_vector_matrix,
        (1, 1): d_dot_method_vectors,
    },
}


@functools.cache
def matmul_template(ranks: tuple[int, int], first: str = "x") -> Template:
    """The template of a matrix product whose first operand's parameter is ``first``
    (``x @ y``, ``np.dot(a, b)``, ``a.dot(b)``) for operands of these ranks (parsed at
    first use)."""
    return Template(_FORMS[first][ranks])


# ``np.einsum`` of two matrices that is a matrix product: each operand's adjoint is one
# matrix product of ``g`` and the other operand, each taken as it is or transposed
_EINSUM_SIGNATURE = (
    "g, ans, subscripts, o0, o1, o2=None, o3=None, o4=None, o5=None, o6=None, o7=None, "
    "optimize=False"
)


def _einsum_operand_adjoint(mine: str, other: str, output: str, other_name: str) -> str:
    """The expression of the adjoint of an operand with labels ``mine`` (two) from ``g``
    (labels ``output``) and the other operand (``other``): ``g @ o1.T``, ``o0.T @ g``..."""
    (c,) = set(mine) & set(other)
    a = mine.replace(c, "")
    b = other.replace(c, "")

    def oriented(name: str, labels: str, wanted: str) -> str:
        return name if labels == wanted else name + ".T"

    if mine == a + c:  # d[a, c] = sum_b g[a, b] other[c, b]
        return f"{oriented('g', output, a + b)} @ {oriented(other_name, other, b + c)}"
    return f"{oriented(other_name, other, c + b)} @ {oriented('g', output, b + a)}"


def einsum_product(first: str, second: str, output: str, x, y):
    """The expression ``x @ y.T`` (and the like) computing ``np.einsum(f"{first},{second}
    ->{output}", x, y)`` of two matrices that is one matrix product; ``x``, ``y`` atoms."""
    (c,) = set(first) & set(second)
    a, b = first.replace(c, ""), second.replace(c, "")

    def oriented(atom, labels: str, wanted: str):
        node = clone(atom)
        if labels == wanted:
            return node
        return gast.Attribute(value=node, attr="T", ctx=gast.Load())

    if output == a + b:
        left, right = oriented(x, first, a + c), oriented(y, second, c + b)
    else:
        left, right = oriented(y, second, b + c), oriented(x, first, c + a)
    return gast.BinOp(left=left, op=gast.MatMult(), right=right)


@functools.cache
def einsum_matrix_template(first: str, second: str, output: str) -> Template:
    """The template of ``np.einsum(f"{first},{second}->{output}", o0, o1)`` for a matrix
    product of two matrices (``shapes.einsum_matrix_terms``): ``g @ o1.T, o0.T @ g``...
    without the plan and the dispatch of ``einsum_adjoint``."""
    d0 = _einsum_operand_adjoint(first, second, output, "o1")
    d1 = _einsum_operand_adjoint(second, first, output, "o0")
    source = f"def d_einsum_matrices({_EINSUM_SIGNATURE}):\n    return None, {d0}, {d1}\n"
    namespace: dict = {"np": np}
    exec(compile(source, "<ad_transform einsum matrices>", "exec"), namespace)
    return Template(namespace["d_einsum_matrices"], source=source)


@functools.cache
def new_axes_template(parts: str) -> Template:
    """The template of ``x[:, None, :]`` (full slices and ``None`` only, of a real float
    array): ``g[:, 0, :]``, the adjoint seen in ``x``'s shape (a view of ``g``), instead of
    zeros shaped like ``x`` with ``g`` written into them. ``parts``: the index of ``g``."""
    source = f"def d_getitem_new_axes(g, ans, x, index):\n    return g[{parts}], None\n"
    namespace: dict = {}
    exec(compile(source, "<ad_transform new axes>", "exec"), namespace)
    return Template(namespace["d_getitem_new_axes"], source=source)


@functools.cache
def copy_array_template() -> Template:
    """The template of ``x.copy()`` of an ndarray (``shapes.is_array_copy``): ``g``."""
    return Template(d_copy_array)


@functools.cache
def reduced_axis_template(kind: str, operand: str, axis: int, keepdims: bool) -> Template:
    """The template of ``np.sum(a, axis=k)`` (``mean``, the methods) of an array of known
    rank (``shapes.reduced_axis``): ``g`` repeated along the reduced axis,
    ``np.repeat(g[:, None], a.shape[1], axis=1)``, a new array of ``a``'s shape (not the
    read-only view ``np.broadcast_to`` makes, at a third of its cost)."""
    g = "g" if keepdims else "g[" + ":, " * axis + "None]"
    count = f"{operand}.shape[{axis}]"
    spread = g if kind == "sum" else f"{g} / {count}"
    params = f"g, ans, {operand}, axis=None, dtype=None, keepdims=False"
    source = f"def d_{kind}_axis({params}):\n    return np.repeat({spread}, {count}, axis={axis})\n"
    namespace: dict = {"np": np}
    exec(compile(source, f"<ad_transform {kind} axis>", "exec"), namespace)
    return Template(namespace[f"d_{kind}_axis"], source=source)
