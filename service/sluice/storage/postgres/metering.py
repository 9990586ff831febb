"""The PostgreSQL store's meters and measurements (MeterStore) and its usage reads
(UsageStore)."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sluice.model import Measurement, Meter, StoredEvent
from sluice.storage.metering_sql import (
    MEASUREMENT_COLUMNS,
    METER_COLUMNS,
    chunks,
    measurement,
    measurement_params,
    measurements_sql,
    meter,
    meter_params,
    usage_events_params,
    usage_events_sql,
)
from sluice.storage.postgres.database import PostgresDatabase


class PostgresMeterStore(PostgresDatabase):
    """MeterStore over PostgreSQL: each call one statement (or one transaction)."""

    async def put_meter(self, tenant: str, meter: Meter) -> None:
        await self._write(
            f"INSERT INTO meters (tenant, {METER_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (tenant, id) DO UPDATE SET event_name = excluded.event_name, "
            "document = excluded.document, created_at = excluded.created_at, "
            "updated_at = excluded.updated_at",
            meter_params(tenant, meter),
        )

    async def get_meter(self, tenant: str, id: str) -> Meter | None:
        rows = await self._fetch(
            f"SELECT {METER_COLUMNS} FROM meters WHERE tenant = %s AND id = %s", [tenant, id]
        )
        return meter(rows[0]) if rows else None

    async def list_meters(self, tenant: str, after_id: str | None, limit: int) -> list[Meter]:
        rows = await self._fetch(
            f"SELECT {METER_COLUMNS} FROM meters WHERE tenant = %s "
            "AND (%s::text IS NULL OR id > %s) ORDER BY id LIMIT %s",
            [tenant, after_id, after_id, limit],
        )
        return [meter(row) for row in rows]

    async def count_meters(self, tenant: str) -> int:
        rows = await self._fetch("SELECT count(*) FROM meters WHERE tenant = %s", [tenant])
        total: int = rows[0][0]
        return total

    async def meters_for_events(self, tenant: str, event_names: Collection[str]) -> list[Meter]:
        rows = await self._fetch(
            f"SELECT {METER_COLUMNS} FROM meters WHERE tenant = %s AND event_name = ANY(%s) "
            "ORDER BY id",
            [tenant, list(event_names)],
        )
        return [meter(row) for row in rows]

    async def delete_meter(self, tenant: str, id: str) -> bool:
        async with self._connection() as conn, conn.transaction():
            await conn.execute(
                "DELETE FROM measurements WHERE tenant = %s AND meter_id = %s", [tenant, id]
            )
            cursor = await conn.execute(
                "DELETE FROM meters WHERE tenant = %s AND id = %s", [tenant, id]
            )
            return cursor.rowcount > 0

    async def put_measurement(self, tenant: str, measurement: Measurement) -> None:
        await self._write(
            f"INSERT INTO measurements (tenant, {MEASUREMENT_COLUMNS}) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (tenant, id) DO UPDATE SET "
            "customer_id = excluded.customer_id, meter_id = excluded.meter_id, "
            "day = excluded.day, value = excluded.value, updated_at = excluded.updated_at",
            measurement_params(tenant, measurement),
        )

    async def get_measurement(self, tenant: str, id: str) -> Measurement | None:
        rows = await self._fetch(
            f"SELECT {MEASUREMENT_COLUMNS} FROM measurements WHERE tenant = %s AND id = %s",
            [tenant, id],
        )
        return measurement(rows[0]) if rows else None

    async def list_measurements(
        self, tenant: str, after_id: str | None, limit: int
    ) -> list[Measurement]:
        rows = await self._fetch(
            f"SELECT {MEASUREMENT_COLUMNS} FROM measurements WHERE tenant = %s "
            "AND (%s::text IS NULL OR id > %s) ORDER BY id LIMIT %s",
            [tenant, after_id, after_id, limit],
        )
        return [measurement(row) for row in rows]

    async def count_measurements(self, tenant: str) -> int:
        rows = await self._fetch("SELECT count(*) FROM measurements WHERE tenant = %s", [tenant])
        total: int = rows[0][0]
        return total

    async def delete_measurement(self, tenant: str, id: str) -> bool:
        changed = await self._write(
            "DELETE FROM measurements WHERE tenant = %s AND id = %s", [tenant, id]
        )
        return changed > 0


class PostgresUsageStore(PostgresDatabase):
    """UsageStore over PostgreSQL: range scans of events_by_customer."""

    async def usage_events(
        self,
        tenant: str,
        customers: Sequence[str],
        names: Sequence[str],
        start: int | None,
        end: int | None,
    ) -> list[StoredEvent]:
        events: list[StoredEvent] = []
        if not names:
            return events
        for chunk in chunks(customers):
            sql = usage_events_sql("%s", len(chunk), len(names), start, end)
            rows = await self._fetch(sql, usage_events_params(tenant, chunk, names, start, end))
            events += [StoredEvent(*row) for row in rows]
        return events

    async def usage_measurements(
        self, tenant: str, customer_ids: Sequence[str], start: int | None, end: int | None
    ) -> list[Measurement]:
        found: list[Measurement] = []
        for chunk in chunks(customer_ids):
            sql = measurements_sql("%s", len(chunk), start, end)
            params = [tenant, *chunk, *(t for t in (start, end) if t is not None)]
            found += [measurement(row) for row in await self._fetch(sql, params)]
        return found
