"""The Litestar application: every HTTP dialect's routes, health probes and request ids."""

from __future__ import annotations

import itertools
import secrets
from typing import Any

from litestar import Litestar, Request, Response, get
from litestar.datastructures import MutableScopeHeaders
from litestar.openapi import OpenAPIConfig
from litestar.types import Message, Scope

from sluice import __version__, logs
from sluice.errors import StoreUnavailable
from sluice.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from sluice.pipeline import Pipeline
from sluice.web import collect, customers, enso, profiles, vayu
from sluice.web.auth import add_rate_limit_headers
from sluice.web.headers import scope_header

_MAX_REQUEST_ID = 128
# Request ids this process makes: a random 64-bit prefix per process and a counter, 32 hex
# digits like a uuid4's. They need to be unique, not unguessable, and uuid4() cost ~7 µs per
# request (a getrandom call and a UUID object).
_REQUEST_ID_PREFIX = secrets.token_hex(8)
_request_ids = itertools.count(1)


def _new_request_id() -> str:
    return f"{_REQUEST_ID_PREFIX}{next(_request_ids):016x}"


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


@get("/metrics", operation_id="metrics", include_in_schema=False)
async def metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Prometheus text format; like the health probes it needs no key (scrape it internally)."""
    pipeline: Pipeline = request.app.state.pipeline
    return Response(pipeline.metrics.render(), media_type=METRICS_CONTENT_TYPE)


async def _on_response_start(message: Message, scope: Scope) -> None:
    """Every response: its X-Request-Id and rate-limit headers, its metrics and one access-log
    line (method, route, status; no headers).

    One hook rather than one per concern: Litestar awaits each before_send hook for every
    message of every response, body chunks included."""
    if message["type"] != "http.response.start":
        return
    request_id = _request_id(scope)
    headers = MutableScopeHeaders.from_message(message)
    headers["x-request-id"] = request_id
    add_rate_limit_headers(headers, scope)
    handler = scope.get("route_handler")
    route = handler.handler_name if handler is not None else "unmatched"
    pipeline: Pipeline = scope["litestar_app"].state.pipeline
    pipeline.metrics.child(pipeline.metrics.requests, "http", route, str(message["status"])).inc()
    logs.access(
        {
            "method": scope.get("method"),
            "path": scope.get("path"),
            "route": route,
            "status": message["status"],
            "request_id": request_id,
        }
    )


async def _bind_request_id(request: Request[Any, Any, Any]) -> None:
    """Every log line written while this request is served carries its id.

    Async on purpose: Litestar runs a sync hook in a worker thread under a copy of the
    context, so the id set there never reached the request, and each request paid a thread
    hop (1-event POST /events at 64 connections: 1.44-1.55k req/s sync, 1.77-2.01k async,
    interleaved runs)."""
    logs.request_id.set(_request_id(request.scope))


def _request_id(scope: Scope) -> str:
    """The client's X-Request-Id if it is sane, else a new one; fixed once per request."""
    existing = scope.get("sluice.request_id")
    if existing is not None:
        return str(existing)
    sent = scope_header(scope, b"x-request-id")
    if not sent or len(sent) > _MAX_REQUEST_ID or not sent.isprintable():
        sent = _new_request_id()
    scope["sluice.request_id"] = sent  # type: ignore[typeddict-unknown-key]
    return sent


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
            metrics,
            vayu.router,
            enso.router,
            profiles.router,
            collect.router,
            customers.router,
        ],
        before_send=[_on_response_start],
        before_request=_bind_request_id,
        on_startup=[start] if own_pipeline else [],
        on_shutdown=[stop] if own_pipeline else [],
        openapi_config=OpenAPIConfig(title="Sluice", version=__version__, path="/docs"),
        debug=False,
        logging_config=None,  # logging belongs to the process (sluice.logs), not the app
    )
    app.state.pipeline = pipeline
    return app
