"""Issue 17, item 6: the public gradient checker ``ad_transform.check_grads``.

The checker must be able to fail: a primitive registered with a deliberately wrong
adjoint rule is caught, and the report names the worst element.
"""

from __future__ import annotations

import numpy as np
import pytest

import ad_transform
from ad_transform import GradientCheckError, adjoint, check_grads

WEIGHTS = np.array([1.0, 2.0, 5.0])


def textbook(x1, x2):
    return np.log(x1) + x1 * x2 - np.sin(x2)


def weighted(x):
    return x * WEIGHTS


@adjoint(weighted)
def d_weighted_wrong(g, ans, x):
    return g * 2.0  # deliberately wrong: the right rule is g * WEIGHTS


def loss_with_wrong_rule(x):
    return np.sum(weighted(x))


def vector_output(x, y):
    return np.tanh(x) * y


def wrong_vector_output(x):
    return weighted(x) * x


def test_a_correct_gradient_passes_and_returns_a_report():
    report = check_grads(textbook, (2.0, 5.0))
    assert report.passed
    text = str(report)
    assert text.startswith("gradient check of textbook: passed")
    assert "gradient wrt argument 0 (x1)" in text and "argument 1 (x2)" in text
    assert "dot-product test" in text


def test_the_top_level_name_is_public():
    assert ad_transform.check_grads is check_grads
    assert "check_grads" in ad_transform.__all__
    assert issubclass(GradientCheckError, AssertionError)


def test_a_wrong_rule_fails_with_the_worst_element():
    x = np.array([0.5, -1.0, 2.0])
    with pytest.raises(GradientCheckError) as info:
        check_grads(loss_with_wrong_rule, (x,))
    text = str(info.value)
    assert "FAILED gradient wrt argument 0 (x): worst at element [2]" in text
    assert "ad_transform 2.0, finite differences 4.9999" in text or "differences 5.0000" in text
    worst = info.value.report.checks[0]
    assert worst.analytic == 2.0 and worst.numeric == pytest.approx(5.0, rel=1e-9)
    assert not info.value.report.passed
    assert any("dot-product" in str(c) and not c.passed for c in info.value.report.checks)


def test_an_assertion_error_for_test_runners():
    with pytest.raises(AssertionError):
        check_grads(loss_with_wrong_rule, (np.array([0.5, -1.0, 2.0]),))


def test_vector_output_uses_the_dot_product_test():
    report = check_grads(vector_output, (np.array([0.3, -0.7]), np.array([1.5, 2.0])))
    assert [("dot-product" in c.name) for c in report.checks] == [True]
    with pytest.raises(GradientCheckError, match="FAILED dot-product test"):
        check_grads(wrong_vector_output, (np.array([0.3, -0.7, 1.1]),))


def test_wrt_and_integer_arguments():
    def power(x, n):
        y = 1.0
        for _ in range(n):
            y = y * x
        return y

    report = check_grads(power, (1.3, 4))  # n stays an integer: only x is checked
    assert "argument 1" not in str(report)
    check_grads(textbook, (2.0, 5.0), wrt=1)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"order": 2}, "only first derivatives"),
        ({"modes": ("fwd",)}, "reverse mode only"),
        ({"modes": ("rev", "fwd")}, "reverse mode only"),
    ],
)
def test_what_cannot_be_checked_is_refused(options, message):
    with pytest.raises(ValueError, match=message):
        check_grads(textbook, (2.0, 5.0), **options)


def test_the_tolerance_is_applied():
    def slightly_off(x):
        return x * x

    # exact: 2x; the finite difference is good to ~1e-10, far inside rtol=1e-6
    check_grads(slightly_off, (3.0,))
    with pytest.raises(GradientCheckError):
        check_grads(slightly_off, (3.0,), rtol=0.0, atol=0.0, eps=1e-1)
