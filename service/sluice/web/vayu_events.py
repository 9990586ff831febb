"""The rest of Vayu's events surface: login, query, get, delete, dry run (each also under /v2)."""

from __future__ import annotations

import contextlib
import json
import re
from typing import Any
from urllib.parse import unquote_to_bytes

from litestar import Request, delete, get, post
from litestar.exceptions import NotFoundException
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath

from sluice.access import AccessControl
from sluice.dialects import Dialect
from sluice.documents import json_object
from sluice.errors import InvalidEvents, InvalidParameter, InvalidTimestamp
from sluice.eventlog import MAX_PAGE, EventLog, decode_cursor, encode_cursor, parse_timestamp
from sluice.ingest import IngestService
from sluice.model import EventQuery, StoredEvent
from sluice.registry import CustomerRegistry
from sluice.web.auth import authorize
from sluice.web.body import BodyReader
from sluice.web.openapi import operation_id
from sluice.web.times import iso_millis

DEFAULT_PAGE = 100
# `:path` so that a ref holding slashes (accepted at ingest, so it must be readable), sent as
# is or as %2F, is addressable too.
_ONE = ["/events/{ref:path}", "/v2/events/{ref:path}"]


def _ref(request: Request[Any, Any, Any], path: str) -> str:
    """The ref as the client wrote it: from the raw path where the server gives one, since the
    decoded path has lost repeated slashes (a ref `/a` is `/events/%2Fa`)."""
    raw = request.scope.get("raw_path")
    if isinstance(raw, bytes):
        raw_path = raw.split(b"?", 1)[0]
        for prefix in (b"/v2/events/", b"/events/"):
            if raw_path.startswith(prefix):
                with contextlib.suppress(UnicodeDecodeError):
                    return unquote_to_bytes(raw_path.removeprefix(prefix)).decode()
    return path.removeprefix("/")  # a `:path` parameter keeps its leading slash


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


def _time_param(request: Request[Any, Any, Any], name: str) -> int | None:
    text = request.query_params.get(name)
    if text is None or text == "":
        return None
    # An unencoded '+' in a query string arrives as a space: `…311250+0000` from Vayu's SDK.
    text = text.replace(" ", "+")
    try:
        return parse_timestamp(text)
    except InvalidTimestamp as exc:
        raise InvalidParameter(name, f"{name} must be an ISO 8601 date-time.") from exc


# A whole number, also as a float with a zero fraction: Vayu's SDK types `limit` as a float
# and sends `limit=2.0`. ASCII digits only (`str.isdigit` accepts `²`, which int() refuses).
_WHOLE_NUMBER = re.compile(r"([0-9]{1,7})(?:\.0*)?")


def _limit_param(request: Request[Any, Any, Any]) -> int:
    text = request.query_params.get("limit")
    if text is None:
        return DEFAULT_PAGE
    whole = _WHOLE_NUMBER.fullmatch(text)
    if whole is None or not 1 <= int(whole[1]) <= MAX_PAGE:
        raise InvalidParameter("limit", f"limit must be an integer from 1 to {MAX_PAGE}.")
    return int(whole[1])


def routes(
    access: AccessControl,
    ingest: IngestService,
    dialect: Dialect,
    events: EventLog,
    customers: CustomerRegistry,
    body_reader: BodyReader,
) -> list[HTTPRouteHandler]:
    """Vayu's read, delete, login and dry-run routes over the services they use."""

    @post(["/login", "/v2/login"], operation_id=operation_id("vayuLogin"), status_code=200)
    async def login(request: Request[Any, Any, Any]) -> dict[str, str]:
        """Trade an API key (`refreshToken`) for an access token valid for one hour."""
        refresh_token = json_object(await body_reader.read(request)).get("refreshToken")
        if not isinstance(refresh_token, str) or not refresh_token:
            raise InvalidParameter("refreshToken", "refreshToken is required.")
        return {"accessToken": await access.login(refresh_token)}

    @get(["/events", "/v2/events"], operation_id=operation_id("vayuQueryEvents"))
    async def query_events(request: Request[Any, Any, Any]) -> dict[str, Any]:
        """Live events by time range and name, oldest first, with cursor pagination."""
        grant = await authorize(request, access)
        cursor = request.query_params.get("cursor")
        query = EventQuery(
            start=_time_param(request, "startTime"),
            end=_time_param(request, "endTime"),
            name=request.query_params.get("eventName") or None,
            after=decode_cursor(cursor) if cursor else None,
            limit=_limit_param(request),
        )
        page = await events.page(grant.tenant, query)
        return {
            "events": [render_event(event) for event in page.events],
            "total": page.total,
            "hasMore": page.next_after is not None,
            "nextCursor": encode_cursor(page.next_after) if page.next_after else None,
        }

    @get(_ONE, operation_id=operation_id("vayuGetEvent"))
    async def get_event(request: Request[Any, Any, Any], ref: FromPath[str]) -> dict[str, Any]:
        grant = await authorize(request, access)
        ref = _ref(request, ref)
        event = await events.by_id(grant.tenant, ref)
        if event is None:
            raise NotFoundException(f"No event with ref {ref!r}.")
        return {"event": render_event(event)}

    @delete(_ONE, operation_id=operation_id("vayuDeleteEvent"), status_code=200)
    async def delete_event(request: Request[Any, Any, Any], ref: FromPath[str]) -> dict[str, Any]:
        """Soft delete: the event leaves every read; its (name, ref) stays taken."""
        grant = await authorize(request, access)
        ref = _ref(request, ref)
        deleted = await events.delete(grant.tenant, [ref])
        if not deleted:
            raise NotFoundException(f"No event with ref {ref!r}.")
        return {"event": render_event(deleted[0])}

    @post(
        ["/events/delete-by-refs", "/v2/events/delete-by-refs"],
        operation_id=operation_id("vayuDeleteEventsByRefs"),
        status_code=200,
    )
    async def delete_by_refs(request: Request[Any, Any, Any]) -> dict[str, Any]:
        grant = await authorize(request, access)
        refs = json_object(await body_reader.read(request)).get("refs")
        if (
            not isinstance(refs, list)
            or not 1 <= len(refs) <= MAX_PAGE
            or not all(isinstance(ref, str) and ref for ref in refs)
        ):
            raise InvalidParameter("refs", f"refs must be an array of 1 to {MAX_PAGE} refs.")
        deleted = await events.delete(grant.tenant, refs)
        return {"events": [render_event(event) for event in deleted]}

    @post(
        ["/events/dry-run", "/v2/events/dry-run"],
        operation_id=operation_id("vayuDryRunEvents"),
        status_code=200,
    )
    async def dry_run(request: Request[Any, Any, Any]) -> dict[str, Any]:
        """Validate events and show the customer each would match; nothing is stored or
        reserved. Any invalid event fails the whole request (400) with one `params` entry per
        problem."""
        grant = await authorize(request, access)
        result = await ingest.validate(dialect, grant.tenant, await body_reader.read(request))
        if result.rejected:
            raise InvalidEvents(
                [
                    {
                        "param": f"events[{r.index}].{r.field}"
                        if r.field
                        else f"events[{r.index}]",
                        "message": r.message,
                    }
                    for r in result.rejected
                ]
            )
        rows = result.batch.events
        matched = await customers.match_aliases(grant.tenant, [row.customer for row in rows])
        return {
            "events": [
                {
                    "event": {
                        "timestamp": iso_millis(row.timestamp_us),
                        "customerAlias": row.customer,
                        "accountId": grant.tenant,
                        "data": json.loads(row.payload),
                        "ref": row.id,
                        "name": row.name,
                    },
                    "matchedCustomer": matched[row.customer],
                    "meterWithValues": [],
                }
                for row in rows
            ]
        }

    return [dry_run, login, query_events, get_event, delete_event, delete_by_refs]
