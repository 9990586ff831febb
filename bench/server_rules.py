"""Sluice's HTTP framing rules and stop, checked on each HTTP server bench_servers.py measures:
does a server keep what web/deadlines.py and web/body.py enforce on uvicorn?

Runs the framing cases of tests/test_http_framing.py and the slow clients of
tests/test_slow_clients.py (deadlines of 1 s) over raw sockets against Sluice on uvicorn and
on granian, then stops each with SIGINT under load, and prints one row per rule: what each
server did and whether that keeps the rule. Nothing is timed for speed.

    .venv/bin/python -m bench.server_rules
"""

from __future__ import annotations

import json
import re
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench import servers
from bench.bench_http import Load, Runner, require_wrk
from bench.report import markdown
from tests.test_http_framing import cases, exchange, request, vayu_body

DEADLINES = {"SLUICE_HEADER_TIMEOUT_SECONDS": "1", "SLUICE_BODY_TIMEOUT_SECONDS": "1"}


@dataclass(frozen=True)
class Outcome:
    kept: bool
    seen: str

    def cell(self) -> str:
        return f"{'keeps' if self.kept else 'NO'}: {self.seen}"


def statuses(response: bytes) -> str:
    found = [s.decode() for s in re.findall(rb"HTTP/1\.1 (\d{3})", response)]
    return "+".join(found) or "no answer"


def connect(server: servers.Sluice, timeout: float = 10) -> socket.socket:
    host, port = server.http_url.removeprefix("http://").rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=timeout)


def closed_within(sock: socket.socket, seconds: float, feed: bytes = b"") -> float | None:
    """Seconds until the server closes `sock` (sending `feed` every 0.25 s meanwhile), or
    None if it is still open after `seconds`."""
    started = time.monotonic()
    sock.settimeout(0.25)
    while time.monotonic() - started < seconds:
        try:
            if feed:
                sock.sendall(feed)
            if sock.recv(65536) == b"":
                return time.monotonic() - started
        except TimeoutError:
            continue
        except OSError:
            return time.monotonic() - started
    return None


def refused_400(server: servers.Sluice, data: bytes) -> Outcome:
    """web/deadlines.py: an ambiguous framing is 400, the connection closed, nothing runs as
    a second request and nothing is stored."""
    before = server.stored_events()
    response, closed = exchange(server, data)  # type: ignore[arg-type]  # duck: http_url
    stored = server.stored_events() - before
    kept = response.startswith(b"HTTP/1.1 400 ") and response.count(b"HTTP/1.1 ") == 1
    kept = kept and closed and stored == 0
    state = "closed" if closed else "left open"
    return Outcome(kept, f"{statuses(response)}, {state}, {stored} stored")


def dribbled_headers(server: servers.Sluice) -> Outcome:
    """The head must be complete within the header deadline (1 s) however it trickles."""
    with connect(server) as sock:
        sock.sendall(b"POST /events HTTP/1.1\r\nHost: x\r\n")
        after = closed_within(sock, 8, b"X-Slow: 1\r\n")
    seen = "open after 8 s" if after is None else f"closed after {after:.1f} s"
    return Outcome(after is not None and after < 3, seen)


def idle_keep_alive(server: servers.Sluice) -> Outcome:
    """After a response, the next request's head is due within the header deadline too."""
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        first = sock.recv(65536)
        after = closed_within(sock, 12)
    seen = f"{statuses(first)}, then " + (
        "open after 12 s" if after is None else f"closed after {after:.1f} s idle"
    )
    return Outcome(after is not None and after < 3, seen)


def dribbled_body(server: servers.Sluice) -> Outcome:
    """web/body.py: a body not all there by the body deadline (1 s) is answered 408."""
    body = vayu_body("dribbled")
    head = f"Content-Length: {len(body)}\r\n".encode()
    with connect(server) as sock:
        sock.sendall(request(server.key, head, body[:10]))
        started = time.monotonic()
        response = sock.recv(65536)
        took = time.monotonic() - started
    kept = response.startswith(b"HTTP/1.1 408") and took < 3
    return Outcome(kept, f"{statuses(response)} after {took:.1f} s")


def declared_too_large(server: servers.Sluice) -> Outcome:
    """web/body.py: a Content-Length over the body limit is 413 before any body is read."""
    head = b"Content-Length: 10000000\r\n"
    with connect(server) as sock:
        sock.sendall(request(server.key, head, b""))
        started = time.monotonic()
        response = sock.recv(65536)
        took = time.monotonic() - started
    kept = response.startswith(b"HTTP/1.1 413") and took < 1
    return Outcome(kept, f"{statuses(response)} after {took:.2f} s, no body sent")


def longer_than_declared(server: servers.Sluice) -> Outcome:
    """Only Content-Length bytes are the body; what follows is not run as a request."""
    body = vayu_body("longer")
    with connect(server) as sock:
        sock.sendall(request(server.key, b"Content-Length: 10\r\n", body))
        sock.shutdown(socket.SHUT_WR)
        response = b""
        while chunk := sock.recv(65536):
            response += chunk
    kept = response.startswith(b"HTTP/1.1 400") and b"invalid_json" in response
    return Outcome(kept, statuses(response) + (", invalid_json" if kept else ""))


def huge_authorization(server: servers.Sluice) -> Outcome:
    """A 100 kB Authorization header (under the 256 KiB head bound) gets our 401."""
    with connect(server) as sock:
        sock.sendall(
            b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + b"Authorization: Bearer "
            + b"a" * 100_000
            + b"\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
        )
        response = b""
        while chunk := sock.recv(65536):
            response += chunk
    kept = response.startswith(b"HTTP/1.1 401") and b"authentication_failed" in response
    return Outcome(kept, statuses(response))


def chunked_and_pipelined(server: servers.Sluice) -> Outcome:
    """Plain chunked bodies and pipelined requests are still served, in order."""
    first, second = vayu_body("chunked-ok"), vayu_body("pipelined-ok")
    chunked = request(
        server.key,
        b"Transfer-Encoding: chunked\r\n",
        f"{len(first):x}\r\n".encode() + first + b"\r\n0\r\n\r\n",
    )
    pipelined = request(
        server.key, f"Content-Length: {len(second)}\r\nConnection: close\r\n".encode(), second
    )
    response, closed = exchange(server, chunked + pipelined)  # type: ignore[arg-type]
    kept = response.count(b"HTTP/1.1 200 ") == 2 and closed
    return Outcome(kept, f"{statuses(response)}, {'closed' if closed else 'left open'}")


def stop_under_load(server: servers.Sluice, templates: Path) -> Outcome:
    """SIGINT (Ctrl-C) while 32 connections send 1-event requests: the process exits 0,
    within the drain, with every answered event stored."""
    runner = Runner(server.http_url, server.key, templates, 3, "stop")
    loads: list[Load] = []
    load = threading.Thread(target=lambda: loads.append(runner.load(1, 32)))
    load.start()
    time.sleep(1.5)
    server.process.proc.send_signal(signal.SIGINT)
    started = time.monotonic()
    try:
        code = server.process.proc.wait(timeout=30)
    except Exception:
        code = None
    took = time.monotonic() - started
    load.join()
    answered = sum(done.requests for done in loads)
    stored = server.stored_events()
    log = server.process.log.read_text(errors="replace")
    crashed = "panicked" in log or "Traceback" in log
    kept = code == 0 and stored >= answered and not crashed
    seen = f"exit {code} after {took:.1f} s, {answered} answered, {stored} stored"
    return Outcome(kept, seen + (", a panic or traceback in its log" if crashed else ""))


RULES: list[tuple[str, Callable[[servers.Sluice], Outcome]]] = [
    ("head trickled past the 1 s header deadline: closed", dribbled_headers),
    ("idle keep-alive past the header deadline: closed", idle_keep_alive),
    ("body trickled past the 1 s body deadline: 408", dribbled_body),
    ("declared Content-Length over the limit: 413 at once", declared_too_large),
    ("body longer than its Content-Length: 400, rest not a request", longer_than_declared),
    ("100 kB Authorization header: our 401", huge_authorization),
    ("plain chunked, then a pipelined request: both 200", chunked_and_pipelined),
]


def check(server_name: str, tmp: Path) -> dict[str, Outcome]:
    outcomes: dict[str, Outcome] = {}
    data_dir = tmp / f"data-{server_name}"
    with servers.sluice(data_dir, DEADLINES, http_server=server_name) as server:
        servers.wait_ready(server.http_url)
        for case, data in cases(server.key).items():
            outcomes[f"framing: {case}: 400 and closed"] = refused_400(server, data)
        for name, rule in RULES:
            outcomes[name] = rule(server)
        outcomes["SIGINT under load: exit 0, answered events stored"] = stop_under_load(server, tmp)
    return outcomes


def main(argv: list[str]) -> None:
    require_wrk()
    with tempfile.TemporaryDirectory(prefix="sluice-server-rules-") as tmp:
        results = {name: check(name, Path(tmp)) for name in servers.HTTP_SERVERS}
    rules = list(results[servers.HTTP_SERVERS[0]])
    rows = [[rule, *(results[s][rule].cell() for s in servers.HTTP_SERVERS)] for rule in rules]
    print(markdown(["rule (Sluice's, web/deadlines.py, web/body.py)", *servers.HTTP_SERVERS], rows))
    if "--json" in argv:
        print(json.dumps({s: {r: o.kept for r, o in results[s].items()} for s in results}))


if __name__ == "__main__":
    main(sys.argv[1:])
