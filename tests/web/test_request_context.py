"""Log lines written while a request is served carry its request id."""

from __future__ import annotations

import threading
from typing import Any

from litestar import Request, get, post
from litestar.testing import TestClient

from sluice import logs
from sluice.web.body import BodyReader


@get("/test-only/request-id")
async def current_request_id() -> dict[str, str | None]:
    return {"request_id": logs.request_id.get()}


def test_the_request_id_is_bound_inside_handlers(client: TestClient[Any]) -> None:
    client.app.register(current_request_id)
    response = client.get("/test-only/request-id", headers={"X-Request-Id": "req-42"})
    assert response.json() == {"request_id": "req-42"}
    made = client.get("/test-only/request-id")
    assert made.json() == {"request_id": made.headers["x-request-id"]}


first_reads: list[bytes] = []


@post("/test-only/read-twice", status_code=200)
async def read_twice(request: Request[Any, Any, Any]) -> dict[str, int]:
    reader = BodyReader(max_bytes=1024, timeout_seconds=5)
    first_reads.append(await reader.read(request))
    await reader.read(request)  # a bug in a handler: it must fail, not wait forever
    return {"read": len(first_reads[-1])}


def test_reading_a_body_twice_fails_instead_of_waiting(client: TestClient[Any]) -> None:
    client.app.register(read_twice)
    answers: list[int] = []
    worker = threading.Thread(
        target=lambda: answers.append(
            client.post("/test-only/read-twice", content=b"{}").status_code
        ),
        daemon=True,
    )
    worker.start()
    worker.join(timeout=10)
    assert answers == [500], "the second read waited for a body that will never come"
    assert first_reads[-1:] == [b"{}"]  # the 500 came from the second read, not the first
