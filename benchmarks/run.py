"""The benchmark runner: ``python -m benchmarks`` or ``python benchmarks/run.py``.

For each case it times, side by side in one process, the forward function, the
hand-written gradient, ours (``ad_transform.grad``, warmed up so the transformation is
not timed) and the peers that are installed, checks every gradient against the
hand-written one before timing it, and prints the tables (Markdown); ``--write`` also
writes them to ``benchmarks/RESULTS.md``, ``-o PATH`` to another file. See
``python -m benchmarks --help``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "benchmarks"

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "RESULTS.md"
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)

# --quick / full: repetitions, seconds per measurement, the longest call measured in
# every round, the sizes of the growing case, cold transformations measured
SETTINGS = {
    "full": dict(repeat=11, min_time=0.02, max_seconds=0.25, growing_max=10000, copies=7),
    "quick": dict(repeat=5, min_time=0.003, max_seconds=0.05, growing_max=1000, copies=3),
}
CLOCK_NAMES = {"cpu": "CPU time of the process", "wall": "wall time"}
PEER_MAX_GROWING = 1000  # peers are timed in the growing case up to this n


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Time ad_transform's gradients against hand-written ones and peers.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="fewer, shorter repetitions, growing case up to n=1000, no peers unless "
        "--peers is given (about 10 s)",
    )
    parser.add_argument(
        "--cases",
        "-c",
        default="all",
        help="comma-separated case names (see --list); 'growing' is the growing-size "
        "series, 'transform' the transformation timing; default: all",
    )
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    parser.add_argument(
        "--peers",
        default=None,
        help="comma-separated: autograd, jax, jax-eager, jax-jit, torch, tangent; or 'all' "
        "or 'none' (default: all, none with --quick)",
    )
    parser.add_argument(
        "--repeat", "-r", type=int, default=None, help="rounds per contender (default 11, 5 quick)"
    )
    parser.add_argument(
        "--min-time",
        type=float,
        default=None,
        help="seconds one measurement lasts at least; the inner loop count adapts "
        "(default 0.02, 0.003 quick)",
    )
    parser.add_argument(
        "--output",
        "-o",
        default=None,
        help="also write the Markdown tables to this file (nothing is written by default)",
    )
    parser.add_argument(
        "--write",
        action="store_true",
        help="also write the Markdown tables to benchmarks/RESULTS.md (the tracked results)",
    )
    parser.add_argument(
        "--no-output", action="store_true", help="write no Markdown file (the default)"
    )
    parser.add_argument("--json", default=None, help="also write the raw numbers as JSON here")
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc pass")
    parser.add_argument(
        "--clock",
        choices=("cpu", "wall"),
        default="cpu",
        help="cpu: CPU time of this process, immune to other processes taking the core on "
        "a shared machine (default); wall: elapsed time",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads for BLAS, OpenMP, torch and XLA (default 1, for steadier numbers on a "
        "shared machine; 0 leaves the libraries' defaults)",
    )
    args = parser.parse_args(argv)
    if args.repeat is not None and args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def limit_threads(threads: int) -> str | None:
    """Set the thread variables before NumPy is imported; a warning if it is too late."""
    if not threads:
        return None
    for variable in THREAD_VARIABLES:
        os.environ[variable] = str(threads)
    if threads == 1:
        flags = os.environ.get("XLA_FLAGS", "")
        if "xla_cpu_multi_thread_eigen" not in flags:
            extra = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
            os.environ["XLA_FLAGS"] = f"{flags} {extra}".strip()
    if "numpy" in sys.modules:
        return "NumPy was imported before the runner set its thread count: BLAS may use more"
    return None


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def output_path(args: argparse.Namespace) -> Path | None:
    """Where to write the Markdown tables: ``-o PATH``, ``--write`` (the tracked
    ``benchmarks/RESULTS.md``), else nowhere: the tables are only printed."""
    if args.no_output:
        return None
    if args.output:
        return Path(args.output)
    return DEFAULT_OUTPUT if args.write else None


def select_peers(spec: str | None, quick: bool) -> list[str]:
    from .peers import PEER_GROUPS, PEERS

    if spec is None:
        spec = "none" if quick else "all"
    if spec == "all":
        return list(PEERS)
    if spec == "none":
        return []
    chosen: list[str] = []
    for item in spec.split(","):
        item = item.strip()
        if item not in PEER_GROUPS:
            raise SystemExit(f"unknown peer {item!r}; choose from {', '.join(PEER_GROUPS)}")
        chosen += [p for p in PEER_GROUPS[item] if p not in chosen]
    return [p for p in PEERS if p in chosen]


def run_case(
    case,
    args: tuple,
    size,
    contenders: list[str],
    settings: dict,
    memory: bool,
    skipped: dict[str, str] | None = None,
):
    """Prepare, check and time every contender on one case; measure memory afterwards."""
    from .memory import peak_bytes
    from .peers import HAND, OURS, PREPARE, Unavailable, compare, numpy_result, short_error
    from .report import CaseResult
    from .timing import time_interleaved

    result = CaseResult(case, size)
    expected = numpy_result(case.hand(*args))
    callables = {}
    for name in contenders:
        if skipped and name in skipped:
            result.status[name] = skipped[name]
            continue
        if name in case.peers_skip:
            result.status[name] = case.peers_skip[name]
            continue
        try:
            prepared = PREPARE[name](case, args)
            value = prepared.call()  # warm-up, and the value checked below
        except Unavailable as exc:
            result.status[name] = str(exc)
            continue
        except Exception as exc:
            result.status[name] = f"fails: {short_error(exc)}"
            continue
        if prepared.to_numpy is not None:
            try:
                why = compare(prepared.to_numpy(value), expected)
            except Exception as exc:
                why = f"wrong gradient: cannot compare ({short_error(exc)})"
            if why is not None:
                if name == OURS:
                    result.ours_wrong = why  # still timed, and reported loudly
                else:
                    result.status[name] = why
                    continue
        if prepared.setup_seconds is not None:
            result.setup[name] = prepared.setup_seconds
        callables[name] = prepared.call
    result.timings = time_interleaved(
        callables,
        settings["repeat"],
        settings["min_time"],
        settings["max_seconds"],
        settings["clock"],
    )
    if memory and case.loop:
        for name in (HAND, OURS):
            if name in callables:
                result.memory[name] = peak_bytes(callables[name])
    return result


def to_json(results, growing, transform, info) -> dict:
    def case_json(r):
        return {
            "case": r.case.name,
            "size": r.size,
            "times": {n: t.median for n, t in r.timings.items()},
            "quartiles": {n: [t.q1, t.q3] for n, t in r.timings.items()},
            "calls_per_measurement": {n: t.number for n, t in r.timings.items()},
            "status": r.status,
            "setup_seconds": r.setup,
            "peak_bytes": r.memory,
            "ours_wrong": r.ours_wrong,
        }

    data = {
        "machine": dict(info),
        "cases": [case_json(r) for r in results],
        "growing": [case_json(r) for r in growing],
    }
    if transform is not None:
        data["transform"] = {
            "lines": transform.lines,
            "cold_seconds": transform.cold_seconds,
            "first_seconds": transform.first_seconds,
            "warm_call_seconds": transform.warm_call_seconds,
            "cached_first_call_seconds": transform.cached_first_call_seconds,
            "cached_parses": transform.cached_parses,
            "stages": transform.stages,
        }
    return data


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    warning = limit_threads(args.threads)

    from .cases import CASES
    from .peers import FORWARD, HAND, OURS, OURS_DIRECT
    from .report import machine_info, markdown

    if args.list:
        for case in CASES:
            print(f"{case.name:12} {case.title}")
        print(f"{'growing':12} {next(c for c in CASES if c.growing).name} at growing n")
        print(f"{'transform':12} transformation time of a ~50-line function, cache hit")
        return 0

    mode = "quick" if args.quick else "full"
    settings = dict(SETTINGS[mode])
    if args.repeat is not None:
        settings["repeat"] = args.repeat
    if args.min_time is not None:
        settings["min_time"] = args.min_time
    settings["clock"] = args.clock
    known = {c.name for c in CASES} | {"growing", "transform"}
    wanted = known if args.cases == "all" else {c.strip() for c in args.cases.split(",")}
    unknown = wanted - known
    if unknown:
        raise SystemExit(f"unknown case(s) {', '.join(sorted(unknown))}; see --list")
    peers = select_peers(args.peers, args.quick)
    if warning:
        log(f"warning: {warning}")

    started = time.perf_counter()
    info = machine_info(args.threads)

    transform = None
    if "transform" in wanted:
        from .transform import run_transform_benchmark

        log("transformation time ...")
        transform = run_transform_benchmark(settings["copies"], settings["clock"])

    results = []
    for case in CASES:
        if case.name not in wanted:
            continue
        contenders = [FORWARD, HAND, OURS]
        if case.name == "seed":
            contenders.append(OURS_DIRECT)
        contenders += peers
        log(f"{case.name} ...")
        t0 = time.perf_counter()
        results.append(
            run_case(
                case, case.args(mode), case.sizes[mode], contenders, settings, not args.no_memory
            )
        )
        log(f"  {time.perf_counter() - t0:.1f} s")

    growing = []
    growing_case = next((c for c in CASES if c.growing), None)
    if "growing" in wanted and growing_case is not None:
        for n in growing_case.growing:
            if n > settings["growing_max"]:
                continue
            skip = {}
            if n > PEER_MAX_GROWING:
                skip = {
                    p: f"skipped: peers are timed up to n = {PEER_MAX_GROWING:,}" for p in peers
                }
            log(f"growing {growing_case.name} n={n} ...")
            t0 = time.perf_counter()
            growing.append(
                run_case(
                    growing_case,
                    growing_case.make_args(n),
                    n,
                    [FORWARD, HAND, OURS, *peers],
                    settings,
                    not args.no_memory,
                    skip,
                )
            )
            log(f"  {time.perf_counter() - t0:.1f} s")

    wrong = [
        f"{r.case.name} (size {r.size}): {r.ours_wrong}" for r in results + growing if r.ours_wrong
    ]
    described = (
        f"{mode} mode, clock: {CLOCK_NAMES[settings['clock']]}, "
        f"{settings['repeat']} interleaved rounds, each measurement at least "
        f"{settings['min_time'] * 1e3:g} ms (inner loop count adapted per contender; a "
        f"contender slower than {settings['max_seconds'] * 1e3:g} ms per call gets "
        f"{min(3, settings['repeat'])} rounds); total run {time.perf_counter() - started:.0f} s"
    )
    contenders = [FORWARD, HAND, OURS, OURS_DIRECT, *peers]
    text = markdown(info, results, growing, transform, contenders, peers, described, wrong)
    print(text)
    output = output_path(args)
    if output is not None:
        output.write_text(text, encoding="utf-8")
        log(f"wrote {output}")
    if args.json:
        import json

        Path(args.json).write_text(
            json.dumps(to_json(results, growing, transform, info), indent=2, default=str),
            encoding="utf-8",
        )
        log(f"wrote {args.json}")
    if wrong:
        log("WRONG GRADIENT from ad_transform: " + "; ".join(wrong))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
