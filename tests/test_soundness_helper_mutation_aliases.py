"""A helper that changes its caller's array in place through another name (this stop's
scalar fuzz run: float and 0-d gradients differed).

``p -= ...`` on an array parameter changes the caller's array; the effects analysis
refused that when written on the parameter itself, but not through another name: a
local copy (``q = p; q -= ...``), a lambda's default (``lambda t, kk=y: h(kk)``), or an
item of a list or dict holding the parameter (``xs = [p]; xs[0] += ...``). Each must be
refused for arrays and stay right for numbers (where nothing changes in place). Expected
values come from calculus.
"""

import numpy as np
import pytest

from ad_transform import ADTransformError, grad


def sub_in_place(p):
    p -= 0.5 * p * p
    return 1.0


def through_a_copy(p):
    q = p
    q -= 0.5 * p * p
    return 1.0


def through_a_list_item(p):
    xs = [p, 2.0]
    xs[0] += 1.0 * p
    return 1.0


def through_a_dict_item(p):
    d = {"a": p}
    d["a"] *= 3.0
    return 1.0


def caller_lambda_default(x, y):
    fn0 = lambda t1, kk=y: sub_in_place(kk)  # noqa: E731
    fn0(x)
    return y * y


def caller_copy(x, y):
    through_a_copy(y)
    return y * y


def caller_list_item(x, y):
    through_a_list_item(y)
    return y * y


def caller_dict_item(x, y):
    through_a_dict_item(y)
    return y * y


CALLERS = [caller_lambda_default, caller_copy, caller_list_item, caller_dict_item]


@pytest.mark.parametrize("f", CALLERS)
@pytest.mark.parametrize("y", [np.array(0.4), np.array([0.4, -1.3])])
def test_a_change_of_the_callers_array_through_another_name_is_refused(f, y):
    with pytest.raises(ADTransformError, match="in place"):
        grad(f, wrt=1)(np.array(0.3), y)


@pytest.mark.parametrize("f", CALLERS)
def test_with_numbers_nothing_changes_in_place(f):
    # d/dy y**2 = 2y: the helper rebinds a local number and the caller's y is untouched
    assert grad(f, wrt=1)(0.3, 0.4) == pytest.approx(0.8, rel=1e-12)


def test_helpers_using_the_value_they_change_stay_right_for_numbers():
    def h(p):
        q = p
        q -= 0.5 * p * p
        xs = [q, 2.0]
        xs[0] += 1.0 * p
        return xs[0] * xs[1]

    def f(y):
        return h(y) * y

    # h(y) = 2 (2y - y^2 / 2), f = 4y^2 - y^3, f' = 8y - 3y^2
    y = 0.3
    assert grad(f)(y) == pytest.approx(8 * y - 3 * y * y, rel=1e-12)


class Box:
    def __init__(self, v):
        self.v = v


def through_an_attribute(b):
    q = b.v
    q *= 3.0
    return 1.0


def caller_attribute(y):
    through_an_attribute(Box(y))
    return np.sum(y * y)


GLOBAL_ARRAY = np.array([1.0, 2.0, 3.0])
GLOBAL_NUMBER = 2.0


def changes_a_global_array(v):
    q = GLOBAL_ARRAY
    q += v
    return 1.0


def caller_global_array(y):
    changes_a_global_array(y)
    return np.sum(GLOBAL_ARRAY * y)


def test_a_change_through_an_attribute_of_an_object_argument_is_refused():
    with pytest.raises(ADTransformError, match="in place"):
        grad(caller_attribute)(np.array([0.3, 0.7, -0.4]))


def test_a_change_of_a_global_array_through_another_name_is_refused():
    with pytest.raises(ADTransformError, match="GLOBAL_ARRAY"):
        grad(caller_global_array)(np.array([0.3, 0.7, -0.4]))


def test_a_global_or_closure_number_is_rebound_not_changed():
    def h(v):
        q = GLOBAL_NUMBER
        q += v
        return q

    def f(y):
        def g():
            q = y
            q *= 3.0
            return q

        return h(y) * g()

    # f = (2 + y) * 3y, f' = 6 + 6y
    assert grad(f)(0.5) == pytest.approx(6 + 6 * 0.5, rel=1e-12)
