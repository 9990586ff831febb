"""The SQLite store's kept refusals (RejectionStore): writes on the writer thread, in one
transaction with their pruning; reads on WAL readers."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence

from sluice.model import RejectedEvent, RejectionQuery
from sluice.storage.rejection_sql import (
    INSERT_COLUMNS,
    insert_params,
    list_sql,
    prune_sql,
    rejected_event,
)
from sluice.storage.sqlite.database import SqliteDatabase

_INSERT = f"INSERT INTO rejections ({INSERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
_COUNT = (
    "INSERT INTO rejection_counts (tenant, source, reason, total) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (tenant, source, reason) DO UPDATE SET total = total + excluded.total"
)


class SqliteRejectionStore(SqliteDatabase):
    """RejectionStore over SQLite."""

    async def record_rejections(
        self,
        tenant: str,
        rejections: Sequence[RejectedEvent],
        counts: Mapping[tuple[str, str], int],
        keep: int,
        keep_since: int,
    ) -> None:
        def write(conn: sqlite3.Connection) -> None:
            conn.executemany(_INSERT, [insert_params(tenant, r) for r in rejections])
            conn.executemany(_COUNT, [(tenant, *key, n) for key, n in counts.items()])
            conn.execute(prune_sql("?"), (tenant, keep_since, tenant, keep))

        await self._writer.call(write)

    async def list_rejections(self, tenant: str, query: RejectionQuery) -> list[RejectedEvent]:
        sql, params = list_sql("?", tenant, query)
        rows = await self._read(lambda conn: conn.execute(sql, params).fetchall())
        return [rejected_event(row) for row in rows]

    async def rejection_counts(self, tenant: str) -> dict[tuple[str, str], int]:
        sql = "SELECT source, reason, total FROM rejection_counts WHERE tenant = ?"
        rows = await self._read(lambda conn: conn.execute(sql, (tenant,)).fetchall())
        return {(source, reason): total for source, reason, total in rows}
