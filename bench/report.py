"""Figures, the one table they print as, and the machine they were measured on."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Figure:
    """One measured figure beside its same-run baseline and the issue's target."""

    name: str
    measured: str  # the absolute figure, with its unit
    baseline: str = ""  # what the ratio divides by, measured in the same run
    ratio: float | None = None
    target: str = ""
    met: bool | None = None  # None: no target, or not measurable here

    def cells(self) -> list[str]:
        ratio = "" if self.ratio is None else f"{self.ratio:.2f}x"
        met = {True: "yes", False: "NO", None: ""}[self.met]
        return [self.name, self.measured, self.baseline, ratio, self.target, met]


HEADER = ["figure", "measured", "baseline (same run)", "ratio", "target", "met"]


def table(figures: Iterable[Figure]) -> str:
    """The figures as a Markdown table (readable as plain text too)."""
    return markdown(HEADER, [figure.cells() for figure in figures])


def markdown(header: Sequence[str], body: Iterable[Sequence[str]]) -> str:
    """A Markdown table with columns as wide as their widest cell."""
    rows = [header, *body]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(rows[0]), rule, *(line(row) for row in rows[1:])])


def rate(value: float, unit: str = "ev/s") -> str:
    """12345678 -> '12.3M ev/s'."""
    for scale, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{suffix} {unit}".replace(" ev/s", " ev/s")
    return f"{value:.3g} {unit}"


def best_rate(work: Callable[[], object], units: int, seconds: float, rounds: int = 5) -> float:
    """Units per CPU second of this thread for `work` (which handles `units` each call): the
    best of `rounds` rounds of at least `seconds / rounds` each (and at least one call).

    CPU time, not wall time, so other processes on the machine do not count against it (the
    Rust example measures the same way)."""
    per_round = seconds / rounds
    best = 0.0
    for _ in range(rounds):
        calls = 0
        started = time.thread_time()
        while calls == 0 or time.thread_time() - started < per_round:
            work()
            calls += 1
        best = max(best, units * calls / (time.thread_time() - started))
    return best


def machine() -> str:
    """`nproc` and the CPU model, as RESULTS.md records them."""
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"nproc={os.cpu_count()}, CPU: {model}"


def load_average() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "unknown"
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--smoke", action="store_true", help="a tiny run that only proves the script works"
    )
    parser.add_argument("--json", type=Path, help="also write the figures here as JSON")


def finish(figures: list[Figure], json_path: Path | None, title: str, smoke: bool = False) -> None:
    """Print the table (and write JSON). A smoke run's figures judge no target."""
    if smoke:
        figures[:] = [dataclasses.replace(figure, met=None) for figure in figures]
    print(f"\n## {title}\n")
    print(table(figures), flush=True)
    if json_path is not None:
        json_path.write_text(json.dumps([dataclasses.asdict(f) for f in figures], indent=1))
