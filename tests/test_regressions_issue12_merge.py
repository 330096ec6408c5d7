"""Found by the fuzzers after the issue-12 parts were merged; each checked against
calculus and central finite differences."""

import pytest
from gradcheck import check_grad

from ad_transform import grad


def get_of_a_missing_key(x, y):
    d = {"a": x, "b": x + y}
    v = d.get("c", 2.0 * y)  # the default is taken: d's adjoint is a zero dict
    return v + x


def get_of_a_missing_key_constant_default(x, y):
    d = {"a": x, "b": x + y}
    return d.get("c", 2.0) + 0.0 * x


def iterated_keys_only(x, y):
    d = {"a": x, "b": y}
    n = 0.0
    for _key in d:
        n = n + 1.0
    return n * d["a"]


def test_the_adjoint_of_a_dict_whose_default_was_taken():
    # a crash before ('float' object is not subscriptable): d's adjoint was a plain 0.0
    assert grad(get_of_a_missing_key, wrt=(0, 1))(0.3, 0.5) == pytest.approx((1.0, 2.0))
    assert grad(get_of_a_missing_key_constant_default, wrt=(0, 1))(0.3, 0.5) == (0.0, 0.0)
    check_grad(get_of_a_missing_key, (0.3, 0.5), (0, 1))


def test_a_dict_iterated_for_its_keys():
    assert grad(iterated_keys_only, wrt=(0, 1))(0.3, 0.5) == pytest.approx((2.0, 0.0))
    check_grad(iterated_keys_only, (0.3, 0.5), (0, 1))
