"""The SQL both stores share for kept refusals (RejectionStore), by placeholder style."""

from __future__ import annotations

from typing import Any

from sluice.model import RejectedEvent, RejectionQuery

COLUMNS = "at, request_id, source, name, reason, field, message, event, seq"
INSERT_COLUMNS = "tenant, at, request_id, source, name, reason, field, message, event"


def insert_params(tenant: str, rejection: RejectedEvent) -> tuple[Any, ...]:
    r = rejection
    return (tenant, r.at, r.request_id, r.source, r.name, r.reason, r.field, r.message, r.event)


def prune_sql(p: str) -> str:
    """Drop a tenant's refusals older than a time or past its newest N (params: tenant, since,
    tenant, N)."""
    return (
        f"DELETE FROM rejections WHERE tenant = {p} AND (at < {p} OR seq <= ("
        f"SELECT seq FROM rejections WHERE tenant = {p} ORDER BY seq DESC LIMIT 1 OFFSET {p}))"
    )


def list_sql(p: str, tenant: str, query: RejectionQuery) -> tuple[str, list[Any]]:
    where = [f"tenant = {p}"]
    params: list[Any] = [tenant]
    for column, value in (
        ("source", query.source),
        ("name", query.name),
        ("reason", query.reason),
    ):
        if value is not None:
            where.append(f"{column} = {p}")
            params.append(value)
    if query.since is not None:
        where.append(f"at >= {p}")
        params.append(query.since)
    if query.before is not None:
        where.append(f"seq < {p}")
        params.append(query.before)
    params.append(query.limit)
    sql = (
        f"SELECT {COLUMNS} FROM rejections WHERE {' AND '.join(where)} ORDER BY seq DESC LIMIT {p}"
    )
    return sql, params


def rejected_event(row: tuple[Any, ...]) -> RejectedEvent:
    at, request_id, source, name, reason, field, message, event, seq = row
    return RejectedEvent(at, request_id, source, name, reason, field, message, event, seq)
