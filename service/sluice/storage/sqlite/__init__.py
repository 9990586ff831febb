"""The embedded SQLite store: WAL + synchronous=FULL, one writer thread that group-commits
appends, a checkpoint thread, and a small pool of WAL readers.

The package is split by role: `schema` (migrations), `connection` (pragmas, outages),
`writer` (the group-commit thread), `checkpointer`, `database` (the threads and readers, and
open/close/ping), then one module per protocol the store serves: `events`, `api_keys`,
`customers`, `metering`, `rejections`.

SqliteStore is those role classes mixed over one SqliteDatabase, rather than an object that
holds them and forwards each call: every role needs the same file, writer thread and readers
(a customer put and an append must queue on the one writer), so they share one base instead
of passing it around, and the store adds no method of its own that could drift from a role's.
Each role class is also a complete store of that one role (`SqliteKeyStore(path)`).
"""

from __future__ import annotations

from sluice.storage.sqlite.api_keys import SqliteKeyStore
from sluice.storage.sqlite.customers import SqliteCustomerStore
from sluice.storage.sqlite.events import SqliteEventStore
from sluice.storage.sqlite.metering import SqliteMeterStore, SqliteUsageStore
from sluice.storage.sqlite.rejections import SqliteRejectionStore

__all__ = [
    "SqliteCustomerStore",
    "SqliteEventStore",
    "SqliteKeyStore",
    "SqliteMeterStore",
    "SqliteRejectionStore",
    "SqliteStore",
    "SqliteUsageStore",
]


class SqliteStore(
    SqliteEventStore,
    SqliteKeyStore,
    SqliteCustomerStore,
    SqliteMeterStore,
    SqliteUsageStore,
    SqliteRejectionStore,
):
    """The embedded default store: every role over one database file."""
