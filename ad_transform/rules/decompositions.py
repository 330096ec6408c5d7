"""Adjoints of matrix decompositions and the functions built on them (issue 16).

``svd`` (``full_matrices``, ``compute_uv=False``), ``svdvals``, ``eigh``/``eigvalsh``
(both ``UPLO``: the gradient lies in the triangle NumPy reads, an off-diagonal entry
standing for both symmetric positions, as for ``cholesky``), ``qr`` (``'reduced'``,
``'complete'``, ``'r'``; ``'raw'`` refused), ``pinv``, ``lstsq``, ``matrix_power``,
``eig``/``eigvals`` (real eigenvalues only), ``multi_dot``, ``tensorsolve``,
``tensorinv``, ``cond``, NumPy 2's ``vector_norm``/``matrix_norm`` (as ``norm``), and the
fields of NumPy's named results (``svd(a).S``, ``eigh(a).eigenvectors``, ``qr(a).R``).
Stacks of matrices wherever NumPy takes them. The formulas and the convention at
repeated eigenvalues/singular values are in ``runtime/decompositions.py``.
"""

import numpy as np

from ..runtime import (
    cond_adjoint,
    cond_tangent,
    eig_adjoint,
    eig_tangent,
    eigh_adjoint,
    eigh_tangent,
    eigvals_adjoint,
    eigvalsh_adjoint,
    lstsq_adjoint,
    lstsq_tangent,
    matrix_norm_adjoint,
    matrix_norm_tangent,
    matrix_power_adjoint,
    matrix_power_tangent,
    multi_dot_adjoint,
    multi_dot_tangent,
    named_field_adjoint,
    named_field_tangent,
    pinv_adjoint,
    pinv_tangent,
    qr_adjoint,
    qr_tangent,
    svd_adjoint,
    svd_tangent,
    svdvals_tangent,
    tensorinv_adjoint,
    tensorinv_tangent,
    tensorsolve_adjoint,
    tensorsolve_tangent,
    vector_norm_adjoint,
    vector_norm_tangent,
)
from .registry import ARRAY, adjoint, register_nondifferentiable, tangent


@adjoint(np.linalg.svd, kind=None, fresh=True)
def d_svd(g, ans, a, full_matrices=True, compute_uv=True, hermitian=False):
    return svd_adjoint(g, ans, a, full_matrices, compute_uv, hermitian)


@adjoint(np.linalg.eigh, kind=None, fresh=True)
def d_eigh(g, ans, a, UPLO="L"):
    return eigh_adjoint(g, ans, a, UPLO)


@adjoint(np.linalg.eigvalsh, kind=ARRAY, fresh=True)
def d_eigvalsh(g, ans, a, UPLO="L"):
    return eigvalsh_adjoint(g, ans, a, UPLO)


@adjoint(np.linalg.qr, kind=None, fresh=True)
def d_qr(g, ans, a, mode="reduced"):
    return qr_adjoint(g, ans, a, mode)


@adjoint(np.linalg.pinv, kind=ARRAY, fresh=True)
def d_pinv(g, ans, a, rcond=None, hermitian=False, rtol=None):
    return pinv_adjoint(g, ans, a, rcond, hermitian, rtol)


@adjoint(np.linalg.lstsq, kind=None, fresh=True)
def d_lstsq(g, ans, a, b, rcond=None):
    ga, gb = lstsq_adjoint(g, ans, a, b, rcond)
    return ga, gb, None


@adjoint(np.linalg.matrix_power, kind=ARRAY, fresh=True)
def d_matrix_power(g, ans, a, n):
    return matrix_power_adjoint(g, ans, a, n), None


@adjoint(np.linalg.eig, kind=None, fresh=True)
def d_eig(g, ans, a):
    return eig_adjoint(g, ans, a)


@adjoint(np.linalg.eigvals, kind=ARRAY, fresh=True)
def d_eigvals(g, ans, a):
    return eigvals_adjoint(g, ans, a)


@adjoint(np.linalg.multi_dot, kind=None, fresh=True)
def d_multi_dot(g, ans, arrays):
    return multi_dot_adjoint(g, ans, arrays)


@adjoint(np.linalg.tensorsolve, kind=ARRAY, fresh=True)
def d_tensorsolve(g, ans, a, b, axes=None):
    ga, gb = tensorsolve_adjoint(g, ans, a, b, axes)
    return ga, gb, None


@adjoint(np.linalg.tensorinv, kind=ARRAY, fresh=True)
def d_tensorinv(g, ans, a, ind=2):
    return tensorinv_adjoint(g, ans, a, ind)


@adjoint(np.linalg.cond, kind=None, fresh=True)
def d_cond(g, ans, x, p=None):
    return cond_adjoint(g, ans, x, p)


register_nondifferentiable(np.linalg.matrix_rank)  # an integer

if hasattr(np.linalg, "svdvals"):  # NumPy 2

    @adjoint(np.linalg.vector_norm, kind=None, fresh=True)
    def d_vector_norm(g, ans, x, axis=None, keepdims=False, ord=2):
        return vector_norm_adjoint(g, ans, x, axis, keepdims, ord)

    @adjoint(np.linalg.matrix_norm, kind=None, fresh=True)
    def d_matrix_norm(g, ans, x, keepdims=False, ord="fro"):
        return matrix_norm_adjoint(g, ans, x, keepdims, ord)

    @adjoint(np.linalg.svdvals, kind=ARRAY, fresh=True)
    def d_svdvals(g, ans, x):
        return svd_adjoint(g, ans, x, False, False)

    # the fields of the named results NumPy 2 returns
    @adjoint(("attribute", "U"), kind=None)
    def d_field_u(g, ans, x):
        return named_field_adjoint(g, x, "U")

    @adjoint(("attribute", "S"), kind=None)
    def d_field_s(g, ans, x):
        return named_field_adjoint(g, x, "S")

    @adjoint(("attribute", "Vh"), kind=None)
    def d_field_vh(g, ans, x):
        return named_field_adjoint(g, x, "Vh")

    @adjoint(("attribute", "Q"), kind=None)
    def d_field_q(g, ans, x):
        return named_field_adjoint(g, x, "Q")

    @adjoint(("attribute", "R"), kind=None)
    def d_field_r(g, ans, x):
        return named_field_adjoint(g, x, "R")

    @adjoint(("attribute", "eigenvalues"), kind=None)
    def d_field_eigenvalues(g, ans, x):
        return named_field_adjoint(g, x, "eigenvalues")

    @adjoint(("attribute", "eigenvectors"), kind=None)
    def d_field_eigenvectors(g, ans, x):
        return named_field_adjoint(g, x, "eigenvectors")


# -- tangents (forward mode): the formulas are in runtime/decomposition_tangents.py ----------
@tangent(np.linalg.svd)
def t_svd(g, ans, a, full_matrices=True, compute_uv=True, hermitian=False):
    return svd_tangent(g, ans, a, full_matrices, compute_uv, hermitian)


@tangent(np.linalg.eigh)
def t_eigh(g, ans, a, UPLO="L"):
    return eigh_tangent(g, ans, a, UPLO)


@tangent(np.linalg.eigvalsh)
def t_eigvalsh(g, ans, a, UPLO="L"):
    return eigh_tangent(g, ans, a, UPLO, True)


@tangent(np.linalg.qr)
def t_qr(g, ans, a, mode="reduced"):
    return qr_tangent(g, ans, a, mode)


@tangent(np.linalg.pinv)
def t_pinv(g, ans, a, rcond=None, hermitian=False, rtol=None):
    return pinv_tangent(g, ans, a, rcond, hermitian, rtol)


@tangent(np.linalg.lstsq)
def t_lstsq(g, ans, a, b, rcond=None):
    return lstsq_tangent(g, "a", ans, a, b, rcond), lstsq_tangent(g, "b", ans, a, b, rcond), None


@tangent(np.linalg.matrix_power)
def t_matrix_power(g, ans, a, n):
    return matrix_power_tangent(g, a, n), None


@tangent(np.linalg.eig)
def t_eig(g, ans, a):
    return eig_tangent(g, ans, a)


@tangent(np.linalg.eigvals)
def t_eigvals(g, ans, a):
    return eig_tangent(g, ans, a, True)


@tangent(np.linalg.multi_dot)
def t_multi_dot(g, ans, arrays):
    return multi_dot_tangent(g, arrays)


@tangent(np.linalg.tensorsolve)
def t_tensorsolve(g, ans, a, b, axes=None):
    return (
        tensorsolve_tangent(g, "a", ans, a, b, axes),
        tensorsolve_tangent(g, "b", ans, a, b, axes),
        None,
    )


@tangent(np.linalg.tensorinv)
def t_tensorinv(g, ans, a, ind=2):
    return tensorinv_tangent(g, ans, a, ind)


@tangent(np.linalg.cond)
def t_cond(g, ans, x, p=None):
    return cond_tangent(g, ans, x, p)


if hasattr(np.linalg, "svdvals"):  # NumPy 2

    @tangent(np.linalg.vector_norm)
    def t_vector_norm(g, ans, x, axis=None, keepdims=False, ord=2):
        return vector_norm_tangent(g, ans, x, axis, keepdims, ord)

    @tangent(np.linalg.matrix_norm)
    def t_matrix_norm(g, ans, x, keepdims=False, ord="fro"):
        return matrix_norm_tangent(g, ans, x, keepdims, ord)

    @tangent(np.linalg.svdvals)
    def t_svdvals(g, ans, x):
        return svdvals_tangent(g, x)

    @tangent(("attribute", "U"))
    def t_field_u(g, ans, x):
        return named_field_tangent(g, x, "U")

    @tangent(("attribute", "S"))
    def t_field_s(g, ans, x):
        return named_field_tangent(g, x, "S")

    @tangent(("attribute", "Vh"))
    def t_field_vh(g, ans, x):
        return named_field_tangent(g, x, "Vh")

    @tangent(("attribute", "Q"))
    def t_field_q(g, ans, x):
        return named_field_tangent(g, x, "Q")

    @tangent(("attribute", "R"))
    def t_field_r(g, ans, x):
        return named_field_tangent(g, x, "R")

    @tangent(("attribute", "eigenvalues"))
    def t_field_eigenvalues(g, ans, x):
        return named_field_tangent(g, x, "eigenvalues")

    @tangent(("attribute", "eigenvectors"))
    def t_field_eigenvectors(g, ans, x):
        return named_field_tangent(g, x, "eigenvectors")
