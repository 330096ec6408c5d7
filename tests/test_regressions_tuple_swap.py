"""``a, b = b, a``: every right-hand side is read before any target is bound again.

The SSA form copied the elements one after the other, so ``b`` got the new ``a``
(``a_1 = b; b_1 = a_1``): the value and the gradient were wrong, in ``grad``,
``value_and_grad`` and ``jvp`` alike. The alias analysis made the same mistake (after the
swap it took ``b`` to hold what ``a`` held before). Found by the forward-mode breaker.
"""

import numpy as np
import pytest
from gradcheck import check_grad

from ad_transform import ADTransformError, grad, jvp, value_and_grad


def swapped(x, y):
    a, b = x, y
    a, b = b, a
    return a * 3.0 + b


def arguments_swapped(x, y):
    x, y = y, x
    return x + 3.0 * y


def rotated(x, y, z):
    a, b, c = x, y, z
    a, b, c = c, a, b
    return a + 2.0 * b + 4.0 * c


def nested_swap(x, y, z):
    a, b, c = x, y, z
    (a, b), c = (c, a), b
    return a + 2.0 * b + 4.0 * c


def swapped_in_a_branch(x, y):
    a, b = x, y
    if x > 0:
        a, b = b, a
    return a * 3.0 + b


def swapped_as_lists(x, y):
    a, b = x, y
    a, b = [b, a]
    return a * 3.0 + b


def fibonacci_like(x, y):
    a, b = x, y
    for _ in range(5):
        a, b = b, a + b * 0.5
    return a * b


CASES = [
    (swapped, (1.0, 2.0)),
    (arguments_swapped, (1.0, 2.0)),
    (rotated, (1.0, 2.0, 3.0)),
    (nested_swap, (1.0, 2.0, 3.0)),
    (swapped_in_a_branch, (1.0, 2.0)),
    (swapped_as_lists, (1.0, 2.0)),
    (fibonacci_like, (0.7, -0.4)),
]


@pytest.mark.parametrize("f, args", CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_values_and_gradients_of_swaps(f, args):
    wrt = tuple(range(len(args)))
    value, _ = value_and_grad(f, wrt=wrt)(*args)
    assert value == pytest.approx(f(*args), rel=1e-14)
    check_grad(f, args, wrt=wrt)


def test_the_swap_by_calculus():
    # swapped(x, y) = 3y + x
    assert value_and_grad(swapped, wrt=(0, 1))(1.0, 2.0) == (7.0, (1.0, 3.0))
    assert jvp(swapped, (1.0, 2.0), (1.0, 0.0)) == (7.0, 1.0)
    assert jvp(swapped, (1.0, 2.0), (0.0, 1.0)) == (7.0, 3.0)


def test_arrays_swapped_then_written_in_a_loop_are_refused_not_wrong():
    # after the swap 'a' holds what 'b' held: the write may reach either name's array
    def f(x, y):
        a = x * 1.0
        b = y * 2.0
        for _ in range(3):
            a, b = b, a
            a[0] = a[0] * 1.5
        return np.sum(a * 3.0 + b)

    with pytest.raises(ADTransformError, match="may hold the same array"):
        grad(f, wrt=(0, 1))(np.array([1.0, 2.0]), np.array([0.5, -1.0]))
