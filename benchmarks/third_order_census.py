"""``python -m benchmarks.third_order_census``: how many of the thirty functions of
``tests/third_order_functions.py`` get a third derivative, and whether it agrees with
central differences of the second derivative (docs/architecture/higher_order_third.md).

Each row: ``ok`` (agrees to 1e-5 relative), ``WRONG`` (differs), ``refused`` (an
``ADTransformError`` naming what stops it) or ``crash`` (any other exception)."""

from __future__ import annotations

import sys
from pathlib import Path


def census() -> dict[str, tuple[str, str]]:
    """Function name -> (outcome, detail)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    import numpy as np
    from third_order_functions import FUNCTIONS, T0, along

    from ad_transform import ADTransformError, grad

    rows = {}
    for f in FUNCTIONS:
        g = along(f)
        try:
            third = grad(grad(grad(g)))(T0)
        except ADTransformError as error:
            rows[f.__name__] = ("refused", str(error).splitlines()[0][:150])
            continue
        except Exception as error:  # counted and reported
            rows[f.__name__] = ("crash", f"{type(error).__name__}: {error}"[:150])
            continue
        second = grad(grad(g))
        h = 1e-4
        difference = (second(T0 + h) - second(T0 - h)) / (2 * h)
        close = np.isclose(third, difference, rtol=1e-5, atol=1e-7)
        rows[f.__name__] = ("ok" if close else "WRONG", f"{third!r} vs {difference!r}")
    return rows


def main() -> None:
    rows = census()
    for name, (outcome, detail) in rows.items():
        print(f"{name:26s} {outcome:8s} {detail}")
    counts = {
        k: sum(1 for o, _ in rows.values() if o == k) for k in ("ok", "WRONG", "refused", "crash")
    }
    print(", ".join(f"{k}: {v}" for k, v in counts.items()), f"of {len(rows)}")


if __name__ == "__main__":
    main()
