"""sluice.v1.RejectionService: the tenant's kept refusals (rejections.py)."""

from __future__ import annotations

from typing import Any

import grpc

from sluice.errors import InvalidParameter
from sluice.model import RejectedEvent, RejectionQuery
from sluice.rejections import MAX_PAGE, RejectionLog, decode_cursor, encode_cursor
from sluice.rpc.auth import Authenticator, Context
from sluice.rpc.events import decode, instant
from sluice.rpc.status import abort_for
from sluice.v1 import rejections_pb2

SERVICE_NAME = "sluice.v1.RejectionService"
DEFAULT_PAGE = 100


def rejected_event(rejection: RejectedEvent) -> rejections_pb2.RejectedEvent:
    message = rejections_pb2.RejectedEvent(
        request_id=rejection.request_id,
        source=rejection.source,
        name=rejection.name,
        reason=rejection.reason,
        field=rejection.field,
        message=rejection.message,
        event=rejection.event,
    )
    message.at.FromMicroseconds(rejection.at)
    return message


def query_of(message: rejections_pb2.ListRejectionsRequest) -> RejectionQuery:
    if message.limit > MAX_PAGE:
        raise InvalidParameter("limit", f"limit must be 1 to {MAX_PAGE} (0 means 100).")
    return RejectionQuery(
        source=message.source or None,
        name=message.name or None,
        reason=message.reason.upper() or None,
        since=instant(message, "since"),
        before=decode_cursor(message.cursor) if message.cursor else None,
        limit=message.limit or DEFAULT_PAGE,
    )


def handler(
    rejections: RejectionLog, authenticator: Authenticator
) -> grpc.GenericRpcHandler[Any, Any]:
    async def list_rejections(
        raw: bytes, context: Context, tenant: str
    ) -> rejections_pb2.ListRejectionsResponse:
        message = await decode(rejections_pb2.ListRejectionsRequest, raw, context)
        try:
            page, before = await rejections.page(tenant, query_of(message))
            counts = await rejections.counts(tenant)
        except Exception as exc:
            await abort_for(exc, context)
        return rejections_pb2.ListRejectionsResponse(
            rejections=[rejected_event(rejection) for rejection in page],
            next_cursor=encode_cursor(before) if before is not None else "",
            counts=[
                rejections_pb2.RejectionCount(source=source, reason=reason, count=count)
                for (source, reason), count in sorted(counts.items())
            ],
        )

    return authenticator.service(
        SERVICE_NAME,
        {
            "ListRejections": grpc.unary_unary_rpc_method_handler(
                list_rejections, None, rejections_pb2.ListRejectionsResponse.SerializeToString
            )
        },
    )
