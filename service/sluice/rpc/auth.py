"""Bearer-key authentication for sluice.v1 methods, wrapped around each method handler."""

from __future__ import annotations

import asyncio
import time
from asyncio import FIRST_COMPLETED
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, TypeAlias

import grpc

from sluice import logs
from sluice.access import STREAM_RECHECK_SECONDS, AccessControl, Grant
from sluice.errors import StoreUnavailable, Unauthenticated
from sluice.metrics import Metrics
from sluice.rpc.status import Refusal, refusal_for

_KEY_REVOKED = Refusal(grpc.StatusCode.UNAUTHENTICATED, "The API key of this stream was revoked.")

# Subscripted only for the type checker: grpc's runtime classes are not generic.
Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"
Context: TypeAlias = "grpc.aio.ServicerContext[Any, Any]"

# (request_streaming, response_streaming) -> the handler's behaviour attribute and factory.
_KINDS: dict[tuple[bool, bool], tuple[str, Callable[..., Handler]]] = {
    (False, False): ("unary_unary", grpc.unary_unary_rpc_method_handler),
    (False, True): ("unary_stream", grpc.unary_stream_rpc_method_handler),
    (True, False): ("stream_unary", grpc.stream_unary_rpc_method_handler),
    (True, True): ("stream_stream", grpc.stream_stream_rpc_method_handler),
}


def authorization_of(metadata: Iterable[tuple[str, str | bytes]] | None) -> str | None:
    """The `authorization` metadata value, if there is one (text, as a bearer key is)."""
    for key, value in metadata or ():
        if key == "authorization":
            return value if isinstance(value, str) else None
    return None


def _kind(handler: Handler) -> tuple[str, Callable[..., Handler]]:
    return _KINDS[(handler.request_streaming, handler.response_streaming)]


def _replaced(handler: Handler, behavior: Callable[..., Any]) -> Handler:
    """A handler of the same kind and (de)serializers as `handler`, running `behavior`."""
    return _kind(handler)[1](
        behavior,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


class _Call:
    """One call's record for its access line: start, grant, events of ingest responses."""

    __slots__ = ("accepted", "grant", "peer", "rejected", "started")

    def __init__(self, context: Context) -> None:
        self.started = time.perf_counter()
        # Read now, while the call is live: grpc.aio may crash the process (SIGSEGV, seen
        # under load) when a finished, cancelled call's context is asked for its peer.
        self.peer = context.peer()
        self.grant: Grant | None = None
        self.accepted: int | None = None
        self.rejected = 0

    def saw(self, response: Any) -> None:
        """Count an ingest response's (or stream ack's) events; other responses have none."""
        accepted = getattr(response, "accepted", None)
        if isinstance(accepted, int):
            self.accepted = (self.accepted or 0) + accepted
            self.rejected += len(response.rejected)


class Authenticator:
    """Authorizes each call of a sluice.v1 method: authenticates its bearer key, counts it against
    the key's rate, and when it ends counts it in the metrics (by method and status, with its
    latency) and writes its access line."""

    def __init__(self, access: AccessControl, metrics: Metrics) -> None:
        self._access = access
        self._metrics = metrics
        self._in_flight = metrics.child(metrics.in_flight, "grpc")

    def count(self, method: str, code: grpc.StatusCode | None, call: _Call) -> None:
        """One sample per finished call, by method name and final status, its latency, and its
        access line (tenant, key, peer, an ingest's events)."""
        if isinstance(code, grpc.StatusCode):
            status = code.name
        else:
            status = "OK" if code is None else "UNKNOWN"
        seconds = time.perf_counter() - call.started
        self._metrics.child(self._metrics.requests, "grpc", method, status).inc()
        self._metrics.child(self._metrics.request_seconds, "grpc", method).observe(seconds)
        line: dict[str, Any] = {
            "protocol": "grpc",
            "method": method,
            "status": status,
            "duration_ms": round(seconds * 1000, 3),
            "client": call.peer,
        }
        if call.grant is not None:
            line["tenant"], line["key_id"] = call.grant.tenant, call.grant.key_id
        if call.accepted is not None:
            line["events_in"] = call.accepted + call.rejected
            line["events_accepted"], line["events_rejected"] = call.accepted, call.rejected
        logs.access(line)

    async def authorize(self, method: str, context: Context, call: _Call) -> str:
        """The call's tenant; or the call ends here with the refusal's status (UNAUTHENTICATED,
        RESOURCE_EXHAUSTED with the delay, UNAVAILABLE), before any request message is used."""
        try:
            grant = await self._access.authorize(authorization_of(context.invocation_metadata()))
        except Exception as exc:
            refusal = refusal_for(exc)
            if refusal is None:
                raise
            # Counted before the abort: the client may see the status before a `finally` runs.
            self.count(method, refusal.code, call)
            await refusal.abort(context)
        call.grant = grant
        return grant.tenant

    async def _until_revoked(self, authorization: str | None) -> None:
        """Returns once the call's credential no longer authenticates (revoked, or an access
        token expired); a store that cannot answer does not end the stream."""
        while True:
            await asyncio.sleep(STREAM_RECHECK_SECONDS)
            try:
                await self._access.authenticate(authorization)
            except Unauthenticated:
                return
            except StoreUnavailable:
                continue

    def wrap(self, handler: Handler, method: str) -> Handler:
        """The same handler, run after its call is admitted with the tenant as its third
        argument, and counted when it ends."""
        inner: Callable[..., Any] = getattr(handler, _kind(handler)[0])
        if handler.response_streaming:

            async def streaming(request: Any, context: Context) -> AsyncIterator[Any]:
                call = _Call(context)
                self._in_flight.inc()
                try:
                    tenant = await self.authorize(method, context, call)
                except BaseException:
                    self._in_flight.dec()
                    raise
                credential = authorization_of(context.invocation_metadata())
                revoked = asyncio.ensure_future(self._until_revoked(credential))
                responses = inner(request, context, tenant).__aiter__()
                try:
                    while True:
                        # A long-lived stream (Subscribe, IngestStream) ends when its key is
                        # revoked, idle or not, within the bound new requests see.
                        following = asyncio.ensure_future(responses.__anext__())
                        await asyncio.wait((following, revoked), return_when=FIRST_COMPLETED)
                        if not following.done():
                            following.cancel()
                            revoked.result()  # a failure of the check itself surfaces as one
                            await _KEY_REVOKED.abort(context)
                        try:
                            response = following.result()
                        except StopAsyncIteration:
                            return
                        call.saw(response)
                        yield response
                finally:
                    revoked.cancel()
                    self._in_flight.dec()
                    self.count(method, context.code(), call)

            return _replaced(handler, streaming)

        async def unary(request: Any, context: Context) -> Any:
            call = _Call(context)
            self._in_flight.inc()
            try:
                tenant = await self.authorize(method, context, call)
                response = await inner(request, context, tenant)
                call.saw(response)
                return response
            finally:
                self._in_flight.dec()
                if call.grant is not None:  # a refusal was counted in authorize
                    self.count(method, context.code(), call)

        return _replaced(handler, unary)

    def service(self, name: str, handlers: dict[str, Handler]) -> grpc.GenericRpcHandler[Any, Any]:
        """`name`'s methods, each of which first checks `authorization: Bearer <key>` metadata
        (health and reflection are registered apart and stay open).

        Wrapped once, here, rather than by a server interceptor: grpc.aio runs an interceptor
        as one more coroutine per call, and an interceptor builds a new handler per call."""
        return grpc.method_handlers_generic_handler(
            name, {method: self.wrap(handler, method) for method, handler in handlers.items()}
        )
