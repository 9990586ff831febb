"""The PostgreSQL store's kept refusals (RejectionStore): each record one transaction with its
pruning."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sluice.model import RejectedEvent, RejectionQuery
from sluice.storage.postgres.database import PostgresDatabase
from sluice.storage.rejection_sql import (
    INSERT_COLUMNS,
    insert_params,
    list_sql,
    prune_sql,
    rejected_event,
)

_INSERT = f"INSERT INTO rejections ({INSERT_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
_COUNT = (
    "INSERT INTO rejection_counts (tenant, source, reason, total) VALUES (%s, %s, %s, %s) "
    "ON CONFLICT (tenant, source, reason) "
    "DO UPDATE SET total = rejection_counts.total + excluded.total"
)


class PostgresRejectionStore(PostgresDatabase):
    """RejectionStore over PostgreSQL."""

    async def record_rejections(
        self,
        tenant: str,
        rejections: Sequence[RejectedEvent],
        counts: Mapping[tuple[str, str], int],
        keep: int,
        keep_since: int,
    ) -> None:
        async with self._connection() as conn, conn.transaction(), conn.cursor() as cursor:
            if rejections:
                await cursor.executemany(_INSERT, [insert_params(tenant, r) for r in rejections])
            if counts:
                await cursor.executemany(_COUNT, [(tenant, *key, n) for key, n in counts.items()])
            await cursor.execute(prune_sql("%s"), (tenant, keep_since, tenant, keep))

    async def list_rejections(self, tenant: str, query: RejectionQuery) -> list[RejectedEvent]:
        sql, params = list_sql("%s", tenant, query)
        return [rejected_event(row) for row in await self._fetch(sql, params)]

    async def rejection_counts(self, tenant: str) -> dict[tuple[str, str], int]:
        rows = await self._fetch(
            "SELECT source, reason, total FROM rejection_counts WHERE tenant = %s", [tenant]
        )
        return {(source, reason): int(total) for source, reason, total in rows}
