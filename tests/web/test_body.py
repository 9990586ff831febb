"""Reading request bodies (web/body.py). The limit at its edge: a body of exactly the limit is
read, one byte more is 413, on every route that reads a body, whether the size is declared,
streamed, or gzip-decoded; gzip bombs; content types; how the ASGI messages end."""

from __future__ import annotations

import asyncio
import gzip
import struct
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Request
from litestar.testing import TestClient

from sluice.errors import PayloadTooLarge, RequestTimeout
from sluice.gateway import Gateway
from sluice.settings import Settings
from sluice.storage.sqlite import SqliteStore
from sluice.web.app import create_app
from sluice.web.body import BodyReader
from tests.conftest import ServerProcess, stored_rows

LIMIT = 262_144  # the documented default


def padded(head: bytes, tail: bytes, size: int) -> bytes:
    """`head + x… + tail`, exactly `size` bytes (the x's sit inside a JSON string)."""
    body = head + b"x" * (size - len(head) - len(tail)) + tail
    assert len(body) == size
    return body


def vayu_body(size: int, ref: str = "edge") -> bytes:
    head = (
        b'{"events":[{"name":"api_call","timestamp":"2024-01-01T00:00:00Z",'
        b'"customerAlias":"c1","ref":"' + ref.encode() + b'","data":{"blob":"'
    )
    return padded(head, b'"}}]}', size)


def collect_body(size: int) -> bytes:
    return padded(
        b'{"messageBody":[{"eventType":"page_view","properties":{"blob":"', b'"}}]}', size
    )


def customer_body(size: int) -> bytes:
    return padded(b'{"attributes":{"blob":"', b'"}}', size)


def login_body(token: str, size: int) -> bytes:
    """A valid login body padded with insignificant whitespace (the token must stay intact)."""
    head = b'{"refreshToken":"' + token.encode() + b'"'
    return head + b" " * (size - len(head) - 1) + b"}"


JSON = {"Content-Type": "application/json"}
GZIP = {**JSON, "Content-Encoding": "gzip"}


def chunked(body: bytes, size: int = 10_000) -> Iterator[bytes]:
    """The body as a stream of chunks: httpx sends it without a Content-Length."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


@pytest.fixture
def small_limit_client(data_dir: Path, token: str) -> Iterator[TestClient[Any]]:
    settings = Settings(data_dir=data_dir, max_body_bytes=2_000)
    gateway = Gateway(SqliteStore(data_dir / "sluice.db"), settings)
    with TestClient(create_app(gateway, own_gateway=True)) as test_client:
        test_client.headers["Authorization"] = f"Bearer {token}"
        yield test_client


def test_a_vayu_body_of_exactly_the_limit_is_accepted_and_one_more_byte_is_413(
    client: Any, data_dir: Path
) -> None:
    exact = client.post("/events", content=vayu_body(LIMIT, "exact"), headers=JSON)
    assert exact.status_code == 200, exact.text
    assert [e["ref"] for e in exact.json()["validEvents"]] == ["exact"]
    over = client.post("/events", content=vayu_body(LIMIT + 1, "over"), headers=JSON)
    assert over.status_code == 413 and over.json()["code"] == "request_too_large"
    assert f"limit of {LIMIT} bytes" in over.json()["message"]
    # The same without a Content-Length, so the bytes are counted as they arrive.
    streamed = client.post("/events", content=chunked(vayu_body(LIMIT, "streamed")), headers=JSON)
    assert streamed.status_code == 200 and streamed.json()["validEvents"]
    streamed_over = client.post(
        "/events", content=chunked(vayu_body(LIMIT + 1, "streamed-over")), headers=JSON
    )
    assert streamed_over.status_code == 413
    # And gzip, where the limit applies to the decoded bytes.
    inflated = gzip.compress(vayu_body(LIMIT, "gzip"))
    assert client.post("/events", content=inflated, headers=GZIP).json()["validEvents"]
    inflated_over = gzip.compress(vayu_body(LIMIT + 1, "gzip-over"))
    assert client.post("/events", content=inflated_over, headers=GZIP).status_code == 413
    refs = stored_rows(data_dir, "SELECT id FROM events ORDER BY id")
    assert refs == [("exact",), ("gzip",), ("streamed",)]


def test_a_customer_body_of_exactly_the_limit_is_stored_and_one_more_byte_is_413(
    client: Any,
) -> None:
    sends: list[tuple[Callable[[bytes], Any], dict[str, str]]] = [
        (lambda body: body, JSON),
        (chunked, JSON),
        (gzip.compress, GZIP),
    ]
    for encode, headers in sends:
        exact = client.put(
            "/v1/customers/edge", content=encode(customer_body(LIMIT)), headers=headers
        )
        assert exact.status_code == 201, exact.text
        blob = client.get("/v1/customers/edge").json()["attributes"]["blob"]
        assert blob == "x" * (LIMIT - len(b'{"attributes":{"blob":""}}'))
        assert client.delete("/v1/customers/edge").status_code == 204
        over = client.put(
            "/v1/customers/over", content=encode(customer_body(LIMIT + 1)), headers=headers
        )
        assert over.status_code == 413 and over.json()["code"] == "request_too_large"
    assert client.get("/v1/customers").json()["customers"] == []


def test_a_configured_limit_holds_at_its_edge_on_every_body_route(
    small_limit_client: Any, token: str, data_dir: Path
) -> None:
    client, limit = small_limit_client, 2_000
    cases: list[tuple[str, str, Callable[[int], bytes]]] = [
        ("POST", "/events", vayu_body),
        ("POST", "/collect/event", collect_body),
        ("PUT", "/v1/customers/edge", customer_body),
        ("POST", "/login", lambda size: login_body(token, size)),
    ]
    for method, path, body_of in cases:
        exact = client.request(method, path, content=body_of(limit), headers=JSON)
        assert exact.status_code in (200, 201), (path, exact.text)
        over = client.request(method, path, content=body_of(limit + 1), headers=JSON)
        assert over.status_code == 413, (path, over.text)
    assert len(stored_rows(data_dir)) == 2  # the Vayu event and the collect event


def test_gzip_bodies_decoding_past_the_limit_are_413_on_routes_the_core_never_sees(
    client: Any, token: str
) -> None:
    """The customer and login routes parse in Python: the decoded-size cap is all that holds
    them to the limit."""
    big = gzip.compress(customer_body(LIMIT + 1))
    assert len(big) < 2_000  # small on the wire
    put = client.put("/v1/customers/big", content=big, headers=GZIP)
    assert put.status_code == 413 and put.json()["code"] == "request_too_large"
    assert client.get("/v1/customers/big").status_code == 404
    client.headers.pop("Authorization")
    login = client.post("/login", content=gzip.compress(login_body(token, LIMIT + 1)), headers=GZIP)
    assert login.status_code == 413 and login.json()["code"] == "request_too_large"
    small = client.post("/login", content=gzip.compress(login_body(token, 200)), headers=GZIP)
    assert small.status_code == 200 and small.json()["accessToken"]


@pytest.mark.slow
def test_a_real_server_counts_a_chunked_body_to_the_limit(server: ServerProcess) -> None:
    """Through uvicorn, a body without a Content-Length arrives in several ASGI messages."""
    assert server.bootstrap_key is not None
    auth = {"Authorization": f"Bearer {server.bootstrap_key}", **JSON}
    with httpx.Client(base_url=server.http_url, headers=auth, timeout=30) as http:
        exact = http.post("/events", content=chunked(vayu_body(LIMIT, "exact"), 4_096))
        assert exact.status_code == 200 and exact.json()["validEvents"], exact.text
        over = http.post("/events", content=chunked(vayu_body(LIMIT + 1, "over"), 4_096))
        assert over.status_code == 413 and over.json()["code"] == "request_too_large"
    assert stored_rows(server.data_dir, "SELECT id FROM events") == [("exact",)]


@cache
def gzip_bomb(prefix: bytes = b"", blocks: int = 1024) -> tuple[bytes, bytes, int]:
    """A valid gzip stream of `prefix` then 1 GiB of zeros, as (the compressed prefix, the
    compressed rest, about 1 MiB, and the decoded size).

    Each 1 MiB of zeros is compressed after a full flush, which resets the window, so every
    such block is the same bytes and the stream is built in a second.
    """
    zeros = bytes(1 << 20)
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    head = compressor.compress(prefix) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    assert block == compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    crc = zlib.crc32(prefix)
    for _ in range(blocks):
        crc = zlib.crc32(zeros, crc)
    size = len(prefix) + (blocks << 20)
    final_block = b"\x03\x00"  # an empty final fixed-Huffman block, byte-aligned after a flush
    trailer = struct.pack("<II", crc, size & 0xFFFFFFFF)
    return head, block * blocks + final_block + trailer, size


def test_the_bomb_is_what_it_claims() -> None:
    """Built the same way with 4 blocks, it decodes to exactly what it says, trailer and all;
    the 1 GiB one differs only in repeating the same block 1024 times."""
    head, rest, size = gzip_bomb(b"x" * 1000, blocks=4)
    assert gzip.decompress(head + rest) == b"x" * 1000 + bytes(4 << 20) and size == 1000 + (4 << 20)
    head, rest, size = gzip_bomb()
    _head, small_rest, _size = gzip_bomb(blocks=4)
    block = small_rest[: (len(small_rest) - 10) // 4]
    assert rest == block * 1024 + rest[-10:] and size == 1 << 30
    assert len(head + rest) < 1_100_000


@pytest.mark.parametrize("prefix", [b"", b"x" * LIMIT], ids=["bomb", "limit-then-bomb"])
def test_a_gzip_bomb_is_refused_without_inflating_it(data_dir: Path, prefix: bytes) -> None:
    """read_body, fed the bomb in 64 KiB chunks as a server would, stops at the limit: 413,
    at once, and the memory it allocated on the way stays within a chunk of the limit. Also
    when a first chunk decodes to exactly the limit (the decoder must not then be unbounded)."""
    head, rest, _size = gzip_bomb(prefix)
    settings = Settings(data_dir=data_dir)
    reader = BodyReader.from_settings(settings)
    chunk = 1 << 16
    if prefix:
        assert len(head) < chunk
        pieces = [head] + [rest[start : start + chunk] for start in range(0, len(rest), chunk)]
    else:
        bomb = head + rest
        pieces = [bomb[start : start + chunk] for start in range(0, len(bomb), chunk)]
    sent: list[int] = []

    async def receive() -> dict[str, Any]:
        piece = pieces[len(sent)]
        sent.append(len(piece))
        return {"type": "http.request", "body": piece, "more_body": len(sent) < len(pieces)}

    scope: Any = {
        "type": "http",
        "method": "POST",
        "path": "/events",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"content-encoding", b"gzip")],
    }
    request: Request[Any, Any, Any] = Request(scope, receive)

    async def measure() -> tuple[float, int]:
        tracemalloc.start()
        started = time.monotonic()
        try:
            with pytest.raises(PayloadTooLarge):
                await reader.read(request)
            return time.monotonic() - started, tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    elapsed, peak = asyncio.run(measure())
    assert elapsed < 5, elapsed
    assert sum(sent) <= LIMIT + chunk  # read no further than the compressed limit either
    # What was decoded is at most the limit + 1 byte (enough to see it is passed); zlib builds
    # that output in blocks and joins them, so twice that at the peak, plus its 32 KiB window.
    # Inflating even one whole 64 KiB chunk of the bomb would take 64 MiB.
    assert peak < 2 * (LIMIT + 1) + 2 * chunk + 64 * 1024, peak


def asgi_request(
    messages: list[dict[str, Any]], headers: list[tuple[bytes, bytes]]
) -> tuple[Request[Any, Any, Any], list[dict[str, Any]]]:
    """A request whose body arrives as these ASGI messages (the last one again if asked more),
    and the list of messages the app has asked for so far."""
    received: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        await asyncio.sleep(0)  # a real server suspends here, which lets a deadline fire
        received.append(messages[min(len(received), len(messages) - 1)])
        return received[-1]

    scope: Any = {"type": "http", "method": "POST", "path": "/", "headers": headers}
    return Request(scope, receive), received


def test_a_declared_length_over_the_limit_is_refused_before_reading(data_dir: Path) -> None:
    """A client announcing too big a body gets its 413 before it sends it."""
    reader = BodyReader.from_settings(Settings(data_dir=data_dir))
    body = {"type": "http.request", "body": b"x" * 1000, "more_body": True}
    request, received = asgi_request([body], [(b"content-length", str(LIMIT + 1).encode())])
    with pytest.raises(PayloadTooLarge, match=f"limit of {LIMIT} bytes"):
        asyncio.run(reader.read(request))
    assert received == []


def test_the_last_message_may_leave_more_body_out(data_dir: Path) -> None:
    """ASGI: `more_body` is optional and defaults to false, so a message without it ends the
    body (waiting for another would hang the request until its deadline)."""
    settings = Settings(data_dir=data_dir, body_timeout_seconds=5)
    reader = BodyReader.from_settings(settings)
    request, _received = asgi_request(
        [
            {"type": "http.request", "body": b'{"a":', "more_body": True},
            {"type": "http.request", "body": b"1}"},
            {"type": "http.disconnect"},
        ],
        [],
    )
    started = time.monotonic()
    assert asyncio.run(reader.read(request)) == b'{"a":1}'
    assert time.monotonic() - started < 2


def test_json_content_types_may_carry_parameters(client: Any, data_dir: Path) -> None:
    for ref, content_type in [
        ("p1", "application/json; charset=utf-8"),
        ("p2", "Application/JSON;charset=UTF-8"),
        ("p3", "application/json; charset=utf-8; profile=x"),
        ("p4", "application/json"),
    ]:
        response = client.post(
            "/events", content=vayu_body(300, ref), headers={"Content-Type": content_type}
        )
        assert response.status_code == 200 and response.json()["validEvents"], content_type
    for content_type in ["text/plain; charset=utf-8", "application/jsonx", "application/x-json"]:
        response = client.post(
            "/events", content=vayu_body(300, "no"), headers={"Content-Type": content_type}
        )
        assert response.status_code == 415, content_type
        assert content_type.split(";")[0] in response.json()["message"]
    assert len(stored_rows(data_dir)) == 4


def test_a_client_gone_mid_body_is_logged_as_499_not_a_server_error(
    client: TestClient,  # type: ignore[type-arg]
    token: str,
    data_dir: Path,
) -> None:
    """Nobody reads the answer to a client that left mid-body, but the access log and the
    response metrics do: 499 (nginx's "client closed request"), not a 5xx."""
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": b'{"events":[', "more_body": True},
        {"type": "http.disconnect"},
    ]
    received: list[str] = []
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        await asyncio.sleep(0)
        message = messages[min(len(received), len(messages) - 1)]
        received.append(message["type"])
        return message

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    headers = [
        (b"host", b"testserver"),
        (b"content-type", b"application/json"),
        (b"authorization", f"Bearer {token}".encode()),
    ]
    scope: Any = {
        "type": "http",
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/events",
        "raw_path": b"/events",
        "root_path": "",
        "query_string": b"",
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 1),
        "headers": headers,
    }
    client.blocking_portal.call(client.app, scope, receive, send)
    assert sent[0]["type"] == "http.response.start"
    assert sent[0]["status"] == 499
    assert stored_rows(data_dir) == []


def test_a_client_gone_mid_body_ends_the_read_at_once(data_dir: Path) -> None:
    """A disconnect before the body is complete ends read_body on the spot: it neither waits
    for the body deadline nor asks the server for more messages."""
    settings = Settings(data_dir=data_dir, body_timeout_seconds=5)
    reader = BodyReader.from_settings(settings)
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": b'{"events":[', "more_body": True},
        {"type": "http.disconnect"},
    ]
    received: list[str] = []

    async def receive() -> dict[str, Any]:
        await asyncio.sleep(0)  # a real server suspends here, which lets a deadline fire
        message = messages[min(len(received), len(messages) - 1)]  # disconnect, then again
        received.append(message["type"])
        return message

    scope: Any = {
        "type": "http",
        "method": "POST",
        "path": "/events",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json")],
    }
    request: Request[Any, Any, Any] = Request(scope, receive)
    started = time.monotonic()
    with pytest.raises(Exception) as raised:
        asyncio.run(reader.read(request))
    assert time.monotonic() - started < 2
    assert not isinstance(raised.value, RequestTimeout)
    assert received == ["http.request", "http.disconnect"]
