"""Adjoint rules, grouped by family; importing this package registers them all."""

from . import linalg, math_builtins, numpy_elementwise, operators, reductions, shape_indexing
from .registry import (
    Rule,
    adjoint,
    all_rules,
    display_name,
    lookup,
    register_adjoint,
    register_nondifferentiable,
)

__all__ = [
    "Rule",
    "adjoint",
    "all_rules",
    "display_name",
    "linalg",
    "lookup",
    "math_builtins",
    "numpy_elementwise",
    "operators",
    "reductions",
    "register_adjoint",
    "register_nondifferentiable",
    "shape_indexing",
]
