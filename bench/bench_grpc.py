"""gRPC end to end: `Ingest` and `IngestStream` with durable commits against a real
`sluice serve`, against HTTP `POST /events` of the same events on the same server in the same
run (target: gRPC >= HTTP), and a bare grpc.aio server with canned answers (the ceiling of
this transport with this load generator).

Load comes from bench/grpc_load.py processes (2, one per core; loopback only, bounded in
time). The bare server shows what those clients can drive; their CPU share is printed.

    .venv/bin/python -m bench.bench_grpc [--seconds 8] [--smoke]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench import bench_http, servers
from bench.report import Figure, common_arguments, finish, rate

PROCESSES = 2


@dataclass(frozen=True)
class GrpcLoad:
    mode: str
    batch: int
    connections: int
    calls: int
    seconds: float
    errors: int
    p50_ms: float
    p99_ms: float
    client_cpu: float  # load generator CPU seconds per wall second (2.0 = both cores)

    @property
    def eps(self) -> float:
        return self.calls * self.batch / self.seconds

    def describe(self) -> str:
        errors = f", {self.errors} errors" if self.errors else ""
        return (
            f"{rate(self.eps)} (c={self.connections}, p50 {self.p50_ms:.1f} ms, "
            f"p99 {self.p99_ms:.1f} ms, client CPU {self.client_cpu:.2f}{errors})"
        )


class GrpcRunner:
    def __init__(self, target: str, key: str, seconds: float, label: str, verify: bool) -> None:
        self.target, self.key, self.seconds, self.label = target, key, seconds, label
        self.verify = verify  # the real server must accept every event it is sent
        self.runs = 0
        self.accepted = 0

    def load(self, mode: str, batch: int, connections: int) -> GrpcLoad:
        self.runs += 1
        # Time for every process to connect and build its template before the clock starts.
        start_at = time.time() + (1.5 if self.seconds < 2 else 3)
        per_process = math.ceil(connections / PROCESSES)
        procs = [
            subprocess.Popen(
                [
                    *[sys.executable, "-m", "bench.grpc_load", self.target, self.key],
                    *["--mode", mode, "--batch", str(batch), "--concurrency", str(per_process)],
                    *["--seconds", str(self.seconds), "--start-at", str(start_at)],
                    *["--tag", f"{self.label}{self.runs}p{i}"],
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            for i in range(PROCESSES)
        ]
        results = []
        for proc in procs:
            out, _ = proc.communicate(timeout=self.seconds + 120)
            if proc.returncode != 0:
                raise RuntimeError(f"grpc_load exited {proc.returncode}")
            results.append(json.loads(out.strip().splitlines()[-1]))
        calls = sum(r["calls"] for r in results)
        accepted = sum(r["accepted"] for r in results)
        errors = sum(sum(r["errors"].values()) for r in results)
        if self.verify and accepted != calls * batch:
            errors += calls * batch - accepted
        self.accepted += accepted
        latencies = sorted(us for r in results for us in r["latencies_us"]) or [0]
        seconds = max(r["seconds"] for r in results)
        quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
        return GrpcLoad(
            mode,
            batch,
            per_process * PROCESSES,
            calls,
            seconds,
            errors,
            quantiles[49] / 1000,
            quantiles[98] / 1000,
            sum(r["cpu_seconds"] for r in results) / seconds,
        )

    def peak(self, mode: str, batch: int, concurrency: list[int]) -> GrpcLoad:
        return max((self.load(mode, batch, c) for c in concurrency), key=lambda load: load.eps)


def run(seconds: float, batches: list[int], concurrency: list[int]) -> list[Figure]:
    bench_http.require_wrk()
    figures = []
    with tempfile.TemporaryDirectory(prefix="sluice-bench-grpc-") as tmp:
        tmp_path = Path(tmp)
        with (
            servers.sluice(tmp_path / "data") as server,
            servers.bare("bare_grpc", tmp_path / "bare.log") as bare_target,
        ):
            servers.wait_ready(server.http_url)
            sluice = GrpcRunner(server.grpc_target, server.key, seconds, "s", verify=True)
            ceiling = GrpcRunner(bare_target, server.key, seconds, "b", verify=False)
            http = bench_http.Runner(server.http_url, server.key, tmp_path, seconds, "h")
            for batch in batches:
                bare_peak = ceiling.peak("unary", batch, concurrency)
                unary = sluice.peak("unary", batch, concurrency)
                stream = sluice.peak("stream", batch, concurrency)
                http_peak = http.peak(batch, concurrency)
                for name, load in (("Ingest", unary), ("IngestStream", stream)):
                    ratio = load.eps / http_peak.eps
                    figures.append(
                        Figure(
                            f"gRPC {name}, {batch}-event batches",
                            load.describe(),
                            f"HTTP {http_peak.describe()}",
                            ratio,
                            ">= 1x HTTP",
                            ratio >= 1 and load.errors == 0,
                        )
                    )
                figures.append(
                    Figure(
                        f"gRPC Ingest, {batch}-event batches, vs ceiling",
                        rate(unary.eps),
                        f"bare grpc.aio {bare_peak.describe()}",
                        unary.eps / bare_peak.eps,
                    )
                )
            bench_http.check_stored(server, http.history, sluice.accepted)
    return figures


def main(argv: list[str] | None = None) -> list[Figure]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    common_arguments(parser)
    parser.add_argument("--seconds", type=float, default=8.0, help="per load run")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 100, 1000])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 64])
    args = parser.parse_args(argv)
    if args.smoke:
        figures = run(1, [100], [2])
    else:
        figures = run(args.seconds, args.batches, args.concurrency)
    finish(
        figures,
        args.json,
        "gRPC end to end (durable), against HTTP and a bare grpc.aio",
        args.smoke,
    )
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])
