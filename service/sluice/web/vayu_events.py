"""The rest of Vayu's events surface: login, query, get, delete (each also under /v2)."""

from __future__ import annotations

import datetime
import json
from typing import Any

from litestar import Request, delete, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from sluice import _core
from sluice.errors import InvalidEvents, InvalidJson, InvalidParameter, InvalidTimestamp
from sluice.eventlog import MAX_PAGE, decode_cursor, encode_cursor
from sluice.model import EventQuery, StoredEvent
from sluice.pipeline import Pipeline
from sluice.web.auth import admit
from sluice.web.body import read_body
from sluice.web.openapi import operation_id

DEFAULT_PAGE = 100


def _pipeline(request: Request[Any, Any, Any]) -> Pipeline:
    pipeline: Pipeline = request.app.state.pipeline
    return pipeline


def iso_millis(us: int) -> str:
    """Vayu's output form, `YYYY-MM-DDTHH:MM:SS.sssZ`."""
    moment = datetime.datetime(1970, 1, 1) + datetime.timedelta(microseconds=us)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def render_event(event: StoredEvent) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": event.name,
        "timestamp": iso_millis(event.timestamp),
        "customerAlias": event.customer,
        "ref": event.id,
        "data": json.loads(event.payload),
        "id": str(event.offset),
        "createdAt": iso_millis(event.received_at),
        "updatedAt": iso_millis(event.deleted_at or event.received_at),
    }
    if event.deleted_at is not None:
        body["deletedAt"] = iso_millis(event.deleted_at)
    return body


async def _json_object(request: Request[Any, Any, Any], pipeline: Pipeline) -> dict[str, Any]:
    parsed = _core.loads_strict(await read_body(request, pipeline))
    if not isinstance(parsed, dict):
        raise InvalidJson("the request body must be a JSON object")
    return parsed


@post(["/login", "/v2/login"], operation_id=operation_id("vayuLogin"), status_code=200)
async def login(request: Request[Any, Any, Any]) -> dict[str, str]:
    """Trade an API key (`refreshToken`) for an access token valid for one hour."""
    pipeline = _pipeline(request)
    refresh_token = (await _json_object(request, pipeline)).get("refreshToken")
    if not isinstance(refresh_token, str) or not refresh_token:
        raise InvalidParameter("refreshToken", "refreshToken is required.")
    return {"accessToken": await pipeline.login(refresh_token)}


def _time_param(request: Request[Any, Any, Any], name: str) -> int | None:
    text = request.query_params.get(name)
    if text is None or text == "":
        return None
    # An unencoded '+' in a query string arrives as a space: `…311250+0000` from Vayu's SDK.
    text = text.replace(" ", "+")
    try:
        return _core.parse_timestamp(text)
    except InvalidTimestamp as exc:
        raise InvalidParameter(name, f"{name} must be an ISO 8601 date-time.") from exc


def _limit_param(request: Request[Any, Any, Any]) -> int:
    text = request.query_params.get("limit")
    if text is None:
        return DEFAULT_PAGE
    if not text.isdigit() or not 1 <= int(text) <= MAX_PAGE:
        raise InvalidParameter("limit", f"limit must be an integer from 1 to {MAX_PAGE}.")
    return int(text)


@get(["/events", "/v2/events"], operation_id=operation_id("vayuQueryEvents"))
async def query_events(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """Live events by time range and name, oldest first, with cursor pagination."""
    pipeline, tenant = await admit(request)
    cursor = request.query_params.get("cursor")
    query = EventQuery(
        start=_time_param(request, "startTime"),
        end=_time_param(request, "endTime"),
        name=request.query_params.get("eventName") or None,
        after=decode_cursor(cursor) if cursor else None,
        limit=_limit_param(request),
    )
    page = await pipeline.events.page(tenant, query)
    return {
        "events": [render_event(event) for event in page.events],
        "total": page.total,
        "hasMore": page.next_after is not None,
        "nextCursor": encode_cursor(page.next_after) if page.next_after else None,
    }


@get(["/events/{ref:str}", "/v2/events/{ref:str}"], operation_id=operation_id("vayuGetEvent"))
async def get_event(request: Request[Any, Any, Any], ref: FromPath[str]) -> dict[str, Any]:
    pipeline, tenant = await admit(request)
    event = await pipeline.events.by_id(tenant, ref)
    if event is None:
        raise NotFoundException(f"No event with ref {ref!r}.")
    return {"event": render_event(event)}


@delete(
    ["/events/{ref:str}", "/v2/events/{ref:str}"],
    operation_id=operation_id("vayuDeleteEvent"),
    status_code=200,
)
async def delete_event(request: Request[Any, Any, Any], ref: FromPath[str]) -> dict[str, Any]:
    """Soft delete: the event leaves every read; its (name, ref) stays taken."""
    pipeline, tenant = await admit(request)
    deleted = await pipeline.events.delete(tenant, [ref])
    if not deleted:
        raise NotFoundException(f"No event with ref {ref!r}.")
    return {"event": render_event(deleted[0])}


@post(
    ["/events/delete-by-refs", "/v2/events/delete-by-refs"],
    operation_id=operation_id("vayuDeleteEventsByRefs"),
    status_code=200,
)
async def delete_by_refs(request: Request[Any, Any, Any]) -> dict[str, Any]:
    pipeline, tenant = await admit(request)
    refs = (await _json_object(request, pipeline)).get("refs")
    if (
        not isinstance(refs, list)
        or not 1 <= len(refs) <= MAX_PAGE
        or not all(isinstance(ref, str) and ref for ref in refs)
    ):
        raise InvalidParameter("refs", f"refs must be an array of 1 to {MAX_PAGE} refs.")
    deleted = await pipeline.events.delete(tenant, refs)
    return {"events": [render_event(event) for event in deleted]}


@post(
    ["/events/dry-run", "/v2/events/dry-run"],
    operation_id=operation_id("vayuDryRunEvents"),
    status_code=200,
)
async def dry_run(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """Validate events and show the customer each would match; nothing is stored or reserved.

    Any invalid event fails the whole request (400) with one `params` entry per problem.
    """
    pipeline, tenant = await admit(request)
    body = await read_body(request, pipeline)
    result, matched = await pipeline.dry_run_vayu(tenant, body)
    if result.rejected:
        raise InvalidEvents(
            [
                {
                    "param": f"events[{index}].{field}" if field else f"events[{index}]",
                    "message": message,
                }
                for index, _reason, field, message in result.rejected
            ]
        )
    return {
        "events": [
            {
                "event": {
                    "timestamp": iso_millis(row.timestamp_us),
                    "customerAlias": row.customer,
                    "accountId": tenant,
                    "data": json.loads(row.payload),
                    "ref": row.id,
                    "name": row.name,
                },
                "matchedCustomer": matched[row.customer],
                "meterWithValues": [],
            }
            for row in result.batch.events
        ]
    }


ROUTES = [dry_run, login, query_events, get_event, delete_event, delete_by_refs]
