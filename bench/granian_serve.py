"""Sluice and the bare ceiling on granian (hyper, in Rust) instead of uvicorn: for
bench_servers.py only, production serves on uvicorn (docs/decisions.md, "The HTTP server").

    .venv/bin/python -m bench.granian_serve serve --http-port 0 --grpc-port 0 --data-dir DIR

takes `sluice serve`'s arguments and environment and runs the same process as sluice.server:
the same gateway, app, gRPC server, bootstrap key and stdout lines, with granian's embedded
server (ASGI with lifespan, in this process's asyncio loop) in uvicorn's place. Embedded, not
granian's own worker processes: Sluice's HTTP and gRPC share one gateway in one loop, and a
worker process would need its own store writer.

The settings that have a granian equivalent carry over: the header deadline (hyper's
header_read_timeout, which closes a connection whose head is not complete in time) and the
head bound (hyper's read buffer, whose overflow is refused with 431). The rest of
web/deadlines.py (RFC 9112 checks, the deferred 400 and lingering close) has none: that is
part of what bench_servers.py reports on.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
from typing import Any

from granian.constants import Interfaces
from granian.http import HTTP1Settings
from granian.log import LogLevels
from granian.server.embed import Server

from sluice import logs, startup
from sluice.cli import build_parser
from sluice.cli.common import settings_of
from sluice.gateway import Gateway
from sluice.publishing import start_relay
from sluice.rpc.server import create_server, stop_server
from sluice.server import (
    BOOTSTRAP_TENANT,
    MAX_HEADER_BYTES,
    _add_grpc_port,
    _check_grpc_port,
    bootstrap_key,
    raise_open_file_limit,
)
from sluice.settings import Settings
from sluice.web.app import create_app

# granian's own log lines go to stderr: stdout carries the lines the benchmarks wait for.
_LOG_CONFIG: dict[str, Any] = {
    "handlers": {
        "console": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr"},
        "access": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr"},
    },
}


def free_port(host: str) -> int:
    """A port free now. granian binds its own listener (by address and port, so an OS-chosen
    port could not be read back); another process could take this one first, which a
    benchmark on loopback can live with."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def granian_server(app: Any, host: str, port: int, settings: Settings) -> Server:
    """granian embedded, configured like sluice.server configures uvicorn where it can be."""
    return Server(
        app,
        address=host,
        port=port,
        interface=Interfaces.ASGI,  # with lifespan, as uvicorn's lifespan="on"
        backlog=1024,  # sluice.server listens with 1024
        http1_settings=HTTP1Settings(
            header_read_timeout=round(settings.header_timeout_seconds * 1000),
            keep_alive=True,
            max_buffer_size=MAX_HEADER_BYTES,
        ),
        websockets=False,
        log_level=LogLevels.warning,
        log_dictconfig=_LOG_CONFIG,
        log_access=False,  # Sluice writes its own access line (web.app), as under uvicorn
    )


async def announce_when_listening(host: str, port: int, line: str) -> None:
    """Print `line` once the port takes connections: the embedded server binds inside its
    serve(), and the benchmarks start loading as soon as they read the line."""
    while True:
        try:
            _reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            await asyncio.sleep(0.01)
            continue
        writer.close()
        print(line, flush=True)
        return


async def serve(settings: Settings) -> None:
    """sluice.server.serve with granian for HTTP (see the module docstring)."""
    logs.configure(settings.log_level, settings.grpc_log_level)
    raise_open_file_limit()
    startup.prepare_data_dir(settings)
    store = startup.store_for(settings, outbox=bool(settings.nats_url))
    _check_grpc_port(settings)
    gateway = Gateway(store, settings)
    await gateway.start()
    relay = start_relay(settings, store, gateway.unreadable)
    try:
        token = await bootstrap_key(gateway.access.keys)
        if token is not None:
            print(f"sluice: created tenant '{BOOTSTRAP_TENANT}' with API key (shown once):")
            print(token, flush=True)
        grpc_server, grpc_health = create_server(gateway)
        grpc_port = await _add_grpc_port(grpc_server, settings)
        await grpc_server.start()
        await grpc_health.start()
        http_port = settings.http_port or free_port(settings.host)
        http_server = granian_server(create_app(gateway), settings.host, http_port, settings)
        grpc_drain: list[asyncio.Task[None]] = []

        def drain_grpc() -> asyncio.Task[None]:
            if not grpc_drain:
                grpc_drain.append(
                    asyncio.create_task(stop_server(grpc_server, grpc_health, gateway))
                )
            return grpc_drain[0]

        def on_signal() -> None:
            http_server.signal_handler_interrupt()  # type: ignore[no-untyped-call]  # granian
            drain_grpc()

        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, on_signal)
        print(f"sluice: grpc listening on {settings.host}:{grpc_port}", flush=True)
        announce = asyncio.create_task(
            announce_when_listening(
                settings.host,
                http_port,
                f"sluice: http listening on http://{settings.host}:{http_port}",
            )
        )
        try:
            await http_server.serve()
        finally:
            announce.cancel()
            await drain_grpc()
    finally:
        if relay is not None:
            await relay.stop()
        await gateway.stop()
        print("sluice: stopped", file=sys.stderr, flush=True)


def main(argv: list[str]) -> None:
    args = build_parser().parse_args(argv)
    asyncio.run(serve(settings_of(args)))


if __name__ == "__main__":
    main(sys.argv[1:])
