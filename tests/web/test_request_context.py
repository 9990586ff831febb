"""Log lines written while a request is served carry its request id."""

from __future__ import annotations

from typing import Any

from litestar import get
from litestar.testing import TestClient

from sluice import logs


@get("/test-only/request-id")
async def current_request_id() -> dict[str, str | None]:
    return {"request_id": logs.request_id.get()}


def test_the_request_id_is_bound_inside_handlers(client: TestClient[Any]) -> None:
    client.app.register(current_request_id)
    response = client.get("/test-only/request-id", headers={"X-Request-Id": "req-42"})
    assert response.json() == {"request_id": "req-42"}
    made = client.get("/test-only/request-id")
    assert made.json() == {"request_id": made.headers["x-request-id"]}
