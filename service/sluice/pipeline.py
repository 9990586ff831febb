"""The transport-agnostic ingest path: authenticate, parse in Rust, claim keys, store, settle."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sluice import _core
from sluice.eventlog import EventLog
from sluice.keys import TOKEN_PREFIX, ApiKeys, bearer_token, key_id_of
from sluice.settings import Settings
from sluice.storage import EventRow, Store
from sluice.tokens import AccessTokens, load_secret

# Reasons a stored duplicate is reported with (the core uses the same strings in-batch).
DUPLICATE = _core.DUPLICATE
CONFLICT = _core.CONFLICT
INVALID = _core.INVALID


@dataclass(frozen=True, slots=True)
class IngestResult:
    batch: _core.Batch
    accepted: list[int]  # indices of the events this request stored
    rejected: list[tuple[int, str, str]]  # (index, reason, message), ascending index


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
        self._clock_us = clock_us
        self.events = EventLog(store, clock_us)
        self.access_tokens: AccessTokens | None = None  # set in start(): reads the data dir

    async def start(self) -> None:
        self.access_tokens = AccessTokens(
            load_secret(self.settings.data_dir, self.settings.jwt_secret)
        )
        await self.store.open()
        # Rebuild the in-memory index from the authoritative keys in the store.
        self.index.load(await self.store.committed_keys())

    async def stop(self) -> None:
        await self.store.close()

    async def authenticate(self, authorization: str | None) -> str:
        """Tenant for an Authorization header value (API key or access token)."""
        token = bearer_token(authorization)
        if token.startswith(TOKEN_PREFIX) or self.access_tokens is None:
            return await self.keys.tenant_for(token)
        return await self.keys.tenant_for_key_id(self.access_tokens.verify(token))

    async def login(self, api_key: str) -> str:
        """An access token for a live API key (Vayu's POST /login)."""
        tenant = await self.keys.tenant_for(api_key)
        assert self.access_tokens is not None, "pipeline not started"
        return self.access_tokens.mint(key_id_of(api_key), tenant)

    async def ready(self) -> None:
        await self.store.ping()

    async def ingest_vayu(self, tenant: str, body: bytes) -> IngestResult:
        now = self._clock_us()
        batch = _core.parse_vayu_batch(body, tenant, now, self.limits)
        return await self._ingest(tenant, "vayu", batch, now, detect_conflicts=False)

    async def ingest_grpc(self, tenant: str, body: bytes) -> IngestResult:
        now = self._clock_us()
        batch = _core.parse_ingest_request(body, tenant, now, self.limits)
        return await self._ingest(tenant, "grpc", batch, now, detect_conflicts=True)

    async def _ingest(
        self, tenant: str, source: str, batch: _core.Batch, now: int, *, detect_conflicts: bool
    ) -> IngestResult:
        rejected = list(batch.rejected)
        rows = batch.events
        if batch.dry_run:
            # Validation only: the would-be accepted events are reported, nothing is claimed.
            return IngestResult(batch, [row[0] for row in rows], rejected)
        if not rows:
            return IngestResult(batch, [], rejected)
        keys = [row[1] for row in rows]
        states = self.index.claim(keys)
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
                claimed.append(row[1])

        outcome = asyncio.ensure_future(self.store.append(tenant, source, now, to_store))
        outcome.add_done_callback(lambda done: self._settle(done, to_store, claimed))
        # shield: a client that disconnects must not cancel a commit already under way.
        offsets = await asyncio.shield(outcome)

        accepted: list[int] = []
        for row, offset in zip(to_store, offsets, strict=True):
            if offset is None:
                duplicates.append(row)
            else:
                accepted.append(row[0])
        rejected.extend(await self._duplicate_reasons(tenant, duplicates, detect_conflicts))
        rejected.sort()
        return IngestResult(batch, accepted, rejected)

    def _settle(
        self,
        done: asyncio.Future[list[int | None]],
        stored: Sequence[EventRow],
        claimed: list[bytes],
    ) -> None:
        """Confirm every key the store now holds; release our claims if the write failed."""
        if done.cancelled() or done.exception() is not None:
            self.index.release(claimed)
        else:
            self.index.confirm([row[1] for row in stored])

    async def _duplicate_reasons(
        self, tenant: str, duplicates: list[EventRow], detect_conflicts: bool
    ) -> list[tuple[int, str, str]]:
        reasons = []
        for row in duplicates:
            index, _key, name, id_, *_rest, content_hash = row
            reason = DUPLICATE
            if detect_conflicts:
                stored = await self.store.get_event(tenant, name, id_)
                if stored is not None and stored.content_hash != content_hash:
                    reason = CONFLICT
            message = (
                "an event with this name and id was already accepted with different content"
                if reason == CONFLICT
                else "an event with this name and id was already accepted"
            )
            reasons.append((index, reason, message))
        return reasons
