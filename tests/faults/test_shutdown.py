"""SIGTERM with requests in flight: they finish and are acknowledged, their commits are in the
store, nothing new is taken in meanwhile, and the process exits 0."""

from __future__ import annotations

import signal
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import httpx
import pytest

from sluice.v1 import ingest_pb2, ingest_pb2_grpc
from tests.conftest import ServerProcess, mint_key
from tests.faults.conftest import Ledger, assert_store_holds, authorized
from tests.test_server import grpc_event

pytestmark = pytest.mark.slow

IN_FLIGHT = 6  # HTTP requests held at the store when SIGTERM arrives


def test_sigterm_finishes_in_flight_requests_then_exits_0(data_dir: Path) -> None:
    token = mint_key(data_dir)
    server = ServerProcess(data_dir).start()
    assert server.proc is not None
    ledger = Ledger()
    # The write lock, held by another process, keeps every request waiting on the store (the
    # server's busy timeout is 2 s), so they are surely in flight when the signal comes.
    holder = sqlite3.connect(data_dir / "sluice.db", isolation_level=None)
    try:
        with ThreadPoolExecutor(IN_FLIGHT + 1) as pool:
            clients = [authorized(server.http_url, token) for _ in range(IN_FLIGHT)]
            for client in clients:  # connect and authenticate before the lock is taken
                assert ledger.send(client, [f"warm-{id(client)}"]).status_code == 200
            holder.execute("BEGIN EXCLUSIVE")
            requests = [
                pool.submit(ledger.send, client, [f"r{n}-{i}" for i in range(20)])
                for n, client in enumerate(clients)
            ]
            with grpc.insecure_channel(server.grpc_target) as channel:
                grpc_call = pool.submit(
                    ingest_pb2_grpc.IngestServiceStub(channel).Ingest,
                    ingest_pb2.IngestRequest(events=[grpc_event("grpc-in-flight")]),
                    metadata=(("authorization", f"Bearer {token}"),),
                    timeout=10,
                )
                time.sleep(0.4)
                server.proc.send_signal(signal.SIGTERM)
                time.sleep(0.4)
                # Draining: nothing new is taken in, over HTTP or on the open gRPC channel.
                with pytest.raises(httpx.TransportError):
                    httpx.post(f"{server.http_url}/events", json={"events": []}, timeout=2)
                with pytest.raises(grpc.RpcError) as refused:
                    ingest_pb2_grpc.IngestServiceStub(channel).Ingest(
                        ingest_pb2.IngestRequest(events=[grpc_event("grpc-too-late")]),
                        metadata=(("authorization", f"Bearer {token}"),),
                        timeout=2,
                    )
                assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
                holder.execute("ROLLBACK")  # the store takes writes again: commits go through
                responses = [request.result(timeout=10) for request in requests]
                assert grpc_call.result(timeout=10).accepted == 1
            for client in clients:
                client.close()
        assert server.proc.wait(timeout=15) == 0
    finally:
        holder.close()
        if server.proc.poll() is None:
            server.kill9()
    assert [r.status_code if r is not None else None for r in responses] == [200] * IN_FLIGHT
    assert len(ledger.acked) == IN_FLIGHT * 21 and not ledger.refused
    assert_store_holds(data_dir, ledger, "after SIGTERM")
