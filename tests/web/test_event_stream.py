"""GET /v1/events/stream: the tenant's live events as server-sent events, against a real server
(an in-process client buffers a whole response, and this one never ends)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sluice.web.event_stream import REVOKED, with_keepalives
from tests.conftest import ServerProcess, mint_key


def vayu_event(ref: str, customer: str = "c1") -> dict[str, Any]:
    return {
        "name": "api_call",
        "timestamp": "2024-05-01T10:00:00Z",
        "customerAlias": customer,
        "ref": ref,
        "data": {"n": 1},
    }


def read_stream(
    url: str, key: str | None, count: int, **params: Any
) -> tuple[int, list[dict[str, Any]]]:
    """The status and the first `count` messages ({id, data}) of one stream."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    found: list[dict[str, Any]] = []
    timeout = httpx.Timeout(5, read=3)
    with httpx.stream(
        "GET", f"{url}/v1/events/stream", params=params, headers=headers, timeout=timeout
    ) as response:
        if response.status_code != 200:
            response.read()
            return response.status_code, []
        assert response.headers["content-type"].startswith("text/event-stream")
        message: dict[str, Any] = {}
        try:
            for line in response.iter_lines():
                if line.startswith("id: "):
                    message["id"] = line[4:]
                elif line.startswith("data: ") and line != "data: ":
                    message["data"] = json.loads(line[6:])
                elif line == "" and message:
                    found.append(message)
                    message = {}
                    if len(found) == count:
                        break
        except httpx.ReadTimeout:  # fewer than `count`: the stream went quiet
            pass
    return 200, found


@pytest.fixture(scope="module")
def stream_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ServerProcess, str, str]]:
    data_dir: Path = tmp_path_factory.mktemp("stream") / "data"
    data_dir.mkdir()
    acme, globex = mint_key(data_dir, "acme"), mint_key(data_dir, "globex")
    server = ServerProcess(data_dir).start()
    try:
        yield server, acme, globex
    finally:
        server.stop()


def post(server: ServerProcess, key: str, refs: list[str], customer: str = "c1") -> None:
    response = httpx.post(
        f"{server.http_url}/events",
        json={"events": [vayu_event(ref, customer) for ref in refs]},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 200, response.text


@pytest.mark.slow
def test_events_arrive_in_offset_order_and_resume_after_an_offset(stream_server) -> None:
    server, acme, _globex = stream_server
    post(server, acme, ["s1", "s2"])
    post(server, acme, ["s3"])
    status, messages = read_stream(server.http_url, acme, 3)
    assert status == 200
    assert [m["data"]["ref"] for m in messages] == ["s1", "s2", "s3"]
    offsets = [int(m["id"]) for m in messages]
    assert offsets == sorted(offsets) and len(set(offsets)) == 3
    assert all(m["data"]["id"] == m["id"] and m["data"]["source"] == "vayu" for m in messages)
    _, rest = read_stream(server.http_url, acme, 2, after=offsets[0])
    assert [m["data"]["ref"] for m in rest] == ["s2", "s3"]


@pytest.mark.slow
def test_a_stream_open_before_a_commit_receives_it(stream_server) -> None:
    server, acme, _globex = stream_server
    post(server, acme, ["w0"])
    _, seen = read_stream(server.http_url, acme, 50)  # every event so far, then idle
    last = seen[-1]["id"] if seen else "0"

    async def later() -> None:
        await asyncio.sleep(0.3)
        await asyncio.to_thread(post, server, acme, ["w1"])

    async def main() -> list[dict[str, Any]]:
        task = asyncio.create_task(later())
        _, got = await asyncio.to_thread(read_stream, server.http_url, acme, 1, after=last)
        await task
        return got

    assert [m["data"]["ref"] for m in asyncio.run(main())] == ["w1"]


@pytest.mark.slow
def test_no_key_is_401_and_tenants_see_only_their_own(stream_server) -> None:
    server, acme, globex = stream_server
    assert read_stream(server.http_url, None, 1)[0] == 401
    assert read_stream(server.http_url, "sk_not_a_key", 1)[0] == 401
    post(server, acme, ["mine-acme"])
    post(server, globex, ["mine-globex"])
    _, theirs = read_stream(server.http_url, globex, 10)  # ends at the read timeout if fewer
    assert [m["data"]["ref"] for m in theirs] == ["mine-globex"]


def test_a_quiet_stream_sends_keepalives_and_keeps_the_pending_read() -> None:
    async def slow() -> AsyncIterator[Any]:
        await asyncio.sleep(0.25)
        yield "never rendered"  # the pending read survives the keepalives before it

    async def main() -> list[str]:
        out = []
        stream = with_keepalives(slow(), every=0.1)
        out.append((await anext(stream)).comment)
        out.append((await anext(stream)).comment)
        with pytest.raises(AttributeError):  # the event itself reached the renderer
            await anext(stream)
        await stream.aclose()
        return out

    assert asyncio.run(main()) == ["keepalive", "keepalive"]


def test_a_revoked_key_ends_the_stream_quiet_or_not() -> None:
    """The stream asks whether its key still authenticates every re-check interval, also while
    no event comes, and ends with a `revoked` message once it does not."""

    async def quiet() -> AsyncIterator[Any]:
        await asyncio.sleep(10)
        yield "never"

    answers = iter([True, True, False])
    asked: list[float] = []

    async def allowed() -> bool:
        asked.append(time.monotonic())
        return next(answers)

    async def main() -> list[Any]:
        stream = with_keepalives(quiet(), every=5.0, allowed=allowed, recheck=0.05)
        started = time.monotonic()
        messages = [message async for message in stream]
        assert time.monotonic() - started < 1
        return messages

    messages = asyncio.run(main())
    assert len(asked) == 3
    assert [(m.event, m.data) for m in messages] == [("revoked", REVOKED)]
