"""The HTTP ceiling: a bare Litestar app answering POST /events with a canned response, on the
server stack `sluice serve` uses (uvicorn, the same protocol class, loop and options).

    .venv/bin/python -m bench.bare_http   # prints "listening on http://127.0.0.1:PORT"
"""

from __future__ import annotations

import asyncio

import uvicorn
from litestar import Litestar, Response, post

from sluice.server import MAX_HEADER_BYTES, _listen
from sluice.settings import Settings
from sluice.web.deadlines import http_protocol

CANNED = b'{"validEvents":[],"invalidEvents":[]}'


@post(["/events", "/v2/events"], status_code=200)
async def events(body: bytes) -> Response[bytes]:
    """Reads the body (as Sluice must) and answers without looking at it."""
    return Response(CANNED, media_type="application/json")


async def main() -> None:
    settings = Settings()
    sock = _listen("127.0.0.1", 0)
    config = uvicorn.Config(
        Litestar(route_handlers=[events], debug=False, logging_config=None),
        log_config=None,
        access_log=False,
        lifespan="on",
        http=http_protocol(settings.header_timeout_seconds, MAX_HEADER_BYTES),
    )
    print(f"listening on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    await uvicorn.Server(config).serve(sockets=[sock])


if __name__ == "__main__":
    asyncio.run(main())
