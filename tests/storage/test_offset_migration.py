"""Upgrading to per-tenant offsets, on every store: a database made by the previous schema, with
two tenants' events numbered across the whole store, is opened by the current code. Stored
events keep their offsets, so every position a consumer held before the upgrade (a Subscribe
offset, a Vayu id or cursor, a Sluice-Offset) resumes without a gap or a repeat, and each
tenant's new events continue from its own highest offset, gap-free.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from sluice.model import EventQuery
from sluice.storage import Outbox, Store
from tests.scaleout.engines import fresh_schema, require_postgres
from tests.storage.conftest import event_row

pytestmark = pytest.mark.anyio

# The old numbering: one counter for the whole store, the tenants interleaved.
OLD_EVENTS = [("acme", "a1"), ("globex", "g1"), ("acme", "a2"), ("acme", "a3"), ("globex", "g2")]
OLD_ROW = (
    "INSERT INTO events (tenant, id, source, name, customer, timestamp, payload, received_at,"
    " key_hash, content_hash) VALUES ({m}, {m}, 'vayu', 'api_call', 'c', {m}, '{{}}', 1, {m}, {m})"
)


def _key(tenant: str, id_: str) -> bytes:
    return event_row(0, id_, tenant=tenant).key


def _old_sqlite(tmp_path: Path) -> Store:
    """A file at the schema before per-tenant offsets (SQLite's version 5)."""
    from sluice.storage.sqlite import SqliteStore
    from sluice.storage.sqlite.schema import MIGRATIONS

    path = tmp_path / "sluice.db"
    conn = sqlite3.connect(path)
    for number, script in enumerate(MIGRATIONS[:5], start=1):
        for statement in script.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {number}")
    for position, (tenant, id_) in enumerate(OLD_EVENTS):
        conn.execute(OLD_ROW.format(m="?"), (tenant, id_, position, _key(tenant, id_), bytes(16)))
    conn.commit()
    conn.close()
    return SqliteStore(path)


def _old_postgres(url: str) -> Store:
    """A schema at the version before per-tenant offsets (PostgreSQL's 3), with the last event
    still queued in the outbox (not yet published)."""
    import psycopg

    from sluice.storage.postgres import PostgresStore
    from sluice.storage.postgres.schema import MIGRATIONS

    with psycopg.connect(url, autocommit=True) as conn, conn.transaction():
        conn.execute(
            "CREATE TABLE schema_migrations ("
            " version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for version, script in enumerate(MIGRATIONS[:3], start=1):
            conn.execute(script)
            conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", [version])
        for position, (tenant, id_) in enumerate(OLD_EVENTS):
            conn.execute(
                OLD_ROW.format(m="%s"), (tenant, id_, position, _key(tenant, id_), bytes(16))
            )
        conn.execute("INSERT INTO outbox (log_offset) VALUES (%s)", [len(OLD_EVENTS)])
    return PostgresStore(url, outbox=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def old_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        yield _old_sqlite(tmp_path)
        return
    require_postgres()
    with fresh_schema() as url:
        yield _old_postgres(url)


async def test_consumers_resume_across_the_upgrade_without_gaps_or_repeats(
    old_store: Store,
) -> None:
    store = old_store
    await store.open()
    try:
        # Offsets given before the upgrade still name the same events.
        acme = await store.read_log("acme", 0, 10)
        assert [(e.offset, e.id) for e in acme] == [(1, "a1"), (3, "a2"), (4, "a3")]
        globex = await store.read_log("globex", 0, 10)
        assert [(e.offset, e.id) for e in globex] == [(2, "g1"), (5, "g2")]

        # After the upgrade each tenant counts on from its own highest offset, and a tenant
        # new to the store from 1; a key stored before the upgrade is still taken.
        rows = [event_row(0, "a3"), event_row(1, "a4"), event_row(2, "a5")]
        assert await store.append("acme", "vayu", 2, rows) == [None, 5, 6]
        assert await store.append("globex", "vayu", 2, [event_row(0, "g3", tenant="globex")]) == [6]
        assert await store.append("initech", "vayu", 2, [event_row(0, "i1", tenant="initech")]) == [
            1
        ]

        # A consumer that had read acme up to offset 3 (a2) before the upgrade resumes there.
        resumed = await store.read_log("acme", 3, 10)
        assert [(e.offset, e.id) for e in resumed] == [(4, "a3"), (5, "a4"), (6, "a5")]
        assert [(e.offset, e.id) for e in await store.read_log("globex", 2, 10)] == [
            (5, "g2"),
            (6, "g3"),
        ]
        # So does a Vayu cursor (timestamp, offset) handed out before it.
        page = await store.query_events("acme", EventQuery(after=(2, 3), limit=10))
        assert [e.id for e in page] == ["a3", "a4", "a5"]

        # An event still queued for publishing before the upgrade is published after it, with
        # its own tenant's offset, before what was queued later.
        if isinstance(store, Outbox):
            async with store.unpublished(10) as claimed:
                queued = [(e.tenant, e.offset, e.id) for _key, e in claimed]
            assert queued == [
                ("globex", 5, "g2"),
                ("acme", 5, "a4"),
                ("acme", 6, "a5"),
                ("globex", 6, "g3"),
                ("initech", 1, "i1"),
            ]
    finally:
        await store.close()
