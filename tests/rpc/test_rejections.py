"""RejectionService.ListRejections through a real channel: refusals of both transports."""

from __future__ import annotations

import json
import time

import grpc

from sluice.v1 import ingest_pb2, ingest_pb2_grpc, rejections_pb2, rejections_pb2_grpc
from tests.rpc.conftest import RpcServer
from tests.test_server import grpc_event


def listed(
    rpc: RpcServer, channel: grpc.Channel, want: int, **fields: object
) -> rejections_pb2.ListRejectionsResponse:
    stub = rejections_pb2_grpc.RejectionServiceStub(channel)
    deadline = time.monotonic() + 5
    while True:
        reply = stub.ListRejections(
            rejections_pb2.ListRejectionsRequest(**fields), metadata=rpc.metadata
        )
        if len(reply.rejections) >= want or time.monotonic() > deadline:
            return reply
        time.sleep(0.05)


def test_a_refused_grpc_event_is_kept_as_json_with_its_call_id(
    rpc: RpcServer, channel: grpc.Channel
) -> None:
    ingest = ingest_pb2_grpc.IngestServiceStub(channel)
    stored = grpc_event("a")
    conflicting = grpc_event("a", data={"k": "other"})
    nameless = grpc_event("b", name="")
    metadata = (*rpc.metadata, ("x-request-id", "call-7"))
    ingest.Ingest(ingest_pb2.IngestRequest(events=[stored]), metadata=rpc.metadata)
    reply = ingest.Ingest(
        ingest_pb2.IngestRequest(events=[conflicting, nameless]), metadata=metadata
    )
    assert reply.accepted == 0 and len(reply.rejected) == 2
    found = listed(rpc, channel, 2)
    by_reason = {r.reason: r for r in found.rejections}
    assert set(by_reason) == {"CONFLICT", "INVALID"}
    conflict = by_reason["CONFLICT"]
    assert (conflict.request_id, conflict.source, conflict.name) == ("call-7", "grpc", "api_call")
    assert json.loads(conflict.event)["data"] == {"k": "other"}
    assert json.loads(by_reason["INVALID"].event)["id"] == "b"
    assert only(listed(rpc, channel, 1, reason="conflict")) == ["CONFLICT"]
    page = listed(rpc, channel, 1, limit=1)
    assert page.next_cursor
    assert len(listed(rpc, channel, 1, cursor=page.next_cursor).rejections) == 1


def test_rejections_come_with_their_counts_by_source_and_reason(
    rpc: RpcServer, channel: grpc.Channel
) -> None:
    ingest = ingest_pb2_grpc.IngestServiceStub(channel)
    ingest.Ingest(ingest_pb2.IngestRequest(events=[grpc_event("a")]), metadata=rpc.metadata)
    changed, nameless = grpc_event("a", data={"k": "other"}), grpc_event("b", name="")
    ingest.Ingest(
        ingest_pb2.IngestRequest(events=[changed, nameless, grpc_event("c", name="")]),
        metadata=rpc.metadata,
    )
    assert len(listed(rpc, channel, 3).rejections) == 3  # kept once they are all recorded
    reply = listed(rpc, channel, 1, limit=1)  # counts cover every rejection, not the page
    assert len(reply.rejections) == 1
    assert [(c.source, c.reason, c.count) for c in reply.counts] == [
        ("grpc", "CONFLICT", 1),
        ("grpc", "INVALID", 2),
    ]


def only(reply: rejections_pb2.ListRejectionsResponse) -> list[str]:
    return [r.reason for r in reply.rejections]


def test_another_tenant_sees_none_and_bad_requests_are_invalid_argument(
    rpc: RpcServer, channel: grpc.Channel
) -> None:
    ingest = ingest_pb2_grpc.IngestServiceStub(channel)
    ingest.Ingest(
        ingest_pb2.IngestRequest(events=[grpc_event("b", name="")]), metadata=rpc.metadata
    )
    listed(rpc, channel, 1)
    stub = rejections_pb2_grpc.RejectionServiceStub(channel)
    other = stub.ListRejections(
        rejections_pb2.ListRejectionsRequest(), metadata=rpc.key_for("globex")
    )
    assert list(other.rejections) == [] and list(other.counts) == []
    for bad in ({"cursor": "!!"}, {"limit": 5000}):
        try:
            stub.ListRejections(rejections_pb2.ListRejectionsRequest(**bad), metadata=rpc.metadata)
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, bad
        else:
            raise AssertionError(bad)


def test_each_repeat_is_told_what_it_is_and_a_conflict_kept_naming_the_id_on_both_calls(
    rpc: RpcServer, channel: grpc.Channel
) -> None:
    duplicate = (
        ingest_pb2.REJECT_REASON_DUPLICATE,
        "an event with this name and id was already accepted",
    )
    message = "an event with this name and id was already accepted with different content"
    conflict = (ingest_pb2.REJECT_REASON_CONFLICT, message)
    ingest = ingest_pb2_grpc.IngestServiceStub(channel)
    ingest.Ingest(ingest_pb2.IngestRequest(events=[grpc_event("u")]), metadata=rpc.metadata)
    repeats = [grpc_event("u", data={"k": "unary"}), grpc_event("u")]
    told = []
    for event in repeats:
        reply = ingest.Ingest(ingest_pb2.IngestRequest(events=[event]), metadata=rpc.metadata)
        told += [(r.reason, r.message) for r in reply.rejected]
    assert told == [conflict, duplicate]
    streamed = [
        ingest_pb2.IngestStreamRequest(sequence=1, events=[grpc_event("u", data={"k": "stream"})]),
        ingest_pb2.IngestStreamRequest(sequence=2, events=[grpc_event("u")]),
    ]
    acks = list(ingest.IngestStream(iter(streamed), metadata=rpc.metadata))
    assert [(r.reason, r.message) for ack in acks for r in ack.rejected] == [conflict, duplicate]
    found = listed(rpc, channel, 2, reason="conflict").rejections
    assert [(r.source, r.field, r.message) for r in found] == [("grpc", "id", message)] * 2
    assert [json.loads(r.event)["data"] for r in found] == [{"k": "stream"}, {"k": "unary"}]
