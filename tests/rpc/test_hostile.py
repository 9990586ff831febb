"""Hostile input over gRPC: malformed protobuf bytes, unknown fields, huge metadata."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import grpc
import h2.config
import h2.connection
import pytest

from sluice.v1 import ingest_pb2
from tests.conftest import stored_rows
from tests.rpc.conftest import RpcServer
from tests.test_server import grpc_event

INGEST = "/sluice.v1.IngestService/Ingest"
GOAWAY = 0x7  # the HTTP/2 frame type


def raw_ingest(channel: grpc.Channel) -> Any:
    """Ingest taking request bytes as they are, so a test can send what no client would."""
    return channel.unary_unary(
        INGEST, request_serializer=None, response_deserializer=ingest_pb2.IngestResponse.FromString
    )


def test_invalid_utf8_in_a_string_field_is_invalid_argument(
    rpc: RpcServer, channel: grpc.Channel
) -> None:
    good = ingest_pb2.IngestRequest(events=[grpc_event("utf")]).SerializeToString()
    bad = good.replace(b"utf", b"\xff\xfe\xfd")  # same length, not UTF-8
    with pytest.raises(grpc.RpcError) as info:
        raw_ingest(channel)(bad, metadata=rpc.metadata)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert stored_rows(rpc.settings.data_dir) == []


def test_truncated_and_garbage_messages_are_invalid_argument(
    rpc: RpcServer, channel: grpc.Channel
) -> None:
    good = ingest_pb2.IngestRequest(events=[grpc_event("cut")]).SerializeToString()
    for bad in (good[: len(good) // 2], b"\xff" * 64, b"\x0a\xff\xff\xff\xff\x0f"):
        with pytest.raises(grpc.RpcError) as info:
            raw_ingest(channel)(bad, metadata=rpc.metadata)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, bad
    assert stored_rows(rpc.settings.data_dir) == []


def test_unknown_fields_are_ignored(rpc: RpcServer, channel: grpc.Channel) -> None:
    # Field 15 (varint) on the request and on the event: a newer client's message.
    event = grpc_event("newer").SerializeToString() + b"\x78\x01"
    request = b"\x0a" + bytes([len(event)]) + event + b"\x78\x2a"
    reply = raw_ingest(channel)(request, metadata=rpc.metadata)
    assert reply.accepted == 1
    assert [row[2] for row in stored_rows(rpc.settings.data_dir)] == ["newer"]


def test_huge_metadata_is_refused_and_nothing_is_stored(
    rpc: RpcServer, channel: grpc.Channel
) -> None:
    request = ingest_pb2.IngestRequest(events=[grpc_event("meta")]).SerializeToString()
    metadata = (*rpc.metadata, ("x-padding", "p" * 100_000))
    with pytest.raises(grpc.RpcError) as info:
        raw_ingest(channel)(request, metadata=metadata)
    assert info.value.code() in (
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNAVAILABLE,
    )
    assert stored_rows(rpc.settings.data_dir) == []
    # The channel and server are still fine afterwards.
    assert raw_ingest(channel)(request, metadata=rpc.metadata).accepted == 1


def test_grpc_calls_are_counted_by_method_and_status(rpc: RpcServer, channel: grpc.Channel) -> None:
    from tests.web.test_metrics import sample

    request = ingest_pb2.IngestRequest(events=[grpc_event("counted")]).SerializeToString()
    raw_ingest(channel)(request, metadata=rpc.metadata)
    with pytest.raises(grpc.RpcError):
        raw_ingest(channel)(b"\xff" * 8, metadata=rpc.metadata)
    with pytest.raises(grpc.RpcError):
        raw_ingest(channel)(request)
    for status in ("OK", "INVALID_ARGUMENT", "UNAUTHENTICATED"):
        # The server counts a call as it ends, which may be just after the client has its reply.
        deadline = time.monotonic() + 5
        while True:
            text = rpc.gateway.metrics.render().decode()
            count = sample(
                text, "sluice_requests_total", protocol="grpc", route="Ingest", status=status
            )
            if count == 1 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert count == 1, status


def test_a_connection_is_closed_after_its_age_and_grace(data_dir: Path) -> None:
    """Every connection lives at most max age (+10% jitter) + grace, even one that never
    calls: the server sends GOAWAY and closes it, so no client pins a connection forever."""
    age, grace = 1.0, 0.5
    rpc = RpcServer(
        data_dir,
        grpc_max_connection_age_seconds=age,
        grpc_max_connection_age_grace_seconds=grace,
    ).start()
    host, port = rpc.target.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=5)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    started = time.monotonic()
    goaway = closed = False
    frames = b""  # HTTP/2 frames as read: a 9-byte header (length, type, ...) and a payload
    try:
        while not closed and (left := started + age * 1.1 + grace + 3 - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                data = sock.recv(65536)
            except TimeoutError:
                break
            except ConnectionResetError:
                data = b""
            closed = data == b""
            frames += data
            while len(frames) >= 9 and len(frames) >= 9 + (size := int.from_bytes(frames[:3])):
                goaway = goaway or frames[3] == GOAWAY
                frames = frames[9 + size :]
            if data and not goaway:  # acknowledge the settings and pings
                conn.receive_data(data)
                sock.sendall(conn.data_to_send())
    finally:
        sock.close()
        rpc.close()
    lasted = time.monotonic() - started
    assert goaway and closed, f"open after {lasted:.1f} s (GOAWAY: {goaway})"
    assert age * 0.9 <= lasted < age * 1.1 + grace + 1, lasted
