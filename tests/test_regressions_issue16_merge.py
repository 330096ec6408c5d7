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
