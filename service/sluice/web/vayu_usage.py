"""Vayu's usage query, `POST /v2/events/aggregation`, over the usage service."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from litestar import Request, Router, post
from litestar.handlers import HTTPRouteHandler

from sluice.access import AccessControl
from sluice.documents import json_object
from sluice.errors import InvalidParameter, InvalidTimestamp
from sluice.eventlog import parse_timestamp
from sluice.metering import inline_meter
from sluice.model import GROUP_BY, DataPoint
from sluice.usage import MAX_METERS, UsageRequest, UsageService
from sluice.web import vayu_docs
from sluice.web.auth import authorize
from sluice.web.body import BodyReader
from sluice.web.errors import sluice_error
from sluice.web.openapi import SECURITY, WRITE_ERRORS, request_body
from sluice.web.schemas_registry import UsageRequest as UsageRequestShape
from sluice.web.schemas_registry import UsageResult
from sluice.web.times import iso_millis

FIELDS = ("customerId", "customerIdPattern", "period", "meters", "groupBy", "fillDates")


def _time(period: dict[str, Any], key: str) -> int | None:
    text = period.get(key)
    if text is None:
        return None
    if not isinstance(text, str):
        raise InvalidParameter(f"period.{key}", f"period.{key} must be an ISO 8601 date-time.")
    try:
        return parse_timestamp(text)
    except InvalidTimestamp as exc:
        raise InvalidParameter(
            f"period.{key}", f"period.{key} must be an ISO 8601 date-time."
        ) from exc


def read_request(body: bytes) -> UsageRequest:
    fields = json_object(body)
    for key in fields:
        if key not in FIELDS:
            raise InvalidParameter(key, f"Unknown field {key!r}.")
    customer_id = fields.get("customerId")
    if not isinstance(customer_id, str) or not customer_id:
        raise InvalidParameter("customerId", "customerId must be a non-empty string.")
    pattern = fields.get("customerIdPattern")
    if pattern is not None and (not isinstance(pattern, str) or not pattern):
        raise InvalidParameter("customerIdPattern", "customerIdPattern must be a non-empty string.")
    period = fields.get("period")
    if not isinstance(period, dict):
        raise InvalidParameter("period", "period must be an object {startTime, endTime}.")
    group_by = fields.get("groupBy")
    if group_by not in GROUP_BY:
        raise InvalidParameter("groupBy", f"groupBy must be one of {', '.join(GROUP_BY)}.")
    meters = fields.get("meters")
    if not isinstance(meters, list) or not 1 <= len(meters) <= MAX_METERS:
        raise InvalidParameter("meters", f"meters must be an array of 1 to {MAX_METERS} meters.")
    fill_dates = fields.get("fillDates")
    if fill_dates is not None and not isinstance(fill_dates, bool):
        raise InvalidParameter("fillDates", "fillDates must be a boolean.")
    return UsageRequest(
        customer_id=customer_id,
        customer_pattern=pattern,
        meters=tuple(inline_meter(meter, f"meters[{i}]") for i, meter in enumerate(meters)),
        meter_ids=(),
        group_by=group_by,
        start=_time(period, "startTime"),
        end=_time(period, "endTime"),
        fill_dates=bool(fill_dates),
    )


def render(request: UsageRequest, points: list[DataPoint]) -> dict[str, Any]:
    return {
        "dataPoints": [{"group": point.group, "values": point.values} for point in points],
        "period": {
            "startTime": None if request.start is None else iso_millis(request.start),
            "endTime": None if request.end is None else iso_millis(request.end),
        },
        "groupBy": request.group_by,
    }


def router(
    access: AccessControl,
    usage: UsageService,
    body_reader: BodyReader,
    shared_path_routes: Sequence[HTTPRouteHandler] = (),
) -> Router:
    """The usage query; `shared_path_routes` are Vayu's reads of the event whose ref is
    `aggregation`, which must live in the router of this path."""

    @post(
        "/v2/events/aggregation",
        operation_id="vayuQueryEventsAggregation",
        status_code=200,
        dependencies=request_body(
            UsageRequestShape, vayu_docs.USAGE_REQUEST, "The customer, period, meters, grouping."
        ),
        responses=vayu_docs.answers(UsageResult, vayu_docs.USAGE_RESULT, WRITE_ERRORS),
    )
    async def aggregation(request: Request[Any, Any, Any]) -> dict[str, Any]:
        """Usage by meter and time group for a customer (or `customerIdPattern`, a glob over
        registry ids): each meter inline, with `filters` (eq, neq, gt, gte, lt, lte, in)."""
        grant = await authorize(request, access)
        query = read_request(await body_reader.read(request))
        return render(query, await usage.query(grant.tenant, query))

    return Router(
        path="/",
        route_handlers=[aggregation, *shared_path_routes],
        exception_handlers={Exception: sluice_error},
        security=SECURITY,
        tags=["vayu"],
    )
