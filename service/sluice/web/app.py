"""The Litestar application: every HTTP dialect's routes, health probes and request ids."""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Litestar, Request, Response, get
from litestar.datastructures import MutableScopeHeaders
from litestar.exceptions import MethodNotAllowedException, NotFoundException
from litestar.handlers import HTTPRouteHandler
from litestar.types import Message, Scope

from sluice import logs
from sluice.errors import StoreUnavailable
from sluice.gateway import Gateway
from sluice.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from sluice.metrics import Metrics
from sluice.readiness import Readiness
from sluice.web import (
    collect,
    console,
    customers,
    docs,
    enso,
    event_stream,
    observe,
    profiles,
    rejections,
    vayu,
    vayu_customers,
    vayu_events,
    vayu_meters,
    vayu_usage,
)
from sluice.web.auth import add_rate_limit_headers
from sluice.web.body import BodyReader
from sluice.web.errors import unknown_route
from sluice.web.headers import scope_header
from sluice.web.openapi import ok
from sluice.web.schemas_ops import Health, Unready

_MAX_REQUEST_ID = 128
# Request ids this process makes: a random 64-bit prefix per process and a counter, 32 hex
# digits like a uuid4's. They need to be unique, not unguessable, and uuid4() costs a
# getrandom call and a UUID object per request.
_REQUEST_ID_PREFIX = secrets.token_hex(8)
_request_ids = itertools.count(1)


def _new_request_id() -> str:
    return f"{_REQUEST_ID_PREFIX}{next(_request_ids):016x}"


@get(
    "/healthz",
    operation_id="healthz",
    responses={200: ok(Health, {"status": "ok"}, "The process is alive.")},
)
async def healthz() -> dict[str, str]:
    """The process is alive (no store access)."""
    return {"status": "ok"}


def _probes(readiness: Readiness, metrics: Metrics) -> list[HTTPRouteHandler]:
    @get(
        "/readyz",
        operation_id="readyz",
        responses={
            200: ok(Health, {"status": "ready"}, "Ready."),
            503: ok(
                Unready,
                {"status": "unavailable", "reason": "store unavailable"},
                "The store does not answer; retry after Retry-After seconds.",
            ),
        },
    )
    async def readyz() -> Response[dict[str, str]]:
        """The store answers: ready to accept events."""
        try:
            await readiness.ready()
        except StoreUnavailable as exc:
            return Response(
                {"status": "unavailable", "reason": str(exc)},
                status_code=503,
                headers={"Retry-After": "1"},
            )
        return Response({"status": "ready"})

    @get("/metrics", operation_id="metrics", include_in_schema=False)
    async def render_metrics() -> Response[bytes]:
        """Prometheus text format; like the health probes it needs no key (scrape it
        internally)."""
        return Response(metrics.render(), media_type=METRICS_CONTENT_TYPE)

    return [readyz, render_metrics]


def _response_hook(metrics: Metrics) -> Callable[[Message, Scope], Awaitable[None]]:
    async def on_response_start(message: Message, scope: Scope) -> None:
        """Every response: its X-Request-Id and rate-limit headers, its metrics and one
        access-log line (web/observe.py; no headers).

        One hook rather than one per concern: Litestar awaits each before_send hook for every
        message of every response, body chunks included."""
        if message["type"] != "http.response.start":
            return
        request_id = _request_id(scope)
        headers = MutableScopeHeaders.from_message(message)
        headers["x-request-id"] = request_id
        add_rate_limit_headers(headers, scope)
        observe.record_response(metrics, scope, message["status"], request_id)

    return on_response_start


async def _bind_request_id(request: Request[Any, Any, Any]) -> None:
    """Every log line written while this request is served carries its id.

    Async on purpose: Litestar runs a sync hook in a worker thread under a copy of the
    context, so the id set there never reached the request, and each request paid a thread
    hop."""
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


def create_app(gateway: Gateway, *, own_gateway: bool = False) -> Litestar:
    """The HTTP app over a gateway's services. With own_gateway the app's lifespan starts and
    stops the gateway."""
    body_reader = BodyReader.from_settings(gateway.settings)
    access, ingest, dialects = gateway.access, gateway.ingest, gateway.dialects
    app = Litestar(
        route_handlers=[
            healthz,
            docs.assets_router(),
            *_probes(gateway.readiness, gateway.metrics),
            vayu.router(
                access,
                ingest,
                dialects.vayu,
                gateway.events,
                gateway.customers,
                gateway.metering,
                body_reader,
            ),
            enso.router(
                access,
                ingest,
                dialects.enso,
                body_reader,
                vayu_events.ref_routes(access, gateway.events, ["/events/batch"], in_schema=False),
            ),
            profiles.router(access, gateway.profiles, body_reader),
            collect.router(access, ingest, dialects.collect, body_reader),
            customers.router(access, gateway.customers, body_reader),
            rejections.router(access, gateway.rejections),
            event_stream.router(access, gateway.events),
            console.router(),
            vayu_customers.router(access, gateway.customers, body_reader),
            vayu_meters.router(access, gateway.metering, body_reader),
            vayu_usage.router(
                access,
                gateway.usage,
                body_reader,
                vayu_events.ref_routes(
                    access, gateway.events, ["/v2/events/aggregation"], in_schema=False
                ),
            ),
        ],
        # A path or method no route serves: Vayu's 404 (web/errors.py).
        exception_handlers={
            NotFoundException: unknown_route,
            MethodNotAllowedException: unknown_route,
        },
        before_send=[_response_hook(gateway.metrics)],
        middleware=[observe.in_flight(gateway.metrics)],
        before_request=_bind_request_id,
        on_startup=[gateway.start] if own_gateway else [],
        on_shutdown=[gateway.stop] if own_gateway else [],
        openapi_config=docs.openapi_config(),
        debug=False,
        logging_config=None,  # logging belongs to the process (sluice.logs), not the app
    )
    return app
