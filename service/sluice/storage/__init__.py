"""The store contract: durable events, tenants, API keys and customers. One module per backend."""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Callable, Collection, Sequence
from typing import Any

from sluice.errors import CustomerConflict
from sluice.model import ApiKeyRecord, Customer, EventQuery, EventRow, StoredEvent

# The api_keys columns, in ApiKeyRecord's field order: rows map to records and back by position.
API_KEY_COLUMNS = ", ".join(field.name for field in dataclasses.fields(ApiKeyRecord))


class Store(abc.ABC):
    """What the pipeline needs from durable storage. Every method may raise StoreUnavailable."""

    def observe_commits(self, observer: Callable[[int, float], None]) -> None:  # noqa: B027
        """Have `observer(rows, seconds)` called after each commit (a store may not report)."""

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect, apply migrations, assert durability settings."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def ping(self) -> None:
        """Raise StoreUnavailable unless the store answers a trivial query."""

    @abc.abstractmethod
    async def append(
        self, tenant: str, source: str, received_at: int, rows: Sequence[EventRow]
    ) -> list[int | None]:
        """Durably store rows; for each, its new offset, or None if (tenant, name, id) existed.

        Returns only after the transaction holding the rows has committed and synced.
        """

    @abc.abstractmethod
    async def committed_keys(self) -> bytes:
        """Every stored idempotency key, as concatenated 16-byte keys (index rebuild)."""

    @abc.abstractmethod
    async def get_event(self, tenant: str, name: str, id: str) -> StoredEvent | None: ...

    @abc.abstractmethod
    async def read_log(self, tenant: str, after_offset: int, limit: int) -> list[StoredEvent]:
        """Events of a tenant with offset > after_offset, in offset order."""

    @abc.abstractmethod
    async def query_events(self, tenant: str, query: EventQuery) -> list[StoredEvent]:
        """Live (not deleted) events matching the query, by (timestamp, offset)."""

    @abc.abstractmethod
    async def count_events(self, tenant: str, query: EventQuery) -> int:
        """How many live events match the query's filters (its cursor and limit are ignored)."""

    @abc.abstractmethod
    async def live_events_by_id(
        self, tenant: str, ids: Sequence[str], name: str | None = None
    ) -> list[StoredEvent]:
        """For each id, the first stored live event with that id (of any name, or of `name`),
        in offset order."""

    @abc.abstractmethod
    async def delete_events_by_id(
        self, tenant: str, ids: Sequence[str], now_us: int, name: str | None = None
    ) -> list[StoredEvent]:
        """Soft-delete, atomically, the first stored live event of each id (of any name, or of
        `name`); return them deleted.

        A deleted event leaves every read but keeps its (name, id) taken.
        """

    @abc.abstractmethod
    async def ensure_tenant(self, tenant: str, now_us: int) -> None: ...

    @abc.abstractmethod
    async def add_api_key(self, record: ApiKeyRecord) -> None: ...

    @abc.abstractmethod
    async def find_api_key(self, key_id: str) -> ApiKeyRecord | None: ...

    @abc.abstractmethod
    async def set_api_key_rate_limit(self, key_id: str, rate_limit: int | None) -> bool:
        """Set a key's own rate limit (None: back to the default); False if no such key."""

    @abc.abstractmethod
    async def list_api_keys(self) -> list[ApiKeyRecord]: ...

    @abc.abstractmethod
    async def revoke_api_key(self, key_id: str, now_us: int) -> bool:
        """Revoke a key; False if no live key has that id."""

    # The customer registry. Every lookup is within one tenant; nothing matches across tenants.

    @abc.abstractmethod
    async def put_customer(self, tenant: str, customer: Customer) -> Customer:
        """Insert, or replace every field of, a customer; a replaced one keeps its created_at.

        Raises CustomerConflict, writing nothing, when another customer of the tenant holds
        one of its aliases or its email.
        """

    @abc.abstractmethod
    async def put_customers(
        self, tenant: str, customers: Sequence[Customer]
    ) -> dict[int, CustomerConflict]:
        """put_customer for each, in order, in one transaction (bulk import).

        Returns the refused ones by index; every other customer was stored.
        """

    @abc.abstractmethod
    async def get_customer(self, tenant: str, id: str) -> Customer | None: ...

    @abc.abstractmethod
    async def delete_customer(self, tenant: str, id: str) -> bool:
        """Delete a customer and free its aliases and email; False if there was none."""

    @abc.abstractmethod
    async def list_customers(self, tenant: str, after_id: str | None, limit: int) -> list[Customer]:
        """Up to limit customers with id > after_id (all when None), in id order."""

    @abc.abstractmethod
    async def find_customer(
        self, tenant: str, *, email: str | None = None, alias: str | None = None
    ) -> Customer | None:
        """The customer with this email (any case), or whose id, else one of whose aliases,
        is `alias`. Exactly one of email and alias is given."""

    @abc.abstractmethod
    async def known_customer_ids(self, tenant: str, ids: Collection[str]) -> set[str]:
        """Which of ids are customers of the tenant, in one query."""

    @abc.abstractmethod
    async def merge_customer_attributes(
        self, tenant: str, id: str, changes: dict[str, Any], now_us: int | None = None
    ) -> Customer | None:
        """Shallow-merge changes into a customer's attributes atomically; a None value removes
        its key. None if there is no such customer. now_us defaults to the current time."""


def open_store(
    url: str, *, outbox: bool = False, synchronous: str = "FULL", group_commit: bool = True
) -> Store:
    """The store for a URL: `sqlite:///path` (the embedded default) or `postgresql://…` (shared
    by several instances). `outbox`: queue every accepted event for publishing, in the same
    transaction (PostgreSQL only). `synchronous` and `group_commit` lower SQLite's durability
    for benchmarks (Settings). Drivers are imported only for the store asked for."""
    if url.startswith("sqlite:///"):
        if outbox:
            raise ValueError("publishing (SLUICE_NATS_URL) needs the PostgreSQL store")
        from sluice.storage.sqlite import SqliteStore

        return SqliteStore(
            url.removeprefix("sqlite:///"), synchronous=synchronous, group_commit=group_commit
        )
    if (synchronous, group_commit) != ("FULL", True):
        raise ValueError("SLUICE_SQLITE_SYNCHRONOUS and SLUICE_GROUP_COMMIT are SQLite settings")
    if url.startswith(("postgresql://", "postgres://")):
        from sluice.storage.postgres import PostgresStore

        return PostgresStore(url, outbox=outbox)
    raise ValueError(f"unsupported store URL {url!r} (expected sqlite:///PATH or postgresql://...)")
