"""Crashes a breaker found in the specialised code paths of issue 15, checked against
central differences: helpers inlined into loops (a saved value bound on one branch only;
a global or closure number given as an argument), split tuples with an element never
read, and a loop-carried array whose rank grows (shape facts joined over the back edge)."""

import math

import numpy as np
import pytest
from gradcheck import check_grad

from ad_transform import ADTransformError, grad

G2 = 0.4
C1 = 0.7


def square(x):
    return x * x


def early_return(x, n):
    if n <= 0:
        return x
    return square(x) + 1.0


def three_ways(x, i):
    if i == 0:
        return x
    if i == 1:
        return -x * x
    return math.exp(x) * i


def scaled_square(x, y):
    return x * y * y


def branchy(x, y):
    if x > y:
        return x * y
    return x - y


def calls_with_an_early_return(x):
    s = 0.0
    for i in range(2):
        s = s + early_return(x, i)
    return s


def calls_three_ways(x):
    s = 0.0
    for i in range(3):
        s = s + three_ways(x, i % 3) * three_ways(s * 0.1, 2)
    return s


def gives_a_global_number(x):
    s = x
    for _ in range(2):
        s = s + scaled_square(s, G2)
    return s


def gives_a_global_number_to_a_branchy_helper(x):
    s = x
    for _ in range(2):
        s = s + branchy(s, C1)
    return s


def gives_a_closure_number(x):
    c = 0.9

    def inner(a, b):
        return a * b * b

    s = x
    for _ in range(2):
        s = s + inner(s, c)
    return s


def unread_tuple_element(x, y):
    t2 = (x * y, x + y)
    return t2[0] * 2.0


def tuple_reordered(x, y):
    t = (x * y, x + y, math.sin(x))
    a, b, c = t
    t2 = (c, b, a)
    return t2[0] * a


def rank_grows_in_the_loop(x, c):
    y = x
    s = 0.0
    for _ in range(2):
        s = s + np.sum(y[0] * y[-1])
        y = y + c
    return s


def test_inlined_helpers_with_branches():
    check_grad(calls_with_an_early_return, (0.3,))
    check_grad(calls_three_ways, (0.3,))


def test_inlined_helpers_given_global_and_closure_numbers():
    check_grad(gives_a_global_number, (0.3,))
    check_grad(gives_a_global_number_to_a_branchy_helper, (0.3,))
    check_grad(gives_a_closure_number, (0.3,))


def test_split_tuples_with_elements_never_read():
    check_grad(unread_tuple_element, (0.3, 0.7), wrt=(0, 1))
    check_grad(tuple_reordered, (0.3, 0.7), wrt=(0, 1))


def test_a_loop_carried_array_whose_rank_grows():
    x, c = np.array([0.1, 0.2, 0.3]), np.array([[1.0], [2.0]])
    check_grad(rank_grows_in_the_loop, (x, c), wrt=(0, 1))


M = 1.0


def bump(x):
    global M
    M = M + 1.0
    return x


def reads_a_global_a_helper_rebinds(x):
    y = x * M
    y = bump(y)
    return y * M


def test_a_global_a_called_helper_rebinds_is_refused():
    # the backward sweep would read M after bump() changed it (it gave 4.0, not 2.0)
    global M
    M = 1.0
    with pytest.raises(ADTransformError, match="'global M'"):
        grad(reads_a_global_a_helper_rebinds)(2.0)
