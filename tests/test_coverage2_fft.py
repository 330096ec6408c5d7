"""Issue 16, FFT and complex values (part C4): ``np.fft`` and complex intermediates.

Functions of real inputs that go through complex values and return real values:
central finite differences in float64 (``check_grad``) and the dot-product test
``<u, J^T v> = <J u, v>`` (``check_vjp_dot_product``) on the real-linear maps, the
complex results split into their real and imaginary parts. Complex inputs of a
transform (``irfft``'s half spectrum) are built from two real arrays, so the pullback
of the complex value is checked through both parts. The convention is JAX's
(docs/conventions/complex.md): the adjoint of ``a + ib`` is ``dL/da - i dL/db``.
"""

from __future__ import annotations

import numpy as np
import pytest
from gradcheck import check_grad, check_vjp_dot_product

from ad_transform import ADTransformError, grad
from ad_transform.rules import list_primitives, lookup

RNG = np.random.default_rng(1606)
X7 = RNG.normal(size=7)
X37 = RNG.normal(size=(3, 7))
X345 = RNG.normal(size=(3, 4, 5))
H7 = RNG.normal(size=7) + 1j * RNG.normal(size=7)
H37 = RNG.normal(size=(3, 7)) + 1j * RNG.normal(size=(3, 7))


def parts(y):
    """A complex array as one real vector: its real parts, then its imaginary parts."""
    return np.concatenate([np.ravel(np.real(y)), np.ravel(np.imag(y))])


# -- the examples -------------------------------------------------------------------


def power_spectrum(x):
    return np.sum(np.abs(np.fft.fft(x)) ** 2)


def filtered(x, h):
    return np.sum(np.real(np.fft.ifft(np.fft.fft(x) * h)) ** 2)


def filtered_2d(x, h):
    return np.sum(np.real(np.fft.ifft(np.fft.fft(x, axis=1) * h, axis=1)) * x)


def test_power_spectrum_is_parseval():
    # sum |fft(x)|^2 = n sum x^2 (Parseval): the gradient is 2 n x, from calculus
    g = check_grad(power_spectrum, [X7])
    np.testing.assert_allclose(g, 2 * 7 * X7, rtol=1e-12)


def test_filter_through_the_spectrum():
    check_grad(filtered, [X7, H7], wrt=0)
    check_grad(filtered_2d, [X37, H37], wrt=0)


# -- one-dimensional transforms: fft, ifft, rfft with n / axis / norm ----------------------


def fft_parts(x, n, axis, norm):
    return parts(np.fft.fft(x, n, axis, norm))


def ifft_parts(x, n, axis, norm):
    return parts(np.fft.ifft(x, n, axis, norm))


def rfft_parts(x, n, axis, norm):
    return parts(np.fft.rfft(x, n, axis, norm))


def fft_keywords(x):
    return parts(np.fft.fft(x, n=5, axis=0, norm="ortho"))


SETTINGS_1D = [
    (None, -1, None),
    (None, 0, "ortho"),
    (5, -1, "forward"),  # a cut
    (10, 1, None),  # zero padding
    (4, 0, "backward"),
    (8, -1, "ortho"),
]


@pytest.mark.parametrize("f", [fft_parts, ifft_parts, rfft_parts])
@pytest.mark.parametrize("n, axis, norm", SETTINGS_1D)
def test_one_dimensional_transforms(f, n, axis, norm):
    check_vjp_dot_product(f, [X37, n, axis, norm], wrt=0)


@pytest.mark.parametrize("f", [fft_parts, ifft_parts, rfft_parts])
def test_one_dimensional_transforms_of_a_vector(f):
    check_vjp_dot_product(f, [X7, None, -1, None], wrt=0)
    check_vjp_dot_product(f, [X7, 12, -1, "ortho"], wrt=0)


def test_keywords_are_understood():
    check_vjp_dot_product(fft_keywords, [X37])


# -- irfft: a half spectrum in, a real signal out -------------------------------------------


def irfft_of(re, im, n, axis, norm):
    return np.fft.irfft(re + 1j * im, n, axis, norm)


@pytest.mark.parametrize(
    "n, axis, norm",
    [(None, -1, None), (7, -1, None), (12, -1, "ortho"), (4, -1, "forward"), (6, 0, None)],
)
def test_irfft(n, axis, norm):
    re, im = RNG.normal(size=(2, 3, 5))
    check_vjp_dot_product(irfft_of, [re, im, n, axis, norm], wrt=(0, 1))


def rfft_round_trip(x, w):
    return np.sum(np.fft.irfft(np.fft.rfft(x) * w, 7) * x)


def test_rfft_round_trip():
    # a real convolution: rfft, a complex filter, irfft (odd length, so no Nyquist term)
    w = RNG.normal(size=4) + 1j * RNG.normal(size=4)
    check_grad(rfft_round_trip, [X7, w], wrt=0)


# -- n-dimensional transforms ------------------------------------------------------------------


def fft2_parts(x, s, axes, norm):
    return parts(np.fft.fft2(x, s, axes, norm))


def ifft2_parts(x, s, axes, norm):
    return parts(np.fft.ifft2(x, s, axes, norm))


def rfft2_parts(x, s, axes, norm):
    return parts(np.fft.rfft2(x, s, axes, norm))


def fftn_parts(x, s, axes, norm):
    return parts(np.fft.fftn(x, s, axes, norm))


def ifftn_parts(x, s, axes, norm):
    return parts(np.fft.ifftn(x, s, axes, norm))


def rfftn_parts(x, s, axes, norm):
    return parts(np.fft.rfftn(x, s, axes, norm))


SETTINGS_2D = [
    (None, (-2, -1), None),
    (None, (0, 2), "ortho"),
    ((2, 6), (-2, -1), "forward"),
    ((5, 3), (2, 0), None),
]
SETTINGS_ND = [
    (None, None, None),
    (None, (0, 2), "ortho"),
    ((2, 6), (1, 2), None),
    ((4, 3, 8), (0, 1, 2), "forward"),
    ((6,), (1,), "backward"),
]


@pytest.mark.parametrize("f", [fft2_parts, ifft2_parts, rfft2_parts])
@pytest.mark.parametrize("s, axes, norm", SETTINGS_2D)
def test_two_dimensional_transforms(f, s, axes, norm):
    check_vjp_dot_product(f, [X345, s, axes, norm], wrt=0)


@pytest.mark.parametrize("f", [fftn_parts, ifftn_parts, rfftn_parts])
@pytest.mark.parametrize("s, axes, norm", SETTINGS_ND)
def test_n_dimensional_transforms(f, s, axes, norm):
    check_vjp_dot_product(f, [X345, s, axes, norm], wrt=0)


def irfft2_of(re, im, s, axes, norm):
    return np.fft.irfft2(re + 1j * im, s, axes, norm)


def irfftn_of(re, im, s, axes, norm):
    return np.fft.irfftn(re + 1j * im, s, axes, norm)


@pytest.mark.parametrize(
    "s, axes, norm",
    [(None, (-2, -1), None), ((3, 7), (-2, -1), "ortho"), ((5, 4), (0, 2), "forward")],
)
def test_irfft2(s, axes, norm):
    re, im = RNG.normal(size=(2, 3, 4, 4))
    check_vjp_dot_product(irfft2_of, [re, im, s, axes, norm], wrt=(0, 1))


@pytest.mark.parametrize(
    "s, axes, norm", [(None, None, None), ((2, 6), (-2, -1), "ortho"), ((4, 3, 6), (0, 1, 2), None)]
)
def test_irfftn(s, axes, norm):
    re, im = RNG.normal(size=(2, 3, 4, 4))
    check_vjp_dot_product(irfftn_of, [re, im, s, axes, norm], wrt=(0, 1))


# -- shifts -------------------------------------------------------------------------------------


def shifted(x, axes):
    return np.fft.fftshift(x, axes) * np.arange(1.0, 1 + x.shape[-1])


def unshifted(x, axes):
    return np.fft.ifftshift(x, axes) * np.arange(1.0, 1 + x.shape[-1])


def centred_spectrum(x):
    return parts(np.fft.fftshift(np.fft.fft2(x)))


@pytest.mark.parametrize("f", [shifted, unshifted])
@pytest.mark.parametrize("axes", [None, 0, (0, 1), -1])
def test_shifts(f, axes):
    check_vjp_dot_product(f, [X37, axes], wrt=0)


def test_centred_spectrum():
    check_vjp_dot_product(centred_spectrum, [X37])


# -- float32: NumPy's FFT keeps single precision, so does the gradient ---------------------


def half_spectrum_filter(x):
    return np.sum(np.fft.irfft(np.fft.rfft(x) * 0.5j + 1.0, 7) * x)


def orthonormal_magnitudes(x):
    return np.sum(np.abs(np.fft.fftn(x.reshape(1, 7), norm="ortho")))


@pytest.mark.parametrize("f", [power_spectrum, half_spectrum_filter, orthonormal_magnitudes])
def test_float32_in_float32_out(f):
    check_grad(f, [X7])
    x32 = X7.astype(np.float32)
    g32 = grad(f)(x32)
    assert isinstance(g32, np.ndarray) and g32.dtype == np.float32
    np.testing.assert_allclose(g32, grad(f)(x32.astype(np.float64)), rtol=1e-4, atol=1e-4)


# -- complex arithmetic: real in, real out through complex values ---------------------------

A = RNG.normal(size=5)
B = RNG.normal(size=5) + 0.5
M = RNG.normal(size=(3, 5))


def abs_of_sum(x, y):
    return np.sum(np.abs(x + 1j * y))


def abs_of_product(x, y):
    return np.sum(np.abs((x + 1j * y) * (y - 2j * x)) * x)


def real_of_quotient(x, y):
    return np.sum(np.real((x + 1j * y) / (y - 2j + x)) + np.imag((1j - x) / (y + 1j)))


def powers(x, y):
    z = x + 1j * y
    return np.sum(np.real(z**3) + np.imag(z**2.5) + np.real(z ** (0.5 + 0.25j)))


def exp_log(x, y):
    z = x + 1j * y
    return np.sum(np.real(np.exp(z) * np.log(z)) + np.imag(np.sqrt(z)) * np.abs(np.exp(1j * x)))


def trigonometric(x, y):
    z = x + 1j * y
    return np.sum(np.real(np.sin(z)) + np.imag(np.cos(z) * np.tanh(z)))


def conjugates(x, y):
    z = x + 1j * y
    w = np.conj(z) * z.conj() + np.conjugate(z * 1j) * z.conjugate()
    return np.sum(np.real(w) + 2.0 * np.imag(w))


def angles(x, y):
    z = x + 1j * y
    return np.sum(np.angle(z) * x + np.angle(z * z, deg=True))


def attributes(x, y):
    z = (x + 1j * y) ** 2
    return np.sum(z.real * z.imag + np.real_if_close(z * 1j).imag)


def reductions(x, y):
    z = np.outer(x, 1j * y) + np.exp(1j * np.outer(y, x)).T
    return np.abs(np.sum(z)) + np.real(np.mean(z * z, axis=0)).sum()


def products(x, y):
    z = x + 1j * y
    w = M @ z
    return np.sum(np.abs(w) ** 2) + np.real(np.vdot(z, w[:1] * z)) + np.imag(np.vdot(z * 2j, x))


def dot_of_complex(x, y):
    z = x + 1j * y
    return np.abs(np.dot(z, z * y)) + np.real(np.sum(np.outer(z, x) * 1j))


COMPLEX_FUNCTIONS = [
    abs_of_sum,
    abs_of_product,
    real_of_quotient,
    powers,
    exp_log,
    trigonometric,
    conjugates,
    angles,
    attributes,
    reductions,
    products,
    dot_of_complex,
]


@pytest.mark.parametrize("f", COMPLEX_FUNCTIONS)
def test_complex_intermediates(f):
    check_grad(f, [A, B], wrt=(0, 1))


def scalar_abs(a, b):
    return abs(a + 1j * b) * a + np.abs(b - 2j * a)


def scalar_parts(a, b):
    z = (a + 1j * b) * (b - 0.5j)
    return z.real * a + z.imag + np.real(z / (a + 2j)) + np.angle(z)


def scalar_powers(a, b):
    z = a * 1j + b
    return np.imag(z**3) + np.real(np.exp(z) / z) + np.real(np.conj(z) * z * 1j * a)


@pytest.mark.parametrize("f", [scalar_abs, scalar_parts, scalar_powers])
@pytest.mark.parametrize("args", [(0.7, -1.3), (np.float64(1.1), np.float64(0.4))])
def test_complex_scalars(f, args):
    g = check_grad(f, list(args), wrt=(0, 1))
    assert all(type(d) is type(a) for d, a in zip(g, args))


def complex_vector(x):
    z = np.exp(1j * np.arange(1.0, 4.0)[:, None] * x)
    return np.concatenate([parts(z), parts(z * x), np.ravel(np.abs(z * (x + 2j)))])


def test_dot_product_through_complex_values():
    check_vjp_dot_product(complex_vector, [X7])


# -- the second bullet's real / imag / angle / real_if_close on real input ----------------


def real_of_real(x):
    return np.real(x) * x + x.real


def imag_of_real(x):
    return np.imag(x) + x.imag * x + x


def angle_of_real(x):
    return np.angle(x) + np.angle(x, deg=True) * x


def real_if_close_of_real(x):
    return np.real_if_close(x) * np.conj(x)


@pytest.mark.parametrize("f", [real_of_real, imag_of_real, angle_of_real, real_if_close_of_real])
@pytest.mark.parametrize("x", [X7, X37], ids=["vector", "matrix"])
def test_parts_of_real_input(f, x):
    check_vjp_dot_product(f, [x])


def real_if_close_keeps_complex(x):
    return np.sum(np.imag(np.real_if_close(x * 1j + 0.5)) * x)


def real_if_close_drops_tiny(x):
    return np.sum(np.real_if_close(x + 1e-20j) * x)


def test_real_if_close_both_outcomes():
    check_grad(real_if_close_keeps_complex, [X7])
    g = check_grad(real_if_close_drops_tiny, [X7])
    np.testing.assert_allclose(g, 2 * X7, rtol=1e-12)


@pytest.mark.parametrize("x32", [X7.astype(np.float32)])
def test_complex_float32(x32):
    for f in (abs_of_sum, angles, conjugates):
        g = grad(f, wrt=(0, 1))(x32, x32 + 1.0)
        assert all(d.dtype == np.float32 for d in g)
        g64 = grad(f, wrt=(0, 1))(x32.astype(float), x32.astype(float) + 1.0)
        for d, d64 in zip(g, g64):
            np.testing.assert_allclose(d, d64, rtol=1e-4, atol=1e-4)


# -- refusals: complex results of grad, complex arguments, rules for real values only -------


def spectrum_sum(x):
    return np.sum(np.fft.fft(x))


def complex_scalar_output(x):
    return np.sum(x) * (1 + 1j)


def norm_of_complex(x):
    return np.linalg.norm(x + 1j)


def var_of_complex(x):
    return np.var(x * 1j + x)


def test_complex_output_is_refused():
    for f in (spectrum_sum, complex_scalar_output):
        with pytest.raises(ADTransformError, match="complex"):
            grad(f)(X7)


def test_complex_argument_is_refused():
    with pytest.raises(TypeError, match="complex"):
        grad(power_spectrum)(H7)


@pytest.mark.parametrize("f", [norm_of_complex, var_of_complex])
def test_rules_for_real_values_refuse_complex(f):
    with pytest.raises(ADTransformError, match="complex array"):
        grad(f)(X7)


def test_fft_out_argument_is_refused():
    with pytest.raises(ADTransformError):
        grad(fft_into)(X7)


def fft_into(x):
    out = np.zeros(7, dtype=complex)
    return np.sum(np.abs(np.fft.fft(x, out=out)))


# -- the primitives listed ------------------------------------------------------------------

FFT_PRIMITIVES = [
    *(np.fft.fft, np.fft.ifft, np.fft.rfft, np.fft.irfft, np.fft.fft2, np.fft.ifft2),
    *(np.fft.fftn, np.fft.ifftn, np.fft.rfft2, np.fft.irfft2, np.fft.rfftn, np.fft.irfftn),
    *(np.fft.fftshift, np.fft.ifftshift, np.imag, np.angle, np.real_if_close),
]
# what test_rules' completeness check counts as covered here (by the tests above)
COVERED_PRIMITIVES = [
    *FFT_PRIMITIVES,
    complex,
    ("attribute", "imag"),
    ("method", "conj"),
    ("method", "conjugate"),
]


def test_primitives_are_listed():
    listed = set(list_primitives())
    for primitive in FFT_PRIMITIVES:
        rule = lookup(primitive)
        assert rule is not None and rule.differentiable, primitive
        assert rule.name in listed
    assert "numpy.fft.fft" in listed
    for key in [("attribute", "imag"), ("method", "conj"), ("method", "conjugate")]:
        assert lookup(key) is not None and lookup(key).differentiable


# -- complex adjoints reaching real values: matrix products, writes, loops, conversions ----

MC = RNG.normal(size=(4, 5)) + 1j * RNG.normal(size=(4, 5))


def complex_matrix_times_real(t):
    return np.sum(np.abs(MC @ np.sin(t)))


def in_place_then_complex(t):
    y = np.maximum(t, 0.1) * 2.0
    y += np.cos(t)
    return np.sum(np.abs(np.dot(MC, y)) ** 2)


def writes_into_complex_array(t):
    z = np.zeros(5, dtype=complex)
    z[1:] = t[:4] * 1j
    z += t
    return np.sum(np.abs(z) * t)


def complex_in_a_loop(t):
    s = 0.0
    for k in range(3):
        s = s + np.abs(np.sum(np.exp(1j * k * t)))
    return s


def conversions_to_complex(t):
    z = t.astype(complex) * (1 + 2j)
    w = np.array([z[0], z[1] * 1j, t[2]])
    return np.sum(np.real(w) * np.imag(w + 1j))


def tensor_products(t):
    z = np.tensordot(MC, t, axes=1) + np.einsum("ij,j->i", MC, t)
    return np.linalg.norm(np.abs(z))


@pytest.mark.parametrize(
    "f",
    [
        complex_matrix_times_real,
        in_place_then_complex,
        writes_into_complex_array,
        complex_in_a_loop,
        conversions_to_complex,
        tensor_products,
    ],
)
def test_complex_adjoints_reaching_real_arrays(f):
    g = check_grad(f, [A])
    assert g.dtype == np.float64


def builtin_complex(a, b):
    z = complex(a, b) * complex(b) + complex(imag=a)
    return abs(z**2) + (z * z.conjugate()).real + np.angle(z)


@pytest.mark.parametrize("args", [(0.3, -1.2), (np.float64(0.3), np.float64(1.7))])
def test_builtin_complex(args):
    g = check_grad(builtin_complex, list(args), wrt=(0, 1))
    assert all(type(d) is type(a) for d, a in zip(g, args))


# -- the rules written for real values, on complex values (holomorphic: g * f'(z)) ---------


def z_of(x):
    return x[:4] + 1j * x[4:]


def products_of_complex(x):
    z = z_of(x)
    return (
        np.real(np.prod(z))
        + np.imag(np.prod(z * z))
        + np.sum(np.real(np.cumsum(z) * np.cumprod(z)))
    )


def sinc_of_complex(x):
    return np.sum(np.real(np.sinc(z_of(x))))


def linear_algebra_of_complex(x):
    z = z_of(x).reshape(2, 2)
    inverse = np.sum(np.linalg.inv(z))
    return (
        np.real(np.linalg.det(z)) + np.imag(inverse) + np.real(np.sum(np.linalg.solve(z, z.T @ z)))
    )


def diagonals_of_complex(x):
    z = z_of(x).reshape(2, 2)
    return np.real(np.trace(z) * np.sum(np.diag(z) ** 2))


def indexing_complex(x):
    z = z_of(x)
    return np.real(z[1] * z[::2].sum()) + np.imag(np.where(x[:4] > 0, z, z * z).sum())


def shapes_of_complex(x):
    z = z_of(x)
    return np.real(np.sum(np.concatenate([z, z.reshape(2, 2).T.ravel()]) * np.arange(8)))


def extremes_of_complex(x):
    z = z_of(x)
    return np.real(np.max(z) * 1j) + np.imag(np.maximum(z, 0.1 + 0j).sum())


def inverse_functions_of_complex(x):
    z = z_of(x) * 0.3
    w = np.arcsin(z) + np.arctan(z) + np.arccosh(z + 2) + np.arctanh(z) + np.log1p(z)
    return np.sum(np.real(w + np.expm1(z) + np.log10(z) + np.tan(z)))


def powers_of_complex(x):
    z = z_of(x)
    return np.sum(np.real(z ** z_of(x[::-1]) + 2.0**z + np.float_power(z, 1.5)))


def squares_of_complex(x):
    z = z_of(x)
    return np.sum(np.imag(np.square(z) + np.reciprocal(z) + np.sqrt(z) * np.cbrt(x[:4])))


def means_of_complex(x):
    z = z_of(x)
    return np.real(np.mean(z * np.conj(z))) + np.average(np.abs(z))


HOLOMORPHIC = [
    products_of_complex,
    sinc_of_complex,
    linear_algebra_of_complex,
    diagonals_of_complex,
    indexing_complex,
    shapes_of_complex,
    extremes_of_complex,
    inverse_functions_of_complex,
    powers_of_complex,
    squares_of_complex,
    means_of_complex,
]


@pytest.mark.parametrize("f", HOLOMORPHIC)
def test_rules_on_complex_values(f):
    check_grad(f, [np.random.default_rng(5).normal(size=8)])
