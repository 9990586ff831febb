"""Slow and lying clients against a real server: deadlines close them, nothing is stored."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ServerProcess, stored_rows

pytestmark = pytest.mark.slow

EVENT = {"name": "n", "timestamp": "2024-01-01T00:00:00Z", "customerAlias": "c", "ref": "r1"}


@pytest.fixture
def strict_server(data_dir: Path) -> Iterator[ServerProcess]:
    proc = ServerProcess(
        data_dir, env={"SLUICE_HEADER_TIMEOUT_SECONDS": "1", "SLUICE_BODY_TIMEOUT_SECONDS": "1"}
    ).start()
    try:
        yield proc
    finally:
        proc.kill9()


def connect(server: ServerProcess) -> socket.socket:
    host, port = server.http_url.removeprefix("http://").rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=10)
    return sock


def read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_dribbled_headers_are_cut_off(strict_server: ServerProcess) -> None:
    sock = connect(strict_server)
    started = time.monotonic()
    sock.sendall(b"POST /events HTTP/1.1\r\nHost: x\r\n")
    with pytest.raises(OSError):  # the server closes the socket under us
        for _ in range(20):
            sock.sendall(b"X-Slow: 1\r\n")
            time.sleep(0.25)
            if sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b"":
                raise ConnectionResetError("closed by the server")
    assert time.monotonic() - started < 4


def test_dribbled_body_gets_408(strict_server: ServerProcess, data_dir: Path) -> None:
    token = strict_server.bootstrap_key
    body = json.dumps({"events": [EVENT]}).encode()
    sock = connect(strict_server)
    sock.sendall(
        b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {token}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body[:10]
    )
    time.sleep(1.5)  # past the 1 s body deadline: the answer is already on its way
    response = read_all(sock)
    assert response.startswith(b"HTTP/1.1 408"), response[:200]
    assert b"request_timeout" in response
    assert b"did not arrive within 1 s" in response  # says which deadline passed
    assert stored_rows(data_dir) == []


def test_a_body_longer_than_its_content_length(
    strict_server: ServerProcess, data_dir: Path
) -> None:
    token = strict_server.bootstrap_key
    body = json.dumps({"events": [EVENT]}).encode()
    sock = connect(strict_server)
    sock.sendall(
        b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {token}\r\nContent-Length: 10\r\n\r\n".encode()
        + body
    )
    sock.shutdown(socket.SHUT_WR)
    response = read_all(sock)
    # Only the declared 10 bytes are the body: not JSON. The rest is not a request either.
    assert response.startswith(b"HTTP/1.1 400"), response[:200]
    assert b"invalid_json" in response
    assert stored_rows(data_dir) == []


def test_a_100_kb_authorization_header_gets_a_401_in_shape(strict_server: ServerProcess) -> None:
    sock = connect(strict_server)
    sock.sendall(
        b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + b"Authorization: Bearer "
        + b"a" * 100_000
        + b"\r\nContent-Length: 2\r\n"
        + b"Connection: close\r\n\r\n{}"
    )
    response = read_all(sock)
    assert response.startswith(b"HTTP/1.1 401"), response[:200]
    assert b"authentication_failed" in response
