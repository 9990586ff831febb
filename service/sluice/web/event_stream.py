"""The tenant's live events as server-sent events (`GET /v1/events/stream`), over EventLog.follow.

Each event is one SSE message: its Vayu-shaped JSON (plus `source`, the API it came in by) as
`data` and its offset as `id`, so a client resumes with `?after=<id>` or `Last-Event-ID`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

from litestar import Request, Router, get
from litestar.openapi import ResponseSpec
from litestar.params import HeaderParameter, QueryParameter
from litestar.response import ServerSentEvent
from litestar.response.sse import ServerSentEventMessage

from sluice.access import STREAM_RECHECK_SECONDS, AccessControl
from sluice.errors import InvalidParameter, StoreUnavailable, Unauthenticated
from sluice.eventlog import MAX_OFFSET, EventLog
from sluice.model import StoredEvent
from sluice.web.auth import authorize
from sluice.web.errors import sluice_error
from sluice.web.headers import scope_header
from sluice.web.openapi import READ_ERRORS, SECURITY, responses
from sluice.web.schemas import SluiceError
from sluice.web.vayu_events import render_event

# A comment line this often keeps idle connections open through proxies and lets a client
# tell a quiet stream from a dead one.
KEEPALIVE_SECONDS = 15.0
REVOKED = "The API key of this stream was revoked."
# The success is a text/event-stream: OpenAPI has no schema for the messages themselves, so
# the description says what each carries.
STREAM = ResponseSpec(
    data_container=str,
    media_type="text/event-stream",
    description="Server-sent events: each live event as one message, its `data` the event as "
    "`GET /events/{ref}` renders it plus `source` (the API it came in by), its `id` the "
    "event's offset; a `: keepalive` comment every 15 s when quiet; an `event: revoked` "
    "message, then the end, once the stream's key is revoked.",
    generate_examples=False,
)


def message(event: StoredEvent) -> ServerSentEventMessage:
    body = {**render_event(event), "source": event.source}
    return ServerSentEventMessage(
        data=json.dumps(body, separators=(",", ":")), id=str(event.offset)
    )


async def with_keepalives(
    events: AsyncIterator[StoredEvent],
    every: float = KEEPALIVE_SECONDS,
    allowed: Callable[[], Awaitable[bool]] | None = None,
    recheck: float = STREAM_RECHECK_SECONDS,
) -> AsyncGenerator[ServerSentEventMessage]:
    """Each event as a message, and a comment after every `every` seconds without one. The
    pending read is never cancelled by a keepalive, only when the client goes away.

    With `allowed`, the stream asks it every `recheck` seconds, quiet or not, and ends with a
    `revoked` message once it answers False: a revoked key's stream stops within the bound new
    requests see (the key cache's lifetime plus one re-check), as gRPC streams do."""
    pending: asyncio.Task[StoredEvent] | None = None
    quiet_since = checked = time.monotonic()
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(events))
            now = time.monotonic()
            wait = every - (now - quiet_since)
            if allowed is not None:
                wait = min(wait, recheck - (now - checked))
            done, _ = await asyncio.wait((pending,), timeout=max(0.0, wait))
            now = time.monotonic()
            if allowed is not None and now - checked >= recheck:
                checked = now
                if not await allowed():
                    yield ServerSentEventMessage(event="revoked", data=REVOKED)
                    return
            if not done:
                if now - quiet_since >= every:
                    quiet_since = now
                    yield ServerSentEventMessage(comment="keepalive")
                continue
            try:
                event = pending.result()
            except StopAsyncIteration:  # the log closed: the server is stopping
                return
            pending = None
            quiet_since = now
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
    if not last_event_id.isdigit() or int(last_event_id) > MAX_OFFSET:
        raise InvalidParameter("Last-Event-ID", "Last-Event-ID must be an event offset.")
    return int(last_event_id)


def router(access: AccessControl, events: EventLog) -> Router:
    @get(
        "/v1/events/stream",
        operation_id="streamEvents",
        responses=responses(sluice_error, SluiceError, READ_ERRORS, {200: STREAM}),
    )
    async def stream_events(
        request: Request[Any, Any, Any],
        after: Annotated[
            int | None,
            QueryParameter(ge=0, le=MAX_OFFSET, description="Resume after this event offset."),
        ] = None,
        # Declared for the document; read from the headers below, as before.
        last_event_id: Annotated[
            str | None,
            HeaderParameter(
                name="Last-Event-ID", description="The standard resume header, if no `after`."
            ),
        ] = None,
    ) -> ServerSentEvent:
        """The tenant's live events in offset order, from after `after` (or `Last-Event-ID`),
        then each as it is committed; a `: keepalive` comment every 15 s when quiet."""
        grant = await authorize(request, access)
        start = _resume_from(after, request.headers.get("last-event-id"))
        credential = scope_header(request.scope, b"authorization")

        async def allowed() -> bool:
            """Whether the stream's key still authenticates (a store that cannot answer the
            check does not end the stream)."""
            try:
                await access.authenticate(credential)
            except Unauthenticated:
                return False
            except StoreUnavailable:
                return True
            return True

        async def messages() -> AsyncGenerator[ServerSentEventMessage]:
            # Closed in order when the client goes away: the follower leaves the log at once.
            followed = events.follow(grant.tenant, start)
            async with (
                contextlib.aclosing(followed),
                contextlib.aclosing(with_keepalives(followed, allowed=allowed)) as sent,
            ):
                async for item in sent:
                    yield item

        return ServerSentEvent(messages())

    return Router(
        path="/",
        route_handlers=[stream_events],
        exception_handlers={Exception: sluice_error},
        security=SECURITY,
        tags=["events"],
    )
