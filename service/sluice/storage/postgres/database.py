"""The PostgreSQL database a store opens: the connection pool, the group-commit writer, and the
lifecycle (open, close, ping) that every role shares."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

from psycopg import AsyncConnection
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import AsyncConnectionPool

from sluice.errors import StoreUnavailable
from sluice.storage.postgres.connection import (
    CONNECT_WAIT_SECONDS,
    POOL_SIZE,
    configure,
    is_outage,
)
from sluice.storage.postgres.schema import migrate
from sluice.storage.postgres.writer import GroupCommitter


class PostgresDatabase:
    """`postgresql://…` (libpq URL or conninfo). With `outbox`, every appended event is also
    queued, in its transaction, for publishing (publishing.py)."""

    def __init__(self, url: str, *, outbox: bool = False, pool_size: int = POOL_SIZE) -> None:
        params = conninfo_to_dict(url)
        params.setdefault("connect_timeout", 3)
        params.setdefault("application_name", "sluice")
        self._conninfo = make_conninfo("", **params)  # with the defaults above
        self._pool = AsyncConnectionPool(
            url,
            kwargs={**params, "autocommit": True},  # transactions are always explicit
            min_size=1,
            max_size=pool_size,
            open=False,
            timeout=CONNECT_WAIT_SECONDS,
            configure=configure,
            check=AsyncConnectionPool.check_connection,  # a broken one is replaced, not used
            # Give up on a failed reconnection soon: the next request that needs a connection
            # starts a fresh attempt at once, so the store is back as soon as the server is.
            reconnect_timeout=CONNECT_WAIT_SECONDS,
            name="sluice",
        )
        self.outbox = outbox
        self._writer = GroupCommitter(self._connection, outbox=outbox)

    @property
    def commits(self) -> int:
        """Group transactions committed (observability and tests)."""
        return self._writer.commits

    @property
    def copy_from_rows(self) -> int:
        """Groups of at least this many rows are COPYed, smaller ones sent as arrays."""
        return self._writer.copy_from_rows

    @copy_from_rows.setter
    def copy_from_rows(self, rows: int) -> None:
        self._writer.copy_from_rows = rows

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[AsyncConnection[Any]]:
        """A pooled connection; outages on the way in or during use become StoreUnavailable."""
        try:
            async with self._pool.connection() as conn:
                yield conn
        except Exception as exc:
            if is_outage(exc):
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
            # One plain connection first: a server that refuses, an unknown host or a wrong
            # password fails here at once with its own cause, not after the pool's wait.
            await (await AsyncConnection.connect(self._conninfo)).close()
            await self._pool.open(wait=True, timeout=CONNECT_WAIT_SECONDS * 5)
        except Exception as exc:
            await self._pool.close()
            if is_outage(exc):
                raise StoreUnavailable(f"postgresql: {exc}") from exc
            raise
        async with self._connection() as conn:
            await migrate(conn)

    async def close(self) -> None:
        await self._writer.drain()  # answer every queued append first
        await self._pool.close()

    async def ping(self) -> None:
        await self._fetch("SELECT 1")
