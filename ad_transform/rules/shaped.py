"""Adjoint forms chosen by shape facts (``shapes.py``): what a person writes when the
ranks are known. Not registered for any primitive: ``reverse.py`` uses them in place of
a rule's generic template where the facts prove the ranks (and real float dtypes).

``x @ y`` of real float arrays: the adjoints are the matrix products themselves, no
runtime dispatch on the ranks (``matmul_adjoint_left``/``_right`` decide when run)."""

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


_MATMUL_FORMS = {
    (2, 2): d_matmul_matrices,
    (2, 1): d_matmul_matrix_vector,
    (1, 2): d_matmul_vector_matrix,
}


@functools.cache
def matmul_template(ranks: tuple[int, int]) -> Template:
    """The template of ``x @ y`` for operands of these ranks (parsed at first use)."""
    return Template(_MATMUL_FORMS[ranks])
