"""How the SQLite store connects: WAL and synchronous=FULL asserted on every connection, and
which sqlite3 errors are outages."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sluice.errors import StoreUnavailable

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


def unavailable(exc: sqlite3.Error) -> Exception:
    """Outages (I/O error, disk full, locked, unreadable file) become StoreUnavailable.

    Integrity and programming errors are bugs and stay what they are.
    """
    if isinstance(exc, sqlite3.IntegrityError | sqlite3.ProgrammingError | sqlite3.InterfaceError):
        return exc
    return StoreUnavailable(f"sqlite: {exc}")
