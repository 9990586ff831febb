"""Vayu's events API (seed 000): `POST /events`, with Vayu's error object on every failure."""

from __future__ import annotations

import json
from typing import Any

from litestar import Request, Response, Router, post

from sluice.pipeline import IngestResult, Pipeline
from sluice.web import vayu_events
from sluice.web.body import read_body
from sluice.web.errors import error_response, http_error

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


@post(["/events", "/v2/events"], operation_id="vayuIngestEvents", status_code=200)
async def ingest_events(request: Request[Any, Any, Any]) -> Response[bytes]:
    pipeline = _pipeline(request)
    tenant = await pipeline.authenticate(request.headers.get("authorization"))
    body = await read_body(request, pipeline.limits.max_body_bytes)
    result = await pipeline.ingest_vayu(tenant, body)
    return Response(render_result(body, result), media_type="application/json")


# Vayu's (type, code) for each kind of failure (web.errors.http_error).
_VAYU_CODES = {
    "unauthenticated": ("authentication_error", "authentication_failed"),
    "too_large": ("invalid_request_error", "request_too_large"),
    "invalid_json": ("invalid_request_error", "invalid_json"),
    "invalid_batch": ("invalid_request_error", "invalid_batch"),
    "invalid_events": ("invalid_request_error", "invalid_events"),
    "invalid_parameter": ("invalid_request_error", "parameter_invalid"),
    "invalid_encoding": ("invalid_request_error", "invalid_encoding"),
    "unsupported_media_type": ("invalid_request_error", "unsupported_media_type"),
    "unavailable": ("api_error", "service_unavailable"),
    "not_found": ("invalid_request_error", "resource_not_found"),
    "bad_request": ("invalid_request_error", "invalid_request"),
}


def _on_error(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    error = http_error(exc)
    if error is None:
        request.logger.exception("unhandled error in a Vayu route")
        return error_response(500, "api_error", "internal_error", "Internal server error.")
    type_, code = _VAYU_CODES[error.kind]
    response = error_response(
        error.status, type_, code, error.message, param=error.param, headers=error.headers
    )
    if error.params is not None:
        response.content["params"] = error.params
    return response


router = Router(
    path="/",
    route_handlers=[ingest_events, *vayu_events.ROUTES],
    exception_handlers={Exception: _on_error},
    tags=["vayu"],
)
