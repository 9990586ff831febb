"""The PostgreSQL store's writer: appends group-committed by one asyncio task per instance,
offsets drawn under the log lock so that offset order is commit order.

This is the only place the PostgreSQL store reads the Rust core's event rows (`_group_rows`).
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from psycopg import AsyncConnection

from sluice.model import EventRow
from sluice.storage.group_commit import PendingAppend, deliver, next_group
from sluice.storage.postgres.schema import LOCK_KEY

LOG_LOCK_CLASS = 0x51CE0002

# How a group's rows reach the events table, measured both ways (docs/decisions.md;
# bench/bench_postgres.py): as one INSERT over one array per column (sent binary), or COPYed
# (binary) into the session's staging table and moved by one INSERT. The arrays need one round
# trip less and win for small groups; COPY wins from a few thousand rows on. Either way rows go
# in queue order (so offsets follow it) and a key already stored is skipped.
COPY_FROM_ROWS = 1000
_STAGED = (
    "tenant, id, source, name, customer, timestamp, value, payload, received_at, key_hash, "
    "content_hash"
)
_STAGING_TYPES = ["text"] * 5 + ["int8", "float8", "text", "int8", "bytea", "bytea", "int8"]
_ARRAYS = ", ".join(f"%b::{name}[]" for name in _STAGING_TYPES)
# Made by every new connection (connection.configure); a temporary table lives as long as its
# session.
CREATE_STAGING = """
    CREATE TEMPORARY TABLE event_staging (
        tenant text, id text, source text, name text, customer text, timestamp int8,
        value float8, payload text, received_at int8, key_hash bytea, content_hash bytea,
        position int8
    ) ON COMMIT DELETE ROWS
"""
_COPY_STAGING = f"COPY event_staging ({_STAGED}, position) FROM STDIN (FORMAT BINARY)"
# Each tenant's new rows are numbered on from its highest offset, in queue order, and only rows
# whose key is not stored yet are numbered, so a tenant's log has no gaps. Under the log lock
# no other transaction inserts events, so what `fresh` finds stays true until COMMIT. There is
# no ON CONFLICT (which would also cost its speculative insertion): the unique indexes refuse a
# key stored twice or a number handed out twice as an error, never a gap. The key check is a
# scalar subquery, one probe of the unique index per row; written as NOT EXISTS it became a
# hash anti-join over a sequential scan of every stored event. `last` is materialized so each
# tenant's highest offset is read once, not once per row.
_INSERT_GROUP = f"""
    WITH fresh AS MATERIALIZED (
        SELECT * FROM {{source}}
        WHERE (
            SELECT 1 FROM events AS e
            WHERE e.tenant = given.tenant AND e.id = given.id AND e.name = given.name LIMIT 1
        ) IS NULL
    ), last AS MATERIALIZED (
        SELECT tenant, (
            SELECT coalesce(max(e.log_offset), 0) FROM events AS e WHERE e.tenant = t.tenant
        ) AS last_offset
        FROM (SELECT DISTINCT tenant FROM fresh) AS t
    ), inserted AS (
        INSERT INTO events ({_STAGED}, log_offset)
        SELECT {_STAGED}, last_offset + row_number() OVER (PARTITION BY tenant ORDER BY position)
        FROM fresh JOIN last USING (tenant) ORDER BY position
        RETURNING key_hash, log_offset, seq
    ){{outbox}}
    SELECT key_hash, log_offset FROM inserted
"""
_FROM_ARRAYS = f"unnest({_ARRAYS}) AS given ({_STAGED}, position)"
_FROM_STAGING = "event_staging AS given"
# With the outbox on, the same statement queues every inserted event for publishing
# (outbox.py claims them): in the events' transaction, so none is stored unqueued.
_QUEUE_OUTBOX = ", queued AS (INSERT INTO outbox (seq) SELECT seq FROM inserted)"


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


class GroupCommitter:
    """Commits what is waiting, a group at a time, on one task; appends queued during a commit
    make up the next group. The log lock is taken once per group, not per request."""

    def __init__(
        self,
        connection: Callable[[], AbstractAsyncContextManager[AsyncConnection[Any]]],
        *,
        outbox: bool,
    ) -> None:
        self._connection = connection
        self.outbox = outbox
        queue = _QUEUE_OUTBOX if outbox else ""
        self._insert_staged = _INSERT_GROUP.format(source=_FROM_STAGING, outbox=queue)
        self._insert_arrays = _INSERT_GROUP.format(source=_FROM_ARRAYS, outbox=queue)
        self.copy_from_rows = COPY_FROM_ROWS
        self._waiting: collections.deque[PendingAppend] = collections.deque()
        self._task: asyncio.Task[None] | None = None
        # Told (rows, seconds) after every group commit: metrics.
        self.observer: Callable[[int, float, float], None] | None = None
        # Called after each commit that queued events for publishing.
        self.on_outbox_rows: Callable[[], None] | None = None
        self.commits = 0  # group transactions committed (observability and tests)

    async def append(
        self, tenant: str, source: str, received_at: int, rows: Sequence[EventRow]
    ) -> list[int | None]:
        job = PendingAppend.create(tenant, source, received_at, rows)
        self._waiting.append(job)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._write_groups(), name="sluice-group-commit")
        return await job.future

    async def drain(self) -> None:
        """Wait until every queued append has been answered."""
        if self._task is not None:
            await asyncio.shield(self._task)

    def _next_waiting(self) -> PendingAppend | None:
        return self._waiting.popleft() if self._waiting else None

    async def _write_groups(self) -> None:
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
            inserted = time.perf_counter()
        self.commits += 1  # the block's end committed: the server flushed its WAL
        if self.observer is not None:
            done = time.perf_counter()
            self.observer(sum(len(job.rows) for job in group), done - started, done - inserted)
        if offsets and self.on_outbox_rows is not None and self.outbox:
            self.on_outbox_rows()
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
