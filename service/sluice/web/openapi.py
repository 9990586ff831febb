"""What the OpenAPI document says beyond the handlers' signatures: stable operation ids, the
bearer scheme, request bodies the handlers read themselves, and each dialect's responses.

No import of this module runs per request: everything here is evaluated once, when a router is
built (docs/decisions.md, "OpenAPI").
"""

# No `from __future__ import annotations`: request_body() puts a real type in an annotation.

from collections.abc import Callable, Iterable, Mapping
from typing import Annotated, Any

from litestar import Response
from litestar.di import Provide
from litestar.exceptions import NotFoundException
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import Components, Example, SecurityScheme
from litestar.params import Body
from litestar.types.callable_types import OperationIDCreator

from sluice.errors import (
    CustomerConflict,
    InvalidJson,
    PayloadTooLarge,
    RateLimited,
    StoreUnavailable,
    Unauthenticated,
    UnsupportedMediaType,
)
from sluice.model import Quota

BEARER = "bearer"
# Every route that takes a key; the probes take none.
SECURITY: list[dict[str, list[str]]] = [{BEARER: []}]
COMPONENTS = Components(
    security_schemes={
        BEARER: SecurityScheme(
            type="http",
            scheme="bearer",
            description="`Authorization: Bearer <key>`: an API key (`sluice keys create`) or a "
            "Vayu access token from `POST /login`.",
        )
    }
)

# The failures a route that reads a body can answer, and those of one that reads none.
WRITE_ERRORS = (400, 401, 413, 415, 429, 503)
READ_ERRORS = (400, 401, 429, 503)
# A route addressing one thing by a path parameter. Its 400 is the answer to a path parameter
# Litestar refuses (web/errors.py http_error); documenting it in the dialect's shape replaces
# the generic 400 Litestar would otherwise document for any route with parameters.
BY_ID_ERRORS = (*READ_ERRORS, 404)

# One sample failure per status, dressed by each dialect's own exception handler for the
# example, so the documented body is the one the dialect sends.
_SAMPLES: dict[int, Callable[[], Exception]] = {
    400: lambda: InvalidJson("expected value at line 1 column 1"),
    401: lambda: Unauthenticated("Invalid API key."),
    404: lambda: NotFoundException("No resource with this id."),
    409: lambda: CustomerConflict(
        "aliases", "Alias 'customer_12345' belongs to customer '65f1a2b3c4d5e6f708192a3b'."
    ),
    413: lambda: PayloadTooLarge("request body is larger than 262144 bytes"),
    415: lambda: UnsupportedMediaType("Content-Type must be application/json, not 'text/plain'."),
    429: lambda: RateLimited(1.0, Quota(limit=100, remaining=0, reset_after=1.0)),
    503: lambda: StoreUnavailable("store unavailable"),
}
_DESCRIPTIONS = {
    400: "The body or a parameter is invalid; nothing was stored.",
    401: "No key, an unknown or revoked key, or an expired access token.",
    404: "Nothing with this id.",
    409: "Another customer already holds one of these aliases (or this email).",
    413: "The body is larger than the limit (SLUICE_MAX_BODY_BYTES).",
    415: "The Content-Type is not application/json.",
    429: "The key's rate limit is spent; retry after Retry-After seconds.",
    503: "The store is unavailable; nothing was stored. Retry after Retry-After seconds.",
}

ErrorDresser = Callable[[Any, Exception], Response[Any]]


def operation_id(name: str) -> OperationIDCreator:
    """`name` for the plain path, `name` + "V2" for its `/v2` alias (ids must be unique)."""

    def create(route_handler: Any, http_method: Any, path_components: list[Any]) -> str:
        return name + "V2" if path_components and str(path_components[0]) == "v2" else name

    return create


def request_body(model: type, example: Any, description: str) -> dict[str, Provide]:
    """Dependencies that document `model` as the request body of a handler that reads the body
    itself (its bytes go to the core): Litestar takes the request body schema from a `data`
    parameter of the handler's dependencies. The handler never asks for this one by name, so
    it is never called and Litestar never reads or parses the body."""

    async def documented_body(data: Any) -> None:
        """Never called (see request_body)."""

    documented_body.__annotations__ = {
        "data": Annotated[
            model,
            Body(description=description, examples=[Example(summary="example", value=example)]),
        ],
        "return": None,
    }
    return {"documented_body": Provide(documented_body)}


def ok(model: type, example: Any, description: str = "Success.") -> ResponseSpec:
    return ResponseSpec(
        data_container=model,
        description=description,
        examples=[Example(summary="example", value=example)],
        generate_examples=False,
    )


def error_responses(
    dresser: ErrorDresser, shape: type, statuses: Iterable[int]
) -> dict[int, ResponseSpec]:
    """Each status's response in the dialect's error `shape`, its example made by `dresser`."""
    specs = {}
    for status in statuses:
        answer = dresser(None, _SAMPLES[status]())
        specs[status] = ResponseSpec(
            data_container=shape,
            description=_DESCRIPTIONS[status],
            examples=[Example(summary=f"{status}", value=answer.content)],
            generate_examples=False,
        )
    return specs


def responses(
    dresser: ErrorDresser,
    shape: type,
    statuses: Iterable[int],
    success: Mapping[int, ResponseSpec],
) -> dict[int, ResponseSpec]:
    """A route's documented answers: its successes, then its failures."""
    return {**success, **error_responses(dresser, shape, statuses)}
