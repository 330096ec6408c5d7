"""NumPy works however it is imported: ``import numpy as np``, ``import numpy``,
``from numpy import exp``, ``from numpy.linalg import norm``, a renamed module.

The rules are keyed by the function objects, so every spelling finds the same rule;
the expected gradients are worked out by hand.
"""

from __future__ import annotations

import numpy
import numpy as np
import numpy.linalg as la
import pytest
from gradcheck import check_grad
from numpy import exp, linalg
from numpy import sin as sine
from numpy import sum as total
from numpy.linalg import norm

from ad_transform import grad

X = np.array([0.3, -1.2, 2.0])
EXPECTED = np.exp(X) * (np.sin(X) + np.cos(X))  # d/dx sum(exp(x) sin(x))


def with_alias(x):
    return np.sum(np.exp(x) * np.sin(x))


def with_module_name(x):
    return numpy.sum(numpy.exp(x) * numpy.sin(x))


def with_imported_names(x):
    return total(exp(x) * sine(x))


def with_methods(x):
    return (np.exp(x) * np.sin(x)).sum()


@pytest.mark.parametrize("fn", [with_alias, with_module_name, with_imported_names, with_methods])
def test_every_spelling_gives_the_same_gradient(fn):
    np.testing.assert_allclose(grad(fn)(X), EXPECTED, rtol=1e-14)


def norms(x):
    # |x| + |2x| + |3x| + |4x|: d/dx = 10 x / |x|
    return norm(x) + linalg.norm(x * 2.0) + la.norm(x * 3.0) + numpy.linalg.norm(x * 4.0)


def test_linalg_spellings():
    np.testing.assert_allclose(grad(norms)(X), 10.0 * X / np.linalg.norm(X), rtol=1e-14)


def imported_scalar(x):
    return exp(x) * 2.0


def test_imported_function_on_a_python_float():
    g = grad(imported_scalar)(0.5)
    assert isinstance(g, float)
    assert g == pytest.approx(2.0 * np.exp(0.5), rel=1e-15)
    check_grad(imported_scalar, (0.5,))
