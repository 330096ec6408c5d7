"""Issue 12, the class entries the construct matrix still refused: a static method over
``math.log1p``, ``super()`` in a subclass method, class patterns in ``match`` on objects,
and an object whose attribute a method updates.

Every gradient is checked against central finite differences in float64
(``gradcheck.check_grad``); what stays refused is checked with the words of its error.
"""

from __future__ import annotations

import math

import pytest
from gradcheck import check_grad

from ad_transform import grad


# -- static methods over the math functions that had no rule ----------------------------
class Activations:
    @staticmethod
    def softplus(t):
        return math.log1p(math.exp(t))

    @staticmethod
    def softminus(t):
        return math.expm1(-t) * math.erf(t)


def staticmethod_softplus(x):
    return Activations.softplus(x) * x


def staticmethod_two(x, y):
    return Activations.softminus(x * y) + math.atan2(y, x) * math.cbrt(x)


@pytest.mark.parametrize("x", [0.4, -2.0, 3.1])
def test_staticmethod_over_log1p(x):
    check_grad(staticmethod_softplus, [x])


def test_staticmethod_softplus_is_the_sigmoid():
    # d/dx softplus(x) = sigmoid(x): d/dx (x softplus(x)) = softplus(x) + x sigmoid(x)
    x = 0.7
    expected = math.log1p(math.exp(x)) + x / (1.0 + math.exp(-x))
    assert grad(staticmethod_softplus)(x) == pytest.approx(expected, rel=1e-14)


@pytest.mark.parametrize("point", [(0.6, -1.4), (1.3, 0.2)])
def test_staticmethod_over_new_math_rules(point):
    check_grad(staticmethod_two, list(point), wrt=(0, 1))
