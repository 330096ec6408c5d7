"""The benchmark cases: each forward function beside the gradient a careful person writes.

Every function here is plain Python/NumPy in a file, so that source-transforming tools
(ours, tangent-ad) can read it. The hand-written gradients are the adjoints one would
write by hand: the same forward computation where the backward pass needs its values,
keeping only what it reads, then the backward pass with no dispatch and no tape beyond
those values. Each returns exactly what ``grad(f, wrt=case.wrt)`` returns (one gradient
for an ``int`` wrt, a tuple for a tuple).

``tests/test_benchmark_cases.py`` checks, at small sizes, that each hand-written gradient
equals ours and equals central finite differences, so that the comparison is honest.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from .case import Case

# --------------------------------------------------------------------------------------
# scalar loops
# --------------------------------------------------------------------------------------


def affine_loop(x, n):
    y = x
    for _ in range(n):
        y = y * 0.999 + x * 0.001
    return y


def affine_loop_hand(x, n):
    # y_0 = x; y_{k+1} = 0.999 y_k + 0.001 x: no primal value is needed backwards
    dy = 1.0
    dx = 0.0
    for _ in range(n):
        dx += 0.001 * dy
        dy *= 0.999
    return dx + dy


def sin_loop(x, n):
    y = x
    for _ in range(n):
        y = math.sin(y) * 0.5 + x
    return y


def sin_loop_hand(x, n):
    # forward: keep d y_{k+1} / d y_k = 0.5 cos(y_k), the only value the backward reads
    factors = []
    push = factors.append
    y = x
    cos = math.cos
    sin = math.sin
    for _ in range(n):
        push(0.5 * cos(y))
        y = sin(y) * 0.5 + x
    dy = 1.0
    dx = 0.0
    for factor in reversed(factors):
        dx += dy
        dy *= factor
    return dx + dy


def branch_loop(x, n):
    y = x
    for _ in range(n):
        if y > 1.0:
            y = y * 0.9 - 0.05 + x * 0.01
        else:
            y = y * 0.95 + 0.1 + x * 0.02
    return y


def branch_loop_hand(x, n):
    # forward: keep the branch taken, as the factor d y_{k+1} / d y_k it implies
    taken = []
    push = taken.append
    y = x
    for _ in range(n):
        if y > 1.0:
            y = y * 0.9 - 0.05 + x * 0.01
            push(True)
        else:
            y = y * 0.95 + 0.1 + x * 0.02
            push(False)
    dy = 1.0
    dx = 0.0
    for high in reversed(taken):
        if high:
            dx += 0.01 * dy
            dy *= 0.9
        else:
            dx += 0.02 * dy
            dy *= 0.95
    return dx + dy


def while_loop(x, limit):
    y = x
    while y < limit:
        y = y * 1.002 + x * 0.001
    return y


def while_loop_hand(x, limit):
    # forward: only the trip count is needed (the update is affine)
    y = x
    trips = 0
    while y < limit:
        y = y * 1.002 + x * 0.001
        trips += 1
    dy = 1.0
    dx = 0.0
    for _ in range(trips):
        dx += 0.001 * dy
        dy *= 1.002
    return dx + dy


def iir_filter(x, a):
    n = x.shape[0]
    out = np.zeros(n)
    out[0] = x[0]
    for i in range(1, n):
        out[i] = a * out[i - 1] + x[i]
    return np.sum(out * out)


def iir_filter_hand(x, a):
    n = x.shape[0]
    out = np.zeros(n)
    out[0] = x[0]
    for i in range(1, n):
        out[i] = a * out[i - 1] + x[i]
    dout = 2.0 * out
    dx = np.zeros(n)
    for i in range(n - 1, 0, -1):
        d = dout[i]
        dx[i] = d
        dout[i - 1] += a * d
    dx[0] = dout[0]
    return dx


# --------------------------------------------------------------------------------------
# straight-line code
# --------------------------------------------------------------------------------------


def seed(x1, x2):
    return np.log(x1) + x1 * x2 - np.sin(x2)


def seed_hand(x1, x2):
    return 1.0 / x1 + x2, x1 - np.cos(x2)


# --------------------------------------------------------------------------------------
# NumPy networks
# --------------------------------------------------------------------------------------


def mlp_loss(W1, b1, W2, b2, X, Y):
    h = np.tanh(X @ W1 + b1)
    z = h @ W2 + b2
    lse = np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return -np.sum(Y * (z - lse)) / X.shape[0]


def mlp_loss_hand(W1, b1, W2, b2, X, Y):
    h = np.tanh(X @ W1 + b1)
    z = h @ W2 + b2
    e = np.exp(z)
    p = e / np.sum(e, axis=1, keepdims=True)
    dz = (p - Y) / X.shape[0]
    dW2 = h.T @ dz
    db2 = np.sum(dz, axis=0)
    da = (dz @ W2.T) * (1.0 - h * h)
    dW1 = X.T @ da
    db1 = np.sum(da, axis=0)
    return dW1, db1, dW2, db2


def rnn_loss(Wx, Wh, b, Wo, xs, target):
    h = np.zeros((xs.shape[1], Wh.shape[0]))
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ Wx + h @ Wh + b)
    d = h @ Wo - target
    return 0.5 * np.sum(d * d) / xs.shape[1]


def rnn_loss_hand(Wx, Wh, b, Wo, xs, target):
    steps = xs.shape[0]
    h = np.zeros((xs.shape[1], Wh.shape[0]))
    hs = [h]
    for t in range(steps):
        h = np.tanh(xs[t] @ Wx + h @ Wh + b)
        hs.append(h)
    d = (h @ Wo - target) / xs.shape[1]
    dWo = h.T @ d
    dh = d @ Wo.T
    dWx = np.zeros_like(Wx)
    dWh = np.zeros_like(Wh)
    db = np.zeros_like(b)
    for t in range(steps - 1, -1, -1):
        h = hs[t + 1]
        da = dh * (1.0 - h * h)
        dWx += xs[t].T @ da
        dWh += hs[t].T @ da
        db += np.sum(da, axis=0)
        dh = da @ Wh.T
    return dWx, dWh, db, dWo


def deep_loss(W1, b1, W2, b2, W3, b3, W4, b4, X, Y):
    h1 = np.maximum(X @ W1 + b1, 0.0)
    h2 = np.maximum(h1 @ W2 + b2, 0.0)
    h3 = np.maximum(h2 @ W3 + b3, 0.0)
    d = h3 @ W4 + b4 - Y
    return 0.5 * np.sum(d * d) / X.shape[0]


def deep_loss_hand(W1, b1, W2, b2, W3, b3, W4, b4, X, Y):
    h1 = np.maximum(X @ W1 + b1, 0.0)
    h2 = np.maximum(h1 @ W2 + b2, 0.0)
    h3 = np.maximum(h2 @ W3 + b3, 0.0)
    d = (h3 @ W4 + b4 - Y) / X.shape[0]
    dW4 = h3.T @ d
    db4 = np.sum(d, axis=0)
    da3 = (d @ W4.T) * (h3 > 0.0)
    dW3 = h2.T @ da3
    db3 = np.sum(da3, axis=0)
    da2 = (da3 @ W3.T) * (h2 > 0.0)
    dW2 = h1.T @ da2
    db2 = np.sum(da2, axis=0)
    da1 = (da2 @ W2.T) * (h1 > 0.0)
    dW1 = X.T @ da1
    db1 = np.sum(da1, axis=0)
    return dW1, db1, dW2, db2, dW3, db3, dW4, db4


# --------------------------------------------------------------------------------------
# the cases
# --------------------------------------------------------------------------------------


def _scalar_x(value: float):
    return lambda n: (value, n)


def _while_args(n: int) -> tuple:
    # the limit that gives about n trips from x = 1.0: y_k + 0.5 = 1.5 * 1.002**k
    return (1.0, 1.5 * 1.002**n - 0.5 - 1e-3)


def _iir_args(n: int) -> tuple:
    rng = np.random.default_rng(6)
    return (rng.standard_normal(n), 0.9)


def _mlp_args(dims: tuple[int, int, int, int]) -> tuple:
    batch, inputs, hidden, classes = dims
    rng = np.random.default_rng(784)
    X = rng.standard_normal((batch, inputs)) / math.sqrt(inputs)
    Y = np.eye(classes)[rng.integers(0, classes, size=batch)]
    W1 = rng.standard_normal((inputs, hidden)) * 0.05 * math.sqrt(784 / inputs)
    b1 = rng.standard_normal(hidden) * 0.01
    W2 = rng.standard_normal((hidden, classes)) * 0.1
    b2 = rng.standard_normal(classes) * 0.01
    return (W1, b1, W2, b2, X, Y)


def _rnn_args(dims: tuple[int, int, int, int, int]) -> tuple:
    steps, batch, inputs, hidden, outputs = dims
    rng = np.random.default_rng(50)
    Wx = rng.standard_normal((inputs, hidden)) / math.sqrt(inputs)
    Wh = rng.standard_normal((hidden, hidden)) * (0.9 / math.sqrt(hidden))
    b = rng.standard_normal(hidden) * 0.1
    Wo = rng.standard_normal((hidden, outputs)) / math.sqrt(hidden)
    xs = rng.standard_normal((steps, batch, inputs))
    target = rng.standard_normal((batch, outputs))
    return (Wx, Wh, b, Wo, xs, target)


def _deep_args(dims: tuple[int, ...]) -> tuple:
    batch, *sizes = dims
    rng = np.random.default_rng(4)
    params = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        params.append(rng.standard_normal((fan_in, fan_out)) * math.sqrt(2.0 / fan_in))
        params.append(rng.standard_normal(fan_out) * 0.1)
    X = rng.standard_normal((batch, sizes[0]))
    Y = rng.standard_normal((batch, sizes[-1]))
    return (*params, X, Y)


CASES: list[Case] = [
    Case(
        "affine_loop",
        "scalar loop, affine update `y = y*0.999 + x*0.001`",
        affine_loop,
        affine_loop_hand,
        _scalar_x(1.3),
        0,
        {"full": 1000, "quick": 1000, "test": 25},
        loop=True,
    ),
    Case(
        "sin_loop",
        "scalar loop, `y = math.sin(y)*0.5 + x`",
        sin_loop,
        sin_loop_hand,
        _scalar_x(0.7),
        0,
        {"full": 1000, "quick": 1000, "test": 25},
        loop=True,
        growing=(10, 100, 1000, 10000),
    ),
    Case(
        "branch_loop",
        "scalar loop with a data-dependent `if` in the body",
        branch_loop,
        branch_loop_hand,
        _scalar_x(0.7),
        0,
        {"full": 1000, "quick": 1000, "test": 25},
        loop=True,
    ),
    Case(
        "while_loop",
        "data-dependent `while y < limit` (about 1000 trips)",
        while_loop,
        while_loop_hand,
        _while_args,
        0,
        {"full": 1000, "quick": 1000, "test": 25},
        loop=True,
    ),
    Case(
        "iir_filter",
        "loop writing into an array, `out[i] = a*out[i-1] + x[i]`, n = 1000",
        iir_filter,
        iir_filter_hand,
        _iir_args,
        0,
        {"full": 1000, "quick": 1000, "test": 12},
        kind="numpy",
        loop=True,
    ),
    Case(
        "seed",
        "straight line `log(x1) + x1*x2 - sin(x2)` (call overhead)",
        seed,
        seed_hand,
        lambda _: (2.0, 5.0),
        (0, 1),
        {"full": 1, "quick": 1, "test": 1},
    ),
    Case(
        "mlp",
        "MLP 64x784 -> 128 -> 10, tanh, softmax cross-entropy",
        mlp_loss,
        mlp_loss_hand,
        _mlp_args,
        (0, 1, 2, 3),
        {"full": (64, 784, 128, 10), "quick": (64, 784, 128, 10), "test": (3, 5, 4, 3)},
        kind="numpy",
    ),
    Case(
        "rnn",
        "tanh RNN, 50 steps, 64 hidden units (batch 16, 32 inputs, 8 outputs)",
        rnn_loss,
        rnn_loss_hand,
        _rnn_args,
        (0, 1, 2, 3),
        {"full": (50, 16, 32, 64, 8), "quick": (50, 16, 32, 64, 8), "test": (4, 2, 3, 4, 2)},
        kind="numpy",
    ),
    Case(
        "deep",
        "4-layer ReLU network 64x256 -> 256 -> 256 -> 256 -> 10, squared loss",
        deep_loss,
        deep_loss_hand,
        _deep_args,
        (0, 1, 2, 3, 4, 5, 6, 7),
        {
            "full": (64, 256, 256, 256, 256, 10),
            "quick": (64, 256, 256, 256, 256, 10),
            "test": (3, 4, 5, 5, 4, 2),
        },
        kind="numpy",
    ),
]


def case_named(name: str) -> Case:
    for case in CASES:
        if case.name == name:
            return case
    raise KeyError(name)


# the applied cases (matrix-vector RNN, RK4, n-body, GP, stencils, attention) follow the
# first ones; imported here, at the end, because they are built from ``Case``
from .cases_applied import APPLIED_CASES  # noqa: E402

CASES += APPLIED_CASES
