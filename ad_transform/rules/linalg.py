"""Adjoints of products and linear algebra.

Products (``dot``, ``vdot``, ``inner``, ``outer``, ``matmul``/``@``, ``tensordot``,
``einsum``, ``kron``) are bilinear: each argument's adjoint is another product of
``g`` with the other arguments, with NumPy's conventions for 1-D arguments, batches
(broadcast batch axes are summed back) and, for ``np.dot`` with 3-D or more, its own
pairing of axes. ``einsum`` takes explicit or implicit subscripts, ``...``, repeated
labels (diagonals) and any number of operands (up to 8 here).

Decompositions use the standard results (``a^{-T}`` is the inverse transposed):

* ``solve(a, b) = x``: ``d b = solve(a^T, g)``, ``d a = -d b x^T``;
* ``inv(a)``: ``d a = -ans^T g ans^T``;
* ``det(a)``: ``d a = g det(a) a^{-T}`` (the cofactor matrix; from the SVD for a
  singular matrix, exact for rank ``n - 1``);
* ``slogdet(a) = (sign, logabsdet)``: ``d a = g_logabsdet a^{-T}`` (the sign is
  piecewise constant). The result is a tuple: unpack it (``sign, logdet =
  np.linalg.slogdet(a)``), index it (``np.linalg.slogdet(a)[1]``) or use its fields
  (``.logabsdet``, ``.sign``);
* ``cholesky(a)``: Murray's (2016) formula. NumPy reads only the lower triangle of
  ``a`` (``upper=True``: the upper one), so the gradient lies there: an off-diagonal
  entry stands for both symmetric positions. For ``a`` built symmetrically
  (``b @ b.T``) the result is the same as with the symmetric convention.
"""

import operator

import gast
import numpy as np

from ..runtime import (
    Item,
    cholesky_adjoint,
    cholesky_tangent,
    cross_adjoint,
    det_adjoint,
    dot_adjoint_left,
    dot_adjoint_right,
    einsum_adjoint,
    einsum_tangent,
    inner_adjoint_left,
    inner_adjoint_right,
    kron_adjoint,
    named_field_tangent,
    outer_adjoint_left,
    outer_adjoint_right,
    slogdet_adjoint,
    slogdet_tangent,
    solve_cotangent,
    solve_matrix_adjoint,
    solve_tangent,
    solve_tangent_b,
    tensordot_adjoint_left,
    tensordot_adjoint_right,
    unbroadcast,
    vdot_adjoint,
)
from . import operators  # noqa: F401  (operator.matmul's rule, which np.matmul shares)
from .registry import ARRAY, SCALAR, adjoint, linear_tangents, register_like, tangent

# -- products -------------------------------------------------------------------------------


register_like(np.matmul, operator.matmul)  # the ufunc behind ``@``: the same rule


@adjoint(np.dot, kind=None, fresh=True)
def d_dot(g, ans, a, b):
    return dot_adjoint_left(g, a, b), dot_adjoint_right(g, a, b)


@adjoint(("method", "dot"), kind=None, fresh=True)
def d_dot_method(g, ans, self, b):
    return dot_adjoint_left(g, self, b), dot_adjoint_right(g, self, b)


@adjoint(np.vdot, kind=SCALAR, fresh=True)
def d_vdot(g, ans, a, b):
    return vdot_adjoint(g, b, a, conjugated=True), vdot_adjoint(g, a, b)


@adjoint(np.inner, kind=None, fresh=True)
def d_inner(g, ans, a, b):
    return inner_adjoint_left(g, a, b), inner_adjoint_right(g, a, b)


@adjoint(np.outer, kind=ARRAY, fresh=True)
def d_outer(g, ans, a, b):
    return outer_adjoint_left(g, a, b), outer_adjoint_right(g, a, b)


@adjoint(np.tensordot, kind=None, fresh=True)
def d_tensordot(g, ans, a, b, axes=2):
    return tensordot_adjoint_left(g, a, b, axes), tensordot_adjoint_right(g, a, b, axes)


@adjoint(np.kron, kind=ARRAY, fresh=True)
def d_kron(g, ans, a, b):
    return kron_adjoint(g, a, b, True), kron_adjoint(g, a, b, False)


def _einsum_returns_new(given: dict) -> bool:
    """Whether this call of ``np.einsum`` has two operands or more (a new array): of one
    operand it may return a view (``'ij->ji'``, ``'ii->i'``; interleaved ``einsum(A, [0,
    1], [1, 0])``, which gives as many parameters as ``einsum('ij,jk', A, B)``, so the
    subscripts must be a string literal to tell them apart)."""
    subscripts = given.get("subscripts")
    spelled = isinstance(subscripts, gast.Constant) and isinstance(subscripts.value, str)
    return "o2" in given or ("o1" in given and spelled)


@adjoint(np.einsum, kind=None, fresh=_einsum_returns_new)
def d_einsum(
    g,
    ans,
    subscripts,
    o0,
    o1=None,
    o2=None,
    o3=None,
    o4=None,
    o5=None,
    o6=None,
    o7=None,
    optimize=False,
):
    # subscripts: the string (no adjoint), or operand 0 of the interleaved form
    return (
        einsum_adjoint(g, subscripts, -1, o0, o1, o2, o3, o4, o5, o6, o7),
        einsum_adjoint(g, subscripts, 0, o0, o1, o2, o3, o4, o5, o6, o7),
        einsum_adjoint(g, subscripts, 1, o0, o1, o2, o3, o4, o5, o6, o7),
        einsum_adjoint(g, subscripts, 2, o0, o1, o2, o3, o4, o5, o6, o7),
        einsum_adjoint(g, subscripts, 3, o0, o1, o2, o3, o4, o5, o6, o7),
        einsum_adjoint(g, subscripts, 4, o0, o1, o2, o3, o4, o5, o6, o7),
        einsum_adjoint(g, subscripts, 5, o0, o1, o2, o3, o4, o5, o6, o7),
        einsum_adjoint(g, subscripts, 6, o0, o1, o2, o3, o4, o5, o6, o7),
        einsum_adjoint(g, subscripts, 7, o0, o1, o2, o3, o4, o5, o6, o7),
    )


# -- solving and decompositions ---------------------------------------------------------------


@adjoint(np.linalg.solve, kind=ARRAY, fresh=True)
def d_solve(g, ans, a, b):
    gb = solve_cotangent(g, a, b)
    return unbroadcast(solve_matrix_adjoint(gb, ans, a, b), a), unbroadcast(gb, b)


@adjoint(np.linalg.inv, kind=ARRAY, fresh=True)
def d_inv(g, ans, a):
    inverse_t = np.swapaxes(ans, -1, -2)
    return -(inverse_t @ g @ inverse_t)


@adjoint(np.linalg.det, kind=None, fresh=True)
def d_det(g, ans, a):
    return det_adjoint(g, ans, a)


@adjoint(np.linalg.slogdet, kind=None, fresh=True)
def d_slogdet(g, ans, a):
    # g is the adjoint of the pair (sign, logabsdet); only logabsdet has a derivative.
    return slogdet_adjoint(g, a)


if int(np.__version__.split(".")[0]) >= 2:  # slogdet returns a named tuple

    @adjoint(("attribute", "logabsdet"), kind=None, fresh=True)
    def d_logabsdet_attribute(g, ans, x):
        # slogdet(a).logabsdet is slogdet(a)[1]
        return Item(1, g, 2)


@adjoint(np.linalg.cholesky, kind=ARRAY, fresh=True)
def d_cholesky(g, ans, a, upper=False):
    return cholesky_adjoint(g, ans, a, upper)


# -- issue 16: cross products -------------------------------------------------------------------


@adjoint(np.cross, kind=ARRAY, fresh=True)
def d_cross(g, ans, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    return (
        cross_adjoint(g, a, b, axisa, axisb, axisc, axis, False),
        cross_adjoint(g, a, b, axisa, axisb, axisc, axis, True),
    )


# -- tangents (forward mode): products are linear in each factor --------------------------
@tangent(np.dot)
def t_dot(g, ans, a, b):
    return np.dot(g, b), np.dot(a, g)


@tangent(("method", "dot"))
def t_dot_method(g, ans, self, b):
    return np.dot(g, b), np.dot(self, g)


@tangent(np.outer)
def t_outer(g, ans, a, b):
    return np.outer(g, b), np.outer(a, g)


@tangent(np.einsum)
def t_einsum(
    g,
    ans,
    subscripts,
    o0,
    o1=None,
    o2=None,
    o3=None,
    o4=None,
    o5=None,
    o6=None,
    o7=None,
    optimize=False,
):
    return (
        einsum_tangent(g, -1, subscripts, o0, o1, o2, o3, o4, o5, o6, o7),
        einsum_tangent(g, 0, subscripts, o0, o1, o2, o3, o4, o5, o6, o7),
        einsum_tangent(g, 1, subscripts, o0, o1, o2, o3, o4, o5, o6, o7),
        einsum_tangent(g, 2, subscripts, o0, o1, o2, o3, o4, o5, o6, o7),
        einsum_tangent(g, 3, subscripts, o0, o1, o2, o3, o4, o5, o6, o7),
        einsum_tangent(g, 4, subscripts, o0, o1, o2, o3, o4, o5, o6, o7),
        einsum_tangent(g, 5, subscripts, o0, o1, o2, o3, o4, o5, o6, o7),
        einsum_tangent(g, 6, subscripts, o0, o1, o2, o3, o4, o5, o6, o7),
        einsum_tangent(g, 7, subscripts, o0, o1, o2, o3, o4, o5, o6, o7),
    )


# x = a^-1 b: dx = a^-1 (db - da x)
@tangent(np.linalg.solve)
def t_solve(g, ans, a, b):
    return solve_tangent(g, ans, a, b), solve_tangent_b(g, a, b)


@tangent(np.linalg.inv)
def t_inv(g, ans, a):
    return -(ans @ g @ ans)


# d det(a) = det(a) tr(a^-1 da)
@tangent(np.linalg.det)
def t_det(g, ans, a):
    return ans * np.trace(np.linalg.solve(a, g), axis1=-2, axis2=-1)


@tangent(np.linalg.cholesky)
def t_cholesky(g, ans, a, upper=False):
    return cholesky_tangent(g, ans, upper)


# products: linear in each factor with the others fixed
linear_tangents(np.vdot, np.inner, np.tensordot, np.kron, np.cross, separately=True)


@tangent(np.linalg.slogdet)
def t_slogdet(g, ans, a):
    return slogdet_tangent(g, ans, a)


if int(np.__version__.split(".")[0]) >= 2:  # slogdet returns a named tuple

    @tangent(("attribute", "logabsdet"))
    def t_logabsdet_attribute(g, ans, x):
        return named_field_tangent(g, x, "logabsdet")
