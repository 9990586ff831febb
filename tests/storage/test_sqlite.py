"""What only the SQLite store has: durable pragmas, group commit, and a real full disk."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

from sluice import _core
from sluice.errors import StoreUnavailable
from sluice.model import EventRow
from sluice.storage.sqlite import SqliteStore
from sluice.storage.sqlite.connection import connect
from tests.storage.conftest import event_row, fill_disk, free_disk

pytestmark = pytest.mark.anyio


async def test_durability_pragmas_are_in_force(sqlite_store: SqliteStore) -> None:
    conn = sqlite3.connect(sqlite_store.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # kept in the file
    conn.close()
    live = connect(sqlite_store.path, 100)
    assert live.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL: fsync every commit
    live.close()


async def test_concurrent_appends_share_one_commit(sqlite_store: SqliteStore) -> None:
    writer = sqlite_store._writer
    before = writer.commits
    # Hold the writer busy so that the next twenty appends queue up behind it.
    busy = writer.call(lambda conn: time.sleep(0.3))
    await asyncio.sleep(0.05)
    appends = [sqlite_store.append("acme", "vayu", 1, [event_row(0, f"k{i}")]) for i in range(20)]
    results = await asyncio.gather(busy, *appends)
    assert all(r[0] is not None for r in results[1:])
    assert writer.commits - before == 2  # the busy call's, then one for all twenty


async def test_a_full_disk_is_unavailable_and_recovers(sqlite_store: SqliteStore) -> None:
    await fill_disk(sqlite_store)
    big = [
        EventRow(
            index=0,
            key=_core.idempotency_key("acme", "n", "x"),
            name="n",
            id="x",
            customer="c",
            timestamp_us=1,
            value=None,
            payload='{"pad":"' + "x" * 100_000 + '"}',
            content_hash=bytes(16),
        )
    ]
    with pytest.raises(StoreUnavailable):
        await sqlite_store.append("acme", "vayu", 1, big)
    assert await sqlite_store.read_log("acme", 0, 10) == []
    await free_disk(sqlite_store)
    assert (await sqlite_store.append("acme", "vayu", 1, big))[0] is not None


async def test_a_store_made_before_the_single_key_index_migrates_with_its_offsets(
    tmp_path: Path,
) -> None:
    """Schema 5 rebuilds the events table (one unique index, no AUTOINCREMENT): stored events
    keep their offsets and keys, and new ones continue after them, never reusing an offset."""
    from sluice.storage.sqlite.schema import MIGRATIONS

    path = tmp_path / "sluice.db"
    conn = sqlite3.connect(path)
    for number, script in enumerate(MIGRATIONS[:4], start=1):
        for statement in script.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {number}")
    old_insert = (
        "INSERT INTO events (log_offset, tenant, id, source, name, customer, timestamp, payload,"
        " received_at, key_hash, content_hash) VALUES (?, 'acme', ?, 'vayu', 'api_call', 'c',"
        " 1, '{}', 1, ?, ?)"
    )
    conn.execute(old_insert, (7, "old-1", b"k" * 16, bytes(16)))
    conn.execute(old_insert, (9, "old-2", b"l" * 16, bytes(16)))
    conn.commit()
    conn.close()

    store = SqliteStore(path)
    await store.open()
    try:
        assert await store.append("acme", "vayu", 1, [event_row(0, "old-2")]) == [None]
        assert await store.append("acme", "vayu", 1, [event_row(0, "new")]) == [10]
        log = await store.read_log("acme", 0, 10)
        assert [(event.offset, event.id) for event in log] == [
            (7, "old-1"),
            (9, "old-2"),
            (10, "new"),
        ]
    finally:
        await store.close()
    check = sqlite3.connect(path)
    indexes = {row[0] for row in check.execute("SELECT name FROM pragma_index_list('events')")}
    assert "events_by_tenant_id" not in indexes
    table_sql = check.execute("SELECT sql FROM sqlite_master WHERE name = 'events'").fetchone()[0]
    assert "AUTOINCREMENT" not in table_sql and "UNIQUE (tenant, id, name)" in table_sql
    assert check.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    check.close()


async def test_appends_of_the_turn_in_which_the_store_closes_are_still_written(
    tmp_path: Path,
) -> None:
    """Appends reach the writer at the end of their event-loop turn; closing in that same turn
    hands them over first, so none is left unanswered."""
    store = SqliteStore(tmp_path / "sluice.db")
    await store.open()
    pending = [store._writer.append("acme", "vayu", 1, [event_row(0, f"c{i}")]) for i in range(3)]
    await store.close()
    assert [await future for future in pending] == [[1], [2], [3]]


async def test_the_checkpointer_moves_commits_into_the_database_file_off_the_writer(
    sqlite_store: SqliteStore,
) -> None:
    """Commits land in the WAL; the checkpointer, not the committing writer, copies them into
    the database file soon after (the writer would only do it past 20,000 pages)."""
    store = sqlite_store
    writer_conn = store._writer._conn
    assert writer_conn is not None
    assert writer_conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 20_000
    await asyncio.sleep(0.2)  # the migrations' own pages are checkpointed first
    size_before = store.path.stat().st_size
    checkpoints_before = store._checkpointer.checkpoints
    payload = '{"pad":"' + "x" * 2000 + '"}'
    for batch in range(5):
        rows = [event_row(i, f"b{batch}-{i}", payload=payload) for i in range(100)]
        assert None not in await store.append("acme", "vayu", 1, rows)
    deadline = time.monotonic() + 5
    # The file grows while a checkpoint runs; the count goes up once it has returned.
    while (
        store.path.stat().st_size <= size_before + 500 * 2000
        or store._checkpointer.checkpoints == checkpoints_before
    ):
        assert time.monotonic() < deadline, "nothing was checkpointed into the file"
        await asyncio.sleep(0.02)


async def test_a_store_under_directories_not_made_yet_makes_them(tmp_path: Path) -> None:
    """A fresh SLUICE_DATA_DIR may be several levels deep: opening the store makes them all."""
    store = SqliteStore(tmp_path / "not" / "made" / "yet" / "sluice.db")
    await store.open()
    try:
        await store.append("acme", "vayu", 1, [event_row(0, "k")])
    finally:
        await store.close()
    assert (tmp_path / "not" / "made" / "yet" / "sluice.db").is_file()
