"""Applied benchmark cases: scientific code as users write it, each beside a careful
hand-written gradient (the cases of the shape-specialisation issue, in our own words).

They cover what the first cases do not: matrix-vector products in a loop, a vector
field in a helper function called four times per step, pairwise forces by
broadcasting, a Cholesky-based likelihood, slice-assignment and concatenation stencils,
``einsum`` attention. ``tests/test_benchmark_cases.py`` checks every hand-written
gradient against ours and against central finite differences, like the first cases.
"""

from __future__ import annotations

import math

import numpy as np

from .case import Case

# --------------------------------------------------------------------------------------
# matrix-vector RNN: 1-D hidden state
# --------------------------------------------------------------------------------------


def rnn_matvec(Wh, Wx, b, xs):
    h = np.zeros(Wh.shape[0])
    for t in range(xs.shape[0]):
        h = np.tanh(Wh @ h + Wx @ xs[t] + b)
    return np.sum(h * h)


def rnn_matvec_hand(Wh, Wx, b, xs):
    hs = [np.zeros(Wh.shape[0])]
    for t in range(xs.shape[0]):
        hs.append(np.tanh(Wh @ hs[-1] + Wx @ xs[t] + b))
    dWh = np.zeros_like(Wh)
    dWx = np.zeros_like(Wx)
    db = np.zeros_like(b)
    dh = 2.0 * hs[-1]
    for t in range(xs.shape[0] - 1, -1, -1):
        h = hs[t + 1]
        da = dh * (1.0 - h * h)
        dWh += np.outer(da, hs[t])
        dWx += np.outer(da, xs[t])
        db += da
        dh = Wh.T @ da
    return dWh, dWx, db


def _rnn_matvec_args(dims: tuple[int, int, int]) -> tuple:
    steps, inputs, hidden = dims
    rng = np.random.default_rng(17)
    Wh = rng.standard_normal((hidden, hidden)) * (0.9 / math.sqrt(hidden))
    Wx = rng.standard_normal((hidden, inputs)) / math.sqrt(inputs)
    b = rng.standard_normal(hidden) * 0.1
    xs = rng.standard_normal((steps, inputs))
    return (Wh, Wx, b, xs)


# --------------------------------------------------------------------------------------
# RK4 on a damped pendulum u'' = -k sin(u) - 0.1 u' (Python floats)
# --------------------------------------------------------------------------------------

STEP = 0.01


def pendulum_field(u, v, k):
    return v, -k * math.sin(u) - 0.1 * v


def rk4_helper(k, u0, n):
    u = u0
    v = 0.0
    h = STEP
    for _ in range(n):
        a1, b1 = pendulum_field(u, v, k)
        a2, b2 = pendulum_field(u + 0.5 * h * a1, v + 0.5 * h * b1, k)
        a3, b3 = pendulum_field(u + 0.5 * h * a2, v + 0.5 * h * b2, k)
        a4, b4 = pendulum_field(u + h * a3, v + h * b3, k)
        u = u + h / 6.0 * (a1 + 2.0 * a2 + 2.0 * a3 + a4)
        v = v + h / 6.0 * (b1 + 2.0 * b2 + 2.0 * b3 + b4)
    return u * u + v


def rk4_inline(k, u0, n):
    u = u0
    v = 0.0
    h = STEP
    for _ in range(n):
        a1 = v
        b1 = -k * math.sin(u) - 0.1 * v
        u2 = u + 0.5 * h * a1
        v2 = v + 0.5 * h * b1
        a2 = v2
        b2 = -k * math.sin(u2) - 0.1 * v2
        u3 = u + 0.5 * h * a2
        v3 = v + 0.5 * h * b2
        a3 = v3
        b3 = -k * math.sin(u3) - 0.1 * v3
        u4 = u + h * a3
        v4 = v + h * b3
        a4 = v4
        b4 = -k * math.sin(u4) - 0.1 * v4
        u = u + h / 6.0 * (a1 + 2.0 * a2 + 2.0 * a3 + a4)
        v = v + h / 6.0 * (b1 + 2.0 * b2 + 2.0 * b3 + b4)
    return u * u + v


def rk4_hand(k, u0, n):
    # The field is linear in v and in k; only the stage angles U1..U4 are needed
    # backwards (for cos and sin). Adjoint of the field at (U, V) with output adjoints
    # (ga, gb): dU = -k cos(U) gb, dV = ga - 0.1 gb, dk = -sin(U) gb.
    h = STEP
    sin = math.sin
    cos = math.cos
    angles = []
    push = angles.append
    u = u0
    v = 0.0
    for _ in range(n):
        a1 = v
        b1 = -k * sin(u) - 0.1 * v
        u2 = u + 0.5 * h * a1
        v2 = v + 0.5 * h * b1
        b2 = -k * sin(u2) - 0.1 * v2
        u3 = u + 0.5 * h * v2
        v3 = v + 0.5 * h * b2
        b3 = -k * sin(u3) - 0.1 * v3
        u4 = u + h * v3
        v4 = v + h * b3
        b4 = -k * sin(u4) - 0.1 * v4
        push((u, u2, u3, u4))
        u = u + h / 6.0 * (a1 + 2.0 * v2 + 2.0 * v3 + v4)
        v = v + h / 6.0 * (b1 + 2.0 * b2 + 2.0 * b3 + b4)
    du = 2.0 * u
    dv = 1.0
    dk = 0.0
    for U1, U2, U3, U4 in reversed(angles):
        ga1, ga2, ga3, ga4 = h / 6.0 * du, h / 3.0 * du, h / 3.0 * du, h / 6.0 * du
        gb1, gb2, gb3, gb4 = h / 6.0 * dv, h / 3.0 * dv, h / 3.0 * dv, h / 6.0 * dv
        # stage 4 at (u + h a3, v + h b3)
        dU, dV = -k * cos(U4) * gb4, ga4 - 0.1 * gb4
        dk -= sin(U4) * gb4
        du += dU
        dv += dV
        ga3 += h * dU
        gb3 += h * dV
        # stage 3 at (u + h/2 a2, v + h/2 b2)
        dU, dV = -k * cos(U3) * gb3, ga3 - 0.1 * gb3
        dk -= sin(U3) * gb3
        du += dU
        dv += dV
        ga2 += 0.5 * h * dU
        gb2 += 0.5 * h * dV
        # stage 2 at (u + h/2 a1, v + h/2 b1)
        dU, dV = -k * cos(U2) * gb2, ga2 - 0.1 * gb2
        dk -= sin(U2) * gb2
        du += dU
        dv += dV
        ga1 += 0.5 * h * dU
        gb1 += 0.5 * h * dV
        # stage 1 at (u, v)
        dk -= sin(U1) * gb1
        du += -k * cos(U1) * gb1
        dv += ga1 - 0.1 * gb1
    return dk, du


def _rk4_args(n: int) -> tuple:
    return (2.0, 0.8, n)


# --------------------------------------------------------------------------------------
# n bodies in 3-D, semi-implicit Euler (kick, drift), pairwise forces by broadcasting
# --------------------------------------------------------------------------------------

SOFTENING = 0.01
DT = 0.01


def nbody(pos, vel, masses, steps):
    for _ in range(steps):
        diff = pos[:, None, :] - pos[None, :, :]
        r2 = np.sum(diff * diff, axis=-1) + SOFTENING
        weights = r2**-1.5 * masses[None, :]
        acc = -np.sum(diff * weights[:, :, None], axis=1)
        vel = vel + DT * acc
        pos = pos + DT * vel
    return np.sum(pos * pos) + np.sum(vel * vel)


def nbody_hand(pos, vel, masses, steps):
    saved = []
    for _ in range(steps):
        diff = pos[:, None, :] - pos[None, :, :]
        r2 = np.sum(diff * diff, axis=-1) + SOFTENING
        inv3 = r2**-1.5
        weights = inv3 * masses[None, :]
        saved.append((diff, r2, inv3, weights))
        vel = vel + DT * -np.sum(diff * weights[:, :, None], axis=1)
        pos = pos + DT * vel
    dpos = 2.0 * pos
    dvel = 2.0 * vel
    dmasses = np.zeros_like(masses)
    for diff, r2, inv3, weights in reversed(saved):
        dvel = dvel + DT * dpos  # pos' = pos + dt vel'
        dacc = DT * dvel  # vel' = vel + dt acc
        ddiff = -dacc[:, None, :] * weights[:, :, None]  # acc_i = -sum_j diff_ij w_ij
        dweights = -np.einsum("ik,ijk->ij", dacc, diff)
        dmasses += np.sum(dweights * inv3, axis=0)
        dr2 = dweights * masses[None, :] * (-1.5) * inv3 / r2
        ddiff += 2.0 * diff * dr2[:, :, None]
        dpos = dpos + np.sum(ddiff, axis=1) - np.sum(ddiff, axis=0)
    return dpos, dvel, dmasses


def _nbody_args(dims: tuple[int, int]) -> tuple:
    bodies, steps = dims
    rng = np.random.default_rng(5)
    pos = rng.standard_normal((bodies, 3))
    vel = rng.standard_normal((bodies, 3)) * 0.1
    masses = rng.uniform(0.5, 1.5, bodies)
    return (pos, vel, masses, steps)


# --------------------------------------------------------------------------------------
# Gaussian-process negative log marginal likelihood (Cholesky, triangular solves)
# --------------------------------------------------------------------------------------


def gp_nll(log_ell, log_sf, log_sn, X, y):
    d = X[:, None, :] - X[None, :, :]
    r2 = np.sum(d * d, axis=-1)
    K = np.exp(2.0 * log_sf) * np.exp(-0.5 * r2 / np.exp(2.0 * log_ell))
    K = K + np.exp(2.0 * log_sn) * np.eye(X.shape[0])
    L = np.linalg.cholesky(K)
    alpha = np.linalg.solve(L.T, np.linalg.solve(L, y))
    return 0.5 * (y @ alpha) + np.sum(np.log(np.diag(L)))


def gp_nll_hand(log_ell, log_sf, log_sn, X, y):
    # d nll / dK = (K^-1 - alpha alpha^T) / 2 (Rasmussen & Williams 2006, eq. 5.9)
    n = X.shape[0]
    d = X[:, None, :] - X[None, :, :]
    r2 = np.sum(d * d, axis=-1)
    scaled = r2 / np.exp(2.0 * log_ell)
    Kse = np.exp(2.0 * log_sf) * np.exp(-0.5 * scaled)
    K = Kse + np.exp(2.0 * log_sn) * np.eye(n)
    L = np.linalg.cholesky(K)
    alpha = np.linalg.solve(L.T, np.linalg.solve(L, y))
    Kinv = np.linalg.solve(L.T, np.linalg.solve(L, np.eye(n)))
    dK = 0.5 * (Kinv - np.outer(alpha, alpha))
    dlog_ell = np.sum(dK * Kse * scaled)
    dlog_sf = 2.0 * np.sum(dK * Kse)
    dlog_sn = 2.0 * np.exp(2.0 * log_sn) * np.trace(dK)
    return dlog_ell, dlog_sf, dlog_sn


def _gp_args(n: int) -> tuple:
    rng = np.random.default_rng(200)
    X = rng.uniform(-3.0, 3.0, (n, 2))
    y = np.sin(X[:, 0]) * np.cos(X[:, 1]) + 0.1 * rng.standard_normal(n)
    return (math.log(1.2), math.log(0.9), math.log(0.3), X, y)


# --------------------------------------------------------------------------------------
# logistic regression
# --------------------------------------------------------------------------------------


def logistic(w, b, X, y):
    z = X @ w + b
    return np.mean(np.logaddexp(0.0, z) - y * z)


def logistic_hand(w, b, X, y):
    z = X @ w + b
    dz = (1.0 / (1.0 + np.exp(-z)) - y) / z.shape[0]
    return X.T @ dz, np.sum(dz)


def _logistic_args(dims: tuple[int, int]) -> tuple:
    rows, features = dims
    rng = np.random.default_rng(10)
    X = rng.standard_normal((rows, features))
    w = rng.standard_normal(features) * 0.3
    y = (X @ rng.standard_normal(features) > 0).astype(np.float64)
    return (w, 0.1, X, y)


# --------------------------------------------------------------------------------------
# 1-D heat equation, explicit stencil: slice assignment and np.concatenate
# --------------------------------------------------------------------------------------


def heat_slices(u, alpha, steps):
    for _ in range(steps):
        new = u.copy()
        new[1:-1] = u[1:-1] + alpha * (u[2:] - 2.0 * u[1:-1] + u[:-2])
        u = new
    return np.sum(u * u)


def heat_concatenate(u, alpha, steps):
    for _ in range(steps):
        laplacian = u[2:] - 2.0 * u[1:-1] + u[:-2]
        u = np.concatenate([u[:1], u[1:-1] + alpha * laplacian, u[-1:]])
    return np.sum(u * u)


def heat_hand(u, alpha, steps):
    laplacians = []
    for _ in range(steps):
        laplacian = u[2:] - 2.0 * u[1:-1] + u[:-2]
        laplacians.append(laplacian)
        u = u.copy()
        u[1:-1] += alpha * laplacian
    du = 2.0 * u
    dalpha = 0.0
    for laplacian in reversed(laplacians):
        g = du[1:-1].copy()  # the interior's adjoint, before it is redistributed
        dalpha += g @ laplacian
        du[1:-1] -= 2.0 * alpha * g
        du[2:] += alpha * g
        du[:-2] += alpha * g
    return du, dalpha


def _heat_args(dims: tuple[int, int]) -> tuple:
    points, steps = dims
    grid = np.linspace(0.0, 1.0, points)
    return (np.sin(math.pi * grid) + 0.3 * np.sin(5.0 * math.pi * grid), 0.2, steps)


# --------------------------------------------------------------------------------------
# self-attention with einsum and a stable softmax
# --------------------------------------------------------------------------------------


def attention(Wq, Wk, Wv, X):
    Q = X @ Wq
    K = X @ Wk
    V = X @ Wv
    S = np.einsum("id,jd->ij", Q, K) / math.sqrt(Q.shape[1])
    S = S - np.max(S, axis=1, keepdims=True)
    P = np.exp(S)
    P = P / np.sum(P, axis=1, keepdims=True)
    out = np.einsum("ij,jd->id", P, V)
    return np.sum(out * out)


def attention_hand(Wq, Wk, Wv, X):
    # the row maximum subtracted has no net derivative: a softmax is shift invariant
    Q = X @ Wq
    K = X @ Wk
    V = X @ Wv
    scale = 1.0 / math.sqrt(Q.shape[1])
    S = (Q @ K.T) * scale
    P = np.exp(S - np.max(S, axis=1, keepdims=True))
    P /= np.sum(P, axis=1, keepdims=True)
    out = P @ V
    dout = 2.0 * out
    dP = dout @ V.T
    dV = P.T @ dout
    dS = P * (dP - np.sum(dP * P, axis=1, keepdims=True)) * scale
    dQ = dS @ K
    dK = dS.T @ Q
    return X.T @ dQ, X.T @ dK, X.T @ dV


def _attention_args(dims: tuple[int, int]) -> tuple:
    tokens, width = dims
    rng = np.random.default_rng(32)
    X = rng.standard_normal((tokens, width))
    Ws = [rng.standard_normal((width, width)) / math.sqrt(width) for _ in range(3)]
    return (*Ws, X)


APPLIED_CASES: list[Case] = [
    Case(
        "rnn_matvec",
        "matrix-vector RNN `h = tanh(Wh @ h + Wx @ xs[t] + b)`, 1-D h (64), 50 steps",
        rnn_matvec,
        rnn_matvec_hand,
        _rnn_matvec_args,
        (0, 1, 2),
        {"full": (50, 32, 64), "quick": (50, 32, 64), "test": (4, 3, 5)},
        kind="numpy",
    ),
    Case(
        "rk4_helper",
        "RK4 on a pendulum (Python floats), the vector field in a helper, 500 steps",
        rk4_helper,
        rk4_hand,
        _rk4_args,
        (0, 1),
        {"full": 500, "quick": 500, "test": 12},
        loop=True,
    ),
    Case(
        "rk4_inline",
        "the same RK4 with the vector field written inline, 500 steps",
        rk4_inline,
        rk4_hand,
        _rk4_args,
        (0, 1),
        {"full": 500, "quick": 500, "test": 12},
        loop=True,
    ),
    Case(
        "nbody",
        "5 bodies in 3-D, kick-drift steps, pairwise forces by broadcasting, 200 steps",
        nbody,
        nbody_hand,
        _nbody_args,
        (0, 1, 2),
        {"full": (5, 200), "quick": (5, 200), "test": (3, 4)},
        kind="numpy",
    ),
    Case(
        "gp",
        "Gaussian-process marginal likelihood (Cholesky, solves), 200 points",
        gp_nll,
        gp_nll_hand,
        _gp_args,
        (0, 1, 2),
        {"full": 200, "quick": 200, "test": 6},
        kind="numpy",
    ),
    Case(
        "logistic",
        "logistic regression, X 10,000 x 20",
        logistic,
        logistic_hand,
        _logistic_args,
        (0, 1),
        {"full": (10_000, 20), "quick": (10_000, 20), "test": (12, 3)},
        kind="numpy",
    ),
    Case(
        "heat_slices",
        "1-D heat stencil with slice assignment, 200 steps on 256 points",
        heat_slices,
        heat_hand,
        _heat_args,
        (0, 1),
        {"full": (256, 200), "quick": (256, 200), "test": (9, 5)},
        kind="numpy",
    ),
    Case(
        "heat_concatenate",
        "the same stencil written with `np.concatenate`",
        heat_concatenate,
        heat_hand,
        _heat_args,
        (0, 1),
        {"full": (256, 200), "quick": (256, 200), "test": (9, 5)},
        kind="numpy",
    ),
    Case(
        "attention",
        "self-attention with `np.einsum` and a stable softmax, 32 tokens x 16",
        attention,
        attention_hand,
        _attention_args,
        (0, 1, 2),
        {"full": (32, 16), "quick": (32, 16), "test": (4, 3)},
        kind="numpy",
    ),
]
