"""What durability costs: `POST /events` under SQLite synchronous=FULL (the default) vs NORMAL,
and group commit on (the default) vs off, each against the default in the same run.

    .venv/bin/python -m bench.bench_durability [--seconds 10] [--smoke]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from bench import bench_http, servers
from bench.report import Figure, common_arguments, finish

CONFIGS = {
    "FULL, group commit on (default)": {},
    "NORMAL, group commit on": {"SLUICE_SQLITE_SYNCHRONOUS": "NORMAL"},
    "FULL, group commit off": {"SLUICE_GROUP_COMMIT": "off"},
    "NORMAL, group commit off": {
        "SLUICE_SQLITE_SYNCHRONOUS": "NORMAL",
        "SLUICE_GROUP_COMMIT": "off",
    },
}


def run(seconds: float, loads: list[tuple[int, int]]) -> list[Figure]:
    """`loads`: (batch, connections) pairs, each run under every configuration."""
    bench_http.require_wrk()
    measured: dict[str, list[bench_http.Load]] = {}
    with tempfile.TemporaryDirectory(prefix="sluice-bench-durability-") as tmp:
        tmp_path = Path(tmp)
        for n, (config, env) in enumerate(CONFIGS.items()):
            with servers.sluice(tmp_path / f"data{n}", env) as server:
                servers.wait_ready(server.http_url)
                if env and "WARNING" not in server.process.log.read_text():
                    raise AssertionError(f"{config}: serve printed no durability warning")
                runner = bench_http.Runner(server.http_url, server.key, tmp_path, seconds, "d")
                measured[config] = [runner.load(batch, c) for batch, c in loads]
                bench_http.check_stored(server, runner.history)

    default = measured[next(iter(CONFIGS))]
    figures = []
    for config, results in list(measured.items())[1:]:
        for load, baseline in zip(results, default, strict=True):
            figures.append(
                Figure(
                    f"durability: {config}, {load.batch}-event, c={load.connections}",
                    load.describe(),
                    f"FULL+group {baseline.describe()}",
                    load.eps / baseline.eps,
                )
            )
    return figures


def main(argv: list[str] | None = None) -> list[Figure]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    common_arguments(parser)
    parser.add_argument("--seconds", type=float, default=10.0, help="per wrk run")
    args = parser.parse_args(argv)
    loads = [(1, 8)] if args.smoke else [(1, 64), (100, 64), (1000, 8)]
    figures = run(1 if args.smoke else args.seconds, loads)
    finish(
        figures, args.json, "Durability cost: POST /events against FULL + group commit", args.smoke
    )
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])
