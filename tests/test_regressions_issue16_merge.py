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
