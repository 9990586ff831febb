"""The SQLite store alone, as it grows: 1000-event appends (durable, FULL) into a fresh store
and into one that already holds a million events, against the same store laid out as before
the usage projection (an index on events (tenant, customer, name, timestamp) that every append
maintains, and no projection), in one run, alternated round by round on fresh copies.

Also the cost on the read side: a one-customer usage read right after a burst of appends (the
unprojected tail scanned) against the same read once everything is projected.

    .venv/bin/python -m bench.bench_store [--events 1000000] [--seconds 4] [--smoke]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from bench import corpus
from bench.bench_startup import bulk_load
from bench.report import Figure, common_arguments, finish, rate
from sluice import _core
from sluice.model import EventRow
from sluice.settings import Settings
from sluice.storage.sqlite import SqliteStore, usage_index
from sluice.storage.sqlite.writer import INSERT_EVENT, insert_params

TENANT = "bench"
CUSTOMERS = 1000  # the corpus's batches name about this many customers
INLINE_INDEX = "CREATE INDEX events_by_customer ON events (tenant, customer, name, timestamp)"


def _prefill_rows(count: int) -> Iterator[tuple[object, ...]]:
    """Stored events of CUSTOMERS customers, in INSERT_EVENT's columns."""
    for i in range(count):
        id_ = f"old{i:010d}"
        key = _core.idempotency_key(TENANT, "api_call", id_)
        customer = f"customer_{i % CUSTOMERS:05d}"
        yield (
            i + 1,
            TENANT,
            id_,
            "vayu",
            "api_call",
            customer,
            corpus.NOW_US,
            None,
            "{}",
            1,
            key,
            key,
        )


def prefilled(directory: Path, count: int) -> Path:
    """A store file holding `count` events, projected (as if it had been running)."""
    path = directory / "prefilled.db"

    async def create_schema() -> None:
        store = SqliteStore(path)
        await store.open()
        await store.close()

    asyncio.run(create_schema())
    if count:
        bulk_load(path, _prefill_rows(count), count).close()
    return path


def parsed_batches(
    count: int, tenant: str = TENANT, tag: str = "n", size: int = 1000
) -> list[list[EventRow]]:
    """`count` Vayu batches of `size` events parsed by the core, refs fresh per batch (the
    corpus template joined with `tag` and the batch's number): rows ready for the store."""
    parts = corpus.templated_vayu_batch(size)
    limits = Settings().limits()
    return [
        _core.parse_vayu_batch(
            f"{tag}{n:06d}".encode().join(parts), tenant, corpus.NOW_US, limits
        ).events
        for n in range(count)
    ]


async def _append_rate(
    path: Path, work: list[list[EventRow]], seconds: float, inline: bool
) -> float:
    store = SqliteStore(path)
    await store.open()
    if inline:
        # The layout before: the writer keeps no projection; the index above does the work.
        store._writer.projection = None
        await store._writer.call(lambda conn: conn.execute(INLINE_INDEX))
    stored = 0
    try:
        started = time.monotonic()
        for rows in work:
            stored += sum(o is not None for o in await store.append(TENANT, "vayu", 1, rows))
            if time.monotonic() - started > seconds:
                break
        return stored / (time.monotonic() - started)
    finally:
        await store.close()


def append_rates(
    seed: Path, work: list[list[EventRow]], seconds: float, rounds: int
) -> tuple[float, float]:
    """(best projected, best inline) events/s over alternated rounds, each on a fresh copy."""
    best = {False: 0.0, True: 0.0}
    for n in range(rounds):
        for inline in (False, True) if n % 2 == 0 else (True, False):
            with tempfile.TemporaryDirectory(dir=seed.parent) as tmp:
                copy = Path(tmp) / "sluice.db"
                shutil.copy(seed, copy)
                eps = asyncio.run(_append_rate(copy, work, seconds, inline))
            best[inline] = max(best[inline], eps)
    return best[False], best[True]


def usage_reads(seed: Path, work: list[list[EventRow]], reads: int) -> tuple[float, float]:
    """(p50 with one batch not projected yet, p50 with everything projected) of a one-customer
    usage read, as the store makes it (usage_index.usage_events), on a copy of the seed."""
    with tempfile.TemporaryDirectory(dir=seed.parent) as tmp:
        path = Path(tmp) / "sluice.db"
        shutil.copy(seed, path)
        conn = sqlite3.connect(path, isolation_level=None)
        offset = conn.execute("SELECT coalesce(max(log_offset), 0) FROM events").fetchone()[0]
        conn.execute("BEGIN")
        conn.executemany(INSERT_EVENT, insert_params(TENANT, "vayu", 1, offset + 1, work[0]))
        conn.execute("COMMIT")

        def p50() -> float:
            seconds = []
            for n in range(reads):
                started = time.perf_counter()
                conn.execute("BEGIN")
                usage_index.usage_events(
                    conn, TENANT, [f"customer_{n % CUSTOMERS:05d}"], ["api_call"], None, None
                )
                conn.execute("COMMIT")
                seconds.append(time.perf_counter() - started)
            return statistics.median(seconds)

        with_tail = p50()
        conn.execute("BEGIN")
        usage_index.project(conn, limit=len(work[0]) * 2)
        conn.execute("COMMIT")
        projected = p50()
        conn.close()
    return with_tail, projected


def run(events: int, seconds: float, rounds: int, reads: int) -> list[Figure]:
    work = parsed_batches(max(4, int(seconds * 100)))
    figures = []
    with tempfile.TemporaryDirectory(prefix="sluice-bench-store-", dir=Path.cwd()) as tmp:
        for size in (0, events):
            directory = Path(tmp) / str(size)
            directory.mkdir()
            seed = prefilled(directory, size)
            projected, inline = append_rates(seed, work, seconds, rounds)
            figures.append(
                Figure(
                    f"SQLite store alone, 1000-event appends, store of {size:,} events",
                    rate(projected),
                    f"{rate(inline)} (usage index inline, no projection)",
                    projected / inline,
                )
            )
            if size == events:
                with_tail, projected_p50 = usage_reads(seed, work, reads)
                figures.append(
                    Figure(
                        f"usage read p50, 1 customer, {size:,} events, 1000 not yet projected",
                        f"{with_tail * 1000:.2f} ms",
                        f"{projected_p50 * 1000:.2f} ms (all projected)",
                        with_tail / projected_p50,
                    )
                )
    return figures


def main(argv: list[str] | None = None) -> list[Figure]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    common_arguments(parser)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    if args.smoke:
        figures = run(5_000, 0.3, 1, 20)
    else:
        figures = run(args.events, args.seconds, args.rounds * 2, 200)
    finish(figures, args.json, "The SQLite store as it grows", args.smoke)
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])
