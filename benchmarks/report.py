"""Tables: the results as Markdown (printed, and written to ``benchmarks/RESULTS.md``)."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .cases import Case
from .peers import DISTRIBUTIONS, FORWARD, HAND, OURS, OURS_DIRECT, version_of
from .timing import Timing, paired_ratio

REPO = Path(__file__).resolve().parent.parent

# the targets of issue 6, by case
TARGETS = {
    "affine_loop": ("hand", 1.5),
    "sin_loop": ("hand", 1.5),
    "branch_loop": ("hand", 1.5),
    "mlp": ("hand", 1.15),
    "rnn": ("hand", 1.15),
    "seed": ("overhead_us", 1.0),
}


@dataclass
class CaseResult:
    """What one case (at one size) gave."""

    case: Case
    size: object
    timings: dict[str, Timing] = field(default_factory=dict)
    status: dict[str, str] = field(default_factory=dict)  # contender -> why it has no time
    setup: dict[str, float] = field(default_factory=dict)  # contender -> compile seconds
    memory: dict[str, int] = field(default_factory=dict)  # contender -> peak bytes
    ours_wrong: str | None = None  # set when our gradient disagrees with the hand-written

    def time(self, name: str) -> float | None:
        timing = self.timings.get(name)
        return timing.median if timing is not None else None

    def ratio(self, name: str, base: str) -> float | None:
        """Time of ``name`` over time of ``base``, paired by round (see ``paired_ratio``)."""
        a, b = self.timings.get(name), self.timings.get(base)
        if a is None or b is None or b.median <= 0:
            return None
        return 1.0 if a is b else paired_ratio(a, b)

    @property
    def iterations(self) -> int | None:
        return self.size if isinstance(self.size, int) and self.case.loop else None


# -- formatting --------------------------------------------------------------------------


def fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if seconds >= scale or unit == "ns":
            value = seconds / scale
            digits = 0 if value >= 100 else 1 if value >= 10 else 2
            return f"{value:.{digits}f} {unit}"
    return f"{seconds:.3g} s"


def fmt_ratio(ratio: float | None) -> str:
    if ratio is None:
        return "—"
    if ratio >= 100:
        return f"{ratio:,.0f}x"
    if ratio >= 10:
        return f"{ratio:.1f}x"
    return f"{ratio:.2f}x"


def fmt_bytes(count: int | None) -> str:
    if count is None:
        return "—"
    if count >= 1 << 20:
        return f"{count / (1 << 20):.1f} MiB"
    if count >= 1 << 10:
        return f"{count / (1 << 10):.1f} KiB"
    return f"{count} B"


def table(header: list[str], rows: list[list[str]], align: str | None = None) -> str:
    align = align or "l" + "r" * (len(header) - 1)
    rule = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(rule) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


# -- machine -------------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO), *args], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def machine_info(threads: int | None) -> list[tuple[str, str]]:
    import numpy as np

    import ad_transform

    commit = _git("rev-parse", "--short=12", "HEAD") or "unknown"
    dirty = _git("status", "--porcelain", "--", "ad_transform")
    if dirty:
        commit += " + uncommitted changes in ad_transform/"
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = os.cpu_count()
    try:
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "unknown"
    blas = "unknown"
    try:
        blas_info = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        blas = f"{blas_info.get('name', '?')} {blas_info.get('version', '')}".strip()
    except Exception:
        pass
    peers = []
    for distribution in dict.fromkeys(DISTRIBUTIONS.values()):
        peers.append(f"{distribution} {version_of(distribution) or 'not installed'}")
    return [
        ("date", datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
        ("CPU", _cpu_model()),
        ("cores", f"{os.cpu_count()} ({affinity} usable); load average at start {load}"),
        (
            "threads",
            f"{threads} (BLAS, OpenMP, torch, XLA)" if threads else "library defaults",
        ),
        ("Python", f"{platform.python_implementation()} {sys.version.split()[0]}"),
        ("NumPy", f"{np.__version__} ({blas})"),
        ("ad_transform", f"{ad_transform.__version__}, git {commit}"),
        ("peers", ", ".join(peers)),
        ("command", " ".join(["python", *getattr(sys, "orig_argv", sys.argv)[1:]])),
    ]


# -- tables ----------------------------------------------------------------------------------


def target_verdict(result: CaseResult) -> str:
    target = TARGETS.get(result.case.name)
    if target is None or result.time(OURS) is None:
        return "—"
    kind, limit = target
    if kind == "hand":
        ratio = result.ratio(OURS, HAND)
        ok = ratio is not None and ratio <= limit
        return f"≤ {limit:g}x {'✓' if ok else '✗'}"
    overhead = (result.time(OURS) - result.time(HAND)) * 1e6
    return f"≤ {limit:g} µs {'✓' if overhead <= limit else '✗'}"


def _peer_cell(result: CaseResult, name: str, footnotes: dict[str, int]) -> str:
    ratio = result.ratio(name, OURS)
    if ratio is not None:
        return fmt_ratio(ratio)
    why = result.status.get(name)
    if why is None:
        return "—"
    key = why
    if key not in footnotes:
        footnotes[key] = len(footnotes) + 1
    label = "n/i" if why.startswith("not installed") else "fails"
    if why.startswith("skipped"):
        label = "skipped"
    if why.startswith("wrong gradient"):
        label = "WRONG"
    return f"{label} [{footnotes[key]}]"


def summary_table(results: list[CaseResult], peers: list[str]) -> str:
    footnotes: dict[str, int] = {}
    header = [
        "case",
        "forward",
        "hand-written",
        "ours",
        "ours/hand",
        "ours/forward",
        "target",
    ] + [f"{p}/ours" for p in peers]
    rows = []
    for r in results:
        ours = fmt_ratio(r.ratio(OURS, HAND))
        if r.ours_wrong:
            ours = "**WRONG**"
        rows.append(
            [
                r.case.name,
                fmt_time(r.time(FORWARD)),
                fmt_time(r.time(HAND)),
                fmt_time(r.time(OURS)),
                ours,
                fmt_ratio(r.ratio(OURS, FORWARD)),
                target_verdict(r),
            ]
            + [_peer_cell(r, p, footnotes) for p in peers]
        )
    text = table(header, rows)
    if footnotes:
        text += "\n\n" + "\n".join(f"[{n}] {_cell(why)}" for why, n in footnotes.items())
    return text


def case_table(result: CaseResult, contenders: list[str]) -> str:
    rows = []
    for name in contenders:
        timing = result.timings.get(name)
        note = ""
        if name in result.setup:
            note = f"compile {fmt_time(result.setup[name])} (not in the time)"
        if name == OURS_DIRECT:
            note = "diagnostic: the generated function called directly, no API wrapper"
        if name == OURS and result.ours_wrong:
            note = f"**{result.ours_wrong}**"
        if name in result.memory:
            note = (note + "; " if note else "") + f"peak memory {fmt_bytes(result.memory[name])}"
        if timing is None:
            why = result.status.get(name)
            if why is None:
                continue
            rows.append([name, "—", "", "", "", "", _cell(why)])
            continue
        rows.append(
            [
                name,
                fmt_time(timing.median),
                f"±{timing.spread * 50:.0f}%",
                fmt_ratio(result.ratio(name, FORWARD)),
                fmt_ratio(result.ratio(name, HAND)),
                fmt_ratio(result.ratio(name, OURS)),
                _cell(note),
            ]
        )
    header = ["contender", "time", "IQR/2", "x forward", "x hand", "x ours", "note"]
    return table(header, rows, "lrrrrrl")


def growing_table(results: list[CaseResult], peers: list[str]) -> str:
    footnotes: dict[str, int] = {}
    header = [
        "n",
        "forward",
        "hand-written",
        "ours",
        "ours/hand",
        "ours per step",
        "hand peak memory",
        "ours peak memory",
        "ours bytes/step",
    ] + [f"{p}/ours" for p in peers]
    rows = []
    for r in results:
        n = r.size
        ours = r.time(OURS)
        mem = r.memory.get(OURS)
        rows.append(
            [
                f"{n:,}",
                fmt_time(r.time(FORWARD)),
                fmt_time(r.time(HAND)),
                fmt_time(ours),
                fmt_ratio(r.ratio(OURS, HAND)),
                fmt_time(ours / n if ours is not None else None),
                fmt_bytes(r.memory.get(HAND)),
                fmt_bytes(mem),
                f"{mem / n:.1f}" if mem is not None else "—",
            ]
            + [_peer_cell(r, p, footnotes) for p in peers]
        )
    text = table(header, rows)
    if footnotes:
        text += "\n\n" + "\n".join(f"[{n}] {_cell(why)}" for why, n in footnotes.items())
    return text


def memory_table(results: list[CaseResult]) -> str:
    rows = []
    for r in results:
        if not r.memory:
            continue
        n = r.iterations
        hand, ours = r.memory.get(HAND), r.memory.get(OURS)
        rows.append(
            [
                r.case.name,
                f"{n:,}" if n else "—",
                fmt_bytes(hand),
                fmt_bytes(ours),
                f"{ours / n:.1f}" if ours is not None and n else "—",
                fmt_ratio(ours / hand if ours is not None and hand else None),
            ]
        )
    header = [
        "case",
        "iterations",
        "hand-written peak",
        "ours peak",
        "ours bytes/iter",
        "ours/hand",
    ]
    return table(header, rows)


def transform_section(t) -> str:
    from .transform import STAGES

    stage_names = {
        "parse_function": "parse",
        "normalize": "normalize",
        "analyze": "analyze",
        "reverse": "reverse",
        "optimize": "optimize",
        "compile_functions": "emit/compile",
    }
    stages = ", ".join(f"{stage_names[s]} {fmt_time(t.stages[s])}" for s in STAGES if s in t.stages)
    parses = "not measured" if t.cached_parses is None else str(t.cached_parses)
    rows = [
        [f"cold: transformation of a {t.lines}-line function (median of {len(t.cold_seconds)})",
         fmt_time(t.cold_median), "≤ 50 ms " + ("✓" if t.cold_median <= 0.05 else "✗")],
        ["cold: fastest of those", fmt_time(min(t.cold_seconds)), ""],
        ["first transformation in the process (incl. one call and one-time setup)",
         fmt_time(t.first_seconds), ""],
        ["where the cold time goes (median per stage)", stages or "—", ""],
        ["a warm call of the gradient", fmt_time(t.warm_call_seconds), ""],
        ["a new `grad(f)` object for the same function, first call (cache hit; median of 5)",
         fmt_time(t.cached_first_call_seconds), ""],
        ["parser calls during those cached first calls", parses,
         "0 ✓" if t.cached_parses == 0 else "want 0"],
    ]  # fmt: skip
    if t.import_seconds is not None:
        rows.append([
            "`import ad_transform` after NumPy and gast (CPU, fresh interpreters, median of 9)",
            fmt_time(t.import_seconds), "≤ 50 ms " + ("✓" if t.import_seconds <= 0.05 else "✗"),
        ])  # fmt: skip
    return table(["what", "value", "target"], rows, "lrl")


def markdown(
    info: list[tuple[str, str]],
    results: list[CaseResult],
    growing: list[CaseResult],
    transform,
    contenders: list[str],
    peers: list[str],
    settings: str,
    wrong: list[str],
) -> str:
    parts = ["# ad_transform benchmarks", ""]
    parts.append(
        "Generated by `python -m benchmarks` (see `benchmarks/README.md`). Times are medians "
        "over rounds in which every contender is measured back to back, in one process; a "
        "ratio is the median of the per-round ratios (so both sides of it ran under the "
        "same load). `peer/ours` above 1 means the peer is slower than ours."
    )
    parts += ["", "## Machine", ""]
    parts.append(table(["", ""], [[k, _cell(v)] for k, v in info], "ll"))
    parts += ["", f"Settings: {settings}.", ""]
    if wrong:
        parts += ["## WRONG GRADIENTS (ours)", ""]
        parts += [f"- {w}" for w in wrong]
        parts.append("")
    if results:
        parts += ["## Summary", "", summary_table(results, peers), ""]
        seed = next((r for r in results if r.case.name == "seed"), None)
        if seed is not None and seed.time(OURS) is not None and seed.time(HAND) is not None:
            overhead = (seed.time(OURS) - seed.time(HAND)) * 1e6
            direct = seed.time(OURS_DIRECT)
            line = f"Call overhead of ours over hand-written on `seed`: {overhead:.2f} µs"
            if direct is not None:
                line += (
                    f" ({(direct - seed.time(HAND)) * 1e6:.2f} µs of it in the generated "
                    f"code, {(seed.time(OURS) - direct) * 1e6:.2f} µs in the `grad` wrapper)"
                )
            parts += [line + ".", ""]
    if growing:
        parts += [f"## Growing size: `{growing[0].case.name}`", ""]
        parts += [growing[0].case.title + "; time and peak memory of one gradient call.", ""]
        parts += [growing_table(growing, peers), ""]
    memory_rows = [r for r in results if r.memory]
    if memory_rows:
        parts += ["## Memory of the loops (tracemalloc, separate pass)", ""]
        parts += [memory_table(memory_rows), ""]
    if transform is not None:
        parts += ["## Transformation", "", transform_section(transform), ""]
    if results:
        parts += ["## Per case", ""]
        for r in results:
            parts += [f"### {r.case.name}: {r.case.title}", ""]
            parts += [case_table(r, contenders), ""]
    return "\n".join(parts).rstrip() + "\n"


__all__ = ["CaseResult", "machine_info", "markdown"]
