"""Reading and soft-deleting stored events (Vayu's read/delete surface, gRPC EventService)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from sluice.storage import EventQuery, Store, StoredEvent

MAX_PAGE = 1000


@dataclass(frozen=True, slots=True)
class EventPage:
    events: list[StoredEvent]
    total: int  # every live match, not just this page
    next_after: tuple[int, int] | None  # keyset position to continue from; None at the end


class EventLog:
    def __init__(self, store: Store, clock_us: Callable[[], int]) -> None:
        self._store = store
        self._clock_us = clock_us

    async def page(self, tenant: str, query: EventQuery) -> EventPage:
        # One extra row tells whether another page exists without a second query.
        rows = await self._store.query_events(tenant, replace(query, limit=query.limit + 1))
        total = await self._store.count_events(tenant, query)
        events = rows[: query.limit]
        more = len(rows) > query.limit
        last = events[-1] if events else None
        next_after = (last.timestamp, last.offset) if more and last is not None else None
        return EventPage(events, total, next_after)

    async def by_id(self, tenant: str, id: str) -> StoredEvent | None:
        found = await self._store.live_events_by_id(tenant, [id])
        return found[0] if found else None

    async def delete(self, tenant: str, ids: Sequence[str]) -> list[StoredEvent]:
        return await self._store.delete_events_by_id(tenant, ids, self._clock_us())
