"""A real peer for the durable-ingest figures: `redis-server` with its append-only file synced
on every write (`appendfsync always`: a reply only after fsync, group-committed like ours),
loaded by `redis-benchmark` sending XADD of 200-byte entries. It does less per entry than
Sluice (no HTTP, no JSON validation, no dedupe, no indexes), and it is what a user could put
in front of a queue instead, so every run shows how far we are from it.

.venv/bin/python -m bench.redis_peer [--smoke]
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ENTRY = "x" * 200


@dataclass(frozen=True)
class PeerRates:
    pipelined: float  # entries/s with 1000 XADDs in flight per connection (c=16)
    single: float  # entries/s with one XADD per request and reply (c=32)


def missing() -> str | None:
    """Why the peer cannot be measured here, or None."""
    for tool in ("redis-server", "redis-benchmark"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (Debian: apt-get install redis-server)"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def durable_redis(directory: Path) -> Iterator[int]:
    """A redis-server of our own (not the machine's) whose every write is fsynced before it
    replies; its port."""
    port = _free_port()
    proc = subprocess.Popen(
        [
            "redis-server",
            "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory),
            "--appendonly", "yes", "--appendfsync", "always", "--save", "",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _xadd_rate(port: int, clients: int, pipeline: int, requests: int) -> float:
    out = subprocess.run(
        [
            "redis-benchmark", "-p", str(port), "-c", str(clients), "-n", str(requests),
            "-P", str(pipeline), "--csv", "XADD", "bench", "*", "f", ENTRY,
        ],
        capture_output=True, text=True, check=True, timeout=300,
    ).stdout  # fmt: skip
    # --csv: a header line, then `"XADD ...","<requests per second>",...`
    last = [line for line in out.splitlines() if line.startswith('"XADD')][-1]
    return float(last.split('","')[1].strip('"'))


def measure(smoke: bool = False) -> PeerRates:
    """Both rates, measured now on this machine."""
    with (
        tempfile.TemporaryDirectory(prefix="sluice-bench-redis-") as tmp,
        durable_redis(Path(tmp)) as port,
    ):
        pipelined = _xadd_rate(port, 16, 1000, 20_000 if smoke else 4_000_000)
        single = _xadd_rate(port, 32, 1, 2_000 if smoke else 400_000)
    return PeerRates(pipelined, single)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args(argv)
    reason = missing()
    if reason is not None:
        print(f"skipped: {reason}")
        return
    rates = measure(args.smoke)
    print(f"redis XADD pipelined 1000 (c=16): {rates.pipelined:,.0f} entries/s")
    print(f"redis XADD one per request (c=32): {rates.single:,.0f} entries/s")


if __name__ == "__main__":
    main()
