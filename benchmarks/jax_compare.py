"""Compiled gradients beside JAX (issue 18): the scalar loop cases under
``jax.jit(jax.grad(f))`` and ours compiled by Numba (``grad(f, compile="numba")``).

JAX is not a dependency; without it this script says so and exits (status 0). Run it
where JAX is installed, e.g. in a separate virtual environment::

    python3.11 -m venv /tmp/jaxenv && /tmp/jaxenv/bin/pip install jax numpy gast numba
    PYTHONPATH=. /tmp/jaxenv/bin/python -m benchmarks.jax_compare

Two JAX forms per case: the function as written (``jax.numpy`` for ``math``/``np``,
Python loops with a static trip count, which JAX unrolls; data-dependent ``if`` and
``while`` and item writes fail under ``jit``), and a rewrite with ``lax`` loops
(``fori_loop``/``scan``, ``jnp.where`` for the branch), as a JAX user would write it.
``lax.while_loop`` has no reverse-mode derivative, so the ``while`` case has no JAX
form. Times are CPU-time medians of interleaved rounds (``timing.py``); compile times
are the wall time of the first call (ours: transformation + Numba; JAX: tracing +
XLA), in a process where Numba and JAX have each compiled something already. Then the
growth with the trip count: ``sin_loop`` at 100, 1,000 and 10,000 steps.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from . import compiled
from .cases import case_named
from .compiled import (
    COMPILED,
    SCALAR_LOOPS,
    UNROLLED_SKIP,
    first_call_cell,
    prepare_compiled,
    warm_numba,
)
from .peers import (
    HAND,
    JAX_JIT,
    Prepared,
    Unavailable,
    numpy_result,
    positions,
    prepare_hand,
    prepare_jax_jit,
    rebind,
)
from .timing import paired_ratio, time_interleaved

JAX_LAX = "jax.jit(jax.grad), lax loops"
GROWING = (100, 1000, 10000)


def lax_forms(jax) -> dict[str, Callable]:
    """The scalar loop cases written with ``lax`` loops (trip counts static)."""
    jnp, lax = jax.numpy, jax.lax
    step = 0.01  # cases_applied.STEP

    def affine_loop(x, n):
        return lax.fori_loop(0, n, lambda _, y: y * 0.999 + x * 0.001, x)

    def sin_loop(x, n):
        return lax.fori_loop(0, n, lambda _, y: jnp.sin(y) * 0.5 + x, x)

    def branch_loop(x, n):
        def body(_, y):
            return jnp.where(y > 1.0, y * 0.9 - 0.05 + x * 0.01, y * 0.95 + 0.1 + x * 0.02)

        return lax.fori_loop(0, n, body, x)

    def field(u, v, k):
        return v, -k * jnp.sin(u) - 0.1 * v

    def rk4(k, u0, n):
        h = step

        def body(_, state):
            u, v = state
            a1, b1 = field(u, v, k)
            a2, b2 = field(u + 0.5 * h * a1, v + 0.5 * h * b1, k)
            a3, b3 = field(u + 0.5 * h * a2, v + 0.5 * h * b2, k)
            a4, b4 = field(u + h * a3, v + h * b3, k)
            return (
                u + h / 6.0 * (a1 + 2.0 * a2 + 2.0 * a3 + a4),
                v + h / 6.0 * (b1 + 2.0 * b2 + 2.0 * b3 + b4),
            )

        u, v = lax.fori_loop(0, n, body, (u0, jnp.zeros_like(u0)))
        return u * u + v

    def iir_filter(x, a):
        def body(previous, xi):
            current = a * previous + xi
            return current, current

        _, rest = lax.scan(body, x[0], x[1:])
        out = jnp.concatenate([x[:1], rest])
        return jnp.sum(out * out)

    return {
        "affine_loop": affine_loop,
        "sin_loop": sin_loop,
        "branch_loop": branch_loop,
        "rk4_inline": rk4,
        "rk4_helper": rk4,
        "iir_filter": iir_filter,
    }


def _jax():
    try:
        import jax
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_platforms", "cpu")
    return jax


def prepare_jax_lax(case, args: tuple) -> Prepared:
    jax = _jax()
    form = lax_forms(jax).get(case.name)
    if form is None:
        raise Unavailable("no JAX form: lax.while_loop has no reverse-mode derivative")
    wrt = positions(case)
    static = tuple(i for i, a in enumerate(args) if i not in wrt and not isinstance(a, np.ndarray))
    g = jax.jit(jax.grad(form, argnums=case.wrt), static_argnums=static)
    jargs = tuple(
        jax.numpy.asarray(a) if isinstance(a, np.ndarray) or i in wrt else a
        for i, a in enumerate(args)
    )
    block = jax.block_until_ready
    start = time.perf_counter()
    block(g(*jargs))
    seconds = time.perf_counter() - start
    return Prepared(lambda: block(g(*jargs)), numpy_result, setup_seconds=seconds)


PREPARE = {
    HAND: prepare_hand,
    COMPILED: prepare_compiled,
    JAX_JIT: prepare_jax_jit,
    JAX_LAX: prepare_jax_lax,
}


def run_case(name: str, repeat: int, min_time: float, unrolled_rk4: bool = False) -> dict:
    """``compiled.run_case`` with this comparison's contenders (JAX as written is not run
    on the RK4 cases unless ``unrolled_rk4``)."""
    skip = {} if unrolled_rk4 or name not in UNROLLED_SKIP else {JAX_JIT: UNROLLED_SKIP[name]}
    return compiled.run_case(name, repeat, min_time, prepare=PREPARE, skip=skip)


def growing(steps: tuple[int, ...], unrolled_limit: int) -> list[dict]:
    """First-call seconds (and run time) of sin_loop's gradient by trip count."""
    jax = _jax()
    from ad_transform import grad

    case = case_named("sin_loop")
    rows = []
    for n in steps:
        row = {"n": n}
        g = grad(rebind(case.forward), compile="numba")
        row["ours"], row["ours_cpu"] = compiled.first_call_seconds(lambda g=g, n=n: g(0.7, n))
        lax_g = jax.jit(jax.grad(lax_forms(jax)["sin_loop"]), static_argnums=(1,))
        start = time.perf_counter()
        jax.block_until_ready(lax_g(0.7, n))
        row["lax"] = time.perf_counter() - start
        if n <= unrolled_limit:
            f = rebind(case.forward, math=jax.numpy)
            unrolled = jax.jit(jax.grad(f), static_argnums=(1,))
            start = time.perf_counter()
            jax.block_until_ready(unrolled(0.7, n))
            row["unrolled"] = time.perf_counter() - start
        calls = {"ours": lambda g=g, n=n: g(0.7, n)}
        calls["lax"] = lambda lax_g=lax_g, n=n: jax.block_until_ready(lax_g(0.7, n))
        row["timings"] = time_interleaved(calls, 5, 0.05, clock="cpu")
        rows.append(row)
    return rows


def _us(seconds: float) -> str:
    return f"{seconds * 1e6:,.0f} µs" if seconds >= 1e-5 else f"{seconds * 1e6:.1f} µs"


def table(results: list[dict], rows: list[dict], jax_version: str, numba_start: float) -> str:
    lines = [
        f"JAX {jax_version}, CPU; CPU-time medians; first call = transformation and "
        "compilation, ours in CPU seconds (wall seconds), JAX's in wall seconds.",
        "",
        "| case | hand-written (Python) | ours compiled | hand / ours | jax.jit(grad) as "
        "written | jax.jit(grad), lax loops | best JAX / ours | ours first call "
        "| JAX compile (as written) | JAX compile (lax) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        t, status, setup = r["timings"], r["status"], r["setup"]

        def cell(name, t=t, status=status):
            return _us(t[name].median) if name in t else status.get(name, "-")

        def ratio(a, b, t=t):
            return paired_ratio(t[a], t[b]) if a in t and b in t else None

        jax_ratios = [x for x in (ratio(JAX_JIT, COMPILED), ratio(JAX_LAX, COMPILED)) if x]
        best = f"{min(jax_ratios):.1f}x" if jax_ratios else "-"
        hand = ratio(HAND, COMPILED)

        def seconds(name, setup=setup):
            return f"{setup[name]:.2f} s" if name in setup else "-"

        lines.append(
            f"| {r['case'].name} | {cell(HAND)} | {cell(COMPILED)} "
            f"| {f'{hand:.1f}x' if hand else '-'} | {cell(JAX_JIT)} | {cell(JAX_LAX)} | {best} "
            f"| {first_call_cell(r)} | {seconds(JAX_JIT)} | {seconds(JAX_LAX)} |"
        )
    lines += ["", f"Numba's own start (first compilation in the process): {numba_start:.2f} s.", ""]
    lines += [
        "sin_loop by trip count (first call, then run time):",
        "",
        "| steps | ours first call | JAX compile, unrolled | JAX compile, fori_loop "
        "| ours run | JAX fori_loop run |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        unrolled = f"{row['unrolled']:.2f} s" if "unrolled" in row else "not run"
        t = row["timings"]
        lines.append(
            f"| {row['n']:,} | {row['ours_cpu']:.2f} s ({row['ours']:.2f} s) | {unrolled} "
            f"| {row['lax']:.2f} s "
            f"| {_us(t['ours'].median)} | {_us(t['lax'].median)} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.jax_compare")
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--cases", help="comma-separated case names")
    parser.add_argument(
        "--unrolled-limit",
        type=int,
        default=1000,
        help="largest trip count JAX compiles unrolled in the growth table (default 1000)",
    )
    parser.add_argument(
        "--unrolled-rk4",
        action="store_true",
        help="also compile the RK4 cases as written (JAX unrolls 500 steps: GBs of memory)",
    )
    parser.add_argument("-o", "--output", help="also write the Markdown tables here")
    args = parser.parse_args(argv)
    jax = _jax()
    if jax is None:
        print("jax is not installed: nothing to compare (see the module docstring)")
        return 0
    try:
        import numba  # noqa: F401
    except ImportError:
        print("numba is not installed: pip install 'ad_transform[numba]'")
        return 0
    repeat, min_time = (3, 0.05) if args.quick else (7, 0.2)
    names = args.cases.split(",") if args.cases else SCALAR_LOOPS
    numba_start = warm_numba()
    jax.block_until_ready(jax.jit(lambda x: x * 2.0)(1.0))  # JAX's own start
    results = []
    for name in names:
        print(f"... {name}", file=sys.stderr, flush=True)
        results.append(run_case(name, repeat, min_time, args.unrolled_rk4))
    print("... growth with the trip count", file=sys.stderr, flush=True)
    rows = growing(GROWING, args.unrolled_limit)
    text = table(results, rows, jax.__version__, numba_start)
    print(text)
    if args.output:
        Path(args.output).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
