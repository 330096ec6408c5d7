"""Compiled gradients (issue 18): ``grad(f, compile="numba")`` on the scalar loop cases.

For each case, in one process: the hand-written gradient, ours as Python code, ours
compiled by Numba and ``jax.jit(jax.grad(f))`` where JAX is installed (reported as
"not installed" otherwise), timed interleaved (``timing.py``, CPU time). Then the first
call of a compiled gradient (transformation + Numba compilation) beside JAX's compile
time, and the first call of ``sin_loop`` at growing trip counts (the compiled code does
not depend on the trip count, so neither should its compile time).

Our first call is reported in CPU seconds of this process, with the wall time beside
it: Numba compiles on one thread, so its CPU time is the wall time of an idle machine,
while on a shared machine the wall time grows with the other processes' load (JAX's
compile time is wall time: XLA compiles on several threads).

``run_case`` takes the contenders (``prepare``: name -> preparing function) and the ones
to skip, so that ``benchmarks.jax_compare`` runs its own contenders through it.

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
# JAX unrolls these loops as written; 500 RK4 steps were aborted at 6.4 GB (issue 18)
UNROLLED_SKIP = {
    "rk4_inline": "not run: JAX unrolls the 500 RK4 steps (jax_compare --unrolled-rk4 runs it)",
    "rk4_helper": "not run: JAX unrolls the 500 RK4 steps (jax_compare --unrolled-rk4 runs it)",
}


def prepare_compiled(case, args: tuple) -> Prepared:
    """Ours compiled by Numba; ``setup_seconds``: the first call (transformation and
    compilation) of a fresh copy of the function, so that nothing is cached."""
    from ad_transform import grad

    try:
        import numba  # noqa: F401
    except ImportError:
        raise Unavailable("not installed (pip install 'ad_transform[numba]')") from None
    g = grad(rebind(case.forward), wrt=case.wrt, compile="numba")
    wall, cpu = first_call_seconds(lambda: g(*args))
    return Prepared(lambda: g(*args), numpy_result, setup_seconds=wall, setup_cpu_seconds=cpu)


def first_call_seconds(call) -> tuple[float, float]:
    """Wall and CPU seconds of ``call()``."""
    wall, cpu = time.perf_counter(), time.process_time()
    call()
    return time.perf_counter() - wall, time.process_time() - cpu


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


def run_case(
    name: str,
    repeat: int,
    min_time: float,
    prepare: dict | None = None,
    skip: dict[str, str] | None = None,
) -> dict:
    """Each contender of ``prepare`` (default ``PREPARE``) checked against the
    hand-written gradient, then timed interleaved; ``skip``: contender -> why not run.
    ``setup``: first-call wall seconds, ``setup_cpu``: CPU seconds where measured."""
    case = case_named(name)
    args = case.args("full")
    expected = numpy_result(case.hand(*args))
    status, setup, setup_cpu, callables = dict(skip or {}), {}, {}, {}
    for contender, prepare_one in (prepare or PREPARE).items():
        if contender in status:
            continue
        try:
            prepared = prepare_one(case, args)
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
        if prepared.setup_cpu_seconds is not None:
            setup_cpu[contender] = prepared.setup_cpu_seconds
        callables[contender] = prepared.call
    timings = time_interleaved(callables, repeat, min_time, clock="cpu")
    return {
        "case": case,
        "timings": timings,
        "status": status,
        "setup": setup,
        "setup_cpu": setup_cpu,
    }


def forward_ceiling(name: str, repeat: int, min_time: float) -> float | None:
    """The hand-written gradient's time over the forward function alone compiled by
    ``numba.njit`` (no gradient; paired ratio, timed interleaved): what ``hand /
    compiled`` would be if the gradient cost nothing beyond the forward computation.
    None where Numba cannot compile the function as written (a helper it calls)."""
    try:
        import numba
    except ImportError:
        return None
    case = case_named(name)
    args = case.args("full")
    forward = numba.njit(rebind(case.forward))
    try:
        forward(*args)
    except Exception:  # e.g. it calls a plain Python helper: not measured
        return None
    callables = {HAND: lambda: case.hand(*args), "forward": lambda: forward(*args)}
    timings = time_interleaved(callables, repeat, min_time, clock="cpu")
    return paired_ratio(timings[HAND], timings["forward"])


def growing_compile_times() -> list[tuple[int, float, float]]:
    """The first call of ``sin_loop``'s compiled gradient at growing trip counts:
    ``(n, wall seconds, CPU seconds)``."""
    from ad_transform import grad

    case = case_named("sin_loop")
    found = []
    for n in GROWING:
        g = grad(rebind(case.forward), compile="numba")
        found.append((n, *first_call_seconds(lambda g=g, n=n: g(0.7, n))))
    return found


def first_call_cell(result: dict, contender: str = COMPILED) -> str:
    """``CPU s (wall s)`` of a contender's first call, ``-`` where not measured."""
    wall = result["setup"].get(contender)
    cpu = result.get("setup_cpu", {}).get(contender)
    if wall is None:
        return "-"
    return f"{cpu:.2f} s ({wall:.2f} s)" if cpu is not None else f"{wall:.2f} s"


def _us(seconds: float) -> str:
    return f"{seconds * 1e6:,.0f} µs" if seconds >= 1e-5 else f"{seconds * 1e6:.1f} µs"


def table(results: list[dict], growing, numba_start: float, ceilings: dict | None = None) -> str:
    lines = [
        "| case | hand-written | ours (Python) | ours compiled | hand / compiled "
        "| ours / compiled | jax.jit(grad) | first call compiled, CPU (wall) | JAX compile |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        t, status, setup = r["timings"], r["status"], r["setup"]

        def cell(name, t=t, status=status):
            return _us(t[name].median) if name in t else status.get(name, "-")

        def ratio(a, b, t=t):
            return f"{paired_ratio(t[a], t[b]):.1f}x" if a in t and b in t else "-"

        first = first_call_cell(r)
        jax_compile = f"{setup[JAX_JIT]:.2f} s" if JAX_JIT in setup else "-"
        lines.append(
            f"| {r['case'].name} | {cell(HAND)} | {cell(OURS)} | {cell(COMPILED)} "
            f"| {ratio(HAND, COMPILED)} | {ratio(OURS, COMPILED)} | {cell(JAX_JIT)} "
            f"| {first} | {jax_compile} |"
        )
    lines.append("")
    lines.append(f"Numba's own start (first compilation in the process): {numba_start:.2f} s.")
    if ceilings:
        found = ", ".join(f"{name} {ratio:.1f}x" for name, ratio in ceilings.items())
        lines.append(
            "Hand-written / the forward function alone compiled (`numba.njit(f)`, no "
            f"gradient): {found}."
        )
    if growing:
        steps = ", ".join(f"n = {n}: {cpu:.2f} s ({wall:.2f} s)" for n, wall, cpu in growing)
        lines.append(
            f"First call of sin_loop's compiled gradient by trip count, CPU (wall): {steps}."
        )
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
        skip = {JAX_JIT: UNROLLED_SKIP[name]} if name in UNROLLED_SKIP else {}
        results.append(run_case(name, repeat, min_time, skip=skip))
    growing = growing_compile_times() if numba_start == numba_start else []
    ceilings = {name: forward_ceiling(name, repeat, min_time) for name in names}
    ceilings = {name: ratio for name, ratio in ceilings.items() if ratio is not None}
    text = table(results, growing, numba_start, ceilings)
    print(text)
    if args.output:
        Path(args.output).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
