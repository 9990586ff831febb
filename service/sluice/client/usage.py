"""Usage queries for the clients: meters and filters as plain values, data points back."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field

from sluice.v1 import usage_pb2

USAGE_METHOD = "/sluice.v1.UsageService/QueryUsage"
GROUPS = {
    "event": usage_pb2.GROUP_BY_EVENT,
    "day": usage_pb2.GROUP_BY_DAY,
    "month": usage_pb2.GROUP_BY_MONTH,
    "quarter": usage_pb2.GROUP_BY_QUARTER,
    "year": usage_pb2.GROUP_BY_YEAR,
}


@dataclass(frozen=True, slots=True)
class Meter:
    """A meter sent with a query: `filters` are (field, eq|neq|gt|gte|lt|lte|in, value)."""

    key: str
    event_name: str
    operator: str = "Count"
    field: str = ""
    instance_key: str = ""
    filters: Sequence[tuple[str, str, str | float | Sequence[str | float]]] = ()


@dataclass(frozen=True, slots=True)
class UsagePoint:
    group: str
    start: datetime.datetime
    values: dict[str, float] = field(default_factory=dict)


def _filter(field_: str, operator: str, value: object) -> usage_pb2.MeterFilter:
    values = list(value) if isinstance(value, list | tuple) else [value]
    return usage_pb2.MeterFilter(
        field=field_,
        operator=operator,
        text=[v for v in values if isinstance(v, str)],
        number=[float(v) for v in values if isinstance(v, int | float)],
    )


def usage_request(
    customer_id: str,
    meters: Sequence[Meter],
    group_by: str,
    start: datetime.datetime | None = None,
    end: datetime.datetime | None = None,
    *,
    customer_id_pattern: str = "",
    meter_ids: Sequence[str] = (),
    fill_dates: bool = False,
) -> usage_pb2.QueryUsageRequest:
    request = usage_pb2.QueryUsageRequest(
        customer_id=customer_id,
        customer_id_pattern=customer_id_pattern,
        meters=[
            usage_pb2.Meter(
                key=m.key,
                event_name=m.event_name,
                operator=m.operator,
                field=m.field,
                instance_key=m.instance_key,
                filters=[_filter(*f) for f in m.filters],
            )
            for m in meters
        ],
        meter_ids=list(meter_ids),
        group_by=GROUPS[group_by],
        fill_dates=fill_dates,
    )
    if start is not None:
        request.start_time.FromDatetime(start.astimezone(datetime.UTC))
    if end is not None:
        request.end_time.FromDatetime(end.astimezone(datetime.UTC))
    return request


def usage_points(response: usage_pb2.QueryUsageResponse) -> list[UsagePoint]:
    return [
        UsagePoint(p.group, p.start.ToDatetime(datetime.UTC), dict(p.values))
        for p in response.data_points
    ]
