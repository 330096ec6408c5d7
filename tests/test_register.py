"""Users register adjoints of their own primitives; the registered rule is used in place of
differentiating the function's body (or of failing on a function without a rule)."""

import numpy as np
import pytest
from gradcheck import check_grad, check_vjp_dot_product

from ad_transform import (
    ADTransformError,
    adjoint,
    grad,
    register_adjoint,
    register_nondifferentiable,
)


def cube_root(x):
    return np.cbrt(x)  # its registered rule is used, its body is not differentiated


def d_cube_root(g, ans, x):
    return g / (3.0 * ans * ans)


def stable_softplus(x):
    return np.logaddexp(0.0, x)


@adjoint(stable_softplus)
def d_stable_softplus(g, ans, x):
    return g / (1.0 + np.exp(-x))


def bucket(x):
    return np.floor(x * 4.0)


def uses_cube_root(x):
    return np.sum(cube_root(x) * x)


def uses_softplus(x, y):
    return np.sum(stable_softplus(x * y))


def uses_bucket(x):
    return x * bucket(x) + x


def without_rule(x):
    return np.sum(np.i0(x) * 2.0)  # np.i0 (a Bessel function) has no rule


register_adjoint(cube_root, d_cube_root)
register_nondifferentiable(bucket)


def test_registered_adjoint_replaces_missing_rule():
    x = np.array([0.5, 2.0, 3.5])
    check_grad(uses_cube_root, (x,), 0)
    check_vjp_dot_product(cube_root_times_two, (x,), 0, np.random.default_rng(0))


def cube_root_times_two(x):
    return cube_root(x) * 2.0


def test_decorator_form_and_two_arguments():
    x = np.array([-1.0, 0.3, 2.0])
    y = np.array([0.5, 1.5, -2.0])
    check_grad(uses_softplus, (x, y), (0, 1))


def test_registered_rule_is_spliced_into_the_generated_code():
    source = grad(uses_softplus).source_for(np.ones(2), np.ones(2))
    assert "np.exp(-" in source  # the template's own text, not a call of a helper
    assert "stable_softplus(" in source  # the forward sweep still calls the primitive


def test_nondifferentiable_function_gives_no_gradient_through_it():
    # d/dx (x * floor(4x) + x) = floor(4x) + 1 away from the jumps
    for x in (0.1, 0.6, 1.3):
        assert grad(uses_bucket)(x) == pytest.approx(np.floor(4 * x) + 1.0, rel=1e-12)


def test_without_registration_the_error_names_the_function_and_the_fix():
    with pytest.raises(ADTransformError, match=r"numpy\.i0.*register_adjoint"):
        grad(without_rule)(np.array([1.0, 2.0]))


def test_template_must_start_with_g_and_ans():
    def bad(x, ans, g):
        return g

    with pytest.raises(TypeError, match=r"\(g, ans"):
        register_adjoint(cube_root, bad)
