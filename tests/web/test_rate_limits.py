"""Per-key rate limits over HTTP: headers on every keyed response, 429 in each dialect's shape,
nothing stored for a refused request, per-key limits and 0 = unlimited."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from sluice.gateway import Gateway
from sluice.settings import Settings
from sluice.storage.sqlite import SqliteStore
from sluice.web.app import create_app
from tests.conftest import mint_key, stored_rows
from tests.web.conftest import ManualClock
from tests.web.test_vayu import event


@pytest.fixture
def frozen(clock: ManualClock) -> ManualClock:
    """Stop the limiter's clock so that only the test moves time."""
    clock.monotonic_s = 1000.0
    return clock


def limited(client: Any, data_dir: Path, rate: int) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_key(data_dir, 'acme', rate_limit=rate)}"}


DIALECT_REQUESTS = [
    ("/events", {"events": [event("rl")]}),
    ("/events/batch", {"events": [{"CustomerEntityId": "c", "metric": "m", "value": 1}]}),
    ("/v1/event/", {"user": {"_id": "u"}, "event": {"update": {}}}),
    ("/collect/event", {"messageBody": [{"eventType": "click", "eventId": "x"}]}),
]


def test_headers_count_down_then_429_with_retry_after(
    client: Any, data_dir: Path, frozen: ManualClock
) -> None:
    headers = limited(client, data_dir, 3)
    remaining = []
    for i in range(3):
        response = client.post("/events", json={"events": [event(f"h{i}")]}, headers=headers)
        assert response.status_code == 200
        assert response.headers["x-ratelimit-limit"] == "3"
        assert int(response.headers["x-ratelimit-reset"]) >= int(time.time())
        assert response.headers["ratelimit-policy"] == '"per-key";q=3;w=1'
        remaining.append(int(response.headers["x-ratelimit-remaining"]))
    assert remaining == [2, 1, 0]
    refused = client.post("/events", json={"events": [event("h-over")]}, headers=headers)
    assert refused.status_code == 429
    assert refused.json()["type"] == "rate_limit_error"
    assert refused.json()["code"] == "rate_limit_exceeded"
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["x-ratelimit-remaining"] == "0"
    assert stored_rows(data_dir, "SELECT id FROM events ORDER BY id") == [("h0",), ("h1",), ("h2",)]
    frozen.monotonic_s += 1 / 3  # one request's worth of time later, one more is allowed
    assert (
        client.post("/events", json={"events": [event("h3")]}, headers=headers).status_code == 200
    )


@pytest.mark.parametrize(("path", "body"), DIALECT_REQUESTS)
def test_429_in_each_dialects_shape(
    client: Any, data_dir: Path, frozen: ManualClock, path: str, body: Any
) -> None:
    headers = limited(client, data_dir, 1)
    client.post(path, json=body, headers=headers)
    refused = client.post(path, json=body, headers=headers)
    assert refused.status_code == 429
    assert "retry-after" in refused.headers
    shape = refused.json()
    if path == "/collect/event":
        assert shape == {
            "error": "Too Many Requests",
            "message": "rate limit exceeded",
            "statusCode": 429,
        }
    elif path == "/events/batch":
        assert shape["status"] == "error" and shape["code"] == 429
    elif path == "/v1/event/":
        assert shape["errors"][0]["message"]
    else:
        assert shape["type"] == "rate_limit_error"


def test_limits_are_per_key_and_zero_is_unlimited(
    client: Any, data_dir: Path, frozen: ManualClock
) -> None:
    one = limited(client, data_dir, 1)
    other = limited(client, data_dir, 1)
    unlimited = limited(client, data_dir, 0)
    assert client.get("/events", headers=one).status_code == 200
    assert client.get("/events", headers=one).status_code == 429
    assert client.get("/events", headers=other).status_code == 200
    for _ in range(50):
        response = client.get("/events", headers=unlimited)
        assert response.status_code == 200
        assert "x-ratelimit-limit" not in response.headers


def test_the_default_limit_applies_to_keys_without_their_own(
    client: Any, frozen: ManualClock, data_dir: Path
) -> None:
    response = client.get("/events")
    assert response.headers["x-ratelimit-limit"] == "1000"


def test_while_redis_is_unreachable_each_key_is_still_limited_by_itself(
    data_dir: Path, frozen: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A gateway sharing its limits through Redis fails open to its own limiter, key by key,
    and tells the operator so."""
    caplog.set_level(logging.WARNING, logger="sluice.ratelimit_redis")
    settings = Settings(data_dir=data_dir, redis_url="redis://127.0.0.1:1/0")  # nobody listens
    gateway = Gateway(SqliteStore(data_dir / "sluice.db"), settings, frozen.us, frozen.monotonic)
    one = limited(None, data_dir, 1)
    other = limited(None, data_dir, 1)
    with TestClient(create_app(gateway, own_gateway=True)) as client:
        assert client.get("/events", headers=one).status_code == 200
        refused = client.get("/events", headers=one)
        assert refused.status_code == 429
        assert refused.headers["x-ratelimit-limit"] == "1"
        assert client.get("/events", headers=other).status_code == 200
    warnings = [r.getMessage() for r in caplog.records if r.name == "sluice.ratelimit_redis"]
    assert len(warnings) == 1 and "rate limits are per instance" in warnings[0], warnings
