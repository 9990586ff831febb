"""The SQLite store's checkpoint thread: WAL pages copied into the database file off the
writer's path."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field


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
