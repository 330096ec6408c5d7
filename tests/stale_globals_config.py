"""A user module whose attributes tests/test_regressions_stale_globals.py rebinds."""

import numpy as np

K = 0.5
ACT = np.tanh


def helper(x):
    return x * x


class Settings:
    scale = 2.0
