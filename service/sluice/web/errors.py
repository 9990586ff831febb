"""Sluice's own error object, the one Vayu documents: {"type","code","message","param"?}.

Vayu routes and Sluice's own routes (customers) answer errors in this shape.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    MethodNotAllowedException,
    NotFoundException,
    ValidationException,
)

from sluice.errors import (
    ClientDisconnected,
    CustomerConflict,
    InvalidBatch,
    InvalidEncoding,
    InvalidEvents,
    InvalidJson,
    InvalidParameter,
    PayloadTooLarge,
    RateLimited,
    RequestTimeout,
    StoreUnavailable,
    Unauthenticated,
    UnreadableEvent,
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
    params: list[dict[str, str]] | None = None  # one entry per invalid field, when several


_log = logging.getLogger("sluice.web")


def log_unexpected(request: Request[Any, Any, Any]) -> None:
    """Log the exception being handled as a bug (called from an exception handler)."""
    _log.exception("unhandled error in %s %s", request.method, request.url.path)


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
        case InvalidEvents():
            return HttpError(400, "invalid_events", str(exc), param="events", params=exc.params)
        case InvalidParameter():
            return HttpError(400, "invalid_parameter", str(exc), param=exc.param)
        case InvalidEncoding():
            return HttpError(400, "invalid_encoding", str(exc))
        case UnsupportedMediaType():
            return HttpError(415, "unsupported_media_type", str(exc))
        case ClientDisconnected():
            # Nobody reads this answer; 499 (nginx's "client closed request") keeps it out of
            # the 5xx counts and tells the access log what happened.
            return HttpError(499, "client_closed", str(exc))
        case RequestTimeout():
            return HttpError(408, "timeout", str(exc), headers={"Connection": "close"})
        case RateLimited():
            return HttpError(
                429,
                "rate_limited",
                str(exc),
                headers={"Retry-After": str(max(1, math.ceil(exc.retry_after)))},
            )
        case StoreUnavailable():
            return HttpError(
                503,
                "unavailable",
                "The event store is temporarily unavailable; nothing was stored. Retry later.",
                headers={"Retry-After": str(exc.retry_after)},
            )
        case CustomerConflict():
            return HttpError(409, "conflict", str(exc), param=exc.param)
        case UnreadableEvent():
            # The store holds a row no reader can carry (already logged and counted): a server
            # fault, reported as such and named, not a crash.
            return HttpError(500, "unreadable", str(exc))
        # A declared query or path parameter that failed Litestar's own validation.
        case ValidationException(extra=[{"key": str(key), "message": str(reason)}, *_]):
            return HttpError(400, "invalid_parameter", f"Invalid {key}: {reason}.", param=key)
        case HTTPException() if exc.status_code == 404:
            return HttpError(404, "not_found", exc.detail)
        case HTTPException() if exc.status_code < 500:
            return HttpError(exc.status_code, "bad_request", exc.detail)
    return None


# The (type, code) of Sluice's own error object for each kind of failure (http_error): Vayu's
# documented pairs, plus a conflict with a customer already registered.
SLUICE_CODES = {
    "unauthenticated": ("authentication_error", "authentication_failed"),
    "too_large": ("invalid_request_error", "request_too_large"),
    "invalid_json": ("invalid_request_error", "invalid_json"),
    "invalid_batch": ("invalid_request_error", "invalid_batch"),
    "invalid_events": ("invalid_request_error", "invalid_events"),
    "invalid_parameter": ("invalid_request_error", "parameter_invalid"),
    "invalid_encoding": ("invalid_request_error", "invalid_encoding"),
    "unsupported_media_type": ("invalid_request_error", "unsupported_media_type"),
    "rate_limited": ("rate_limit_error", "rate_limit_exceeded"),
    "timeout": ("invalid_request_error", "request_timeout"),
    "client_closed": ("invalid_request_error", "client_closed_request"),
    "unavailable": ("api_error", "service_unavailable"),
    "not_found": ("invalid_request_error", "resource_not_found"),
    "conflict": ("invalid_request_error", "resource_conflict"),
    "bad_request": ("invalid_request_error", "invalid_request"),
    "unreadable": ("api_error", "event_unreadable"),
}


def sluice_error(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    """Exception handler answering every failure in Sluice's own error object."""
    error = http_error(exc)
    if error is None:
        log_unexpected(request)
        return error_response(500, "api_error", "internal_error", "Internal server error.")
    type_, code = SLUICE_CODES[error.kind]
    response = error_response(
        error.status, type_, code, error.message, param=error.param, headers=error.headers
    )
    if error.params is not None:
        response.content["params"] = error.params
    if error.kind == "not_found":
        # Vayu's 404 as both readers expect it: the SDK's NotFoundErrorResponse reads the
        # fields at the top level, the documented shape nests them under "error".
        response.content["error"] = {"type": type_, "code": code, "message": error.message}
    return response


def unknown_route(
    request: Request[Any, Any, Any], exc: NotFoundException | MethodNotAllowedException
) -> Response[dict[str, Any]]:
    """A path no route serves, or a method a path does not take: Vayu's 404 (the SDK reaches
    routes of Vayu's that Sluice does not implement, and can parse only this answer)."""
    if request.scope.get("route_handler") is not None:
        # Raised inside a route (a customer or an event that is not there): the exception
        # handlers of the layers merge, so a route's NotFoundException lands here too.
        return sluice_error(request, exc)
    message = f"No resource at {request.method} {request.url.path}."
    return sluice_error(request, NotFoundException(message))
