"""sluice.v1.EventService: lookups, queries, soft deletes and a live tail over the EventLog."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import grpc
from google.protobuf.message import DecodeError

from sluice.errors import InvalidParameter
from sluice.eventlog import MAX_OFFSET, MAX_PAGE, EventLog, decode_cursor, encode_cursor
from sluice.model import EventQuery, StoredEvent
from sluice.rpc.auth import Authenticator, Context
from sluice.rpc.status import Refusal, abort_for, bad_request
from sluice.v1 import events_pb2

SERVICE_NAME = "sluice.v1.EventService"

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


# google.protobuf.Timestamp's own range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
_SECONDS = range(-62_135_596_800, 253_402_300_800)
_NANOS = range(1_000_000_000)


def instant(request: Any, field: str) -> int | None:
    """A Timestamp field of the request in microseconds; None when unset."""
    if not request.HasField(field):
        return None
    value = getattr(request, field)
    if value.seconds not in _SECONDS or value.nanos not in _NANOS:
        raise InvalidParameter(field, f"{field} is outside google.protobuf.Timestamp's range.")
    return int(value.ToMicroseconds())


def _query(request: events_pb2.QueryEventsRequest) -> EventQuery:
    return EventQuery(
        start=instant(request, "start_time"),
        end=instant(request, "end_time"),
        name=request.name or None,
        customer=request.customer_id or None,
        after=decode_cursor(request.cursor) if request.cursor else None,
    )


async def decode(message_type: Any, raw: bytes, context: Context) -> Any:
    try:
        return message_type.FromString(raw)
    except DecodeError:
        name = message_type.DESCRIPTOR.name
        await bad_request("", f"the request is not a valid {name}").abort(context)


def handler(log: EventLog, authenticator: Authenticator) -> grpc.GenericRpcHandler[Any, Any]:
    async def get_event(
        request: events_pb2.GetEventRequest, context: Context, tenant: str
    ) -> events_pb2.GetEventResponse:
        if not request.id:
            await bad_request("id", "id is required.").abort(context)
        try:
            event = await log.by_id(tenant, request.id, request.name or None)
        except Exception as exc:
            await abort_for(exc, context)
        if event is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no live event with id {request.id!r}")
        return events_pb2.GetEventResponse(event=stored_event(event))

    async def query_events(
        request: events_pb2.QueryEventsRequest, context: Context, tenant: str
    ) -> AsyncIterator[events_pb2.QueryEventsResponse]:
        try:
            matches = log.matching(tenant, _query(request), request.limit or None)
            async for event in matches:
                cursor = encode_cursor((event.timestamp, event.offset))
                yield events_pb2.QueryEventsResponse(event=stored_event(event), cursor=cursor)
        except Exception as exc:
            await abort_for(exc, context)

    async def delete_events(
        request: events_pb2.DeleteEventsRequest, context: Context, tenant: str
    ) -> events_pb2.DeleteEventsResponse:
        ids = list(request.ids)
        if not 1 <= len(ids) <= MAX_PAGE or not all(ids):
            await bad_request("ids", f"ids must hold 1 to {MAX_PAGE} non-empty ids.").abort(context)
        try:
            deleted = await log.delete(tenant, ids, request.name or None)
        except Exception as exc:
            await abort_for(exc, context)
        return events_pb2.DeleteEventsResponse(events=[stored_event(e) for e in deleted])

    async def subscribe(
        request: events_pb2.SubscribeRequest, context: Context, tenant: str
    ) -> AsyncIterator[events_pb2.SubscribeResponse]:
        after = min(request.after_offset, MAX_OFFSET)
        try:
            async for event in log.follow(tenant, after):
                yield events_pb2.SubscribeResponse(event=stored_event(event))
        except Exception as exc:
            await abort_for(exc, context)
        await _STOPPING.abort(context)  # follow() ends only when the log is closed

    # Requests arrive as bytes and are decoded here, not by grpc: a message grpc cannot decode
    # (a string field that is not UTF-8) would otherwise end the call as UNKNOWN, a server
    # error, where it is the client's (INVALID_ARGUMENT).
    def unary(behavior: Any, request: Any, response: Any) -> grpc.RpcMethodHandler[Any, Any]:
        async def decoded(raw: bytes, context: Context, tenant: str) -> Any:
            return await behavior(await decode(request, raw, context), context, tenant)

        return grpc.unary_unary_rpc_method_handler(decoded, None, response.SerializeToString)

    def streaming(behavior: Any, request: Any, response: Any) -> grpc.RpcMethodHandler[Any, Any]:
        async def decoded(raw: bytes, context: Context, tenant: str) -> AsyncIterator[Any]:
            async for message in behavior(await decode(request, raw, context), context, tenant):
                yield message

        return grpc.unary_stream_rpc_method_handler(decoded, None, response.SerializeToString)

    return authenticator.service(
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
