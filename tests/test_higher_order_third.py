"""Third derivatives through code whose second-order form saves integers, masks and axes
(issue 14, "composable to any depth"; docs/architecture/higher_order_third.md).

The plain second-order code reads back the values it saved that carry no derivative as
constants (``held_values.held_constants``, ``runtime.held_constant``); before, they came
back as values that may vary and their uses as slice bounds, axes, masks and indices were
refused. Checked against calculus where a closed form is at hand, else against central
differences of the second derivative (itself tested elsewhere) in float64; what stays
refused is refused by name (``ADTransformError``), never a number.
"""

import numpy as np
import pytest
from third_order_functions import FUNCTIONS, T0, X0, U, along

from ad_transform import ADTransformError, grad, hessian
from ad_transform.held_values import check_held_parameters
from ad_transform.runtime import held_constant


def third(f):
    return grad(grad(grad(f)))


def central_difference_of_second(f, t, h=1e-4):
    second = grad(grad(f))
    return (second(t + h) - second(t - h)) / (2 * h)


# -- a scalar function with a loop, against calculus (issue 14's target: 1e-8 relative) ----
def sine_weighted_squares(x):
    s = 0.0
    for i in range(x.shape[0]):
        s = s + np.sin(x[i]) * x[i] ** 2
    return s


def h3(y):
    """``(y^2 sin y)''' = 6 cos y - 6 y sin y - y^2 cos y``."""
    return 6 * np.cos(y) - 6 * y * np.sin(y) - y**2 * np.cos(y)


@pytest.mark.parametrize("t", [0.35, -0.8, 1.7])
def test_third_derivative_of_a_loop_against_calculus(t):
    """``g(t) = sum_i h(x0_i + t u_i)`` with ``h(y) = y^2 sin y``:
    ``g'''(t) = sum_i u_i^3 h'''(x0_i + t u_i)``."""
    expected = np.sum(U**3 * h3(X0 + t * U))
    got = third(along(sine_weighted_squares))(t)
    assert got == pytest.approx(expected, rel=1e-8)


def power_by_loop(t):
    p = 1.0
    for _ in range(5):
        p = p * t
    return p


def partial_sums(t):
    terms = t ** np.arange(1.0, 6.0)
    n = terms.shape[0] - 2
    return np.sum(terms[:n] * np.arange(1.0, n + 1.0)) + np.sum(terms[n:] ** 2)


def test_third_derivative_of_a_scalar_loop():
    """``(t^5)''' = 60 t^2``."""
    for t in (0.7, -1.3):
        assert third(power_by_loop)(t) == pytest.approx(60 * t**2, rel=1e-12)


def test_third_derivative_with_a_computed_slice_bound():
    """``t + 2 t^2 + 3 t^3 + t^8 + t^10``: the third derivative is
    ``18 + 336 t^5 + 720 t^7``."""
    for t in (0.6, -0.9):
        expected = 18 + 336 * t**5 + 720 * t**7
        assert third(partial_sums)(t) == pytest.approx(expected, rel=1e-10)


# -- matrices along a line, against calculus ---------------------------------------------
M0 = np.array([[2.0, 0.3, -0.1], [0.2, 1.5, 0.4], [-0.3, 0.1, 1.8]])
B = np.array([[0.4, -0.2, 0.3], [0.1, 0.6, -0.5], [0.7, 0.2, 0.3]])


def det_line(t):
    return np.linalg.det(M0 + t * B)


def cubic_trace(t):
    m = M0 + t * B
    return np.trace(m.T.T @ m @ m)


def transposed_sum(t):
    m = np.swapaxes(np.reshape(np.ravel(M0 + t * B), (3, 3)), 0, 1)
    return np.sum(np.sum(m**3, axis=1) * np.array([1.0, -2.0, 0.5]))


def test_third_derivative_of_a_determinant_along_a_line():
    """``det(M0 + t B)`` is a cubic in ``t`` with leading coefficient ``det(B)``."""
    for t in (0.2, -0.7):
        assert third(det_line)(t) == pytest.approx(6 * np.linalg.det(B), rel=1e-9)


def test_third_derivative_of_a_cubic_trace():
    """``tr((M0 + t B)^3)'''`` is ``6 tr(B^3)``."""
    for t in (0.3, -1.1):
        expected = 6 * np.trace(B @ B @ B)
        assert third(cubic_trace)(t) == pytest.approx(expected, rel=1e-9)


def test_third_derivative_through_swapaxes_and_an_axis_sum():
    """``sum_j w_i m_ji^3`` with ``m = (M0 + t B)^T``: each term ``w_i (a + t b)^3``
    has third derivative ``6 w_i b^3``."""
    w = np.array([1.0, -2.0, 0.5])
    expected = 6 * np.sum(w[None, :] * B**3)
    assert third(transposed_sum)(0.4) == pytest.approx(expected, rel=1e-9)


def masked(x):
    return np.sum(np.where(x > 0.8, x**3, np.sin(x)))


def test_third_derivative_through_a_mask():
    """Where ``y > 0.8``: ``(y^3)''' = 6``; elsewhere ``sin''' = -cos``."""
    y = X0 + T0 * U
    expected = np.sum(np.where(y > 0.8, 6.0, -np.cos(y)) * U**3)
    assert third(along(masked))(T0) == pytest.approx(expected, rel=1e-9)


# -- thirty functions: third derivatives agree with differences of the second -------------
# matrix_power: refused on its branch, differentiated since the loop aliasing work (holoops)
REFUSED = {"prod_all", "loop_item_update", "tensordot_axes"}


@pytest.mark.parametrize(
    "f", [f for f in FUNCTIONS if f.__name__ not in REFUSED], ids=lambda f: f.__name__
)
def test_third_derivative_against_differences_of_the_second(f):
    g = along(f)
    expected = central_difference_of_second(g, T0)
    assert third(g)(T0) == pytest.approx(expected, rel=1e-6, abs=1e-8)


@pytest.mark.parametrize(
    "f", [f for f in FUNCTIONS if f.__name__ in REFUSED], ids=lambda f: f.__name__
)
def test_what_stays_refused_is_refused_by_name(f):
    """``prod_adjoint_partial`` and the tuple adjoint of ``tensordot``'s ``axes`` have no
    third-order rules, and a helper pair changing its argument in place is not
    differentiated again."""
    with pytest.raises(ADTransformError):
        third(along(f))(T0)


def test_hessian_of_a_gradient_component_through_axes():
    """Forward over reverse over reverse: the Hessian of ``<grad f, u>`` is the third
    derivative contracted once; along ``u`` twice it is ``D^3 f[u, u, u]``."""
    f = FUNCTIONS[[g.__name__ for g in FUNCTIONS].index("cumsum_axis")]
    gradient = grad(f)

    def along_u(x):
        return np.sum(gradient(x) * U)

    x = X0 + T0 * U
    expected = central_difference_of_second(along(f), T0)
    assert U @ hessian(along_u)(x) @ U == pytest.approx(expected, rel=1e-6)


# -- the guarantees -------------------------------------------------------------------------
def scaled_by_second(x, c):
    k = 2.0 * c
    return np.sum(x**3) * k


def test_a_value_from_an_argument_not_differentiated_still_varies():
    """``k = 2 c`` carries no derivative in ``grad(f, wrt=0)`` but does in its derivative
    with respect to ``c``: it is not read back as a constant (``d^2/dx dc = 6 x^2``)."""
    x = np.array([0.5, -1.2, 2.0])
    mixed = grad(lambda_sum(grad(scaled_by_second, wrt=0)), wrt=1)(x, 0.7)
    assert mixed == pytest.approx(np.sum(6 * x**2), rel=1e-12)


def lambda_sum(g):
    def summed(x, c):
        return np.sum(g(x, c))

    return summed


def write_into(buffer, value):
    buffer[0] = value


def hidden_write(t):
    buffer = np.zeros(2)
    write_into(buffer, t**2)
    c = buffer[0]
    return c * t**3


def test_a_value_changed_by_a_helper_is_not_held():
    """``buffer`` is made without derivative, then a helper writes ``t^2`` into it: ``c``
    varies (``c t^3 = t^5``, third derivative ``60 t^2``). Refused or right, never wrong."""
    try:
        got = third(hidden_write)(0.8)
    except ADTransformError:
        return
    assert got == pytest.approx(60 * 0.8**2, rel=1e-10)


def test_held_constant_refuses_a_value_that_may_have_changed():
    assert held_constant(3, "k", strict=True) == 3
    assert held_constant((2, 0, 1), "axes", strict=True) == (2, 0, 1)
    mask = np.array([True, False])
    assert held_constant(mask, "mask") is mask
    with pytest.raises(ADTransformError, match="'buffer'"):
        held_constant(np.zeros(2), "buffer", strict=True)


def test_differentiating_plain_code_with_respect_to_a_held_argument_is_refused():
    def twin_code(a, n):
        return a * n

    twin_code.ad_transform_held_params = ("n",)
    check_held_parameters(twin_code, ("a",))
    with pytest.raises(ADTransformError, match="argument 'n'"):
        check_held_parameters(twin_code, ("a", "n"))


# -- ``*=`` and ``/=`` of values of unknown kinds (docs/architecture/higher_order_third.md) --
def product_of_items(x):
    items = [x, np.sin(x)]
    p = 1.0
    for v in items:
        p *= v
    return p


def quotient_of_items(x):
    items = [x + 2.0, np.sin(x) + 2.0]
    p = x**4
    for v in items:
        p /= v
    return p


def test_third_derivative_through_in_place_multiplication():
    """``(x sin x)''' = -3 sin x - x cos x``: the rules of ``in_place_adjoint`` and
    ``in_place_tangent`` in their values (``in_place_second``), refused before."""
    for x in (0.7, -1.4):
        expected = -3 * np.sin(x) - x * np.cos(x)
        assert third(product_of_items)(x) == pytest.approx(expected, rel=1e-10)


def test_third_derivative_through_in_place_division():
    for x in (0.7, -1.1):
        expected = central_difference_of_second(quotient_of_items, x)
        assert third(quotient_of_items)(x) == pytest.approx(expected, rel=1e-6)


def test_fourth_derivative_through_in_place_multiplication_is_refused_by_name():
    with pytest.raises(ADTransformError, match="in_place_second"):
        grad(third(product_of_items))(0.7)
