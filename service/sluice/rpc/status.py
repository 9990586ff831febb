"""What each Sluice error means on gRPC: a status code, its message, and google.rpc details.

Details travel as a `google.rpc.Status` in the `grpc-status-details-bin` trailer: `BadRequest`
naming the field for INVALID_ARGUMENT, `RetryInfo` for UNAVAILABLE and RESOURCE_EXHAUSTED.
The retry delay is also sent as plain `retry-after-ms` trailing metadata (whole milliseconds),
for clients that do not decode details.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, NoReturn

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from sluice import errors

RETRY_AFTER_MS = "retry-after-ms"


@dataclass(frozen=True, slots=True)
class Refusal:
    """A call's end with an error status."""

    code: grpc.StatusCode
    message: str
    details: list[Any] = field(default_factory=list)  # google.rpc detail messages
    retry_after: float | None = None

    def trailing_metadata(self) -> tuple[tuple[str, str | bytes], ...]:
        packed = []
        for detail in self.details:
            holder = any_pb2.Any()
            holder.Pack(detail)
            packed.append(holder)
        status = rpc_status.to_status(
            status_pb2.Status(code=self.code.value[0], message=self.message, details=packed)
        )
        metadata: tuple[tuple[str, str | bytes], ...] = tuple(status.trailing_metadata)
        if self.retry_after is not None:
            metadata += ((RETRY_AFTER_MS, str(max(1, math.ceil(self.retry_after * 1000)))),)
        return metadata

    async def abort(self, context: grpc.aio.ServicerContext[Any, Any]) -> NoReturn:
        await context.abort(self.code, self.message, self.trailing_metadata())


def _retry_info(seconds: float) -> error_details_pb2.RetryInfo:
    delay = duration_pb2.Duration()
    delay.FromNanoseconds(round(seconds * 1e9))
    return error_details_pb2.RetryInfo(retry_delay=delay)


def bad_request(field: str, message: str) -> Refusal:
    violation = error_details_pb2.BadRequest.FieldViolation(field=field, description=message)
    details = [error_details_pb2.BadRequest(field_violations=[violation])] if field else []
    return Refusal(grpc.StatusCode.INVALID_ARGUMENT, message, details)


def retry_later(code: grpc.StatusCode, message: str, seconds: float) -> Refusal:
    return Refusal(code, message, [_retry_info(seconds)], seconds)


def refusal_for(exc: Exception) -> Refusal | None:
    """The status for an error a call can expectedly end with; None for anything else (a bug,
    which grpc answers as UNKNOWN)."""
    if isinstance(exc, errors.RateLimited):
        return retry_later(grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc), exc.retry_after)
    if isinstance(exc, errors.StoreUnavailable):
        return retry_later(grpc.StatusCode.UNAVAILABLE, str(exc), exc.retry_after)
    if isinstance(exc, errors.Unauthenticated):
        return Refusal(grpc.StatusCode.UNAUTHENTICATED, str(exc))
    if isinstance(exc, errors.InvalidParameter):
        return bad_request(exc.param, str(exc))
    if isinstance(exc, errors.UnreadableEvent):
        # The stored row is damaged for every reader: DATA_LOSS, which a retry cannot fix.
        return Refusal(grpc.StatusCode.DATA_LOSS, str(exc))
    if isinstance(exc, errors.CoreError):
        # InvalidBatch names its field; a too-large or undecodable body is the whole request.
        return bad_request(getattr(exc, "param", ""), str(exc))
    return None


async def abort_for(exc: Exception, context: grpc.aio.ServicerContext[Any, Any]) -> NoReturn:
    """End the call with exc's status; re-raise exc if it is not an expected outcome."""
    refusal = refusal_for(exc)
    if refusal is None:
        raise exc
    await refusal.abort(context)
