"""The transport-agnostic ingest path: authenticate, parse in Rust, claim keys, store, settle."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sluice import _core
from sluice.admission import Overloaded, StoreAdmission
from sluice.errors import BatchRejected, RateLimited, StoreUnavailable
from sluice.eventlog import EventLog
from sluice.keys import TOKEN_PREFIX, ApiKeys, Principal, bearer_token
from sluice.metrics import Metrics
from sluice.model import EventRow, Quota
from sluice.profiles import ProfileEvents, ProfileOutcome
from sluice.ratelimit import RateLimiter
from sluice.registry import CustomerRegistry
from sluice.settings import Settings
from sluice.storage import Store
from sluice.tokens import AccessTokens, load_secret

if TYPE_CHECKING:
    from sluice.ratelimit_redis import RedisRateLimiter

# Reasons a stored duplicate is reported with (the core uses the same strings in-batch).
DUPLICATE = _core.DUPLICATE
CONFLICT = _core.CONFLICT
INVALID = _core.INVALID
# An Enso record whose CustomerEntityId is not in the tenant's registry.
UNKNOWN_CUSTOMER = "UNKNOWN_CUSTOMER"


@dataclass(frozen=True, slots=True)
class IngestResult:
    batch: _core.Batch
    accepted: list[int]  # indices of the events this request stored
    rejected: list[tuple[int, str, str, str]]  # (index, reason, field, message), ascending index


class Pipeline:
    """One per process; shared by the HTTP and gRPC transports."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        clock_us: Callable[[], int] = lambda: time.time_ns() // 1000,
    ) -> None:
        self.store = store
        self.settings = settings
        self.limits = settings.limits()
        self.index = _core.IdempotencyIndex()
        self.keys = ApiKeys(store, settings.key_cache_seconds)
        self.rate_limiter = RateLimiter()
        # Shared by every instance when Redis is configured; the local limiter is its fallback.
        self.shared_rate_limiter: RedisRateLimiter | None = None
        if settings.redis_url:
            from sluice.ratelimit_redis import RedisRateLimiter

            self.shared_rate_limiter = RedisRateLimiter(settings.redis_url, self.rate_limiter)
        self.metrics = Metrics()
        store.observe_commits(self.metrics.record_commit)
        self.admission = StoreAdmission(settings.store_queue_limit, settings.tenant_queue_share)
        self._clock_us = clock_us
        self.events = EventLog(store, clock_us)
        self.customers = CustomerRegistry(store, clock_us)
        self.profiles = ProfileEvents(
            store,
            self._commit_profile_rows,
            settings.bot_user_agents,
            settings.email_open_window_seconds,
        )
        self.access_tokens: AccessTokens | None = None  # set in start(): reads the data dir
        # The last failed write, as (monotonic time it stops counting, message, retry_after):
        # a store can answer reads while refusing writes (a full disk), so readiness asks both.
        self._write_outage: tuple[float, str, int] | None = None
        # Set on each failed write, so a health reporter can re-check at once (rpc/health.py).
        self.write_failed = asyncio.Event()

    async def start(self) -> None:
        self.access_tokens = AccessTokens(
            load_secret(self.settings.data_dir, self.settings.jwt_secret)
        )
        await self.store.open()
        # Rebuild the in-memory index from the authoritative keys in the store.
        self.index.load(await self.store.committed_keys())

    async def stop(self) -> None:
        if self.shared_rate_limiter is not None:
            await self.shared_rate_limiter.close()
        await self.store.close()

    async def authenticate(self, authorization: str | None) -> Principal:
        """The key behind an Authorization header value (an API key or an access token)."""
        token = bearer_token(authorization)
        if token.startswith(TOKEN_PREFIX) or self.access_tokens is None:
            return await self.keys.verify(token)
        return await self.keys.verify_key_id(self.access_tokens.verify(token))

    async def admit(self, authorization: str | None) -> tuple[str, Quota]:
        """Authenticate, then count the request against its key's rate: (tenant, quota).

        Raises Unauthenticated, or RateLimited before any work is done for the request.
        """
        principal = await self.authenticate(authorization)
        limit = principal.rate_limit
        if limit is None:
            limit = self.settings.rate_limit
        try:
            if self.shared_rate_limiter is not None:
                return principal.tenant, await self.shared_rate_limiter.admit(
                    principal.key_id, limit
                )
            return principal.tenant, self.rate_limiter.admit(principal.key_id, limit)
        except RateLimited:
            self.metrics.rate_limited.inc()
            raise

    async def login(self, api_key: str) -> str:
        """An access token for a live API key (Vayu's POST /login)."""
        principal = await self.keys.verify(api_key)
        assert self.access_tokens is not None, "pipeline not started"
        return self.access_tokens.mint(principal.key_id, principal.tenant)

    async def ready(self) -> None:
        """Raise StoreUnavailable while the store does not answer, or for `retry_after` seconds
        after a write failed on it (until a write succeeds)."""
        await self.store.ping()
        outage = self._write_outage
        if outage is not None and time.monotonic() < outage[0]:
            raise StoreUnavailable(f"the last write failed: {outage[1]}", outage[2])

    async def ingest_vayu(self, tenant: str, body: bytes) -> IngestResult:
        self.admission.check(tenant)  # before parsing: refusing a flood stays cheap
        now = self._clock_us()
        batch = _core.parse_vayu_batch(body, tenant, now, self.limits)
        return await self._ingest(tenant, "vayu", batch, now, key_field="ref")

    async def dry_run_vayu(
        self, tenant: str, body: bytes
    ) -> tuple[IngestResult, dict[str, str | None]]:
        """Validate a Vayu batch and match its customerAliases; claims and stores nothing.

        Returns the result (every valid event "accepted") and alias -> matched customer id.
        """
        now = self._clock_us()
        batch = _core.parse_vayu_batch(body, tenant, now, self.limits)
        matched: dict[str, str | None] = {}
        for alias in dict.fromkeys(row.customer for row in batch.events):
            customer = await self.store.find_customer(tenant, alias=alias)
            matched[alias] = customer.id if customer is not None else None
        result = IngestResult(batch, [row.index for row in batch.events], list(batch.rejected))
        return result, matched

    async def ingest_grpc(self, tenant: str, body: bytes) -> IngestResult:
        self.admission.check(tenant)  # before parsing: refusing a flood stays cheap
        now = self._clock_us()
        batch = _core.parse_ingest_request(body, tenant, now, self.limits)
        return await self._ingest(tenant, "grpc", batch, now, detect_conflicts=True, key_field="id")

    async def ingest_grpc_batch(self, tenant: str, body: bytes) -> tuple[int, IngestResult]:
        """One IngestStream message: (the client's sequence for it, the result)."""
        self.admission.check(tenant)  # before parsing: refusing a flood stays cheap
        now = self._clock_us()
        sequence, batch = _core.parse_ingest_stream_request(body, tenant, now, self.limits)
        result = await self._ingest(
            tenant, "grpc", batch, now, detect_conflicts=True, key_field="id"
        )
        return sequence, result

    async def ingest_enso(self, tenant: str, body: bytes) -> IngestResult:
        """Enso: each record's CustomerEntityId must be a customer of the tenant."""
        self.admission.check(tenant)  # before parsing: refusing a flood stays cheap
        now = self._clock_us()
        batch = _core.parse_enso_batch(body, tenant, now, self.limits)
        rows = batch.events
        known = await self.store.known_customer_ids(tenant, {row.customer for row in rows})
        unknown = [
            (row.index, UNKNOWN_CUSTOMER, "CustomerEntityId", "Customer entity not found")
            for row in rows
            if row.customer not in known
        ]
        rows = [row for row in rows if row.customer in known]
        return await self._ingest(
            tenant, "enso", batch, now, rows=rows, extra_rejected=unknown, key_field="eventId"
        )

    async def ingest_collect(self, tenant: str, body: bytes) -> str:
        """Collect: all or nothing; duplicates are dropped silently. Returns the pingId."""
        self.admission.check(tenant)  # before parsing: refusing a flood stays cheap
        now = self._clock_us()
        ping_id = str(uuid.uuid4())
        allowed = self.settings.collect_event_types.get(tenant)
        batch = _core.parse_collect_batch(
            body, tenant, now, self.limits, ping_id, list(allowed) if allowed else None
        )
        self._count_parsed("collect", batch.total, batch.rejected)
        invalid = [
            (i, field, message) for i, reason, field, message in batch.rejected if reason == INVALID
        ]
        if invalid:
            type_failed = any(field == "eventType" for _i, field, _m in invalid)
            raise BatchRejected("invalid event type" if type_failed else "invalid event", invalid)
        await self._commit_rows(tenant, "collect", batch.events, now)
        return ping_id

    async def ingest_profile(self, tenant: str, body: bytes, user_agent: str) -> ProfileOutcome:
        now = self._clock_us()
        event = _core.parse_profiles_event(body, now, self.limits)
        return await self.profiles.ingest(tenant, event, user_agent, now)

    async def _ingest(
        self,
        tenant: str,
        source: str,
        batch: _core.Batch,
        now: int,
        *,
        key_field: str,
        detect_conflicts: bool = False,
        rows: Sequence[EventRow] | None = None,
        extra_rejected: Sequence[tuple[int, str, str, str]] = (),
    ) -> IngestResult:
        """Store a batch's valid rows (or `rows`, a subset of them) and report every event."""
        rows = batch.events if rows is None else rows
        rejected = [*batch.rejected, *extra_rejected]
        if not batch.dry_run:
            self._count_parsed(source, batch.total, rejected)
        if batch.dry_run:
            # Validation only: the would-be accepted events are reported, nothing is claimed.
            return IngestResult(batch, [row.index for row in rows], sorted(rejected))
        accepted, duplicates = await self._commit_rows(tenant, source, rows, now)
        rejected.extend(
            await self._duplicate_reasons(tenant, duplicates, detect_conflicts, key_field)
        )
        rejected.sort()
        return IngestResult(batch, accepted, rejected)

    async def _commit_rows(
        self, tenant: str, source: str, rows: Sequence[EventRow], now: int
    ) -> tuple[list[int], list[EventRow]]:
        """Claim keys, store durably, settle the index: (indices stored, rows that were dups)."""
        if not rows:
            return [], []
        states = self.index.claim([row.key for row in rows])
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
            release_place = self.admission.reserve(tenant)
        except Overloaded:
            self.index.release(claimed)  # a refused request leaves no key claimed
            raise
        outcome = asyncio.ensure_future(self.store.append(tenant, source, now, to_store))
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
        self.metrics.child(self.metrics.events, source, "accepted").inc(len(accepted))
        self.metrics.child(self.metrics.events, source, "duplicate").inc(len(duplicates))
        return accepted, duplicates

    def _count_parsed(
        self, source: str, total: int, rejected: Sequence[tuple[int, str, str, str]]
    ) -> None:
        """Batch size and the events refused before the store (the store counts the rest)."""
        self.metrics.child(self.metrics.batch_events, source).observe(total)
        for _index, reason, _field, _message in rejected:
            self.metrics.child(self.metrics.events, source, reason.lower()).inc()

    async def _commit_profile_rows(
        self, tenant: str, rows: Sequence[EventRow], now: int
    ) -> list[EventRow]:
        return (await self._commit_rows(tenant, "profiles", rows, now))[1]

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
            self.index.release(claimed)
            if isinstance(error, StoreUnavailable):
                until = time.monotonic() + error.retry_after
                self._write_outage = (until, str(error), error.retry_after)
                self.write_failed.set()
            return
        self.index.confirm([row.key for row in stored])
        self._write_outage = None
        if any(offset is not None for offset in done.result()):
            self.events.appended(tenant)

    async def _duplicate_reasons(
        self, tenant: str, duplicates: list[EventRow], detect_conflicts: bool, key_field: str
    ) -> list[tuple[int, str, str, str]]:
        """(index, reason, key_field, message) for keys already stored; `key_field` names the
        id as the dialect spells it ("ref", "id", "eventId")."""
        reasons = []
        for row in duplicates:
            reason = DUPLICATE
            if detect_conflicts:
                stored = await self.store.get_event(tenant, row.name, row.id)
                if stored is not None and stored.content_hash != row.content_hash:
                    reason = CONFLICT
            message = (
                "an event with this name and id was already accepted with different content"
                if reason == CONFLICT
                else "an event with this name and id was already accepted"
            )
            reasons.append((row.index, reason, key_field, message))
        return reasons
