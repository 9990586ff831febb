"""The store contract: durable events, tenants and API keys. One module per backend."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass

# (index, key, name, id, customer, timestamp_us, value, payload_json, content_hash): the row
# shape the Rust core produces for every event that passed validation.
EventRow = tuple[int, bytes, str, str, str, int, float | None, str, bytes]


@dataclass(frozen=True, slots=True)
class StoredEvent:
    tenant: str
    offset: int
    id: str
    source: str
    name: str
    customer: str
    timestamp: int  # UTC microseconds
    value: float | None
    payload: str  # JSON object text
    received_at: int  # UTC microseconds
    deleted_at: int | None
    content_hash: bytes


@dataclass(frozen=True, slots=True)
class EventQuery:
    """Filters and a keyset position for reading events in (timestamp, offset) order."""

    start: int | None = None  # UTC microseconds, inclusive
    end: int | None = None  # UTC microseconds, exclusive
    name: str | None = None
    after: tuple[int, int] | None = None  # (timestamp, offset) of the last event already read
    limit: int = 100


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    key_id: str
    tenant: str
    secret_hash: bytes  # sha256 of the whole token; the token itself is never stored
    created_at: int
    revoked_at: int | None = None


class Store(abc.ABC):
    """What the pipeline needs from durable storage. Every method may raise StoreUnavailable."""

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
    async def live_events_by_id(self, tenant: str, ids: Sequence[str]) -> list[StoredEvent]:
        """For each id, the first stored live event with that id (any name), in offset order."""

    @abc.abstractmethod
    async def delete_events_by_id(
        self, tenant: str, ids: Sequence[str], now_us: int
    ) -> list[StoredEvent]:
        """Soft-delete, atomically, the first stored live event of each id; return them deleted.

        A deleted event leaves every read but keeps its (name, id) taken.
        """

    @abc.abstractmethod
    async def ensure_tenant(self, tenant: str, now_us: int) -> None: ...

    @abc.abstractmethod
    async def add_api_key(self, record: ApiKeyRecord) -> None: ...

    @abc.abstractmethod
    async def find_api_key(self, key_id: str) -> ApiKeyRecord | None: ...

    @abc.abstractmethod
    async def list_api_keys(self) -> list[ApiKeyRecord]: ...

    @abc.abstractmethod
    async def revoke_api_key(self, key_id: str, now_us: int) -> bool:
        """Revoke a key; False if no live key has that id."""


def open_store(url: str) -> Store:
    """The store for a URL: `sqlite:///path` (the embedded default)."""
    if url.startswith("sqlite:///"):
        from sluice.storage.sqlite import SqliteStore

        return SqliteStore(url.removeprefix("sqlite:///"))
    raise ValueError(f"unsupported store URL {url!r} (expected sqlite:///PATH)")
