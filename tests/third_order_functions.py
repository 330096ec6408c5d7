"""Thirty functions of a vector whose third derivatives go through NumPy functions whose
second-order code saves integers (axes, lengths, loop indices, masks) or calls runtime
helpers with twins: the list ``tests/test_higher_order_third.py`` checks and
``benchmarks/third_order_census.py`` counts (docs/architecture/higher_order_third.md).

Each ``f(x)`` takes a float vector of length 6 and returns a float. The third derivative
checked is ``d^3/dt^3 f(X0 + t U)`` at ``T0`` (``grad(grad(grad(along(f))))``), the
third directional derivative ``D^3 f(x)[u, u, u]``. The points are away from kinks and
ties (no element of ``X0 + T0 U`` within 0.05 of a threshold used below).
"""

import numpy as np

X0 = np.array([0.3, 0.7, 1.1, 0.2, -0.4, 0.9])
U = np.array([0.5, -0.3, 0.8, 0.1, 0.4, -0.6])
T0 = 0.35


def along(f):
    """``g(t) = f(X0 + t U)``, a function of one number."""

    def g(t):
        return f(X0 + t * U)

    g.__name__ = f"{f.__name__}_along"
    return g


def matrix(x):
    """A well-conditioned 3 x 3 matrix depending on every element of x."""
    a = np.reshape(x, (2, 3))
    return np.eye(3) * 2.0 + 0.3 * (a.T @ a) + 0.1 * np.diag(x[:3])


def transpose(x):
    a = np.outer(x[:3], x[3:])
    return np.sum(np.sin(a.T) * a)


def transpose_axes(x):
    a = np.reshape(x, (1, 2, 3))
    return np.sum(np.transpose(a, (2, 0, 1)) ** 3 * np.arange(1.0, 7.0).reshape(3, 1, 2))


def swapaxes(x):
    a = np.reshape(x, (2, 3))
    return np.sum(np.swapaxes(a, 0, 1) ** 3 * np.array([[1.0, 2.0], [3.0, -1.0], [0.5, 2.0]]))


def moveaxis(x):
    a = np.reshape(x, (1, 2, 3))
    return np.sum(np.cos(np.moveaxis(a, -1, 0)) * x[0])


def matrix_transpose_method(x):
    m = matrix(x)
    return np.sum(m.T @ m * m)


def matrix_power(x):
    return np.sum(np.linalg.matrix_power(matrix(x), 3))


def slice_computed_bound(x):
    n = x.shape[0] // 2
    return np.sum(x[:n] ** 3) + np.sum(np.sin(x[n:]))


def slice_min_bound(x):
    k = min(x.shape[0], 4) - 1
    return np.sum(x[1:k] ** 2 * x[k]) + x[k] ** 3


def where_mask(x):
    return np.sum(np.where(x > 0.8, x**3, np.sin(x)))


def where_scalar(x):
    return np.sum(np.where(x < 0.0, np.exp(x), x**2) * x)


def sum_axis(x):
    a = np.reshape(x, (2, 3))
    return np.sum(np.sum(a**2, axis=0) ** 2)


def mean_axis(x):
    a = np.reshape(x, (3, 2))
    return np.sum(np.mean(np.exp(a), axis=1) ** 2)


def max_axis(x):
    a = np.reshape(x, (2, 3))
    return np.sum(np.max(a, axis=1) ** 3)


def prod_all(x):
    return np.prod(x[:4] + 1.0)


def cumsum(x):
    return np.sum(np.cumsum(x) ** 3)


def cumsum_axis(x):
    a = np.reshape(x, (2, 3))
    return np.sum(np.cumsum(a, axis=1) ** 3)


def stack_axis(x):
    return np.sum(np.stack([x, x**2], axis=1) ** 3)


def concatenate_axis(x):
    a = np.reshape(x, (2, 3))
    return np.sum(np.concatenate([a, a**2], axis=1) ** 3)


def inverse(x):
    return np.sum(np.linalg.inv(matrix(x)))


def determinant(x):
    return np.linalg.det(matrix(x))


def solve(x):
    return np.sum(np.linalg.solve(matrix(x), x[:3]))


def log_determinant(x):
    _, logdet = np.linalg.slogdet(matrix(x))
    return logdet


def trace_product(x):
    m = matrix(x)
    return np.trace(m @ m @ m)


def loop_sum(x):
    s = 0.0
    for i in range(x.shape[0]):
        s = s + np.sin(x[i]) * x[i] ** 2
    return s


def loop_item_update(x):
    y = np.zeros(3)
    for i in range(3):
        y[i] = x[i] * x[i + 3]
    return np.sum(y**3)


def loop_recurrence(x):
    h = 0.5
    for i in range(x.shape[0]):
        h = np.tanh(h * x[i] + 0.3)
    return h


def outer_product(x):
    return np.sum(np.outer(x[:3], x[3:]) ** 2)


def reshape_matmul(x):
    a = np.reshape(x, (2, 3))
    return np.sum((a @ a.T) ** 2)


def diagonal(x):
    m = matrix(x)
    return np.sum(np.diag(m) ** 3) + np.sum(np.diagonal(m @ m, offset=1))


def tensordot_axes(x):
    a = np.reshape(x, (2, 3))
    return np.sum(np.tensordot(a, a**2, axes=([1], [1])) ** 2)


FUNCTIONS = [
    transpose,
    transpose_axes,
    swapaxes,
    moveaxis,
    matrix_transpose_method,
    matrix_power,
    slice_computed_bound,
    slice_min_bound,
    where_mask,
    where_scalar,
    sum_axis,
    mean_axis,
    max_axis,
    prod_all,
    cumsum,
    cumsum_axis,
    stack_axis,
    concatenate_axis,
    inverse,
    determinant,
    solve,
    log_determinant,
    trace_product,
    loop_sum,
    loop_item_update,
    loop_recurrence,
    outer_product,
    reshape_matmul,
    diagonal,
    tensordot_axes,
]
