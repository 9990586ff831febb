"""What only the PostgreSQL store has: durable commits asserted, versioned migrations that
racing instances apply once, group commit, commit-ordered offsets, outages and recovery."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import pytest

from sluice.errors import CustomerConflict, StoreUnavailable
from sluice.model import Customer
from tests.scaleout.engines import ThrowawayPostgres, fresh_schema, require_postgres
from tests.storage.conftest import event_row

pytestmark = pytest.mark.anyio

psycopg = pytest.importorskip("psycopg", reason="psycopg is not installed (.[postgres])")
from sluice.storage.postgres import PostgresStore  # noqa: E402
from sluice.storage.postgres.schema import LOCK_KEY, MIGRATIONS  # noqa: E402
from sluice.storage.postgres.writer import LOG_LOCK_CLASS  # noqa: E402


@pytest.fixture
def url() -> Iterator[str]:
    require_postgres()
    with fresh_schema() as schema_url:
        yield schema_url


@pytest.fixture
async def store(url: str) -> AsyncIterator[PostgresStore]:
    opened = PostgresStore(url)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


async def test_every_connection_commits_synchronously(url: str) -> None:
    # Even where the server (here, the connection options) says otherwise.
    store = PostgresStore(url + "%20-csynchronous_commit%3Doff")
    await store.open()
    try:
        async with store._connection() as conn:
            cursor = await conn.execute("SHOW synchronous_commit")
            assert await cursor.fetchone() == ("on",)
    finally:
        await store.close()


async def test_migrations_are_versioned_and_applied_once_by_racing_instances(url: str) -> None:
    stores = [PostgresStore(url, pool_size=2) for _ in range(4)]
    await asyncio.gather(*(store.open() for store in stores))  # four instances start together
    try:
        async with stores[0]._connection() as conn:
            cursor = await conn.execute("SELECT version FROM schema_migrations ORDER BY version")
            assert await cursor.fetchall() == [(v,) for v in range(1, len(MIGRATIONS) + 1)]
        assert (await stores[1].append("acme", "vayu", 1, [event_row(0, "a")]))[0] is not None
    finally:
        await asyncio.gather(*(store.close() for store in stores))


async def test_one_unique_index_is_the_idempotency_authority(store: PostgresStore) -> None:
    """Schema 3: (tenant, id, name) replaces the (tenant, name, id) constraint and the
    (tenant, id) index; a repeated key is still refused by the database itself."""
    async with store._connection() as conn:
        cursor = await conn.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'events'"
            " AND schemaname = current_schema()"
        )
        indexes = {name for (name,) in await cursor.fetchall()}
    assert "events_by_tenant_id_name" in indexes
    assert not {"events_by_tenant_id", "events_tenant_name_id_key"} & indexes
    assert (await store.append("acme", "vayu", 1, [event_row(0, "once")]))[0] is not None
    assert await store.append("acme", "vayu", 1, [event_row(0, "once")]) == [None]


async def hold_log_lock(url: str) -> psycopg.AsyncConnection:
    """Another instance mid-commit: it holds the log lock until its transaction ends."""
    conn = await psycopg.AsyncConnection.connect(url)
    await conn.execute(f"SELECT pg_advisory_xact_lock({LOCK_KEY})", [LOG_LOCK_CLASS])
    return conn


async def test_appends_waiting_on_a_commit_share_the_next_transaction(
    store: PostgresStore, url: str
) -> None:
    other = await hold_log_lock(url)
    before = store.commits
    first = [
        asyncio.create_task(store.append("acme", "vayu", 1, [event_row(0, f"a{i}")]))
        for i in range(5)
    ]
    await asyncio.sleep(0.2)  # the first group is now blocked on the lock
    waiting = [store.append("acme", "vayu", 1, [event_row(0, f"b{i}")]) for i in range(20)]
    queued = asyncio.gather(*first, *waiting)
    await asyncio.sleep(0.2)
    await other.rollback()
    await other.close()
    results = await queued
    assert all(result[0] is not None for result in results)
    assert store.commits - before == 2  # one for the first five, one for the twenty


@pytest.mark.parametrize("copy_from_rows", [0, 10**9], ids=["copy", "arrays"])
async def test_both_ways_of_inserting_a_group_answer_alike(
    store: PostgresStore, copy_from_rows: int
) -> None:
    store.copy_from_rows = copy_from_rows
    await store.append("acme", "vayu", 1, [event_row(0, "old")])
    rows = [event_row(0, "a"), event_row(1, "old"), event_row(2, "a"), event_row(3, "b")]
    offsets = await store.append("acme", "vayu", 2, rows)
    assert offsets[1] is None and offsets[2] is None  # stored before; repeated in the group
    assert offsets[0] is not None and offsets[3] is not None and offsets[0] < offsets[3]
    assert [(e.id, e.received_at) for e in await store.read_log("acme", 0, 10)] == [
        ("old", 1),
        ("a", 2),
        ("b", 2),
    ]


async def test_a_late_commit_is_never_skipped_by_a_log_reader(
    store: PostgresStore, url: str
) -> None:
    """Offsets are drawn under the log lock, so an event that commits late cannot have a lower
    offset than one a reader has already seen."""
    async with store._connection() as conn:
        await conn.execute(
            "CREATE FUNCTION stall() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF NEW.id = 'slow' THEN PERFORM pg_sleep(1); END IF; RETURN NEW; END $$"
        )
        await conn.execute(
            "CREATE TRIGGER stall BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION stall()"
        )
    other_instance = PostgresStore(url)
    await other_instance.open()
    try:
        slow = asyncio.create_task(store.append("acme", "vayu", 1, [event_row(0, "slow")]))
        await asyncio.sleep(0.2)  # `slow` has drawn its offset and is stalled before COMMIT
        fast = asyncio.create_task(other_instance.append("acme", "vayu", 1, [event_row(0, "f")]))
        seen_during_stall = []
        deadline = time.monotonic() + 0.6
        while time.monotonic() < deadline:
            seen_during_stall += await store.read_log("acme", 0, 10)
            await asyncio.sleep(0.05)
        assert seen_during_stall == []  # `f` waits for `slow`: nothing to skip past
        (slow_offset,), (fast_offset,) = await slow, await fast
        assert slow_offset is not None and fast_offset is not None and slow_offset < fast_offset
        assert [e.id for e in await store.read_log("acme", 0, 10)] == ["slow", "f"]
    finally:
        await other_instance.close()


async def test_two_instances_cannot_both_take_one_alias(store: PostgresStore, url: str) -> None:
    other_instance = PostgresStore(url)
    await other_instance.open()
    try:
        puts = [
            (store, other_instance)[i % 2].put_customer(
                "acme", Customer(f"c{i}", ["shared"], None, {}, 1, 1)
            )
            for i in range(10)
        ]
        outcomes = await asyncio.gather(*puts, return_exceptions=True)
        assert sum(isinstance(o, Customer) for o in outcomes) == 1
        assert sum(isinstance(o, CustomerConflict) for o in outcomes) == 9
    finally:
        await other_instance.close()


async def test_an_outage_is_unavailable_and_the_same_store_recovers(
    cluster: ThrowawayPostgres,
) -> None:
    store = PostgresStore(cluster.url)
    await store.open()
    try:
        assert (await store.append("acme", "vayu", 1, [event_row(0, "before")]))[0] is not None
        cluster.stop("immediate")  # a crash: connections drop, the server is gone
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            await store.append("acme", "vayu", 1, [event_row(0, "during")])
        with pytest.raises(StoreUnavailable):
            await store.read_log("acme", 0, 10)
        with pytest.raises(StoreUnavailable):
            await store.ping()
        assert time.monotonic() - started < 10  # answered promptly, not hung
        cluster.start()
        deadline = time.monotonic() + 15
        while True:  # back without reopening the store
            try:
                await store.append("acme", "vayu", 1, [event_row(0, "after")])
                break
            except StoreUnavailable:
                assert time.monotonic() < deadline, "the store did not recover"
                await asyncio.sleep(0.2)
        assert [e.id for e in await store.read_log("acme", 0, 10)] == ["before", "after"]
    finally:
        await store.close()


async def test_two_instances_appending_for_one_tenant_number_its_log_without_gaps(
    store: PostgresStore, url: str
) -> None:
    """Per-tenant offsets are drawn under the log lock, so groups of two instances take turns:
    between them the tenant's log is 1..n, each offset once, with a repeated key taking none."""
    other_instance = PostgresStore(url)
    await other_instance.open()
    try:
        appends = [
            (store, other_instance)[n % 2].append(
                "acme",
                "vayu",
                1,
                [event_row(i, f"{n}-{i}") for i in range(5)] + [event_row(5, "same")],
            )
            for n in range(30)
        ]
        results = await asyncio.gather(*appends)
        offsets = sorted(o for result in results for o in result if o is not None)
        assert offsets == list(range(1, 30 * 5 + 2))  # every batch's five, and "same" once
        assert [e.offset for e in await store.read_log("acme", 0, 1000)] == offsets
    finally:
        await other_instance.close()
