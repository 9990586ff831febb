"""Reading, following and soft-deleting stored events (Vayu's read/delete surface, gRPC
EventService)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from dataclasses import dataclass, replace

from sluice._core import parse_timestamp
from sluice.encoding import b64url_decode, b64url_encode
from sluice.errors import InvalidParameter
from sluice.model import EventQuery, StoredEvent
from sluice.readable import UnreadableEvents
from sluice.storage import EventStore

__all__ = [
    "MAX_OFFSET",
    "MAX_PAGE",
    "EventLog",
    "EventPage",
    "decode_cursor",
    "encode_cursor",
    "parse_timestamp",
]

MAX_PAGE = 1000
# The highest offset a log can hold: offsets are signed 64-bit in both stores (gRPC's field is
# unsigned, HTTP's a decimal), so a position past it names no event.
MAX_OFFSET = 2**63 - 1
# How long a follower waits for a wake-up before it reads the log again anyway. Commits made
# by this process wake followers at once; this bounds the delay only for events written by
# another process on the same store (a second instance, the CLI).
FOLLOW_POLL_SECONDS = 1.0


def encode_cursor(after: tuple[int, int]) -> str:
    """An opaque cursor for a (timestamp, offset) keyset position."""
    return b64url_encode(f"{after[0]}:{after[1]}".encode())


# The store's integers are signed 64-bit: a cursor naming a position beyond them is not ours.
_INT64 = range(-(2**63), 2**63)


def decode_cursor(cursor: str) -> tuple[int, int]:
    try:
        timestamp, offset = b64url_decode(cursor).split(b":")
        after = int(timestamp), int(offset)
    except ValueError as exc:  # binascii.Error is a ValueError
        raise InvalidParameter("cursor", "cursor is not one this API returned.") from exc
    if after[0] not in _INT64 or after[1] not in _INT64:
        raise InvalidParameter("cursor", "cursor is not one this API returned.")
    return after


@dataclass(frozen=True, slots=True)
class EventPage:
    events: list[StoredEvent]
    total: int  # every live match, not just this page
    next_after: tuple[int, int] | None  # keyset position to continue from; None at the end


class EventLog:
    """Every read of stored events. A row no reader can carry back is reported once and
    skipped (`UnreadableEvents`), so one damaged row never stops a page, a query or a stream;
    a read of that one event raises UnreadableEvent."""

    def __init__(
        self,
        store: EventStore,
        clock_us: Callable[[], int],
        unreadable: UnreadableEvents,
        poll_seconds: float = FOLLOW_POLL_SECONDS,
    ) -> None:
        self._store = store
        self._clock_us = clock_us
        self._unreadable = unreadable
        self.poll_seconds = poll_seconds
        self._followers: dict[str, set[asyncio.Event]] = {}  # tenant -> one wake-up each
        self._closed = False

    async def page(self, tenant: str, query: EventQuery) -> EventPage:
        # One extra row tells whether another page exists without a second query.
        rows = await self._store.query_events(tenant, replace(query, limit=query.limit + 1))
        total = await self._store.count_events(tenant, query)
        page = rows[: query.limit]
        more = len(rows) > query.limit
        last = page[-1] if page else None
        next_after = (last.timestamp, last.offset) if more and last is not None else None
        # The cursor continues after the last row read, even if that row was skipped.
        return EventPage(self._readable(page), total, next_after)

    async def matching(
        self, tenant: str, query: EventQuery, limit: int | None = None
    ) -> AsyncIterator[StoredEvent]:
        """Every live match after `query.after` (at most `limit`), read a page at a time."""
        after = query.after
        left = limit
        while left is None or left > 0:
            size = MAX_PAGE if left is None else min(MAX_PAGE, left)
            events = await self._store.query_events(tenant, replace(query, after=after, limit=size))
            for event in self._readable(events):
                yield event
            if len(events) < size:
                return
            after = (events[-1].timestamp, events[-1].offset)
            left = None if left is None else left - size

    async def by_id(self, tenant: str, id: str, name: str | None = None) -> StoredEvent | None:
        found = await self._store.live_events_by_id(tenant, [id], name)
        return self._unreadable.check(found[0]) if found else None

    async def delete(
        self, tenant: str, ids: Sequence[str], name: str | None = None
    ) -> list[StoredEvent]:
        """Soft-deletes every match; returns those that can be read back."""
        deleted = await self._store.delete_events_by_id(tenant, ids, self._clock_us(), name)
        return self._readable(deleted)

    async def follow(self, tenant: str, after_offset: int) -> AsyncGenerator[StoredEvent]:
        """The tenant's live events with an offset above after_offset, in offset order, then
        each new one as it is committed. Ends only when the log is closed.

        Relies on offsets being handed out in commit order (SQLite's one writer, PostgreSQL's
        log lock), so a reader that has seen offset N will never later find a new event below N.
        """
        woken = asyncio.Event()
        self._followers.setdefault(tenant, set()).add(woken)
        try:
            while not self._closed:
                # Cleared before the read: a commit landing during the read sets it again, so
                # the wait below returns at once instead of sleeping past that commit.
                woken.clear()
                events = await self._store.read_log(tenant, after_offset, MAX_PAGE)
                for event in events:
                    after_offset = event.offset
                    if event.deleted_at is None and self._unreadable.readable(event):
                        yield event
                if len(events) < MAX_PAGE:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(woken.wait(), self.poll_seconds)
        finally:
            followers = self._followers.get(tenant, set())
            followers.discard(woken)
            if not followers:
                self._followers.pop(tenant, None)

    def _readable(self, events: Sequence[StoredEvent]) -> list[StoredEvent]:
        return [event for event in events if self._unreadable.readable(event)]

    def appended(self, tenant: str) -> None:
        """A commit added events to the tenant's log: wake its followers."""
        for woken in self._followers.get(tenant, ()):
            woken.set()

    def close(self) -> None:
        """End every follow() (the server is stopping); each returns after its current read."""
        self._closed = True
        for followers in self._followers.values():
            for woken in followers:
                woken.set()
