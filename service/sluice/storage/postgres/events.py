"""The PostgreSQL store's event log: appends through the writer's group commit, reads and soft
deletes as single statements."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sluice.model import EventQuery, EventRow, StoredEvent
from sluice.storage.event_sql import EVENT_COLUMNS, live_filters
from sluice.storage.postgres.database import PostgresDatabase

_FIRST_LIVE = f"""
    SELECT DISTINCT ON (id) {EVENT_COLUMNS} FROM events
    WHERE tenant = %s AND deleted_at IS NULL AND id = ANY(%s) AND (%s::text IS NULL OR name = %s)
    ORDER BY id, log_offset
"""


def event(row: Sequence[Any]) -> StoredEvent:
    """A row read in EVENT_COLUMNS' order."""
    return StoredEvent(*row)


class PostgresEventStore(PostgresDatabase):
    """EventStore over PostgreSQL.

    Offsets are handed out in commit order: every transaction that appends takes the log lock
    (an advisory lock) before it draws offsets and keeps it until it has committed (writer.py).
    A reader of the log (Subscribe, read_log) therefore never sees offset N+1 while N may still
    commit, so a follower that has read up to N never misses an event that commits late.
    """

    def observe_commits(self, observer: Callable[[int, float, float], None]) -> None:
        self._writer.observer = observer

    async def append(
        self, tenant: str, source: str, received_at: int, rows: Sequence[EventRow]
    ) -> list[int | None]:
        if not rows:
            return []
        return await self._writer.append(tenant, source, received_at, rows)

    async def committed_keys(self) -> bytes:
        async with self._connection() as conn, conn.transaction():
            keys = conn.cursor().stream("SELECT key_hash FROM events", size=10_000)
            return b"".join([row[0] async for row in keys])

    async def get_event(self, tenant: str, name: str, id: str) -> StoredEvent | None:
        rows = await self._fetch(
            f"SELECT {EVENT_COLUMNS} FROM events WHERE tenant = %s AND name = %s AND id = %s",
            [tenant, name, id],
        )
        return event(rows[0]) if rows else None

    async def read_log(self, tenant: str, after_offset: int, limit: int) -> list[StoredEvent]:
        # Offsets are committed in order (the log lock), so nothing can later appear below
        # the last offset this returns.
        rows = await self._fetch(
            f"SELECT {EVENT_COLUMNS} FROM events WHERE tenant = %s AND log_offset > %s "
            "ORDER BY log_offset LIMIT %s",
            [tenant, after_offset, limit],
        )
        return [event(row) for row in rows]

    async def query_events(self, tenant: str, query: EventQuery) -> list[StoredEvent]:
        where, params = live_filters(tenant, query, "%s")
        if query.after is not None:
            where += " AND (timestamp, log_offset) > (%s, %s)"
            params.extend(query.after)
        rows = await self._fetch(
            f"SELECT {EVENT_COLUMNS} FROM events WHERE {where} "
            "ORDER BY timestamp, log_offset LIMIT %s",
            [*params, query.limit],
        )
        return [event(row) for row in rows]

    async def count_events(self, tenant: str, query: EventQuery) -> int:
        where, params = live_filters(tenant, query, "%s")
        rows = await self._fetch(f"SELECT count(*) FROM events WHERE {where}", params)
        count: int = rows[0][0]
        return count

    async def live_events_by_id(
        self, tenant: str, ids: Sequence[str], name: str | None = None
    ) -> list[StoredEvent]:
        rows = await self._fetch(_FIRST_LIVE, [tenant, list(ids), name, name])
        return sorted((event(row) for row in rows), key=lambda stored: stored.offset)

    async def delete_events_by_id(
        self, tenant: str, ids: Sequence[str], now_us: int, name: str | None = None
    ) -> list[StoredEvent]:
        # One statement: the first live event of each id is found and marked atomically.
        rows = await self._fetch(
            f"UPDATE events SET deleted_at = %s WHERE deleted_at IS NULL AND tenant = %s AND "
            f"log_offset IN (SELECT log_offset FROM ({_FIRST_LIVE}) AS first) "
            f"RETURNING {EVENT_COLUMNS}",
            [now_us, tenant, tenant, list(ids), name, name],
        )
        return sorted((event(row) for row in rows), key=lambda stored: stored.offset)
