"""The SQLite usage index (storage/sqlite/usage_index.py): a projection of the events that the
writer builds after commits. Reads are exact wherever the projection stands (the part it
covers by index, the rest by a scan of the tail), after deletes, after an
upgrade from a store that had no index; and the writer keeps the projection going without
ever failing an append for it."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sluice.storage.sqlite import SqliteStore, usage_index
from sluice.storage.sqlite.connection import connect
from sluice.storage.sqlite.schema import MIGRATIONS, migrate
from sluice.storage.sqlite.writer import GroupCommitter, Projection
from tests.storage.conftest import event_row

TENANTS = ("acme", "globex")
CUSTOMERS = ("alice", "bob", "carol")
NAMES = ("api_call", "upload")


@dataclass(frozen=True)
class Stored:
    seq: int
    tenant: str
    id: str
    customer: str
    name: str
    timestamp: int


def _insert(conn: sqlite3.Connection, tenant: str, customer: str, name: str, ts: int) -> Stored:
    offset = conn.execute(
        "SELECT coalesce(max(log_offset), 0) + 1 FROM events WHERE tenant = ?", (tenant,)
    ).fetchone()[0]
    cursor = conn.execute(
        "INSERT INTO events (log_offset, tenant, id, source, name, customer, timestamp, payload,"
        " received_at, key_hash, content_hash) VALUES (?, ?, ?, 'vayu', ?, ?, ?, '{}', 1, ?, ?)",
        (offset, tenant, f"e{offset}", name, customer, ts, bytes(16), bytes(16)),
    )
    assert cursor.lastrowid is not None
    return Stored(cursor.lastrowid, tenant, f"e{offset}", customer, name, ts)


appends = st.lists(
    st.tuples(
        st.sampled_from(TENANTS),
        st.sampled_from(CUSTOMERS),
        st.sampled_from(NAMES),
        st.integers(0, 9),
    ),
    min_size=1,
    max_size=12,
)
queries = st.tuples(
    st.sampled_from(TENANTS),
    st.lists(st.sampled_from(CUSTOMERS), min_size=1, max_size=3, unique=True),
    st.lists(st.sampled_from(NAMES), min_size=1, max_size=2, unique=True),
    st.none() | st.integers(0, 9),
    st.none() | st.integers(0, 10),
)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("append"), appends),
        st.tuples(st.just("delete"), st.integers(0, 200)),
        st.tuples(st.just("project"), st.integers(1, 20)),
        st.tuples(st.just("query"), queries),
    ),
    max_size=25,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=operations)
def test_usage_reads_equal_a_filter_of_the_live_events_wherever_the_projection_stands(
    ops: list[tuple[str, object]],
) -> None:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("BEGIN")
    migrate(conn)
    conn.execute("COMMIT")
    stored: list[Stored] = []
    deleted: set[int] = set()

    def check(query: tuple[str, list[str], list[str], int | None, int | None]) -> None:
        tenant, customers, names, start, end = query
        found = usage_index.usage_events(conn, tenant, customers, names, start, end)
        expected = sorted(
            e.seq
            for e in stored
            if e.tenant == tenant
            and e.customer in customers
            and e.name in names
            and (start is None or e.timestamp >= start)
            and (end is None or e.timestamp < end)
            and e.seq not in deleted
        )
        seqs = {(e.tenant, e.id): e.seq for e in stored}
        got = sorted(seqs[(f.tenant, f.id)] for f in found)
        assert got == expected  # sorted, so a row read twice would show

    for op, arg in ops:
        if op == "append":
            for tenant, customer, name, ts in arg:  # type: ignore[attr-defined]
                stored.append(_insert(conn, tenant, customer, name, ts))
        elif op == "delete" and stored:
            seq = stored[int(arg) % len(stored)].seq  # type: ignore[call-overload]
            conn.execute("UPDATE events SET deleted_at = 1 WHERE seq = ?", (seq,))
            deleted.add(seq)
        elif op == "project":
            waiting = usage_index.project(conn, int(arg))  # type: ignore[call-overload]
            assert waiting == max(0, len(stored) - usage_index.projected_through(conn))
        elif op == "query":
            check(arg)  # type: ignore[arg-type]
    # And once everything is projected: every answer comes from the index alone.
    while usage_index.project(conn, 7):
        pass
    assert usage_index.projected_through(conn) == len(stored)
    for tenant in TENANTS:
        check((tenant, list(CUSTOMERS), list(NAMES), None, None))
        check((tenant, ["alice"], ["upload"], 3, 7))


def test_reads_scan_one_index_range_and_only_the_unprojected_tail() -> None:
    """The plan, not just the answer: a usage read must not scan a tenant's whole log."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("BEGIN")
    migrate(conn)
    for n in range(300):
        _insert(conn, TENANTS[n % 2], CUSTOMERS[n % 3], NAMES[n % 2], n)
    usage_index.project(conn, 200)
    conn.execute("COMMIT")
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    found = usage_index.usage_events(conn, "acme", ["alice"], ["api_call"], 10, 250)
    conn.set_trace_callback(None)
    assert len(found) == len(range(10, 250, 6))  # n % 6 == 0: acme, alice, api_call
    plans = [
        " / ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}"))
        for sql in statements
        if "usage_index AS u" in sql or "NOT INDEXED" in sql
    ]
    assert len(plans) == 2, statements
    index_plan, tail_plan = plans
    assert "SEARCH u USING PRIMARY KEY (tenant=? AND customer=? AND name=? AND timestamp>?" in (
        index_plan
    )
    assert "SEARCH e USING INTEGER PRIMARY KEY (rowid=?)" in index_plan
    assert "SEARCH e USING INTEGER PRIMARY KEY (rowid>?)" in tail_plan
    assert "SCAN" not in index_plan and "SCAN" not in tail_plan


def _writer(path: Path, projection: Projection) -> GroupCommitter:
    conn = connect(path, 2000)
    conn.execute("BEGIN")
    migrate(conn)
    conn.execute("COMMIT")
    conn.close()
    writer = GroupCommitter(lambda: connect(path, 2000), projection=projection)
    writer.start()
    return writer


async def _append(writer: GroupCommitter, count: int, start: int = 0) -> None:
    rows = [event_row(i, f"e{start + i}") for i in range(count)]
    offsets = await writer.append("acme", "vayu", 1, rows)
    assert all(offset is not None for offset in offsets)


@pytest.mark.anyio
async def test_the_writer_projects_once_enough_events_are_appended(tmp_path: Path) -> None:
    ran = threading.Event()

    def run(conn: sqlite3.Connection) -> int:
        ran.set()
        return 0

    # An idle time far longer than the test: only the count can start it.
    writer = _writer(tmp_path / "s.db", Projection(run, batch_rows=5, idle_seconds=3600))
    try:
        await _append(writer, 3)
        await asyncio.sleep(0.2)
        assert not ran.is_set()
        await _append(writer, 2, start=3)
        assert await asyncio.to_thread(ran.wait, 10.0)
    finally:
        writer.stop()


@pytest.mark.anyio
async def test_the_writer_projects_when_idle_with_events_waiting(tmp_path: Path) -> None:
    calls: list[float] = []
    ran = threading.Event()

    def run(conn: sqlite3.Connection) -> int:
        calls.append(time.monotonic())
        ran.set()
        return 0  # caught up: no more idle runs until something is appended

    writer = _writer(tmp_path / "s.db", Projection(run, batch_rows=10**9, idle_seconds=0.05))
    try:
        assert await asyncio.to_thread(ran.wait, 10.0)  # at start: what an earlier run left
        ran.clear()
        await asyncio.sleep(0.3)
        assert len(calls) == 1  # nothing appended since: the idle writer does not spin
        await _append(writer, 1)
        assert await asyncio.to_thread(ran.wait, 10.0)
        assert len(calls) == 2
    finally:
        writer.stop()


@pytest.mark.anyio
async def test_a_failing_projection_fails_no_append_and_is_tried_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    attempts: list[int] = []
    recovered = threading.Event()

    def run(conn: sqlite3.Connection) -> int:
        attempts.append(1)
        if len(attempts) < 3:
            raise sqlite3.OperationalError("database or disk is full")
        conn.execute("UPDATE projections SET seq = 1 WHERE name = 'usage'")
        recovered.set()
        return 0

    writer = _writer(tmp_path / "s.db", Projection(run, batch_rows=1, idle_seconds=0.05))
    try:
        for n in range(3):
            await _append(writer, 1, start=n)  # every append still commits
        assert await asyncio.to_thread(recovered.wait, 10.0)
    finally:
        writer.stop()
    conn = sqlite3.connect(tmp_path / "s.db")
    assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 3
    # The failed attempts were rolled back; the one that worked committed.
    assert usage_index.projected_through(conn) == 1
    # Two failures in a row are one warning, not one per attempt.
    warnings = [r for r in caplog.records if r.message.startswith("projection failed")]
    assert len(warnings) == 1


@pytest.mark.anyio
async def test_an_upgraded_store_reads_exactly_before_and_after_its_index_catches_up(
    tmp_path: Path,
) -> None:
    """A store from before the usage index (SQLite version 8), with events in it."""
    path = tmp_path / "sluice.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    for number, script in enumerate(MIGRATIONS[:8], start=1):
        for statement in script.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {number}")
    for n in range(50):
        _insert(conn, "acme", CUSTOMERS[n % 3], NAMES[n % 2], n)
    conn.execute("COMMIT")
    conn.close()

    store = SqliteStore(path)
    await store.open()
    try:

        async def alice() -> list[int]:
            found = await store.usage_events("acme", ["alice"], ["api_call"], None, None)
            return sorted(e.timestamp for e in found)

        expected = [n for n in range(50) if n % 6 == 0]
        assert await alice() == expected  # however far the writer has got
        while await store.project_usage(limit=7):
            assert await alice() == expected
        assert await alice() == expected
        rows = await store.append("acme", "vayu", 1, [event_row(0, "new", timestamp_us=99)])
        assert rows[0] is not None
    finally:
        await store.close()
    conn = sqlite3.connect(path)
    indexes = {row[1] for row in conn.execute("PRAGMA index_list(events)")}
    assert "events_by_customer" not in indexes  # appends no longer pay for a random-key index
    assert conn.execute("SELECT count(*) FROM usage_index").fetchone()[0] >= 50
