"""Comprehensions whose generated source is kept in tests/golden/ (checked in
test_constructs_rest.py); kept in their own module so that the line numbers stay put."""

import numpy as np


def sum_of_squares(xs):
    return sum(x * x for x in xs)


def weighted_pairs(xs, ys):
    products = [a * b for a, b in zip(xs, ys)]
    return np.sum(np.array(products) * np.arange(1.0, len(products) + 1.0))
