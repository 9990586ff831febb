"""The grpc.aio server: sluice.v1 services, standard health and reflection."""

from __future__ import annotations

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from sluice.gateway import Gateway
from sluice.rpc import events, ingest, usage
from sluice.rpc.auth import Authenticator
from sluice.rpc.health import StoreHealth

SERVICES = (ingest.SERVICE_NAME, events.SERVICE_NAME, usage.SERVICE_NAME)


def server_options(limit: int) -> list[tuple[str, int]]:
    """The grpc.aio server options for a message limit (bench/bare_grpc.py uses them too, so
    the transport's ceiling is measured on the same settings)."""
    return [
        # Set deliberately (Settings.grpc_max_message_bytes), never grpc's 4 MiB default:
        # larger messages are refused by the transport before they are read into memory.
        ("grpc.max_receive_message_length", limit),
        ("grpc.max_send_message_length", limit),
        # A fixed per-stream receive window of one message limit: an IngestStream whose
        # batches wait on a slow store has at most that much unread, and the producer
        # stalls. BDP probing would keep growing the window (megabytes per stream).
        ("grpc.http2.bdp_probe", 0),
        ("grpc.http2.lookahead_bytes", limit),
    ]


def create_server(gateway: Gateway) -> tuple[grpc.aio.Server, StoreHealth]:
    """The server over a gateway's services; start it, then `await health.start()`."""
    server = grpc.aio.server(options=server_options(gateway.transport.grpc_message_limit))
    authenticator = Authenticator(gateway.access, gateway.metrics)
    server.add_generic_rpc_handlers(
        (
            ingest.handler(gateway.ingest, gateway.dialects, gateway.access, authenticator),
            events.handler(gateway.events, authenticator),
            usage.handler(gateway.usage, authenticator),
        )
    )
    health = StoreHealth(gateway.readiness, SERVICES)
    health_pb2_grpc.add_HealthServicer_to_server(health.servicer, server)
    reflected = (
        *SERVICES,
        health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
        reflection.SERVICE_NAME,
    )
    reflection.enable_server_reflection(reflected, server)
    return server, health


async def stop_server(server: grpc.aio.Server, health: StoreHealth, gateway: Gateway) -> None:
    """NOT_SERVING, end the log tails (they would never finish), then drain the rest."""
    await health.stop()
    gateway.events.close()
    await server.stop(grace=5)
