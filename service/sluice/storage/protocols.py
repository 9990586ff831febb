"""What the services need from durable storage, one narrow protocol per role.

A service names the role it uses (the key cache a `KeyStore`, the event log an `EventStore`),
so a test double or a new backend implements only that. Each backend's store is one object
that satisfies all of them (`Store`). Every method may raise StoreUnavailable.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol, runtime_checkable

from sluice.errors import CustomerConflict
from sluice.model import (
    ApiKeyRecord,
    Customer,
    EventQuery,
    EventRow,
    Measurement,
    Meter,
    RejectedEvent,
    RejectionQuery,
    StoredEvent,
)


@runtime_checkable
class StoreLifecycle(Protocol):
    """Opening, closing and probing a store."""

    async def open(self) -> None:
        """Connect, apply migrations, assert durability settings."""

    async def close(self) -> None: ...

    async def ping(self) -> None:
        """Raise StoreUnavailable unless the store answers a trivial query."""


@runtime_checkable
class EventStore(Protocol):
    """The durable event log of every tenant, and its idempotency keys."""

    async def append(
        self, tenant: str, source: str, received_at: int, rows: Sequence[EventRow]
    ) -> list[int | None]:
        """Durably store rows; for each, its new offset, or None if (tenant, name, id) existed.

        Returns only after the transaction holding the rows has committed and synced.
        """

    async def committed_keys(self) -> bytes:
        """Every stored idempotency key, as concatenated 16-byte keys (index rebuild)."""

    async def get_event(self, tenant: str, name: str, id: str) -> StoredEvent | None: ...

    async def read_log(self, tenant: str, after_offset: int, limit: int) -> list[StoredEvent]:
        """Events of a tenant with offset > after_offset, in offset order."""

    async def query_events(self, tenant: str, query: EventQuery) -> list[StoredEvent]:
        """Live (not deleted) events matching the query, by (timestamp, offset)."""

    async def count_events(self, tenant: str, query: EventQuery) -> int:
        """How many live events match the query's filters (its cursor and limit are ignored)."""

    async def live_events_by_id(
        self, tenant: str, ids: Sequence[str], name: str | None = None
    ) -> list[StoredEvent]:
        """For each id, the first stored live event with that id (of any name, or of `name`),
        in offset order."""

    async def delete_events_by_id(
        self, tenant: str, ids: Sequence[str], now_us: int, name: str | None = None
    ) -> list[StoredEvent]:
        """Soft-delete, atomically, the first stored live event of each id (of any name, or of
        `name`); return them deleted.

        A deleted event leaves every read but keeps its (name, id) taken.
        """

    def observe_commits(self, observer: Callable[[int, float, float], None]) -> None:
        """Have `observer(rows, seconds, commit_seconds)` called after each commit of appended
        rows; commit_seconds is the COMMIT alone (the wait for the log's fsync)."""


@runtime_checkable
class KeyStore(Protocol):
    """Tenants and their API keys (stored hashed)."""

    async def ensure_tenant(self, tenant: str, now_us: int) -> None: ...

    async def list_tenants(self) -> list[tuple[str, int]]:
        """Every tenant as (name, created_at in µs), by name."""

    async def add_api_key(self, record: ApiKeyRecord) -> None: ...

    async def find_api_key(self, key_id: str) -> ApiKeyRecord | None: ...

    async def set_api_key_rate_limit(self, key_id: str, rate_limit: int | None) -> bool:
        """Set a key's own rate limit (None: back to the default); False if no such key."""

    async def list_api_keys(self) -> list[ApiKeyRecord]: ...

    async def revoke_api_key(self, key_id: str, now_us: int) -> bool:
        """Revoke a key; False if no live key has that id."""


@runtime_checkable
class CustomerStore(Protocol):
    """The customer registry. Every lookup is within one tenant; nothing matches across
    tenants."""

    async def put_customer(self, tenant: str, customer: Customer) -> Customer:
        """Insert, or replace every field of, a customer; a replaced one keeps its created_at.

        Raises CustomerConflict, writing nothing, when another customer of the tenant holds
        one of its aliases or its email.
        """

    async def put_customers(
        self,
        tenant: str,
        customers: Sequence[Customer],
        *,
        all_or_nothing: bool = False,
        dry_run: bool = False,
    ) -> dict[int, CustomerConflict]:
        """put_customer for each, in order, in one transaction (bulk import).

        Returns the refused ones by index; every other customer was stored, unless
        `all_or_nothing` and one was refused, or `dry_run`: then nothing was.
        """

    async def get_customer(self, tenant: str, id: str) -> Customer | None: ...

    async def delete_customer(self, tenant: str, id: str) -> bool:
        """Delete a customer and free its aliases and email; False if there was none."""

    async def list_customers(self, tenant: str, after_id: str | None, limit: int) -> list[Customer]:
        """Up to limit customers with id > after_id (all when None), in id order."""

    async def find_customer(
        self, tenant: str, *, email: str | None = None, alias: str | None = None
    ) -> Customer | None:
        """The customer with this email (any case), or whose id, else one of whose aliases,
        is `alias`. Exactly one of email and alias is given."""

    async def known_customer_ids(self, tenant: str, ids: Collection[str]) -> set[str]:
        """Which of ids are customers of the tenant, in one query."""

    async def count_customers(self, tenant: str) -> int: ...

    async def find_customer_by_attribute(
        self, tenant: str, key: str, value: str
    ) -> Customer | None:
        """The first customer (by id) whose attribute `key` is the string `value` (Vayu's
        lookups by name and by external id; a scan of the tenant's customers)."""

    async def merge_customer_attributes(
        self, tenant: str, id: str, changes: dict[str, Any], now_us: int | None = None
    ) -> Customer | None:
        """Shallow-merge changes into a customer's attributes atomically; a None value removes
        its key. None if there is no such customer. now_us defaults to the current time."""


@runtime_checkable
class MeterStore(Protocol):
    """A tenant's meters and measurements (Vayu's metering surface)."""

    async def put_meter(self, tenant: str, meter: Meter) -> None:
        """Insert, or replace (by id), a meter."""

    async def get_meter(self, tenant: str, id: str) -> Meter | None: ...

    async def list_meters(self, tenant: str, after_id: str | None, limit: int) -> list[Meter]:
        """Up to limit meters with id > after_id, in id order."""

    async def count_meters(self, tenant: str) -> int: ...

    async def meters_for_events(self, tenant: str, event_names: Collection[str]) -> list[Meter]:
        """The meters of any of these event names, in id order."""

    async def delete_meter(self, tenant: str, id: str) -> bool:
        """Delete a meter and its measurements; False if there was none."""

    async def put_measurement(self, tenant: str, measurement: Measurement) -> None: ...

    async def get_measurement(self, tenant: str, id: str) -> Measurement | None: ...

    async def list_measurements(
        self, tenant: str, after_id: str | None, limit: int
    ) -> list[Measurement]:
        """Up to limit measurements with id > after_id, in id order."""

    async def count_measurements(self, tenant: str) -> int: ...

    async def delete_measurement(self, tenant: str, id: str) -> bool: ...


@runtime_checkable
class UsageStore(Protocol):
    """What usage queries read: live events and measurements by customer and time."""

    async def usage_events(
        self,
        tenant: str,
        customers: Sequence[str],
        names: Sequence[str],
        start: int | None,
        end: int | None,
    ) -> list[StoredEvent]:
        """Live events whose customer and name are among those given, with start <= timestamp
        < end (either open when None), in no particular order."""

    async def usage_measurements(
        self, tenant: str, customer_ids: Sequence[str], start: int | None, end: int | None
    ) -> list[Measurement]:
        """Measurements of these customers with start <= day < end."""


@runtime_checkable
class RejectionStore(Protocol):
    """Refused events kept per tenant for lookup, bounded by count and age, and counts of the
    refusals that are only counted (duplicates, rate limits)."""

    async def record_rejections(
        self,
        tenant: str,
        rejections: Sequence[RejectedEvent],
        counts: Mapping[tuple[str, str], int],
        keep: int,
        keep_since: int,
    ) -> None:
        """Store a tenant's refusals and add `counts` ((source, reason) -> n) to its totals,
        then drop its refusals past the newest `keep` and those from before `keep_since`."""

    async def list_rejections(self, tenant: str, query: RejectionQuery) -> list[RejectedEvent]:
        """Kept refusals matching the query, newest first."""

    async def rejection_counts(self, tenant: str) -> dict[tuple[str, str], int]:
        """Every refusal of the tenant ever recorded or counted, by (source, reason)."""


@runtime_checkable
class Outbox(Protocol):
    """Accepted events queued for publishing, in the transaction that stored them
    (the PostgreSQL store opened with outbox=True; publishing.py relays them)."""

    def unpublished(
        self, limit: int
    ) -> AbstractAsyncContextManager[list[tuple[bytes, StoredEvent]]]:
        """Claim up to `limit` queued events, oldest first, as (key, event): published (no
        longer queued) when the block ends normally, still queued when it raises."""

    def on_outbox_rows(self, callback: Callable[[], None]) -> None:
        """Have `callback()` called after each commit that queued events for publishing."""


@runtime_checkable
class Store(
    StoreLifecycle,
    EventStore,
    KeyStore,
    CustomerStore,
    MeterStore,
    UsageStore,
    RejectionStore,
    Protocol,
):
    """Every role at once: what a backend provides, and what the composition root opens."""
