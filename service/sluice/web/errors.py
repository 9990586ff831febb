"""Sluice's own error object, the one Vayu documents: {"type","code","message","param"?}.

Vayu routes and Sluice's own routes (customers) answer errors in this shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from litestar import Response
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


def error_response(
    status: int,
    type_: str,
    code: str,
    message: str,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response[dict[str, Any]]:
    content: dict[str, Any] = {"type": type_, "code": code, "message": message}
    if param is not None:
        content["param"] = param
    return Response(content, status_code=status, headers=headers)


@dataclass(frozen=True, slots=True)
class HttpError:
    """What an exception means over HTTP, before a dialect dresses it in its own error shape."""

    status: int
    kind: str  # a short word each dialect maps to its own codes
    message: str
    param: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def http_error(exc: Exception) -> HttpError | None:
    """The HTTP meaning of an expected failure; None for a bug (the dialect answers 500)."""
    match exc:
        case Unauthenticated():
            return HttpError(401, "unauthenticated", str(exc))
        case PayloadTooLarge():
            return HttpError(413, "too_large", str(exc))
        case InvalidJson():
            return HttpError(400, "invalid_json", f"Request body is not valid JSON: {exc}")
        case InvalidBatch():
            return HttpError(400, "invalid_batch", str(exc), param=exc.param)
        case InvalidParameter():
            return HttpError(400, "invalid_parameter", str(exc), param=exc.param)
        case InvalidEncoding():
            return HttpError(400, "invalid_encoding", str(exc))
        case UnsupportedMediaType():
            return HttpError(415, "unsupported_media_type", str(exc))
        case StoreUnavailable():
            return HttpError(
                503,
                "unavailable",
                "The event store is temporarily unavailable; nothing was stored. Retry later.",
                headers={"Retry-After": str(exc.retry_after)},
            )
        case HTTPException() if exc.status_code == 404:
            return HttpError(404, "not_found", exc.detail)
        case HTTPException() if exc.status_code < 500:
            return HttpError(exc.status_code, "bad_request", exc.detail)
    return None
