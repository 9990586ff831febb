"""Enso's metering API (seed 001): `POST /events/batch`, with Enso's summary and codes."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, Router, post

from sluice.pipeline import CONFLICT, DUPLICATE, UNKNOWN_CUSTOMER, IngestResult
from sluice.web.auth import admit
from sluice.web.body import read_body
from sluice.web.errors import http_error, log_unexpected

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


def _failed_record(index: int, reason: str, field: str, message: str) -> dict[str, Any]:
    if reason == UNKNOWN_CUSTOMER:
        code, status, text = _UNKNOWN_CUSTOMER
    elif reason in (DUPLICATE, CONFLICT):
        code, status, text = _DUPLICATE
    else:
        code, status, text = _FIELD_CODES.get(field, (2010, 400, None))
    return {"index": index, "error": text or message, "code": code, "statusCode": status}


def render_result(result: IngestResult) -> dict[str, Any]:
    failed = [_failed_record(*rejection) for rejection in result.rejected]
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


@post("/events/batch", operation_id="ensoIngestBatch", status_code=200)
async def ingest_batch(request: Request[Any, Any, Any]) -> dict[str, Any]:
    pipeline, tenant = await admit(request)
    body = await read_body(request, pipeline)
    return render_result(await pipeline.ingest_enso(tenant, body))


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


router = Router(
    path="/",
    route_handlers=[ingest_batch],
    exception_handlers={Exception: _on_error},
    tags=["enso"],
)
