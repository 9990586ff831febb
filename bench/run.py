"""`make bench`: every benchmark in one run, one table, and (with --write) bench/RESULTS.md.

.venv/bin/python -m bench.run [--write bench/RESULTS.md] [--smoke] [--only core http ...]
"""

from __future__ import annotations

import argparse
import datetime
import os
import resource
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bench import (
    bench_core,
    bench_durability,
    bench_grpc,
    bench_http,
    bench_layout,
    bench_postgres,
    bench_startup,
    bench_store,
    bench_usage,
)
from bench.report import Figure, load_average, machine, table

SUITES: dict[str, Callable[[list[str]], list[Figure]]] = {
    "core": bench_core.main,
    "http": bench_http.main,
    "grpc": bench_grpc.main,
    "durability": bench_durability.main,
    "store": bench_store.main,
    "layout": bench_layout.main,
    "postgres": bench_postgres.main,
    "startup": bench_startup.main,
    "usage": bench_usage.main,
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny runs: proves the code works")
    parser.add_argument("--only", nargs="+", choices=list(SUITES), default=list(SUITES))
    parser.add_argument("--write", type=Path, help="write the table and its context here")
    args = parser.parse_args(argv)

    command = shlex.join(["python", "-m", "bench.run", *(argv or sys.argv[1:])])
    started = datetime.datetime.now(datetime.UTC)
    load_before = load_average()
    clock = time.monotonic()
    machine_before, ours_before = busy_cpu_seconds(), our_cpu_seconds()
    figures: list[Figure] = []
    for name in args.only:
        figures += SUITES[name](["--smoke"] if args.smoke else [])
    seconds = time.monotonic() - clock
    minutes = seconds / 60
    others = (busy_cpu_seconds() - machine_before) - (our_cpu_seconds() - ours_before)

    context = [
        f"- date: {started:%Y-%m-%d %H:%M} UTC ({minutes:.0f} minutes)",
        f"- machine: {machine()}",
        f"- load average (1, 5, 15 min) before: {load_before}; after: {load_average()}",
        f"- CPU used by processes other than this run's: {max(0.0, others):.0f} s "
        f"({max(0.0, others) / (seconds * (os.cpu_count() or 1)):.0%} of the machine)",
        f"- command: `make bench` (= `{command}`)",
    ]
    text = "\n".join(["", "## All figures, one run", "", *context, "", table(figures), ""])
    print(text)
    if args.write is not None:
        earlier = args.write.read_text() if args.write.exists() else ""
        args.write.write_text(results_document(context, figures) + dated_sections(earlier))


def busy_cpu_seconds() -> float:
    """CPU seconds the whole machine spent busy since boot (/proc/stat), or 0 elsewhere."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return 0.0
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def our_cpu_seconds() -> float:
    """CPU seconds of this process and its waited-for children (servers, wrk, clients)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def dated_sections(document: str) -> str:
    """The before/after records kept under the table (sections headed `## <year>-…`): a new
    run replaces the table and keeps them."""
    lines = document.splitlines()
    for number, line in enumerate(lines):
        if line.startswith("## 20"):
            return "\n" + "\n".join(lines[number:]) + "\n"
    return ""


def results_document(context: list[str], figures: list[Figure]) -> str:
    return "\n".join(
        [
            "# Benchmark results",
            "",
            "The latest `make bench`. Each ratio divides two figures measured in the same run on",
            "the same machine; the absolute figures beside them drift between runs and machines.",
            "How each is measured: bench/README.md.",
            "",
            *context,
            "",
            table(figures),
            "",
        ]
    )


if __name__ == "__main__":
    main()
