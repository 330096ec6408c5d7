"""Forward mode against the forward pass: ``python -m benchmarks.jvp_timing``.

For a few benchmark cases, the time of one ``jvp`` call (value and tangent, all ``wrt``
arguments with random directions) divided by the time of the plain function call. The
issue's target is at most 3x. Not a test: timings depend on the machine and its load.
"""

from __future__ import annotations

import time

from .run import limit_threads

# one thread per library, set before NumPy loads its BLAS (as ``python -m benchmarks`` does)
limit_threads(1)

import numpy as np  # noqa: E402

from ad_transform import grad, jvp  # noqa: E402

from .cases import case_named  # noqa: E402

CASES = ("sin_loop", "branch_loop", "iir_filter", "mlp", "rnn", "rnn_matvec")


def best_time(call, repeats: int = 7, budget: float = 0.2) -> float:
    """The best of ``repeats`` timings of ``call``, each the mean of enough runs to fill
    ``budget`` seconds."""
    call()
    start = time.perf_counter()
    runs = 0
    while time.perf_counter() - start < budget / 4:
        call()
        runs += 1
    per_batch = max(1, runs)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(per_batch):
            call()
        best = min(best, (time.perf_counter() - start) / per_batch)
    return best


def table_row(name: str, rng: np.random.Generator) -> str:
    """The Markdown row of one case: the times of ``f``, ``jvp`` and ``grad``, the ratios."""
    case = case_named(name)
    args = case.args("quick")
    wrt = case.wrt if isinstance(case.wrt, tuple) else (case.wrt,)
    directions = tuple(
        rng.standard_normal(np.shape(args[i])) if np.ndim(args[i]) else 0.7 for i in wrt
    )
    forward_mode = jvp(case.forward, wrt=wrt)
    gradient = grad(case.forward, wrt=case.wrt)
    t_f = best_time(lambda: case.forward(*args))
    t_jvp = best_time(lambda: forward_mode(args, directions))
    t_grad = best_time(lambda: gradient(*args))
    return (
        f"| {name} | {t_f * 1e6:.1f} us | {t_jvp * 1e6:.1f} us | {t_jvp / t_f:.2f} | "
        f"{t_grad / t_f:.2f} |"
    )


def main() -> None:
    rng = np.random.default_rng(0)
    print("| case | f | jvp | jvp / f | grad / f |")
    print("| --- | --- | --- | --- | --- |")
    for name in CASES:
        print(table_row(name, rng))


if __name__ == "__main__":
    main()
