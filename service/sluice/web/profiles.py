"""The user-profile events API: `POST /v1/event/` (with or without the slash)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, Router, post

from sluice.access import AccessControl
from sluice.errors import UnknownUser
from sluice.profiles import ProfileEvents
from sluice.web.auth import authorize
from sluice.web.body import BodyReader
from sluice.web.errors import http_error, log_unexpected
from sluice.web.openapi import SECURITY, WRITE_ERRORS, ok, request_body, responses
from sluice.web.schemas import ProfilesError, ProfilesRequest, ProfilesResult

# The seed request (tests/web/test_profiles.py) and its answer.
EXAMPLE_REQUEST = {
    "user": {"email": "ann@example.com"},
    "event": {"update": {"firstname": "alexandru", "age": None}},
}
EXAMPLE_RESULT = {
    "results": {"message": "Event created", "email": "Event was created for the specified user"}
}

# The documented 400s, keyed by the part of the request that is missing.
_MISSING = {
    "user": ("Missing user information", "Please send user information along with event"),
    "event": ("Missing event information", "Please send event information along with user"),
}


def _errors(
    status: int, message: str, description: str, headers: dict[str, str] | None = None
) -> Response[dict[str, Any]]:
    return Response(
        {"errors": [{"message": message, "description": description}]},
        status_code=status,
        headers=headers,
    )


def _on_error(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    if isinstance(exc, UnknownUser):
        return _errors(404, "User not found", str(exc))
    error = http_error(exc)
    if error is None:
        log_unexpected(request)
        return _errors(500, "Internal server error", "Something went wrong on our side.")
    if error.kind == "invalid_batch":
        documented = _MISSING.get(error.param or "")
        if documented is not None and documented[0] == error.message:
            return _errors(400, *documented)
        return _errors(400, "Invalid event information", error.message)
    return _errors(error.status, error.message, error.message, error.headers)


def router(access: AccessControl, profiles: ProfileEvents, body_reader: BodyReader) -> Router:
    @post(
        ["/v1/event", "/v1/event/"],
        operation_id="profilesCreateEvent",
        status_code=200,
        security=SECURITY,
        dependencies=request_body(ProfilesRequest, EXAMPLE_REQUEST, "One event for one user."),
        responses=responses(
            _on_error,
            ProfilesError,
            (*WRITE_ERRORS, 404),
            {200: ok(ProfilesResult, EXAMPLE_RESULT)},
        ),
    )
    async def create_event(request: Request[Any, Any, Any]) -> dict[str, Any]:
        grant = await authorize(request, access)
        body = await body_reader.read(request)
        user_agent = request.headers.get("user-agent", "")
        outcome = await profiles.ingest(grant.tenant, body, user_agent)
        if outcome.discarded is not None:
            return {
                "results": {"message": "Event discarded", outcome.user_field: outcome.discarded}
            }
        return {
            "results": {
                "message": "Event created",
                outcome.user_field: "Event was created for the specified user",
            }
        }

    return Router(
        path="/",
        route_handlers=[create_event],
        exception_handlers={Exception: _on_error},
        tags=["profiles"],
    )
