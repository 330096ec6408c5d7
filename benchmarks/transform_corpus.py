"""How long the transformation takes on a corpus: every benchmark case and the first
fuzz programs (``tests/fuzz_programs.py``), and what it generates for them.

    python -m benchmarks.transform_corpus [--programs N] [--repeats R] [--out FILE]

Each item is transformed ``R`` times (process CPU time, the median is reported), each
time with every transformation cache emptied, so that every repeat pays the whole
transformation. A benchmark case is ``grad(f, wrt=case.wrt).source_for(*args)`` at its
test size; a fuzz program is what ``tests/test_fuzz.py`` transforms for it:
``value_and_grad`` for its float point and for the point as 0-d arrays, and ``vjp``.
A refusal (``ADTransformError``) is timed too and recorded by its message.

``--out`` writes a JSON file with each item's median seconds and generated sources: run
it before and after a change to the transformer to compare times and to check that the
generated code is the same (``--compare OLD.json``).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TESTS = Path(__file__).resolve().parent.parent / "tests"


def fuzz_programs(count: int) -> list:
    """The first ``count`` programs of the derandomized default fuzz run's generator."""
    sys.path.insert(0, str(TESTS))
    from fuzz_programs import ALL_OPTIONS, KNOWN_BUGS, programs
    from hypothesis import HealthCheck, given, settings

    found: list = []

    @settings(
        max_examples=count,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(programs(avoid=KNOWN_BUGS, options=ALL_OPTIONS))
    def collect(program) -> None:
        if len(found) < count:
            found.append(program)

    collect()
    return found


def _forget_everything() -> None:
    from ad_transform import forward, pipeline
    from ad_transform.kinds import forget_helper_results

    pipeline._cache.clear()
    forward._cache.clear()
    forget_helper_results()


def _sources(transform) -> list[str]:
    from ad_transform import ADTransformError

    try:
        return transform()
    except ADTransformError as error:
        return [f"refused: {str(error).splitlines()[0]}"]


def _timed(transform, repeats: int) -> tuple[float, list[str]]:
    seconds, sources = [], []
    for _ in range(repeats):
        _forget_everything()
        start = time.process_time()
        sources = _sources(transform)
        seconds.append(time.process_time() - start)
    return statistics.median(seconds), sources


def case_transform(case):
    from ad_transform import grad

    from .transform import fresh_copy

    args = case.args("test")

    def transform() -> list[str]:
        return [grad(fresh_copy(case.forward), wrt=case.wrt).source_for(*args)]

    return transform


def program_transform(program, directory: Path):
    from fuzz_programs import load

    from ad_transform import value_and_grad, vjp

    wrt = tuple(range(program.arity))
    point = program.point
    zero_d = tuple(np.array(v) for v in point)

    def transform() -> list[str]:
        f = load(program, directory)  # a new function object: nothing of it is cached
        return [
            value_and_grad(f, wrt=wrt).source_for(*point),
            value_and_grad(f, wrt=wrt).source_for(*zero_d),
            vjp(f, wrt=wrt).source_for(*point),
        ]

    return transform


def run(programs: int, repeats: int) -> dict:
    from .cases import CASES

    result: dict = {"cases": {}, "programs": {}}
    for case in CASES:
        seconds, sources = _timed(case_transform(case), repeats)
        result["cases"][case.name] = {"seconds": seconds, "sources": sources}
    with tempfile.TemporaryDirectory(prefix="ad_corpus_") as tmp:
        for i, program in enumerate(fuzz_programs(programs)):
            seconds, sources = _timed(program_transform(program, Path(tmp)), repeats)
            result["programs"][str(i)] = {"seconds": seconds, "sources": sources}
    return result


def _summary(result: dict) -> str:
    lines = []
    for name, item in result["cases"].items():
        lines.append(f"case {name:16s} {item['seconds'] * 1000:8.1f} ms")
    times = [item["seconds"] for item in result["programs"].values()]
    if times:
        lines.append(
            f"fuzz programs: {len(times)}, mean {statistics.mean(times) * 1000:.1f} ms, "
            f"median {statistics.median(times) * 1000:.1f} ms, total {sum(times):.2f} s"
        )
    case_total = sum(item["seconds"] for item in result["cases"].values())
    lines.append(f"cases total {case_total:.2f} s")
    return "\n".join(lines)


def comparable(sources: list[str]) -> list[str]:
    """``sources`` without the fuzz modules' names and the numbers of generated code's
    file names (``<ad_transform h0 #42>``), which change from run to run."""
    texts = [re.sub(r"fuzz_program_\d+_\d+", "fuzz_program", text) for text in sources]
    texts = [re.sub(r"(<ad_transform [^>#]*)#\d+>", r"\1#N>", text) for text in texts]
    return [re.sub(r"ad_corpus_\w+", "ad_corpus", text) for text in texts]


def _compare(old: dict, new: dict) -> str:
    lines = []
    for group in ("cases", "programs"):
        for name, item in new[group].items():
            before = old[group].get(name)
            if before is None:
                continue
            if comparable(before["sources"]) != comparable(item["sources"]):
                lines.append(f"{group} {name}: generated code differs")
            lines.append(
                f"{group} {name}: {before['seconds'] * 1000:.1f} ms -> "
                f"{item['seconds'] * 1000:.1f} ms"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--programs", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--compare", type=Path, help="a JSON file written by --out")
    options = parser.parse_args(argv)
    result = run(options.programs, options.repeats)
    if options.out:
        options.out.write_text(json.dumps(result, indent=1))
    if options.compare:
        print(_compare(json.loads(options.compare.read_text()), result))
    print(_summary(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
