"""sluice.v1.EventService: lookups, queries, soft deletes and a live tail over the EventLog."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import grpc

from sluice.eventlog import MAX_PAGE, decode_cursor, encode_cursor
from sluice.model import EventQuery, StoredEvent
from sluice.pipeline import Pipeline
from sluice.rpc.auth import Context, authenticated, current_tenant
from sluice.rpc.status import Refusal, abort_for, bad_request
from sluice.v1 import events_pb2

SERVICE_NAME = "sluice.v1.EventService"

_MAX_OFFSET = 2**63 - 1  # offsets are signed 64-bit in the store; the proto field is unsigned
_STOPPING = Refusal(
    grpc.StatusCode.UNAVAILABLE,
    "the server is stopping; subscribe again after the last offset received",
)


def stored_event(event: StoredEvent) -> events_pb2.StoredEvent:
    message = events_pb2.StoredEvent(
        offset=event.offset,
        id=event.id,
        name=event.name,
        customer_id=event.customer,
        source=event.source,
        value=event.value,
    )
    message.timestamp.FromMicroseconds(event.timestamp)
    message.data.update(json.loads(event.payload))
    message.received_at.FromMicroseconds(event.received_at)
    if event.deleted_at is not None:
        message.deleted_at.FromMicroseconds(event.deleted_at)
    return message


def _query(request: events_pb2.QueryEventsRequest) -> EventQuery:
    return EventQuery(
        start=request.start_time.ToMicroseconds() if request.HasField("start_time") else None,
        end=request.end_time.ToMicroseconds() if request.HasField("end_time") else None,
        name=request.name or None,
        customer=request.customer_id or None,
        after=decode_cursor(request.cursor) if request.cursor else None,
    )


def handler(pipeline: Pipeline) -> grpc.GenericRpcHandler[Any, Any]:
    log = pipeline.events

    async def get_event(
        request: events_pb2.GetEventRequest, context: Context
    ) -> events_pb2.GetEventResponse:
        if not request.id:
            await bad_request("id", "id is required.").abort(context)
        try:
            event = await log.by_id(current_tenant.get(), request.id, request.name or None)
        except Exception as exc:
            await abort_for(exc, context)
        if event is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no live event with id {request.id!r}")
        return events_pb2.GetEventResponse(event=stored_event(event))

    async def query_events(
        request: events_pb2.QueryEventsRequest, context: Context
    ) -> AsyncIterator[events_pb2.QueryEventsResponse]:
        try:
            matches = log.matching(current_tenant.get(), _query(request), request.limit or None)
            async for event in matches:
                cursor = encode_cursor((event.timestamp, event.offset))
                yield events_pb2.QueryEventsResponse(event=stored_event(event), cursor=cursor)
        except Exception as exc:
            await abort_for(exc, context)

    async def delete_events(
        request: events_pb2.DeleteEventsRequest, context: Context
    ) -> events_pb2.DeleteEventsResponse:
        ids = list(request.ids)
        if not 1 <= len(ids) <= MAX_PAGE or not all(ids):
            await bad_request("ids", f"ids must hold 1 to {MAX_PAGE} non-empty ids.").abort(context)
        try:
            deleted = await log.delete(current_tenant.get(), ids, request.name or None)
        except Exception as exc:
            await abort_for(exc, context)
        return events_pb2.DeleteEventsResponse(events=[stored_event(e) for e in deleted])

    async def subscribe(
        request: events_pb2.SubscribeRequest, context: Context
    ) -> AsyncIterator[events_pb2.SubscribeResponse]:
        after = min(request.after_offset, _MAX_OFFSET)
        try:
            async for event in log.follow(current_tenant.get(), after):
                yield events_pb2.SubscribeResponse(event=stored_event(event))
        except Exception as exc:
            await abort_for(exc, context)
        await _STOPPING.abort(context)  # follow() ends only when the log is closed

    def unary(behavior: Any, request: Any, response: Any) -> grpc.RpcMethodHandler[Any, Any]:
        return grpc.unary_unary_rpc_method_handler(
            behavior, request.FromString, response.SerializeToString
        )

    def streaming(behavior: Any, request: Any, response: Any) -> grpc.RpcMethodHandler[Any, Any]:
        return grpc.unary_stream_rpc_method_handler(
            behavior, request.FromString, response.SerializeToString
        )

    return authenticated(
        pipeline,
        SERVICE_NAME,
        {
            "GetEvent": unary(get_event, events_pb2.GetEventRequest, events_pb2.GetEventResponse),
            "QueryEvents": streaming(
                query_events, events_pb2.QueryEventsRequest, events_pb2.QueryEventsResponse
            ),
            "DeleteEvents": unary(
                delete_events, events_pb2.DeleteEventsRequest, events_pb2.DeleteEventsResponse
            ),
            "Subscribe": streaming(
                subscribe, events_pb2.SubscribeRequest, events_pb2.SubscribeResponse
            ),
        },
    )
