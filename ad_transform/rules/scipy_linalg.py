"""Adjoints of ``scipy.linalg``: registered when ``scipy.linalg`` is imported (see
``rules/scipy_special.py`` for the mechanism).

Each template's parameters follow SciPy's positions; the ``overwrite_*`` flags are left
out (a call passing one is refused: the primal would overwrite an argument the backward
sweep reads), and parameters SciPy takes after them are keyword-only here. The gradients
are for one square 2-D matrix (a batch raises a ``ValueError`` naming the function),
except ``expm``, which takes a stack of matrices.

* ``solve_triangular(a, b, trans, lower, unit_diagonal)``: ``d b = op(a)^{-T} g``, ``d a
  = -d b x^T`` (transposed for ``trans`` 1/'T'/2/'C'), in the triangle SciPy reads,
  without the diagonal for ``unit_diagonal`` (Giles 2008, 2.3.1).
* ``cholesky(a, lower)``, ``cho_factor(a, lower)``: Murray (2016), in the triangle SciPy
  reads (the upper one by default). ``cho_factor``'s ``c`` holds a copy of ``a``'s other
  triangle, whose adjoint goes back to it. ``cho_solve((c, lower), b)``: through ``A = L
  L^T`` (``U^T U``), differentiable in ``c`` and ``b``.
* ``solve(a, b, lower, assume_a, transposed)`` and ``inv(a, assume_a, lower)``: Giles
  (2008); with a symmetric ``assume_a`` (``'sym'``, ``'her'``, ``'pos'``) SciPy reads one
  triangle, so an off-diagonal entry stands for both symmetric positions.
* ``det(a)``: the cofactor matrix, as ``np.linalg.det``.
* ``expm(a)``: the adjoint is the Fréchet derivative at ``a^T`` applied to ``g``
  (``scipy.linalg.expm_frechet``, Al-Mohy & Higham 2009); ``logm(a)``: likewise, from the
  block matrix ``[[a^T, g], [0, a^T]]`` (Higham 2008, Theorem 3.6), for a real logarithm
  only (a complex ``logm`` raises a ``ValueError`` in the backward sweep).
"""

import scipy.linalg

from ..runtime import (
    cho_factor_adjoint,
    cho_factor_tangent,
    cho_solve_adjoints,
    cho_solve_tangent,
    det_adjoint_scipy,
    expm_adjoint,
    expm_tangent,
    linalg_cholesky_adjoint,
    linalg_inv_adjoint,
    linalg_solve_adjoints,
    logm_adjoint,
    logm_tangent,
    scipy_cholesky_tangent,
    scipy_det_tangent,
    scipy_inv_tangent,
    scipy_solve_tangent,
    solve_triangular_adjoints,
    solve_triangular_tangent,
)
from .registry import ARRAY, register_adjoint, tangent


def _rule(function_name: str, kind: str | None = ARRAY, fresh: bool = True):
    """Register the decorated template for ``scipy.linalg.<function_name>``."""

    def decorate(template):
        register_adjoint(
            getattr(scipy.linalg, function_name),
            template,
            kind=kind,
            name=f"scipy.linalg.{function_name}",
            fresh=fresh,
        )
        return template

    return decorate


@_rule("solve_triangular")
def d_solve_triangular(
    g, ans, a, b, trans=0, lower=False, unit_diagonal=False, *, check_finite=True
):
    da, db = solve_triangular_adjoints(g, ans, a, trans, lower, unit_diagonal)
    return da, db


@_rule("cholesky")
def d_cholesky(g, ans, a, lower=False, *, check_finite=True):
    return linalg_cholesky_adjoint(g, ans, a, lower)


@_rule("cho_factor", kind=None, fresh=False)  # a tuple (c, lower)
def d_cho_factor(g, ans, a, lower=False, *, check_finite=True):
    return cho_factor_adjoint(g, ans, a)


@_rule("cho_solve")
def d_cho_solve(g, ans, c_and_lower, b, *, check_finite=True):
    dc, db = cho_solve_adjoints(g, ans, c_and_lower)
    return dc, db


@_rule("solve")
def d_solve(g, ans, a, b, lower=False, *, check_finite=True, assume_a=None, transposed=False):
    da, db = linalg_solve_adjoints(g, ans, a, lower, assume_a, transposed)
    return da, db


@_rule("inv")
def d_inv(g, ans, a, *, check_finite=True, assume_a=None, lower=False):
    return linalg_inv_adjoint(g, ans, a, assume_a, lower)


@_rule("det", kind=None)
def d_det(g, ans, a, *, check_finite=True):
    return det_adjoint_scipy(g, ans, a)


@_rule("expm")
def d_expm(g, ans, A):
    return expm_adjoint(g, A)


@_rule("logm")
def d_logm(g, ans, A):
    return logm_adjoint(g, ans, A)


# -- tangents (forward mode): the formulas are in runtime/decomposition_tangents.py ----------
_linalg = scipy.linalg


@tangent(_linalg.solve_triangular)
def t_solve_triangular(
    g, ans, a, b, trans=0, lower=False, unit_diagonal=False, *, check_finite=True
):
    return (
        solve_triangular_tangent(g, "a", ans, a, b, trans, lower, unit_diagonal),
        solve_triangular_tangent(g, "b", ans, a, b, trans, lower, unit_diagonal),
    )


@tangent(_linalg.cholesky)
def t_cholesky(g, ans, a, lower=False, *, check_finite=True):
    return scipy_cholesky_tangent(g, ans, lower)


@tangent(_linalg.cho_factor)
def t_cho_factor(g, ans, a, lower=False, *, check_finite=True):
    return cho_factor_tangent(g, ans, a)


@tangent(_linalg.cho_solve)
def t_cho_solve(g, ans, c_and_lower, b, *, check_finite=True):
    return (
        cho_solve_tangent(g, "c", ans, c_and_lower, b),
        cho_solve_tangent(g, "b", ans, c_and_lower, b),
    )


@tangent(_linalg.solve)
def t_solve(g, ans, a, b, lower=False, *, check_finite=True, assume_a=None, transposed=False):
    return (
        scipy_solve_tangent(g, "a", ans, a, b, lower, assume_a, transposed),
        scipy_solve_tangent(g, "b", ans, a, b, lower, assume_a, transposed),
    )


@tangent(_linalg.inv)
def t_inv(g, ans, a, *, check_finite=True, assume_a=None, lower=False):
    return scipy_inv_tangent(g, ans, a, assume_a, lower)


@tangent(_linalg.det)
def t_det(g, ans, a, *, check_finite=True):
    return scipy_det_tangent(g, ans, a)


@tangent(_linalg.expm)
def t_expm(g, ans, A):
    return expm_tangent(g, A)


@tangent(_linalg.logm)
def t_logm(g, ans, A):
    return logm_tangent(g, A)
