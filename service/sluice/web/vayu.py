"""Vayu's events API: `POST /events`, with Vayu's error object on every failure."""

from __future__ import annotations

import json
from typing import Any

from litestar import Request, Response, Router, post

from sluice.access import AccessControl
from sluice.dialects import Dialect
from sluice.eventlog import EventLog
from sluice.ingest import IngestService
from sluice.metering import Metering
from sluice.model import IngestOutcome
from sluice.registry import CustomerRegistry
from sluice.web import vayu_events
from sluice.web.auth import authorize
from sluice.web.body import BodyReader
from sluice.web.errors import sluice_error
from sluice.web.headers import request_id_of
from sluice.web.observe import note_outcome
from sluice.web.openapi import SECURITY, WRITE_ERRORS, ok, operation_id, request_body, responses
from sluice.web.schemas import SluiceError, VayuIngestRequest, VayuIngestResult
from sluice.web.vayu_docs import EXAMPLE_EVENT, EXAMPLE_REQUEST


def render_result(body: bytes, result: IngestOutcome) -> bytes:
    """`{"validEvents":[…],"invalidEvents":[…]}`, echoing each event exactly as it was sent."""
    spans = result.batch.spans
    valid = b",".join(body[spans[i][0] : spans[i][1]] for i in result.accepted)
    invalid = b",".join(
        b'{"event":'
        + body[spans[r.index][0] : spans[r.index][1]]
        + b',"error":'
        + json.dumps(r.message).encode()
        + b"}"
        for r in result.rejected
    )
    return b'{"validEvents":[' + valid + b'],"invalidEvents":[' + invalid + b"]}"


def router(
    access: AccessControl,
    ingest: IngestService,
    dialect: Dialect,
    events: EventLog,
    customers: CustomerRegistry,
    metering: Metering,
    body_reader: BodyReader,
) -> Router:
    """Vayu's routes over the services they use."""

    @post(
        ["/events", "/v2/events"],
        operation_id=operation_id("vayuIngestEvents"),
        status_code=200,
        security=SECURITY,
        dependencies=request_body(VayuIngestRequest, EXAMPLE_REQUEST, "1 to 1000 events."),
        responses=responses(
            sluice_error,
            SluiceError,
            WRITE_ERRORS,
            {
                200: ok(
                    VayuIngestResult,
                    {"validEvents": [EXAMPLE_EVENT], "invalidEvents": []},
                    "Each event valid or invalid; duplicates are invalid, the rest stored.",
                )
            },
        ),
    )
    async def ingest_events(request: Request[Any, Any, Any]) -> Response[bytes]:
        grant = await authorize(request, access)
        body = await body_reader.read(request)
        result = await ingest.ingest(
            dialect, grant.tenant, body, request_id=request_id_of(request.scope)
        )
        note_outcome(request, result)
        return Response(render_result(body, result), media_type="application/json")

    return Router(
        path="/",
        route_handlers=[
            ingest_events,
            *vayu_events.routes(access, ingest, dialect, events, customers, metering, body_reader),
        ],
        exception_handlers={Exception: sluice_error},
        tags=["vayu"],
    )
