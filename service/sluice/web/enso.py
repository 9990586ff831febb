"""Enso's metering API: `POST /events/batch`, with Enso's summary and codes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from litestar import Request, Response, Router, post
from litestar.handlers import HTTPRouteHandler

from sluice.access import AccessControl
from sluice.dialects import Dialect
from sluice.ingest import IngestService
from sluice.model import CONFLICT, DUPLICATE, UNKNOWN_CUSTOMER, IngestOutcome, Rejection
from sluice.web.auth import authorize
from sluice.web.body import BodyReader
from sluice.web.errors import http_error, log_unexpected
from sluice.web.headers import request_id_of
from sluice.web.observe import note_outcome
from sluice.web.openapi import SECURITY, WRITE_ERRORS, ok, request_body, responses
from sluice.web.schemas import EnsoBatchRequest, EnsoBatchResult, EnsoError

# The seed record (tests/web/test_enso.py) and its answer.
EXAMPLE_REQUEST = {
    "events": [
        {
            "CustomerEntityId": "ent_1",
            "metric": "api_calls",
            "value": 3,
            "timestamp": "2023-11-07T05:31:56Z",
            "metadata": {},
            "eventId": "e-1",
            "JobId": "job-A",
        }
    ]
}
EXAMPLE_RESULT = {
    "status": "success",
    "message": "Success",
    "data": {"summary": {"success": 1, "failed": 0, "total": 1}, "failedRecords": []},
}

# Per-record (code, HTTP status, error text) by offending field; the documented codes are
# 2001-2003, the rest are ours (docs/decisions.md).
_FIELD_CODES: dict[str, tuple[int, int, str | None]] = {
    "CustomerEntityId": (2001, 400, "Customer entity ID required"),
    "metric": (2004, 400, None),
    "value": (2005, 400, None),
    "timestamp": (2006, 400, None),
    "metadata": (2008, 400, None),
    "eventId": (2009, 400, None),
    "": (2010, 400, None),  # the record is not a JSON object
    "JobId": (2011, 400, None),
    "jobId": (2011, 400, None),
}
_UNKNOWN_CUSTOMER: tuple[int, int, str | None] = (2002, 404, "Customer entity not found")
_DUPLICATE: tuple[int, int, str | None] = (2007, 409, "duplicate eventId")


def _failed_record(rejection: Rejection) -> dict[str, Any]:
    if rejection.reason == UNKNOWN_CUSTOMER:
        code, status, text = _UNKNOWN_CUSTOMER
    elif rejection.reason in (DUPLICATE, CONFLICT):
        code, status, text = _DUPLICATE
    else:
        code, status, text = _FIELD_CODES.get(rejection.field, (2010, 400, None))
    return {
        "index": rejection.index,
        "error": text or rejection.message,
        "code": code,
        "statusCode": status,
    }


def render_result(result: IngestOutcome) -> dict[str, Any]:
    failed = [_failed_record(rejection) for rejection in result.rejected]
    return {
        "status": "success",
        "message": "Success",
        "data": {
            "summary": {
                "success": len(result.accepted),
                "failed": len(failed),
                "total": result.batch.total,
            },
            "failedRecords": failed,
        },
    }


def _on_error(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    error = http_error(exc)
    if error is None:
        log_unexpected(request)
        return Response(
            {"status": "error", "message": "Internal server error", "code": 500}, status_code=500
        )
    # Enso documents 2003 for a missing events array; other request errors carry the status.
    code = 2003 if error.kind == "invalid_batch" and error.param == "events" else error.status
    message = "events array is required" if code == 2003 else error.message
    content = {"status": "error", "message": message, "code": code}
    return Response(content, status_code=error.status, headers=error.headers)


def router(
    access: AccessControl,
    ingest: IngestService,
    dialect: Dialect,
    body_reader: BodyReader,
    shared_path_routes: Sequence[HTTPRouteHandler] = (),
) -> Router:
    """Enso's route; `shared_path_routes` are other APIs' handlers on Enso's path (Vayu reads
    an event whose ref is `batch` at `/events/batch`), which must live in the same router."""

    @post(
        "/events/batch",
        operation_id="ensoIngestBatch",
        status_code=200,
        security=SECURITY,
        dependencies=request_body(EnsoBatchRequest, EXAMPLE_REQUEST, "Usage records."),
        responses=responses(
            _on_error, EnsoError, WRITE_ERRORS, {200: ok(EnsoBatchResult, EXAMPLE_RESULT)}
        ),
    )
    async def ingest_batch(request: Request[Any, Any, Any]) -> dict[str, Any]:
        grant = await authorize(request, access)
        body = await body_reader.read(request)
        result = await ingest.ingest(
            dialect, grant.tenant, body, request_id=request_id_of(request.scope)
        )
        note_outcome(request, result)
        return render_result(result)

    return Router(
        path="/",
        route_handlers=[ingest_batch, *shared_path_routes],
        exception_handlers={Exception: _on_error},
        tags=["enso"],
    )
