"""Functions for tests/test_constructs_matrix.py (in a real file, for ``inspect``)."""

import functools
import math


def make_affine(a, b):
    return lambda t: a * t + b


def make_scaler(a):
    def scaler(t):
        return a * t

    return scaler


def make_partial(a):
    return functools.partial(pow_scaled, a)


def pow_scaled(a, t):
    return a * t * t


def closure_constant_argument(x, y):
    line = make_affine(x, y)
    return line(2.0) * line(-1.0)


def nested_closure_constant_argument(x):
    scale = make_scaler(x)
    return scale(3.0)


def partial_constant_argument(x):
    p = make_partial(x)
    return p(3.0)


def closure_active_argument(x):
    scale = make_scaler(2.0)
    return scale(x)


def kw_only(v, *, scale, shift=0.0):
    return scale * v + shift * math.sin(v)


def kw_only_caller(x, y):
    return kw_only(x, scale=y) * kw_only(y, scale=x, shift=1.0)


def kw_only_top(x, *, scale=2.0):
    return scale * math.sin(x) * x
