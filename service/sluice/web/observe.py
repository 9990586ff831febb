"""What each HTTP request leaves for operators: one access line (duration, tenant, key, client,
an ingest's event counts, status), its latency and the in-flight gauge.

Handlers note what only they know on the request's scope: `authorize` the grant, ingest routes
their outcome (`note_outcome`); the response hook in app.py writes the line."""

from __future__ import annotations

import time
from typing import Any

from litestar import Request
from litestar.types import ASGIApp, Receive, Scope, Send

from sluice import logs
from sluice.access import Grant
from sluice.metrics import Metrics
from sluice.model import IngestOutcome

_STARTED = "sluice.started"
_GRANT = "sluice.grant"
_EVENTS = "sluice.events"


def note_grant(scope: Scope, grant: Grant) -> None:
    scope[_GRANT] = grant  # type: ignore[literal-required]


def note_outcome(request: Request[Any, Any, Any], outcome: IngestOutcome) -> None:
    """An ingest route's counts for its access line: events in, accepted, rejected."""
    counts = (outcome.batch.total, len(outcome.accepted), len(outcome.rejected))
    request.scope[_EVENTS] = counts  # type: ignore[literal-required]


def in_flight(metrics: Metrics) -> Any:
    """Middleware: stamps each routed request's start and counts it in flight until it ends."""
    gauge = metrics.child(metrics.in_flight, "http")

    def wrap(app: ASGIApp) -> ASGIApp:
        async def observed(scope: Scope, receive: Receive, send: Send) -> None:
            scope[_STARTED] = time.perf_counter()  # type: ignore[literal-required]
            gauge.inc()
            try:
                await app(scope, receive, send)
            finally:
                gauge.dec()

        return observed

    return wrap


def route_label(scope: Scope) -> str:
    """Our handlers by name; a handler Litestar brings (the docs pages, named `_handler` or
    `handle_schema_path_not_found`) by its path template; `unmatched` for no route."""
    handler = scope.get("route_handler")
    if handler is None:
        return "unmatched"
    # Not cached by id(handler): an id is reused once its handler is gone (a new app in the same
    # process), and the label would then name another route.
    module = getattr(handler.fn, "__module__", "") or ""
    if module.startswith("sluice."):
        return str(handler.handler_name)
    return str(scope.get("path_template") or min(handler.paths))


def record_response(metrics: Metrics, scope: Scope, status: int, request_id: str) -> None:
    """At a response's start: the request counter, the latency histogram, the access line."""
    route = route_label(scope)
    metrics.child(metrics.requests, "http", route, str(status)).inc()
    # Routed requests only: one no route served (404, 405) never passed the middleware.
    started: float | None = scope.get(_STARTED)  # type: ignore[assignment]
    seconds = time.perf_counter() - started if started is not None else None
    if seconds is not None:
        metrics.child(metrics.request_seconds, "http", route).observe(seconds)
    client = scope.get("client")
    line: dict[str, Any] = {
        "protocol": "http",
        "method": scope.get("method"),
        "path": scope.get("path"),
        "route": route,
        "status": status,
        "duration_ms": None if seconds is None else round(seconds * 1000, 3),
        "client": f"{client[0]}:{client[1]}" if client else None,
        "request_id": request_id,
    }
    grant: Grant | None = scope.get(_GRANT)  # type: ignore[assignment]
    if grant is not None:
        line["tenant"], line["key_id"] = grant.tenant, grant.key_id
    events: tuple[int, int, int] | None = scope.get(_EVENTS)  # type: ignore[assignment]
    if events is not None:
        line["events_in"], line["events_accepted"], line["events_rejected"] = events
    logs.access(line)
