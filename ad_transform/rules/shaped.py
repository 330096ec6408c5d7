"""Adjoint forms chosen by shape facts (``shapes.py``): what a person writes when the
ranks are known. Not registered for any primitive: ``reverse.py`` uses them in place of
a rule's generic template where the facts prove the ranks (and real float dtypes).

``x @ y`` (and ``np.dot(a, b)``, ``a.dot(b)``, which compute the same for 1-D and 2-D
operands) of real float arrays: the adjoints are the matrix products themselves, no
runtime dispatch on the ranks (``matmul_adjoint_left``/``_right``, ``dot_adjoint_*``
decide when run). The parameter names are the rule's (``x, y``; ``a, b``; ``self, b``)."""

from __future__ import annotations

import functools

import numpy as np

from ..templates import Template


def d_matmul_matrices(g, ans, x, y):
    return g @ y.T, x.T @ g


def d_matmul_matrix_vector(g, ans, x, y):
    return np.outer(g, y), x.T @ g


def d_matmul_vector_matrix(g, ans, x, y):
    return y @ g, np.outer(x, g)


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
