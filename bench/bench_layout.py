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
  rate must pay it);
- `store, rows bound in Rust`: the store's layout and INSERT, the same rows, committed by a
  Rust program (bench/sqlite_writer, rusqlite over the same system libsqlite3) instead of
  Python's `sqlite3`: what a writer in Rust would save (issue 15's "rows that never become
  Python objects"), measured over the same rows as the Python store's own figure.

Each figure is events/s and CPU microseconds per event of this process (SQLite and the
Python that binds the rows), the best of the rounds, alternated. What it tells: how far
per-event rows in SQLite can go on one writer thread, and what a log would leave.

    .venv/bin/python -m bench.bench_layout [--seconds 3] [--rounds 2] [--smoke]
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench import corpus
from bench.bench_store import parsed_batches
from bench.report import ROOT, Figure, common_arguments, finish, rate
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


WRITER = ROOT / "bench" / "sqlite_writer"
WRITER_BINARY = WRITER / "target" / "release" / "sluice-bench-sqlite-writer"


def rust_writer_missing() -> str | None:
    """Build the Rust writer (cargo, the system's libsqlite3); why it cannot run, or None."""
    if shutil.which("cargo") is None:
        return "cargo is not installed"
    build = subprocess.run(
        ["cargo", "build", "--release", "--quiet", "--manifest-path", str(WRITER / "Cargo.toml")],
        capture_output=True,
        text=True,
    )
    if build.returncode != 0:
        last = (build.stderr.strip().splitlines() or ["no output"])[-1]
        return f"bench/sqlite_writer did not build (libsqlite3-dev missing?): {last}"
    return None


def _tsv(params: tuple[object, ...]) -> str:
    """One row of INSERT_EVENT's parameters as the Rust writer reads it."""
    *text, key, content = params
    cells = ["" if cell is None else str(cell) for cell in text]
    assert not any("\t" in cell or "\n" in cell for cell in cells)  # compact JSON escapes both
    assert isinstance(key, bytes) and isinstance(content, bytes)
    return "\t".join([*cells, key.hex(), content.hex()])


def write_with_rust(db: Path, work: list[list[EventRow]]) -> tuple[int, float, float]:
    """Commit `work` into the store file `db` with the Rust writer, one transaction a batch:
    (events, wall seconds, CPU seconds) of its insert loop."""
    rows, offset, lines = db.with_suffix(".tsv"), 1, []
    for batch in work:
        lines += [_tsv(p) for p in insert_params(TENANT, "vayu", corpus.NOW_US, offset, batch)]
        offset += len(batch)
    rows.write_text("\n".join(lines) + "\n")
    command = [str(WRITER_BINARY), str(db), str(rows), str(len(work[0])), INSERT_EVENT]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout.split()
    figures = dict(zip(out[::2], out[1::2], strict=True))
    return int(figures["events"]), float(figures["wall_s"]), float(figures["cpu_s"])


def measure_rust(work: list[list[EventRow]]) -> tuple[float, float]:
    """(events/s, CPU µs per event) of the Rust writer committing `work` into a fresh store
    file made by the store's migrations."""
    with tempfile.TemporaryDirectory(prefix="sluice-bench-layout-", dir=Path.cwd()) as tmp:
        db = Path(tmp) / "x.db"
        conn = connect(db, 2000)
        _store(conn)
        events, wall, cpu = write_with_rust(db, work)
        stored = conn.execute("SELECT count(*) FROM events").fetchone()[0]
        conn.close()
    if stored != events or events != sum(map(len, work)):
        raise RuntimeError(f"the Rust writer stored {stored} of {sum(map(len, work))} rows")
    return events / wall, cpu / events * 1e6


def measure(layout: str, work: list[list[EventRow]], seconds: float) -> tuple[float, float, int]:
    """(events/s, CPU µs per event, batches committed) of durable 1000-event commits into a
    fresh file, for `seconds` at most."""
    create, make_insert = LAYOUTS[layout]
    insert = make_insert()
    with tempfile.TemporaryDirectory(prefix="sluice-bench-layout-", dir=Path.cwd()) as tmp:
        conn = connect(Path(tmp) / "x.db", 2000)
        create(conn)
        offset, events, batches = 1, 0, 0
        started, cpu = time.monotonic(), time.process_time()
        for rows in work:
            conn.execute("BEGIN IMMEDIATE")
            insert(conn, offset, rows)
            conn.execute("COMMIT")
            offset += len(rows)
            events += len(rows)
            batches += 1
            if time.monotonic() - started > seconds:
                break
        wall, cpu = time.monotonic() - started, time.process_time() - cpu
        conn.close()
    return events / wall, cpu / events * 1e6, batches


def run(seconds: float, rounds: int) -> list[Figure]:
    work = parsed_batches(max(3, int(seconds * 150)), TENANT, "l")
    best: dict[str, tuple[float, float]] = {}
    missing = rust_writer_missing()
    # (Rust, the Python store of the same round over the same rows), the best Rust round's.
    rust: tuple[tuple[float, float], tuple[float, float]] | None = None
    for n in range(rounds):
        order = list(LAYOUTS) if n % 2 == 0 else list(reversed(LAYOUTS))
        for layout in order:
            eps, us, batches = measure(layout, work, seconds)
            if layout not in best or eps > best[layout][0]:
                best[layout] = (eps, us)
            if layout == "store" and missing is None:
                rust_eps, rust_us = measure_rust(work[:batches])
                if rust is None or rust_eps > rust[0][0]:
                    rust = ((rust_eps, rust_us), (eps, us))
    store_eps, store_us = best["store"]
    figures = [
        Figure(
            f"SQLite 1000-event commits, layout: {layout}",
            f"{rate(eps)} ({us:.2f} µs CPU/event)",
            f"the store's layout {rate(store_eps)} ({store_us:.2f} µs CPU/event)",
            eps / store_eps,
        )
        for layout, (eps, us) in best.items()
        if layout != "store"
    ]
    name = "SQLite 1000-event commits, the store's layout, rows bound in Rust"
    if rust is None:
        figures.append(Figure(name, f"skipped: {missing}"))
    else:
        (rust_eps, rust_us), (python_eps, python_us) = rust
        figures.append(
            Figure(
                name,
                f"{rate(rust_eps)} ({rust_us:.2f} µs CPU/event)",
                f"bound by Python, same rows {rate(python_eps)} ({python_us:.2f} µs CPU/event)",
                rust_eps / python_eps,
            )
        )
    return figures


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
