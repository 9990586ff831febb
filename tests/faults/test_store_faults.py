"""A real server on a store that fails under it: a full disk, a lock held by another process.

Each answers 503 + Retry-After in the dialect's shape (gRPC UNAVAILABLE), acknowledges
nothing it did not store, stays alive, and recovers by itself once the fault is gone.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import grpc
import httpx
import pytest

from sluice.v1 import ingest_pb2, ingest_pb2_grpc
from tests.conftest import ServerProcess, mint_key
from tests.faults.conftest import Ledger, assert_store_holds, authorized, fill
from tests.test_server import grpc_event

pytestmark = pytest.mark.slow

# Generous against a loaded 2-core machine; the server's own bound is the 2 s busy timeout.
LOCKED_ANSWER_SECONDS = 3.0


def assert_unavailable(response: httpx.Response) -> None:
    """503 with a Retry-After, in Vayu's error object."""
    assert response.status_code == 503, response.text
    assert int(response.headers["Retry-After"]) >= 1
    body = response.json()
    assert (body["type"], body["code"]) == ("api_error", "service_unavailable"), body


def refused_while_full(refused: Callable[[int], bool], what: str) -> None:
    """Writes to a full disk are refused, in the dialect's shape. A checkpoint that ran just
    before the disk filled may have made WAL space reusable, so a write can still land (it is
    then stored like any acknowledged write); a few more use that space up and are refused.
    `refused(n)` makes write n and says whether it was refused (asserting the refusal)."""
    for attempt in range(300):
        if refused(attempt):
            return
    raise AssertionError(f"{what}: a full disk never refused a write")


def collect_refused(client: httpx.Client, event_id: str) -> bool:
    """The collect dialect's own shape for the same outage."""
    event = {"eventType": "page_view", "eventId": event_id, "properties": {"pad": "x" * 4000}}
    response = client.post("/collect/event", json={"messageBody": [event]})
    if response.status_code == 201:
        return False
    assert response.status_code == 503, response.text
    assert int(response.headers["Retry-After"]) >= 1
    assert response.json()["statusCode"] == 503
    return True


def grpc_refused(target: str, token: str, event_id: str) -> bool:
    with grpc.insecure_channel(target) as channel:
        stub = ingest_pb2_grpc.IngestServiceStub(channel)
        try:
            stub.Ingest(
                ingest_pb2.IngestRequest(events=[grpc_event(event_id, data={"pad": "x" * 4000})]),
                metadata=(("authorization", f"Bearer {token}"),),
                timeout=10,
            )
        except grpc.RpcError as failed:
            assert failed.code() == grpc.StatusCode.UNAVAILABLE, failed
            return True
    return False


def test_a_full_disk_answers_503_stays_up_and_recovers_alone(small_disk: Path) -> None:
    token = mint_key(small_disk)
    server = ServerProcess(small_disk).start()
    ledger = Ledger()
    try:
        with authorized(server.http_url, token) as client:
            assert ledger.send(client, ["before-1"]).status_code == 200
            filler = fill(small_disk)

            # Some batches may still fit in the WAL's existing pages; soon one cannot.
            refused_batch: list[str] = []
            for attempt in range(100):
                refs = [f"full-{attempt}-{i}" for i in range(10)]
                response = ledger.send(client, refs, pad=4000)
                assert response is not None
                if response.status_code != 200:
                    assert_unavailable(response)
                    refused_batch = refs
                    break
            assert refused_batch, f"a full disk never refused a write: {ledger.statuses}"

            # While full, each dialect's writes are refused in its own shape; the process lives.
            def vayu_refused(n: int) -> bool:
                response = ledger.send(client, [f"full-more-{n}"], pad=4000)
                assert response is not None
                if response.status_code == 200:
                    return False
                assert_unavailable(response)
                return True

            refused_while_full(vayu_refused, "vayu")
            refused_while_full(lambda n: collect_refused(client, f"full-collect-{n}"), "collect")
            refused_while_full(
                lambda n: grpc_refused(server.grpc_target, token, f"full-grpc-{n}"), "grpc"
            )
            assert httpx.get(f"{server.http_url}/healthz").status_code == 200
            assert client.get("/readyz").status_code in (200, 503)  # reads still work

            filler.unlink()  # space returns; no restart
            ledger.forget_refused(refused_batch)
            deadline = time.monotonic() + 10
            while True:
                response = ledger.send(client, refused_batch, pad=4000)
                assert response is not None
                if response.status_code == 200 or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            # The refused events were never claimed: all accepted now, none a "duplicate".
            assert sorted(e["ref"] for e in response.json()["validEvents"]) == sorted(refused_batch)
            assert client.get("/readyz").status_code == 200
    finally:
        server.kill9()
    assert_store_holds(small_disk, ledger, "after a full disk")


def test_a_failed_fsync_is_never_acknowledged(data_dir: Path, failing_fsync: Path) -> None:
    """fsync/fdatasync fail with EIO in the server process (LD_PRELOAD), as on a disk error."""
    token = mint_key(data_dir)
    flag = data_dir.parent / "fsync-fails"
    env = {"LD_PRELOAD": str(failing_fsync), "SLUICE_FAULT_FSYNC_FLAG": str(flag)}
    server = ServerProcess(data_dir, env=env).start()
    ledger = Ledger()
    try:
        with authorized(server.http_url, token) as client:
            assert ledger.send(client, ["synced-1"]).status_code == 200
            flag.touch()
            refused = [f"unsynced-{i}" for i in range(5)]
            for ref in refused:
                assert_unavailable(ledger.send(client, [ref]))
            assert httpx.get(f"{server.http_url}/healthz").status_code == 200
            flag.unlink()
            # The disk works again: the same refs are accepted (no key was left claimed).
            ledger.forget_refused(refused)
            assert ledger.send(client, refused).status_code == 200
            assert ledger.send(client, ["synced-2"]).status_code == 200
    finally:
        server.kill9()
    assert ledger.acked == {"synced-1", "synced-2", *refused}
    assert_store_holds(data_dir, ledger, "after failed fsyncs")


def test_a_store_locked_by_another_process_answers_503_within_the_bound(data_dir: Path) -> None:
    token = mint_key(data_dir)
    server = ServerProcess(data_dir).start()
    ledger = Ledger()
    holder = sqlite3.connect(data_dir / "sluice.db", isolation_level=None)
    try:
        with authorized(server.http_url, token) as client:
            assert ledger.send(client, ["unlocked-1"]).status_code == 200
            assert client.get("/readyz").status_code == 200

            holder.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
            # Readiness sees the lock before any write has failed on it (WAL readers do not).
            started = time.monotonic()
            assert client.get("/readyz").status_code == 503
            assert time.monotonic() - started <= LOCKED_ANSWER_SECONDS
            for attempt in range(2):
                started = time.monotonic()
                response = ledger.send(client, [f"locked-{attempt}"])
                took = time.monotonic() - started
                assert response is not None
                assert_unavailable(response)
                assert took <= LOCKED_ANSWER_SECONDS, f"503 took {took:.2f} s"
            started = time.monotonic()
            assert grpc_refused(server.grpc_target, token, "locked-grpc")
            assert time.monotonic() - started <= LOCKED_ANSWER_SECONDS
            started = time.monotonic()
            assert httpx.get(f"{server.http_url}/healthz").status_code == 200
            assert time.monotonic() - started < 1.0  # liveness never waits on the store

            holder.execute("ROLLBACK")  # the lock is released; no restart
            assert ledger.send(client, ["unlocked-2"]).status_code == 200
            assert client.get("/readyz").status_code == 200
    finally:
        holder.close()
        server.kill9()
    assert ledger.acked == {"unlocked-1", "unlocked-2"}
    assert_store_holds(data_dir, ledger, "after a lock")
