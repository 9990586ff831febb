"""Vayu's events API (seed 000): `POST /events`, with Vayu's error object on every failure."""

from __future__ import annotations

import json
from typing import Any

from litestar import Request, Response, Router, post

from sluice.pipeline import IngestResult, Pipeline
from sluice.web import vayu_events
from sluice.web.auth import admit
from sluice.web.body import read_body
from sluice.web.errors import sluice_error
from sluice.web.openapi import operation_id

# Vayu documents one message for a repeated ref, whether in the batch or already stored.
REF_EXISTS = "Event ref already exists."


def _pipeline(request: Request[Any, Any, Any]) -> Pipeline:
    pipeline: Pipeline = request.app.state.pipeline
    return pipeline


def render_result(body: bytes, result: IngestResult) -> bytes:
    """`{"validEvents":[…],"invalidEvents":[…]}`, echoing each event exactly as it was sent."""
    spans = result.batch.spans
    valid = b",".join(body[spans[i][0] : spans[i][1]] for i in result.accepted)
    invalid = b",".join(
        b'{"event":'
        + body[spans[i][0] : spans[i][1]]
        + b',"error":'
        + json.dumps(REF_EXISTS if reason != "INVALID" else message).encode()
        + b"}"
        for i, reason, _field, message in result.rejected
    )
    return b'{"validEvents":[' + valid + b'],"invalidEvents":[' + invalid + b"]}"


@post(["/events", "/v2/events"], operation_id=operation_id("vayuIngestEvents"), status_code=200)
async def ingest_events(request: Request[Any, Any, Any]) -> Response[bytes]:
    pipeline, tenant = await admit(request)
    body = await read_body(request, pipeline)
    result = await pipeline.ingest_vayu(tenant, body)
    return Response(render_result(body, result), media_type="application/json")


router = Router(
    path="/",
    route_handlers=[ingest_events, *vayu_events.ROUTES],
    exception_handlers={Exception: sluice_error},
    tags=["vayu"],
)
