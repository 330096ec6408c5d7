"""Higher-order rules of the conversion, complex, numeric and SciPy-statistics helpers (issue 14,
fifth part): ``np.array``/``np.asarray``/``np.float64`` (``array_adjoint``, ``cast_like``),
``np.r_``/``np.c_`` (``concatenator_*``), ``np.meshgrid``, ``np.angle``, ``np.gradient``,
``np.fft.rfftn``/``irfftn``, ``scipy.stats.norm`` and ``scipy.special.xlogy``/``xlog1py``
(``rules/runtime_twins_conversions.py``).

Each row is checked as in ``test_higher_order_helper_rules_2.py``: ``H v`` three ways
(forward over reverse, reverse over reverse, reverse over forward) against central
differences of the gradient (float64, random non-uniform points and directions), the
symmetry ``u^T H v = v^T H u``, and forward over reverse equal to reverse over reverse; then
Hessians against calculus where there is a closed form, and the refusals.
"""

import numpy as np
import pytest
from scipy import special, stats

from ad_transform import ADTransformError, grad, hessian, hvp, jvp

EPS = 1e-6
rng = np.random.default_rng(4005)


# -- the functions: each reaches helpers that had no higher-order rule --------------------------
def r_array(x):
    listed = np.array([x[0] * x[1], x[2] ** 2, np.sin(x[3])])
    nested = np.array([[x[4], x[5] * x[0]], [np.cos(x[1]), x[2] * x[3]]])
    mixed = np.asarray([x[:3] ** 2, np.exp(x[3:] * 0.5)])
    return (
        np.sum(listed**3)
        + np.sum(nested @ nested)
        + np.sum(mixed * np.sin(mixed))
        + np.sum(np.asarray(x * x[0]) ** 2)
        + np.sum(np.ascontiguousarray(x[1:] * x[:-1]) ** 3)
    )


def r_cast(x):
    scalar = np.float64(x[0] * x[1])
    return scalar**3 + np.float64(np.sum(x**2)) * x[2] + np.sum(np.array(x, dtype=int) * x)


def r_concatenator(x):
    rows = np.r_[x[:2] ** 2, x[0] * x[3], np.sin(x), 0:2]
    columns = np.c_[x[:3], x[3:] ** 2, np.cos(x[:3])]
    stacked = np.r_["0,2", x[:3] * x[4], x[3:]]
    single = np.r_[x * x[5]]
    return (
        np.sum(rows**3)
        + np.sum(columns**2 * np.arange(1.0, 4.0)[:, None])
        + np.sum(stacked @ stacked.T)
        + np.sum(single**2 * x)
    )


def r_meshgrid(x):
    a, b = np.meshgrid(x[:3] ** 2, np.sin(x[2:]))
    c, d, e = np.meshgrid(x[:2], x[2:4] * x[0], x[4:], indexing="ij")
    p, q = np.meshgrid(x[:2], x[3:] ** 2, sparse=True)
    return np.sum((a * b) ** 2) + np.sum(a**3) + np.sum(c * d * e**2) + np.sum((p + q) ** 3)


def r_angle(x):
    z = np.cos(x) + 1j * x**2
    w = (1.0 + x) * np.exp(1j * x * 0.7)
    return np.sum(np.angle(z) ** 2) + np.sum(np.angle(w * z, deg=True) * x)


def r_gradient(x):
    m = np.reshape(x, (2, 3)) ** 2
    stacked = np.concatenate([m, np.sin(m), m * m])
    a, b = np.gradient(stacked, 0.5 + x[1] ** 2, x[2])
    c = np.gradient(x**3 * x[3], edge_order=2)
    d = np.gradient(np.sin(x), x[4] + 2.0)
    e = np.gradient(stacked, axis=1, edge_order=2)
    return np.sum(a**2 * b) + np.sum(c**3) + np.sum(d**2 * x) + np.sum(e**2)


HALF = np.array([[0.7, -1.2], [0.4, 2.1]])  # weights of a half spectrum of a 2 x 3 signal


def r_rfftn(x):
    """No indexing and no powers: the plain gradient of complex code may only call the
    helpers listed complex-correct (complex_flows)."""
    m = np.reshape(x, (2, 3))
    h = np.fft.rfftn(m * m)
    back = np.fft.irfftn(h * np.conj(h), s=(2, 3), axes=(0, 1))
    padded = np.fft.rfftn(m * np.sin(m), s=(3, 4), axes=(0, 1), norm="ortho")
    two = np.fft.irfft2(np.fft.rfft2(np.cos(m) * m) * (1.0 + HALF * np.sum(m)))
    odd = np.fft.irfftn(np.fft.rfftn(m * np.exp(m), axes=(1,)), s=(3,), axes=(1,))
    return (
        np.sum(np.real(h * np.conj(h)) * HALF)
        + np.sum(back * m)
        + np.sum(np.real(padded) * np.real(padded) - np.imag(padded) * np.sin(np.imag(padded)))
        + np.sum(two * two * two)
        + np.sum(odd * odd * m)
    )


def r_norm_stats(x):
    loc = x[0] * 0.3
    scale = 1.0 + x[1] ** 2
    return (
        np.sum(stats.norm.logpdf(x, loc=loc, scale=scale))
        + np.sum(stats.norm.cdf(x * x[2]) ** 2)
        + np.sum(stats.norm.pdf(x, x[3], np.abs(x) + 0.5) * x)
        + np.sum(stats.norm.logcdf(x * 2.0 - 0.3, scale=1.5 + x[4] ** 2))
        + np.sum(stats.norm.sf(x**2, loc=np.sin(x)) ** 2)
        + np.sum(stats.norm.logsf(x, 0.2, 0.8 + x[5] ** 2) * x)
    )


def r_xlogy(x):
    return (
        np.sum(special.xlogy(x**2, x**2 + 1.0))
        + np.sum(special.xlog1py(x * x[0], x**2))
        + special.xlogy(x[1] ** 3, x[2] ** 2 + 0.5) * x[3]
    )


B = np.array([[1.3, -0.4, 0.2], [0.5, 2.1, -0.7], [-0.3, 0.6, 1.7], [0.9, -1.1, 0.4]])


def tall(x):
    """A 4 x 3 matrix with distinct non-zero singular values, depending on every entry of x."""
    return B + 0.3 * np.outer(np.sin(x[:4]), x[3:6]) + 0.2 * np.reshape(x[:3], (1, 3))


def r_vector_p_norms(x):
    rows = np.reshape(x, (2, 3))
    return (
        np.linalg.norm(x, ord=3) ** 2
        + np.linalg.norm(x * x[0], 1.5)
        + np.sum(np.linalg.norm(rows, ord=4, axis=1, keepdims=True) ** 2 * x[:2])
        + np.linalg.vector_norm(x, ord=3) ** 3
    )


def r_matrix_norms(x):
    m = tall(x)
    stack = np.reshape(m, (2, 2, 3))
    return (
        np.linalg.norm(m, "nuc") ** 2
        + np.linalg.norm(m.T * x[0], "nuc")
        + np.sum(np.linalg.norm(stack, "nuc", axis=(1, 2)) ** 2)
        + np.linalg.norm(m, 2) ** 2
        + np.linalg.norm(m.T * x[0], 2)
        + np.linalg.norm(m[:3], -2) ** 3
        + np.linalg.norm(m, -2, axis=(1, 0))
        + np.linalg.norm(m, 1) ** 2
        + np.linalg.norm(m * x[1], np.inf) ** 2
        + np.linalg.matrix_norm(m, ord="nuc") * x[2]
        + np.sum(np.linalg.norm(stack, "fro", axis=(1, 2)) ** 3)
    )


ROWS = [
    r_array,
    r_cast,
    r_concatenator,
    r_meshgrid,
    r_angle,
    r_gradient,
    r_rfftn,
    r_norm_stats,
    r_xlogy,
    r_vector_p_norms,
    r_matrix_norms,
]
X = np.array([0.83, -0.41, 1.27, 0.35, -0.62, 0.58])
N = X.size


def fd_hessian_vector(f, x, v, eps=EPS):
    g = grad(f)
    return (g(x + eps * v) - g(x - eps * v)) / (2 * eps)


@pytest.mark.parametrize("f", ROWS, ids=lambda f: f.__name__)
def test_hessian_vector_product_forward_over_reverse(f):
    v = rng.uniform(-1.0, 1.5, N)
    np.testing.assert_allclose(hvp(f)(X, v), fd_hessian_vector(f, X, v), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("f", ROWS, ids=lambda f: f.__name__)
def test_hessian_vector_product_reverse_over_reverse(f):
    v = rng.uniform(-1.5, 1.0, N)
    g = grad(f)

    def projected(x):
        return np.sum(g(x) * v)

    np.testing.assert_allclose(grad(projected)(X), fd_hessian_vector(f, X, v), rtol=1e-6, atol=1e-7)


# reverse over forward of complex code is refused by name before any helper is met: the pair
# a jvp returns may hold a complex tangent (complex_flows refuses indexing it)
REFUSED_REVERSE_OVER_FORWARD = {r_angle: "complex array", r_rfftn: "complex array"}


@pytest.mark.parametrize("f", ROWS, ids=lambda f: f.__name__)
def test_hessian_vector_product_reverse_over_forward(f):
    v = rng.uniform(-1.0, 1.0, N) + 0.3
    jf = jvp(f)

    def directional(x):
        return jf((x,), (v,))[1]

    if f in REFUSED_REVERSE_OVER_FORWARD:
        with pytest.raises(ADTransformError, match=REFUSED_REVERSE_OVER_FORWARD[f]):
            grad(directional)(X)
        return
    np.testing.assert_allclose(
        grad(directional)(X), fd_hessian_vector(f, X, v), rtol=1e-6, atol=1e-7
    )


@pytest.mark.parametrize("f", ROWS, ids=lambda f: f.__name__)
def test_hessian_is_symmetric_by_the_dot_product_test(f):
    u, v = rng.uniform(-1.0, 2.0, N), rng.uniform(-2.0, 1.0, N)
    h = hvp(f)
    assert u @ h(X, v) == pytest.approx(v @ h(X, u), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("f", ROWS, ids=lambda f: f.__name__)
def test_forward_over_reverse_equals_reverse_over_reverse(f):
    v = rng.uniform(-1.0, 1.0, N) - 0.2
    g = grad(f)

    def projected(x):
        return np.sum(g(x) * v)

    np.testing.assert_allclose(hvp(f)(X, v), grad(projected)(X), rtol=1e-10, atol=1e-12)


# -- Hessians against calculus -----------------------------------------------------------------
def half_squared_gradient(x):
    return 0.5 * np.sum(np.gradient(x, edge_order=2) ** 2)


def test_hessian_of_a_squared_gradient_is_the_stencil_gram_matrix():
    """``f = |D x|^2 / 2`` with ``D`` np.gradient's matrix: ``H = D^T D`` (``D`` built by
    NumPy from the identity's columns, independently of the rules)."""
    x = rng.uniform(-1.0, 1.0, 7)
    d = np.gradient(np.eye(7), axis=0, edge_order=2)
    np.testing.assert_allclose(hessian(half_squared_gradient)(x), d.T @ d, rtol=1e-12, atol=1e-12)


def spaced_gradient(x):
    return np.sum(np.gradient(np.array([1.0, 4.0, 2.0, 3.0]), x[0]) * x[1])


def test_hessian_through_a_number_spacing():
    """``f = b sum(D y) / h``: ``f_hh = 2 b s / h^3``, ``f_hb = -s / h^2``, ``f_bb = 0``
    with ``s = sum(D y)``."""
    h, b = 0.7, -1.3
    s = np.sum(np.gradient(np.array([1.0, 4.0, 2.0, 3.0])))
    expected = np.array([[2 * b * s / h**3, -s / h**2], [-s / h**2, 0.0]])
    np.testing.assert_allclose(hessian(spaced_gradient)(np.array([h, b])), expected, rtol=1e-12)


def summed_logpdf(x):
    return np.sum(stats.norm.logpdf(x[:-1], loc=0.4, scale=x[-1]))


def test_hessian_of_the_normal_log_density():
    """``sum_i log phi((x_i - m) / s) - log s``: ``d2/dx_i^2 = -1/s^2``,
    ``d2/dx_i ds = 2 (x_i - m) / s^3``, ``d2/ds^2 = sum_i (1 - 3 z_i^2) / s^2``."""
    x = np.array([0.3, -1.1, 0.9, 2.0, 1.6])
    y, s = x[:-1], x[-1]
    z = (y - 0.4) / s
    expected = np.zeros((5, 5))
    expected[:4, :4] = -np.eye(4) / s**2
    expected[:4, 4] = expected[4, :4] = 2 * (y - 0.4) / s**3
    expected[4, 4] = np.sum(1 - 3 * z**2) / s**2
    np.testing.assert_allclose(hessian(summed_logpdf)(x), expected, rtol=1e-12, atol=1e-14)


P = np.array([0.3, 1.2, -0.7, 2.0, 0.5, -1.1])


def spectral_energy(t):
    m = np.reshape(P, (2, 3)) * t
    h = np.fft.rfftn(m * m)
    return np.sum(np.real(h * np.conj(h)))


def filtered_cube(t):
    spectrum = np.fft.rfftn(np.reshape(P, (2, 3)) * t) * HALF
    back = np.fft.irfftn(spectrum, s=(2, 3))
    return np.sum(back * back * back)


def cubed_pieces(t):
    return np.sum(np.r_[t * P, t**2, np.cos(t)] ** 3)


def test_third_derivatives_through_rfftn_irfftn_and_r_():
    """Calculus: ``sum |rfftn((P t)^2)|^2 = C t^4`` (third derivative ``24 C t``),
    ``sum irfftn(W rfftn(P t))^3 = D t^3`` (``6 D``) and ``sum r_[t P, t^2, cos t]^3``
    (``6 sum P^3 + 120 t^3 + (3 sin t + 27 sin 3t) / 4``); the transposes
    ``rfftn/irfftn_adjoint_cotangent`` have rules of their own."""
    m = np.reshape(P, (2, 3))
    c = np.sum(np.abs(np.fft.rfftn(m * m)) ** 2)
    d = np.sum(np.fft.irfftn(np.fft.rfftn(m) * HALF, s=(2, 3)) ** 3)
    for t in (0.7, -1.3):
        assert grad(grad(grad(spectral_energy)))(t) == pytest.approx(24 * c * t, rel=1e-10)
        assert grad(grad(grad(filtered_cube)))(t) == pytest.approx(6 * d, rel=1e-10)
        expected = 6 * np.sum(P**3) + 120 * t**3 + (3 * np.sin(t) + 27 * np.sin(3 * t)) / 4
        assert grad(grad(grad(cubed_pieces)))(t) == pytest.approx(expected, rel=1e-10)


def xlogy_pair(x):
    return special.xlogy(x[0], x[1]) + special.xlog1py(x[0], x[2])


def test_mixed_partial_of_xlogy_at_x_zero():
    """``x log y``: ``d2/dx dy = 1 / y`` at ``x == 0`` too (SciPy's value 0 at ``x == 0``
    is the limit; a derivative helper's ``where(x == 0, 0, x / y)`` would have given 0)."""
    x = np.array([0.0, 1.7, 0.4])
    expected = np.array([[0.0, 1 / 1.7, 1 / 1.4], [1 / 1.7, 0.0, 0.0], [1 / 1.4, 0.0, 0.0]])
    np.testing.assert_allclose(hessian(xlogy_pair)(x), expected, rtol=1e-12, atol=1e-15)
    v = np.array([0.3, -0.8, 0.5])
    np.testing.assert_allclose(hvp(xlogy_pair)(x, v), expected @ v, rtol=1e-12, atol=1e-15)


def test_xlogy_at_the_pole_is_refused_by_name():
    """At ``x == 0, y == 0`` the mixed partial ``1 / y`` is infinite: refused, naming it."""
    with pytest.raises(ADTransformError, match="xlogy"):
        hessian(xlogy_pair)(np.array([0.0, 0.0, 0.4]))
    with pytest.raises(ADTransformError, match="xlog1py"):
        hessian(xlogy_pair)(np.array([0.0, 0.4, -1.0]))


def atan2_by_angle(x):
    return np.angle(np.sum(x * np.array([1.0, 1j])))


def test_hessian_of_the_angle():
    """``angle(a + i b) = atan2(b, a)``: ``H = [[2ab, b^2 - a^2], [b^2 - a^2, -2ab]] / r^4``."""
    a, b = 0.7, -1.2
    r4 = (a * a + b * b) ** 2
    expected = np.array([[2 * a * b, b * b - a * a], [b * b - a * a, -2 * a * b]]) / r4
    np.testing.assert_allclose(hessian(atan2_by_angle)(np.array([a, b])), expected, rtol=1e-12)


def grid_product(x):
    a, b = np.meshgrid(x[:2], x[2:] ** 2)
    return np.sum(a * b)


def test_hessian_of_a_meshgrid_product():
    """``sum_ij u_i v_j^2``: ``d2/du_i dv_j = 2 v_j``, ``d2/dv_j^2 = 2 sum(u)``."""
    x = np.array([0.5, -1.5, 0.8, 2.0, -0.3])
    expected = np.zeros((5, 5))
    expected[:2, 2:] = 2 * x[2:]
    expected[2:, :2] = expected[:2, 2:].T
    expected[2:, 2:] = 2 * np.sum(x[:2]) * np.eye(3)
    np.testing.assert_allclose(hessian(grid_product)(x), expected, rtol=1e-12)


def coordinates_gradient(x):
    return np.sum(np.gradient(x**2, np.cumsum(np.abs(x) + 0.5)) ** 2)


def test_gradient_with_coordinates_is_refused_by_name():
    """The stencil of coordinate arrays is not written as a twin: refused at second order."""
    with pytest.raises(ADTransformError, match=r"np\.gradient"):
        hvp(coordinates_gradient)(X, np.ones(N))


# -- the twins reverse over forward cannot reach yet (complex_flows): checked directly ---------
def test_angle_tangent_and_complex_tangent_twins():
    """``angle_tangent`` and ``complex_tangent`` are met only by reverse or forward over
    forward of complex code, refused before them (``REFUSED_REVERSE_OVER_FORWARD``). Their
    twins give the helpers' values, and the twin's gradient as a user function matches
    central differences."""
    from ad_transform import runtime
    from ad_transform.rules.runtime_twins import twin_of

    angle_twin = twin_of(runtime.angle_tangent)
    complex_twin = twin_of(runtime.complex_tangent)
    z = rng.uniform(-1.0, 1.0, 4) + 1j * rng.uniform(-1.0, 1.0, 4)
    t = rng.uniform(-1.0, 1.0, 4) + 1j * rng.uniform(-1.0, 1.0, 4)
    for deg in (False, True):
        np.testing.assert_allclose(
            angle_twin(t, z, deg), runtime.angle_tangent(t, z, deg), rtol=1e-14
        )
    np.testing.assert_array_equal(angle_twin(t, z.real), runtime.angle_tangent(t, z.real))
    for imaginary in (False, True):
        assert complex_twin(0.7, imaginary) == runtime.complex_tangent(0.7, imaginary)

    def through_twin(x):
        return np.sum(angle_twin(np.sin(x) + 1j * x, np.cos(x) + 1j * x**2, True) * x)

    g = grad(through_twin)
    v = rng.uniform(-1.0, 1.0, N)
    fd = (through_twin(X + EPS * v) - through_twin(X - EPS * v)) / (2 * EPS)
    assert g(X) @ v == pytest.approx(fd, rel=1e-7)


def test_census_lists_none_of_these_helpers():
    from test_higher_order_helper_rules_2 import census

    mine = {
        *("array_adjoint", "cast_like", "concatenator_adjoint", "concatenator_tangent"),
        *("meshgrid_adjoint", "angle_adjoint", "angle_tangent", "complex_tangent"),
        *("gradient_adjoints", "gradient_spacing_adjoint", "gradient_tangent"),
        *("rfftn_adjoint", "irfftn_adjoint", "norm_adjoints", "norm_tangent"),
        "xlogy_derivatives",
    }
    emitted, refused = census()
    assert mine <= set(emitted)
    assert not mine & set(refused)


# -- np.linalg.norm: p-norms, nuclear and spectral norms against calculus -----------------------
def three_norm(x):
    return np.linalg.norm(x, 3)


def test_hessian_of_the_three_norm():
    """``n = (sum |x_i|^3)^(1/3)``: ``H = 2 diag(|x|) / n^2 - 2 (s |x|^2)(s |x|^2)^T / n^5``
    (``s = sign(x)``)."""
    x = np.array([0.7, -1.3, 0.4, 2.1])
    n = np.sum(np.abs(x) ** 3) ** (1 / 3)
    w = np.sign(x) * x**2
    expected = 2 * np.diag(np.abs(x)) / n**2 - 2 * np.outer(w, w) / n**5
    np.testing.assert_allclose(hessian(three_norm)(x), expected, rtol=1e-12, atol=1e-14)


def perturbed(x):
    """``diag(3, 1) + [[a, b], [c, d]]``: at 0 the singular vectors are the unit vectors."""
    return np.array([[3.0, 0.0], [0.0, 1.0]]) + np.reshape(x, (2, 2))


def nuclear(x):
    return np.linalg.norm(perturbed(x), "nuc")


def spectral(x):
    return np.linalg.norm(perturbed(x), 2)


def smallest(x):
    return np.linalg.norm(perturbed(x), -2)


@pytest.mark.parametrize(
    ("f", "bb", "bc"),
    [(spectral, 0.375, 0.125), (smallest, -0.125, -0.375), (nuclear, 0.25, -0.25)],
    ids=["2", "-2", "nuc"],
)
def test_hessians_of_singular_values_at_a_diagonal_matrix(f, bb, bc):
    """At ``diag(s_1, s_2) = diag(3, 1)`` the second derivative of ``s_k`` along the
    off-diagonal entries ``(b, c)`` is ``(s_k (b^2 + c^2) + 2 s_j b c) / (s_k^2 - s_j^2)``
    (Townsend 2016): ``(3 (b^2 + c^2) + 2 b c) / 8`` for ``s_1``, ``-((b^2 + c^2) + 6 b c) / 8``
    for ``s_2``, their sum ``(b - c)^2 / 4`` for the nuclear norm (by hand:
    ``s_1([[3, b], [0, 1]]) = 3 + 3 b^2 / 16 + O(b^4)``). The diagonal entries enter
    linearly."""
    expected = np.zeros((4, 4))
    expected[1, 1] = expected[2, 2] = bb
    expected[1, 2] = expected[2, 1] = bc
    np.testing.assert_allclose(hessian(f)(np.zeros(4)), expected, rtol=1e-12, atol=1e-14)


def test_second_derivatives_of_norms_refused_where_they_do_not_exist():
    """An entry 0 for ``1 < p < 2``, a rank-deficient matrix for ``'nuc'``, a repeated
    largest singular value for the 2-norm: refused by name."""

    def one_and_a_half(x):
        return np.linalg.norm(x, 1.5)

    with pytest.raises(ADTransformError, match=r"ord=1\.5"):
        hessian(one_and_a_half)(np.array([0.0, 1.0, -2.0]))
    with pytest.raises(ADTransformError, match="'nuc'"):
        hessian(nuclear)(np.array([0.0, 0.0, 0.0, -1.0]))
    with pytest.raises(ADTransformError, match="ord=2"):
        hessian(spectral)(np.array([-2.0, 0.0, 0.0, 0.0]))
