"""Bearer-key authentication for sluice.v1 methods, as a grpc.aio interceptor."""

from __future__ import annotations

import contextvars
import math
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeAlias

import grpc

from sluice.errors import RateLimited, StoreUnavailable, Unauthenticated
from sluice.pipeline import Pipeline

# The authenticated tenant of the call being served; set around the handler by BearerAuth.
current_tenant: contextvars.ContextVar[str] = contextvars.ContextVar("sluice_tenant")

_PROTECTED_PREFIX = "/sluice.v1."

# Subscripted only for the type checker: grpc's runtime classes are not generic.
Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"


def _refusal(
    code: grpc.StatusCode, details: str, trailers: tuple[tuple[str, str], ...] = ()
) -> Handler:
    async def refuse(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        await context.abort(code, details, trailing_metadata=trailers)

    return grpc.unary_unary_rpc_method_handler(refuse)


def _with_tenant(handler: Handler, tenant: str) -> Handler:
    """The same handler, run with current_tenant set."""
    if handler.unary_unary is not None:
        inner: Callable[..., Awaitable[Any]] = handler.unary_unary

        async def unary(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            current_tenant.set(tenant)
            return await inner(request, context)

        return grpc.unary_unary_rpc_method_handler(
            unary,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
    raise NotImplementedError("only unary-unary sluice.v1 methods are served so far")


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
        if not handler_call_details.method.startswith(_PROTECTED_PREFIX):
            return await continuation(handler_call_details)
        authorization = None
        for key, value in handler_call_details.invocation_metadata or ():
            if key == "authorization":
                authorization = value if isinstance(value, str) else None
                break
        try:
            tenant, _quota = await self._pipeline.admit(authorization)
        except Unauthenticated as exc:
            return _refusal(grpc.StatusCode.UNAUTHENTICATED, str(exc))
        except RateLimited as exc:
            # The delay in whole milliseconds, for clients that back off on their own.
            delay = (("retry-after-ms", str(max(1, math.ceil(exc.retry_after * 1000)))),)
            return _refusal(grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc), delay)
        except StoreUnavailable as exc:
            return _refusal(grpc.StatusCode.UNAVAILABLE, str(exc))
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        return _with_tenant(handler, tenant)
