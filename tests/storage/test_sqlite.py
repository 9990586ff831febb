"""What only the SQLite store has: durable pragmas, group commit, and a real full disk."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

from sluice import _core
from sluice.errors import StoreUnavailable
from sluice.storage.sqlite import SqliteStore, connect
from tests.storage.conftest import event_row

pytestmark = pytest.mark.anyio


async def fill_disk(store: SqliteStore) -> None:
    """Cap the database at its current size: the next growing write fails with SQLITE_FULL."""

    def cap(conn: sqlite3.Connection) -> None:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")

    await store._writer.call(cap)


async def free_disk(store: SqliteStore) -> None:
    await store._writer.call(lambda conn: conn.execute("PRAGMA max_page_count = 1073741823"))


@pytest.fixture
async def sqlite_store(tmp_path: Path):
    store = SqliteStore(tmp_path / "sluice.db")
    await store.open()
    try:
        yield store
    finally:
        await store.close()


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
        (
            0,
            _core.idempotency_key("acme", "n", "x"),
            "n",
            "x",
            "c",
            1,
            None,
            '{"pad":"' + "x" * 100_000 + '"}',
            bytes(16),
        )
    ]
    with pytest.raises(StoreUnavailable):
        await sqlite_store.append("acme", "vayu", 1, big)
    assert await sqlite_store.read_log("acme", 0, 10) == []
    await free_disk(sqlite_store)
    assert (await sqlite_store.append("acme", "vayu", 1, big))[0] is not None
