"""A pullback can be called again: the backward sweep undoes item writes and appends on
copies of what the forward sweep saved, never on the saved objects themselves.

Each function writes into an array or list inside a loop, so the backward sweep undoes
writes on arrays the tape holds. The pullback is called twice with the same cotangent
(and once with another); every answer is checked against central finite differences.
"""

import numpy as np
import pytest
from gradcheck import numerical_gradient

from ad_transform import vjp


def item_write_then_product(x):
    a = np.zeros(2)
    for _ in range(2):
        a[1] += 0.5
        a *= x
    return np.sum(a)


def slice_write_in_loop(x):
    a = np.ones(3)
    for i in range(3):
        a[i:] = a[i:] * x[i]
    return np.sum(a * np.array([1.0, 2.0, 3.0]))


def appends_then_stack(x):
    rows = []
    for i in range(3):
        rows.append(x * float(i + 1))
        rows[-1] = rows[-1] * x
    return np.sum(np.stack(rows) * np.array([[0.5], [-1.0], [2.0]]))


def write_saved_and_pushed(x):
    a = x * 1.0
    total = 0.0
    for _ in range(2):
        total = total + np.sum(a * a)
        a[0] = a[1] * 3.0
    return total + np.sum(a)


CASES = [
    (item_write_then_product, 0.7),
    (slice_write_in_loop, np.array([0.9, 1.3, -0.4])),
    (appends_then_stack, np.array([0.3, -1.2])),
    (write_saved_and_pushed, np.array([0.5, 1.5])),
]


@pytest.mark.parametrize(("f", "x"), CASES, ids=[c[0].__name__ for c in CASES])
def test_pullback_called_twice_gives_the_gradient_both_times(f, x):
    value, pullback = vjp(f)(x)
    expected = numerical_gradient(f, [x])
    first = pullback(1.0)
    second = pullback(1.0)
    np.testing.assert_allclose(first, expected, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(second, expected, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(pullback(-2.5), -2.5 * expected, rtol=1e-6, atol=1e-8)
    assert value == pytest.approx(f(x), rel=1e-12)


def test_fresh_saved_keeps_identity_and_views():
    from ad_transform.runtime import fresh_saved

    base = np.arange(6.0)
    view = base[::-2]
    rows = [base, 1.5]
    saved = (base, view, rows, (view, "text"))
    copied = fresh_saved(saved)
    new_base, new_view, new_rows, (again, text) = copied
    assert new_base is not base and new_rows is not rows and text == "text"
    assert new_rows[0] is new_base and again is new_view
    new_base[:] = -1.0  # a write into the copy of the base shows through the copied view
    np.testing.assert_array_equal(new_view, -np.ones(3))
    np.testing.assert_array_equal(base, np.arange(6.0))  # the originals are untouched
    np.testing.assert_array_equal(view, [5.0, 3.0, 1.0])


def squares(x):
    return x * x


def test_pullback_is_taken_at_the_point_of_the_vjp_call():
    x = np.array([1.0, 2.0])
    _, pullback = vjp(squares)(x)
    x[:] = 100.0  # the caller changes its array after the call
    np.testing.assert_allclose(pullback(np.ones(2)), [2.0, 4.0])  # 2x at x = [1, 2]
