"""Regressions found while merging the issue-16 branches: a complex value whose first
adjoint contribution is real (from a real-valued consumer), and later ones complex.

The backward sweep adds later contributions in place into the first one when a helper
made it (``dz += ...``), so that one must already be complex. Checked by central finite
differences of real-valued functions of real inputs.
"""

import numpy as np
from gradcheck import check_grad

RNG = np.random.default_rng(1616)


def real_part_first_then_modulus(A, v):
    z = v * (1.0 + 2.0j)
    return np.sum(np.abs(A @ z) ** 2) + np.real(np.sum(z @ A.T))


def item_then_product(A, v):
    z = v * (0.5 - 1.5j)
    return np.real(z[1]) + np.sum(np.abs(A @ z)) + np.imag(np.sum(z[::2]))


def matrices_then_vector(A, B):
    Z = A * (1.0 + 1.0j)
    return np.real(np.sum(Z @ B)) + np.sum(np.abs(Z @ B[:, 0]) ** 2)


def test_matmul_adjoint_of_a_complex_operand_stays_complex():
    A, v = RNG.standard_normal((3, 4)), RNG.standard_normal(4)
    check_grad(real_part_first_then_modulus, (A, v), wrt=(0, 1))


def test_item_and_slice_adjoints_of_a_complex_array():
    A, v = RNG.standard_normal((3, 4)), RNG.standard_normal(4)
    check_grad(item_then_product, (A, v), wrt=(0, 1))


def test_matrix_then_matrix_vector_products_of_a_complex_matrix():
    A, B = RNG.standard_normal((3, 4)), RNG.standard_normal((4, 2))
    check_grad(matrices_then_vector, (A, B), wrt=(0, 1))


# -- rules written for real values refuse complex ones (never a silent answer) -----------

import pytest  # noqa: E402

from ad_transform import ADTransformError, grad  # noqa: E402


def singular_values_of_complex(A):
    return np.sum(np.linalg.svd(A * (1.0 + 0.5j), compute_uv=False))


def eigenvalues_of_complex_hermitian(A):
    H = A + 1j * (A - A.T)
    return np.sum(np.linalg.eigvalsh(H + H.conj().T) ** 2)


def nanvar_of_complex(x):
    return np.nanvar(x * (1.0 + 1.0j))


def median_of_complex(x):
    return np.abs(np.median(x * (1.0 - 2.0j)))


@pytest.mark.parametrize(
    "f, shape",
    [
        (singular_values_of_complex, (3, 3)),
        (eigenvalues_of_complex_hermitian, (3, 3)),
        (nanvar_of_complex, (4,)),
        (median_of_complex, (5,)),
    ],
)
def test_real_only_rules_refuse_complex_values(f, shape):
    with pytest.raises(ADTransformError, match="complex"):
        grad(f)(RNG.standard_normal(shape))


# -- complex values reach only the rules written for them (complex_flows.py) -------------
# Each of these gave a wrong gradient before (the breaker's W1-W4, W7): np.correlate
# conjugates, Python numbers' adjoints were cast to float, a list's elements were not
# followed as complex values. Now they are refused, naming the operation.


def convolve_complex(x):
    return np.real(np.sum(np.convolve(x, np.array([1j])) * 1j))


def correlate_complex(x):
    return np.imag(np.sum(np.correlate(np.array([1.0, 2.0, 3.0]), x * 1j)))


def array_of_python_complex(a, b):
    return np.sum(np.abs(np.array([a * 1j, b])))


def abs_of_list_of_complex(x):
    return np.sum(np.abs([x[0] * 1j, x[1] + 0.5j]))


def gradient_of_complex(x, y):
    return np.sum(np.abs(np.gradient(y + 1j * y**2, x)))


def convolve_in_helper(z):
    return np.convolve(z, np.ones(2))


def complex_into_helper(x):
    return np.sum(np.abs(convolve_in_helper(x * 1j)))


def make_complex(x):
    return x * 1j


def complex_from_helper(x):
    return np.sum(np.abs(np.convolve(make_complex(x), np.ones(2))))


@pytest.mark.parametrize(
    "f, args, wrt",
    [
        (convolve_complex, (np.array([1.0, 2.0, -0.5]),), 0),
        (correlate_complex, (np.array([1.0, 2.0]),), 0),
        (array_of_python_complex, (0.5, 1.5), (0, 1)),
        (abs_of_list_of_complex, (np.array([0.6, 0.8]),), 0),
        (gradient_of_complex, (np.array([0.0, 0.4, 1.1]), np.array([0.3, 0.5, 0.9])), (0, 1)),
        (complex_into_helper, (np.array([1.0, 2.0]),), 0),
        (complex_from_helper, (np.array([1.0, 2.0]),), 0),
    ],
)
def test_complex_values_reaching_rules_written_for_real_values_are_refused(f, args, wrt):
    with pytest.raises(ADTransformError, match="may be a complex array or number"):
        grad(f, wrt=wrt)(*args)


def power_spectrum_through_a_helper(x):
    return np.sum(np.abs(spectrum(x)) ** 2)


def spectrum(x):
    return np.fft.fft(x * 1.0)


def test_fft_through_a_helper_is_still_exact():
    # Parseval: sum |fft(x)|^2 = n sum x^2, so the gradient is 2 n x (calculus)
    x = RNG.standard_normal(6)
    np.testing.assert_allclose(grad(power_spectrum_through_a_helper)(x), 12.0 * x, rtol=1e-12)


def masked_logsumexp(a):
    from scipy.special import logsumexp

    return logsumexp(a, b=np.array([0.0, 1.0, 1.0]))


def test_logsumexp_masked_element_at_a_large_value_has_zero_gradient():
    pytest.importorskip("scipy")
    a = np.array([1000.0, 0.0, 1.0])
    # calculus: d/da_i log(e^a1 + e^a2) = softmax over the unmasked elements, 0 where b = 0
    expected = np.array([0.0, 1.0 / (1.0 + np.e), np.e / (1.0 + np.e)])
    np.testing.assert_allclose(grad(masked_logsumexp)(a), expected, rtol=1e-12)


def stacked_with_complex_then_read(x):
    d = np.stack([x, 1j * x])
    return np.sum(np.abs(d) ** 2) + x[0] * np.real(d[1, 1] * 1j)


def einsum_of_complex_then_index(x, M):
    z = np.einsum("ij,j->i", M * (1.0 + 0.5j), x)
    return np.real(z[0]) + np.sum(np.abs(z) ** 2)


def test_real_arguments_whose_adjoints_pass_through_complex_values():
    # a real argument's first adjoint contribution real, a later one complex: added out
    # of place where complex values may appear (it was a += casting error)
    x, M = RNG.standard_normal(3), RNG.standard_normal((2, 3))
    check_grad(stacked_with_complex_then_read, (x,))
    check_grad(einsum_of_complex_then_index, (x, M), wrt=(0, 1))
