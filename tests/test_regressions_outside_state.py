"""State outside the function that the function itself changes (found by the stop-27
breaker): the backward sweep read globals, closure variables and attributes of global
objects again, after the function had changed them, and gave wrong gradients.

- ``global S; y = x * S; S = S + 1.0`` gave ``dy/dx = 2`` (the new ``S``); in a loop
  ``T += 1; y += sin(x * T)`` also kept one ``x * T`` for every iteration (a loop
  constant). Each read of a ``global``/``nonlocal`` name is now a local snapshot
  (``S_read = module_globals['S']``, ``lower/statements.py``).
- ``y = x * counter.c; counter.bump()`` read ``counter.c`` again in the backward sweep,
  and ``data.batch`` (a property drawing a random minibatch) was evaluated again there.
  An attribute chain rooted at a global object is now read once, into a temporary
  (``normalize.static_reference``: only module chains such as ``np.pi`` stay as they are);
  a call that then changes the object is refused by the helper-mutation analysis.

References: calculus.
"""

import math

import numpy as np
import pytest

from ad_transform import ADTransformError, grad, jvp, value_and_grad

S = 1.0
T = 0


def uses_then_bumps_global(x):
    global S
    y = x * S
    S = S + 1.0
    return y


def bumps_global_in_loop(x):
    global T
    y = 0.0
    for _ in range(3):
        T += 1
        y = y + np.sin(x * T)
    return y


def test_a_global_read_before_the_function_changes_it():
    global S
    S = 1.0
    value, gradient = value_and_grad(uses_then_bumps_global)(0.7)
    assert S == 2.0  # the forward sweep is the function: S changed once
    assert value == pytest.approx(0.7) and gradient == pytest.approx(1.0, rel=1e-12)


def test_a_global_changed_in_a_loop_is_read_at_each_iteration():
    global T
    T = 0
    gradient = grad(bumps_global_in_loop)(0.7)
    assert T == 3
    expected = sum(k * math.cos(0.7 * k) for k in (1, 2, 3))
    assert gradient == pytest.approx(expected, rel=1e-12)
    T = 0
    _, tangent = jvp(bumps_global_in_loop, (0.7,), (1.0,))
    assert tangent == pytest.approx(expected, rel=1e-12)


def make_counter_closure():
    k = 1.0

    def f(x):
        nonlocal k
        y = x * x * k
        k = k + 1.0
        return y

    return f


def test_a_nonlocal_read_before_the_function_changes_it():
    f = make_counter_closure()
    assert grad(f)(0.7) == pytest.approx(2 * 0.7 * 1.0, rel=1e-12)
    assert grad(f)(0.7) == pytest.approx(2 * 0.7 * 2.0, rel=1e-12)  # k is 2 now


class Counter:
    def __init__(self):
        self.c = 1.0

    def bump(self):
        self.c = self.c * 2.0


COUNTER = Counter()


def reads_then_changes_a_global_object(x):
    y = x * COUNTER.c
    COUNTER.bump()
    return y


def test_a_call_changing_a_global_object_read_before_is_refused():
    with pytest.raises(ADTransformError, match="attribute"):
        grad(reads_then_changes_a_global_object)(0.7)


class Batches:
    def __init__(self):
        self.X = np.arange(12.0).reshape(6, 2)

    @property
    def batch(self):
        return self.X[np.random.choice(6, 2, replace=False)]


DATA = Batches()


def minibatch_loss(w):
    return np.sum((DATA.batch @ w) ** 2)


def test_a_property_of_a_global_object_is_evaluated_once():
    w = np.array([0.3, -0.2])
    np.random.seed(0)
    gradient = grad(minibatch_loss)(w)
    np.random.seed(0)
    batch = DATA.batch
    np.testing.assert_allclose(gradient, 2 * batch.T @ (batch @ w), rtol=1e-12)


def test_module_constants_stay_as_written():
    def f(x):
        return x * np.pi

    assert "np.pi" in grad(f).source
    assert grad(f)(2.0) == pytest.approx(math.pi)


W_SCALE = 2.0


def scaled_sine(x):
    return np.sin(x) * W_SCALE


def test_a_pullback_after_its_global_was_rebound_is_refused():
    """The backward sweep reads globals when it runs: a pullback called after the global
    was rebound would mix the two functions (it gave cos(x) * 10 for a forward sweep made
    with 2). Rebinding to an equal number changes nothing."""
    global W_SCALE
    from ad_transform import vjp

    W_SCALE = 2.0
    _, pullback = vjp(scaled_sine)(0.5)
    W_SCALE = 2.0
    assert pullback(1.0) == pytest.approx(2.0 * math.cos(0.5), rel=1e-12)
    W_SCALE = 10.0
    try:
        with pytest.raises(ADTransformError, match="'W_SCALE' was rebound after the forward"):
            pullback(1.0)
    finally:
        W_SCALE = 2.0
