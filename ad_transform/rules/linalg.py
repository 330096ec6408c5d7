"""Adjoints of products and linear algebra."""

import numpy as np

from ..runtime import dot_adjoint_left, dot_adjoint_right, matmul_adjoint_left, matmul_adjoint_right
from .registry import adjoint


@adjoint(np.matmul, kind=None)
def d_matmul(g, ans, x, y):
    return matmul_adjoint_left(g, x, y), matmul_adjoint_right(g, x, y)


@adjoint(np.dot, kind=None)
def d_dot(g, ans, a, b):
    return dot_adjoint_left(g, a, b), dot_adjoint_right(g, a, b)
