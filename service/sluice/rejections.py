"""Refusals kept for lookup: each refused event of an ingest, recorded off the accepted path.

`IngestService` hands `note()` what it refused once the outcome is known; note() only queues
(no I/O, no parsing) and never raises, and a background task writes the queue to the store
in batches. A full queue or a failing store drops refusals (counted in /metrics), never an
ingest (docs/decisions.md, "Refusals you can look up").
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from sluice.encoding import b64url_decode, b64url_encode
from sluice.errors import InvalidParameter
from sluice.metrics import Metrics
from sluice.model import DUPLICATE, RATE_LIMITED, Batch, RejectedEvent, Rejection, RejectionQuery
from sluice.storage import RejectionStore

__all__ = ["MAX_EVENT_CHARS", "MAX_PAGE", "Refusal", "RejectionLog", "decode_cursor"]

MAX_EVENT_CHARS = 4096  # an offending event is kept up to this many characters of its JSON
MAX_PAGE = 1000
KEEP_PER_TENANT = 10_000  # refusals kept per tenant; older ones make room
KEEP_SECONDS = 7 * 86_400  # and none older than this
QUEUE_LIMIT = 50_000  # refusals waiting to be written; past it new ones are dropped
FLUSH_SECONDS = 0.2  # how long a refusal may wait in the queue before it is written
_TRUNCATED = "…"

log = logging.getLogger("sluice.rejections")

# (body, indices) -> those events' JSON texts, for a dialect whose events have no byte spans in
# the body (gRPC's protobuf); called in the background, not while the request waits.
EventJson = Callable[[bytes, Sequence[int]], list[str]]


@dataclass(slots=True)
class Refusal:
    """One request's refusals, as queued by note()."""

    tenant: str
    at: int
    request_id: str
    source: str
    name_field: str
    events: list[tuple[Rejection, str, str]]  # (rejection, event name if known, event text)
    counted: Counter[str] = field(default_factory=Counter)  # reason -> refusals only counted
    # Set when the events' texts are still to be read from the body (gRPC): (body, reader).
    deferred: tuple[bytes, EventJson] | None = None


def decode_cursor(cursor: str) -> int:
    try:
        before = int(b64url_decode(cursor))
    except ValueError as exc:
        raise InvalidParameter("cursor", "cursor is not one this API returned.") from exc
    if not 0 < before < 2**63:
        raise InvalidParameter("cursor", "cursor is not one this API returned.")
    return before


def encode_cursor(seq: int) -> str:
    return b64url_encode(str(seq).encode())


def _bounded(text: str) -> str:
    return text if len(text) <= MAX_EVENT_CHARS else text[:MAX_EVENT_CHARS] + _TRUNCATED


def _name_of(text: str, name_field: str) -> str:
    """The event's name read from its JSON, when that is whole and holds a string there."""
    try:
        document = json.loads(text)
    except ValueError:
        return ""
    name = document.get(name_field) if isinstance(document, dict) else None
    return name if isinstance(name, str) else ""


class RejectionLog:
    """Records refusals in the background and reads them back per tenant."""

    def __init__(
        self,
        store: RejectionStore,
        metrics: Metrics,
        clock_us: Callable[[], int],
        *,
        keep: int = KEEP_PER_TENANT,
        keep_seconds: float = KEEP_SECONDS,
        queue_limit: int = QUEUE_LIMIT,
        flush_seconds: float = FLUSH_SECONDS,
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._clock_us = clock_us
        self.keep = keep
        self.keep_seconds = keep_seconds
        self._queue_limit = queue_limit
        self._flush_seconds = flush_seconds
        self._queue: deque[Refusal] = deque()
        self._queued = 0  # refusals in the queue
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def note(
        self,
        tenant: str,
        source: str,
        name_field: str,
        request_id: str,
        at: int,
        body: bytes,
        batch: Batch,
        rejected: Sequence[Rejection],
        names: dict[int, str],
        event_json: EventJson | None = None,
    ) -> None:
        """Queue a request's refusals: duplicates as counts, the others with their event.
        `names` holds the names of refused events that were parsed (index -> name)."""
        try:
            refusal = Refusal(tenant, at, request_id, source, name_field, [])
            spans = batch.spans
            for rejection in rejected:
                if rejection.reason == DUPLICATE:
                    refusal.counted[DUPLICATE] += 1
                    continue
                if event_json is not None:
                    text = ""  # read from the body in the background (_texts)
                elif rejection.index < len(spans):
                    start, end = spans[rejection.index]
                    cut = min(end, start + MAX_EVENT_CHARS * 4)  # never more bytes than kept
                    text = body[start:cut].decode(errors="replace")
                    text = text if end - start <= MAX_EVENT_CHARS * 4 else text + _TRUNCATED
                else:
                    text = ""
                refusal.events.append((rejection, names.get(rejection.index, ""), text))
            if event_json is not None and refusal.events:
                refusal.deferred = (body, event_json)
            self._enqueue(refusal)
        except Exception:  # recording must never fail an ingest
            log.exception("a refusal could not be recorded")
            self._metrics.rejections_dropped.inc(len(rejected))

    def count(self, tenant: str, reason: str = RATE_LIMITED, source: str = "") -> None:
        """A refusal that is only counted (a rate-limited request)."""
        refusal = Refusal(tenant, self._clock_us(), "", source, "", [])
        refusal.counted[reason] += 1
        self._enqueue(refusal)

    def _enqueue(self, refusal: Refusal) -> None:
        size = len(refusal.events) + sum(refusal.counted.values())
        if not size:
            return
        if self._queued + size > self._queue_limit:
            self._metrics.rejections_dropped.inc(size)
            return
        self._queue.append(refusal)
        self._queued += size
        self._wake.set()

    async def page(
        self, tenant: str, query: RejectionQuery
    ) -> tuple[list[RejectedEvent], int | None]:
        """Up to query.limit refusals, newest first, and the seq to continue before (None at
        the end)."""
        found = await self._store.list_rejections(tenant, replace(query, limit=query.limit + 1))
        more = len(found) > query.limit
        page = found[: query.limit]
        return page, page[-1].seq if more and page else None

    async def counts(self, tenant: str) -> dict[tuple[str, str], int]:
        return await self._store.rejection_counts(tenant)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="rejections")

    async def stop(self) -> None:
        """Write what is queued, then stop."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.flush()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            await asyncio.sleep(self._flush_seconds)  # let a burst gather into one write
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        """Write every queued refusal, one store call per tenant."""
        by_tenant: dict[str, list[Refusal]] = {}
        while self._queue:
            refusal = self._queue.popleft()
            by_tenant.setdefault(refusal.tenant, []).append(refusal)
        self._queued = 0
        keep_since = self._clock_us() - int(self.keep_seconds * 1_000_000)
        for tenant, refusals in by_tenant.items():
            kept, counts = _rows(refusals)
            try:
                await self._store.record_rejections(tenant, kept, counts, self.keep, keep_since)
            except Exception:
                dropped = sum(counts.values())  # every refusal, kept or only counted
                log.exception("refusals could not be written; %d dropped", dropped)
                self._metrics.rejections_dropped.inc(dropped)
                continue
            for (source, reason), n in counts.items():
                self._metrics.child(self._metrics.rejections_recorded, source, reason).inc(n)


def _rows(refusals: list[Refusal]) -> tuple[list[RejectedEvent], dict[tuple[str, str], int]]:
    kept: list[RejectedEvent] = []
    counts: Counter[tuple[str, str]] = Counter()
    for refusal in refusals:
        for reason, n in refusal.counted.items():
            counts[(refusal.source, reason)] += n
        for (rejection, name, text), read in zip(refusal.events, _texts(refusal), strict=True):
            text = read or text
            counts[(refusal.source, rejection.reason)] += 1
            kept.append(
                RejectedEvent(
                    refusal.at,
                    refusal.request_id,
                    refusal.source,
                    name or _name_of(text, refusal.name_field),
                    rejection.reason,
                    rejection.field,
                    rejection.message,
                    _bounded(text),
                )
            )
    return kept, dict(counts)


def _texts(refusal: Refusal) -> list[str]:
    """The events' texts read from a deferred body ("" each where there is none or it fails)."""
    if refusal.deferred is None:
        return [""] * len(refusal.events)
    body, read = refusal.deferred
    try:
        return read(body, [rejection.index for rejection, _, _ in refusal.events])
    except Exception:  # a body the parser refused may not decode here either
        return [""] * len(refusal.events)
