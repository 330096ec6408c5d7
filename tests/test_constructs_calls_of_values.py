"""Calls of a value a call made (``Affine(w, b)(x)``, ``make(a)(x)``), and user classes of a
module loaded from a path (not in ``sys.modules``): these were refused; each is checked against
calculus and central finite differences."""

import importlib.util

import numpy as np
import pytest
from gradcheck import check_grad

from ad_transform import grad

MODULE = """
import numpy as np


class Affine:
    def __init__(self, w, b):
        self.w = w
        self.b = b

    def __call__(self, t):
        return self.w * t + self.b


def f(x, y):
    return np.sum(Affine(y, 0.5 * y)(x))
"""


class Affine:
    def __init__(self, w, b):
        self.w = w
        self.b = b

    def __call__(self, t):
        return self.w * t + self.b


def called_at_once(x, y):
    return np.sum(Affine(y, 0.5 * y)(x))


def make(a):
    def inner(t):
        return a * t

    return inner


def closure_called_at_once(x, y):
    return make(y)(x)


X, Y = np.array([0.5, 0.7]), np.array([0.3, 0.9])


def test_an_object_made_and_called_in_one_expression():
    dx, dy = grad(called_at_once, wrt=(0, 1))(X, Y)  # sum(y * x + 0.5 * y)
    np.testing.assert_allclose(dx, Y, rtol=1e-12)
    np.testing.assert_allclose(dy, X + 0.5, rtol=1e-12)
    check_grad(called_at_once, (X, Y), (0, 1))


def test_a_closure_returned_and_called_at_once():
    # make(y)(x) = y * x (a closure factory, lower/functions.py)
    assert grad(closure_called_at_once, wrt=(0, 1))(0.5, 0.3) == pytest.approx((0.3, 0.5))
    check_grad(closure_called_at_once, (0.5, 0.3), (0, 1))


def test_a_class_of_a_module_loaded_from_a_path(tmp_path):
    path = tmp_path / "loaded_from_a_path.py"
    path.write_text(MODULE)
    spec = importlib.util.spec_from_file_location("loaded_from_a_path", path)
    module = importlib.util.module_from_spec(spec)  # not put in sys.modules
    spec.loader.exec_module(module)
    dx, dy = grad(module.f, wrt=(0, 1))(X, Y)
    np.testing.assert_allclose(dx, Y, rtol=1e-12)
    np.testing.assert_allclose(dy, X + 0.5, rtol=1e-12)
