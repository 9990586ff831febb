"""sluice.v1.IngestService: the request's bytes go straight to the Rust core (no Python protobuf
objects per event); only the small response is built with the generated classes."""

from __future__ import annotations

from typing import Any

import grpc

from sluice.errors import CoreError, StoreUnavailable
from sluice.pipeline import CONFLICT, DUPLICATE, INVALID, Pipeline
from sluice.rpc.auth import current_tenant
from sluice.v1 import ingest_pb2

SERVICE_NAME = "sluice.v1.IngestService"

_REASONS = {
    INVALID: ingest_pb2.REJECT_REASON_INVALID,
    DUPLICATE: ingest_pb2.REJECT_REASON_DUPLICATE,
    CONFLICT: ingest_pb2.REJECT_REASON_CONFLICT,
}


def handler(pipeline: Pipeline) -> grpc.GenericRpcHandler[Any, Any]:
    async def ingest(
        request: bytes, context: grpc.aio.ServicerContext[Any, Any]
    ) -> ingest_pb2.IngestResponse:
        try:
            result = await pipeline.ingest_grpc(current_tenant.get(), request)
        except CoreError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        except StoreUnavailable as exc:
            context.set_trailing_metadata((("retry-after", str(exc.retry_after)),))
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
        return ingest_pb2.IngestResponse(
            accepted=len(result.accepted),
            rejected=[
                ingest_pb2.Rejection(index=index, reason=_REASONS[reason], message=message)
                for index, reason, _field, message in result.rejected
            ],
        )

    return grpc.method_handlers_generic_handler(
        SERVICE_NAME,
        {
            "Ingest": grpc.unary_unary_rpc_method_handler(
                ingest,
                request_deserializer=None,  # raw bytes: the Rust core decodes them
                response_serializer=ingest_pb2.IngestResponse.SerializeToString,
            )
        },
    )
