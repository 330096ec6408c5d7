"""Adjoints of reductions: the adjoint of the result is spread back over what was reduced."""

import numpy as np

from ..runtime import expand_reduced, norm_adjoint, reduced_count
from .registry import adjoint


@adjoint(np.sum, kind=None)
def d_sum(g, ans, a, axis=None, dtype=None, keepdims=False):
    return expand_reduced(g, a, axis, keepdims)


@adjoint(np.mean, kind=None)
def d_mean(g, ans, a, axis=None, dtype=None, keepdims=False):
    return expand_reduced(g, a, axis, keepdims) / reduced_count(a, axis)


@adjoint(np.linalg.norm, kind=None)
def d_norm(g, ans, x, ord=None, axis=None, keepdims=False):
    return norm_adjoint(g, ans, x, ord, axis, keepdims)
