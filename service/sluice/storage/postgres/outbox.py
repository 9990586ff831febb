"""The PostgreSQL store's transactional outbox: accepted events waiting to be published.

The writer queues each inserted event here in the transaction that stores it (writer.py); the
relay (publishing.py) claims, publishes and then deletes them.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable

from sluice.model import StoredEvent
from sluice.storage.event_sql import EVENT_COLUMNS
from sluice.storage.postgres.database import PostgresDatabase
from sluice.storage.postgres.events import event

# Oldest first across tenants (seq is the events' insertion order, not a tenant's offset).
_CLAIM = (
    f"SELECT e.seq, e.key_hash, {', '.join('e.' + c for c in EVENT_COLUMNS.split(', '))} "
    "FROM outbox AS o JOIN events AS e USING (seq) "
    "ORDER BY o.seq LIMIT %s FOR UPDATE OF o SKIP LOCKED"
)


class PostgresOutbox(PostgresDatabase):
    """Outbox over PostgreSQL (a store opened with outbox=True)."""

    def on_outbox_rows(self, callback: Callable[[], None]) -> None:
        """Have `callback()` called after each commit that queued events for publishing."""
        self._writer.on_outbox_rows = callback

    @contextlib.asynccontextmanager
    async def unpublished(self, limit: int) -> AsyncIterator[list[tuple[bytes, StoredEvent]]]:
        """Claim up to `limit` queued events, oldest first, as (key, event).

        The claim is a transaction holding their outbox rows locked (other instances' relays
        skip them): when the block ends normally they are marked published (deleted) in it;
        when it raises, or the instance dies, they stay queued for the next claim.
        """
        async with self._connection() as conn, conn.transaction():
            cursor = await conn.execute(_CLAIM, [limit])
            rows = await cursor.fetchall()
            claimed = [(row[1], event(row[2:])) for row in rows]
            yield claimed
            if claimed:
                await conn.execute(
                    "DELETE FROM outbox WHERE seq = ANY(%s)", [[row[0] for row in rows]]
                )

    async def outbox_depth(self) -> int:
        """How many accepted events wait to be published."""
        rows = await self._fetch("SELECT count(*) FROM outbox")
        depth: int = rows[0][0]
        return depth
