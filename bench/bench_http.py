"""HTTP end to end: `POST /events` with durable commits against a real `sluice serve`, and in
the same run a bare Litestar app with a canned answer on the same server stack (the ceiling).

Load comes from wrk (separate process, loopback only, bounded by -d) with bench/wrk_vayu.lua,
which sends events no request sent before. Batches of 1, 100 and 1000 events; 8 to 64
connections; the best concurrency counts for each.

    .venv/bin/python -m bench.bench_http [--seconds 10] [--smoke]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench import corpus, redis_peer, servers
from bench.bench_store import parsed_batches
from bench.report import ROOT, Figure, common_arguments, finish, rate
from sluice.gateway import Gateway
from sluice.settings import Settings
from sluice.storage.sqlite import SqliteStore

WRK_SCRIPT = ROOT / "bench" / "wrk_vayu.lua"


@dataclass(frozen=True)
class Load:
    """What one wrk run measured."""

    batch: int
    connections: int
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p99_ms: float
    mean_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def eps(self) -> float:
        return self.rps * self.batch

    def describe(self) -> str:
        errors = f", {self.errors} errors" if self.errors else ""
        return (
            f"{rate(self.eps)} (c={self.connections}, p50 {self.p50_ms:.1f} ms, "
            f"p99 {self.p99_ms:.1f} ms{errors})"
        )


def template(directory: Path, batch: int) -> Path:
    path = directory / f"vayu-{batch}.template"
    if not path.exists():
        path.write_bytes(b"\0".join(corpus.templated_vayu_batch(batch)))
    return path


def wrk(
    url: str,
    template_path: Path,
    key: str,
    run_id: str,
    batch: int,
    connections: int,
    seconds: float,
    delay_ms: int = 0,
) -> Load:
    """One wrk run: 2 threads (the machine has 2 cores), `connections` keep-alive connections."""
    command = [
        "wrk",
        f"-t{min(2, connections)}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(WRK_SCRIPT),
        url,
        "--",
        str(template_path),
        key,
        run_id,
    ]
    env = {"PATH": "/usr/bin:/bin", "WRK_DELAY_MS": str(delay_ms)}
    out = subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout
    result = json.loads(next(line for line in out.splitlines() if line.startswith("{")))
    return Load(
        batch=batch,
        connections=connections,
        requests=result["requests"],
        seconds=result["duration_us"] / 1e6,
        errors=result["errors"] + result["status_errors"],
        p50_ms=result["p50_us"] / 1000,
        p99_ms=result["p99_us"] / 1000,
        mean_ms=result["mean_us"] / 1000,
    )


def require_wrk() -> None:
    if shutil.which("wrk") is None:
        sys.exit("bench_http needs wrk: apt-get install -y wrk (make bench does this)")


class Runner:
    """Runs wrk against one server, giving each run a fresh id (so refs never repeat)."""

    def __init__(self, url: str, key: str, templates: Path, seconds: float, label: str) -> None:
        self.url, self.key, self.templates, self.seconds = url, key, templates, seconds
        self.label = label
        self.runs = 0
        self.history: list[Load] = []

    def load(self, batch: int, connections: int, delay_ms: int = 0, seconds: float = 0) -> Load:
        self.runs += 1
        load = wrk(
            self.url,
            template(self.templates, batch),
            self.key,
            f"{self.label}{self.runs}",
            batch,
            connections,
            seconds or self.seconds,
            delay_ms,
        )
        self.history.append(load)
        return load

    def peak(self, batch: int, concurrency: list[int]) -> Load:
        return max((self.load(batch, c) for c in concurrency), key=lambda load: load.eps)


def paced(runner: Runner, peak: Load, connections: int = 8) -> Load:
    """Requests of the peak's batch size at half its rate: each connection waits between its
    requests.

    wrk waits `delay` ms after each answer, so a connection's cycle is the wait plus the
    latency; short probes correct the wait until the rate is within 10% of the target (wrk's
    waits are whole milliseconds), then the measured run uses it."""
    target = peak.rps / 2
    delay_ms = max(1, round(1000 * connections / target))
    for _ in range(5 if runner.seconds > 1 else 1):  # a smoke run tries once
        probe = runner.load(peak.batch, connections, delay_ms, seconds=min(2.0, runner.seconds))
        if abs(probe.rps / target - 1) <= 0.1:
            break
        cycle_ms = 1000 * connections / probe.rps  # wait + latency, per connection
        latency_ms = max(0.0, cycle_ms - delay_ms)
        wanted = 1000 * connections / target - latency_ms
        if wanted < 2:  # too little room for a whole-millisecond wait: more connections
            connections *= 2
            wanted = 1000 * connections / target - latency_ms
        delay_ms = max(1, round(wanted))
    return runner.load(peak.batch, connections, delay_ms)


def pipeline_rate(data_dir: Path, batch: int, concurrency: int, seconds: float) -> float:
    """Events/s of the same ingest path without HTTP: `concurrency` tasks in this process
    calling the ingest service with fresh Vayu bodies (parse, claim, group commit, settle)."""
    parts = corpus.templated_vayu_batch(batch)

    async def measure() -> float:
        gateway = Gateway(SqliteStore(data_dir / "sluice.db"), Settings(data_dir=data_dir))
        await gateway.start()
        stored = 0
        deadline = time.monotonic() + seconds

        async def client(n: int) -> None:
            nonlocal stored
            sent = 0
            while time.monotonic() < deadline:
                sent += 1
                body = f"p{n}n{sent}".encode().join(parts)
                result = await gateway.ingest.ingest(gateway.dialects.vayu, "bench", body)
                stored += len(result.accepted)  # not `stored += await ...`: that loses counts

        started = time.monotonic()
        try:
            await asyncio.gather(*(client(n) for n in range(concurrency)))
        finally:
            await gateway.stop()
        return stored / (time.monotonic() - started)

    return asyncio.run(measure())


def store_rate(data_dir: Path, batch: int, seconds: float) -> float:
    """Events/s the SQLite store alone takes: one SqliteStore.append of `batch` pre-parsed
    rows after another (durable, FULL), 100 batches parsed before the clock starts."""
    batches = parsed_batches(100, "bench", "s", batch)

    async def measure() -> float:
        store = SqliteStore(data_dir / "sluice.db")
        await store.open()
        stored = 0
        try:
            started = time.monotonic()
            for rows in batches:
                stored += sum(
                    offset is not None
                    for offset in await store.append("bench", "vayu", corpus.NOW_US, rows)
                )
                if time.monotonic() - started > seconds:
                    break
            return stored / (time.monotonic() - started)
        finally:
            await store.close()

    return asyncio.run(measure())


def run(seconds: float, batches: list[int], concurrency: list[int]) -> list[Figure]:
    require_wrk()
    figures = []
    with tempfile.TemporaryDirectory(prefix="sluice-bench-http-") as tmp:
        tmp_path = Path(tmp)
        with (
            servers.sluice(tmp_path / "data") as server,
            servers.bare("bare_http", tmp_path / "bare.log") as bare_url,
        ):
            servers.wait_ready(server.http_url)
            sluice = Runner(server.http_url, server.key, tmp_path, seconds, "s")
            ceiling = Runner(bare_url, server.key, tmp_path, seconds, "b")
            peaks: dict[int, tuple[Load, Load]] = {}
            for batch in batches:
                bare_peak = ceiling.peak(batch, concurrency)
                peaks[batch] = (sluice.peak(batch, concurrency), bare_peak)
            halves = {
                batch: paced(sluice, peaks[batch][0]) for batch in peaks if batch in (1, 1000)
            }
            check_stored(server, sluice.history)
        largest = max(peaks)
        largest_peak = peaks[largest][0]
        without_http = pipeline_rate(
            tmp_path / "pipeline", largest, largest_peak.connections, seconds
        )
        store_alone = store_rate(tmp_path / "store", largest, seconds)

        for batch, (peak, bare_peak) in peaks.items():
            ratio = peak.eps / bare_peak.eps
            target, met = "", None
            # Issue 15's targets.
            if batch == 1:
                target, met = ">= 0.7x, >= 10k req/s", ratio >= 0.7 and peak.rps >= 10_000
            if batch == 1000:
                target, met = ">= 250k ev/s", peak.eps >= 250_000
            figures.append(
                Figure(
                    f"HTTP POST /events, {batch}-event batches",
                    peak.describe(),
                    f"bare Litestar {bare_peak.describe()}",
                    ratio,
                    target,
                    met and peak.errors == 0,
                )
            )
        figures.append(
            Figure(
                f"HTTP {largest}-event batches vs the pipeline without HTTP",
                rate(largest_peak.eps),
                f"IngestService.ingest in-process {rate(without_http)} "
                f"({largest_peak.connections} tasks)",
                largest_peak.eps / without_http,
            )
        )
        figures.append(
            Figure(
                f"pipeline without HTTP vs the store alone, {largest}-event batches",
                rate(without_http),
                f"SqliteStore.append alone {rate(store_alone)}",
                without_http / store_alone,
            )
        )
        figures += peer_figures(peaks, smoke=seconds <= 1)
        fsync_p50, fsync_p99 = fsync_ms(tmp_path) if halves else (0.0, 0.0)
        for batch, half in halves.items():
            # Issue 15's targets: p99 <= 5 ms for 1-event requests, <= 50 ms for 1000-event
            # batches, at half the peak rate.
            bound_ms = 5 if batch == 1 else 50
            figures.append(
                Figure(
                    f"HTTP {batch}-event p99 at half the peak rate",
                    f"p99 {half.p99_ms:.1f} ms (p50 {half.p50_ms:.1f}) at {half.rps:.0f} req/s "
                    f"(c={half.connections})",
                    f"peak {peaks[batch][0].rps:.0f} req/s; this disk's fsync p50 "
                    f"{fsync_p50:.1f} ms, p99 {fsync_p99:.1f} ms",
                    half.rps / peaks[batch][0].rps,
                    f"p99 <= {bound_ms} ms",
                    half.p99_ms <= bound_ms and half.errors == 0,
                )
            )
    return figures


def peer_figures(peaks: dict[int, tuple[Load, Load]], smoke: bool) -> list[Figure]:
    """Our peaks against the durable Redis peer (redis_peer.py), measured now: the largest
    batches against XADD pipelined 1000 deep, 1-event requests against one XADD per request."""
    reason = redis_peer.missing()
    if reason is not None:
        return [Figure("durable Redis peer (XADD, appendfsync always)", f"skipped: {reason}")]
    peer = redis_peer.measure(smoke)
    figures = []
    largest = max(peaks)
    if largest > 1:
        ours = peaks[largest][0]
        figures.append(
            Figure(
                f"HTTP {largest}-event batches vs the Redis peer",
                ours.describe(),
                f"redis XADD pipelined 1000, c=16: {rate(peer.pipelined, 'entries/s')}",
                ours.eps / peer.pipelined,
            )
        )
    if 1 in peaks:
        ours = peaks[1][0]
        ratio = ours.eps / peer.single
        figures.append(
            Figure(
                "HTTP 1-event requests vs the Redis peer",
                ours.describe(),
                f"redis XADD one per request, c=32: {rate(peer.single, 'entries/s')}",
                ratio,
                ">= 0.2x",
                ratio >= 0.2,
            )
        )
    return figures


def fsync_ms(directory: Path, count: int = 200) -> tuple[float, float]:
    """p50 and p99 of fsync after a 4 KiB append on this disk: every durable answer waits
    for at least one, so they bound the latency a commit can have."""
    path = directory / "fsync.probe"
    times = []
    with path.open("ab") as file:
        for _ in range(count):
            file.write(b"x" * 4096)
            file.flush()
            started = time.perf_counter()
            os.fsync(file.fileno())
            times.append((time.perf_counter() - started) * 1000)
    path.unlink()
    times.sort()
    return times[len(times) // 2], times[min(len(times) - 1, len(times) * 99 // 100)]


def check_stored(server: servers.Sluice, loads: list[Load], also_accepted: int = 0) -> None:
    """Every answered request's events are in the store (wrk counts only answered ones; a
    request cut off at the end of a run may be stored too)."""
    answered = also_accepted + sum(load.requests * load.batch for load in loads)
    stored = server.stored_events()
    if stored < answered:
        raise AssertionError(f"{answered} events were answered but only {stored} are stored")


def main(argv: list[str] | None = None) -> list[Figure]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    common_arguments(parser)
    parser.add_argument("--seconds", type=float, default=10.0, help="per wrk run")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 100, 1000])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 32, 64])
    args = parser.parse_args(argv)
    if args.smoke:
        args.seconds, args.batches, args.concurrency = 1, [1], [8]
    figures = run(args.seconds, args.batches, args.concurrency)
    finish(
        figures, args.json, "HTTP end to end (durable), against a bare Litestar ceiling", args.smoke
    )
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])
