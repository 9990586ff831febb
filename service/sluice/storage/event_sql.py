"""SQL over the events table that both stores share; only the placeholder differs."""

from __future__ import annotations

from typing import Any

from sluice.model import EventQuery

# Read in this order, a row is StoredEvent(*row).
EVENT_COLUMNS = (
    "tenant, log_offset, id, source, name, customer, timestamp, value, payload, "
    "received_at, deleted_at, content_hash"
)


def live_filters(tenant: str, query: EventQuery, mark: str) -> tuple[str, list[Any]]:
    """A WHERE clause for a tenant's live events matching the query's filters (not its keyset
    position), with `mark` as the placeholder ("?" for SQLite, "%s" for PostgreSQL)."""
    where = f"tenant = {mark} AND deleted_at IS NULL"
    params: list[Any] = [tenant]
    for clause, value in (
        ("timestamp >=", query.start),
        ("timestamp <", query.end),
        ("name =", query.name),
        ("customer =", query.customer),
    ):
        if value is not None:
            where += f" AND {clause} {mark}"
            params.append(value)
    return where, params
