"""The HTTP/1.1 connection protocol: uvicorn's httptools (llhttp) parser, plus what it leaves to
us: message framing by RFC 9112's rules, a bound on header bytes, and absolute deadlines for
slow clients, all enforced before the app sees a request.

Framing: a request whose body length is ambiguous (Content-Length with Transfer-Encoding, a
transfer coding other than one `chunked`, bad chunking, differing Content-Lengths, obs-fold
headers) is answered 400 and the connection closed, so no byte of it can be read as a second
request (request smuggling). llhttp refuses most of these itself; the transfer codings are
checked here.

Deadlines: uvicorn bounds idle keep-alive time, but any byte resets that timer and nothing
bounds how long a request's headers may take to arrive. This protocol closes a connection whose
next request's headers are not complete within `header_seconds` of it becoming due; the body
has its own deadline in `read_body`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# How long a refused connection keeps reading (and dropping) what the client still sends.
LINGER_SECONDS = 2.0


class AmbiguousFraming(Exception):
    """Raised from a parser callback: httptools turns it into a parse error, which uvicorn
    answers 400 with the connection closed."""


def check_framing(headers: list[tuple[bytes, bytes]]) -> None:
    """RFC 9112 §6: the only transfer coding we take is one `chunked`, and never together with
    a Content-Length (llhttp refuses that too; this does not depend on its leniency flags)."""
    codings = [value for name, value in headers if name == b"transfer-encoding"]
    if not codings:
        return
    if len(codings) > 1 or codings[0].strip().lower() != b"chunked":
        raise AmbiguousFraming("unsupported transfer coding")
    if any(name == b"content-length" for name, _value in headers):
        raise AmbiguousFraming("both Content-Length and Transfer-Encoding")


class SluiceHttpProtocol(HttpToolsProtocol):
    header_seconds: float = 10.0
    # Request line and headers, at most; large enough for our own 401 to answer an oversized
    # Authorization header. llhttp itself has no bound.
    max_header_bytes: int = 256 * 1024

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_deadline: asyncio.TimerHandle | None = None
        self._in_headers = True  # the bytes arriving belong to a request's head
        self._header_bytes = 0
        self._head_tail = b""
        self._refusal: str | None = None  # a 400 waiting for the response in flight
        self._discarding = False  # refused: what still arrives is dropped

    def _arm(self) -> None:
        self._disarm()
        self._header_deadline = self.loop.call_later(self.header_seconds, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._discarding:
            return
        if self._in_headers:
            # The head's bytes in this read: up to the blank line that ends it, if it is here
            # (it may straddle reads: the last three bytes of the previous one are kept).
            seen = self._head_tail + data
            end = seen.find(b"\r\n\r\n")
            self._header_bytes += len(data) if end < 0 else end + 4 - len(self._head_tail)
            self._head_tail = seen[-3:]
            if self._header_bytes > self.max_header_bytes:
                self.send_400_response("Request headers too large.")
                return
        super().data_received(data)

    def send_400_response(self, msg: str) -> None:
        """Refuse what follows a complete request only once that request is answered: its
        response goes out first, then the 400, then the connection closes. A request whose own
        head or body is malformed is refused at once."""
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete and not cycle.more_body:
            self._refusal = msg
            self.flow.pause_reading()
            return
        if self.transport.is_closing() or self._discarding:
            return
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True  # the app reading this request's body stops now
            cycle.message_event.set()
        # Lingering close (RFC 9112 §9.6): the answer, then our half of the connection
        # closed; what the client is still sending is read and dropped until it closes its
        # half or LINGER_SECONDS pass. Closing at once with its bytes unread would reset the
        # connection, and the client could lose the 400.
        head = [b"HTTP/1.1 400 Bad Request\r\n"]
        for name, value in self.server_state.default_headers:
            head.append(name + b": " + value + b"\r\n")
        body = msg.encode("ascii")
        head.append(b"content-type: text/plain; charset=utf-8\r\nconnection: close\r\n")
        head.append(b"content-length: " + str(len(body)).encode("ascii") + b"\r\n\r\n")
        self.transport.write(b"".join(head) + body)
        self._discarding = True
        self._disarm()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        else:
            self.transport.close()

    def on_headers_complete(self) -> None:
        check_framing(self.headers)
        self._in_headers = False
        self._header_bytes = 0
        self._head_tail = b""
        super().on_headers_complete()
        if self.cycle is not None and not self.cycle.response_complete:
            self._disarm()  # this request's headers are in; the body deadline takes over

    def on_message_complete(self) -> None:
        super().on_message_complete()
        # What follows is the next request's head (bytes of it that came in the same read as
        # this body are not counted: the bound is max_header_bytes plus one read).
        self._in_headers = True

    def on_response_complete(self) -> None:
        if self._refusal is not None and not self.pipeline:
            self.server_state.total_requests += 1
            self.send_400_response(self._refusal)
            return
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()  # the next request on this connection gets the same deadline


def http_protocol(header_seconds: float, max_header_bytes: int) -> type[SluiceHttpProtocol]:
    return type(
        "SluiceHttpProtocol",
        (SluiceHttpProtocol,),
        {"header_seconds": header_seconds, "max_header_bytes": max_header_bytes},
    )
