"""An array or list kept inside another list, then changed: the other list sees the change.

``rows = [] + [buf]; buf[0] = x * x; return rows[0][0]`` is ``x * x``: its derivative is
``2x``. The adjoint of the write zeroes ``dbuf[0]`` but cannot reach the adjoint of
``rows``, so every way of putting an object into a list (a display, ``append``,
``extend``, ``+=``, ``+``, ``*``, ``sum(..., [])``, a helper's ``append``) must be followed
and such a write refused — these were silent 0.0 before. A list given the object after
the change, or a new object each loop iteration, is differentiated (checked against
calculus and central finite differences).
"""

import numpy as np
import pytest
from gradcheck import check_grad

from ad_transform import ADTransformError, grad


def extended(x):
    rows = []
    buf = np.zeros(2)
    rows.extend([buf])
    buf[0] = x * x
    return rows[0][0] * 1.0


def joined_in_place(x):
    rows = []
    buf = np.zeros(2)
    rows += [buf]
    buf[0] = x * x
    return rows[0][0] * 1.0


def joined(x):
    buf = np.zeros(2)
    rows = [] + [buf]
    buf[0] = x * x
    return rows[0][0] * 1.0


def repeated(x):
    buf = np.zeros(2)
    rows = [buf] * 2
    buf[0] = x * x
    return rows[1][0] * 1.0


def summed(x):
    buf = np.zeros(2)
    rows = sum([[buf]], [])  # noqa: RUF017 (the construct under test)
    buf[0] = x * x
    return rows[0][0] * 1.0


def joined_then_augmented(x):
    buf = np.zeros(2)
    rows = [] + [buf]
    buf += x * x
    return rows[0][0] * 1.0


def repeated_list_grows(x):
    buf = [x]
    rows = [buf] * 2
    buf.append(x * x)
    return rows[1][1] * 1.0


@pytest.mark.parametrize(
    "function",
    [
        extended,
        joined_in_place,
        joined,
        repeated,
        summed,
        joined_then_augmented,
        repeated_list_grows,
    ],
)
def test_a_change_of_a_held_object_is_refused(function):
    assert function(2.0) == pytest.approx(4.0)  # the change reaches the list in Python
    with pytest.raises(ADTransformError, match=r"may (hold|share)"):
        grad(function)(2.0)


def held_after_the_change(x):
    buf = np.zeros(2)
    buf[0] = x * x
    rows = [] + [buf]
    rows += [buf * x]
    return rows[0][0] + rows[1][0]


def new_object_each_iteration(x):
    rows = []
    for i in range(3):
        buf = np.zeros(2)
        buf[0] = x * i
        rows += [buf]
    return rows[1][0] * rows[2][0]


def new_list_each_iteration_kept_later(x):
    rows = []
    for i in range(3):
        row = []
        row.append(x * i)
        rows.extend([row])
    return rows[2][0] * rows[1][0]


def test_held_objects_not_changed_afterwards_are_differentiated():
    x = 0.7
    assert grad(held_after_the_change)(x) == pytest.approx(2 * x + 3 * x * x, rel=1e-12)
    assert grad(new_object_each_iteration)(x) == pytest.approx(4 * x, rel=1e-12)
    assert grad(new_list_each_iteration_kept_later)(x) == pytest.approx(4 * x, rel=1e-12)
    for function in (
        held_after_the_change,
        new_object_each_iteration,
        new_list_each_iteration_kept_later,
    ):
        check_grad(function, (x,), 0)
