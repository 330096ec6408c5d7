"""Compiled gradients (issue 18): ``grad(f, compile="numba")`` on the scalar loop cases.

For each case, in one process: the hand-written gradient, ours as Python code, ours
compiled by Numba and ``jax.jit(jax.grad(f))`` where JAX is installed (reported as
"not installed" otherwise), timed interleaved (``timing.py``, CPU time). Then the first
call of a compiled gradient (transformation + Numba compilation, wall time) beside
JAX's compile time, and the first call of ``sin_loop`` at growing trip counts (the
compiled code does not depend on the trip count, so neither should its compile time).

```sh
python -m benchmarks.compiled            # about a minute
python -m benchmarks.compiled --quick    # fewer rounds
python -m benchmarks.compiled -o PATH    # also write the Markdown table there
```
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .cases import case_named
from .peers import (
    HAND,
    JAX_JIT,
    OURS,
    Prepared,
    Unavailable,
    compare,
    numpy_result,
    prepare_hand,
    prepare_jax_jit,
    prepare_ours,
    rebind,
    short_error,
)
from .timing import paired_ratio, time_interleaved

COMPILED = "ours, compiled (numba)"
SCALAR_LOOPS = (
    "affine_loop",
    "sin_loop",
    "branch_loop",
    "while_loop",
    "rk4_inline",
    "rk4_helper",
    "iir_filter",
)
GROWING = (100, 1000, 10000)


def prepare_compiled(case, args: tuple) -> Prepared:
    """Ours compiled by Numba; ``setup_seconds``: the first call (transformation and
    compilation) of a fresh copy of the function, so that nothing is cached."""
    from ad_transform import grad

    try:
        import numba  # noqa: F401
    except ImportError:
        raise Unavailable("not installed (pip install 'ad_transform[numba]')") from None
    g = grad(rebind(case.forward), wrt=case.wrt, compile="numba")
    start = time.perf_counter()
    g(*args)
    seconds = time.perf_counter() - start
    return Prepared(lambda: g(*args), numpy_result, setup_seconds=seconds)


PREPARE = {
    HAND: prepare_hand,
    OURS: prepare_ours,
    COMPILED: prepare_compiled,
    JAX_JIT: prepare_jax_jit,
}


def warm_numba() -> float:
    """Seconds of Numba's own start (its first compilation in the process), kept out of
    the cases' compile times."""
    try:
        import numba
    except ImportError:
        return float("nan")
    start = time.perf_counter()
    numba.njit(lambda x: x * 2.0)(1.0)
    return time.perf_counter() - start


def run_case(name: str, repeat: int, min_time: float) -> dict:
    case = case_named(name)
    args = case.args("full")
    expected = numpy_result(case.hand(*args))
    status, setup, callables = {}, {}, {}
    for contender, prepare in PREPARE.items():
        try:
            prepared = prepare(case, args)
            why = compare(prepared.to_numpy(prepared.call()), expected)
        except Unavailable as exc:
            status[contender] = str(exc)
            continue
        except Exception as exc:
            status[contender] = f"fails: {short_error(exc)}"
            continue
        if why is not None:
            status[contender] = why
            continue
        if prepared.setup_seconds is not None:
            setup[contender] = prepared.setup_seconds
        callables[contender] = prepared.call
    timings = time_interleaved(callables, repeat, min_time, clock="cpu")
    return {"case": case, "timings": timings, "status": status, "setup": setup}


def growing_compile_times() -> list[tuple[int, float]]:
    """The first call of ``sin_loop``'s compiled gradient at growing trip counts."""
    from ad_transform import grad

    case = case_named("sin_loop")
    found = []
    for n in GROWING:
        g = grad(rebind(case.forward), compile="numba")
        start = time.perf_counter()
        g(0.7, n)
        found.append((n, time.perf_counter() - start))
    return found


def _us(seconds: float) -> str:
    return f"{seconds * 1e6:,.0f} µs" if seconds >= 1e-5 else f"{seconds * 1e6:.1f} µs"


def table(results: list[dict], growing, numba_start: float) -> str:
    lines = [
        "| case | hand-written | ours (Python) | ours compiled | hand / compiled "
        "| ours / compiled | jax.jit(grad) | first call compiled | JAX compile |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        t, status, setup = r["timings"], r["status"], r["setup"]

        def cell(name, t=t, status=status):
            return _us(t[name].median) if name in t else status.get(name, "-")

        def ratio(a, b, t=t):
            return f"{paired_ratio(t[a], t[b]):.1f}x" if a in t and b in t else "-"

        first = f"{setup[COMPILED]:.2f} s" if COMPILED in setup else "-"
        jax_compile = f"{setup[JAX_JIT]:.2f} s" if JAX_JIT in setup else "-"
        lines.append(
            f"| {r['case'].name} | {cell(HAND)} | {cell(OURS)} | {cell(COMPILED)} "
            f"| {ratio(HAND, COMPILED)} | {ratio(OURS, COMPILED)} | {cell(JAX_JIT)} "
            f"| {first} | {jax_compile} |"
        )
    lines.append("")
    lines.append(f"Numba's own start (first compilation in the process): {numba_start:.2f} s.")
    if growing:
        steps = ", ".join(f"n = {n}: {s:.2f} s" for n, s in growing)
        lines.append(f"First call of sin_loop's compiled gradient by trip count: {steps}.")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.compiled")
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--cases", help="comma-separated case names")
    parser.add_argument("-o", "--output", help="also write the Markdown table here")
    args = parser.parse_args(argv)
    repeat, min_time = (3, 0.05) if args.quick else (7, 0.2)
    names = args.cases.split(",") if args.cases else SCALAR_LOOPS
    numba_start = warm_numba()
    results = []
    for name in names:
        print(f"... {name}", file=sys.stderr, flush=True)
        results.append(run_case(name, repeat, min_time))
    growing = growing_compile_times() if numba_start == numba_start else []
    text = table(results, growing, numba_start)
    print(text)
    if args.output:
        Path(args.output).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
