"""Regressions found by re-running the breaker's programs on the merged code.

``list(A)`` of an array holds views of its rows: ``rows[i] += v`` changes ``A`` in place
(Python calls the row's ``__iadd__``). The alias analysis must see the rows inside the
new list, so that change is refused where ``A`` is read afterwards, and a new value
stored into the list (``rows[i] = rows[i] + v``) is differentiated exactly.
"""

import numpy as np
import pytest
from gradcheck import check_grad

from ad_transform import ADTransformError, grad

RNG = np.random.default_rng(77)


def rows_of_list_changed_in_place(X, y):
    A = X * 1.0
    rows = list(A)
    rows[1] += y
    return np.sum(A**2)


def rows_of_tuple_changed_in_place(X, y):
    A = X * 1.0
    rows = tuple(A)
    rows[0] *= y
    return np.sum(A**2) + np.sum(rows[2])


def rows_of_starred_list_changed_in_place(X, y):
    A = X * 1.0
    rows = [*A]
    rows[2] -= y
    return np.sum(A**3)


@pytest.mark.parametrize(
    "f",
    [
        rows_of_list_changed_in_place,
        rows_of_tuple_changed_in_place,
        rows_of_starred_list_changed_in_place,
    ],
)
def test_in_place_change_of_a_row_held_by_a_new_list_is_refused(f):
    X, y = RNG.standard_normal((3, 2)), RNG.standard_normal(2)
    with pytest.raises(ADTransformError, match="changed in place"):
        grad(f, wrt=(0, 1))(X, y)


def rows_of_list_given_new_values(X, y):
    A = X * 1.0
    rows = list(A)
    rows[1] = rows[1] + y
    return np.sum(A**2) + np.sum(np.stack(rows) ** 3)


def test_new_values_stored_into_a_list_of_rows_are_exact():
    X, y = RNG.standard_normal((3, 2)), RNG.standard_normal(2)
    check_grad(rows_of_list_given_new_values, (X, y), wrt=(0, 1))


# -- refusals name what the user wrote, not the trace's temporaries ----------------------


def swap_items(x):
    a = x * 1.0
    a[0], a[2] = a[2], a[0]
    return np.sum(a * np.arange(3.0))


def test_alias_refusal_names_the_expression_not_a_temporary():
    with pytest.raises(ADTransformError) as caught:
        grad(swap_items)(np.array([1.0, 2.0, 3.0]))
    message = str(caught.value)
    assert "'a[0]' may hold the same array" in message or "'a[2]' may hold" in message
    assert "'v" not in message  # no SSA temporary (v1, v2, ...) in what the user reads
