"""Dict parameters against positional ones: ``python -m benchmarks.dict_leaf_timing``.

The gradient of an MLP whose parameters come in a dict (``p["W1"]``...) divided by the
gradient of the same MLP with positional array parameters, in one process, the two
timed in alternating blocks (docs/architecture/dict_leaf_facts.md). Three runs, each
the best of 25 blocks of 20 calls per function. Not a test: timings depend on the
machine and its load.
"""

from __future__ import annotations

import time

from .run import limit_threads

# one thread per library, set before NumPy loads its BLAS (as ``python -m benchmarks`` does)
limit_threads(1)

import numpy as np  # noqa: E402

from ad_transform import grad  # noqa: E402


def mlp(W1, b1, W2, b2, X, Y):
    h = np.tanh(X @ W1 + b1)
    z = h @ W2 + b2
    lse = np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return -np.sum(Y * (z - lse)) / X.shape[0]


def mlp_d(p, X, Y):
    h = np.tanh(X @ p["W1"] + p["b1"])
    z = h @ p["W2"] + p["b2"]
    lse = np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return -np.sum(Y * (z - lse)) / X.shape[0]


def _block(call, n: int = 20) -> float:
    start = time.perf_counter()
    for _ in range(n):
        call()
    return (time.perf_counter() - start) / n


def main() -> None:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((256, 64))
    Y = np.eye(10)[rng.integers(0, 10, 256)]
    p = {
        "W1": rng.standard_normal((64, 128)) * 0.1,
        "b1": np.zeros(128),
        "W2": rng.standard_normal((128, 10)) * 0.1,
        "b2": np.zeros(10),
    }
    positional = grad(mlp, wrt=(0, 1, 2, 3))
    by_key = grad(mlp_d, wrt=0)

    def call_positional():
        return positional(p["W1"], p["b1"], p["W2"], p["b2"], X, Y)

    def call_by_key():
        return by_key(p, X, Y)

    for a, k in zip(call_positional(), ("W1", "b1", "W2", "b2")):
        assert np.allclose(a, call_by_key()[k])
    for run in range(3):
        first, second = [], []
        for _ in range(25):
            first.append(_block(call_positional))
            second.append(_block(call_by_key))
        t1, t2 = min(first), min(second)
        print(
            f"run {run}: positional {t1 * 1e6:.0f} us, dict {t2 * 1e6:.0f} us, "
            f"dict/positional {t2 / t1:.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
