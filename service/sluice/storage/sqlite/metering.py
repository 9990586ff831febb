"""The SQLite store's meters and measurements (MeterStore) and its usage reads (UsageStore)."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Sequence
from typing import Any

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
)
from sluice.storage.sqlite import usage_index
from sluice.storage.sqlite.database import SqliteDatabase


def _page(
    conn: sqlite3.Connection, table: str, columns: str, tenant: str, after: str | None, limit: int
) -> list[tuple[Any, ...]]:
    if after is None:
        sql = f"SELECT {columns} FROM {table} WHERE tenant = ? ORDER BY id LIMIT ?"
        return conn.execute(sql, (tenant, limit)).fetchall()
    sql = f"SELECT {columns} FROM {table} WHERE tenant = ? AND id > ? ORDER BY id LIMIT ?"
    return conn.execute(sql, (tenant, after, limit)).fetchall()


def _count(conn: sqlite3.Connection, table: str, tenant: str) -> int:
    total: int = conn.execute(
        f"SELECT count(*) FROM {table} WHERE tenant = ?", (tenant,)
    ).fetchone()[0]
    return total


def _delete_meter(conn: sqlite3.Connection, tenant: str, id: str) -> bool:
    conn.execute("DELETE FROM measurements WHERE tenant = ? AND meter_id = ?", (tenant, id))
    return conn.execute("DELETE FROM meters WHERE tenant = ? AND id = ?", (tenant, id)).rowcount > 0


class SqliteMeterStore(SqliteDatabase):
    """MeterStore over SQLite: writes on the writer thread, reads on WAL readers."""

    async def put_meter(self, tenant: str, meter: Meter) -> None:
        sql = f"INSERT OR REPLACE INTO meters (tenant, {METER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"
        await self._writer.call(lambda conn: conn.execute(sql, meter_params(tenant, meter)))

    async def get_meter(self, tenant: str, id: str) -> Meter | None:
        sql = f"SELECT {METER_COLUMNS} FROM meters WHERE tenant = ? AND id = ?"
        row = await self._read(lambda conn: conn.execute(sql, (tenant, id)).fetchone())
        return None if row is None else meter(row)

    async def list_meters(self, tenant: str, after_id: str | None, limit: int) -> list[Meter]:
        rows = await self._read(
            lambda conn: _page(conn, "meters", METER_COLUMNS, tenant, after_id, limit)
        )
        return [meter(row) for row in rows]

    async def count_meters(self, tenant: str) -> int:
        return await self._read(lambda conn: _count(conn, "meters", tenant))

    async def meters_for_events(self, tenant: str, event_names: Collection[str]) -> list[Meter]:
        def read(conn: sqlite3.Connection) -> list[Meter]:
            found: list[Meter] = []
            for chunk in chunks(list(event_names)):
                sql = (
                    f"SELECT {METER_COLUMNS} FROM meters WHERE tenant = ? "
                    f"AND event_name IN ({', '.join('?' * len(chunk))})"
                )
                found += [meter(row) for row in conn.execute(sql, (tenant, *chunk))]
            return sorted(found, key=lambda m: m.id)

        return await self._read(read)

    async def delete_meter(self, tenant: str, id: str) -> bool:
        return await self._writer.call(lambda conn: _delete_meter(conn, tenant, id))

    async def put_measurement(self, tenant: str, measurement: Measurement) -> None:
        sql = (
            f"INSERT OR REPLACE INTO measurements (tenant, {MEASUREMENT_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        )
        params = measurement_params(tenant, measurement)
        await self._writer.call(lambda conn: conn.execute(sql, params))

    async def get_measurement(self, tenant: str, id: str) -> Measurement | None:
        sql = f"SELECT {MEASUREMENT_COLUMNS} FROM measurements WHERE tenant = ? AND id = ?"
        row = await self._read(lambda conn: conn.execute(sql, (tenant, id)).fetchone())
        return None if row is None else measurement(row)

    async def list_measurements(
        self, tenant: str, after_id: str | None, limit: int
    ) -> list[Measurement]:
        rows = await self._read(
            lambda conn: _page(conn, "measurements", MEASUREMENT_COLUMNS, tenant, after_id, limit)
        )
        return [measurement(row) for row in rows]

    async def count_measurements(self, tenant: str) -> int:
        return await self._read(lambda conn: _count(conn, "measurements", tenant))

    async def delete_measurement(self, tenant: str, id: str) -> bool:
        sql = "DELETE FROM measurements WHERE tenant = ? AND id = ?"
        return await self._writer.call(lambda conn: conn.execute(sql, (tenant, id)).rowcount > 0)


class SqliteUsageStore(SqliteDatabase):
    """UsageStore over SQLite: usage events through the usage index the writer projects
    after commits (usage_index.py), measurements by their (tenant, customer, day) index."""

    async def usage_events(
        self,
        tenant: str,
        customers: Sequence[str],
        names: Sequence[str],
        start: int | None,
        end: int | None,
    ) -> list[StoredEvent]:
        def read(conn: sqlite3.Connection) -> list[StoredEvent]:
            events: list[StoredEvent] = []
            conn.execute("BEGIN")  # one snapshot for the projection's mark, index and tail
            try:
                for chunk in chunks(customers):
                    events += usage_index.usage_events(conn, tenant, chunk, names, start, end)
            finally:
                conn.execute("COMMIT")
            return events

        if not customers or not names:
            return []
        return await self._read(read)

    async def project_usage(self, limit: int = usage_index.PROJECT_LIMIT) -> int:
        """Project up to `limit` waiting events into the usage index now, as the writer does by
        itself after commits and when idle; how many are still waiting (tests, benchmarks)."""
        return await self._writer.call(lambda conn: usage_index.project(conn, limit))

    async def usage_measurements(
        self, tenant: str, customer_ids: Sequence[str], start: int | None, end: int | None
    ) -> list[Measurement]:
        def read(conn: sqlite3.Connection) -> list[Measurement]:
            found: list[Measurement] = []
            for chunk in chunks(customer_ids):
                sql = measurements_sql("?", len(chunk), start, end)
                params = [tenant, *chunk, *(t for t in (start, end) if t is not None)]
                found += [measurement(row) for row in conn.execute(sql, params)]
            return found

        if not customer_ids:
            return []
        return await self._read(read)
