"""The SQLite store's event log: appends through the writer's group commit, reads on WAL
readers, soft deletes on the writer."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from sluice.model import EventQuery, EventRow, StoredEvent
from sluice.storage.event_sql import EVENT_COLUMNS, live_filters
from sluice.storage.sqlite.database import SqliteDatabase

# Events whose keys one start-up query concatenates (see _committed_keys).
_KEYS_PER_QUERY = 100_000


def _event(row: sqlite3.Row | tuple[Any, ...]) -> StoredEvent:
    return StoredEvent(*row)


def _committed_keys(conn: sqlite3.Connection) -> bytes:
    """Every stored key_hash, concatenated, from one snapshot.

    SQLite concatenates them (group_concat), so Python handles one value per 100,000 events
    instead of a row each, which shortens start-up with many stored events
    (bench/bench_startup.py measures it). group_concat reads a blob as text, which keeps its
    bytes only in a UTF-8 database; ours always are, and any other takes the row-by-row path.
    """
    if conn.execute("PRAGMA encoding").fetchone()[0] != "UTF-8":
        return b"".join(row[0] for row in conn.execute("SELECT key_hash FROM events"))
    conn.execute("BEGIN")  # one read snapshot across the queries
    try:
        low, high = conn.execute("SELECT min(seq), max(seq) FROM events").fetchone()
        parts: list[bytes] = []
        for start in range(low or 0, (high or -1) + 1, _KEYS_PER_QUERY):
            count, keys = conn.execute(
                "SELECT count(*), CAST(group_concat(key_hash, '') AS BLOB) FROM events "
                "WHERE seq >= ? AND seq < ?",
                (start, start + _KEYS_PER_QUERY),
            ).fetchone()
            if count and len(keys) != 16 * count:
                raise RuntimeError(f"read {len(keys)} bytes for {count} 16-byte keys")
            parts.append(keys or b"")
        return b"".join(parts)
    finally:
        conn.execute("COMMIT")


def _first_live_by_id(
    conn: sqlite3.Connection, tenant: str, ids: Sequence[str], name: str | None = None
) -> list[StoredEvent]:
    """The first stored live event for each id (of `name` when given): refs are unique per
    name, not across names."""
    found: dict[str, StoredEvent] = {}
    unique = list(dict.fromkeys(ids))
    named = "" if name is None else "AND name = ? "
    for start in range(0, len(unique), 500):  # stay under SQLite's bound-parameter limit
        chunk = unique[start : start + 500]
        marks = ",".join("?" * len(chunk))
        sql = (
            f"SELECT {EVENT_COLUMNS} FROM events WHERE tenant = ? AND deleted_at IS NULL "
            f"{named}AND id IN ({marks}) ORDER BY log_offset"
        )
        params = [tenant, *([] if name is None else [name]), *chunk]
        for row in conn.execute(sql, params):
            event = _event(row)
            found.setdefault(event.id, event)
    return sorted(found.values(), key=lambda event: event.offset)


class SqliteEventStore(SqliteDatabase):
    """EventStore over SQLite."""

    def observe_commits(self, observer: Callable[[int, float, float], None]) -> None:
        self._writer.observer = observer

    async def append(
        self, tenant: str, source: str, received_at: int, rows: Sequence[EventRow]
    ) -> list[int | None]:
        if not rows:
            return []
        return await self._writer.append(tenant, source, received_at, rows)

    async def committed_keys(self) -> bytes:
        return await self._read(_committed_keys)

    async def get_event(self, tenant: str, name: str, id: str) -> StoredEvent | None:
        sql = f"SELECT {EVENT_COLUMNS} FROM events WHERE tenant = ? AND name = ? AND id = ?"
        row = await self._read(lambda conn: conn.execute(sql, (tenant, name, id)).fetchone())
        return None if row is None else _event(row)

    async def read_log(self, tenant: str, after_offset: int, limit: int) -> list[StoredEvent]:
        sql = (
            f"SELECT {EVENT_COLUMNS} FROM events WHERE tenant = ? AND log_offset > ? "
            "ORDER BY log_offset LIMIT ?"
        )
        rows = await self._read(
            lambda conn: conn.execute(sql, (tenant, after_offset, limit)).fetchall()
        )
        return [_event(row) for row in rows]

    async def query_events(self, tenant: str, query: EventQuery) -> list[StoredEvent]:
        where, params = live_filters(tenant, query, "?")
        if query.after is not None:
            where += " AND (timestamp, log_offset) > (?, ?)"
            params.extend(query.after)
        sql = (
            f"SELECT {EVENT_COLUMNS} FROM events WHERE {where} "
            "ORDER BY timestamp, log_offset LIMIT ?"
        )
        params.append(query.limit)
        rows = await self._read(lambda conn: conn.execute(sql, params).fetchall())
        return [_event(row) for row in rows]

    async def count_events(self, tenant: str, query: EventQuery) -> int:
        where, params = live_filters(tenant, query, "?")
        sql = f"SELECT count(*) FROM events WHERE {where}"
        count: int = await self._read(lambda conn: conn.execute(sql, params).fetchone()[0])
        return count

    async def live_events_by_id(
        self, tenant: str, ids: Sequence[str], name: str | None = None
    ) -> list[StoredEvent]:
        return await self._read(lambda conn: _first_live_by_id(conn, tenant, ids, name))

    async def delete_events_by_id(
        self, tenant: str, ids: Sequence[str], now_us: int, name: str | None = None
    ) -> list[StoredEvent]:
        def delete(conn: sqlite3.Connection) -> list[StoredEvent]:
            found = _first_live_by_id(conn, tenant, ids, name)
            conn.executemany(
                "UPDATE events SET deleted_at = ? WHERE tenant = ? AND log_offset = ?",
                [(now_us, tenant, event.offset) for event in found],
            )
            return [dataclasses.replace(event, deleted_at=now_us) for event in found]

        return await self._writer.call(delete)
