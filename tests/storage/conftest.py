"""Store fixtures: `store` is parametrized over every backend, so one contract suite runs on all;
`sqlite_store` is for what only the SQLite store has."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from sluice import _core
from sluice.model import EventRow
from sluice.storage import Store
from sluice.storage.sqlite import SqliteStore
from tests.scaleout.engines import fresh_schema, require_postgres


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def event_row(
    index: int,
    id_: str,
    name: str = "api_call",
    tenant: str = "acme",
    payload: str = "{}",
    key: bytes | None = None,
    timestamp_us: int = 1_700_000_000_000_000,
) -> EventRow:
    """A row as a parser makes it; `key` overrides the idempotency key of (tenant, name, id)."""
    return EventRow(
        index=index,
        key=_core.idempotency_key(tenant, name, id_) if key is None else key,
        name=name,
        id=id_,
        customer="cust",
        timestamp_us=timestamp_us,
        value=None,
        payload=payload,
        content_hash=bytes(16),
    )


def _sqlite(tmp_path: Path) -> Store:
    return SqliteStore(tmp_path / "sluice.db")


@pytest.fixture(scope="session")
def _postgres_schemas() -> Iterator[ExitStack]:
    """Every schema made for a PostgreSQL store in this run, dropped at its end."""
    with ExitStack() as schemas:
        yield schemas


def _postgresql(tmp_path: Path, request: pytest.FixtureRequest) -> Store:
    """The machine's PostgreSQL, in a schema of the test's own (skipped where there is none)."""
    require_postgres()
    from sluice.storage.postgres import PostgresStore

    schemas: ExitStack = request.getfixturevalue("_postgres_schemas")
    return PostgresStore(schemas.enter_context(fresh_schema()))


BACKENDS: dict[str, Callable[[Path, pytest.FixtureRequest], Store]] = {
    "sqlite": lambda tmp_path, _request: _sqlite(tmp_path),
    "postgresql": _postgresql,
}


@pytest.fixture(params=sorted(BACKENDS))
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    backend = BACKENDS[request.param](tmp_path, request)
    await backend.open()
    try:
        yield backend
    finally:
        await backend.close()


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "sluice.db")
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


async def fill_disk(store: SqliteStore) -> None:
    """Cap the database at its current size: the next growing write fails with SQLITE_FULL."""

    def cap(conn: sqlite3.Connection) -> None:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")

    await store._writer.call(cap)


async def free_disk(store: SqliteStore) -> None:
    await store._writer.call(lambda conn: conn.execute("PRAGMA max_page_count = 1073741823"))
