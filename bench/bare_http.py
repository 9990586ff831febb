"""The HTTP ceiling: a bare Litestar app answering POST /events with a canned response, on the
server stack `sluice serve` uses (uvicorn, the same protocol class, loop and options), or with
--server granian on granian configured as bench/granian_serve.py runs Sluice.

    .venv/bin/python -m bench.bare_http [--server granian]   # prints "listening on http://..."
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

import uvicorn
from litestar import Litestar, Response, post

from sluice.server import MAX_HEADER_BYTES, _listen
from sluice.settings import Settings
from sluice.web.deadlines import http_protocol

CANNED = b'{"validEvents":[],"invalidEvents":[]}'
HOST = "127.0.0.1"


@post(["/events", "/v2/events"], status_code=200)
async def events(body: bytes) -> Response[bytes]:
    """Reads the body (as Sluice must) and answers without looking at it."""
    return Response(CANNED, media_type="application/json")


def app() -> Litestar:
    return Litestar(route_handlers=[events], debug=False, logging_config=None)


async def on_uvicorn(settings: Settings) -> None:
    sock = _listen(HOST, 0)
    config = uvicorn.Config(
        app(),
        log_config=None,
        access_log=False,
        lifespan="on",
        http=http_protocol(settings.header_timeout_seconds, MAX_HEADER_BYTES),
    )
    print(f"listening on http://{HOST}:{sock.getsockname()[1]}", flush=True)
    await uvicorn.Server(config).serve(sockets=[sock])


async def on_granian(settings: Settings) -> None:
    from bench import granian_serve  # granian is a dev extra: only this server needs it

    port = granian_serve.free_port(HOST)
    server = granian_serve.granian_server(app(), HOST, port, settings)
    line = f"listening on http://{HOST}:{port}"
    announce = asyncio.create_task(granian_serve.announce_when_listening(HOST, port, line))
    # Embedded granian installs no handlers: without these a Ctrl-C left the process hanging.
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, server.signal_handler_interrupt)
    try:
        await server.serve()
    finally:
        announce.cancel()


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", choices=["uvicorn", "granian"], default="uvicorn")
    args = parser.parse_args(argv)
    serve = on_granian if args.server == "granian" else on_uvicorn
    asyncio.run(serve(Settings()))


if __name__ == "__main__":
    main(sys.argv[1:])
