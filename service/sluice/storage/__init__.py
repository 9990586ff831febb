"""Durable storage: the roles a store plays (protocols.py), one package per backend (sqlite/,
postgres/), and `open_store`, which picks the backend for a URL."""

from __future__ import annotations

from sluice.model import ApiKeyRecord, Customer, EventQuery, EventRow, StoredEvent
from sluice.storage.protocols import (
    CustomerStore,
    EventStore,
    KeyStore,
    MeterStore,
    Outbox,
    RejectionStore,
    Store,
    StoreLifecycle,
    UsageStore,
)

__all__ = [
    "ApiKeyRecord",
    "Customer",
    "CustomerStore",
    "EventQuery",
    "EventRow",
    "EventStore",
    "KeyStore",
    "MeterStore",
    "Outbox",
    "RejectionStore",
    "Store",
    "StoreLifecycle",
    "StoredEvent",
    "UsageStore",
    "open_store",
]


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
