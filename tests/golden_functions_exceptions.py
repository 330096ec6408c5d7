"""A function with ``try`` whose generated source is a golden file
(tests/golden/safe_log_ratio_grad.py.txt, checked in test_constructs_exceptions.py)."""

import math


def safe_log_ratio(x, y):
    try:
        r = x / y
        v = math.log(r)
    except ZeroDivisionError:
        v = 0.0
    except ValueError:
        v = -x * x
    return v * x
