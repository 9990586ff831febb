"""A revoked key's open streams end, idle or not, within the bound new requests see: the key
cache's lifetime plus one re-check interval."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from sluice.access import revocation_delay
from sluice.api_keys import key_id_of
from sluice.v1 import ingest_pb2, ingest_pb2_grpc
from tests.rpc.conftest import RpcServer
from tests.rpc.test_subscribe import ingest, subscribe
from tests.test_server import grpc_event

KEY_CACHE_SECONDS = 0.5


def bound() -> float:
    """The bound `sluice keys revoke` promises, taken in each test (not once at import), so the
    tests check the function the CLI reports it with."""
    return revocation_delay(KEY_CACHE_SECONDS)


@pytest.fixture
def rpc(data_dir: Path) -> Iterator[RpcServer]:
    server = RpcServer(data_dir, key_cache_seconds=KEY_CACHE_SECONDS).start()
    try:
        yield server
    finally:
        server.close()


def revoke(rpc: RpcServer) -> float:
    """Revoke the server's key in its store; the monotonic time it was done."""
    key_id = key_id_of(rpc.key)
    assert rpc.run(rpc.store.revoke_api_key(key_id, time.time_ns() // 1000))
    return time.monotonic()


def ended_with(stream: Iterator[object]) -> tuple[grpc.StatusCode, float, int]:
    received = 0
    try:
        for _message in stream:
            received += 1
    except grpc.RpcError as error:
        return error.code(), time.monotonic(), received
    raise AssertionError("the stream ended without a status")


def test_a_subscribe_stream_ends_once_its_key_is_revoked(
    rpc: RpcServer, channel: grpc.Channel
) -> None:
    other = rpc.key_for("acme")  # a second key of the same tenant keeps producing
    stream = subscribe(rpc, channel)
    outcome: queue.Queue[tuple[grpc.StatusCode, float, int]] = queue.Queue()
    threading.Thread(target=lambda: outcome.put(ended_with(stream)), daemon=True).start()
    ingest(rpc, channel, "before", metadata=other)
    time.sleep(0.3)
    revoked_at = revoke(rpc)
    deadline = revoked_at + bound() + 3
    n = 0
    while outcome.empty() and time.monotonic() < deadline:
        n += 1
        ingest(rpc, channel, f"after-{n}", metadata=other)  # new events keep coming
        time.sleep(0.05)
    code, ended_at, received = outcome.get(timeout=5)
    assert code == grpc.StatusCode.UNAUTHENTICATED
    assert ended_at - revoked_at <= bound() + 0.5, ended_at - revoked_at
    assert received >= 1  # it was delivering before


def test_an_idle_subscribe_and_an_idle_ingest_stream_end_too(
    rpc: RpcServer, channel: grpc.Channel
) -> None:
    stream = subscribe(rpc, channel)
    release = threading.Event()

    def batches() -> Iterator[ingest_pb2.IngestStreamRequest]:
        yield ingest_pb2.IngestStreamRequest(events=[grpc_event("one")], sequence=1)
        release.wait(10)  # the producer goes quiet with the stream open

    stub = ingest_pb2_grpc.IngestServiceStub(channel)
    acks = stub.IngestStream(batches(), metadata=rpc.metadata, timeout=20)
    assert next(acks).sequence == 1
    revoked_at = revoke(rpc)
    for open_stream in (stream, acks):
        code, ended_at, _received = ended_with(open_stream)
        assert code == grpc.StatusCode.UNAUTHENTICATED
        assert ended_at - revoked_at <= bound() + 0.5
    release.set()
