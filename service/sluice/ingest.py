"""The ingest use case: parse a batch in the core, claim its keys, store it, settle the index.

One path for every API: what differs between them is a Dialect record (dialects.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from sluice import _core
from sluice.admission import Overloaded, StoreAdmission
from sluice.dialects import Dialect
from sluice.errors import StoreUnavailable
from sluice.eventlog import EventLog
from sluice.metrics import Metrics
from sluice.model import CONFLICT, DUPLICATE, INVALID, EventRow, IngestOutcome, Rejection
from sluice.readiness import Readiness
from sluice.rejections import RejectionLog
from sluice.storage import EventStore


class IngestService:
    """One per process; shared by the HTTP and gRPC transports."""

    def __init__(
        self,
        store: EventStore,
        index: _core.IdempotencyIndex,
        admission: StoreAdmission,
        readiness: Readiness,
        log: EventLog,
        metrics: Metrics,
        clock_us: Callable[[], int],
        rejections: RejectionLog | None = None,
    ) -> None:
        self._store = store
        self._index = index
        self._admission = admission
        self._readiness = readiness
        self._log = log
        self._metrics = metrics
        self._clock_us = clock_us
        self._rejections = rejections

    async def ingest(
        self,
        dialect: Dialect,
        tenant: str,
        body: bytes,
        receipt: str = "",
        request_id: str = "",
    ) -> IngestOutcome:
        """Store a request's valid, new events and report every event of it; its refusals are
        queued for the rejections log under `request_id`.

        A batch marked as a dry run (gRPC's `dry_run`) is validated and screened only.
        """
        self._admission.check(tenant)  # before parsing: refusing a flood stays cheap
        now = self._clock_us()
        batch = dialect.parse(body, tenant, now, receipt)
        rows, rejected = await self._screen(dialect, tenant, batch)
        if batch.dry_run:
            return _validated(batch, rows, rejected)
        self._count_parsed(dialect.source, batch.total, rejected)
        if dialect.refuse_batch is not None:
            invalid = [rejection for rejection in rejected if rejection.reason == INVALID]
            if invalid:
                self._record(dialect, tenant, request_id, now, body, batch, invalid)
                raise dialect.refuse_batch(invalid)
        accepted, duplicates = await self.commit(
            tenant, dialect.source, rows, now, count_repeats=False
        )
        repeats = await self._repeats(dialect, tenant, duplicates)
        for repeat in repeats:  # each as what it turned out to be: duplicate or conflict
            self._metrics.child(self._metrics.events, dialect.source, repeat.reason.lower()).inc()
        rejected.extend(repeats)
        rejected.sort()
        if rejected:
            self._record(dialect, tenant, request_id, now, body, batch, rejected)
        return IngestOutcome(batch, accepted, rejected)

    def _record(
        self,
        dialect: Dialect,
        tenant: str,
        request_id: str,
        now: int,
        body: bytes,
        batch: _core.Batch,
        rejected: Sequence[Rejection],
    ) -> None:
        """Queue the refusals for the rejections log (no I/O; never raises)."""
        if self._rejections is None:
            return
        refused = {rejection.index for rejection in rejected}
        names = {row.index: row.name for row in batch.events if row.index in refused}
        self._rejections.note(
            tenant,
            dialect.source,
            dialect.name_field,
            request_id,
            now,
            body,
            batch,
            rejected,
            names,
            dialect.event_json,
        )

    async def validate(self, dialect: Dialect, tenant: str, body: bytes) -> IngestOutcome:
        """Parse and validate a batch; claims and stores nothing (Vayu's dry run).

        Every valid event is reported accepted; its row is in the outcome's batch.
        """
        batch = dialect.parse(body, tenant, self._clock_us(), "")
        return _validated(batch, *await self._screen(dialect, tenant, batch))

    @staticmethod
    async def _screen(
        dialect: Dialect, tenant: str, batch: _core.Batch
    ) -> tuple[Sequence[EventRow], list[Rejection]]:
        """The batch's valid rows that pass the dialect's screen, and every refusal so far."""
        rows: Sequence[EventRow] = batch.events
        rejected = [Rejection(*rejection) for rejection in batch.rejected]
        if dialect.screen is not None:
            rows, screened_out = await dialect.screen(tenant, rows)
            rejected.extend(screened_out)
        return rows, rejected

    async def commit(
        self,
        tenant: str,
        source: str,
        rows: Sequence[EventRow],
        now: int,
        count_repeats: bool = True,
    ) -> tuple[list[int], list[EventRow]]:
        """Claim keys, store durably, settle the index: (indices stored, rows whose key was
        already stored). Those rows are counted as duplicates unless `count_repeats` is off
        (the caller then tells duplicates from conflicts and counts them itself)."""
        if not rows:
            return [], []
        states = self._index.claim([row.key for row in rows])
        to_store: list[EventRow] = []
        claimed: list[bytes] = []
        duplicates: list[EventRow] = []
        for row, state in zip(rows, states, strict=True):
            if state == _core.COMMITTED:
                duplicates.append(row)
                continue
            # IN_FLIGHT keys go to the store too: its unique constraint decides, so a key whose
            # first writer fails is still accepted here rather than reported as a duplicate.
            to_store.append(row)
            if state == _core.CLAIMED:
                claimed.append(row.key)

        try:
            release_place = self._admission.reserve(tenant)
        except Overloaded:
            self._index.release(claimed)  # a refused request leaves no key claimed
            raise
        outcome = asyncio.ensure_future(self._store.append(tenant, source, now, to_store))
        # The place is held until the store answers, even if the client has gone.
        outcome.add_done_callback(lambda _done: release_place())
        outcome.add_done_callback(lambda done: self._settle(done, tenant, to_store, claimed))
        # shield: a client that disconnects must not cancel a commit already under way.
        offsets = await asyncio.shield(outcome)

        accepted: list[int] = []
        for row, offset in zip(to_store, offsets, strict=True):
            if offset is None:
                duplicates.append(row)
            else:
                accepted.append(row.index)
        self._metrics.child(self._metrics.events, source, "accepted").inc(len(accepted))
        if count_repeats:
            self._metrics.child(self._metrics.events, source, "duplicate").inc(len(duplicates))
        return accepted, duplicates

    def _count_parsed(self, source: str, total: int, rejected: Sequence[Rejection]) -> None:
        """Batch size and the events refused before the store (the store counts the rest)."""
        self._metrics.child(self._metrics.batch_events, source).observe(total)
        for rejection in rejected:
            self._metrics.child(self._metrics.events, source, rejection.reason.lower()).inc()

    def _settle(
        self,
        done: asyncio.Future[list[int | None]],
        tenant: str,
        stored: Sequence[EventRow],
        claimed: list[bytes],
    ) -> None:
        """Confirm every key the store now holds and wake the tenant's log followers; release
        our claims if the write failed."""
        error = None if done.cancelled() else done.exception()
        if done.cancelled() or error is not None:
            self._index.release(claimed)
            if isinstance(error, StoreUnavailable):
                self._readiness.write_refused(error)
            return
        self._index.confirm([row.key for row in stored])
        self._readiness.write_succeeded()
        if any(offset is not None for offset in done.result()):
            self._log.appended(tenant)

    async def _repeats(
        self, dialect: Dialect, tenant: str, duplicates: list[EventRow]
    ) -> list[Rejection]:
        """A rejection for each event whose key the store already holds."""
        rejections = []
        for row in duplicates:
            if dialect.conflict_message is not None:
                stored = await self._store.get_event(tenant, row.name, row.id)
                if stored is not None and stored.content_hash != row.content_hash:
                    rejections.append(
                        Rejection(row.index, CONFLICT, dialect.key_field, dialect.conflict_message)
                    )
                    continue
            rejections.append(
                Rejection(row.index, DUPLICATE, dialect.key_field, dialect.duplicate_message)
            )
        return rejections


def _validated(
    batch: _core.Batch, rows: Sequence[EventRow], rejected: list[Rejection]
) -> IngestOutcome:
    """A validation's outcome: the would-be accepted events reported, nothing claimed."""
    return IngestOutcome(batch, [row.index for row in rows], sorted(rejected))
