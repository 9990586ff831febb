"""The SQLite store under real faults, without a server: every failure is StoreUnavailable
(never a raw sqlite3 error, so never a 500), and a lock delays an answer by one busy timeout."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from sluice.errors import StoreUnavailable
from sluice.storage.sqlite import SqliteStore
from tests.storage.conftest import event_row

BUSY_TIMEOUT_MS = 1000


def wreck(path: Path) -> None:
    """Move every committed page into the main file, then overwrite its header with garbage."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    with path.open("r+b") as db:
        db.write(b"not a database" * 1000)


STORE_CALLS: dict[str, Callable[[SqliteStore], Awaitable[object]]] = {
    "read": lambda store: store.get_event("acme", "api_call", "a"),
    "append": lambda store: store.append("acme", "vayu", 1, [event_row(0, "b")]),
    "write call": lambda store: store.ensure_tenant("acme", 1),
    "ping": lambda store: store.ping(),
}


@pytest.mark.parametrize("call", sorted(STORE_CALLS))
def test_a_wrecked_file_is_unavailable_not_a_database_error(data_dir: Path, call: str) -> None:
    async def scenario() -> None:
        store = SqliteStore(data_dir / "sluice.db")
        await store.open()
        try:
            await store.append("acme", "vayu", 1, [event_row(0, "a")])
            wreck(store.path)
            with pytest.raises(StoreUnavailable, match="not a database"):
                await STORE_CALLS[call](store)
        finally:
            await store.close()

    asyncio.run(scenario())


def test_a_queue_behind_a_lock_waits_one_busy_timeout_in_all(data_dir: Path) -> None:
    """A write queued while the one before it waits on a lock gets only what is left of its own
    timeout: no request waits one full timeout per group ahead of it."""

    async def answered_after(store: SqliteStore, id_: str) -> float:
        queued = time.monotonic()
        with pytest.raises(StoreUnavailable, match="locked"):
            await store.append("acme", "vayu", 1, [event_row(0, id_)])
        return time.monotonic() - queued

    async def scenario() -> tuple[float, float]:
        store = SqliteStore(data_dir / "sluice.db", busy_timeout_ms=BUSY_TIMEOUT_MS)
        await store.open()
        holder = sqlite3.connect(store.path, isolation_level=None)
        try:
            holder.execute("BEGIN EXCLUSIVE")
            first = asyncio.ensure_future(answered_after(store, "first"))
            await asyncio.sleep(0.2)  # the second queues while the first waits on the lock
            second = await answered_after(store, "second")
            holder.execute("ROLLBACK")
            assert (await store.append("acme", "vayu", 1, [event_row(0, "third")]))[0]
            return await first, second
        finally:
            holder.close()
            await store.close()

    first, second = asyncio.run(scenario())
    limit = BUSY_TIMEOUT_MS / 1000
    assert limit * 0.9 <= first <= limit + 0.5
    # Without the shared deadline the second would wait 0.8 s behind the first, then 1 s more.
    assert second <= limit + 0.3, f"queued behind a lock for {second:.2f} s"
