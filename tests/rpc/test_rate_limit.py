"""gRPC refuses a key over its rate with RESOURCE_EXHAUSTED and a retry delay."""

from __future__ import annotations

import grpc
import pytest

from sluice.v1 import ingest_pb2, ingest_pb2_grpc
from tests.conftest import ServerProcess, mint_key, stored_rows
from tests.test_server import grpc_event

pytestmark = pytest.mark.slow


def test_over_the_rate_is_resource_exhausted_and_stores_nothing(server: ServerProcess) -> None:
    key = mint_key(server.data_dir, "acme", rate_limit=2)
    metadata = (("authorization", f"Bearer {key}"),)
    with grpc.insecure_channel(server.grpc_target) as channel:
        stub = ingest_pb2_grpc.IngestServiceStub(channel)
        outcomes = []
        for i in range(6):
            try:
                stub.Ingest(
                    ingest_pb2.IngestRequest(events=[grpc_event(f"r{i}")]), metadata=metadata
                )
                outcomes.append("ok")
            except grpc.RpcError as exc:
                assert exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
                delay = dict(exc.trailing_metadata() or ())["retry-after-ms"]
                assert int(delay) >= 1
                outcomes.append("limited")
    assert outcomes[:2] == ["ok", "ok"] and "limited" in outcomes
    stored = {row[2] for row in stored_rows(server.data_dir)}
    assert stored == {f"r{i}" for i, o in enumerate(outcomes) if o == "ok"}
