"""Second derivatives against the gradient: ``python -m benchmarks.hvp_timing``.

Two tables (issue 14's targets; not tests: timings depend on the machine and its load):

* for benchmark cases, one Hessian-vector product by forward over reverse (``hvp``: the
  value of the gradient and ``H v``) divided by one gradient (target: at most 4x); the
  reverse-over-reverse product (``vjp(grad(f))``'s pullback) is shown beside it;
* the dense Hessian of a 100-parameter function (``hessian``) divided by the time of 100
  Hessian-vector products (target: at most 1x).
"""

from __future__ import annotations

import os

# one thread per library, set before NumPy loads its BLAS (as ``python -m benchmarks``
# does): on a shared machine a multi-threaded matrix product is slower and noisier
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import numpy as np  # noqa: E402

from ad_transform import grad, hessian, hvp, vjp  # noqa: E402

from .cases import case_named  # noqa: E402
from .jvp_timing import best_time  # noqa: E402

CASES = ("sin_loop", "branch_loop", "iir_filter", "mlp", "rnn")


def hundred_parameters(w, x, y):
    """A 100-parameter least-squares model: a tanh layer of a 10x10 weight matrix."""
    return np.sum((np.tanh(x @ w) - y) ** 2) + 0.01 * np.sum(w * w)


def hvp_row(name: str, rng: np.random.Generator) -> str:
    """One case: the gradient, ``hvp`` and the reverse-over-reverse product, timed."""
    case = case_named(name)
    args = case.args("quick")
    wrt = case.wrt if isinstance(case.wrt, int) else case.wrt[0]
    x = args[wrt]
    v = rng.standard_normal(np.shape(x)) if np.ndim(x) else 0.7
    gradient = grad(case.forward, wrt)
    product = hvp(case.forward, wrt)
    pullback_of = vjp(grad(case.forward, wrt), wrt)
    t_grad = best_time(lambda: gradient(*args))
    t_hvp = best_time(lambda: product(*args, v))
    t_rr = best_time(lambda: pullback_of(*args)[1](v))
    return (
        f"| {name} | {t_grad * 1e6:.1f} us | {t_hvp * 1e6:.1f} us | {t_hvp / t_grad:.2f} | "
        f"{t_rr * 1e6:.1f} us | {t_rr / t_grad:.2f} |"
    )


def hvp_table(rng: np.random.Generator) -> list[str]:
    header = [
        "| case | grad | hvp (fwd-over-rev) | hvp / grad | rev-over-rev | rev-over-rev / grad |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    return header + [hvp_row(name, rng) for name in CASES]


def hessian_table(rng: np.random.Generator) -> list[str]:
    w = rng.standard_normal((10, 10)) * 0.3
    x = rng.standard_normal((20, 10))
    y = rng.standard_normal((20, 10))
    dense = hessian(hundred_parameters)
    product = hvp(hundred_parameters)
    directions = [rng.standard_normal((10, 10)) for _ in range(100)]

    def hundred_products():
        for v in directions:
            product(w, x, y, v)

    t_dense = best_time(lambda: dense(w, x, y), repeats=3, budget=0.5)
    t_products = best_time(hundred_products, repeats=3, budget=0.5)
    return [
        "| function | hessian | 100 hvp | hessian / 100 hvp |",
        "| --- | --- | --- | --- |",
        f"| 100 parameters (10x10 tanh layer) | {t_dense * 1e3:.2f} ms | "
        f"{t_products * 1e3:.2f} ms | {t_dense / t_products:.2f} |",
    ]


def main() -> None:
    rng = np.random.default_rng(0)
    print("\n".join(hvp_table(rng)))
    print()
    print("\n".join(hessian_table(rng)))


if __name__ == "__main__":
    main()
