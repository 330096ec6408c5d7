"""In-place changes: item assignment into arrays the function created, and lists built
with append. Each gradient is checked against central finite differences."""

import math

import numpy as np
import pytest
from gradcheck import check_grad, check_vjp_dot_product

from ad_transform import ADTransformError, grad, value_and_grad

RNG = np.random.default_rng(7)


def fill_in_loop(x):
    out = np.zeros(4)
    for i in range(4):
        out[i] = x[i] * x[(i + 1) % 4]
    return np.sum(out * np.arange(1.0, 5.0))


def read_before_and_after_writes(x, y):
    out = np.ones(3)
    s = np.sum(out * y)  # reads out before the writes: must see the ones
    out[1] = x * 3.0
    out[1] += x * x
    out[0:2] = out[1:3] * 2.0
    return s + np.sum(out**2)


def recurrence_in_place(x):
    out = x.copy()
    for i in range(1, 5):
        out[i] = out[i - 1] * math.sin(out[i])
    return np.sum(out)


def overwrite_with_constant(x):
    out = x * 2.0
    out[0] = 5.0  # the old out[0] no longer reaches the result
    out[2:] = 0.0
    return np.sum(out * out)


def matrix_rows(w, x):
    h = np.zeros((3, 2))
    for k in range(3):
        h[k, :] = np.tanh(w * x[k])
    return np.sum(h[:, 0] * h[:, 1])


def write_in_branch(x):
    out = np.zeros(3)
    for i in range(3):
        if x[i] > 0:
            out[i] = x[i] ** 2
        else:
            out[i] = -x[i]
    return np.sum(out)


@pytest.mark.parametrize(
    "function, args, wrt",
    [
        (fill_in_loop, (RNG.normal(size=4),), 0),
        (read_before_and_after_writes, (1.3, np.array([1.0, 2.0, 3.0])), (0, 1)),
        (recurrence_in_place, (np.array([0.5, 1.0, 1.5, 2.0, 2.5]),), 0),
        (overwrite_with_constant, (RNG.normal(size=4),), 0),
        (matrix_rows, (0.7, RNG.normal(size=(3, 2))), (0, 1)),
        (write_in_branch, (np.array([0.5, -1.2, 2.0]),), 0),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_item_writes(function, args, wrt):
    copies = [np.copy(a) for a in args]
    check_grad(function, args, wrt)
    value, _ = value_and_grad(function, wrt=wrt)(*args)
    assert value == pytest.approx(function(*copies), rel=1e-12)
    for arg, original in zip(args, copies):
        np.testing.assert_array_equal(arg, original)  # inputs never modified


def scale_rows(x):
    out = np.zeros_like(x)
    for i in range(x.shape[0]):
        out[i] = x[i] * (i + 1.0)
    return out


def test_item_writes_vjp_dot_product():
    check_vjp_dot_product(scale_rows, (RNG.normal(size=(3, 2)),), 0, RNG)


def writes_into_argument(x):
    x[0] = 1.0
    return np.sum(x)


def writes_into_view_of_argument(x):
    y = x[1:]
    y[0] = 2.0
    return np.sum(x)


@pytest.mark.parametrize("function", [writes_into_argument, writes_into_view_of_argument])
def test_writing_into_an_argument_is_refused(function):
    x = np.array([1.0, 2.0, 3.0])
    with pytest.raises(ADTransformError, match=r"copy\(\)"):
        grad(function)(x)
    np.testing.assert_array_equal(x, [1.0, 2.0, 3.0])


def build_with_append(x, y):
    xs = []
    for i in range(4):
        xs.append(x * i + y)
    total = sum(xs)
    for v in xs:
        total = total + v * v
    return total * xs[2]


def pair(a, b):
    return a * b, a + b


def tuple_from_helper(x, y):
    p, q = pair(x, y)
    r = (p, q, x)
    return r[0] * r[1] + math.sin(r[2])


def grow_while(x):
    xs = [x, x * 2.0]
    while len(xs) < 6:
        xs.append(xs[-1] * xs[-2] * 0.5)
    return xs[-1]


def list_of_arrays(w):
    layers = []
    h = w
    for _ in range(3):
        h = np.tanh(h * 1.5)
        layers.append(h)
    return np.sum(layers[0] * layers[2]) + np.sum(layers[1])


@pytest.mark.parametrize(
    "function, args, wrt",
    [
        (build_with_append, (1.3, 0.4), (0, 1)),
        (tuple_from_helper, (1.3, 0.4), (0, 1)),
        (grow_while, (1.1,), 0),
        (list_of_arrays, (RNG.normal(size=3),), 0),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_lists_and_tuples(function, args, wrt):
    check_grad(function, args, wrt)


def appends_to_argument(xs, y):
    xs.append(y)
    return y * 2.0


def test_appending_to_an_argument_is_refused():
    xs = [1.0]
    with pytest.raises(ADTransformError, match="append"):
        grad(appends_to_argument, wrt=1)(xs, 2.0)
    assert xs == [1.0]


def slice_of_reassigned(x):
    y = x * 2.0
    if x[0] > 0:
        y = x * 3.0
    return np.sum(y[1:] ** 2) + np.sum(y[:-1])


def write_slice_from_slice(x):
    out = np.zeros(3)
    out[1:] = x[:2] * x[1:]
    return np.sum(out * np.array([1.0, 2.0, 3.0]))


@pytest.mark.parametrize("function", [slice_of_reassigned, write_slice_from_slice])
def test_open_ended_slices(function):
    # regression: `a[1:]` was differentiated as `a[:1]` (slice(1) means stop=1)
    check_grad(function, (np.array([0.5, -1.5, 2.0]),), 0)
    check_grad(function, (np.array([-0.5, 1.5, 2.0]),), 0)
