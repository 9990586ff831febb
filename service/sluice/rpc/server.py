"""The grpc.aio server: sluice.v1 services, standard health and reflection."""

from __future__ import annotations

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from sluice.gateway import Gateway
from sluice.rpc import events, ingest, rejections, usage
from sluice.rpc.auth import Authenticator
from sluice.rpc.health import StoreHealth
from sluice.settings import Settings

SERVICES = (
    ingest.SERVICE_NAME,
    events.SERVICE_NAME,
    usage.SERVICE_NAME,
    rejections.SERVICE_NAME,
)


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def server_options(settings: Settings) -> list[tuple[str, int]]:
    """The grpc.aio server options (bench/bare_grpc.py uses them too, so the transport's
    ceiling is measured on the same settings)."""
    limit = settings.grpc_message_limit
    return [
        # Connection bounds (Settings): a socket that never sends the HTTP/2 preface is closed
        # after the handshake timeout instead of holding a descriptor for minutes, connections
        # are capped, and each lives at most max age + grace.
        ("grpc.server_handshake_timeout_ms", _ms(settings.grpc_handshake_timeout_seconds)),
        ("grpc.max_allowed_incoming_connections", settings.grpc_max_connections),
        ("grpc.max_connection_age_ms", _ms(settings.grpc_max_connection_age_seconds)),
        (
            "grpc.max_connection_age_grace_ms",
            _ms(settings.grpc_max_connection_age_grace_seconds),
        ),
        # Set deliberately (Settings.grpc_max_message_bytes), never grpc's 4 MiB default:
        # larger messages are refused by the transport before they are read into memory.
        ("grpc.max_receive_message_length", limit),
        ("grpc.max_send_message_length", limit),
        # A fixed per-stream receive window of one message limit: an IngestStream whose
        # batches wait on a slow store has at most that much unread, and the producer
        # stalls. BDP probing would keep growing the window (megabytes per stream).
        ("grpc.http2.bdp_probe", 0),
        ("grpc.http2.lookahead_bytes", limit),
        # grpc sets SO_REUSEPORT by default: a second server on the same port would start
        # and take half the connections. Off, it fails to bind, as the HTTP side does.
        ("grpc.so_reuseport", 0),
    ]


def create_server(gateway: Gateway) -> tuple[grpc.aio.Server, StoreHealth]:
    """The server over a gateway's services; start it, then `await health.start()`."""
    server = grpc.aio.server(options=server_options(gateway.settings))
    authenticator = Authenticator(gateway.access, gateway.metrics)
    server.add_generic_rpc_handlers(
        (
            ingest.handler(gateway.ingest, gateway.dialects, gateway.access, authenticator),
            events.handler(gateway.events, authenticator),
            usage.handler(gateway.usage, authenticator),
            rejections.handler(gateway.rejections, authenticator),
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
