"""The tenant's live events as server-sent events (`GET /v1/events/stream`), over EventLog.follow.

Each event is one SSE message: its Vayu-shaped JSON (plus `source`, the API it came in by) as
`data` and its offset as `id`, so a client resumes with `?after=<id>` or `Last-Event-ID`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Annotated, Any

from litestar import Request, Router, get
from litestar.params import QueryParameter
from litestar.response import ServerSentEvent
from litestar.response.sse import ServerSentEventMessage

from sluice.access import AccessControl
from sluice.errors import InvalidParameter
from sluice.eventlog import EventLog
from sluice.model import StoredEvent
from sluice.web.auth import authorize
from sluice.web.errors import sluice_error
from sluice.web.vayu_events import render_event

# A comment line this often keeps idle connections open through proxies and lets a client
# tell a quiet stream from a dead one.
KEEPALIVE_SECONDS = 15.0
_MAX_OFFSET = 2**63 - 1


def message(event: StoredEvent) -> ServerSentEventMessage:
    body = {**render_event(event), "source": event.source}
    return ServerSentEventMessage(
        data=json.dumps(body, separators=(",", ":")), id=str(event.offset)
    )


async def with_keepalives(
    events: AsyncIterator[StoredEvent], every: float = KEEPALIVE_SECONDS
) -> AsyncGenerator[ServerSentEventMessage]:
    """Each event as a message, and a comment after every `every` seconds without one. The
    pending read is never cancelled by a keepalive, only when the client goes away."""
    pending: asyncio.Task[StoredEvent] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(events))
            done, _ = await asyncio.wait((pending,), timeout=every)
            if not done:
                yield ServerSentEventMessage(comment="keepalive")
                continue
            try:
                event = pending.result()
            except StopAsyncIteration:  # the log closed: the server is stopping
                return
            pending = None
            yield message(event)
    finally:
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending


def _resume_from(after: int | None, last_event_id: str | None) -> int:
    """`after` if given, else the standard Last-Event-ID header, else 0 (the whole log)."""
    if after is not None:
        return after
    if not last_event_id:
        return 0
    if not last_event_id.isdigit() or int(last_event_id) > _MAX_OFFSET:
        raise InvalidParameter("Last-Event-ID", "Last-Event-ID must be an event offset.")
    return int(last_event_id)


def router(access: AccessControl, events: EventLog) -> Router:
    @get("/v1/events/stream", operation_id="streamEvents")
    async def stream_events(
        request: Request[Any, Any, Any],
        after: Annotated[int | None, QueryParameter(ge=0, le=_MAX_OFFSET)] = None,
    ) -> ServerSentEvent:
        """The tenant's live events in offset order, from after `after` (or `Last-Event-ID`),
        then each as it is committed; a `: keepalive` comment every 15 s when quiet."""
        grant = await authorize(request, access)
        start = _resume_from(after, request.headers.get("last-event-id"))

        async def messages() -> AsyncGenerator[ServerSentEventMessage]:
            # Closed in order when the client goes away: the follower leaves the log at once.
            followed = events.follow(grant.tenant, start)
            async with (
                contextlib.aclosing(followed),
                contextlib.aclosing(with_keepalives(followed)) as sent,
            ):
                async for item in sent:
                    yield item

        return ServerSentEvent(messages())

    return Router(
        path="/",
        route_handlers=[stream_events],
        exception_handlers={Exception: sluice_error},
        tags=["events"],
    )
