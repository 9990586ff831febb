"""gRPC IngestService on a real server through a real channel: auth, limits, health, reflection."""

from __future__ import annotations

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from sluice.v1 import ingest_pb2, ingest_pb2_grpc
from tests.conftest import ServerProcess
from tests.test_server import grpc_event

pytestmark = pytest.mark.slow


@pytest.fixture
def channel(server: ServerProcess):
    with grpc.insecure_channel(server.grpc_target) as chan:
        yield chan


def auth(server: ServerProcess) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {server.bootstrap_key}"),)


def test_missing_or_bad_key_is_unauthenticated(server, channel) -> None:
    stub = ingest_pb2_grpc.IngestServiceStub(channel)
    request = ingest_pb2.IngestRequest(events=[grpc_event("a")])
    for metadata in [(), (("authorization", "Bearer sk_nope_nope"),)]:
        with pytest.raises(grpc.RpcError) as info:
            stub.Ingest(request, metadata=metadata)
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_bad_batches_are_invalid_argument(server, channel) -> None:
    stub = ingest_pb2_grpc.IngestServiceStub(channel)
    too_many = ingest_pb2.IngestRequest(events=[grpc_event(str(i)) for i in range(1001)])
    for request in [ingest_pb2.IngestRequest(), too_many]:
        with pytest.raises(grpc.RpcError) as info:
            stub.Ingest(request, metadata=auth(server))
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_per_event_rejections_name_the_field(server, channel) -> None:
    stub = ingest_pb2_grpc.IngestServiceStub(channel)
    no_id = grpc_event("")
    no_name = grpc_event("n1", name="")
    reply = stub.Ingest(
        ingest_pb2.IngestRequest(events=[no_id, grpc_event("ok"), no_name, grpc_event("ok")]),
        metadata=auth(server),
    )
    assert reply.accepted == 1
    reasons = [(r.index, r.reason) for r in reply.rejected]
    assert reasons == [
        (0, ingest_pb2.REJECT_REASON_INVALID),
        (2, ingest_pb2.REJECT_REASON_INVALID),
        (3, ingest_pb2.REJECT_REASON_DUPLICATE),
    ]
    assert "id" in reply.rejected[0].message and "name" in reply.rejected[1].message


def test_dry_run_stores_nothing(server, channel) -> None:
    stub = ingest_pb2_grpc.IngestServiceStub(channel)
    request = ingest_pb2.IngestRequest(events=[grpc_event("dry")], dry_run=True)
    assert stub.Ingest(request, metadata=auth(server)).accepted == 1
    real = stub.Ingest(ingest_pb2.IngestRequest(events=[grpc_event("dry")]), metadata=auth(server))
    assert real.accepted == 1


def test_health_serves_without_a_key(channel) -> None:
    stub = health_pb2_grpc.HealthStub(channel)
    for service in ("", "sluice.v1.IngestService", "sluice.v1.EventService"):
        reply = stub.Check(health_pb2.HealthCheckRequest(service=service))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_reflection_lists_the_services(channel) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    responses = stub.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")])
    )
    names = {s.name for s in next(iter(responses)).list_services_response.service}
    assert {"sluice.v1.IngestService", "sluice.v1.EventService", "grpc.health.v1.Health"} <= names
    # ... and describes them, so grpcurl can call them without the .proto files.
    for symbol in ("sluice.v1.IngestService", "sluice.v1.EventService"):
        request = reflection_pb2.ServerReflectionRequest(file_containing_symbol=symbol)
        reply = next(iter(stub.ServerReflectionInfo(iter([request]))))
        assert reply.file_descriptor_response.file_descriptor_proto, symbol
