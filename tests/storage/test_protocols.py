"""Each backend's store serves every role the services name: checked by mypy (the assignments
below, with their signatures) and at run time (runtime_checkable, by method names)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sluice.storage import (
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
from sluice.storage.sqlite import SqliteStore

ROLES = [
    StoreLifecycle,
    EventStore,
    KeyStore,
    CustomerStore,
    MeterStore,
    UsageStore,
    RejectionStore,
    Store,
]


def sqlite_roles(store: SqliteStore) -> None:
    """Never called: mypy checks each assignment, signatures included."""
    lifecycle: StoreLifecycle = store
    events: EventStore = store
    keys: KeyStore = store
    customers: CustomerStore = store
    meters: MeterStore = store
    usage: UsageStore = store
    rejections: RejectionStore = store
    every: Store = store
    del lifecycle, events, keys, customers, meters, usage, rejections, every


@pytest.mark.parametrize("role", ROLES, ids=lambda role: role.__name__)
def test_the_sqlite_store_serves_every_role(role: type, tmp_path: Path) -> None:
    assert issubclass(SqliteStore, role)
    assert isinstance(SqliteStore(tmp_path / "sluice.db"), role)


def test_the_sqlite_store_has_no_outbox() -> None:
    """Publishing needs the PostgreSQL store (publishing.start_relay checks Outbox)."""
    assert not issubclass(SqliteStore, Outbox)


psycopg = pytest.importorskip("psycopg", reason="psycopg is not installed (.[postgres])")
from sluice.storage.postgres import PostgresStore  # noqa: E402


def postgres_roles(store: PostgresStore) -> None:
    """Never called: mypy checks each assignment, signatures included."""
    lifecycle: StoreLifecycle = store
    events: EventStore = store
    keys: KeyStore = store
    customers: CustomerStore = store
    outbox: Outbox = store
    every: Store = store
    del lifecycle, events, keys, customers, outbox, every


@pytest.mark.parametrize("role", [*ROLES, Outbox], ids=lambda role: role.__name__)
def test_the_postgres_store_serves_every_role(role: type) -> None:
    assert issubclass(PostgresStore, role)
    # Built, not opened: no connection is made.
    assert isinstance(PostgresStore("postgresql://127.0.0.1/test"), role)
