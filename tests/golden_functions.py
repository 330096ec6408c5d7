"""Small functions whose generated adjoint source is kept in tests/golden/ (see test_golden.py)."""

import math

import numpy as np


def seed(x1, x2):
    return np.log(x1) + x1 * x2 - np.sin(x2)


def squared_loss(w, phi, y):
    return (np.dot(w, phi) - y) ** 2


def smooth_relu(x):
    if x > 0:
        y = x * x
    else:
        y = 0.5 * x
    return y * 3.0


def decay(x, n):
    y = x
    for _ in range(n):
        y = math.sin(y) * 0.5 + x
    return y
