"""Each status code the gRPC API answers with, its google.rpc details, message size limits and
health, on a real server through real channels."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from sluice.settings import Settings
from sluice.v1 import events_pb2, events_pb2_grpc, ingest_pb2, ingest_pb2_grpc
from tests.conftest import stored_rows
from tests.rpc.conftest import RpcServer
from tests.storage.conftest import fill_disk, free_disk
from tests.test_server import grpc_event


def details(error: grpc.RpcError) -> list[object]:
    """The google.rpc details in the call's grpc-status-details-bin trailer, unpacked."""
    status = rpc_status.from_call(error)
    assert isinstance(status, status_pb2.Status)
    unpacked: list[object] = []
    for packed in status.details:
        for kind in (error_details_pb2.RetryInfo, error_details_pb2.BadRequest):
            if packed.Is(kind.DESCRIPTOR):
                message = kind()
                packed.Unpack(message)
                unpacked.append(message)
    return unpacked


def refused(call: object) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        result = call()  # type: ignore[operator]
        if isinstance(result, Iterator):
            list(result)
    return info.value


def padded(size: int) -> ingest_pb2.IngestRequest:
    return ingest_pb2.IngestRequest(events=[grpc_event("big", data={"pad": "x" * size})])


@pytest.mark.parametrize("metadata", [(), (("authorization", "Bearer sk_nope_nope"),)])
def test_every_method_refuses_a_missing_or_bad_key(
    channel: grpc.Channel, metadata: tuple[tuple[str, str], ...]
) -> None:
    ingest = ingest_pb2_grpc.IngestServiceStub(channel)
    events = events_pb2_grpc.EventServiceStub(channel)
    calls = [
        lambda: ingest.Ingest(ingest_pb2.IngestRequest(), metadata=metadata),
        lambda: ingest.IngestStream(iter([]), metadata=metadata),
        lambda: events.GetEvent(events_pb2.GetEventRequest(id="x"), metadata=metadata),
        lambda: events.QueryEvents(events_pb2.QueryEventsRequest(), metadata=metadata),
        lambda: events.Subscribe(events_pb2.SubscribeRequest(), metadata=metadata),
    ]
    for call in calls:
        assert refused(call).code() == grpc.StatusCode.UNAUTHENTICATED


def test_a_bad_batch_is_invalid_argument_naming_the_field(
    rpc: RpcServer, channel: grpc.Channel
) -> None:
    stub = ingest_pb2_grpc.IngestServiceStub(channel)
    error = refused(lambda: stub.Ingest(ingest_pb2.IngestRequest(), metadata=rpc.metadata))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    [bad_request] = details(error)
    assert isinstance(bad_request, error_details_pb2.BadRequest)
    assert bad_request.field_violations[0].field == "events"


def test_size_limits_core_invalid_argument_then_transport_resource_exhausted(
    rpc: RpcServer, channel: grpc.Channel
) -> None:
    stub = ingest_pb2_grpc.IngestServiceStub(channel)
    assert rpc.settings.grpc_message_limit == 4 * rpc.settings.max_body_bytes  # the default
    core = refused(lambda: stub.Ingest(padded(300_000), metadata=rpc.metadata))
    assert core.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "262144" in (core.details() or "")
    transport = refused(lambda: stub.Ingest(padded(1_100_000), metadata=rpc.metadata))
    assert transport.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert stored_rows(rpc.settings.data_dir) == []


def test_the_transport_limit_is_configurable(data_dir: Path) -> None:
    rpc = RpcServer(data_dir, grpc_max_message_bytes=270_000).start()
    try:
        with grpc.insecure_channel(rpc.target) as channel:
            stub = ingest_pb2_grpc.IngestServiceStub(channel)
            error = refused(lambda: stub.Ingest(padded(275_000), metadata=rpc.metadata))
            assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert stub.Ingest(padded(200_000), metadata=rpc.metadata).accepted == 1
    finally:
        rpc.close()


def test_the_message_limit_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(os.environ, "SLUICE_GRPC_MAX_MESSAGE_BYTES", "2097152")
    assert Settings.from_env().grpc_message_limit == 2_097_152


def test_over_the_rate_limit_is_resource_exhausted_with_retry_info(data_dir: Path) -> None:
    rpc = RpcServer(data_dir, rate_limit=1).start()
    try:
        with grpc.insecure_channel(rpc.target) as channel:
            stub = ingest_pb2_grpc.IngestServiceStub(channel)
            request = ingest_pb2.IngestRequest(events=[grpc_event("once")])
            assert stub.Ingest(request, metadata=rpc.metadata).accepted == 1
            error = refused(lambda: stub.Ingest(request, metadata=rpc.metadata))
    finally:
        rpc.close()
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert error.details() == "Rate limit of 1 requests per second exceeded."
    [retry] = details(error)
    assert isinstance(retry, error_details_pb2.RetryInfo)
    assert 0 < retry.retry_delay.ToNanoseconds() <= 1_000_000_000
    assert int(dict(error.trailing_metadata() or ())["retry-after-ms"]) >= 1


def test_store_down_is_unavailable_with_retry_info_and_flips_health(
    rpc: RpcServer, channel: grpc.Channel
) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    watch = health.Watch(health_pb2.HealthCheckRequest(service="sluice.v1.IngestService"))
    statuses = (reply.status for reply in watch)
    assert next(statuses) == health_pb2.HealthCheckResponse.SERVING
    stub = ingest_pb2_grpc.IngestServiceStub(channel)
    big = padded(100_000)

    rpc.run(fill_disk(rpc.store))  # a real SQLITE_FULL on the next growing write
    try:
        error = refused(lambda: stub.Ingest(big, metadata=rpc.metadata))
        assert error.code() == grpc.StatusCode.UNAVAILABLE
        [retry] = details(error)
        assert isinstance(retry, error_details_pb2.RetryInfo)
        assert retry.retry_delay.seconds >= 1
        # The failed write prompts the health reporter at once, without any caller asking.
        assert next(statuses) == health_pb2.HealthCheckResponse.NOT_SERVING
        for service in ("", "sluice.v1.IngestService", "sluice.v1.EventService"):
            reply = health.Check(health_pb2.HealthCheckRequest(service=service))
            assert reply.status == health_pb2.HealthCheckResponse.NOT_SERVING
    finally:
        rpc.run(free_disk(rpc.store))
    assert stub.Ingest(big, metadata=rpc.metadata).accepted == 1
    assert rpc.health is not None and rpc.run(rpc.health.refresh())  # the readiness path
    assert next(statuses) == health_pb2.HealthCheckResponse.SERVING
    watch.cancel()
