"""The profiles API's rules: which user an event is for, which events are kept, what they change.

docs/contracts.md §5: `update`/`login` merge attributes into the profile, a second
`confirmation` of an orderId is discarded, `email_open` is kept once per user per window,
and bot traffic is discarded.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from sluice import _core
from sluice.errors import UnknownUser
from sluice.model import EventQuery, EventRow
from sluice.storage import Store

# User agents discarded as bots by default (case-insensitive search); configurable.
DEFAULT_BOT_PATTERN = r"bot|crawl|spider|slurp|headless|scraper|lighthouse|pingdom|phantomjs"
EMAIL_OPEN_WINDOW_SECONDS = 20 * 60
ATTRIBUTE_EVENTS = ("update", "login")

# The ingest path's idempotent commit, IngestService.commit: (tenant, source, rows, now) ->
# (indices stored, rows that were duplicates).
CommitRows = Callable[
    [str, str, Sequence[EventRow], int], Awaitable[tuple[list[int], list[EventRow]]]
]


@dataclass(frozen=True, slots=True)
class ProfileOutcome:
    user_field: str  # "email" or "_id": how the request identified the user
    discarded: str | None  # why the event was discarded; None when it was created


class ProfileEvents:
    def __init__(
        self,
        store: Store,
        commit_rows: CommitRows,
        limits: _core.Limits,
        clock_us: Callable[[], int],
        bot_pattern: str = DEFAULT_BOT_PATTERN,
        email_open_window_seconds: int = EMAIL_OPEN_WINDOW_SECONDS,
    ) -> None:
        self._store = store
        self._limits = limits
        self._clock_us = clock_us
        self._commit_rows = commit_rows
        self._bots = re.compile(bot_pattern, re.IGNORECASE) if bot_pattern else None
        self._email_open_window_us = email_open_window_seconds * 1_000_000
        # Serialises the read-then-write of the email_open window within this process.
        self._email_open_lock = asyncio.Lock()

    async def ingest(self, tenant: str, body: bytes, user_agent: str) -> ProfileOutcome:
        """Parse one profiles request and apply it: stored, merged into the profile, or
        discarded (with why)."""
        now_us = self._clock_us()
        event = _core.parse_profiles_event(body, now_us, self._limits)
        field = event.user_field
        if self._bots is not None and self._bots.search(user_agent):
            return ProfileOutcome(field, "Events from bots are discarded")
        if field == "email":
            customer = await self._store.find_customer(tenant, email=event.user)
        else:
            customer = await self._store.get_customer(tenant, event.user)
        if customer is None:
            raise UnknownUser(f"No user with {field} {event.user!r} exists; create it first.")

        if event.type == "email_open":
            async with self._email_open_lock:
                recent = EventQuery(
                    start=now_us - self._email_open_window_us,
                    name="email_open",
                    customer=customer.id,
                    limit=1,
                )
                if await self._store.query_events(tenant, recent):
                    return ProfileOutcome(field, "Only one email open per 20 minutes is kept")
                await self._commit(tenant, event, customer.id, now_us)
            return ProfileOutcome(field, None)

        if await self._commit(tenant, event, customer.id, now_us):
            return ProfileOutcome(field, "An event for this orderId was already confirmed")
        if event.type in ATTRIBUTE_EVENTS:
            changes = json.loads(event.attributes_json)  # the core hands over an object
            await self._store.merge_customer_attributes(tenant, customer.id, changes)
        return ProfileOutcome(field, None)

    async def _commit(
        self, tenant: str, event: _core.ProfileEvent, customer: str, now_us: int
    ) -> bool:
        """Store the event; True if it was a duplicate (only confirmations can be)."""
        # Only confirmations carry an idempotency key of the client's; other types are facts
        # with no id, so each gets a fresh one.
        event_id = event.order_id if event.order_id is not None else uuid.uuid4().hex
        timestamp = event.timestamp_us
        row = EventRow(
            index=0,
            key=_core.idempotency_key(tenant, event.name, event_id),
            name=event.name,
            id=event_id,
            customer=customer,
            timestamp_us=timestamp,
            value=None,
            payload=event.attributes_json,
            content_hash=_core.content_hash(
                event.name, customer, timestamp, None, event.attributes_json
            ),
        )
        _stored, duplicates = await self._commit_rows(tenant, "profiles", [row], now_us)
        return bool(duplicates)
