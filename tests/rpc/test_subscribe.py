"""EventService.Subscribe: the log from an offset, then a live tail that commits wake up."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import grpc
import pytest

from sluice.storage import Store
from sluice.storage.sqlite import SqliteStore
from sluice.v1 import events_pb2, events_pb2_grpc, ingest_pb2, ingest_pb2_grpc
from tests.rpc.conftest import RpcServer
from tests.scaleout.engines import fresh_schema, require_postgres
from tests.storage.conftest import event_row
from tests.test_server import grpc_event

Metadata = tuple[tuple[str, str], ...]


def ingest(
    rpc: RpcServer, channel: grpc.Channel, *ids: str, metadata: Metadata | None = None
) -> None:
    stub = ingest_pb2_grpc.IngestServiceStub(channel)
    request = ingest_pb2.IngestRequest(events=[grpc_event(id_) for id_ in ids])
    assert stub.Ingest(request, metadata=metadata or rpc.metadata).accepted


def subscribe(
    rpc: RpcServer, channel: grpc.Channel, after: int = 0, metadata: Metadata | None = None
) -> grpc.CallIterator[events_pb2.SubscribeResponse]:
    stub = events_pb2_grpc.EventServiceStub(channel)
    request = events_pb2.SubscribeRequest(after_offset=after)
    return stub.Subscribe(request, metadata=metadata or rpc.metadata, timeout=20)


def test_resuming_from_the_last_offset_skips_and_repeats_nothing(
    rpc: RpcServer, channel: grpc.Channel
) -> None:
    ingest(rpc, channel, *(f"old-{i}" for i in range(50)))  # history before anyone subscribed
    expected = {f"old-{i}" for i in range(50)}
    batches = [[f"live-{b}-{i}" for i in range(5)] for b in range(60)]
    expected |= {id_ for batch in batches for id_ in batch}

    def produce() -> None:
        for batch in batches:
            ingest(rpc, channel, *batch)
            time.sleep(0.003)

    producer = threading.Thread(target=produce)
    producer.start()
    received: list[tuple[int, str]] = []
    last = 0
    reconnected_while_producing = False
    # Disconnect three times at different points while events keep arriving.
    for stop_after in (40, 90, 120, len(expected)):
        call = subscribe(rpc, channel, after=last)
        for taken, response in enumerate(call, start=1):
            received.append((response.event.offset, response.event.id))
            last = response.event.offset
            if taken == stop_after or len(received) == len(expected):
                break
        call.cancel()
        if len(received) == len(expected):
            break
        reconnected_while_producing |= producer.is_alive()
    producer.join(timeout=20)
    assert reconnected_while_producing

    offsets = [offset for offset, _id in received]
    assert offsets == sorted(set(offsets)), "an event was repeated or came out of order"
    assert [id_ for _offset, id_ in received[:50]] == [f"old-{i}" for i in range(50)]
    assert {id_ for _offset, id_ in received} == expected


def test_a_commit_wakes_a_subscriber_at_once(rpc: RpcServer, channel: grpc.Channel) -> None:
    rpc.gateway.events.poll_seconds = 30  # only a wake-up can deliver within the test
    ingest(rpc, channel, "before")
    call = subscribe(rpc, channel)
    responses = iter(call)
    assert next(responses).event.id == "before"
    latencies = []
    for i in range(3):
        time.sleep(0.05)  # let the subscriber go back to waiting
        started = time.monotonic()
        ingest(rpc, channel, f"new-{i}")
        assert next(responses).event.id == f"new-{i}"
        latencies.append(time.monotonic() - started)
    call.cancel()
    assert max(latencies) < 0.5, latencies


def test_events_written_by_another_process_arrive_by_the_fallback_read(
    rpc: RpcServer, channel: grpc.Channel
) -> None:
    rpc.gateway.events.poll_seconds = 0.1
    call = subscribe(rpc, channel)

    async def write_elsewhere() -> None:
        other = SqliteStore(rpc.store.path)  # a second instance on the same database
        await other.open()
        try:
            await other.append("acme", "grpc", 1, [event_row(0, "elsewhere")])
        finally:
            await other.close()

    asyncio.run(write_elsewhere())
    assert next(iter(call)).event.id == "elsewhere"
    call.cancel()


def test_deleted_events_and_other_tenants_are_not_streamed(
    rpc: RpcServer, channel: grpc.Channel
) -> None:
    ingest(rpc, channel, "kept", "gone", "also-kept")
    stub = events_pb2_grpc.EventServiceStub(channel)
    stub.DeleteEvents(events_pb2.DeleteEventsRequest(ids=["gone"]), metadata=rpc.metadata)
    call = subscribe(rpc, channel)
    responses = iter(call)
    assert [next(responses).event.id for _ in range(2)] == ["kept", "also-kept"]
    call.cancel()
    globex = rpc.key_for("globex")
    globex_call = subscribe(rpc, channel, metadata=globex)
    ingest(rpc, channel, "theirs", metadata=globex)
    assert next(iter(globex_call)).event.id == "theirs"  # acme's log was not streamed first
    globex_call.cancel()


def test_a_stopping_server_ends_subscriptions_with_unavailable(
    rpc: RpcServer, channel: grpc.Channel
) -> None:
    ingest(rpc, channel, "only")
    call = subscribe(rpc, channel)
    responses = iter(call)
    assert next(responses).event.offset == 1
    started = time.monotonic()
    rpc.shutdown()
    with pytest.raises(grpc.RpcError) as info:
        next(responses)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "last offset" in (info.value.details() or "")
    assert time.monotonic() - started < 2  # not held for the 5 s grace period


@pytest.fixture(params=["sqlite", "postgresql"])
def rpc_on_each_store(request: pytest.FixtureRequest, data_dir: Path) -> Iterator[RpcServer]:
    with ExitStack() as stack:
        store: Store | None = None
        if request.param == "postgresql":
            require_postgres()
            from sluice.storage.postgres import PostgresStore

            store = PostgresStore(stack.enter_context(fresh_schema()))
        server = RpcServer(data_dir, store=store).start()
        stack.callback(server.close)
        yield server


def test_each_tenant_subscribes_to_its_own_gap_free_offsets(
    rpc_on_each_store: RpcServer,
) -> None:
    """Two tenants ingesting in turn each read offsets 1..n, and resume from any of them."""
    rpc = rpc_on_each_store
    tenants = {"acme": rpc.metadata, "globex": rpc.key_for("globex")}
    with grpc.insecure_channel(rpc.target) as channel:
        for turn in range(5):
            for tenant, metadata in tenants.items():
                ingest(rpc, channel, *(f"{tenant}-{turn}-{i}" for i in range(3)), metadata=metadata)
        for tenant, metadata in tenants.items():
            expected = [(n, f"{tenant}-{(n - 1) // 3}-{(n - 1) % 3}") for n in range(1, 16)]
            for after in (0, 7):
                call = subscribe(rpc, channel, after=after, metadata=metadata)
                got = [(r.event.offset, r.event.id) for r in itertools.islice(call, 15 - after)]
                call.cancel()
                assert got == expected[after:]
