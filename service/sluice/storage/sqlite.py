"""Embedded SQLite store: WAL + synchronous=FULL, one writer thread that group-commits appends."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sluice.errors import CustomerConflict, StoreUnavailable
from sluice.model import ApiKeyRecord, Customer, EventQuery, EventRow, StoredEvent
from sluice.storage import API_KEY_COLUMNS, Store
from sluice.storage import sqlite_customers as customers_sql
from sluice.storage.event_sql import EVENT_COLUMNS as _EVENT_COLUMNS
from sluice.storage.event_sql import live_filters
from sluice.storage.group_commit import PendingAppend, next_group, settle, settle_group

T = TypeVar("T")

# Each entry moves the schema from version i to i + 1 (PRAGMA user_version). Append only.
MIGRATIONS = [
    """
    CREATE TABLE tenants (
        name TEXT PRIMARY KEY,
        created_at INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE api_keys (
        key_id TEXT PRIMARY KEY,
        tenant TEXT NOT NULL REFERENCES tenants (name),
        secret_hash BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        revoked_at INTEGER
    ) STRICT;
    CREATE TABLE events (
        log_offset INTEGER PRIMARY KEY AUTOINCREMENT,  -- AUTOINCREMENT: offsets never reused
        tenant TEXT NOT NULL,
        id TEXT NOT NULL,
        source TEXT NOT NULL,
        name TEXT NOT NULL,
        customer TEXT NOT NULL,
        timestamp INTEGER NOT NULL,
        value REAL,
        payload TEXT NOT NULL,
        received_at INTEGER NOT NULL,
        deleted_at INTEGER,
        key_hash BLOB NOT NULL,
        content_hash BLOB NOT NULL,
        UNIQUE (tenant, name, id)  -- the authoritative idempotency check
    ) STRICT;
    CREATE INDEX events_by_tenant_offset ON events (tenant, log_offset);
    """,
    # Reads by time range (Vayu GET /events) and by ref alone (refs repeat across names).
    """
    CREATE INDEX events_by_tenant_time ON events (tenant, timestamp, log_offset);
    CREATE INDEX events_by_tenant_id ON events (tenant, id);
    """,
    # The customer registry (sqlite_customers.py). `aliases` keeps each customer's list as
    # given, `customer_aliases` indexes it so an alias names one customer of its tenant, and
    # `email_key` (the casefolded email) makes emails unique per tenant whatever their case.
    """
    CREATE TABLE customers (
        tenant TEXT NOT NULL,
        id TEXT NOT NULL,
        email TEXT,
        email_key TEXT,
        aliases TEXT NOT NULL,
        attributes TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (tenant, id)
    ) STRICT;
    CREATE UNIQUE INDEX customers_by_email ON customers (tenant, email_key)
        WHERE email_key IS NOT NULL;
    CREATE TABLE customer_aliases (
        tenant TEXT NOT NULL,
        alias TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        PRIMARY KEY (tenant, alias)
    ) STRICT, WITHOUT ROWID;
    """,
    # Per-key request rate (NULL: the server default, 0: unlimited).
    """
    ALTER TABLE api_keys ADD COLUMN rate_limit INTEGER;
    """,
    # Fewer b-trees per stored event (bench/bench_http.py: the store alone went from 134k to
    # 189k events/s with the same rows): one unique index (tenant, id, name) is both the
    # idempotency check and, by its prefix, the lookup by ref alone; and no AUTOINCREMENT,
    # whose sqlite_sequence row was rewritten on every insert. Offsets are still never reused:
    # rows are never removed (deletes are soft), so max(log_offset) + 1 only grows.
    """
    CREATE TABLE events_v5 (
        log_offset INTEGER PRIMARY KEY,
        tenant TEXT NOT NULL,
        id TEXT NOT NULL,
        source TEXT NOT NULL,
        name TEXT NOT NULL,
        customer TEXT NOT NULL,
        timestamp INTEGER NOT NULL,
        value REAL,
        payload TEXT NOT NULL,
        received_at INTEGER NOT NULL,
        deleted_at INTEGER,
        key_hash BLOB NOT NULL,
        content_hash BLOB NOT NULL,
        UNIQUE (tenant, id, name)
    ) STRICT;
    INSERT INTO events_v5
        SELECT log_offset, tenant, id, source, name, customer, timestamp, value, payload,
               received_at, deleted_at, key_hash, content_hash
        FROM events ORDER BY log_offset;
    DROP TABLE events;
    ALTER TABLE events_v5 RENAME TO events;
    CREATE INDEX events_by_tenant_offset ON events (tenant, log_offset);
    CREATE INDEX events_by_tenant_time ON events (tenant, timestamp, log_offset);
    """,
]

_INSERT_EVENT = """
    INSERT INTO events (tenant, id, source, name, customer, timestamp, value, payload,
                        received_at, key_hash, content_hash)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (tenant, id, name) DO NOTHING
"""


def _unavailable(exc: sqlite3.Error) -> Exception:
    """Outages (I/O error, disk full, locked, unreadable file) become StoreUnavailable.

    Integrity and programming errors are bugs and stay what they are.
    """
    if isinstance(exc, sqlite3.IntegrityError | sqlite3.ProgrammingError | sqlite3.InterfaceError):
        return exc
    return StoreUnavailable(f"sqlite: {exc}")


# PRAGMA synchronous levels a store may run at (Settings.sqlite_synchronous). FULL is the
# durable default; NORMAL exists to measure what FULL costs.
SYNCHRONOUS_LEVELS = {"FULL": 2, "NORMAL": 1}


# The writer leaves checkpoints to the Checkpointer and only does one itself, as SQLite would
# after every commit past 1000 pages, once the WAL has grown this far (the Checkpointer
# stuck behind a reader, say).
WRITER_AUTOCHECKPOINT_PAGES = 20_000


def connect(
    path: Path,
    busy_timeout_ms: int,
    synchronous: str = "FULL",
    *,
    autocheckpoint_pages: int | None = None,
) -> sqlite3.Connection:
    """A connection with the durability settings asserted, not just requested."""
    level = SYNCHRONOUS_LEVELS[synchronous]
    conn = sqlite3.connect(
        path, isolation_level=None, check_same_thread=False, timeout=busy_timeout_ms / 1000
    )
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        if autocheckpoint_pages is not None:
            conn.execute(f"PRAGMA wal_autocheckpoint = {int(autocheckpoint_pages)}")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        conn.execute(f"PRAGMA synchronous = {synchronous}")
        conn.execute("PRAGMA foreign_keys = ON")
        in_force = conn.execute("PRAGMA synchronous").fetchone()[0]
        if mode.lower() != "wal" or in_force != level:
            raise RuntimeError(
                f"sqlite refused durable settings: journal_mode={mode}, synchronous={in_force}"
            )
    except BaseException:
        conn.close()
        raise
    return conn


@dataclass
class _Call:
    fn: Callable[[sqlite3.Connection], Any]
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop
    queued_at: float = field(default_factory=time.monotonic)


# Queued to stop the writer thread after everything queued before it.
_STOP = _Call(fn=lambda conn: None, future=None, loop=None)  # type: ignore[arg-type]


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
    # Told (rows, seconds) after every group commit: metrics.
    observer: Callable[[int, float], None] | None = None
    # Off: every append is its own transaction (Settings.group_commit; benchmarks only).
    group_commit: bool = True

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

    def _run(self) -> None:
        pending: object | None = None
        while True:
            job = pending if pending is not None else self._jobs.get()
            pending = None
            if job is _STOP:
                break
            if isinstance(job, _Call):
                self._run_call(job)
                continue
            assert isinstance(job, PendingAppend)
            group, pending = next_group(job, self._waiting) if self.group_commit else ([job], None)
            self._commit_group(group)
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
            conn.execute("COMMIT")
            self.commits += 1
            if self.observer is not None:
                self.observer(sum(len(job.rows) for job in group), time.perf_counter() - started)
        except sqlite3.Error as exc:
            self._rollback()
            settle_group([(job, None) for job in group], error=_unavailable(exc))
            return
        except BaseException as exc:  # a bug: fail the requests, keep the writer alive
            self._rollback()
            settle_group([(job, None) for job in group], error=exc)
            return
        settle_group(list(zip(group, results, strict=True)))

    def _run_call(self, call: _Call) -> None:
        try:
            conn = self._connection(call.queued_at)
            conn.execute("BEGIN IMMEDIATE")
            result = call.fn(conn)
            conn.execute("COMMIT")
            self.commits += 1
        except sqlite3.Error as exc:
            self._rollback()
            settle(call.loop, call.future, error=_unavailable(exc))
        except BaseException as exc:
            self._rollback()
            settle(call.loop, call.future, error=exc)
        else:
            settle(call.loop, call.future, result=result)


@dataclass
class Checkpointer:
    """Copies committed pages from the WAL into the database file on a thread and connection
    of its own, a little after commits happen.

    Left to SQLite, the commit that takes the WAL past 1000 pages runs the checkpoint itself
    (page copies and an fsync of the database file) before it returns, and every request of
    that group waits for it: the slow tail of 1-event requests. PASSIVE never waits for, nor
    blocks, the writer or the readers; the writer restarts the WAL from its start once a
    checkpoint has caught up. Durability does not depend on it: a commit is synced in the WAL.
    """

    open_connection: Callable[[], sqlite3.Connection]
    commits: Callable[[], int]  # transactions committed so far: is there anything new?
    interval_seconds: float = 0.05
    checkpoints: int = 0  # checkpoints run (tests)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="sluice-checkpoint", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        seen = self.commits()
        while not self._stop.wait(self.interval_seconds):
            committed = self.commits()
            if committed == seen:
                continue
            seen = committed
            try:
                if conn is None:
                    conn = self.open_connection()
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                self.checkpoints += 1
            except sqlite3.Error:
                # A full disk or I/O error: the writer reports outages; try again later with
                # a fresh connection.
                if conn is not None:
                    with contextlib.suppress(sqlite3.Error):
                        conn.close()
                conn = None
        if conn is not None:
            conn.close()


def _insert_group(cursor: sqlite3.Cursor, group: Sequence[PendingAppend]) -> list[list[int | None]]:
    """Insert a group's rows (inside the writer's transaction); for each append, the offset of
    each row, or None where its key was already stored.

    One executemany for the whole group: the writer holds the GIL while it binds rows, and the
    event loop needs it too, so per-request Python work here slows every request. executemany
    reports no rowids, but none are needed on the common path: the writer is alone in its
    transaction and a new rowid is max + 1, so n new rows take exactly the n offsets after the
    previous maximum, in order.
    """
    last = _max_offset(cursor)
    cursor.executemany(
        _INSERT_EVENT,
        [
            (
                job.tenant,
                row.id,
                job.source,
                row.name,
                row.customer,
                row.timestamp_us,
                row.value,
                row.payload,
                job.received_at,
                row.key,
                row.content_hash,
            )
            for job in group
            for row in job.rows
        ],
    )
    results: list[list[int | None]] = []
    if cursor.rowcount == sum(len(job.rows) for job in group):
        start = last + 1
        for job in group:
            results.append(list(range(start, start + len(job.rows))))
            start += len(job.rows)
        if _max_offset(cursor) != start - 1:
            raise RuntimeError(f"sqlite gave offsets up to {_max_offset(cursor)}, not {start - 1}")
        return results
    # Some keys were taken already: the rows stored now are the ones after `last`, and where
    # the group repeats a key only its first row can be one of them.
    inserted = {
        (tenant, name, id_): offset
        for offset, tenant, name, id_ in cursor.execute(
            "SELECT log_offset, tenant, name, id FROM events WHERE log_offset > ?", (last,)
        )
    }
    for job in group:
        results.append([inserted.pop((job.tenant, row.name, row.id), None) for row in job.rows])
    return results


def _max_offset(cursor: sqlite3.Cursor) -> int:
    return int(cursor.execute("SELECT coalesce(max(log_offset), 0) FROM events").fetchone()[0])


def _migrate(conn: sqlite3.Connection) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        for statement in script.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {number}")


def _event(row: sqlite3.Row | tuple[Any, ...]) -> StoredEvent:
    return StoredEvent(*row)


# Events whose keys one start-up query concatenates (see _committed_keys).
_KEYS_PER_QUERY = 100_000


def _committed_keys(conn: sqlite3.Connection) -> bytes:
    """Every stored key_hash, concatenated, from one snapshot.

    SQLite concatenates them (group_concat), so Python handles one value per 100,000 events
    instead of a row each: start to ready with 10M stored events went from 6.0-9.1 s to 4.2 s
    (interleaved runs; bench/bench_startup.py measures it). group_concat reads a
    blob as text, which keeps its bytes only in a UTF-8 database; ours always are, and any
    other takes the row-by-row path.
    """
    if conn.execute("PRAGMA encoding").fetchone()[0] != "UTF-8":
        return b"".join(row[0] for row in conn.execute("SELECT key_hash FROM events"))
    conn.execute("BEGIN")  # one read snapshot across the queries
    try:
        low, high = conn.execute("SELECT min(log_offset), max(log_offset) FROM events").fetchone()
        parts: list[bytes] = []
        for start in range(low or 0, (high or -1) + 1, _KEYS_PER_QUERY):
            count, keys = conn.execute(
                "SELECT count(*), CAST(group_concat(key_hash, '') AS BLOB) FROM events "
                "WHERE log_offset >= ? AND log_offset < ?",
                (start, start + _KEYS_PER_QUERY),
            ).fetchone()
            if count and len(keys) != 16 * count:
                raise RuntimeError(f"read {len(keys)} bytes for {count} 16-byte keys")
            parts.append(keys or b"")
        return b"".join(parts)
    finally:
        conn.execute("COMMIT")


def _first_live_by_id(
    conn: sqlite3.Connection, tenant: str, ids: Sequence[str], name: str | None = None
) -> list[StoredEvent]:
    """The first stored live event for each id (of `name` when given): refs are unique per
    name, not across names."""
    found: dict[str, StoredEvent] = {}
    unique = list(dict.fromkeys(ids))
    named = "" if name is None else "AND name = ? "
    for start in range(0, len(unique), 500):  # stay under SQLite's bound-parameter limit
        chunk = unique[start : start + 500]
        marks = ",".join("?" * len(chunk))
        sql = (
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE tenant = ? AND deleted_at IS NULL "
            f"{named}AND id IN ({marks}) ORDER BY log_offset"
        )
        params = [tenant, *([] if name is None else [name]), *chunk]
        for row in conn.execute(sql, params):
            event = _event(row)
            found.setdefault(event.id, event)
    return sorted(found.values(), key=lambda event: event.offset)


class SqliteStore(Store):
    """The embedded default store. Reads go through a small thread pool of WAL readers."""

    def __init__(
        self,
        path: str | Path,
        busy_timeout_ms: int = 2000,
        *,
        synchronous: str = "FULL",
        group_commit: bool = True,
    ) -> None:
        if synchronous not in SYNCHRONOUS_LEVELS:
            raise ValueError(f"synchronous must be one of {sorted(SYNCHRONOUS_LEVELS)}")
        self.path = Path(path)
        self._busy_timeout_ms = busy_timeout_ms
        self._synchronous = synchronous
        self._writer = GroupCommitter(
            lambda: connect(
                self.path,
                self._busy_timeout_ms,
                self._synchronous,
                autocheckpoint_pages=WRITER_AUTOCHECKPOINT_PAGES,
            ),
            busy_timeout_ms,
            group_commit=group_commit,
        )
        self._checkpointer = Checkpointer(
            lambda: connect(self.path, self._busy_timeout_ms, self._synchronous),
            lambda: self._writer.commits,
        )
        self._readers = ThreadPoolExecutor(max_workers=2, thread_name_prefix="sluice-sqlite-read")
        self._local = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer.start()
        await self._writer.call(_migrate)
        self._checkpointer.start()

    async def close(self) -> None:
        await asyncio.to_thread(self._checkpointer.stop)
        self._writer.hand_over_all()
        await asyncio.to_thread(self._writer.stop)
        self._readers.shutdown(wait=True)
        with self._lock:
            for conn in self._reader_conns:
                conn.close()
            self._reader_conns.clear()

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path, self._busy_timeout_ms, self._synchronous)
            self._local.conn = conn
            with self._lock:
                self._reader_conns.append(conn)
        return conn

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def run() -> T:
            try:
                return fn(self._reader())
            except sqlite3.Error as exc:
                raise _unavailable(exc) from exc

        return await asyncio.get_running_loop().run_in_executor(self._readers, run)

    def observe_commits(self, observer: Callable[[int, float], None]) -> None:
        self._writer.observer = observer

    async def ping(self) -> None:
        """Readable, and writable now: a write lock held by another process (which readers in
        WAL mode do not notice) fails the ping within the busy timeout. The lock is tried on a
        reader, not queued on the writer, so a backlog of appends does not fail readiness."""

        def probe(conn: sqlite3.Connection) -> None:
            conn.execute("SELECT count(*) FROM tenants").fetchone()
            try:
                conn.execute("BEGIN IMMEDIATE")
            finally:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")

        await self._read(probe)

    async def append(
        self, tenant: str, source: str, received_at: int, rows: Sequence[EventRow]
    ) -> list[int | None]:
        if not rows:
            return []
        return await self._writer.append(tenant, source, received_at, rows)

    async def committed_keys(self) -> bytes:
        return await self._read(_committed_keys)

    async def get_event(self, tenant: str, name: str, id: str) -> StoredEvent | None:
        sql = f"SELECT {_EVENT_COLUMNS} FROM events WHERE tenant = ? AND name = ? AND id = ?"
        row = await self._read(lambda conn: conn.execute(sql, (tenant, name, id)).fetchone())
        return None if row is None else _event(row)

    async def read_log(self, tenant: str, after_offset: int, limit: int) -> list[StoredEvent]:
        sql = (
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE tenant = ? AND log_offset > ? "
            "ORDER BY log_offset LIMIT ?"
        )
        rows = await self._read(
            lambda conn: conn.execute(sql, (tenant, after_offset, limit)).fetchall()
        )
        return [_event(row) for row in rows]

    async def query_events(self, tenant: str, query: EventQuery) -> list[StoredEvent]:
        where, params = live_filters(tenant, query, "?")
        if query.after is not None:
            where += " AND (timestamp, log_offset) > (?, ?)"
            params.extend(query.after)
        sql = (
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE {where} "
            "ORDER BY timestamp, log_offset LIMIT ?"
        )
        params.append(query.limit)
        rows = await self._read(lambda conn: conn.execute(sql, params).fetchall())
        return [_event(row) for row in rows]

    async def count_events(self, tenant: str, query: EventQuery) -> int:
        where, params = live_filters(tenant, query, "?")
        sql = f"SELECT count(*) FROM events WHERE {where}"
        count: int = await self._read(lambda conn: conn.execute(sql, params).fetchone()[0])
        return count

    async def live_events_by_id(
        self, tenant: str, ids: Sequence[str], name: str | None = None
    ) -> list[StoredEvent]:
        return await self._read(lambda conn: _first_live_by_id(conn, tenant, ids, name))

    async def delete_events_by_id(
        self, tenant: str, ids: Sequence[str], now_us: int, name: str | None = None
    ) -> list[StoredEvent]:
        def delete(conn: sqlite3.Connection) -> list[StoredEvent]:
            found = _first_live_by_id(conn, tenant, ids, name)
            conn.executemany(
                "UPDATE events SET deleted_at = ? WHERE log_offset = ?",
                [(now_us, event.offset) for event in found],
            )
            return [dataclasses.replace(event, deleted_at=now_us) for event in found]

        return await self._writer.call(delete)

    async def ensure_tenant(self, tenant: str, now_us: int) -> None:
        await self._writer.call(
            lambda conn: conn.execute(
                "INSERT INTO tenants (name, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (tenant, now_us),
            )
        )

    async def add_api_key(self, record: ApiKeyRecord) -> None:
        await self._writer.call(
            lambda conn: conn.execute(
                f"INSERT INTO api_keys ({API_KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                dataclasses.astuple(record),
            )
        )

    async def find_api_key(self, key_id: str) -> ApiKeyRecord | None:
        row = await self._read(
            lambda conn: conn.execute(
                f"SELECT {API_KEY_COLUMNS} FROM api_keys WHERE key_id = ?",
                (key_id,),
            ).fetchone()
        )
        return None if row is None else ApiKeyRecord(*row)

    async def set_api_key_rate_limit(self, key_id: str, rate_limit: int | None) -> bool:
        def update(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "UPDATE api_keys SET rate_limit = ? WHERE key_id = ?", (rate_limit, key_id)
            )
            return cursor.rowcount == 1

        return await self._writer.call(update)

    async def list_api_keys(self) -> list[ApiKeyRecord]:
        rows = await self._read(
            lambda conn: conn.execute(
                f"SELECT {API_KEY_COLUMNS} FROM api_keys ORDER BY created_at, key_id"
            ).fetchall()
        )
        return [ApiKeyRecord(*row) for row in rows]

    async def revoke_api_key(self, key_id: str, now_us: int) -> bool:
        def revoke(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL",
                (now_us, key_id),
            )
            return cursor.rowcount == 1

        return await self._writer.call(revoke)

    async def put_customer(self, tenant: str, customer: Customer) -> Customer:
        return await self._writer.call(lambda conn: customers_sql.put(conn, tenant, customer))

    async def put_customers(
        self, tenant: str, customers: Sequence[Customer]
    ) -> dict[int, CustomerConflict]:
        return await self._writer.call(lambda conn: customers_sql.put_many(conn, tenant, customers))

    async def get_customer(self, tenant: str, id: str) -> Customer | None:
        return await self._read(lambda conn: customers_sql.get(conn, tenant, id))

    async def delete_customer(self, tenant: str, id: str) -> bool:
        return await self._writer.call(lambda conn: customers_sql.delete(conn, tenant, id))

    async def list_customers(self, tenant: str, after_id: str | None, limit: int) -> list[Customer]:
        return await self._read(lambda conn: customers_sql.page(conn, tenant, after_id, limit))

    async def find_customer(
        self, tenant: str, *, email: str | None = None, alias: str | None = None
    ) -> Customer | None:
        return await self._read(lambda conn: customers_sql.find(conn, tenant, email, alias))

    async def known_customer_ids(self, tenant: str, ids: Collection[str]) -> set[str]:
        return await self._read(lambda conn: customers_sql.known_ids(conn, tenant, ids))

    async def merge_customer_attributes(
        self, tenant: str, id: str, changes: dict[str, Any], now_us: int | None = None
    ) -> Customer | None:
        at = time.time_ns() // 1000 if now_us is None else now_us
        return await self._writer.call(
            lambda conn: customers_sql.merge_attributes(conn, tenant, id, changes, at)
        )
