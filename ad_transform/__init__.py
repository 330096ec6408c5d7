"""ad_transform: source-to-source reverse-mode automatic differentiation for Python and NumPy.

``@grad`` reads a function's source, rewrites it into an SSA trace of primitive
operations and generates a new Python function that computes the gradient: the
forward statements, then the adjoint statements in reverse order.
"""

import importlib
import importlib.util
from typing import TYPE_CHECKING

from .api import grad, value_and_grad, vjp
from .check import GradientCheckError, check_grads
from .errors import ADTransformError
from .forward_api import jvp
from .higher_order_api import elementwise_grad, hessian, hvp
from .jacobians import jacfwd, jacobian, jacrev
from .pytree import register_pytree_node, tree_leaves, tree_map

__version__ = "0.1.0"

# Names whose modules import the pipeline and the rules: imported at first use
# (PEP 562), so that ``import ad_transform`` costs little (architecture.md, "Import
# time"). The derivatives above import the pipeline at their first transformation.
_LAZY = {
    "adjoint": "rules",
    "computation_graph": "graph",
    "export": "export",
    "register_adjoint": "rules",
    "register_nondifferentiable": "rules",
    "ssa_source": "pipeline",
    "trace_table": "trace",
}

if TYPE_CHECKING:
    from .export import export
    from .graph import computation_graph
    from .pipeline import ssa_source
    from .rules import adjoint, register_adjoint, register_nondifferentiable
    from .trace import trace_table


def __getattr__(name: str):
    """A lazy name's value, or a submodule (``ad_transform.graph``) imported on first use,
    as it was when this package imported them all."""
    module = _LAZY.get(name)
    if module is not None:
        value = getattr(importlib.import_module(f".{module}", __name__), name)
    elif not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}"):
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module 'ad_transform' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "ADTransformError",
    "GradientCheckError",
    "adjoint",
    "check_grads",
    "computation_graph",
    "elementwise_grad",
    "export",
    "grad",
    "hessian",
    "hvp",
    "jacfwd",
    "jacobian",
    "jacrev",
    "jvp",
    "register_adjoint",
    "register_nondifferentiable",
    "register_pytree_node",
    "ssa_source",
    "trace_table",
    "tree_leaves",
    "tree_map",
    "value_and_grad",
    "vjp",
]
