"""EventService lookups, queries and soft deletes, through a real channel."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import json_format
from google.protobuf.timestamp_pb2 import Timestamp

from sluice.v1 import events_pb2, events_pb2_grpc, ingest_pb2, ingest_pb2_grpc
from tests.rpc.conftest import RpcServer
from tests.test_readable_once_accepted import bad_rows
from tests.test_server import grpc_event


def at(text: str) -> Timestamp:
    stamp = Timestamp()
    stamp.FromJsonString(text)
    return stamp


def ingest(rpc: RpcServer, channel: grpc.Channel, *events: ingest_pb2.Event) -> None:
    stub = ingest_pb2_grpc.IngestServiceStub(channel)
    reply = stub.Ingest(ingest_pb2.IngestRequest(events=events), metadata=rpc.metadata)
    assert reply.accepted == len(events), reply


def hourly(id_: str, hour: int, name: str = "api_call") -> ingest_pb2.Event:
    event = grpc_event(id_, name=name, data={"hour": str(hour)})
    event.timestamp.CopyFrom(at(f"2024-05-01T{hour:02d}:00:00Z"))
    return event


def test_get_event_by_id_and_optionally_name(rpc: RpcServer, channel: grpc.Channel) -> None:
    first = grpc_event("r1", data={"n": 1, "nested": {"list": [1, "two", None]}})
    first.value = 2.5
    ingest(rpc, channel, first, grpc_event("r1", name="other"))
    stub = events_pb2_grpc.EventServiceStub(channel)

    got = stub.GetEvent(events_pb2.GetEventRequest(id="r1"), metadata=rpc.metadata).event
    assert (got.name, got.id, got.customer_id, got.source) == ("api_call", "r1", "c1", "grpc")
    assert got.timestamp.ToJsonString() == "2024-05-01T10:00:00Z"
    assert got.HasField("value") and got.value == 2.5
    assert json_format.MessageToDict(got.data) == {"n": 1, "nested": {"list": [1, "two", None]}}
    assert got.offset > 0 and got.received_at.seconds > 0 and not got.HasField("deleted_at")

    named = stub.GetEvent(events_pb2.GetEventRequest(id="r1", name="other"), metadata=rpc.metadata)
    assert named.event.name == "other" and not named.event.HasField("value")

    for request, code in [
        (events_pb2.GetEventRequest(id="nope"), grpc.StatusCode.NOT_FOUND),
        (events_pb2.GetEventRequest(id="r1", name="nope"), grpc.StatusCode.NOT_FOUND),
        (events_pb2.GetEventRequest(), grpc.StatusCode.INVALID_ARGUMENT),
    ]:
        with pytest.raises(grpc.RpcError) as info:
            stub.GetEvent(request, metadata=rpc.metadata)
        assert info.value.code() == code


def test_query_events_filters_and_resumes_from_a_cursor(
    rpc: RpcServer, channel: grpc.Channel
) -> None:
    ingest(rpc, channel, *(hourly(f"h{h}", h) for h in (5, 1, 3, 2, 4)), hourly("x", 3, "other"))
    stub = events_pb2_grpc.EventServiceStub(channel)

    def query(**fields: object) -> list[events_pb2.QueryEventsResponse]:
        request = events_pb2.QueryEventsRequest(**fields)  # type: ignore[arg-type]
        return list(stub.QueryEvents(request, metadata=rpc.metadata))

    everything = query(name="api_call")
    assert [r.event.id for r in everything] == ["h1", "h2", "h3", "h4", "h5"]
    window = query(start_time=at("2024-05-01T02:00:00Z"), end_time=at("2024-05-01T04:00:00Z"))
    assert [r.event.id for r in window] == ["h2", "h3", "x"]
    page = query(name="api_call", limit=2)
    assert [r.event.id for r in page] == ["h1", "h2"]
    rest = query(name="api_call", cursor=page[-1].cursor)
    assert [r.event.id for r in rest] == ["h3", "h4", "h5"]
    assert query(customer_id="someone-else") == []

    with pytest.raises(grpc.RpcError) as info:
        query(cursor="not-a-cursor")
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_delete_is_soft_and_the_id_stays_taken(rpc: RpcServer, channel: grpc.Channel) -> None:
    ingest(rpc, channel, grpc_event("d1"), grpc_event("d2"), grpc_event("d1", name="other"))
    stub = events_pb2_grpc.EventServiceStub(channel)
    deleted = stub.DeleteEvents(
        events_pb2.DeleteEventsRequest(ids=["d1", "d2", "missing"]), metadata=rpc.metadata
    ).events
    assert [(e.id, e.name) for e in deleted] == [("d1", "api_call"), ("d2", "api_call")]
    assert all(e.HasField("deleted_at") for e in deleted)
    named = stub.DeleteEvents(
        events_pb2.DeleteEventsRequest(ids=["d1"], name="other"), metadata=rpc.metadata
    ).events
    assert [(e.id, e.name) for e in named] == [("d1", "other")]
    assert list(stub.QueryEvents(events_pb2.QueryEventsRequest(), metadata=rpc.metadata)) == []

    again = ingest_pb2_grpc.IngestServiceStub(channel).Ingest(
        ingest_pb2.IngestRequest(events=[grpc_event("d1")]), metadata=rpc.metadata
    )
    assert [r.reason for r in again.rejected] == [ingest_pb2.REJECT_REASON_DUPLICATE]

    for ids in ([], [""], ["x"] * 1001):
        with pytest.raises(grpc.RpcError) as info:
            stub.DeleteEvents(events_pb2.DeleteEventsRequest(ids=ids), metadata=rpc.metadata)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_reads_are_scoped_to_the_tenant(rpc: RpcServer, channel: grpc.Channel) -> None:
    ingest(rpc, channel, grpc_event("mine"))
    other = rpc.key_for("globex")
    stub = events_pb2_grpc.EventServiceStub(channel)
    with pytest.raises(grpc.RpcError) as info:
        stub.GetEvent(events_pb2.GetEventRequest(id="mine"), metadata=other)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    assert list(stub.QueryEvents(events_pb2.QueryEventsRequest(), metadata=other)) == []


def test_a_stored_event_no_reader_can_carry_is_data_loss_naming_it(
    rpc: RpcServer, channel: grpc.Channel
) -> None:
    """A row accepted before today's rules (or written around them) cannot be read back:
    GetEvent ends DATA_LOSS (a retry cannot help) with the reason, and other events are read."""
    rpc.run(rpc.store.append("acme", "vayu", 1_704_164_645_000_000, bad_rows()))
    stub = events_pb2_grpc.EventServiceStub(channel)
    for id_ in ["year-zero", "huge"]:
        with pytest.raises(grpc.RpcError) as refused:
            stub.GetEvent(events_pb2.GetEventRequest(id=id_), metadata=rpc.metadata)
        assert refused.value.code() == grpc.StatusCode.DATA_LOSS
        assert "cannot be read back" in (refused.value.details() or "")
    good = stub.GetEvent(events_pb2.GetEventRequest(id="good-1"), metadata=rpc.metadata)
    assert good.event.id == "good-1"
