"""Adjoints of indexing and of array attributes such as ``x.T``; shapes carry no derivative."""

import operator

import numpy as np

from ..runtime import index_adjoint
from .registry import ARRAY, adjoint, register_nondifferentiable


@adjoint(operator.getitem, kind=None)
def d_getitem(g, ans, x, index):
    return index_adjoint(g, x, index), None


@adjoint(np.copy, kind=ARRAY)
def d_copy(g, ans, a):
    return g


@adjoint(("method", "copy"), kind=ARRAY)
def d_copy_method(g, ans, self):
    return g


@adjoint(("attribute", "T"), kind=ARRAY)
def d_transpose_attribute(g, ans, x):
    return np.transpose(g)


register_nondifferentiable(
    ("attribute", "shape"),
    ("attribute", "ndim"),
    ("attribute", "size"),
    ("attribute", "dtype"),
    np.shape,
    np.ndim,
    np.size,
    np.zeros,
    np.ones,
    np.empty,
    np.zeros_like,
    np.ones_like,
    np.full,
    np.full_like,
    np.eye,
    np.identity,
    np.arange,
    np.linspace,
    np.argmax,
    np.argmin,
    np.argsort,
)
