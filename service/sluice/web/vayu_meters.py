"""Vayu's meters (`/meters`) and measurements (`/measurements`) over the metering service.

Vayu's SDK has no call to create a meter: `POST /meters` (the same document its update takes)
and `sluice meters create` are Sluice's own.
"""

from __future__ import annotations

import time
from typing import Any

from litestar import Request, Router, delete, get, post, put
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from sluice.access import AccessControl
from sluice.documents import json_object
from sluice.metering import Metering, Page, day_of
from sluice.model import Measurement, Meter
from sluice.web import vayu_docs
from sluice.web.auth import authorize
from sluice.web.body import BodyReader
from sluice.web.customers import decode_cursor, encode_cursor
from sluice.web.errors import sluice_error
from sluice.web.openapi import BY_ID_ERRORS, READ_ERRORS, SECURITY, WRITE_ERRORS, request_body
from sluice.web.schemas_registry import (
    MeasurementPage,
    MeasurementRequest,
    MeasurementResult,
    MeterChanges,
    MeterFields,
    MeterPage,
    MeterResult,
)
from sluice.web.times import iso_millis
from sluice.web.vayu_docs import Cursor, Limit, answers
from sluice.web.vayu_events import limit_param


def render_meter(meter: Meter) -> dict[str, Any]:
    return {
        "id": meter.id,
        **meter.document,
        "createdAt": iso_millis(meter.created_at),
        "updatedAt": iso_millis(meter.updated_at),
    }


def render_measurement(measurement: Measurement) -> dict[str, Any]:
    return {
        "id": measurement.id,
        "customerId": measurement.customer_id,
        "meterId": measurement.meter_id,
        "usageDate": day_of(measurement.day_us),
        "value": measurement.value,
        "createdAt": iso_millis(measurement.created_at),
        "updatedAt": iso_millis(measurement.updated_at),
    }


def _object(body: bytes) -> dict[str, Any]:
    return json_object(body, empty_is_nothing=True)


def _listing(key: str, rendered: list[dict[str, Any]], page: Page[Any]) -> dict[str, Any]:
    """Vayu's list shape: `{<key>: […], total, hasMore, nextCursor}` (cursor: the last id)."""
    last = rendered[-1]["id"] if rendered else None
    return {
        key: rendered,
        "total": page.total,
        "hasMore": page.has_more,
        "nextCursor": encode_cursor(last) if page.has_more and last is not None else None,
    }


def _now() -> str:
    return iso_millis(time.time_ns() // 1000)


def router(access: AccessControl, metering: Metering, body_reader: BodyReader) -> Router:
    """Meter and measurement routes over the metering service."""

    def missing(what: str, id_: str) -> NotFoundException:
        return NotFoundException(f"No {what} with id {id_!r}.")

    def cursor_of(request: Request[Any, Any, Any]) -> str | None:
        cursor = request.query_params.get("cursor")
        return decode_cursor(cursor) if cursor else None

    meter = {"meter": vayu_docs.METER}
    measurement = {"measurement": vayu_docs.MEASUREMENT}
    deleted = {"deletedAt": "2023-09-14T09:00:00.000Z"}

    @post(
        "/meters",
        operation_id="vayuCreateMeter",
        status_code=200,
        dependencies=request_body(MeterFields, vayu_docs.METER_DOCUMENT, "The meter."),
        responses=answers(MeterResult, meter, WRITE_ERRORS, "Created, with a new id."),
    )
    async def create_meter(request: Request[Any, Any, Any]) -> dict[str, Any]:
        """Sluice's own: `{name, eventName, aggregationMethod, filter?}` -> `{"meter"}`."""
        grant = await authorize(request, access)
        document = _object(await body_reader.read(request))
        return {"meter": render_meter(await metering.create_meter(grant.tenant, document))}

    @get(
        "/meters",
        operation_id="vayuListMeters",
        responses=answers(MeterPage, vayu_docs.METER_PAGE, READ_ERRORS),
    )
    async def list_meters(
        request: Request[Any, Any, Any], limit: Limit = None, cursor: Cursor = None
    ) -> dict[str, Any]:
        """In id order. (`limit` and `cursor` are declared for the document and read below.)"""
        grant = await authorize(request, access)
        page = await metering.meters(grant.tenant, cursor_of(request), limit_param(request))
        return _listing("meters", [render_meter(m) for m in page.items], page)

    @get(
        "/meters/{meter_id:str}",
        operation_id="vayuGetMeter",
        responses=answers(MeterResult, meter, BY_ID_ERRORS),
    )
    async def get_meter(request: Request[Any, Any, Any], meter_id: FromPath[str]) -> dict[str, Any]:
        grant = await authorize(request, access)
        meter = await metering.get_meter(grant.tenant, meter_id)
        if meter is None:
            raise missing("meter", meter_id)
        return {"meter": render_meter(meter)}

    @put(
        "/meters/{meter_id:str}",
        operation_id="vayuUpdateMeter",
        status_code=200,
        dependencies=request_body(MeterChanges, vayu_docs.METER_CHANGES, "The fields to change."),
        responses=answers(
            MeterResult,
            {"meter": {**vayu_docs.METER, **vayu_docs.METER_CHANGES}},
            (*WRITE_ERRORS, 404),
            "Changed.",
        ),
    )
    async def update_meter(
        request: Request[Any, Any, Any], meter_id: FromPath[str]
    ) -> dict[str, Any]:
        """Replace the fields sent; a null `filter` removes the filter."""
        grant = await authorize(request, access)
        changes = _object(await body_reader.read(request))
        meter = await metering.update_meter(grant.tenant, meter_id, changes)
        if meter is None:
            raise missing("meter", meter_id)
        return {"meter": render_meter(meter)}

    @delete(
        "/meters/{meter_id:str}",
        operation_id="vayuDeleteMeter",
        status_code=200,
        responses=answers(
            MeterResult, {"meter": {**vayu_docs.METER, **deleted}}, BY_ID_ERRORS, "Deleted."
        ),
    )
    async def delete_meter(
        request: Request[Any, Any, Any], meter_id: FromPath[str]
    ) -> dict[str, Any]:
        """Delete a meter and its measurements."""
        grant = await authorize(request, access)
        meter = await metering.delete_meter(grant.tenant, meter_id)
        if meter is None:
            raise missing("meter", meter_id)
        return {"meter": {**render_meter(meter), "deletedAt": _now()}}

    @post(
        "/measurements",
        operation_id="vayuCreateMeasurement",
        status_code=200,
        dependencies=request_body(
            MeasurementRequest, vayu_docs.NEW_MEASUREMENT, "One day's value of a meter."
        ),
        responses=answers(MeasurementResult, measurement, WRITE_ERRORS, "Created, with an id."),
    )
    async def create_measurement(request: Request[Any, Any, Any]) -> dict[str, Any]:
        """`{customerId, meterId, usageDate{year, month, day}, value}`: one day's value of a
        meter for a customer, counted in usage queries of that meter."""
        grant = await authorize(request, access)
        fields = _object(await body_reader.read(request))
        measurement = await metering.create_measurement(grant.tenant, fields)
        return {"measurement": render_measurement(measurement)}

    @get(
        "/measurements",
        operation_id="vayuListMeasurements",
        responses=answers(MeasurementPage, vayu_docs.MEASUREMENT_PAGE, READ_ERRORS),
    )
    async def list_measurements(
        request: Request[Any, Any, Any], limit: Limit = None, cursor: Cursor = None
    ) -> dict[str, Any]:
        """In id order. (`limit` and `cursor` are declared for the document and read below.)"""
        grant = await authorize(request, access)
        page = await metering.measurements(grant.tenant, cursor_of(request), limit_param(request))
        return _listing("measurements", [render_measurement(m) for m in page.items], page)

    @get(
        "/measurements/{measurement_id:str}",
        operation_id="vayuGetMeasurement",
        responses=answers(MeasurementResult, measurement, BY_ID_ERRORS),
    )
    async def get_measurement(
        request: Request[Any, Any, Any], measurement_id: FromPath[str]
    ) -> dict[str, Any]:
        grant = await authorize(request, access)
        measurement = await metering.get_measurement(grant.tenant, measurement_id)
        if measurement is None:
            raise missing("measurement", measurement_id)
        return {"measurement": render_measurement(measurement)}

    @delete(
        "/measurements/{measurement_id:str}",
        operation_id="vayuDeleteMeasurement",
        status_code=200,
        responses=answers(
            MeasurementResult,
            {"measurement": {**vayu_docs.MEASUREMENT, **deleted}},
            BY_ID_ERRORS,
            "Deleted.",
        ),
    )
    async def delete_measurement(
        request: Request[Any, Any, Any], measurement_id: FromPath[str]
    ) -> dict[str, Any]:
        grant = await authorize(request, access)
        measurement = await metering.delete_measurement(grant.tenant, measurement_id)
        if measurement is None:
            raise missing("measurement", measurement_id)
        return {"measurement": {**render_measurement(measurement), "deletedAt": _now()}}

    return Router(
        path="/",
        route_handlers=[
            create_meter,
            list_meters,
            get_meter,
            update_meter,
            delete_meter,
            create_measurement,
            list_measurements,
            get_measurement,
            delete_measurement,
        ],
        exception_handlers={Exception: sluice_error},
        security=SECURITY,
        tags=["vayu"],
    )
