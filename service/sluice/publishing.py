"""Publishing accepted events to NATS JetStream through the store's transactional outbox.

The store queues each accepted event in the outbox in the transaction that stores it
(storage/postgres/writer.py). This relay claims queued events, publishes each to the stream with
`Nats-Msg-Id` = its idempotency key, waits for JetStream's acks, and only then marks them
published. An instance that dies anywhere in between leaves them queued, and they are
published again, by its successor or any other instance's relay; JetStream drops the repeat
as a duplicate of that Msg-Id (within the stream's duplicate window). So every accepted event
reaches the stream at least once, and exactly once by id.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import functools
import json
import logging
from typing import TYPE_CHECKING, Any

from sluice.metrics import Metrics
from sluice.model import StoredEvent
from sluice.readable import UnreadableEvents
from sluice.settings import Settings
from sluice.storage import Outbox, Store

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.js import JetStreamContext

log = logging.getLogger(__name__)

# Events claimed per outbox transaction (and acks awaited together).
BATCH = 500
# How often the outbox is read without a wake-up: it finds what another instance left behind.
POLL_SECONDS = 0.5
ACK_TIMEOUT_SECONDS = 5.0
# JetStream's default: a republish after a crash must come within this window to be dropped.
DUPLICATE_WINDOW_SECONDS = 120.0

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
# NATS subjects are `.`-separated tokens; `*` and `>` are wildcards and whitespace ends one.
# Other bytes are written %XX (UTF-8), so two different names never share a subject.
_PLAIN = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def subject_token(text: str) -> str:
    return "".join(chr(b) if b in _PLAIN else f"%{b:02X}" for b in text.encode())


@functools.lru_cache(maxsize=4096)  # tenants and event names repeat across every batch
def subject_for(prefix: str, tenant: str, name: str) -> str:
    """`<prefix>.<tenant>.<event name>`, each name made a single safe token."""
    return f"{prefix}.{subject_token(tenant)}.{subject_token(name)}"


def _utc(us: int) -> str:
    return (_EPOCH + datetime.timedelta(microseconds=us)).isoformat().replace("+00:00", "Z")


# One encoder for every message: json.dumps with options builds a new one per call.
_compact_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def message_body(event: StoredEvent) -> bytes:
    """The event as one JSON object; `data` is the stored payload, byte for byte."""
    head = _compact_json(
        {
            "tenant": event.tenant,
            "offset": event.offset,
            "id": event.id,
            "source": event.source,
            "name": event.name,
            "customer": event.customer,
            "timestamp": _utc(event.timestamp),
            "value": event.value,
            "receivedAt": _utc(event.received_at),
        }
    )
    return f'{head[:-1]},"data":{event.payload}}}'.encode()


def message_headers(key: bytes, event: StoredEvent) -> dict[str, str]:
    return {"Nats-Msg-Id": key.hex(), "Sluice-Offset": str(event.offset)}


class OutboxRelay:
    """One per instance: keeps publishing what the outbox holds until stopped. Neither NATS
    nor the store being down stops ingestion; the outbox simply grows until they are back."""

    def __init__(
        self,
        store: Outbox,
        url: str,
        stream: str = "SLUICE",
        subject_prefix: str = "sluice",
        poll_seconds: float = POLL_SECONDS,
        unreadable: UnreadableEvents | None = None,
    ) -> None:
        self._store = store
        # A queued event no reader can carry back is reported and left out of the stream
        # (marked like the others), so it can never hold the outbox up.
        self._unreadable = unreadable or UnreadableEvents(Metrics())
        self.url = url
        self.stream = stream
        self.subject_prefix = subject_prefix
        self.poll_seconds = poll_seconds
        self._woken = asyncio.Event()
        self._closed = False
        self._task: asyncio.Task[None] | None = None
        self._nats: Client | None = None
        self.published = 0  # events marked published by this relay

    def start(self) -> None:
        self._store.on_outbox_rows(self._woken.set)
        self._task = asyncio.create_task(self._run(), name="sluice-outbox-relay")

    async def stop(self) -> None:
        self._closed = True
        self._woken.set()
        if self._task is not None:
            await self._task
        if self._nats is not None:
            with contextlib.suppress(Exception):
                await self._nats.close()

    async def _run(self) -> None:
        waiting = False  # logged once per outage, not on every retry
        while not self._closed:
            try:
                js = await self._jetstream()
                while not self._closed:
                    relayed = await self._relay(js)
                    if waiting:
                        log.warning("outbox relay publishes again")
                        waiting = False
                    if relayed < BATCH:
                        await self._sleep()
            # The store or NATS is down (StoreUnavailable, nats.errors.Error, timeouts, OSError):
            # the events stay queued and the relay tries again.
            except Exception as exc:
                if not waiting:
                    log.warning("outbox relay waits for the store or NATS: %r", exc)
                    waiting = True
                await self._sleep()

    async def _sleep(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._woken.wait(), self.poll_seconds)
        self._woken.clear()

    async def _jetstream(self) -> JetStreamContext:
        """A connection (kept and reconnected by the client), and the stream made if missing."""
        import nats
        import nats.js.errors

        if self._nats is None or self._nats.is_closed:
            self._nats = await nats.connect(
                self.url,
                connect_timeout=2,
                reconnect_time_wait=0.5,
                max_reconnect_attempts=-1,
                error_cb=self._nats_error,
            )
        js = self._nats.jetstream(timeout=ACK_TIMEOUT_SECONDS)
        try:
            await js.stream_info(self.stream)
        except nats.js.errors.NotFoundError:
            await js.add_stream(
                name=self.stream,
                subjects=[f"{self.subject_prefix}.>"],
                duplicate_window=DUPLICATE_WINDOW_SECONDS,
            )
        return js

    @staticmethod
    async def _nats_error(exc: Exception) -> None:
        log.warning("nats: %r", exc)

    async def _relay(self, js: JetStreamContext) -> int:
        """Publish one claimed batch and mark it published; how many it held."""
        async with self._store.unpublished(BATCH) as claimed:
            acks: list[asyncio.Future[Any]] = []
            try:
                for key, event in claimed:
                    if not self._unreadable.readable(event):
                        continue
                    subject = subject_for(self.subject_prefix, event.tenant, event.name)
                    headers = message_headers(key, event)
                    acks.append(
                        await js.publish_async(subject, message_body(event), headers=headers)
                    )
                # Every ack (or duplicate notice) before the claim commits; any failure raises
                # here, and the batch stays queued.
                await asyncio.wait_for(asyncio.gather(*acks), ACK_TIMEOUT_SECONDS)
            except BaseException:
                for ack in acks:  # each pending ack holds one of the client's publish slots
                    ack.cancel()
                raise
        self.published += len(claimed)
        return len(claimed)


def start_relay(
    settings: Settings, store: Store, unreadable: UnreadableEvents | None = None
) -> OutboxRelay | None:
    """The running relay when publishing is configured (SLUICE_NATS_URL), else None."""
    if not settings.nats_url:
        return None
    if not isinstance(store, Outbox):
        raise ValueError("publishing (SLUICE_NATS_URL) needs the PostgreSQL store")
    relay = OutboxRelay(
        store,
        settings.nats_url,
        settings.nats_stream,
        settings.nats_subject_prefix,
        unreadable=unreadable,
    )
    relay.start()
    return relay
