"""SQL over meters, measurements and the usage read that both stores share; only the
placeholder differs."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sluice.model import Measurement, Meter
from sluice.storage.event_sql import EVENT_COLUMNS

METER_COLUMNS = "id, event_name, document, created_at, updated_at"
MEASUREMENT_COLUMNS = "id, customer_id, meter_id, day, value, created_at, updated_at"
# Ids, customers and names per statement: under SQLite's and PostgreSQL's parameter limits.
CHUNK = 500


def meter(row: Sequence[Any]) -> Meter:
    id_, event_name, document, created_at, updated_at = row
    return Meter(id_, event_name, json.loads(document), created_at, updated_at)


def meter_params(tenant: str, meter: Meter) -> tuple[Any, ...]:
    document = json.dumps(meter.document, separators=(",", ":"), ensure_ascii=False)
    return (tenant, meter.id, meter.event_name, document, meter.created_at, meter.updated_at)


def measurement(row: Sequence[Any]) -> Measurement:
    id_, customer_id, meter_id, day, value, created_at, updated_at = row
    return Measurement(id_, customer_id, meter_id, day, value, created_at, updated_at)


def measurement_params(tenant: str, m: Measurement) -> tuple[Any, ...]:
    return (tenant, m.id, m.customer_id, m.meter_id, m.day_us, m.value, m.created_at, m.updated_at)


def usage_events_sql(
    mark: str, customers: int, names: int, start: int | None, end: int | None
) -> str:
    """Live events of some customers and names in [start, end): one range scan of the
    (tenant, customer, name, timestamp) index per customer and name."""
    sql = (
        f"SELECT {EVENT_COLUMNS} FROM events WHERE tenant = {mark} "
        f"AND customer IN ({', '.join([mark] * customers)}) "
        f"AND name IN ({', '.join([mark] * names)}) AND deleted_at IS NULL"
    )
    if start is not None:
        sql += f" AND timestamp >= {mark}"
    if end is not None:
        sql += f" AND timestamp < {mark}"
    return sql


def usage_events_params(
    tenant: str, customers: Sequence[str], names: Sequence[str], start: int | None, end: int | None
) -> list[Any]:
    return [tenant, *customers, *names, *(t for t in (start, end) if t is not None)]


def measurements_sql(mark: str, customers: int, start: int | None, end: int | None) -> str:
    sql = (
        f"SELECT {MEASUREMENT_COLUMNS} FROM measurements WHERE tenant = {mark} "
        f"AND customer_id IN ({', '.join([mark] * customers)})"
    )
    if start is not None:
        sql += f" AND day >= {mark}"
    if end is not None:
        sql += f" AND day < {mark}"
    return sql


def chunks(items: Sequence[str]) -> list[Sequence[str]]:
    return [items[i : i + CHUNK] for i in range(0, len(items), CHUNK)]
