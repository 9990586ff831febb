"""HTTP/1.1 message framing by RFC 9112, against a real server over raw sockets: a request whose
body length is ambiguous is answered 400 and its connection closed, so none of its bytes can run
as a second request (request smuggling), and nothing is stored."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest

from tests.conftest import ServerProcess, stored_rows

pytestmark = pytest.mark.slow


def vayu_body(ref: str) -> bytes:
    event = {"name": "n", "timestamp": "2024-01-01T00:00:00Z", "customerAlias": "c", "ref": ref}
    return json.dumps({"events": [event]}).encode()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("framing") / "data"
    proc = ServerProcess(data_dir).start()
    try:
        yield proc
    finally:
        proc.kill9()


def request(token: str, framing: bytes, body: bytes) -> bytes:
    """A POST /events head with the given framing header lines, then `body` as sent."""
    return (
        b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {token}\r\n".encode()
        + framing
        + b"\r\n"
        + body
    )


def exchange(server: ServerProcess, data: bytes) -> tuple[bytes, bool]:
    """Send data; everything the server answers within 5 s, and whether it closed the
    connection."""
    host, port = server.http_url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(data)
        received = b""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                return received, True
            received += chunk
        return received, False


def smuggled(token: str, ref: str) -> bytes:
    """A whole second request, hidden where a parser that reads the framing the other way
    would take it for the next request on the connection."""
    body = vayu_body(ref)
    return request(token, f"Content-Length: {len(body)}\r\n".encode(), body)


def cases(token: str) -> dict[str, bytes]:
    hidden = b"0\r\n\r\n" + smuggled(token, "smuggled-cl-te")
    hidden_te_cl = b"0\r\n\r\n" + smuggled(token, "smuggled-te-cl")
    body = vayu_body("two-lengths")
    folded = vayu_body("folded")
    return {
        "content-length and chunked": request(
            token,
            f"Content-Length: {len(hidden)}\r\nTransfer-Encoding: chunked\r\n".encode(),
            hidden,
        ),
        "chunked and content-length": request(
            token,
            f"Transfer-Encoding: chunked\r\nContent-Length: {len(hidden_te_cl)}\r\n".encode(),
            hidden_te_cl,
        ),
        "two differing content-lengths": request(
            token,
            f"Content-Length: {len(body)}\r\nContent-Length: 5\r\n".encode(),
            body,
        ),
        "gzip, chunked": request(
            token, b"Transfer-Encoding: gzip, chunked\r\n", b"0\r\n\r\n" + smuggled(token, "gz")
        ),
        "an unknown coding": request(token, b"Transfer-Encoding: identity\r\n", body),
        "chunked twice": request(
            token, b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n"
        ),
        "a chunk size that is not hex": request(
            token, b"Transfer-Encoding: chunked\r\n", b"zz\r\n" + body + b"\r\n0\r\n\r\n"
        ),
        "a signed chunk size": request(
            token,
            b"Transfer-Encoding: chunked\r\n",
            f"+{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n",
        ),
        "a chunk longer than its size": request(
            token,
            b"Transfer-Encoding: chunked\r\n",
            b"2\r\n" + body + b"\r\n0\r\n\r\n",
        ),
        "an obs-fold header": request(
            token,
            f"Content-Length: {len(folded)}\r\nX-Folded: a\r\n b\r\n".encode(),
            folded,
        ),
        "a content-length that is not digits": request(
            token, f"Content-Length: +{len(body)}\r\n".encode(), body
        ),
        "headers over 256 KiB": request(
            token,
            b"".join(f"X-Pad-{i}: {'p' * 1000}\r\n".encode() for i in range(300)),
            body,
        ),
    }


CASES = list(cases("token"))


@pytest.mark.parametrize("case", CASES)
def test_ambiguous_framing_is_400_and_closes_the_connection(
    server: ServerProcess, case: str
) -> None:
    before = stored_rows(server.data_dir)
    assert server.bootstrap_key is not None
    response, closed = exchange(server, cases(server.bootstrap_key)[case])
    assert response.startswith(b"HTTP/1.1 400 "), response[:200]
    assert response.count(b"HTTP/1.1 ") == 1, response  # nothing ran as a second request
    assert closed
    assert stored_rows(server.data_dir) == before


def test_plain_chunked_and_pipelined_requests_are_still_served(server: ServerProcess) -> None:
    assert server.bootstrap_key is not None
    first, second = vayu_body("chunked-ok"), vayu_body("pipelined-ok")
    chunked = request(
        server.bootstrap_key,
        b"Transfer-Encoding: chunked\r\n",
        f"{len(first):x}\r\n".encode() + first + b"\r\n0\r\n\r\n",
    )
    pipelined = request(
        server.bootstrap_key,
        f"Content-Length: {len(second)}\r\nConnection: close\r\n".encode(),
        second,
    )
    response, closed = exchange(server, chunked + pipelined)
    assert response.count(b"HTTP/1.1 200 ") == 2, response
    assert closed
    ids = {row[2] for row in stored_rows(server.data_dir)}
    assert {"chunked-ok", "pipelined-ok"} <= ids
