"""Bearer-key authentication for sluice.v1 methods, as a grpc.aio interceptor."""

from __future__ import annotations

import contextvars
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeAlias

import grpc

from sluice.pipeline import Pipeline
from sluice.rpc.status import Refusal, refusal_for

# The authenticated tenant of the call being served; set around the handler by BearerAuth.
current_tenant: contextvars.ContextVar[str] = contextvars.ContextVar("sluice_tenant")

_PROTECTED_PREFIX = "/sluice.v1."

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


def _count(pipeline: Pipeline, method: str, code: grpc.StatusCode | None) -> None:
    """One sample per finished call, by method and final status (metrics)."""
    status = code.name if isinstance(code, grpc.StatusCode) else "OK" if code is None else "UNKNOWN"
    pipeline.metrics.child(
        pipeline.metrics.requests, "grpc", method.rsplit("/", 1)[-1], status
    ).inc()


def _refusing(handler: Handler, refusal: Refusal, pipeline: Pipeline, method: str) -> Handler:
    async def refuse(request: Any, context: Context) -> None:
        # Counted before the abort: the client may see the status before a `finally` runs.
        _count(pipeline, method, refusal.code)
        await refusal.abort(context)

    return _replaced(handler, refuse)


def _with_tenant(handler: Handler, tenant: str, pipeline: Pipeline, method: str) -> Handler:
    """The same handler, run with current_tenant set, and counted when it ends."""
    inner: Callable[..., Any] = getattr(handler, _kind(handler)[0])
    if handler.response_streaming:

        async def streaming(request: Any, context: Context) -> AsyncIterator[Any]:
            current_tenant.set(tenant)
            try:
                async for response in inner(request, context):
                    yield response
            finally:
                _count(pipeline, method, context.code())

        return _replaced(handler, streaming)

    async def unary(request: Any, context: Context) -> Any:
        current_tenant.set(tenant)
        try:
            return await inner(request, context)
        finally:
            _count(pipeline, method, context.code())

    return _replaced(handler, unary)


if TYPE_CHECKING:
    _Interceptor = grpc.aio.ServerInterceptor[Any, Any]
else:
    _Interceptor = grpc.aio.ServerInterceptor


class BearerAuth(_Interceptor):
    """Checks `authorization: Bearer <key>` metadata; health and reflection stay open."""

    def __init__(self, pipeline: Pipeline) -> None:
        self._pipeline = pipeline

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler:
        handler = await continuation(handler_call_details)
        if handler is None or not handler_call_details.method.startswith(_PROTECTED_PREFIX):
            return handler
        authorization = authorization_of(handler_call_details.invocation_metadata)
        try:
            # Unauthenticated, RateLimited (RESOURCE_EXHAUSTED with the delay) or
            # StoreUnavailable end the call here, before any request message is read.
            tenant, _quota = await self._pipeline.admit(authorization)
        except Exception as exc:
            refusal = refusal_for(exc)
            if refusal is None:
                raise
            return _refusing(handler, refusal, self._pipeline, handler_call_details.method)
        return _with_tenant(handler, tenant, self._pipeline, handler_call_details.method)
