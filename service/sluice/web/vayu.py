"""Vayu's events API (seed 000): `POST /events`, with Vayu's error object on every failure."""

from __future__ import annotations

import json
from typing import Any

from litestar import Request, Response, Router, post
from litestar.exceptions import HTTPException

from sluice.errors import (
    InvalidBatch,
    InvalidEncoding,
    InvalidJson,
    InvalidParameter,
    PayloadTooLarge,
    StoreUnavailable,
    Unauthenticated,
    UnsupportedMediaType,
)
from sluice.pipeline import IngestResult, Pipeline
from sluice.web import vayu_events
from sluice.web.body import read_body
from sluice.web.errors import error_response

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
        for i, reason, message in result.rejected
    )
    return b'{"validEvents":[' + valid + b'],"invalidEvents":[' + invalid + b"]}"


@post(["/events", "/v2/events"], operation_id="vayuIngestEvents", status_code=200)
async def ingest_events(request: Request[Any, Any, Any]) -> Response[bytes]:
    pipeline = _pipeline(request)
    tenant = await pipeline.authenticate(request.headers.get("authorization"))
    body = await read_body(request, pipeline.limits.max_body_bytes)
    result = await pipeline.ingest_vayu(tenant, body)
    return Response(render_result(body, result), media_type="application/json")


def _on_error(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    match exc:
        case Unauthenticated():
            return error_response(401, "authentication_error", "authentication_failed", str(exc))
        case PayloadTooLarge():
            return error_response(413, "invalid_request_error", "request_too_large", str(exc))
        case InvalidJson():
            return error_response(
                400,
                "invalid_request_error",
                "invalid_json",
                f"Request body is not valid JSON: {exc}",
            )
        case InvalidBatch():
            return error_response(
                400, "invalid_request_error", "invalid_batch", str(exc), param=exc.param
            )
        case InvalidParameter():
            return error_response(
                400, "invalid_request_error", "parameter_invalid", str(exc), param=exc.param
            )
        case InvalidEncoding():
            return error_response(400, "invalid_request_error", "invalid_encoding", str(exc))
        case UnsupportedMediaType():
            return error_response(415, "invalid_request_error", "unsupported_media_type", str(exc))
        case StoreUnavailable():
            return error_response(
                503,
                "api_error",
                "service_unavailable",
                "The event store is temporarily unavailable; nothing was stored. Retry later.",
                headers={"Retry-After": str(exc.retry_after)},
            )
        case HTTPException() if exc.status_code == 404:
            return error_response(404, "invalid_request_error", "resource_not_found", exc.detail)
        case HTTPException() if exc.status_code < 500:
            return error_response(
                exc.status_code, "invalid_request_error", "invalid_request", exc.detail
            )
    request.logger.exception("unhandled error in a Vayu route")
    return error_response(500, "api_error", "internal_error", "Internal server error.")


router = Router(
    path="/",
    route_handlers=[ingest_events, *vayu_events.ROUTES],
    exception_handlers={Exception: _on_error},
    tags=["vayu"],
)
