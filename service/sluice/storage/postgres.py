"""PostgreSQL store: the shared store and idempotency authority of several Sluice instances.

psycopg 3 (async, with its pool): typed for mypy --strict as shipped, pipeline mode and COPY
when wanted, and one error hierarchy to map outages from (OperationalError).

Offsets are handed out in commit order: every transaction that appends takes the log lock
(an advisory lock) before it draws offsets and keeps it until it has committed. A reader of
the log (Subscribe, read_log) therefore never sees offset N+1 while N may still commit, so a
follower that has read up to N never misses an event that commits late. Each instance
group-commits, so the lock is taken once per group, not per request.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import AsyncConnectionPool

from sluice.errors import CustomerConflict, StoreUnavailable
from sluice.model import ApiKeyRecord, Customer, EventQuery, EventRow, StoredEvent
from sluice.storage import API_KEY_COLUMNS, Store
from sluice.storage import postgres_customers as customers_sql
from sluice.storage.event_sql import EVENT_COLUMNS, live_filters
from sluice.storage.group_commit import PendingAppend, deliver, next_group
from sluice.storage.postgres_schema import LOCK_KEY, migrate

LOG_LOCK_CLASS = 0x51CE0002
# How long a request waits for a pooled connection (or a new one) before it is answered 503.
CONNECT_WAIT_SECONDS = 2.0
POOL_SIZE = 10
# Durable enough: every value but `off` and `local` also waits for the local WAL flush.
_DURABLE_COMMIT = ("on", "remote_write", "remote_apply")

# How a group's rows reach the events table, measured both ways (docs/decisions.md;
# bench/bench_postgres.py): as one INSERT over one array per column (sent binary), or COPYed
# (binary) into the session's staging table and moved by one INSERT. The arrays need one round
# trip less and are ~1.4x faster for groups of 10-100 rows; COPY is ~1.3x faster from a few
# thousand rows on. Either way rows go in queue order (so offsets follow it) and a key
# already stored is skipped by the unique constraint.
COPY_FROM_ROWS = 1000
_STAGED = (
    "tenant, id, source, name, customer, timestamp, value, payload, received_at, key_hash, "
    "content_hash"
)
_STAGING_TYPES = ["text"] * 5 + ["int8", "float8", "text", "int8", "bytea", "bytea", "int8"]
_ARRAYS = ", ".join(f"%b::{name}[]" for name in _STAGING_TYPES)
# Made by every new connection (_configure); a temporary table lives as long as its session.
_CREATE_STAGING = """
    CREATE TEMPORARY TABLE event_staging (
        tenant text, id text, source text, name text, customer text, timestamp int8,
        value float8, payload text, received_at int8, key_hash bytea, content_hash bytea,
        position int8
    ) ON COMMIT DELETE ROWS
"""
_COPY_STAGING = f"COPY event_staging ({_STAGED}, position) FROM STDIN (FORMAT BINARY)"
_INSERT_GROUP = f"""
    WITH inserted AS (
        INSERT INTO events ({_STAGED})
        SELECT {_STAGED} FROM {{source}} ORDER BY position
        ON CONFLICT (tenant, id, name) DO NOTHING
        RETURNING key_hash, log_offset
    ){{outbox}}
    SELECT key_hash, log_offset FROM inserted
"""
_FROM_ARRAYS = f"unnest({_ARRAYS}) AS given ({_STAGED}, position)"
_QUEUE_OUTBOX = ", queued AS (INSERT INTO outbox (log_offset) SELECT log_offset FROM inserted)"


_FIRST_LIVE = f"""
    SELECT DISTINCT ON (id) {EVENT_COLUMNS} FROM events
    WHERE tenant = %s AND deleted_at IS NULL AND id = ANY(%s) AND (%s::text IS NULL OR name = %s)
    ORDER BY id, log_offset
"""


def _is_outage(exc: BaseException) -> bool:
    """Connection loss, a server shutting down or refusing connections, a full disk, a pool
    with no connection to give, a read-only standby after a failover: all transient."""
    return isinstance(exc, psycopg.OperationalError | psycopg.errors.ReadOnlySqlTransaction)


def _event(row: Sequence[Any]) -> StoredEvent:
    return StoredEvent(*row)


def _group_rows(
    group: Sequence[PendingAppend],
) -> tuple[list[tuple[Any, ...]], dict[bytes, tuple[int, int]]]:
    """The group's rows as staged (event_staging's columns), and where each key first occurs,
    (job, row): a key sent twice in one group (racing requests) is stored once, for its first
    sender; the other occurrence is answered as a duplicate."""
    staged: list[tuple[Any, ...]] = []
    first: dict[bytes, tuple[int, int]] = {}
    for job_index, job in enumerate(group):
        for row_index, row in enumerate(job.rows):
            if row.key in first:
                continue
            first[row.key] = (job_index, row_index)
            staged.append(
                (job.tenant, row.id, job.source, row.name, row.customer, row.timestamp_us,
                 row.value, row.payload, job.received_at, row.key, row.content_hash, len(staged))
            )  # fmt: skip
    return staged, first


class PostgresStore(Store):
    """`postgresql://…` (libpq URL or conninfo). With `outbox`, every appended event is also
    queued, in its transaction, for publishing (publishing.py)."""

    def __init__(self, url: str, *, outbox: bool = False, pool_size: int = POOL_SIZE) -> None:
        params = conninfo_to_dict(url)
        params.setdefault("connect_timeout", 3)
        params.setdefault("application_name", "sluice")
        self._pool = AsyncConnectionPool(
            url,
            kwargs={**params, "autocommit": True},  # transactions are always explicit
            min_size=1,
            max_size=pool_size,
            open=False,
            timeout=CONNECT_WAIT_SECONDS,
            configure=_configure,
            check=AsyncConnectionPool.check_connection,  # a broken one is replaced, not used
            # Give up on a failed reconnection soon: the next request that needs a connection
            # starts a fresh attempt at once, so the store is back as soon as the server is.
            reconnect_timeout=CONNECT_WAIT_SECONDS,
            name="sluice",
        )
        self.outbox = outbox
        queue = _QUEUE_OUTBOX if outbox else ""
        self._insert_staged = _INSERT_GROUP.format(source="event_staging", outbox=queue)
        self._insert_arrays = _INSERT_GROUP.format(source=_FROM_ARRAYS, outbox=queue)
        self.copy_from_rows = COPY_FROM_ROWS
        self._waiting: collections.deque[PendingAppend] = collections.deque()
        self._writer: asyncio.Task[None] | None = None
        self._observer: Callable[[int, float], None] | None = None
        self._on_outbox: Callable[[], None] | None = None
        self.commits = 0  # group transactions committed (observability and tests)

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[AsyncConnection[Any]]:
        """A pooled connection; outages on the way in or during use become StoreUnavailable."""
        try:
            async with self._pool.connection() as conn:
                yield conn
        except Exception as exc:
            if _is_outage(exc):
                raise StoreUnavailable(f"postgresql: {exc}") from exc
            raise

    async def _fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        async with self._connection() as conn:
            cursor = await conn.execute(sql, params)
            return await cursor.fetchall()

    async def _write(self, sql: str, params: Sequence[Any]) -> int:
        """Run one statement in its own transaction (autocommit); the rows it changed."""
        async with self._connection() as conn:
            cursor = await conn.execute(sql, params)
            return cursor.rowcount

    async def open(self) -> None:
        try:
            await self._pool.open(wait=True, timeout=CONNECT_WAIT_SECONDS * 5)
        except Exception as exc:
            await self._pool.close()
            if _is_outage(exc):
                raise StoreUnavailable(f"postgresql: {exc}") from exc
            raise
        async with self._connection() as conn:
            await migrate(conn)

    async def close(self) -> None:
        if self._writer is not None:
            await asyncio.shield(self._writer)  # answer every queued append first
        await self._pool.close()

    def observe_commits(self, observer: Callable[[int, float], None]) -> None:
        self._observer = observer

    def on_outbox_rows(self, callback: Callable[[], None]) -> None:
        """Have `callback()` called after each commit that queued events for publishing."""
        self._on_outbox = callback

    async def ping(self) -> None:
        await self._fetch("SELECT 1")

    # Appends: group commit on one writer task per instance.

    async def append(
        self, tenant: str, source: str, received_at: int, rows: Sequence[EventRow]
    ) -> list[int | None]:
        if not rows:
            return []
        job = PendingAppend.create(tenant, source, received_at, rows)
        self._waiting.append(job)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_groups(), name="sluice-group-commit")
        return await job.future

    def _next_waiting(self) -> PendingAppend | None:
        return self._waiting.popleft() if self._waiting else None

    async def _write_groups(self) -> None:
        """Commit what is waiting, a group at a time; appends queued during a commit make up
        the next group."""
        while self._waiting:
            group, _ = next_group(self._waiting.popleft(), self._next_waiting)
            try:
                results = await self._commit_group(group)
            except BaseException as exc:  # an outage or a bug: fail this group, go on
                for job in group:
                    deliver(job.future, error=exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise
                continue
            for job, result in zip(group, results, strict=True):
                deliver(job.future, result=result)

    async def _commit_group(self, group: Sequence[PendingAppend]) -> list[list[int | None]]:
        staged, first = _group_rows(group)
        started = time.perf_counter()
        async with self._connection() as conn, conn.transaction():
            # The log lock, held until COMMIT: offsets are drawn in commit order.
            await conn.execute(f"SELECT pg_advisory_xact_lock({LOCK_KEY})", [LOG_LOCK_CLASS])
            offsets = await self._insert_group(conn, staged)
        self.commits += 1
        if self._observer is not None:
            self._observer(sum(len(job.rows) for job in group), time.perf_counter() - started)
        if offsets and self._on_outbox is not None and self.outbox:
            self._on_outbox()
        results: list[list[int | None]] = [[None] * len(job.rows) for job in group]
        for key, (job_index, row_index) in first.items():
            results[job_index][row_index] = offsets.get(key)
        return results

    async def _insert_group(
        self, conn: AsyncConnection[Any], staged: list[tuple[Any, ...]]
    ) -> dict[bytes, int]:
        """Insert a group's rows (as _group_rows stages them); the offset of each key stored."""
        async with conn.cursor() as cursor:
            if len(staged) < self.copy_from_rows:
                columns = [list(column) for column in zip(*staged, strict=True)]
                await cursor.execute(self._insert_arrays, columns)
                return dict(await cursor.fetchall())
            async with cursor.copy(_COPY_STAGING) as copy:
                copy.set_types(_STAGING_TYPES)
                for row in staged:
                    await copy.write_row(row)
            await cursor.execute(self._insert_staged)
            return dict(await cursor.fetchall())

    # Events.

    async def committed_keys(self) -> bytes:
        async with self._connection() as conn, conn.transaction():
            keys = conn.cursor().stream("SELECT key_hash FROM events", size=10_000)
            return b"".join([row[0] async for row in keys])

    async def get_event(self, tenant: str, name: str, id: str) -> StoredEvent | None:
        rows = await self._fetch(
            f"SELECT {EVENT_COLUMNS} FROM events WHERE tenant = %s AND name = %s AND id = %s",
            [tenant, name, id],
        )
        return _event(rows[0]) if rows else None

    async def read_log(self, tenant: str, after_offset: int, limit: int) -> list[StoredEvent]:
        # Offsets are committed in order (the log lock), so nothing can later appear below
        # the last offset this returns.
        rows = await self._fetch(
            f"SELECT {EVENT_COLUMNS} FROM events WHERE tenant = %s AND log_offset > %s "
            "ORDER BY log_offset LIMIT %s",
            [tenant, after_offset, limit],
        )
        return [_event(row) for row in rows]

    async def query_events(self, tenant: str, query: EventQuery) -> list[StoredEvent]:
        where, params = live_filters(tenant, query, "%s")
        if query.after is not None:
            where += " AND (timestamp, log_offset) > (%s, %s)"
            params.extend(query.after)
        rows = await self._fetch(
            f"SELECT {EVENT_COLUMNS} FROM events WHERE {where} "
            "ORDER BY timestamp, log_offset LIMIT %s",
            [*params, query.limit],
        )
        return [_event(row) for row in rows]

    async def count_events(self, tenant: str, query: EventQuery) -> int:
        where, params = live_filters(tenant, query, "%s")
        rows = await self._fetch(f"SELECT count(*) FROM events WHERE {where}", params)
        count: int = rows[0][0]
        return count

    async def live_events_by_id(
        self, tenant: str, ids: Sequence[str], name: str | None = None
    ) -> list[StoredEvent]:
        rows = await self._fetch(_FIRST_LIVE, [tenant, list(ids), name, name])
        return sorted((_event(row) for row in rows), key=lambda event: event.offset)

    async def delete_events_by_id(
        self, tenant: str, ids: Sequence[str], now_us: int, name: str | None = None
    ) -> list[StoredEvent]:
        # One statement: the first live event of each id is found and marked atomically.
        rows = await self._fetch(
            f"UPDATE events SET deleted_at = %s WHERE deleted_at IS NULL AND log_offset IN "
            f"(SELECT log_offset FROM ({_FIRST_LIVE}) AS first) RETURNING {EVENT_COLUMNS}",
            [now_us, tenant, list(ids), name, name],
        )
        return sorted((_event(row) for row in rows), key=lambda event: event.offset)

    # The outbox (publishing.py).

    @contextlib.asynccontextmanager
    async def unpublished(self, limit: int) -> AsyncIterator[list[tuple[bytes, StoredEvent]]]:
        """Claim up to `limit` queued events, oldest first, as (key, event).

        The claim is a transaction holding their outbox rows locked (other instances' relays
        skip them): when the block ends normally they are marked published (deleted) in it;
        when it raises, or the instance dies, they stay queued for the next claim.
        """
        async with self._connection() as conn, conn.transaction():
            cursor = await conn.execute(
                f"SELECT e.key_hash, {', '.join('e.' + c for c in EVENT_COLUMNS.split(', '))} "
                "FROM outbox AS o JOIN events AS e USING (log_offset) "
                "ORDER BY o.log_offset LIMIT %s FOR UPDATE OF o SKIP LOCKED",
                [limit],
            )
            claimed = [(row[0], _event(row[1:])) for row in await cursor.fetchall()]
            yield claimed
            if claimed:
                await conn.execute(
                    "DELETE FROM outbox WHERE log_offset = ANY(%s)",
                    [[event.offset for _key, event in claimed]],
                )

    async def outbox_depth(self) -> int:
        """How many accepted events wait to be published."""
        rows = await self._fetch("SELECT count(*) FROM outbox")
        depth: int = rows[0][0]
        return depth

    # Tenants and API keys.

    async def ensure_tenant(self, tenant: str, now_us: int) -> None:
        await self._write(
            "INSERT INTO tenants (name, created_at) VALUES (%s, %s) ON CONFLICT DO NOTHING",
            [tenant, now_us],
        )

    async def add_api_key(self, record: ApiKeyRecord) -> None:
        await self._write(
            f"INSERT INTO api_keys ({API_KEY_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s)",
            dataclasses.astuple(record),
        )

    async def find_api_key(self, key_id: str) -> ApiKeyRecord | None:
        rows = await self._fetch(
            f"SELECT {API_KEY_COLUMNS} FROM api_keys WHERE key_id = %s", [key_id]
        )
        return ApiKeyRecord(*rows[0]) if rows else None

    async def set_api_key_rate_limit(self, key_id: str, rate_limit: int | None) -> bool:
        changed = await self._write(
            "UPDATE api_keys SET rate_limit = %s WHERE key_id = %s", [rate_limit, key_id]
        )
        return changed == 1

    async def list_api_keys(self) -> list[ApiKeyRecord]:
        rows = await self._fetch(
            f"SELECT {API_KEY_COLUMNS} FROM api_keys ORDER BY created_at, key_id"
        )
        return [ApiKeyRecord(*row) for row in rows]

    async def revoke_api_key(self, key_id: str, now_us: int) -> bool:
        changed = await self._write(
            "UPDATE api_keys SET revoked_at = %s WHERE key_id = %s AND revoked_at IS NULL",
            [now_us, key_id],
        )
        return changed == 1

    # The customer registry (postgres_customers.py).

    async def put_customer(self, tenant: str, customer: Customer) -> Customer:
        async with self._connection() as conn, conn.transaction():
            return await customers_sql.put(conn, tenant, customer)

    async def put_customers(
        self, tenant: str, customers: Sequence[Customer]
    ) -> dict[int, CustomerConflict]:
        async with self._connection() as conn, conn.transaction():
            return await customers_sql.put_many(conn, tenant, customers)

    async def get_customer(self, tenant: str, id: str) -> Customer | None:
        async with self._connection() as conn:
            return await customers_sql.get(conn, tenant, id)

    async def delete_customer(self, tenant: str, id: str) -> bool:
        async with self._connection() as conn, conn.transaction():
            return await customers_sql.delete(conn, tenant, id)

    async def list_customers(self, tenant: str, after_id: str | None, limit: int) -> list[Customer]:
        async with self._connection() as conn:
            return await customers_sql.page(conn, tenant, after_id, limit)

    async def find_customer(
        self, tenant: str, *, email: str | None = None, alias: str | None = None
    ) -> Customer | None:
        async with self._connection() as conn:
            return await customers_sql.find(conn, tenant, email, alias)

    async def known_customer_ids(self, tenant: str, ids: Collection[str]) -> set[str]:
        async with self._connection() as conn:
            return await customers_sql.known_ids(conn, tenant, ids)

    async def merge_customer_attributes(
        self, tenant: str, id: str, changes: dict[str, Any], now_us: int | None = None
    ) -> Customer | None:
        at = time.time_ns() // 1000 if now_us is None else now_us
        async with self._connection() as conn, conn.transaction():
            return await customers_sql.merge_attributes(conn, tenant, id, changes, at)


async def _configure(conn: AsyncConnection[Any]) -> None:
    """Every new connection commits durably (asserted, not just requested) and has its own
    staging table for group commits."""
    await conn.execute(_CREATE_STAGING)
    cursor = await conn.execute("SHOW synchronous_commit")
    row = await cursor.fetchone()
    if row is None or row[0] not in _DURABLE_COMMIT:
        await conn.execute("SET synchronous_commit = on")
        cursor = await conn.execute("SHOW synchronous_commit")
        row = await cursor.fetchone()
        if row is None or row[0] not in _DURABLE_COMMIT:
            raise RuntimeError(f"postgresql refused synchronous_commit=on: {row}")
