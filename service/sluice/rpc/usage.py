"""sluice.v1.UsageService: usage queries over the UsageService (usage.py)."""

from __future__ import annotations

from typing import Any

import grpc

from sluice.errors import InvalidParameter
from sluice.metering import inline_meter
from sluice.model import GROUP_BY, DataPoint
from sluice.rpc.auth import Authenticator, Context
from sluice.rpc.events import decode, instant
from sluice.rpc.status import abort_for
from sluice.usage import UsageRequest, UsageService
from sluice.v1 import usage_pb2

SERVICE_NAME = "sluice.v1.UsageService"


def _filter(message: usage_pb2.MeterFilter) -> dict[str, Any]:
    values: list[Any] = [*message.text, *message.number]
    if not values:
        raise InvalidParameter("filters", "a filter needs a text or a number to compare with.")
    value = values if message.operator == "in" else values[0]
    return {"field": message.field, "operator": message.operator, "value": value}


def _meter(message: usage_pb2.Meter, index: int) -> dict[str, Any]:
    """The proto meter as the inline meter document usage queries take over HTTP, so both
    transports share one set of checks (metering.inline_meter)."""
    aggregation: dict[str, Any] = {"operator": message.operator or "Count"}
    if message.field:
        aggregation["field"] = message.field
    if message.instance_key:
        aggregation["instanceKey"] = message.instance_key
    document: dict[str, Any] = {
        "key": message.key,
        "eventName": message.event_name,
        "aggregation": aggregation,
    }
    if message.filters:
        document["filters"] = [_filter(f) for f in message.filters]
    return document


def request_of(message: usage_pb2.QueryUsageRequest) -> UsageRequest:
    if not 1 <= message.group_by <= len(GROUP_BY):  # unset, or a value this server lacks
        raise InvalidParameter("group_by", "group_by is required: EVENT, DAY, MONTH, ...")
    if not message.customer_id and not message.customer_id_pattern:
        raise InvalidParameter("customer_id", "customer_id or customer_id_pattern is required.")
    return UsageRequest(
        customer_id=message.customer_id,
        customer_pattern=message.customer_id_pattern or None,
        meters=tuple(
            inline_meter(_meter(meter, i), f"meters[{i}]") for i, meter in enumerate(message.meters)
        ),
        meter_ids=tuple(message.meter_ids),
        group_by=GROUP_BY[message.group_by - 1],
        start=instant(message, "start_time"),
        end=instant(message, "end_time"),
        fill_dates=message.fill_dates,
    )


def data_point(point: DataPoint) -> usage_pb2.DataPoint:
    message = usage_pb2.DataPoint(group=point.group, values=point.values)
    message.start.FromMicroseconds(point.start)
    return message


def handler(usage: UsageService, authenticator: Authenticator) -> grpc.GenericRpcHandler[Any, Any]:
    async def query_usage(
        raw: bytes, context: Context, tenant: str
    ) -> usage_pb2.QueryUsageResponse:
        message = await decode(usage_pb2.QueryUsageRequest, raw, context)
        try:
            points = await usage.query(tenant, request_of(message))
        except Exception as exc:
            await abort_for(exc, context)
        return usage_pb2.QueryUsageResponse(data_points=[data_point(p) for p in points])

    return authenticator.service(
        SERVICE_NAME,
        {
            "QueryUsage": grpc.unary_unary_rpc_method_handler(
                query_usage, None, usage_pb2.QueryUsageResponse.SerializeToString
            )
        },
    )
