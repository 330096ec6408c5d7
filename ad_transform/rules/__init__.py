"""Adjoint rules, grouped by family; importing this package registers them all."""

from .registry import lazy_templates

with lazy_templates():  # parsed on first use: importing the families parses no template
    from . import (
        constructors,
        containers,
        decompositions,
        fft,
        linalg,
        math_builtins,
        numpy_elementwise,
        operators,
        reductions,
        runtime_helpers,
        runtime_helpers_2,
        runtime_transposes,
        runtime_twins_containers,
        runtime_twins_conversions,  # imports the twin modules (rules/runtime_twins.py)
        shape_indexing,
        signal,
    )
from .registry import (
    NONDIFFERENTIABLE_MARKER,
    Rule,
    adjoint,
    all_rules,
    display_name,
    list_primitives,
    lookup,
    mark_builtin_rules,
    primitives_markdown,
    register_adjoint,
    register_nondifferentiable,
)

mark_builtin_rules()

__all__ = [
    "NONDIFFERENTIABLE_MARKER",
    "Rule",
    "adjoint",
    "all_rules",
    "constructors",
    "containers",
    "decompositions",
    "display_name",
    "fft",
    "linalg",
    "list_primitives",
    "lookup",
    "math_builtins",
    "numpy_elementwise",
    "operators",
    "primitives_markdown",
    "reductions",
    "register_adjoint",
    "register_nondifferentiable",
    "runtime_helpers",
    "runtime_helpers_2",
    "runtime_transposes",
    "runtime_twins_containers",
    "runtime_twins_conversions",
    "shape_indexing",
    "signal",
]
