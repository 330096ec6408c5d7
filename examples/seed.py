"""The textbook example: f(x1, x2) = log(x1) + x1*x2 - sin(x2) at (2, 5).

Prints the gradient next to the analytic one, the SSA trace of f, the
adjoint code that ad_transform generated and the evaluation-trace table of the
textbooks (forward primal trace and reverse adjoint trace, with values).
"""

import numpy as np

from ad_transform import grad, ssa_source, trace_table, value_and_grad


def f(x1, x2):
    return np.log(x1) + x1 * x2 - np.sin(x2)


def main() -> None:
    x1, x2 = 2.0, 5.0
    df = grad(f, wrt=(0, 1))
    value, (d1, d2) = value_and_grad(f, wrt=(0, 1))(x1, x2)
    print(f"f(2, 5)        = {value:.6f}")
    print(f"df/dx1         = {d1:.6f}   (analytic 1/x1 + x2    = {1 / x1 + x2:.6f})")
    print(f"df/dx2         = {d2:.6f}   (analytic x1 - cos(x2) = {x1 - np.cos(x2):.6f})")
    df(x1, x2)
    print("\nThe primal trace, one primitive per line (ad_transform.ssa_source):\n")
    print(ssa_source(f))
    print("The generated adjoint (grad(f, wrt=(0, 1)).source):\n")
    print(df.source)
    print("The textbook table, with values (ad_transform.trace_table(f, 2.0, 5.0)):\n")
    print(trace_table(f, x1, x2))


if __name__ == "__main__":
    main()
