"""The SQLite store's writer: one thread owns the write connection and group-commits appends;
every other write runs alone in its own transaction on the same thread, and so does the
maintenance of derived rows (a Projection) between them.

This is the only place the SQLite store reads the Rust core's event rows (`insert_params`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sluice.model import EventRow
from sluice.storage.group_commit import PendingAppend, next_group, settle, settle_group
from sluice.storage.sqlite.connection import unavailable

T = TypeVar("T")
_log = logging.getLogger(__name__)

INSERT_EVENT = """
    INSERT INTO events (log_offset, tenant, id, source, name, customer, timestamp, value,
                        payload, received_at, key_hash, content_hash)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (tenant, id, name) DO NOTHING
"""
_LAST_OFFSET = "SELECT coalesce(max(log_offset), 0) FROM events WHERE tenant = ?"


@dataclass
class _Call:
    fn: Callable[[sqlite3.Connection], Any]
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop
    queued_at: float = field(default_factory=time.monotonic)


# Queued to stop the writer thread after everything queued before it.
_STOP = _Call(fn=lambda conn: None, future=None, loop=None)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Projection:
    """Rows derived from the events that the writer builds after commits, off the appends' path:
    once `batch_rows` events were appended since it last ran, or once the writer has been idle
    for `idle_seconds` with some waiting. `run(conn)` projects some (inside a transaction the
    writer opens) and says how many are still waiting."""

    run: Callable[[sqlite3.Connection], int]
    batch_rows: int
    idle_seconds: float


@dataclass
class GroupCommitter:
    """Owns the write connection on one thread. Appends queued while a commit runs are
    written together in the next transaction, so N concurrent requests cost one fsync."""

    open_connection: Callable[[], sqlite3.Connection]
    # How long a job may wait for a lock held by another connection, counted from when it was
    # queued: jobs queued behind a group that waits on a lock get only what is left of it.
    busy_timeout_ms: int = 2000
    _jobs: queue.SimpleQueue[PendingAppend | _Call] = field(default_factory=queue.SimpleQueue)
    # Appends made during the current turn of each event loop, not yet queued (see append).
    _handover: dict[asyncio.AbstractEventLoop, list[PendingAppend]] = field(default_factory=dict)
    _thread: threading.Thread | None = None
    _conn: sqlite3.Connection | None = None
    _conn_busy_timeout_ms: int = 0  # the busy_timeout in force on _conn
    commits: int = 0  # transactions committed (observability and tests)
    # Told (rows, seconds, seconds of the COMMIT alone) after every group commit: metrics.
    observer: Callable[[int, float, float], None] | None = None
    # Off: every append is its own transaction (Settings.group_commit; benchmarks only).
    group_commit: bool = True
    projection: Projection | None = None
    # Events appended and not projected yet, as far as the writer knows: it starts at 1 so the
    # first idle moment asks `run` itself, which knows what an earlier process left.
    _unprojected: int = 1
    _projection_failing: bool = False

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sluice-group-commit", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._jobs.put(_STOP)
            self._thread.join()
            self._thread = None

    def append(
        self, tenant: str, source: str, received_at: int, rows: Sequence[EventRow]
    ) -> asyncio.Future[list[int | None]]:
        """Queue rows for the next group commit.

        The appends of one turn of the event loop reach the writer together, at the end of
        that turn: one wake-up of the writer thread (a futex call, then a GIL handoff) instead
        of one per request while the loop is still busy with the others."""
        job = PendingAppend.create(tenant, source, received_at, rows)
        waiting = self._handover.get(job.loop)
        if waiting is None:
            waiting = self._handover[job.loop] = []
            job.loop.call_soon(self._hand_over, job.loop)
        waiting.append(job)
        return job.future

    def _hand_over(self, loop: asyncio.AbstractEventLoop) -> None:
        for job in self._handover.pop(loop, ()):
            self._jobs.put(job)

    def hand_over_all(self) -> None:
        """Queue every append still waiting for its loop's turn to end (before stopping)."""
        for loop in list(self._handover):
            self._hand_over(loop)

    def call(self, fn: Callable[[sqlite3.Connection], T]) -> asyncio.Future[T]:
        """Run fn(conn) alone in its own write transaction on the writer thread."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put(_Call(fn, future, loop))
        return future

    def _waiting(self) -> PendingAppend | _Call | None:
        try:
            return self._jobs.get_nowait()
        except queue.Empty:
            return None

    def _next_job(self) -> PendingAppend | _Call:
        """The next job, projecting whenever the queue stays empty for the idle time while
        events wait to be projected."""
        while self.projection is not None and self._unprojected > 0:
            try:
                return self._jobs.get(timeout=self.projection.idle_seconds)
            except queue.Empty:
                if not self._project():
                    break  # failed (a full disk, say): try again after the next commit
        return self._jobs.get()

    def _run(self) -> None:
        pending: object | None = None
        while True:
            job = pending if pending is not None else self._next_job()
            pending = None
            if job is _STOP:
                break
            if isinstance(job, _Call):
                self._run_call(job)
                continue
            assert isinstance(job, PendingAppend)
            group, pending = next_group(job, self._waiting) if self.group_commit else ([job], None)
            self._commit_group(group)
            if self.projection is not None and self._unprojected >= self.projection.batch_rows:
                self._project()
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connection(self, queued_at: float) -> sqlite3.Connection:
        """The write connection, waiting for locks no longer than what is left of the job's
        busy_timeout_ms (at least one try)."""
        if self._conn is None:
            self._conn = self.open_connection()
            self._conn_busy_timeout_ms = self.busy_timeout_ms
        waited_ms = int((time.monotonic() - queued_at) * 1000)
        # Rounded up to 100 ms steps: the pragma is one more statement per transaction, and
        # queue waits of a few ms would otherwise change it on nearly every commit. A job so
        # waits for a lock at most 100 ms longer than its busy timeout.
        left_ms = max(0, -(-(self.busy_timeout_ms - waited_ms) // 100) * 100)
        if left_ms != self._conn_busy_timeout_ms:
            self._conn.execute(f"PRAGMA busy_timeout = {left_ms}")
            self._conn_busy_timeout_ms = left_ms
        return self._conn

    def _rollback(self) -> None:
        """End a failed transaction so the next job starts clean (after a full disk or an I/O
        error SQLite may or may not have rolled back by itself)."""
        conn = self._conn
        if conn is None:
            return
        try:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        except sqlite3.Error:
            # The connection is in an unknown state: drop it and reconnect on the next job.
            with contextlib.suppress(sqlite3.Error):
                conn.close()
            self._conn = None

    def _commit_group(self, group: list[PendingAppend]) -> None:
        try:
            conn = self._connection(group[0].queued_at)
            started = time.perf_counter()
            conn.execute("BEGIN IMMEDIATE")
            results = _insert_group(conn.cursor(), group)
            if results is None:
                # A key was stored already: numbered as if new, the group would leave a gap in
                # its tenant's offsets. Start over and insert it a row at a time (rare: the
                # idempotency index answers most duplicates before they reach the store).
                conn.execute("ROLLBACK")
                conn.execute("BEGIN IMMEDIATE")
                results = _insert_row_by_row(conn.cursor(), group)
            inserted = time.perf_counter()
            conn.execute("COMMIT")  # the WAL's fsync (synchronous=FULL)
            self.commits += 1
            if self.observer is not None:
                done = time.perf_counter()
                self.observer(sum(len(job.rows) for job in group), done - started, done - inserted)
        except sqlite3.Error as exc:
            self._rollback()
            settle_group([(job, None) for job in group], error=unavailable(exc))
            return
        except BaseException as exc:  # a bug: fail the requests, keep the writer alive
            self._rollback()
            settle_group([(job, None) for job in group], error=exc)
            return
        settle_group(list(zip(group, results, strict=True)))
        self._unprojected += sum(len(job.rows) for job in group)

    def _project(self) -> bool:
        """Run the projection in a transaction of its own; False if it failed. What it derives
        can always be derived again, so a failure fails no request: it is retried later, and
        readers meanwhile read the events it did not cover from the events table."""
        projection = self.projection
        if projection is None:
            return True
        try:
            conn = self._connection(time.monotonic())
            conn.execute("BEGIN IMMEDIATE")
            waiting = projection.run(conn)
            conn.execute("COMMIT")
        except Exception:
            # An outage, or a bug in `run`: either way the writer must live on for appends.
            # Said once until it works again, not once per commit of a long outage.
            if not self._projection_failing:
                _log.warning("projection failed; retried after commits", exc_info=True)
            self._projection_failing = True
            self._rollback()
            return False
        self.commits += 1
        self._unprojected = waiting
        self._projection_failing = False
        return True

    def _run_call(self, call: _Call) -> None:
        try:
            conn = self._connection(call.queued_at)
            conn.execute("BEGIN IMMEDIATE")
            result = call.fn(conn)
            conn.execute("COMMIT")
            self.commits += 1
        except sqlite3.Error as exc:
            self._rollback()
            settle(call.loop, call.future, error=unavailable(exc))
        except BaseException as exc:
            self._rollback()
            settle(call.loop, call.future, error=exc)
        else:
            settle(call.loop, call.future, result=result)


def insert_params(
    tenant: str, source: str, received_at: int, start: int, rows: Sequence[EventRow]
) -> list[tuple[Any, ...]]:
    """INSERT_EVENT's parameters for one append's rows, their offsets numbered from `start`."""
    return [
        (
            start + index,
            tenant,
            row.id,
            source,
            row.name,
            row.customer,
            row.timestamp_us,
            row.value,
            row.payload,
            received_at,
            row.key,
            row.content_hash,
        )
        for index, row in enumerate(rows)
    ]


def _insert_params(group: Sequence[PendingAppend], starts: Sequence[int]) -> list[tuple[Any, ...]]:
    """INSERT_EVENT's parameters for every row of a group, in queue order; each append's rows
    take the offsets from its start on."""
    params: list[tuple[Any, ...]] = []
    for job, start in zip(group, starts, strict=True):
        params += insert_params(job.tenant, job.source, job.received_at, start, job.rows)
    return params


def _last_offsets(cursor: sqlite3.Cursor, group: Sequence[PendingAppend]) -> dict[str, int]:
    """The highest offset of each tenant of the group (0 for none): one index seek per tenant,
    read inside the write transaction, so no other writer can move it."""
    return {
        tenant: int(cursor.execute(_LAST_OFFSET, (tenant,)).fetchone()[0])
        for tenant in {job.tenant for job in group}
    }


def _insert_group(
    cursor: sqlite3.Cursor, group: Sequence[PendingAppend]
) -> list[list[int | None]] | None:
    """Insert a group's rows (inside the writer's transaction), numbering each tenant's rows on
    from its highest offset; for each append, the offset of each row. None, having inserted
    some rows, when a key was taken already: the caller rolls back.

    One executemany for the whole group: the writer holds the GIL while it binds rows, and the
    event loop needs it too, so per-request Python work here slows every request. Offsets are
    given, not drawn, so a tenant's log is gap-free only if every row goes in; the common path
    checks that by the row count alone.
    """
    last = _last_offsets(cursor, group)
    starts = []
    for job in group:
        starts.append(last[job.tenant] + 1)
        last[job.tenant] += len(job.rows)
    params = _insert_params(group, starts)
    cursor.executemany(INSERT_EVENT, params)
    if cursor.rowcount != len(params):
        return None
    return [
        list(range(start, start + len(job.rows))) for job, start in zip(group, starts, strict=True)
    ]


def _insert_row_by_row(
    cursor: sqlite3.Cursor, group: Sequence[PendingAppend]
) -> list[list[int | None]]:
    """Insert a group one row at a time, each new row taking its tenant's next offset; for
    each append, the offset of each row, or None where its key was already stored (or came
    earlier in the group)."""
    last = _last_offsets(cursor, group)
    results: list[list[int | None]] = []
    for job in group:
        offsets: list[int | None] = []
        for params in _insert_params([job], [0]):
            offset = last[job.tenant] + 1
            cursor.execute(INSERT_EVENT, (offset, *params[1:]))
            if cursor.rowcount == 1:
                last[job.tenant] = offset
                offsets.append(offset)
            else:
                offsets.append(None)
        results.append(offsets)
    return results
