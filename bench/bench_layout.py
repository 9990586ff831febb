"""Where the store's ceiling is: the same 1000-event durable commits (WAL, synchronous=FULL,
one transaction each, rows parsed by the core beforehand) into the events table as the store
lays it out, against layouts that do less per event, in one run on this machine:

- `store`: the store's own schema (every migration): the row and its indexes;
- `rows only`: the same table with no secondary index (what any per-event row costs here);
- `one row per request`: the request's events as one row (a log: a blob of the payloads),
  the per-event rows left for later;
- `log, rows projected after`: the log's row per request, and the store's per-event rows
  built from it later, 4,096 events at a time in the commit of the request that reaches them
  (the log direction of issue 15 with its projection paid on the same writer, as a sustained
  rate must pay it).

Each figure is events/s and CPU microseconds per event of this process (SQLite and the
Python that binds the rows), the best of the rounds, alternated. What it tells: how far
per-event rows in SQLite can go on one writer thread, and what a log would leave.

    .venv/bin/python -m bench.bench_layout [--seconds 3] [--rounds 2] [--smoke]
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench import corpus
from bench.bench_store import parsed_batches
from bench.report import Figure, common_arguments, finish, rate
from sluice.model import EventRow
from sluice.storage.sqlite.connection import connect
from sluice.storage.sqlite.schema import migrate
from sluice.storage.sqlite.writer import INSERT_EVENT, insert_params

TENANT = "bench"


def _store(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN")
    migrate(conn)
    conn.execute("COMMIT")


def _rows_only(conn: sqlite3.Connection) -> None:
    _store(conn)
    indexes = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' "
        "AND sql IS NOT NULL"
    ).fetchall()
    for (name,) in indexes:
        conn.execute(f"DROP INDEX {name}")
    # The UNIQUE constraint's own index cannot be dropped: rebuild the table without it.
    conn.execute("CREATE TABLE plain AS SELECT * FROM events WHERE 0")
    conn.execute("DROP TABLE events")
    conn.execute("ALTER TABLE plain RENAME TO events")


def _log(conn: sqlite3.Connection) -> None:
    conn.execute(
        "CREATE TABLE requests (seq INTEGER PRIMARY KEY, tenant TEXT NOT NULL, "
        "first_offset INTEGER NOT NULL, events INTEGER NOT NULL, body BLOB NOT NULL) STRICT"
    )


# The store's insert without its conflict clause, which needs the unique index.
PLAIN_INSERT = INSERT_EVENT.split("ON CONFLICT")[0]


def _insert_rows(
    conn: sqlite3.Connection, offset: int, rows: list[EventRow], sql: str = INSERT_EVENT
) -> None:
    conn.executemany(sql, insert_params(TENANT, "vayu", corpus.NOW_US, offset, rows))


def _insert_log(conn: sqlite3.Connection, offset: int, rows: list[EventRow]) -> None:
    body = "\n".join(r.payload for r in rows).encode()
    conn.execute(
        "INSERT INTO requests (tenant, first_offset, events, body) VALUES (?, ?, ?, ?)",
        (TENANT, offset, len(rows), body),
    )


def _log_and_store(conn: sqlite3.Connection) -> None:
    _store(conn)
    _log(conn)


PROJECT_EVERY = 4096


class _Projector:
    """The log direction's later half: events logged since the last projection, written as the
    store's per-event rows (its INSERT, every index) once PROJECT_EVERY of them wait."""

    def __init__(self) -> None:
        self.waiting: list[tuple[int, list[EventRow]]] = []
        self.count = 0

    def __call__(self, conn: sqlite3.Connection, offset: int, rows: list[EventRow]) -> None:
        _insert_log(conn, offset, rows)
        self.waiting.append((offset, rows))
        self.count += len(rows)
        if self.count >= PROJECT_EVERY:
            for start, logged in self.waiting:
                _insert_rows(conn, start, logged)
            self.waiting, self.count = [], 0


def _plain_rows(conn: sqlite3.Connection, offset: int, rows: list[EventRow]) -> None:
    _insert_rows(conn, offset, rows, PLAIN_INSERT)


# Each layout: how to create its tables, and a maker of its insert (fresh for each file: the
# projector keeps what waits for it).
LAYOUTS: dict[
    str, tuple[Callable[[sqlite3.Connection], None], Callable[[], Callable[..., None]]]
] = {
    "store": (_store, lambda: _insert_rows),
    "rows only": (_rows_only, lambda: _plain_rows),
    "one row per request": (_log, lambda: _insert_log),
    "log, rows projected after": (_log_and_store, _Projector),
}


def measure(layout: str, work: list[list[EventRow]], seconds: float) -> tuple[float, float]:
    """(events/s, CPU µs per event) of durable 1000-event commits into a fresh file."""
    create, make_insert = LAYOUTS[layout]
    insert = make_insert()
    with tempfile.TemporaryDirectory(prefix="sluice-bench-layout-", dir=Path.cwd()) as tmp:
        conn = connect(Path(tmp) / "x.db", 2000)
        create(conn)
        offset, events = 1, 0
        started, cpu = time.monotonic(), time.process_time()
        for rows in work:
            conn.execute("BEGIN IMMEDIATE")
            insert(conn, offset, rows)
            conn.execute("COMMIT")
            offset += len(rows)
            events += len(rows)
            if time.monotonic() - started > seconds:
                break
        wall, cpu = time.monotonic() - started, time.process_time() - cpu
        conn.close()
    return events / wall, cpu / events * 1e6


def run(seconds: float, rounds: int) -> list[Figure]:
    work = parsed_batches(max(3, int(seconds * 150)), TENANT, "l")
    best: dict[str, tuple[float, float]] = {}
    for n in range(rounds):
        order = list(LAYOUTS) if n % 2 == 0 else list(reversed(LAYOUTS))
        for layout in order:
            eps, us = measure(layout, work, seconds)
            if layout not in best or eps > best[layout][0]:
                best[layout] = (eps, us)
    store_eps, store_us = best["store"]
    return [
        Figure(
            f"SQLite 1000-event commits, layout: {layout}",
            f"{rate(eps)} ({us:.2f} µs CPU/event)",
            f"the store's layout {rate(store_eps)} ({store_us:.2f} µs CPU/event)",
            eps / store_eps,
        )
        for layout, (eps, us) in best.items()
        if layout != "store"
    ]


def main(argv: list[str] | None = None) -> list[Figure]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    common_arguments(parser)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    figures = run(0.2, 1) if args.smoke else run(args.seconds, args.rounds * 2)
    finish(figures, args.json, "Store layouts: what per-event rows cost", args.smoke)
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])
