"""Memory and start-up: resident bytes per key of `_core.IdempotencyIndex` at 10 million keys
(against a Python set of the same keys, same run), and the time from starting `sluice serve`
to `/readyz` answering 200 with 10 million stored events (against an empty store).

The 10-million-event database is built once with bulk inserts and cached in the temp dir
(its path is printed; delete it to rebuild).

    .venv/bin/python -m bench.bench_startup [--keys 10000000] [--smoke]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from bench import servers
from bench.report import Figure, common_arguments, finish
from sluice import _core
from sluice.api_keys import ApiKeys
from sluice.storage.sqlite import SqliteStore, usage_index
from sluice.storage.sqlite.schema import MIGRATIONS
from sluice.storage.sqlite.writer import INSERT_EVENT

TENANT = "bench"
# A representative stored payload (the Vayu corpus's `data`, compact).
PAYLOAD = '{"region":"eu-west-1","status":"ok","durationMs":1234,"path":"/v1/items/123456"}'
CHUNK = 200_000

# Runs in a fresh interpreter, so nothing else this process allocated counts.
_MEASURE_INDEX = """
import random, sys
from sluice import _core
from bench.bench_startup import rss_bytes
keys, chunk, kind = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
rng = random.Random(7)
before = rss_bytes()
index = _core.IdempotencyIndex() if kind == "core" else set()
for start in range(0, keys, chunk):
    blob = rng.randbytes(16 * min(chunk, keys - start))
    if kind == "core":
        index.load(blob)
    else:
        index.update(blob[i : i + 16] for i in range(0, len(blob), 16))
    del blob
print(rss_bytes() - before, len(index))
"""


def rss_bytes() -> int:
    """This process's resident set size."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def index_bytes_per_key(keys: int, kind: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE_INDEX, str(keys), str(CHUNK), kind],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    grown, held = int(out[0]), int(out[1])
    if held != keys:
        raise AssertionError(f"{kind} index holds {held} keys, expected {keys}")
    return grown / keys


def _rows(count: int) -> Iterator[tuple[object, ...]]:
    base_us = 1_714_500_000_000_000
    for i in range(count):
        id_ = f"e{i:010d}"
        key = _core.idempotency_key(TENANT, "api_call", id_)
        yield (
            i + 1,  # the tenant's offset
            TENANT,
            id_,
            "vayu",
            "api_call",
            f"customer_{i % 100_000:05d}",
            base_us + i * 1000,
            None,
            PAYLOAD,
            base_us + i * 1000,
            key,
            key,  # stands in for the content hash: nothing reads it here
        )


def _schema_version() -> str:
    return hashlib.sha256("".join(MIGRATIONS).encode()).hexdigest()[:12]


def bulk_load(db: Path, rows: Iterator[tuple[object, ...]], count: int) -> sqlite3.Connection:
    """Insert `count` rows (INSERT_EVENT's columns) into a store's file, fast; the connection,
    back in WAL mode, for the caller's checks.

    No journal, no fsync, secondary indexes rebuilt once at the end (sorting is far cheaper
    than 10M random inserts into each B-tree)."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode = OFF")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -1000000")
    indexes = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' "
        "AND sql IS NOT NULL"
    ).fetchall()
    for name, _sql in indexes:
        conn.execute(f"DROP INDEX {name}")
    for _ in range(0, count, CHUNK):
        conn.execute("BEGIN")
        conn.executemany(INSERT_EVENT, (row for _, row in zip(range(CHUNK), rows, strict=False)))
        conn.execute("COMMIT")
    for _name, sql in indexes:
        conn.execute(sql)
    # Projected, as the writer would have done while these events arrived (usage_index.py).
    conn.execute("BEGIN")
    usage_index.project(conn, limit=count)
    conn.execute("COMMIT")
    conn.execute("PRAGMA journal_mode = WAL")
    return conn


def stored_events_dir(count: int) -> Path:
    """A data dir holding `count` events and one API key, built once and kept in the temp dir."""
    cached = Path(tempfile.gettempdir()) / f"sluice-bench-{count}-events-{_schema_version()}"
    if (cached / "complete").exists():
        return cached
    shutil.rmtree(cached, ignore_errors=True)
    cached.mkdir(parents=True)
    started = time.monotonic()

    async def create_schema_and_key() -> None:
        store = SqliteStore(cached / "sluice.db")
        await store.open()
        try:
            await ApiKeys(store).create(TENANT)
        finally:
            await store.close()

    asyncio.run(create_schema_and_key())
    conn = bulk_load(cached / "sluice.db", _rows(count), count)
    stored = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    conn.close()
    if stored != count:
        raise AssertionError(f"built {stored} events, expected {count}")
    (cached / "complete").write_text(f"{count} events in {time.monotonic() - started:.0f} s\n")
    print(f"(built {cached} in {time.monotonic() - started:.0f} s)", file=sys.stderr)
    return cached


def seconds_to_ready(data_dir: Path, work_dir: Path) -> tuple[float, int]:
    """(seconds from spawning `sluice serve` on data_dir to /readyz answering 200, its RSS
    then). The data dir already has a key, so serve adds nothing to it."""
    log = work_dir / f"{data_dir.name}.log"
    process = servers.spawn(
        servers.serve_command(data_dir),
        log,
        ("sluice: http listening on",),
        servers.BENCH_ENV,
    )
    try:
        servers.wait_ready(process.lines["sluice: http listening on"])
        ready = time.monotonic() - process.started_at
        status = Path(f"/proc/{process.proc.pid}/status").read_text()
        rss = next(int(line.split()[1]) * 1024 for line in status.splitlines() if "VmRSS" in line)
        return ready, rss
    finally:
        process.stop()


def best_start(data_dir: Path, work_dir: Path) -> tuple[float, int]:
    starts = [seconds_to_ready(data_dir, work_dir) for _ in range(2)]
    print(f"(start to ready on {data_dir}: {[round(s, 2) for s, _ in starts]} s)", file=sys.stderr)
    return min(starts)


def run(keys: int, events: int) -> list[Figure]:
    core = index_bytes_per_key(keys, "core")
    python = index_bytes_per_key(keys, "python")
    figures = [
        Figure(
            f"idempotency index, resident bytes/key at {keys:,} keys",
            f"{core:.1f} B/key",
            f"Python set of bytes {python:.1f} B/key",
            core / python,
            "<= 40 B/key",
            core <= 40,
        )
    ]
    full = stored_events_dir(events)
    with tempfile.TemporaryDirectory(prefix="sluice-bench-startup-") as tmp:
        work = Path(tmp)
        empty = work / "empty"
        empty.mkdir()
        seconds_to_ready(empty, work)  # first start: creates the schema and a key
        # Best of two starts each: the first may read a cold file from disk, which measures
        # the disk rather than Sluice (both runs are printed).
        empty_ready, empty_rss = best_start(empty, work)
        full_ready, full_rss = best_start(full, work)
    figures.append(
        Figure(
            f"start to ready with {events:,} stored events (best of 2)",
            f"{full_ready:.2f} s (RSS {full_rss / 2**20:.0f} MiB)",
            f"empty store {empty_ready:.2f} s (RSS {empty_rss / 2**20:.0f} MiB)",
            full_ready / empty_ready,
            "<= 10 s",
            full_ready <= 10,
        )
    )
    return figures


def main(argv: list[str] | None = None) -> list[Figure]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    common_arguments(parser)
    parser.add_argument("--keys", type=int, default=10_000_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    args = parser.parse_args(argv)
    figures = run(100_000, 20_000) if args.smoke else run(args.keys, args.events)
    finish(figures, args.json, "Memory and start-up", args.smoke)
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])
