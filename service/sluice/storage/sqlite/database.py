"""The SQLite database a store opens: the writer thread, the checkpoint thread and a small pool
of WAL readers, and the lifecycle (open, close, ping) that every role shares."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from sluice.storage.sqlite import usage_index
from sluice.storage.sqlite.checkpointer import Checkpointer
from sluice.storage.sqlite.connection import (
    SYNCHRONOUS_LEVELS,
    WRITER_AUTOCHECKPOINT_PAGES,
    connect,
    unavailable,
)
from sluice.storage.sqlite.schema import migrate
from sluice.storage.sqlite.writer import GroupCommitter, Projection

T = TypeVar("T")


class SqliteDatabase:
    """One database file: writes go through the writer thread (`_writer.call`, in their own
    transaction), reads through a small thread pool of WAL readers (`_read`)."""

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
            projection=Projection(
                usage_index.project, usage_index.PROJECT_ROWS, usage_index.IDLE_SECONDS
            ),
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
        await self._writer.call(migrate)
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
                raise unavailable(exc) from exc

        return await asyncio.get_running_loop().run_in_executor(self._readers, run)

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
