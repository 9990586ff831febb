"""Kept refusals over HTTP (`GET /v1/rejections`), answering in Sluice's own error object."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Router, get
from litestar.params import FromQuery, QueryParameter

from sluice.access import AccessControl
from sluice.errors import InvalidParameter, InvalidTimestamp
from sluice.eventlog import parse_timestamp
from sluice.model import RejectedEvent, RejectionQuery
from sluice.rejections import MAX_PAGE, RejectionLog, decode_cursor, encode_cursor
from sluice.web.auth import authorize
from sluice.web.errors import sluice_error
from sluice.web.openapi import READ_ERRORS, SECURITY, ok, responses
from sluice.web.schemas import SluiceError
from sluice.web.schemas_ops import RejectionPage
from sluice.web.times import iso_millis

DEFAULT_PAGE = 100
EXAMPLE_PAGE = {
    "rejections": [
        {
            "at": "2023-09-13T18:25:43.511Z",
            "requestId": "5b1f0e9c2d7a4e3f8a6b0c1d2e3f4a5b",
            "source": "vayu",
            "name": "api_call",
            "reason": "INVALID",
            "field": "timestamp",
            "message": "timestamp must be an ISO 8601 date-time",
            "event": '{"name":"api_call","timestamp":"yesterday"}',
        }
    ],
    # Litestar leaves out the nulls of examples: a page with more after it shows the cursor.
    "nextCursor": "MTI",
    "hasMore": True,
    "counts": [{"source": "vayu", "reason": "INVALID", "count": 1}],
}


def render(rejection: RejectedEvent) -> dict[str, Any]:
    return {
        "at": iso_millis(rejection.at),
        "requestId": rejection.request_id,
        "source": rejection.source,
        "name": rejection.name,
        "reason": rejection.reason,
        "field": rejection.field,
        "message": rejection.message,
        "event": rejection.event,
    }


def _since(value: str) -> int:
    try:
        return parse_timestamp(value)
    except InvalidTimestamp as exc:
        raise InvalidParameter("since", "since must be an ISO 8601 date-time.") from exc


def router(access: AccessControl, rejections: RejectionLog) -> Router:
    @get(
        "/v1/rejections",
        operation_id="listRejections",
        responses=responses(
            sluice_error, SluiceError, READ_ERRORS, {200: ok(RejectionPage, EXAMPLE_PAGE)}
        ),
    )
    async def list_rejections(
        request: Request[Any, Any, Any],
        source: FromQuery[str | None] = None,
        name: FromQuery[str | None] = None,
        reason: FromQuery[str | None] = None,
        since: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
    ) -> dict[str, Any]:
        """The tenant's refused events, newest first: what each client was told, its request id,
        API and event; `counts` totals every refusal (duplicates and rate limits included) by
        API and reason. Pass `nextCursor` back as `cursor` for older ones."""
        grant = await authorize(request, access)
        query = RejectionQuery(
            source=source or None,
            name=name or None,
            reason=reason.upper() if reason else None,
            since=_since(since) if since else None,
            before=decode_cursor(cursor) if cursor else None,
            limit=limit,
        )
        page, before = await rejections.page(grant.tenant, query)
        counts = await rejections.counts(grant.tenant)
        return {
            "rejections": [render(rejection) for rejection in page],
            "nextCursor": encode_cursor(before) if before is not None else None,
            "hasMore": before is not None,
            "counts": [
                {"source": source, "reason": reason, "count": count}
                for (source, reason), count in sorted(counts.items())
            ],
        }

    return Router(
        path="/",
        route_handlers=[list_rejections],
        exception_handlers={Exception: sluice_error},
        security=SECURITY,
        tags=["rejections"],
    )
