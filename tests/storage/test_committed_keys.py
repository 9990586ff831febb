"""The SQLite store's start-up key read: every key's exact bytes, across query chunks."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from sluice.storage.sqlite import SqliteStore
from sluice.storage.sqlite import events as sqlite_events
from tests.storage.conftest import event_row

pytestmark = pytest.mark.anyio

# Bytes that text handling would mangle: NUL, invalid UTF-8, a lone continuation byte.
AWKWARD_KEYS = [bytes(16), b"\xff" * 16, b"\x00\x80" * 8, bytes(range(16))]


async def test_every_key_comes_back_exactly_in_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_events, "_KEYS_PER_QUERY", 3)  # several chunks
    store = SqliteStore(tmp_path / "sluice.db")
    await store.open()
    try:
        rows = [event_row(i, f"id{i}") for i in range(10)]
        rows[2:6] = [event_row(i, f"id{i}", key=key) for i, key in enumerate(AWKWARD_KEYS, start=2)]
        await store.append("acme", "vayu", 1, rows)
        assert await store.committed_keys() == b"".join(row.key for row in rows)
    finally:
        await store.close()


async def test_an_empty_store_has_no_keys(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "sluice.db")
    await store.open()
    try:
        assert await store.committed_keys() == b""
    finally:
        await store.close()


def test_a_utf16_database_takes_the_row_by_row_path(tmp_path: Path) -> None:
    """group_concat would transcode blobs read as UTF-16 text; such a file is read per row."""
    conn = sqlite3.connect(tmp_path / "utf16.db", isolation_level=None)
    conn.execute("PRAGMA encoding = 'UTF-16le'")
    conn.execute("CREATE TABLE events (log_offset INTEGER PRIMARY KEY, key_hash BLOB)")
    conn.executemany("INSERT INTO events (key_hash) VALUES (?)", [(k,) for k in AWKWARD_KEYS])
    assert sqlite_events._committed_keys(conn) == b"".join(AWKWARD_KEYS)
    conn.close()
