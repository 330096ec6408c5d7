"""ad_transform: source-to-source reverse-mode automatic differentiation for Python and NumPy.

``@grad`` reads a function's source, rewrites it into an SSA trace of primitive
operations and generates a new Python function that computes the gradient: the
forward statements, then the adjoint statements in reverse order.
"""

from .api import grad, value_and_grad, vjp
from .check import GradientCheckError, check_grads
from .errors import ADTransformError
from .export import export
from .forward_api import jvp
from .graph import computation_graph
from .higher_order_api import elementwise_grad, hessian, hvp
from .jacobians import jacfwd, jacobian, jacrev
from .pipeline import ssa_source
from .pytree import register_pytree_node, tree_leaves, tree_map
from .rules import adjoint, register_adjoint, register_nondifferentiable
from .trace import trace_table

__version__ = "0.1.0"

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
