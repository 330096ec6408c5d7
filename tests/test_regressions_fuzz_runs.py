"""What the 10,000-program fuzz runs found: changes in place not followed (silent wrong
values), a saved dict view in a pullback, a call lowered twice.

1. Objects a helper returns inside a new tuple, list, dict or object it made.

``t, _ = pair(x)`` with ``def pair(a): return a, 2.0`` binds ``t`` to the caller's ``x``
itself: the tuple is new, its element is not. ``t += y`` then changes ``x`` in place when
``x`` is an array (the scalar fuzzer found it through an object whose ``__init__`` keeps
its argument, ``acc = Accumulator(x); acc.total += v``). Such a change is refused, and a
helper that returns a new array or number (``return a * 2.0``) stays a new object whose
changes in place are followed.

2. An item write whose array another name holds (``a = b; b[1:] = ...; ... a``) was let
through when an earlier change in place (a comprehension's ``append``) came first: the
check of each change reused the objects computed for the one before it.
"""

import numpy as np
import pytest
from gradcheck import check_grad

from ad_transform import ADTransformError, grad, value_and_grad, vjp


def pair(a):
    return a, 2.0


def as_dict(a):
    return {"w": a, "scale": 3.0}


def nested(a):
    return pair(a)


def doubled(a):
    return a * 2.0, 1.0


class Accumulator:
    def __init__(self, start):
        self.total = start


def unpacked_element_changed(x, y):
    t, _ = pair(x)
    t += y
    return np.sum(x * 1.0)


def indexed_element_changed(x, y):
    r = pair(x)
    t = r[0]
    t *= y
    return np.sum(x * 1.0)


def dict_item_changed(x, y):
    d = as_dict(x)
    w = d["w"]
    w -= y
    return np.sum(x * 1.0)


def nested_helper_element_changed(x, y):
    t, _ = nested(x)
    t += y
    return np.sum(x * 1.0)


def attribute_kept_from_argument_changed(x, y):
    acc = Accumulator(x)
    acc.total += y**2
    return np.sum(x * 1.0 + y)


CHANGES_ARGUMENT = [
    unpacked_element_changed,
    indexed_element_changed,
    dict_item_changed,
    nested_helper_element_changed,
    attribute_kept_from_argument_changed,
]


@pytest.mark.parametrize("f", CHANGES_ARGUMENT, ids=lambda f: f.__name__)
@pytest.mark.parametrize("x", [np.array([0.5, -1.25]), np.array(0.75)], ids=["1-d", "0-d"])
def test_a_change_in_place_of_an_argument_held_by_a_helper_result_is_refused(f, x):
    with pytest.raises(ADTransformError, match="in place"):
        grad(f, wrt=(0, 1))(x.copy(), 1.5)


@pytest.mark.parametrize("f", CHANGES_ARGUMENT, ids=lambda f: f.__name__)
def test_on_python_floats_the_same_code_rebinds_and_is_exact(f):
    # on floats 't += y' makes a new number: f's value is sum(x) (+ y), x unchanged
    x, y = 0.6, -1.3
    value, (dx, dy) = value_and_grad(f, wrt=(0, 1))(x, y)
    assert value == pytest.approx(f(x, y), rel=1e-12)
    assert dx == pytest.approx(1.0, rel=1e-12)
    expected_dy = 1.0 if f is attribute_kept_from_argument_changed else 0.0
    assert dy == pytest.approx(expected_dy, abs=1e-12)


def new_array_from_helper_changed(x, y):
    t, c = doubled(x)
    t += y * c
    return np.sum(t**2)


def test_a_helper_result_made_from_the_argument_is_new_and_changed_exactly():
    rng = np.random.default_rng(5)
    x = rng.normal(size=4)
    check_grad(new_array_from_helper_changed, (x, 0.7), wrt=(0, 1))


def item_write_after_a_comprehension(y, z):
    first = [q * z for q in y]
    b = (y * 2.0)[[2, 1, 0]]
    a = b
    for _ in range(3):
        b[1:] = b[:-1] * 0.5 + b[1:]
        b = a * 1.0
    return np.sum(b) + first[0]


def item_write_after_an_append(y, z):
    held = []
    held.append(y * z)
    b = y * 2.0
    a = b
    b[0] = z
    return np.sum(a) + held[0][1]


def test_an_item_write_into_an_array_another_live_name_holds_is_refused_after_an_append():
    with pytest.raises(ADTransformError, match="may hold the same array"):
        grad(item_write_after_a_comprehension, wrt=(0, 1))(np.array([-0.7, 0.35, 1.0]), 0.8)


def test_a_followed_alias_after_an_append_is_exact():
    # 'a = b' is certain here: the write is followed into 'a' (a refresh), not refused
    check_grad(item_write_after_an_append, (np.array([-0.7, 0.35, 1.0]), 0.8), wrt=(0, 1))


def values_read_then_key_added(x, y):
    d = {"a": x * 2.0, "b": y * y}
    v = sum(d.values())
    keys = list(d.keys())
    for _ in range(2):
        d["c"] = x
    return v + d["c"] + len(keys) * y


def test_a_pullback_sees_dict_views_as_they_were_when_the_item_writes_are_undone():
    # found by the scalar fuzzer: vjp's backward sweep undoes 'd["c"] = x' on a copy of
    # the saved dict, and a saved 'd.values()' view must show that copy, not the original
    x, y = 0.5, 0.25
    expected = (2.0 + 1.0, 2 * y + 2.0)  # calculus: d/dx (2x + y^2 + x + 2y)
    _, pullback = vjp(values_read_then_key_added, wrt=(0, 1))(x, y)
    for _ in range(2):  # a pullback may be called again
        assert pullback(1.0) == pytest.approx(expected, rel=1e-12)
    assert grad(values_read_then_key_added, wrt=(0, 1))(x, y) == pytest.approx(expected)


def lambda_with_a_computed_default_called_in_a_while_test(x, z):
    scaled = lambda t, kk=z: kk * t  # noqa: E731
    n = 0
    while n < 2 and scaled(x) < x:
        n += 1
    return z + scaled(-0.32)


def test_a_call_lowered_twice_passes_each_captured_default_once():
    # the 'while' test is lowered again where it is evaluated at the end of the body: the
    # call got 'kk_default=' twice (a SyntaxError of the generated code)
    gradient = grad(lambda_with_a_computed_default_called_in_a_while_test, wrt=(0, 1))(1.0, 0.5)
    assert gradient == pytest.approx((0.0, 1.0 - 0.32), rel=1e-12)
