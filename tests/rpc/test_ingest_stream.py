"""IngestService.IngestStream: one ack per batch, in order, with flow control to the producer."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from sluice.v1 import ingest_pb2, ingest_pb2_grpc
from tests.conftest import stored_rows
from tests.rpc.conftest import RpcServer
from tests.storage.test_sqlite import fill_disk, free_disk
from tests.test_server import grpc_event


def stream_batch(sequence: int, *ids: str, pad: int = 0) -> ingest_pb2.IngestStreamRequest:
    data = {"pad": "x" * pad} if pad else None
    return ingest_pb2.IngestStreamRequest(
        sequence=sequence, events=[grpc_event(id_, data=data) for id_ in ids]
    )


def test_acks_come_in_order_one_per_batch_with_each_outcome(
    rpc: RpcServer, channel: grpc.Channel
) -> None:
    stub = ingest_pb2_grpc.IngestServiceStub(channel)
    batches = [stream_batch(100 + s, *(f"s{s}-{i}" for i in range(5))) for s in range(30)]
    # A repeat of an earlier batch's event, an invalid event, a dry run.
    batches.append(stream_batch(7, "s0-0", "", "new"))
    batches.append(
        ingest_pb2.IngestStreamRequest(sequence=8, events=[grpc_event("dry")], dry_run=True)
    )
    acks = list(stub.IngestStream(iter(batches), metadata=rpc.metadata))
    assert [ack.sequence for ack in acks] == [b.sequence for b in batches]
    assert {ack.accepted for ack in acks[:30]} == {5}
    assert acks[30].accepted == 1
    assert [(r.index, r.reason) for r in acks[30].rejected] == [
        (0, ingest_pb2.REJECT_REASON_DUPLICATE),
        (1, ingest_pb2.REJECT_REASON_INVALID),
    ]
    assert acks[31].accepted == 1 and not acks[31].rejected
    assert len(stored_rows(rpc.settings.data_dir)) == 30 * 5 + 1  # the dry run stored nothing


def test_a_changed_repeat_on_the_stream_is_a_conflict(
    rpc: RpcServer, channel: grpc.Channel
) -> None:
    """As for unary Ingest: a repeated (name, id) is DUPLICATE when its content is the stored
    event's, CONFLICT when it differs, whether it was stored by this stream or before it."""
    stub = ingest_pb2_grpc.IngestServiceStub(channel)
    unary = stub.Ingest(
        ingest_pb2.IngestRequest(events=[grpc_event("unary-1")]), metadata=rpc.metadata
    )
    assert unary.accepted == 1
    # Each key once per batch, so every repeat is judged against the store, not the batch.
    batches = [
        [grpc_event("c-1")],
        [grpc_event("c-1")],  # same content: a duplicate
        [grpc_event("c-1", data={"k": "changed"})],  # same key, new content
        [grpc_event("unary-1", data={"k": "changed"}), grpc_event("c-2")],
        [grpc_event("unary-1")],
    ]
    requests = (
        ingest_pb2.IngestStreamRequest(sequence=sequence, events=events)
        for sequence, events in enumerate(batches, start=1)
    )
    acks = list(stub.IngestStream(requests, metadata=rpc.metadata))
    duplicate, conflict = ingest_pb2.REJECT_REASON_DUPLICATE, ingest_pb2.REJECT_REASON_CONFLICT
    assert [
        (ack.sequence, ack.accepted, [(r.index, r.reason) for r in ack.rejected]) for ack in acks
    ] == [
        (1, 1, []),
        (2, 0, [(0, duplicate)]),
        (3, 0, [(0, conflict)]),
        (4, 1, [(0, conflict)]),
        (5, 0, [(0, duplicate)]),
    ]
    assert "different content" in acks[2].rejected[0].message
    stored = stored_rows(rpc.settings.data_dir, "SELECT id FROM events ORDER BY id")
    assert stored == [("c-1",), ("c-2",), ("unary-1",)]


@pytest.fixture
def small_window(data_dir: Path) -> Iterator[RpcServer]:
    """A server whose message limit, and so each stream's receive window, is 300 KB."""
    server = RpcServer(data_dir, grpc_max_message_bytes=300_000).start()
    try:
        yield server
    finally:
        server.close()


def test_a_slow_store_holds_the_producer_back(small_window: RpcServer) -> None:
    """While the store cannot commit, the server reads no further than the batch it is on, so
    the producer stalls once about one flow-control window (the message limit) is in flight."""
    rpc = small_window
    channel = grpc.insecure_channel(rpc.target)
    stub = ingest_pb2_grpc.IngestServiceStub(channel)
    total = 120  # 2.4 MB: several windows' worth
    batch_bytes = stream_batch(1, "probe", pad=20_000).ByteSize()
    pulled: list[int] = []

    def produce() -> Iterator[ingest_pb2.IngestStreamRequest]:
        for sequence in range(1, total + 1):
            pulled.append(sequence)
            yield stream_batch(sequence, f"slow-{sequence}", pad=20_000)

    release = threading.Event()
    held = rpc.hold_writer(release)
    acks: list[int] = []

    def consume() -> None:
        for ack in stub.IngestStream(produce(), metadata=rpc.metadata):
            acks.append(ack.sequence)

    consumer = threading.Thread(target=consume)
    consumer.start()
    try:
        time.sleep(0.4)
        stalled_at = len(pulled)
        time.sleep(0.3)
        assert len(pulled) == stalled_at, "the producer kept going while nothing could commit"
        assert acks == []
        assert stalled_at * batch_bytes <= 3 * rpc.settings.grpc_message_limit
    finally:
        release.set()
        consumer.join(timeout=30)
        channel.close()
    held.result(timeout=5)
    assert acks == list(range(1, total + 1))
    assert len(stored_rows(rpc.settings.data_dir)) == total


def test_a_bad_batch_ends_the_stream_after_the_acked_ones(
    rpc: RpcServer, channel: grpc.Channel
) -> None:
    stub = ingest_pb2_grpc.IngestServiceStub(channel)
    batches = [
        stream_batch(1, "a"),
        ingest_pb2.IngestStreamRequest(sequence=2),  # no events: a bad batch
        stream_batch(3, "c"),
    ]
    acks = []
    with pytest.raises(grpc.RpcError) as info:
        for ack in stub.IngestStream(iter(batches), metadata=rpc.metadata):
            acks.append(ack.sequence)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert acks == [1]
    assert [row[2] for row in stored_rows(rpc.settings.data_dir)] == ["a"]


def test_a_store_outage_ends_the_stream_without_an_ack(
    rpc: RpcServer, channel: grpc.Channel
) -> None:
    stub = ingest_pb2_grpc.IngestServiceStub(channel)
    first = list(stub.IngestStream(iter([stream_batch(1, "before")]), metadata=rpc.metadata))
    assert [ack.sequence for ack in first] == [1]
    rpc.run(fill_disk(rpc.store))
    try:
        acks = []
        with pytest.raises(grpc.RpcError) as info:
            batches = [stream_batch(2, "during", pad=100_000), stream_batch(3, "later")]
            for ack in stub.IngestStream(iter(batches), metadata=rpc.metadata):
                acks.append(ack.sequence)
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
        assert acks == []
    finally:
        rpc.run(free_disk(rpc.store))
    # Resending the unacked batches on a new stream stores each event once.
    resent = [stream_batch(2, "during", pad=100_000), stream_batch(3, "later")]
    acks = list(stub.IngestStream(iter(resent), metadata=rpc.metadata))
    assert [(ack.sequence, ack.accepted) for ack in acks] == [(2, 1), (3, 1)]
    assert sorted(row[2] for row in stored_rows(rpc.settings.data_dir)) == [
        "before",
        "during",
        "later",
    ]


def test_each_batch_counts_against_the_keys_rate_limit(data_dir: Path) -> None:
    """A stream is no way around the limit: batch n is the n-th request, as n unary calls."""
    rpc = RpcServer(data_dir, rate_limit=2).start()  # a burst of 2, then one per 0.5 s
    try:
        with grpc.insecure_channel(rpc.target) as channel:
            stub = ingest_pb2_grpc.IngestServiceStub(channel)
            batches = [stream_batch(s, f"r{s}") for s in range(1, 6)]
            acks = []
            with pytest.raises(grpc.RpcError) as info:
                for ack in stub.IngestStream(iter(batches), metadata=rpc.metadata):
                    acks.append(ack.sequence)
    finally:
        rpc.close()
    assert acks == [1, 2]
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert int(dict(info.value.trailing_metadata() or ())["retry-after-ms"]) >= 1
    assert sorted(row[2] for row in stored_rows(data_dir)) == ["r1", "r2"]
