"""sluice.v1.IngestService: the request's bytes go straight to the Rust core (no Python protobuf
objects per event); only the small responses are built with the generated classes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import grpc

from sluice.access import AccessControl
from sluice.dialects import Dialects
from sluice.ingest import IngestService
from sluice.model import CONFLICT, DUPLICATE, INVALID, IngestOutcome
from sluice.rpc.auth import Authenticator, Context, authorization_of
from sluice.rpc.status import abort_for
from sluice.v1 import ingest_pb2

SERVICE_NAME = "sluice.v1.IngestService"

_REASONS = {
    INVALID: ingest_pb2.REJECT_REASON_INVALID,
    DUPLICATE: ingest_pb2.REJECT_REASON_DUPLICATE,
    CONFLICT: ingest_pb2.REJECT_REASON_CONFLICT,
}


def _rejections(result: IngestOutcome) -> list[ingest_pb2.Rejection]:
    return [
        ingest_pb2.Rejection(index=r.index, reason=_REASONS[r.reason], message=r.message)
        for r in result.rejected
    ]


def request_id(context: Context) -> str:
    """The call's id: the client's `x-request-id` metadata if sane, else a new one; sent back
    as initial metadata so the client can name the call when it looks up a refusal."""
    for key, value in context.invocation_metadata() or ():
        sane = isinstance(value, str) and 0 < len(value) <= 128 and value.isprintable()
        if key == "x-request-id" and sane:
            return str(value)
    made = uuid.uuid4().hex
    context.set_trailing_metadata((("x-request-id", made),))
    return made


def handler(
    ingest_service: IngestService,
    dialects: Dialects,
    access: AccessControl,
    authenticator: Authenticator,
) -> grpc.GenericRpcHandler[Any, Any]:
    async def ingest(request: bytes, context: Context, tenant: str) -> ingest_pb2.IngestResponse:
        try:
            result = await ingest_service.ingest(
                dialects.grpc, tenant, request, request_id=request_id(context)
            )
        except Exception as exc:
            await abort_for(exc, context)
        return ingest_pb2.IngestResponse(
            accepted=len(result.accepted), rejected=_rejections(result)
        )

    async def ingest_stream(
        requests: AsyncIterator[bytes], context: Context, tenant: str
    ) -> AsyncIterator[ingest_pb2.IngestStreamResponse]:
        authorization = authorization_of(context.invocation_metadata())
        call_id = request_id(context)
        counted = True  # admitting the call counted it, which covers its first batch
        # One batch at a time: the next message is read only once this one is committed and
        # its ack written, so unread batches wait in the client (HTTP/2 flow control), not here.
        async for request in requests:
            try:
                if not counted:
                    # Every further batch is one more request for the key's rate limit, as a
                    # unary Ingest would be, and re-checks the key (a revoked key's stream ends).
                    await access.authorize(authorization)
                counted = False
                result = await ingest_service.ingest(
                    dialects.grpc_stream, tenant, request, request_id=call_id
                )
            except Exception as exc:
                await abort_for(exc, context)
            yield ingest_pb2.IngestStreamResponse(
                sequence=result.batch.sequence,
                accepted=len(result.accepted),
                rejected=_rejections(result),
            )

    return authenticator.service(
        SERVICE_NAME,
        {
            "Ingest": grpc.unary_unary_rpc_method_handler(
                ingest,
                request_deserializer=None,  # raw bytes: the Rust core decodes them
                response_serializer=ingest_pb2.IngestResponse.SerializeToString,
            ),
            "IngestStream": grpc.stream_stream_rpc_method_handler(
                ingest_stream,
                request_deserializer=None,  # raw bytes: the Rust core decodes them
                response_serializer=ingest_pb2.IngestStreamResponse.SerializeToString,
            ),
        },
    )
