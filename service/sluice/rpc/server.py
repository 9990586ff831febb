"""The grpc.aio server: sluice.v1 services, standard health and reflection."""

from __future__ import annotations

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio  # type: ignore[attr-defined]  # stubs lack it
from grpc_reflection.v1alpha import reflection

from sluice.pipeline import Pipeline
from sluice.rpc import ingest
from sluice.rpc.auth import BearerAuth
from sluice.v1 import ingest_pb2

# The transport refuses messages beyond this many times the body limit outright
# (RESOURCE_EXHAUSTED); below it, the core's own size check answers INVALID_ARGUMENT.
TRANSPORT_LIMIT_FACTOR = 4


def create_server(pipeline: Pipeline) -> tuple[grpc.aio.Server, health_aio.HealthServicer]:
    limit = pipeline.limits.max_body_bytes * TRANSPORT_LIMIT_FACTOR
    server = grpc.aio.server(
        interceptors=[BearerAuth(pipeline)],
        options=[
            ("grpc.max_receive_message_length", limit),
            ("grpc.max_send_message_length", limit),
        ],
    )
    server.add_generic_rpc_handlers((ingest.handler(pipeline),))
    health_servicer = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    services = (
        ingest_pb2.DESCRIPTOR.services_by_name["IngestService"].full_name,
        health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
        reflection.SERVICE_NAME,
    )
    reflection.enable_server_reflection(services, server)
    return server, health_servicer


async def mark_serving(health_servicer: health_aio.HealthServicer, serving: bool) -> None:
    status = (
        health_pb2.HealthCheckResponse.SERVING
        if serving
        else health_pb2.HealthCheckResponse.NOT_SERVING
    )
    for service in ("", ingest.SERVICE_NAME):
        await health_servicer.set(service, status)
