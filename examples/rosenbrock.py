"""``scipy.optimize.minimize`` on the Rosenbrock function with ``jac=grad(f)``.

The gradient ad_transform generates is first compared with SciPy's hand-written
``rosen_der``; then BFGS minimises the 5-dimensional Rosenbrock function from the
starting point of SciPy's tutorial, once with the exact gradient and once with SciPy's
finite differences, and the two runs are compared (the minimum is at x = (1, ..., 1)).

Needs SciPy (part of the optional ``examples`` extra).
"""

from __future__ import annotations

import numpy as np

from ad_transform import grad

try:
    from scipy.optimize import minimize, rosen_der
except ImportError:  # one line, not a traceback
    raise SystemExit(
        "rosenbrock.py needs SciPy: pip install -e '.[examples]' (or pip install scipy)"
    ) from None


def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def main() -> None:
    x0 = np.array([1.3, 0.7, 0.8, 1.9, 1.2])
    drosenbrock = grad(rosenbrock)
    difference = np.max(np.abs(drosenbrock(x0) - rosen_der(x0)))
    print(f"|grad(rosenbrock)(x0) - scipy.optimize.rosen_der(x0)|_max = {difference:.1e}")

    exact = minimize(rosenbrock, x0, jac=drosenbrock, method="BFGS", options={"gtol": 1e-8})
    numeric = minimize(rosenbrock, x0, method="BFGS", options={"gtol": 1e-8})
    for name, result in (("jac=grad(rosenbrock)", exact), ("finite differences", numeric)):
        error = np.max(np.abs(result.x - 1.0))
        print(
            f"{name:>22}: success={result.success}, f={result.fun:.2e}, "
            f"|x - 1|_max={error:.1e}, iterations={result.nit}, "
            f"function evaluations={result.nfev}"
        )
    print(f"minimum found: x = {np.array2string(exact.x, precision=6)}")


if __name__ == "__main__":
    main()
