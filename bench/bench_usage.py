"""Usage queries at scale, and what meters cost ingestion.

- A one-customer, month-by-day usage query for 3 meters over 10 million stored events of
  10,000 customers (p50 and p99 over random customers), against reading the same events
  alone (the SQL part of the query), in one run.
- Ingest throughput (in-process, Vayu batches of 100, 8 concurrent requests, group commit)
  with 10 meters defined, against none, on one store: best of 6 alternated rounds each (ABBA), per
  CPU second of the process (and, for reference, per wall second).

The 10-million-event database is built once with bulk inserts (as bench_startup does) and
cached in the temp dir (its path is printed; delete it to rebuild).

    .venv/bin/python -m bench.bench_usage [--events 10000000] [--smoke]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from bench.bench_startup import bulk_load
from bench.report import Figure, common_arguments, finish, rate
from sluice import _core
from sluice.gateway import Gateway
from sluice.metering import inline_meter
from sluice.registry import CustomerRegistry
from sluice.settings import Settings
from sluice.storage.sqlite import SqliteStore
from sluice.storage.sqlite.schema import MIGRATIONS
from sluice.usage import UsageRequest, UsageService

TENANT = "bench"
START_US = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z
SPAN_US = 90 * 86_400_000_000  # events spread over January to March
FEBRUARY = (1_769_904_000_000_000, 1_772_323_200_000_000)
REGIONS = ("eu-west-1", "us-east-1", "ap-south-1")
METERS = (
    {"key": "calls", "eventName": "api_call", "aggregation": {"operator": "Count"}},
    {
        "key": "ms",
        "eventName": "api_call",
        "aggregation": {"operator": "Sum", "field": "durationMs"},
    },
    {
        "key": "eu_peak",
        "eventName": "upload",
        "aggregation": {"operator": "Max", "field": "bytes"},
        "filters": [{"field": "region", "operator": "eq", "value": "eu-west-1"}],
    },
)


def _rows(count: int, customers: int) -> Iterator[tuple[object, ...]]:
    step = SPAN_US // count
    for i in range(count):
        id_ = f"e{i:010d}"
        name = "upload" if i % 10 < 3 else "api_call"
        key = _core.idempotency_key(TENANT, name, id_)
        payload = json.dumps(
            {"region": REGIONS[i % 3], "durationMs": i % 5000, "bytes": (i * 7919) % 100_000}
        )
        timestamp = START_US + i * step
        customer = f"customer_{i % customers:05d}"
        offset = i + 1  # the tenant's own log, gap-free
        yield (
            offset,
            TENANT,
            id_,
            "vayu",
            name,
            customer,
            timestamp,
            None,
            payload,
            timestamp,
            key,
            key,
        )


def stored_events(count: int, customers: int) -> Path:
    schema = hashlib.sha256("".join(MIGRATIONS).encode()).hexdigest()[:12]
    cached = Path(tempfile.gettempdir()) / f"sluice-bench-usage-{count}-{customers}-{schema}"
    if (cached / "complete").exists():
        return cached / "sluice.db"
    shutil.rmtree(cached, ignore_errors=True)
    cached.mkdir(parents=True)
    started = time.monotonic()

    async def create_schema() -> None:
        store = SqliteStore(cached / "sluice.db")
        await store.open()
        await store.close()

    asyncio.run(create_schema())
    conn = bulk_load(cached / "sluice.db", _rows(count, customers), count)
    conn.execute("ANALYZE")
    conn.close()
    (cached / "complete").write_text(f"{count} events in {time.monotonic() - started:.0f} s\n")
    print(f"(built {cached} in {time.monotonic() - started:.0f} s)", file=sys.stderr)
    return cached / "sluice.db"


# The same three meters as one SQL statement (SQLite's JSON functions, GROUP BY day), reading
# the events through the usage index as the store does (usage_index.py; the bench's store is
# fully projected): the engine a pushdown into the store would be, measured against the one
# Sluice uses.
PUSHDOWN = """
    SELECT e.timestamp / 86400000000 AS day,
           sum(e.name = 'api_call'),
           sum(CASE WHEN e.name = 'api_call' THEN json_extract(e.payload, '$.durationMs') END),
           max(CASE WHEN e.name = 'upload' AND json_extract(e.payload, '$.region') = 'eu-west-1'
                    THEN json_extract(e.payload, '$.bytes') END)
    FROM usage_index AS u CROSS JOIN events AS e
    WHERE u.tenant = ? AND u.customer = ? AND u.name IN ('api_call', 'upload')
      AND u.timestamp >= ? AND u.timestamp < ? AND e.seq = u.seq AND e.deleted_at IS NULL
    GROUP BY day
"""


def pushdown_latencies(db: Path, customers: int, queries: int) -> list[float]:
    conn = sqlite3.connect(db)
    rng = random.Random(17)
    seconds = []
    for n in range(queries + 20):
        customer = f"customer_{rng.randrange(customers):05d}"
        started = time.perf_counter()
        conn.execute(PUSHDOWN, (TENANT, customer, *FEBRUARY)).fetchall()
        if n >= 20:
            seconds.append(time.perf_counter() - started)
    conn.close()
    return seconds


async def query_latencies(
    db: Path, customers: int, queries: int
) -> tuple[list[float], list[float]]:
    """(seconds per usage query, seconds per read of the same events alone)."""
    store = SqliteStore(db)
    await store.open()
    try:
        usage = UsageService(store, store, CustomerRegistry(store))
        meters = tuple(inline_meter(meter, "meters") for meter in METERS)
        rng = random.Random(13)
        total: list[float] = []
        read: list[float] = []
        for n in range(queries + 20):
            customer = f"customer_{rng.randrange(customers):05d}"
            request = UsageRequest(customer, None, meters, (), "day", *FEBRUARY, fill_dates=True)
            started = time.perf_counter()
            points = await usage.query(TENANT, request)
            middle = time.perf_counter()
            await store.usage_events(TENANT, [customer], ["api_call", "upload"], *FEBRUARY)
            done = time.perf_counter()
            if len(points) != 28:
                raise AssertionError(f"{len(points)} days in February")
            if n >= 20:  # the first queries warm the page cache
                total.append(middle - started)
                read.append(done - middle)
        return total, read
    finally:
        await store.close()


def _body(round_: int, batch: int) -> bytes:
    events = [
        {
            "name": "api_call" if i % 2 else "upload",
            "timestamp": "2026-02-01T00:00:00Z",
            "customerAlias": f"customer_{i % 100}",
            "ref": f"r{round_}-{i}",
            "data": {"region": REGIONS[i % 3], "durationMs": i, "bytes": i * 10},
        }
        for i in range(batch)
    ]
    return json.dumps({"events": events}).encode()


def _meter(i: int) -> dict[str, object]:
    region = {"field": "region", "operator": "Equals", "value": "eu-west-1"}
    return {
        "name": f"meter {i}",
        "eventName": "api_call" if i % 2 else "upload",
        "aggregationMethod": {"operator": "Sum", "field": "durationMs"},
        "filter": {"conditions": [{"criterions": [region]}]},
    }


async def _ingest_for(gateway: Gateway, seconds: float, counter: list[int]) -> tuple[float, float]:
    """(events per CPU second of this process, events per wall second) through IngestService,
    8 concurrent 100-event batches, for `seconds`."""
    stored = 0
    deadline = time.monotonic() + seconds
    wall, cpu = time.monotonic(), time.process_time()

    async def worker() -> None:
        nonlocal stored
        while time.monotonic() < deadline:
            counter[0] += 1
            body = _body(counter[0], 100)
            outcome = await gateway.ingest.ingest(gateway.dialects.vayu, "t", body)
            stored += len(outcome.accepted)

    await asyncio.gather(*(worker() for _ in range(8)))
    return stored / (time.process_time() - cpu), stored / (time.monotonic() - wall)


async def ingest_rates(work: Path, seconds: float, rounds: int) -> dict[int, tuple[float, float]]:
    """Best (CPU, wall) rates with 0 and with 10 meters defined: one store, the two settings
    alternated round by round, so both see the same store size and the same machine. CPU
    time of this process (the writer thread included) is what meters could cost; wall time
    also counts the disk's fsyncs and other processes on the machine."""
    gateway = Gateway(SqliteStore(work / "sluice.db"), Settings(data_dir=work))
    await gateway.start()
    counter = [0]
    best: dict[int, tuple[float, float]] = {0: (0.0, 0.0), 10: (0.0, 0.0)}
    try:
        for round_ in range(rounds):
            # ABBA order: neither setting always runs second, on the larger store.
            for meters in (0, 10) if round_ % 2 == 0 else (10, 0):
                page = await gateway.metering.meters("t", None, 100)
                for meter in page.items:
                    await gateway.metering.delete_meter("t", meter.id)
                for i in range(meters):
                    await gateway.metering.create_meter("t", _meter(i))
                cpu, wall = await _ingest_for(gateway, seconds, counter)
                best[meters] = (max(best[meters][0], cpu), max(best[meters][1], wall))
    finally:
        await gateway.stop()
    return best


def run(
    events: int, customers: int, queries: int, ingest_seconds: float, rounds: int
) -> list[Figure]:
    db = stored_events(events, customers)
    total, read = asyncio.run(query_latencies(db, customers, queries))
    p50, p99 = statistics.median(total), statistics.quantiles(total, n=100)[98]
    read_p50 = statistics.median(read)
    pushdown_p50 = statistics.median(pushdown_latencies(db, customers, queries))
    with tempfile.TemporaryDirectory(prefix="sluice-bench-usage-") as tmp:
        rates = asyncio.run(ingest_rates(Path(tmp), ingest_seconds, rounds))
    (none, none_wall), (metered, metered_wall) = rates[0], rates[10]
    scale = f"{events:,} events, {customers:,} customers"
    return [
        Figure(
            f"usage query p50, 1 customer x 1 month by day, 3 meters ({scale})",
            f"{p50 * 1000:.2f} ms",
            f"reading its events alone p50 {read_p50 * 1000:.2f} ms",
            p50 / read_p50,
            "<= 20 ms",
            p50 <= 0.020,
        ),
        Figure(
            f"usage query p99 ({queries} random customers)",
            f"{p99 * 1000:.2f} ms",
            f"p50 {p50 * 1000:.2f} ms",
            p99 / p50,
            "<= 100 ms",
            p99 <= 0.100,
        ),
        Figure(
            "usage query p50 against the same 3 meters as one SQL GROUP BY (json_extract)",
            f"{p50 * 1000:.2f} ms",
            f"SQL pushdown p50 {pushdown_p50 * 1000:.2f} ms",
            p50 / pushdown_p50,
        ),
        Figure(
            f"ingest with 10 meters defined, per CPU second (best of {rounds} alternated)",
            rate(metered),
            f"no meters {rate(none)}",
            metered / none,
            ">= 0.9x",
            metered / none >= 0.9,
        ),
        Figure(
            "the same, per wall second (fsyncs and the machine's other load included)",
            rate(metered_wall),
            f"no meters {rate(none_wall)}",
            metered_wall / none_wall,
        ),
    ]


def main(argv: list[str] | None = None) -> list[Figure]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    common_arguments(parser)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=500)
    args = parser.parse_args(argv)
    if args.smoke:
        figures = run(20_000, 100, 50, 0.5, 1)
    else:
        figures = run(args.events, args.customers, args.queries, 4.0, 6)
    finish(figures, args.json, "Usage queries and metered ingest", args.smoke)
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])
