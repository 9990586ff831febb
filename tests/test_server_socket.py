"""The HTTP listening socket: accepted connections must not wait on Nagle's algorithm."""

from __future__ import annotations

import asyncio
import socket

from sluice.server import _listen


def test_accepted_connections_have_tcp_nodelay() -> None:
    """asyncio sets TCP_NODELAY only when the socket's proto is IPPROTO_TCP; without it every
    keep-alive response waited ~40 ms for the client's delayed ACK (found by bench_http)."""

    async def accepted_nodelay() -> int:
        sock = _listen("127.0.0.1", 0)
        seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        def on_connect(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            accepted = writer.get_extra_info("socket")
            seen.set_result(accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(on_connect, sock=sock)
        async with server:
            _reader, writer = await asyncio.open_connection(*sock.getsockname()[:2])
            result = await asyncio.wait_for(seen, 5)
            writer.close()
        return result

    assert asyncio.run(accepted_nodelay()) != 0
