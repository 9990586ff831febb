"""Checkouts against each other in one run (issue 11's "no regression"): for each arm, a
checkout with its own built venv (`make build` in it), the SQLite store alone
(bench/ab_store_probe.py under the arm's interpreter) and the arm's own `sluice serve` under
wrk (1-event, then 1000-event requests at c=32), rounds alternating the arms' order.

    git worktree add --detach ../before f58f2a5 && (cd ../before && make build)
    .venv/bin/python -m bench.ab_commits --arm before=../before --arm main=. [--rounds 6]

Prints one JSON line per arm and round, then medians and each arm's ratio to the first.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import servers
from bench.bench_http import Load, Runner, require_wrk
from bench.report import ROOT

PROBE = ROOT / "bench" / "ab_store_probe.py"


def store(checkout: Path) -> tuple[float, float]:
    """(events/s, CPU µs per event) of the arm's store alone."""
    out = subprocess.run(
        [str(checkout / ".venv/bin/python"), str(PROBE), "150"],
        cwd=checkout,
        env={"PYTHONPATH": str(checkout), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    figures = dict(zip(out[::2], out[1::2], strict=True))
    events = int(figures["events"])
    return events / float(figures["wall_s"]), float(figures["cpu_s"]) / events * 1e6


def http(name: str, checkout: Path, seconds: float, tmp: Path) -> tuple[Load, Load]:
    """1-event then 1000-event loads on the arm's own `sluice serve` over a fresh data dir."""
    data = tmp / f"{name}-data"
    data.mkdir()
    command = [str(checkout / ".venv/bin/python"), "-m", "sluice", "serve"]
    command += ["--http-port", "0", "--grpc-port", "0", "--data-dir", str(data)]
    wanted = ("sluice: http listening on", "sluice: grpc listening on")
    process = servers.spawn(command, tmp / f"{name}.log", wanted, servers.BENCH_ENV)
    try:
        url = process.lines["sluice: http listening on"]
        servers.wait_ready(url)
        runner = Runner(url, process.lines["key"], tmp, seconds, name)
        return runner.load(1, 32), runner.load(1000, 32)
    finally:
        process.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arm", action="append", required=True, help="name=checkout")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=10.0, help="per wrk run")
    args = parser.parse_args(argv)
    require_wrk()
    arms = {name: Path(path).resolve() for name, path in (a.split("=", 1) for a in args.arm)}
    rows = []
    for n in range(args.rounds):
        for name in list(arms) if n % 2 == 0 else list(reversed(arms)):
            store_eps, store_us = store(arms[name])
            with tempfile.TemporaryDirectory(prefix="sluice-ab-") as tmp:
                one, thousand = http(name, arms[name], args.seconds, Path(tmp))
            row = {
                "round": n,
                "arm": name,
                "store_eps": store_eps,
                "store_us": store_us,
                "http1_rps": one.rps,
                "http1_p99": one.p99_ms,
                "http1000_eps": thousand.eps,
                "http1000_p99": thousand.p99_ms,
                "errors": one.errors + thousand.errors,
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    first = next(iter(arms))
    for key in ("store_us", "store_eps", "http1_rps", "http1_p99", "http1000_eps"):
        medians = {a: statistics.median(r[key] for r in rows if r["arm"] == a) for a in arms}
        cells = [f"{a} {m:,.1f} ({m / medians[first]:.2f}x)" for a, m in medians.items()]
        print(f"{key} median: " + "; ".join(cells))


if __name__ == "__main__":
    main(sys.argv[1:])
