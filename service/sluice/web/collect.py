"""The collect API: `POST /collect/event`, all or nothing, duplicates dropped."""

from __future__ import annotations

import http
import uuid
from typing import Any

from litestar import Request, Response, Router, post

from sluice.access import AccessControl
from sluice.dialects import Dialect
from sluice.errors import BatchRejected
from sluice.ingest import IngestService
from sluice.web.auth import authorize
from sluice.web.body import BodyReader
from sluice.web.errors import http_error, log_unexpected
from sluice.web.headers import request_id_of
from sluice.web.observe import note_outcome
from sluice.web.openapi import SECURITY, WRITE_ERRORS, ok, request_body, responses
from sluice.web.schemas import CollectError, CollectRequest, CollectResult

# The seed request (tests/web/test_collect.py).
EXAMPLE_REQUEST = {
    "messageBody": [
        {
            "eventType": "page_view",
            "eventId": "p1",
            "userId": "u1",
            "properties": {"path": "/"},
            "channel": "web",
        }
    ],
    "messageHeaders": {"source": "sdk"},
}


def created_body(ping_id: str) -> dict[str, Any]:
    # `value` is a JSON *string*, spaced exactly as the vendor's own response.
    return {"headers": {}, "value": '{"pingId": "' + ping_id + '"}'}


def _error(status: int, message: str, **extra: Any) -> dict[str, Any]:
    return {
        "error": http.HTTPStatus(status).phrase,
        "message": message,
        "statusCode": status,
        **extra,
    }


def _on_error(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    if isinstance(exc, BatchRejected):
        details = [
            {"index": index, "field": field, "reason": reason}
            for index, field, reason in exc.details
        ]
        return Response(_error(400, str(exc), details=details), status_code=400)
    error = http_error(exc)
    if error is None:
        log_unexpected(request)
        return Response(_error(500, "internal server error"), status_code=500)
    # The vendor documents this exact 429 body.
    message = "rate limit exceeded" if error.kind == "rate_limited" else error.message
    return Response(_error(error.status, message), status_code=error.status, headers=error.headers)


def router(
    access: AccessControl, ingest: IngestService, dialect: Dialect, body_reader: BodyReader
) -> Router:
    @post(
        "/collect/event",
        operation_id="collectEvents",
        status_code=201,
        security=SECURITY,
        dependencies=request_body(CollectRequest, EXAMPLE_REQUEST, "Events, all or nothing."),
        responses=responses(
            _on_error,
            CollectError,
            WRITE_ERRORS,
            {201: ok(CollectResult, created_body("5b0f1e0c-2f43-4a53-9f53-8a4d8d1b6f0e"))},
        ),
    )
    async def collect_events(request: Request[Any, Any, Any]) -> dict[str, Any]:
        """All or nothing; duplicates are dropped silently. Answers the request's pingId,
        which is stored with its events."""
        grant = await authorize(request, access)
        body = await body_reader.read(request)
        ping_id = str(uuid.uuid4())
        outcome = await ingest.ingest(
            dialect, grant.tenant, body, ping_id, request_id_of(request.scope)
        )
        note_outcome(request, outcome)
        return created_body(ping_id)

    return Router(
        path="/",
        route_handlers=[collect_events],
        exception_handlers={Exception: _on_error},
        tags=["collect"],
    )
