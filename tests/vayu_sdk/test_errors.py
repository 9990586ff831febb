"""Vayu's error bodies on the routes Sluice serves parse as the SDK's error models: 401, 413
and 429 (400, 404 and 409 are checked with each API's tests)."""

from __future__ import annotations

import httpx
import pytest
from openapi.models import (
    RateLimitErrorResponse,
    RequestTooLongErrorResponse,
    UnauthorizedErrorResponse,
)

from tests.conftest import ServerProcess, mint_key
from tests.vayu_sdk.conftest import conforms

# (method, path) of every Vayu route Sluice serves, with a body where the route takes one.
ROUTES = [
    ("POST", "/events"),
    ("POST", "/v2/events"),
    ("POST", "/events/dry-run"),
    ("GET", "/events"),
    ("GET", "/events/some-ref"),
    ("DELETE", "/v2/events/some-ref"),
    ("POST", "/events/delete-by-refs"),
    ("POST", "/v2/events/aggregation"),
    ("POST", "/customers"),
    ("GET", "/customers"),
    ("GET", "/customers/5f0c3b9e2a1d4c6b8e7f9a01"),
    ("PUT", "/customers/5f0c3b9e2a1d4c6b8e7f9a01"),
    ("GET", "/customers/name/ann"),
    ("GET", "/meters"),
    ("POST", "/meters"),
    ("GET", "/meters/5f0c3b9e2a1d4c6b8e7f9a01"),
    ("POST", "/measurements"),
    ("GET", "/measurements"),
    ("DELETE", "/measurements/5f0c3b9e2a1d4c6b8e7f9a01"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_no_key_is_the_sdks_401(vayu_server: ServerProcess, method: str, path: str) -> None:
    response = httpx.request(method, vayu_server.http_url + path, json={})
    conforms(UnauthorizedErrorResponse, response, 401)
    bad = httpx.request(
        method, vayu_server.http_url + path, json={}, headers={"Authorization": "Bearer nope"}
    )
    conforms(UnauthorizedErrorResponse, bad, 401)


@pytest.mark.parametrize("path", [p for m, p in ROUTES if m in ("POST", "PUT")])
def test_a_body_over_256_kib_is_the_sdks_413(raw: httpx.Client, path: str) -> None:
    body = b'{"pad":"' + b"x" * 262_144 + b'"}'
    method = "PUT" if path.startswith("/customers/") else "POST"
    response = raw.request(method, path, content=body, headers={"Content-Type": "application/json"})
    conforms(RequestTooLongErrorResponse, response, 413)


def test_over_the_rate_limit_is_the_sdks_429(vayu_server: ServerProcess) -> None:
    key = mint_key(vayu_server.data_dir, "limited", rate_limit=1)
    with httpx.Client(
        base_url=vayu_server.http_url, headers={"Authorization": f"Bearer {key}"}
    ) as client:
        answers = [client.get("/meters") for _ in range(5)]
    limited = [a for a in answers if a.status_code == 429]
    assert limited, [a.status_code for a in answers]
    conforms(RateLimitErrorResponse, limited[0], 429)
