"""How the PostgreSQL store connects: the pool's limits, durable commits asserted on every new
connection, and which errors are outages."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import AsyncConnection

from sluice.storage.postgres.writer import CREATE_STAGING

# How long a request waits for a pooled connection (or a new one) before it is answered 503.
CONNECT_WAIT_SECONDS = 2.0
POOL_SIZE = 10
# Durable enough: every value but `off` and `local` also waits for the local WAL flush.
_DURABLE_COMMIT = ("on", "remote_write", "remote_apply")


def is_outage(exc: BaseException) -> bool:
    """Connection loss, a server shutting down or refusing connections, a full disk, a pool
    with no connection to give, a read-only standby after a failover: all transient."""
    return isinstance(exc, psycopg.OperationalError | psycopg.errors.ReadOnlySqlTransaction)


async def configure(conn: AsyncConnection[Any]) -> None:
    """Every new connection commits durably (asserted, not just requested) and has its own
    staging table for group commits."""
    await conn.execute(CREATE_STAGING)
    cursor = await conn.execute("SHOW synchronous_commit")
    row = await cursor.fetchone()
    if row is None or row[0] not in _DURABLE_COMMIT:
        await conn.execute("SET synchronous_commit = on")
        cursor = await conn.execute("SHOW synchronous_commit")
        row = await cursor.fetchone()
        if row is None or row[0] not in _DURABLE_COMMIT:
            raise RuntimeError(f"postgresql refused synchronous_commit=on: {row}")
