"""sluice.client against a real server: batching, retries on real failures, close() flushes."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import grpc
import pytest

from sluice.client import (
    AsyncSluiceClient,
    DeliveryFailed,
    Event,
    IngestReport,
    RetryPolicy,
    SluiceClient,
)
from sluice.v1 import events_pb2, events_pb2_grpc
from tests.conftest import stored_rows
from tests.rpc.conftest import RpcServer
from tests.storage.test_sqlite import fill_disk, free_disk

T = TypeVar("T")
QUICK = RetryPolicy(max_attempts=8, initial_backoff=0.02, max_backoff=0.2)
# Enough attempts to outlast a server restart, whatever the jitter draws.
PATIENT = RetryPolicy(max_attempts=30, initial_backoff=0.05, max_backoff=0.5)
# Reconnect soon after a restarted server is back (grpc's own default waits about a second).
FAST_RECONNECT = (("grpc.initial_reconnect_backoff_ms", 50), ("grpc.max_reconnect_backoff_ms", 200))


def event(n: int, pad: int = 0) -> Event:
    return Event(name="api_call", customer_id="c1", data={"n": n, "pad": "x" * pad})


def client(rpc: RpcServer, **options: object) -> SluiceClient:
    return SluiceClient(rpc.target, rpc.key, **options)  # type: ignore[arg-type]


def batches(rpc: RpcServer) -> list[int]:
    """Events per stored request, in order (each request has its own received_at)."""
    sql = "SELECT count(*) FROM events GROUP BY received_at ORDER BY received_at"
    return [row[0] for row in stored_rows(rpc.settings.data_dir, sql)]


def meanwhile(work: Callable[[], T], then: Callable[[], object], after: float) -> T:
    """Run work in a thread; after `after` seconds run `then` here; return work's result."""
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(work)
        time.sleep(after)
        then()
        return future.result(timeout=30)


def test_single_events_are_batched_by_count_and_close_flushes_the_rest(rpc: RpcServer) -> None:
    with client(rpc, max_batch_events=100, linger=30) as sluice:
        ids = [sluice.send(event(n)) for n in range(250)]
        assert batches(rpc) == [100, 100]  # full batches go at once; 50 wait for linger
    assert batches(rpc) == [100, 100, 50]
    assert len(set(ids)) == 250 and all(uuid.UUID(id_).version == 4 for id_ in ids)


def test_a_batch_never_exceeds_the_byte_limit(rpc: RpcServer) -> None:
    with client(rpc, max_batch_bytes=50_000, linger=30) as sluice:
        for n in range(12):
            sluice.send(event(n, pad=10_000))
    assert batches(rpc) == [4, 4, 4]


def test_a_lone_event_goes_after_the_linger_time(rpc: RpcServer) -> None:
    with grpc.insecure_channel(rpc.target) as channel:
        stub = events_pb2_grpc.EventServiceStub(channel)
        tail = stub.Subscribe(events_pb2.SubscribeRequest(), metadata=rpc.metadata, timeout=10)
        with client(rpc, linger=0.05) as sluice:
            sent = time.monotonic()
            id_ = sluice.send(event(1))
            assert next(iter(tail)).event.id == id_  # committed without flush() or close()
            assert time.monotonic() - sent < 1
            tail.cancel()


def test_unavailable_is_retried_after_the_servers_delay(rpc: RpcServer) -> None:
    rpc.run(fill_disk(rpc.store))  # every write fails: UNAVAILABLE, RetryInfo 1 s
    started = time.monotonic()
    with client(rpc, retry=QUICK) as sluice:
        report = meanwhile(
            lambda: sluice.ingest([event(1, pad=100_000)]),
            lambda: rpc.run(free_disk(rpc.store)),
            after=0.3,
        )
    assert report.accepted == 1 and report.attempts >= 2
    assert time.monotonic() - started >= 1.0  # the server's delay, not QUICK's 0.02 s


def test_a_restarted_server_gets_the_batch_once(rpc: RpcServer) -> None:
    rpc.stop_grpc()
    with client(rpc, retry=PATIENT, channel_options=FAST_RECONNECT) as sluice:
        report = meanwhile(
            lambda: sluice.ingest([event(n) for n in range(10)]), rpc.start_grpc, after=0.3
        )
    assert report.accepted == 10 and report.attempts >= 2
    assert len(stored_rows(rpc.settings.data_dir)) == 10


def test_retries_reuse_the_ids_so_a_slow_commit_is_stored_once(rpc: RpcServer) -> None:
    """The first attempt times out while its commit is still queued behind a busy writer; the
    commit then lands, and the retry finds the same ids already stored."""
    release = threading.Event()
    held = rpc.hold_writer(release)
    with client(rpc, retry=QUICK, timeout=0.2) as sluice:
        report: IngestReport = meanwhile(
            lambda: sluice.ingest([event(n) for n in range(20)]), release.set, after=0.5
        )
    held.result(timeout=5)
    assert report.attempts >= 2
    stored = {row[2] for row in stored_rows(rpc.settings.data_dir)}
    assert stored == set(report.ids) and len(stored) == 20
    assert report.accepted + len(report.rejected) == 20


def test_final_errors_are_not_retried(rpc: RpcServer) -> None:
    with client(rpc, retry=QUICK) as sluice:
        with pytest.raises(DeliveryFailed) as empty:
            sluice.ingest([])
        assert empty.value.code == grpc.StatusCode.INVALID_ARGUMENT
        with pytest.raises(DeliveryFailed) as too_big:  # the transport's size limit
            sluice.ingest([event(1, pad=1_100_000)])
        assert too_big.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert empty.value.attempts == too_big.value.attempts == 1


def test_a_rate_limit_is_retried_after_the_servers_delay(data_dir: Path) -> None:
    rpc = RpcServer(data_dir, rate_limit=1).start()
    try:
        with client(rpc, retry=QUICK) as sluice:
            assert sluice.ingest([event(1)]).attempts == 1
            started = time.monotonic()
            report = sluice.ingest([event(2)])
        assert report.accepted == 1 and report.attempts == 2
        assert time.monotonic() - started >= 0.5  # waited for the limiter, not 0.02 s
    finally:
        rpc.close()


def test_a_lingered_batch_that_fails_is_raised_by_the_next_call(rpc: RpcServer) -> None:
    rpc.stop_grpc()
    sluice = client(rpc, linger=0.01, retry=RetryPolicy(max_attempts=1))
    sluice.send(event(1))
    time.sleep(0.2)  # the lingered batch is tried and fails while the server is down
    with pytest.raises(DeliveryFailed) as info:
        sluice.flush()
    assert info.value.code == grpc.StatusCode.UNAVAILABLE
    rpc.start_grpc()
    with client(rpc, retry=PATIENT, channel_options=FAST_RECONNECT) as resend:
        assert resend.ingest(info.value.events).accepted == 1  # same ids, sent again
    sluice.close()
    assert len(stored_rows(rpc.settings.data_dir)) == 1


def test_the_asyncio_client_batches_retries_and_flushes_on_close(rpc: RpcServer) -> None:
    async def scenario() -> tuple[list[int], IngestReport]:
        async with AsyncSluiceClient(
            rpc.target, rpc.key, max_batch_events=100, linger=0.05, retry=QUICK
        ) as sluice:
            for n in range(150):
                await sluice.send(event(n))
            await asyncio.sleep(0.3)  # the last 50 go on their own after the linger time
            sent = batches(rpc)
            rpc.run(fill_disk(rpc.store))
            loop = asyncio.get_running_loop()
            loop.call_later(0.3, lambda: rpc.submit(free_disk(rpc.store)))
            report = await sluice.ingest([event(n, pad=100_000) for n in range(2)])
            for n in range(3):
                await sluice.send(event(1000 + n))  # still batched when close() is called
        return sent, report

    sent, report = asyncio.run(scenario())
    assert sent == [100, 50]
    assert report.accepted == 2 and report.attempts >= 2
    assert batches(rpc) == [100, 50, 2, 3]
