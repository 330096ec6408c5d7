"""A line whose value nothing needs still raises where the function raises.

Dead-code elimination once removed every forward statement whose value neither the
backward sweep nor the result read, so ``grad(f)`` returned a gradient where ``f``
itself raised (``unused = x + "a"``: TypeError in ``f``, none in its gradient). The rule
now is the one a hand-written gradient follows: the forward sweep runs what ``f`` runs,
except operations that cannot raise on the values they get (copies, constants, ``+ - *``
between numbers, an elementwise function of one number or array, arithmetic of one array
with numbers, the sum of an array's elements), which still go when unused.
"""

from __future__ import annotations

import numpy as np
import pytest
from gradcheck import numerical_gradient

from ad_transform import grad, jvp, value_and_grad, vjp


def adds_a_string(x):
    unused = x + "a"  # noqa: F841
    return x * 2.0


def adds_a_string_to_a_sum(x):
    unused = np.sum(x) + "a"  # noqa: F841
    return np.sum(x * 2.0)


def multiplies_mismatched_matrices(x, y):
    unused = x @ y  # noqa: F841
    return np.sum(x * 2.0)


def adds_arrays_that_do_not_broadcast(x, y):
    unused = x + y  # noqa: F841
    return np.sum(x * 2.0)


def indexes_past_the_end(x):
    unused = [1.0, 2.0][5]  # noqa: F841
    return x * 2.0


def reads_a_missing_key(x):
    d = {"a": 1.0}
    unused = d["b"]  # noqa: F841
    return x * 2.0


def reshapes_to_a_wrong_size(x):
    unused = np.reshape(x, (5,))  # noqa: F841
    return np.sum(x * 2.0)


def converts_a_bad_string(x):
    unused = int("abc")  # noqa: F841
    return x * 2.0


def compares_with_a_string(x):
    unused = x < "a"  # noqa: F841
    return x * 2.0


def takes_the_max_of_nothing(x):
    unused = np.max(x[5:])  # noqa: F841
    return np.sum(x * 2.0)


def negates_a_boolean_mask(x, mask):
    unused = -mask  # noqa: F841
    return np.sum(x * 2.0)


def takes_the_max_of_a_number(x):
    unused = max(x)  # noqa: F841
    return x * 2.0


def calls_a_raising_helper(x):
    unused = _fails(x)  # noqa: F841
    return x * 2.0


def _fails(x):
    raise RuntimeError("from the helper")


VECTOR = np.array([0.5, 1.5, -0.3])
CASES = [
    (adds_a_string, (0.7,)),
    (adds_a_string_to_a_sum, (VECTOR,)),
    (multiplies_mismatched_matrices, (VECTOR, np.ones(4))),
    (adds_arrays_that_do_not_broadcast, (VECTOR, np.ones(4))),
    (indexes_past_the_end, (0.7,)),
    (reads_a_missing_key, (0.7,)),
    (reshapes_to_a_wrong_size, (VECTOR,)),
    (converts_a_bad_string, (0.7,)),
    (compares_with_a_string, (0.7,)),
    (takes_the_max_of_nothing, (VECTOR,)),
    (calls_a_raising_helper, (0.7,)),
    (negates_a_boolean_mask, (VECTOR, np.array([True, False, True]))),
    (takes_the_max_of_a_number, (0.7,)),
]


def _raised(call) -> type:
    with pytest.raises(Exception) as info:
        call()
    return info.type


@pytest.mark.parametrize(("f", "args"), CASES, ids=[f.__name__ for f, _ in CASES])
def test_the_gradient_raises_what_the_function_raises(f, args):
    expected = _raised(lambda: f(*args))
    direction = tuple(np.ones_like(a) if isinstance(a, np.ndarray) else 1.0 for a in args)
    assert _raised(lambda: grad(f)(*args)) is expected
    assert _raised(lambda: value_and_grad(f)(*args)) is expected
    assert _raised(lambda: vjp(f)(*args)) is expected
    assert _raised(lambda: jvp(f, wrt=0)(args, direction[:1])) is expected


def unused_lines_that_cannot_raise(x, a):
    u1 = x * 3.0 + x  # noqa: F841
    u2 = np.tanh(a)  # noqa: F841
    u3 = np.sum(a)  # noqa: F841
    u4 = a * x - 2.0  # noqa: F841
    u5 = (x, a)  # noqa: F841
    return x * np.sum(a * a)


def test_unused_lines_that_cannot_raise_still_go():
    source = grad(unused_lines_that_cannot_raise).source_for(0.7, VECTOR)
    for text in ("x * 3.0", "np.tanh", "np.sum(a)", "- 2.0"):
        assert text not in source, text
    expected = numerical_gradient(unused_lines_that_cannot_raise, (0.7, VECTOR), 0)
    assert grad(unused_lines_that_cannot_raise)(0.7, VECTOR) == pytest.approx(expected)


def unused_product_of_matching_matrices(x, y):
    unused = x @ y  # noqa: F841
    return np.sum(np.sin(x) * y)


def test_kept_lines_do_not_change_the_gradient():
    x, y = np.array([0.5, 1.5, -0.3]), np.array([2.0, -1.0, 0.25])
    expected = numerical_gradient(unused_product_of_matching_matrices, (x, y), (0, 1))
    got = grad(unused_product_of_matching_matrices, wrt=(0, 1))(x, y)
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-7)
