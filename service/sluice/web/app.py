"""The Litestar application: every HTTP dialect's routes, health probes and request ids."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Litestar, Request, Response, get
from litestar.datastructures import MutableScopeHeaders
from litestar.openapi import OpenAPIConfig
from litestar.types import Message, Scope

from sluice import __version__
from sluice.errors import StoreUnavailable
from sluice.pipeline import Pipeline
from sluice.web import collect, customers, enso, profiles, vayu
from sluice.web.auth import add_rate_limit_headers

_MAX_REQUEST_ID = 128


@get("/healthz", operation_id="healthz", include_in_schema=True)
async def healthz() -> dict[str, str]:
    """The process is alive (no store access)."""
    return {"status": "ok"}


@get("/readyz", operation_id="readyz")
async def readyz(request: Request[Any, Any, Any]) -> Response[dict[str, str]]:
    """The store answers: ready to accept events."""
    pipeline: Pipeline = request.app.state.pipeline
    try:
        await pipeline.ready()
    except StoreUnavailable as exc:
        return Response(
            {"status": "unavailable", "reason": str(exc)},
            status_code=503,
            headers={"Retry-After": "1"},
        )
    return Response({"status": "ready"})


def _request_id(scope: Scope) -> str:
    """The client's X-Request-Id if it is sane, else a new one; fixed once per request."""
    existing = scope.get("sluice.request_id")
    if existing is not None:
        return str(existing)
    sent = ""
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            sent = value.decode("latin-1")
            break
    if not sent or len(sent) > _MAX_REQUEST_ID or not sent.isprintable():
        sent = uuid.uuid4().hex
    scope["sluice.request_id"] = sent  # type: ignore[typeddict-unknown-key]
    return sent


async def _add_request_id(message: Message, scope: Scope) -> None:
    if message["type"] == "http.response.start":
        MutableScopeHeaders.from_message(message)["x-request-id"] = _request_id(scope)


def create_app(pipeline: Pipeline, *, own_pipeline: bool = False) -> Litestar:
    """The HTTP app over a pipeline. With own_pipeline the app's lifespan starts and stops it."""

    async def start() -> None:
        await pipeline.start()

    async def stop() -> None:
        await pipeline.stop()

    app = Litestar(
        route_handlers=[
            healthz,
            readyz,
            vayu.router,
            enso.router,
            profiles.router,
            collect.router,
            customers.router,
        ],
        before_send=[_add_request_id, add_rate_limit_headers],
        on_startup=[start] if own_pipeline else [],
        on_shutdown=[stop] if own_pipeline else [],
        openapi_config=OpenAPIConfig(title="Sluice", version=__version__, path="/docs"),
        debug=False,
    )
    app.state.pipeline = pipeline
    return app
