"""The rest of Vayu's events surface: login, query, get, delete, dry run (each also under /v2)."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any
from urllib.parse import unquote

from litestar import Request, delete, get, post
from litestar.exceptions import NotFoundException
from litestar.handlers import HTTPRouteHandler
from litestar.params import QueryParameter

from sluice.access import AccessControl
from sluice.aggregation import admits, one_event
from sluice.dialects import Dialect
from sluice.documents import json_object
from sluice.errors import InvalidEvents, InvalidParameter, InvalidTimestamp
from sluice.eventlog import MAX_PAGE, EventLog, decode_cursor, encode_cursor, parse_timestamp
from sluice.ingest import IngestService
from sluice.metering import Metering, spec_of
from sluice.model import EventQuery, StoredEvent
from sluice.registry import CustomerRegistry
from sluice.vayu_ids import account_id
from sluice.web import vayu_docs
from sluice.web.auth import authorize
from sluice.web.body import BodyReader
from sluice.web.errors import sluice_error
from sluice.web.openapi import (
    BY_ID_ERRORS,
    READ_ERRORS,
    SECURITY,
    WRITE_ERRORS,
    operation_id,
    request_body,
)
from sluice.web.schemas import (
    DeleteByRefsRequest,
    DryRunResult,
    EventList,
    EventPage,
    EventResult,
    LoginRequest,
    LoginResult,
    VayuIngestRequest,
)
from sluice.web.times import iso_millis
from sluice.web.vayu_docs import Cursor, Limit

DEFAULT_PAGE = 100
_START = "ISO 8601 date-time, inclusive."
_END = "ISO 8601 date-time, exclusive."
_ALIAS = "Only this customer's events; `(none)` finds events stored without one."
# What an event stored without a customer (collect without `userId`) reads back as:
# Vayu's `customerAlias` is never empty (the SDK's read models refuse ""). The same word
# filters for them in `GET /events?customerAlias=`.
NO_CUSTOMER = "(none)"
# Fixed words after `/events/` that name a route of their own (Vayu's and Enso's). A ref
# equal to one of them is still read and deleted by ref: these paths take GET and DELETE too.
ROUTE_WORDS = ("dry-run", "delete-by-refs", "batch", "aggregation")
_REF_PREFIXES = ("/v2/events/", "/events/")
# Route-word paths served by another router (Enso's batch, the usage query): their reads by
# ref go in that router (web/app.py), as Litestar cannot merge two routers' handlers on a path.
OTHER_ROUTERS_PATHS = ("/events/batch", "/v2/events/aggregation")


def customer_alias(customer: str) -> str:
    return customer or NO_CUSTOMER


def render_event(event: StoredEvent) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": event.name,
        "timestamp": iso_millis(event.timestamp),
        "customerAlias": customer_alias(event.customer),
        "ref": event.id,
        "data": json.loads(event.payload),
        "id": str(event.offset),
        "createdAt": iso_millis(event.received_at),
        "updatedAt": iso_millis(event.deleted_at or event.received_at),
    }
    if event.deleted_at is not None:
        body["deletedAt"] = iso_millis(event.deleted_at)
    return body


def _ref(request: Request[Any, Any, Any]) -> str:
    """The ref a `/events/<ref>` path addresses, exactly: from the raw path, so a ref with a
    `/` (sent as is or as %2F), a trailing or a doubled slash reads back unchanged (the routed
    path has its trailing slash stripped)."""
    raw = request.scope["raw_path"].decode("latin-1")
    for prefix in _REF_PREFIXES:
        if raw.startswith(prefix):
            try:
                return unquote(raw[len(prefix) :], errors="strict")
            except UnicodeDecodeError as exc:  # no ref is invalid UTF-8: none is stored
                raise NotFoundException("No event with this ref.") from exc
    raise NotFoundException("No event ref in this path.")  # unreachable: routes are prefixed


def _customer_param(request: Request[Any, Any, Any]) -> str | None:
    alias = request.query_params.get("customerAlias")
    if not alias:
        return None
    return "" if alias == NO_CUSTOMER else alias


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


def limit_param(request: Request[Any, Any, Any]) -> int:
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
    metering: Metering,
    body_reader: BodyReader,
) -> list[HTTPRouteHandler]:
    """Vayu's read, delete, login and dry-run routes over the services they use."""

    # No security requirement: the key travels in the body, as `refreshToken`.
    @post(
        ["/login", "/v2/login"],
        operation_id=operation_id("vayuLogin"),
        status_code=200,
        dependencies=request_body(LoginRequest, vayu_docs.LOGIN, "An API key as `refreshToken`."),
        responses=vayu_docs.answers(
            LoginResult, vayu_docs.ACCESS_TOKEN, (400, 401, 413, 415, 503), "Valid for one hour."
        ),
    )
    async def login(request: Request[Any, Any, Any]) -> dict[str, str]:
        """Trade an API key (`refreshToken`) for an access token valid for one hour."""
        refresh_token = json_object(await body_reader.read(request)).get("refreshToken")
        if not isinstance(refresh_token, str) or not refresh_token:
            raise InvalidParameter("refreshToken", "refreshToken is required.")
        return {"accessToken": await access.login(refresh_token)}

    @get(
        ["/events", "/v2/events"],
        operation_id=operation_id("vayuQueryEvents"),
        security=SECURITY,
        responses=vayu_docs.answers(EventPage, vayu_docs.EVENT_PAGE, READ_ERRORS),
    )
    async def query_events(
        request: Request[Any, Any, Any],
        start_time: Annotated[
            str | None, QueryParameter(name="startTime", description=_START)
        ] = None,
        end_time: Annotated[str | None, QueryParameter(name="endTime", description=_END)] = None,
        event_name: Annotated[str | None, QueryParameter(name="eventName")] = None,
        customer_alias: Annotated[
            str | None, QueryParameter(name="customerAlias", description=_ALIAS)
        ] = None,
        limit: Limit = None,
        cursor: Cursor = None,
    ) -> dict[str, Any]:
        """Live events by time range and name, oldest first, with cursor pagination. (The
        parameters are declared for the OpenAPI document; each is read below, as before.)"""
        grant = await authorize(request, access)
        cursor = request.query_params.get("cursor")
        query = EventQuery(
            start=_time_param(request, "startTime"),
            end=_time_param(request, "endTime"),
            name=request.query_params.get("eventName") or None,
            customer=_customer_param(request),
            after=decode_cursor(cursor) if cursor else None,
            limit=limit_param(request),
        )
        page = await events.page(grant.tenant, query)
        return {
            "events": [render_event(event) for event in page.events],
            "total": page.total,
            "hasMore": page.next_after is not None,
            "nextCursor": encode_cursor(page.next_after) if page.next_after else None,
        }

    @post(
        ["/events/delete-by-refs", "/v2/events/delete-by-refs"],
        operation_id=operation_id("vayuDeleteEventsByRefs"),
        status_code=200,
        security=SECURITY,
        dependencies=request_body(DeleteByRefsRequest, vayu_docs.REFS, "1 to 1000 refs."),
        responses=vayu_docs.answers(
            EventList, {"events": [vayu_docs.DELETED_EVENT]}, WRITE_ERRORS, "The events deleted."
        ),
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
        security=SECURITY,
        dependencies=request_body(
            VayuIngestRequest, vayu_docs.EXAMPLE_REQUEST, "1 to 1000 events."
        ),
        responses=vayu_docs.answers(DryRunResult, vayu_docs.DRY_RUN, WRITE_ERRORS),
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
        account = account_id(grant.tenant)
        matched = await customers.match_aliases(grant.tenant, [row.customer for row in rows])
        meters = await metering.meters_for_events(grant.tenant, {row.name for row in rows})
        specs = [(meter, spec_of(meter)) for meter in meters]
        answer = []
        for row in rows:
            data = json.loads(row.payload)
            with_values = []
            for meter, spec in specs:
                if spec.event_name == row.name and admits(spec, data, row.value):
                    measured, instance = one_event(spec, data, row.value)
                    with_values.append(
                        {**meter.document, "value": measured, "instanceValue": instance}
                    )
            event = {
                "timestamp": iso_millis(row.timestamp_us),
                "customerAlias": row.customer,
                "accountId": account,
                "data": data,
                "ref": row.id,
                "name": row.name,
            }
            answer.append(
                {
                    "event": event,
                    "matchedCustomer": matched[row.customer],
                    "meterWithValues": with_values,
                }
            )
        return {"events": answer}

    by_ref = ref_routes(access, events, [f"{prefix}{{ref:path}}" for prefix in _REF_PREFIXES])
    words = [
        f"{prefix}{word}"
        for prefix in _REF_PREFIXES
        for word in ROUTE_WORDS
        if f"{prefix}{word}" not in OTHER_ROUTERS_PATHS
    ]
    return [
        dry_run,
        login,
        query_events,
        delete_by_refs,
        *by_ref,
        *ref_routes(access, events, words, in_schema=False),
    ]


def ref_routes(
    access: AccessControl, events: EventLog, paths: list[str], *, in_schema: bool = True
) -> list[HTTPRouteHandler]:
    """GET and DELETE of one event by ref at each of `paths` (the ref is read from the raw
    path: `{ref:path}`, or a route word of ROUTE_WORDS standing for itself)."""

    @get(
        paths,
        operation_id=operation_id("vayuGetEvent"),
        include_in_schema=in_schema,
        security=SECURITY,
        responses=vayu_docs.answers(EventResult, {"event": vayu_docs.STORED_EVENT}, BY_ID_ERRORS),
        exception_handlers={Exception: sluice_error},
    )
    async def get_event(request: Request[Any, Any, Any]) -> dict[str, Any]:
        grant = await authorize(request, access)
        ref = _ref(request)
        event = await events.by_id(grant.tenant, ref)
        if event is None:
            raise NotFoundException(f"No event with ref {ref!r}.")
        return {"event": render_event(event)}

    @delete(
        paths,
        operation_id=operation_id("vayuDeleteEvent"),
        status_code=200,
        include_in_schema=in_schema,
        security=SECURITY,
        responses=vayu_docs.answers(
            EventResult,
            {"event": vayu_docs.DELETED_EVENT},
            BY_ID_ERRORS,
            "The event deleted.",
        ),
        exception_handlers={Exception: sluice_error},
    )
    async def delete_event(request: Request[Any, Any, Any]) -> dict[str, Any]:
        """Soft delete: the event leaves every read; its (name, ref) stays taken."""
        grant = await authorize(request, access)
        ref = _ref(request)
        deleted = await events.delete(grant.tenant, [ref])
        if not deleted:
            raise NotFoundException(f"No event with ref {ref!r}.")
        return {"event": render_event(deleted[0])}

    return [get_event, delete_event]
