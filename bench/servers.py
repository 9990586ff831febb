"""Server processes for the end-to-end benchmarks: the real `sluice serve`, and the bare apps
that give each transport's ceiling on the same server stack."""

from __future__ import annotations

import contextlib
import os
import queue
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.report import ROOT

# What the benchmarks change from the defaults, and why: no per-key rate limit (the load is
# the point), and room in the store queue for 64 concurrent requests of one tenant.
BENCH_ENV = {
    "SLUICE_RATE_LIMIT": "0",
    "SLUICE_STORE_QUEUE_LIMIT": "256",
}


@dataclass
class Process:
    """A child process that prints `key value` lines we wait for before using it."""

    proc: subprocess.Popen[str]
    log: Path
    lines: dict[str, str] = field(default_factory=dict)
    started_at: float = 0.0

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def spawn(
    command: list[str], log: Path, wanted: tuple[str, ...], env: dict[str, str] | None = None
) -> Process:
    """Start `command` and read its stdout until a line starting with each of `wanted` came."""
    started_at = time.monotonic()
    proc = subprocess.Popen(
        command,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=log.open("ab"),
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    process = Process(proc, log, started_at=started_at)
    deadline = time.monotonic() + 300
    previous = ""
    while any(w not in process.lines for w in wanted):
        line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        if line is None:
            raise RuntimeError(f"{command[:4]} exited early; see {log}")
        line = line.strip()
        for w in wanted:
            if line.startswith(w):
                process.lines[w] = line[len(w) :].strip()
        if previous.startswith("sluice: created tenant"):
            process.lines["key"] = line
        previous = line
    return process


@dataclass
class Sluice:
    """A real `sluice serve` on OS-chosen loopback ports."""

    process: Process
    data_dir: Path

    @property
    def http_url(self) -> str:
        return self.process.lines["sluice: http listening on"]

    @property
    def grpc_target(self) -> str:
        return self.process.lines["sluice: grpc listening on"]

    @property
    def key(self) -> str:
        return self.process.lines["key"]

    def stored_events(self) -> int:
        conn = sqlite3.connect(self.data_dir / "sluice.db")
        try:
            return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
        finally:
            conn.close()


# The HTTP servers Sluice can be measured on: uvicorn is what `sluice serve` runs; granian
# runs the same process with granian in uvicorn's place (bench/granian_serve.py).
HTTP_SERVERS = ("uvicorn", "granian")


def serve_command(data_dir: Path, http_server: str = "uvicorn") -> list[str]:
    """`sluice serve` on OS-chosen loopback ports, over data_dir."""
    ports = ["--http-port", "0", "--grpc-port", "0"]
    module = {"uvicorn": "sluice", "granian": "bench.granian_serve"}[http_server]
    return [sys.executable, "-m", module, "serve", *ports, "--data-dir", str(data_dir)]


@contextlib.contextmanager
def sluice(
    data_dir: Path, env: dict[str, str] | None = None, http_server: str = "uvicorn"
) -> Iterator[Sluice]:
    """`python -m sluice serve` with BENCH_ENV (and `env`); needs an empty data_dir, so it
    prints the bootstrap key. http_server: one of HTTP_SERVERS."""
    data_dir.mkdir(parents=True, exist_ok=True)
    process = spawn(
        serve_command(data_dir, http_server),
        data_dir.parent / f"{data_dir.name}.log",
        ("sluice: http listening on", "sluice: grpc listening on"),
        {**BENCH_ENV, **(env or {})},
    )
    try:
        yield Sluice(process, data_dir)
    finally:
        process.stop()


@contextlib.contextmanager
def bare(module: str, log: Path, args: tuple[str, ...] = ()) -> Iterator[str]:
    """A bare app (`python -m bench.<module> <args>`) that prints `listening on <address>`."""
    command = [sys.executable, "-m", f"bench.{module}", *args]
    process = spawn(command, log, ("listening on",))
    try:
        yield process.lines["listening on"]
    finally:
        process.stop()


def wait_ready(url: str, timeout: float = 120.0) -> None:
    """Poll GET {url}/readyz until it answers 200."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} not ready within {timeout} s")
        time.sleep(0.01)
