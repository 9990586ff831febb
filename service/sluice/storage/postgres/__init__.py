"""The PostgreSQL store: the shared store and idempotency authority of several Sluice instances.

psycopg 3 (async, with its pool): typed for mypy --strict as shipped, pipeline mode and COPY
when wanted, and one error hierarchy to map outages from (OperationalError).

The package is split by role: `schema` (migrations), `connection` (the pool's limits, durable
commits, outages), `writer` (the group-commit task and the log lock), `database` (the pool and
writer, and open/close/ping), then one module per protocol the store serves: `events`,
`outbox`, `api_keys`, `customers`, `metering`, `rejections`.

PostgresStore is those role classes mixed over one PostgresDatabase, rather than an object
that holds them and forwards each call: every role needs the same pool and the outbox must
hear of the writer's commits, so they share one base instead of passing it around, and the
store adds no method of its own that could drift from a role's. Each role class is also a
complete store of that one role (`PostgresKeyStore(url)`).
"""

from __future__ import annotations

from sluice.storage.postgres.api_keys import PostgresKeyStore
from sluice.storage.postgres.customers import PostgresCustomerStore
from sluice.storage.postgres.events import PostgresEventStore
from sluice.storage.postgres.metering import PostgresMeterStore, PostgresUsageStore
from sluice.storage.postgres.outbox import PostgresOutbox
from sluice.storage.postgres.rejections import PostgresRejectionStore

__all__ = [
    "PostgresCustomerStore",
    "PostgresEventStore",
    "PostgresKeyStore",
    "PostgresMeterStore",
    "PostgresOutbox",
    "PostgresRejectionStore",
    "PostgresStore",
    "PostgresUsageStore",
]


class PostgresStore(
    PostgresEventStore,
    PostgresOutbox,
    PostgresKeyStore,
    PostgresCustomerStore,
    PostgresMeterStore,
    PostgresUsageStore,
    PostgresRejectionStore,
):
    """`postgresql://…` (libpq URL or conninfo): every role over one connection pool. With
    `outbox`, every appended event is also queued, in its transaction, for publishing."""
