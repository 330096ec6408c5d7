"""Forward-mode findings of the breaker that are fixed (the rest are listed in issue 14's
note): a list operand of ``*`` is NumPy arithmetic unless the other operand is an int
(repetition), so the array's term of the product rule is kept."""

import numpy as np
import pytest

from ad_transform import jvp


def constant_weights(x):
    w = [0.5, 3.0]
    return x * w


def differentiated_weights(x, a):
    return x * [a, 2.0 * a]


def tuple_times_array(x):
    return (x[0], x[1]) * x


def repeated_list(x):
    return np.array([x, x * x] * 2)


def _central_difference(f, primals, tangents, eps=1e-6):
    plus = [p + eps * t for p, t in zip(primals, tangents)]
    minus = [p - eps * t for p, t in zip(primals, tangents)]
    return (np.asarray(f(*plus)) - np.asarray(f(*minus))) / (2 * eps)


X, U = np.array([0.7, -1.2]), np.array([0.3, 0.8])


@pytest.mark.parametrize(
    "f, primals, tangents",
    [
        (constant_weights, (X,), (U,)),
        (differentiated_weights, (X, 1.5), (U, 0.4)),
        (tuple_times_array, (X,), (U,)),
        (repeated_list, (0.6,), (1.3,)),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_products_with_lists(f, primals, tangents):
    value, tangent = jvp(f, primals, tangents)
    np.testing.assert_allclose(value, f(*primals), rtol=1e-14)
    np.testing.assert_allclose(tangent, _central_difference(f, primals, tangents), rtol=1e-7)
