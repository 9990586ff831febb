"""`sluice serve`: HTTP (Litestar on uvicorn) and gRPC in one process over one gateway."""

from __future__ import annotations

import asyncio
import contextlib
import resource
import signal
import socket
import sys
from collections.abc import Iterator

import grpc
import uvicorn

from sluice import logs, startup
from sluice.api_keys import ApiKeys
from sluice.errors import StoreUnavailable
from sluice.gateway import Gateway
from sluice.publishing import start_relay
from sluice.rpc.server import create_server, stop_server
from sluice.settings import Settings
from sluice.web.app import create_app
from sluice.web.deadlines import http_protocol

BOOTSTRAP_TENANT = "default"
MAX_HEADER_BYTES = 256 * 1024


class _HttpServer(uvicorn.Server):
    """uvicorn without its own signal handling: `serve` owns SIGTERM/SIGINT for both servers, so
    a stop drains HTTP, then gRPC, then closes the store, and the process exits 0."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def request_stop(self) -> None:
        if self.should_exit:
            self.force_exit = True  # a second signal: stop waiting for slow connections
        self.should_exit = True


def raise_open_file_limit() -> tuple[int, int]:
    """Raise the soft limit on open files to the hard one: every connection, idle or not,
    holds a descriptor, and the usual soft limit of 1024 lets a few idle sockets on one port
    starve the other. Returns (before, after)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return soft, hard


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket; raises OSError (in use, no such address, privileged port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP spelled out: asyncio sets TCP_NODELAY only on sockets whose proto says TCP,
    # and accepted sockets inherit this one's. With proto 0 every keep-alive response (headers
    # and body are two writes) waited ~40 ms on Nagle and the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(1024)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def _listen_http(settings: Settings) -> socket.socket:
    try:
        return _listen(settings.host, settings.http_port)
    except OSError as exc:
        raise startup.listen_error(
            "HTTP", "--http-port", settings.host, settings.http_port, exc
        ) from exc


def _check_grpc_port(settings: Settings) -> None:
    """Bind and release gRPC's port with a plain socket first: grpc reports a failure only as
    "Failed to bind" (and a C-level log line), this says why (in use, no such address)."""
    host, port = settings.host, settings.grpc_port
    try:
        _listen(host, port).close()
    except OSError as exc:
        raise startup.listen_error("gRPC", "--grpc-port", host, port, exc) from exc


async def _add_grpc_port(server: grpc.aio.Server, settings: Settings) -> int:
    host, port = settings.host, settings.grpc_port
    try:
        return server.add_insecure_port(f"{host}:{port}")
    except RuntimeError as exc:  # taken since _check_grpc_port
        await server.stop(None)
        raise startup.listen_error("gRPC", "--grpc-port", host, port, OSError(str(exc))) from exc


async def bootstrap_key(keys: ApiKeys) -> str | None:
    """On the very first start (no keys at all), mint one key for tenant `default`."""
    if await keys.any():
        return None
    token, _record = await keys.create(BOOTSTRAP_TENANT)
    return token


async def serve(settings: Settings) -> None:
    logs.configure(settings.log_level, settings.grpc_log_level)
    raise_open_file_limit()
    for path in startup.prepare_data_dir(settings):
        print(f"sluice: made {path} private to its owner", file=sys.stderr, flush=True)
    for warning in settings.durability_warnings():
        print(f"sluice: WARNING: {warning}", file=sys.stderr, flush=True)
    store = startup.store_for(settings, outbox=bool(settings.nats_url))
    sock = _listen_http(settings)  # before the store: a port in use is found at once
    try:
        _check_grpc_port(settings)
    except Exception:
        sock.close()
        raise
    gateway = Gateway(store, settings)
    try:
        await gateway.start()
    except (StoreUnavailable, OSError) as exc:
        sock.close()
        raise startup.unopenable(settings, exc) from exc
    relay = start_relay(settings, store, gateway.unreadable)
    try:
        token = await bootstrap_key(gateway.access.keys)
        if token is not None:
            print(f"sluice: created tenant '{BOOTSTRAP_TENANT}' with API key (shown once):")
            print(token, flush=True)

        grpc_server, grpc_health = create_server(gateway)
        try:
            grpc_port = await _add_grpc_port(grpc_server, settings)
        except Exception:
            sock.close()
            raise
        await grpc_server.start()
        await grpc_health.start()

        http_port = sock.getsockname()[1]
        config = uvicorn.Config(
            create_app(gateway),
            log_config=None,  # keep the JSON logging set up by logs.configure
            access_log=False,  # Sluice writes its own access line (web.app), with request ids
            lifespan="on",
            # httptools (llhttp) with RFC 9112 framing, a header bound and header deadlines.
            http=http_protocol(settings.header_timeout_seconds, MAX_HEADER_BYTES),
        )
        http_server = _HttpServer(config)
        grpc_drain: list[asyncio.Task[None]] = []

        def drain_grpc() -> asyncio.Task[None]:
            """Stop gRPC taking calls (GOAWAY to open channels) and drain it; started once."""
            if not grpc_drain:
                grpc_drain.append(
                    asyncio.create_task(stop_server(grpc_server, grpc_health, gateway))
                )
            return grpc_drain[0]

        def on_signal() -> None:
            # Both transports stop taking work at once and drain side by side: a gRPC channel
            # must not keep feeding a server whose HTTP side is already draining.
            http_server.request_stop()
            drain_grpc()

        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, on_signal)
        print(f"sluice: http listening on http://{settings.host}:{http_port}", flush=True)
        print(f"sluice: grpc listening on {settings.host}:{grpc_port}", flush=True)
        print(f"sluice: data in {startup.store_description(settings)}", flush=True)
        startup.settle_collector()
        try:
            # Returns after a signal: uvicorn stops accepting and drains in-flight requests.
            await http_server.serve(sockets=[sock])
        finally:
            await drain_grpc()
    finally:
        if relay is not None:
            await relay.stop()
        await gateway.stop()
        print("sluice: stopped", file=sys.stderr, flush=True)


def run(settings: Settings) -> None:
    asyncio.run(serve(settings))
