"""Silent wrong gradients found by trying container parameters as a JAX user would.

A field or method of a user object named like a NumPy attribute or method without a
derivative (``shape``, ``size``, ``round()``, ``argmax()``...) was taken for NumPy's and
given no gradient when the object's class was not known (read from a list or dict of
parameters); an object-dtype array leaf got ``None``. Each is refused now, by name, and
the NumPy cases keep working.
"""

import dataclasses
from typing import NamedTuple

import numpy as np
import pytest
from gradcheck import check_grad

from ad_transform import ADTransformError, grad


class Gamma(NamedTuple):
    shape: float
    rate: float


class Scaled(NamedTuple):
    a: float

    @property
    def size(self):
        return self.a * 3.0


@dataclasses.dataclass
class Rounder:
    a: np.ndarray

    def round(self):
        return self.a * 4.0


def field_named_shape_from_a_list(priors):
    return sum(p.rate * p.shape**2 for p in priors)


def field_named_shape_from_a_dict(d):
    return d["g"].rate * d["g"].shape ** 2


def property_named_size(n):
    return n.size * 2.0


def method_named_round_from_a_list(ts):
    return np.sum(ts[0].round())


@pytest.mark.parametrize(
    "f, argument",
    [
        (field_named_shape_from_a_list, [Gamma(2.0, 0.5)]),
        (field_named_shape_from_a_dict, {"g": Gamma(2.0, 0.5)}),
        (property_named_size, Scaled(0.7)),
        (method_named_round_from_a_list, [Rounder(np.array([0.5, -1.5]))]),
    ],
)
def test_numpy_names_on_user_objects_are_refused(f, argument):
    with pytest.raises(ADTransformError, match="was chosen by name"):
        grad(f)(argument)


def object_dtype_leaf(p):
    return np.sum(p["w"] * p["b"])


def test_object_array_leaf_is_refused_not_dropped():
    with pytest.raises(TypeError, match="dtype object"):
        grad(object_dtype_leaf)({"w": np.array([0.5, 1.0], dtype=object), "b": 0.3})


def numpy_constants_of_arrays_in_a_list(xs):
    total = 0.0
    for x in xs:
        total = total + np.sum(x**2) / x.shape[0] + x.size * np.sum(x) + np.sum(x.round())
    return total


def test_numpy_constants_of_arrays_in_a_list_still_work():
    rng = np.random.default_rng(3)
    xs = [rng.standard_normal(3) + 0.25, rng.standard_normal(4) + 0.25]

    def as_args(a, b):
        return numpy_constants_of_arrays_in_a_list([a, b])

    check_grad(as_args, tuple(xs), wrt=(0, 1))
