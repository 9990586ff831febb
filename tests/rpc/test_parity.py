"""The same corpus over HTTP (Vayu POST /events) and over gRPC Ingest, each into a fresh
server, is stored as the same rows: only `source` and `received_at` tell them apart."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest

from sluice.v1 import ingest_pb2, ingest_pb2_grpc
from tests.conftest import ServerProcess, stored_rows

pytestmark = pytest.mark.slow

# Integral numbers stay below 2^53: a protobuf Struct carries every number as a double.
CORPUS: list[dict[str, Any]] = [
    {"name": "api_call", "timestamp": "2023-09-13T18:25:43.511Z", "customerAlias": "c1",
     "ref": "p1", "data": {"key1": "processing_duration", "n": 3, "ok": True}},
    {"name": "api_call", "timestamp": "2026-11-23T12:38:27.311250+00:00", "customerAlias": "c1",
     "ref": "p2", "data": {"nested": {"list": [1, 2.5, "x", None, {"deep": False}]}}},
    {"name": "api_call", "timestamp": "2024-01-02T03:04:05", "customerAlias": "c2",
     "ref": "p3", "data": {}},
    {"name": "storage", "timestamp": "2024-01-02T08:34:05+05:30", "customerAlias": "c2",
     "ref": "p1", "data": {"unicode": "héllo ✓ 🚀", "neg": -0.25, "tiny": 1e-7, "big": 2**52}},
    {"name": "storage", "timestamp": "2024-03-01T00:00:00Z", "customerAlias": "c3", "ref": "p4"},
    {"name": "storage", "timestamp": "2024-03-01T00:00:00Z", "customerAlias": "", "ref": "bad"},
    {"name": "storage", "timestamp": "2024-03-01T00:00:00Z", "customerAlias": "c3", "ref": "p4",
     "data": {"repeat": "in the same batch"}},
]  # fmt: skip


def as_grpc(event: dict[str, Any]) -> ingest_pb2.Event:
    message = ingest_pb2.Event(
        id=event["ref"], name=event["name"], customer_id=event["customerAlias"]
    )
    moment = datetime.datetime.fromisoformat(event["timestamp"])
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)  # Vayu reads no offset as UTC
    message.timestamp.FromDatetime(moment)
    if "data" in event:
        message.data.update(event["data"])
    return message


@pytest.fixture
def two_servers(tmp_path: Path) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    servers = []
    for name in ("http", "grpc"):
        (tmp_path / name).mkdir()
        servers.append(ServerProcess(tmp_path / name).start())
    try:
        yield servers[0], servers[1]
    finally:
        for server in servers:
            server.kill9()


def rows(data_dir: Path) -> list[tuple[Any, ...]]:
    columns = "log_offset, tenant, id, name, customer, timestamp, value, payload, deleted_at, "
    found = stored_rows(data_dir, f"SELECT {columns} key_hash, content_hash FROM events")
    # Payload text keeps the client's key order and number spelling; its meaning must match.
    return [(*row[:7], json.loads(row[7]), *row[8:]) for row in found]


def test_the_same_corpus_over_http_and_grpc_stores_the_same_rows(
    two_servers: tuple[ServerProcess, ServerProcess],
) -> None:
    over_http, over_grpc = two_servers
    response = httpx.post(
        f"{over_http.http_url}/events",
        json={"events": CORPUS},
        headers={"Authorization": f"Bearer {over_http.bootstrap_key}"},
    )
    assert response.status_code == 200
    http_invalid = [e["event"]["ref"] for e in response.json()["invalidEvents"]]

    with grpc.insecure_channel(over_grpc.grpc_target) as channel:
        reply = ingest_pb2_grpc.IngestServiceStub(channel).Ingest(
            ingest_pb2.IngestRequest(events=[as_grpc(event) for event in CORPUS]),
            metadata=(("authorization", f"Bearer {over_grpc.bootstrap_key}"),),
        )
    grpc_invalid = [CORPUS[r.index]["ref"] for r in reply.rejected]

    assert http_invalid == grpc_invalid == ["bad", "p4"]
    assert reply.accepted == len(response.json()["validEvents"]) == 5
    stored = rows(over_http.data_dir)
    assert len(stored) == 5
    assert stored == rows(over_grpc.data_dir)
    sources = "SELECT DISTINCT source FROM events"
    assert stored_rows(over_http.data_dir, sources) == [("vayu",)]
    assert stored_rows(over_grpc.data_dir, sources) == [("grpc",)]
