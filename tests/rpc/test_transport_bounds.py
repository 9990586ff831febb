"""gRPC transport bounds on a real `sluice serve`: idle sockets that never send the HTTP/2
preface are closed and cannot starve either port, and a rapid-reset flood on one connection
ends in a close within the connection's age, its memory bounded."""

from __future__ import annotations

import resource
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import h2.config
import h2.connection
import httpx
import pytest

from sluice.v1 import ingest_pb2, ingest_pb2_grpc
from tests.conftest import ServerProcess
from tests.test_server import grpc_event

pytestmark = pytest.mark.slow

IDLE_SOCKETS = 2000
# Longer than the clients below wait, so that only the raised open-file limit lets them in.
HANDSHAKE_TIMEOUT = 6.0
MAX_AGE = 3.0
AGE_GRACE = 1.0


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.fixture
def bounded(data_dir: Path) -> Iterator[ServerProcess]:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < IDLE_SOCKETS + 500:
        pytest.skip(f"the hard open-file limit ({hard}) is below what the test holds")
    # This process holds the idle sockets too: its own soft limit must allow them.
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    env = {
        "SLUICE_GRPC_HANDSHAKE_TIMEOUT_SECONDS": str(HANDSHAKE_TIMEOUT),
        "SLUICE_GRPC_MAX_CONNECTION_AGE_SECONDS": str(MAX_AGE),
        "SLUICE_GRPC_MAX_CONNECTION_AGE_GRACE_SECONDS": str(AGE_GRACE),
    }
    # Started under the usual soft limit of 1024 open files, which the server must raise.
    server = ServerProcess(data_dir, env=env, open_files=1024).start()
    try:
        yield server
    finally:
        server.stop()


def closed_by_peer(sock: socket.socket, deadline: float) -> bool:
    """Read (the server's own settings frame, then nothing) until the peer closes or the
    deadline passes."""
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            if sock.recv(4096) == b"":
                return True
        except TimeoutError:
            return False
        except ConnectionResetError:
            return True
    return False


def ingest_one(server: ServerProcess, id_: str) -> int:
    with grpc.insecure_channel(server.grpc_target) as channel:
        stub = ingest_pb2_grpc.IngestServiceStub(channel)
        request = ingest_pb2.IngestRequest(events=[grpc_event(id_)])
        metadata = (("authorization", f"Bearer {server.bootstrap_key}"),)
        return stub.Ingest(request, metadata=metadata, timeout=2).accepted  # type: ignore[no-any-return]


def test_idle_sockets_neither_starve_the_ports_nor_stay(bounded: ServerProcess) -> None:
    host, port = bounded.grpc_target.rsplit(":", 1)
    idle = [socket.create_connection((host, int(port)), timeout=5) for _ in range(IDLE_SOCKETS)]
    opened = time.monotonic()
    try:
        # Both protocols keep answering new clients while every idle socket is held.
        assert httpx.get(f"{bounded.http_url}/healthz", timeout=2).status_code == 200
        assert ingest_one(bounded, "while-idle") == 1
        # The server closes each idle socket after the handshake timeout.
        for sock in idle:
            assert closed_by_peer(sock, opened + HANDSHAKE_TIMEOUT + 5), "an idle socket stayed"
        assert time.monotonic() - opened < HANDSHAKE_TIMEOUT + 5
    finally:
        for sock in idle:
            sock.close()


def test_a_rapid_reset_flood_is_cut_off_with_its_connection(bounded: ServerProcess) -> None:
    host, port = bounded.grpc_target.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=5)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    headers = [
        (":method", "POST"),
        (":scheme", "http"),
        (":path", "/sluice.v1.EventService/Subscribe"),
        (":authority", "sluice"),
        ("content-type", "application/grpc"),
        ("te", "trailers"),
        ("authorization", f"Bearer {bounded.bootstrap_key}"),
    ]
    before = rss_mib(bounded.pid)
    started = time.monotonic()
    streams = 0
    cut_off = False
    try:
        while time.monotonic() - started < MAX_AGE + AGE_GRACE + 10:
            for _ in range(100):  # open and at once reset, never reading an answer
                stream_id = conn.get_next_available_stream_id()
                conn.send_headers(stream_id, headers)
                conn.reset_stream(stream_id)
                streams += 1
            sock.sendall(conn.data_to_send())
    except (BrokenPipeError, ConnectionResetError):
        cut_off = True
    finally:
        sock.close()
    lasted = time.monotonic() - started
    assert cut_off, f"{streams} streams opened and reset, the connection still open"
    assert lasted < MAX_AGE + AGE_GRACE + 3, lasted
    assert rss_mib(bounded.pid) - before < 150, (before, rss_mib(bounded.pid), streams)
    # The server is unharmed: once it has worked off the streams already read (a call caught
    # by the age of its own connection ends CANCELLED and is retried), new clients are served.
    deadline = time.monotonic() + 20
    while True:
        try:
            assert ingest_one(bounded, "after-flood") in (0, 1)
            break
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.CANCELLED or time.monotonic() > deadline:
                raise
