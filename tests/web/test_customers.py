"""`/v1/customers`: create/replace, read, delete, list by cursor, and Sluice's error object."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from sluice.errors import StoreUnavailable
from sluice.gateway import Gateway
from tests.conftest import mint_key

MILLIS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def put(client: TestClient, id_: str, body: Any = None, **kwargs: Any) -> Any:  # type: ignore[type-arg]
    content = body if isinstance(body, bytes) else json.dumps(body or {}).encode()
    headers = {"Content-Type": "application/json", **kwargs.pop("headers", {})}
    return client.put(f"/v1/customers/{id_}", content=content, headers=headers, **kwargs)


def error_of(response: Any, status: int, code: str, param: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code and body["message"], body
    assert body.get("param") == param, body
    assert body["type"] == {
        401: "authentication_error",
        503: "api_error",
    }.get(status, "invalid_request_error")


def test_put_creates_then_replaces_the_whole_customer(client: TestClient) -> None:  # type: ignore[type-arg]
    body = {"aliases": ["ann-old"], "email": "ann@example.com", "attributes": {"plan": "pro"}}
    created = put(client, "ann", body)
    assert created.status_code == 201
    customer = created.json()
    assert list(customer) == ["id", "aliases", "email", "attributes", "createdAt", "updatedAt"]
    assert {k: customer[k] for k in body} == body and customer["id"] == "ann"
    assert MILLIS.fullmatch(customer["createdAt"]) and MILLIS.fullmatch(customer["updatedAt"])
    assert client.get("/v1/customers/ann").json() == customer

    # PUT is the whole customer: what the body leaves out is gone.
    replaced = put(client, "ann", {"attributes": {"plan": "team"}})
    assert replaced.status_code == 200
    assert replaced.json() | {"updatedAt": ""} == {
        "id": "ann",
        "aliases": [],
        "email": None,
        "attributes": {"plan": "team"},
        "createdAt": customer["createdAt"],
        "updatedAt": "",
    }
    # What GET returned may be sent back as is: id and the timestamps are read-only.
    assert put(client, "ann", client.get("/v1/customers/ann").json()).status_code == 200
    # An empty body registers just the id.
    bare = client.put("/v1/customers/bare")
    assert bare.status_code == 201 and bare.json()["aliases"] == []


def test_ids_with_slashes_and_any_unicode_are_addressable(client: TestClient) -> None:  # type: ignore[type-arg]
    for id_, path in [("org/42", "org/42"), ("a/b", "a%2Fb"), ("café ☕", "caf%C3%A9%20%E2%98%95")]:
        assert put(client, path).status_code == 201
        assert client.get(f"/v1/customers/{path}").json()["id"] == id_
    assert client.delete("/v1/customers/org%2F42").status_code == 204


def test_unknown_customers_are_404_and_delete_is_204(client: TestClient) -> None:  # type: ignore[type-arg]
    error_of(client.get("/v1/customers/nobody"), 404, "resource_not_found")
    error_of(client.delete("/v1/customers/nobody"), 404, "resource_not_found")
    put(client, "gone", {"aliases": ["g"], "email": "g@example.com"})
    deleted = client.delete("/v1/customers/gone")
    assert deleted.status_code == 204 and deleted.content == b""
    error_of(client.get("/v1/customers/gone"), 404, "resource_not_found")
    # Its alias and email are free again.
    assert put(client, "next", {"aliases": ["g"], "email": "g@example.com"}).status_code == 201


def test_pagination_walks_every_customer_exactly_once(client: TestClient) -> None:  # type: ignore[type-arg]
    ids = [f"c{i:02d}" for i in range(23)] + ["B", "a", "é", "org/1", "z"]
    for id_ in reversed(ids):
        assert put(client, id_).status_code == 201
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params = {"limit": 4, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/customers", params=params).json()
        assert set(page) == {"customers", "nextCursor", "hasMore"}
        seen += [customer["id"] for customer in page["customers"]]
        pages += 1
        assert page["hasMore"] == (page["nextCursor"] is not None)
        if not page["hasMore"]:
            break
        cursor = page["nextCursor"]
    assert seen == sorted(ids)  # each once, in id (code point) order
    assert pages == 7  # 28 customers, 4 a page: the last page is full and says so
    everything = client.get("/v1/customers").json()  # default limit 100
    assert [c["id"] for c in everything["customers"]] == seen
    assert everything["hasMore"] is False and everything["nextCursor"] is None


def test_limit_and_cursor_are_checked(client: TestClient) -> None:  # type: ignore[type-arg]
    for limit in ["0", "1001", "x", "-1"]:
        error_of(
            client.get("/v1/customers", params={"limit": limit}), 400, "parameter_invalid", "limit"
        )
    assert client.get("/v1/customers", params={"limit": 1000}).status_code == 200
    for cursor in ["%%%", "not base64!", "_w"]:
        error_of(
            client.get("/v1/customers", params={"cursor": cursor}),
            400,
            "parameter_invalid",
            "cursor",
        )


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("c", {"email": "not-an-address"}, "email"),
        ("c", {"email": "a@b"}, "email"),
        ("c", {"email": 7}, "email"),
        ("c", {"aliases": "one"}, "aliases"),
        ("c", {"aliases": ["ok", ""]}, "aliases[1]"),
        ("c", {"aliases": ["ok", 5]}, "aliases[1]"),
        ("c", {"aliases": ["x" * 257]}, "aliases[0]"),
        ("c", {"aliases": [f"a{i}" for i in range(101)]}, "aliases"),
        ("c", {"attributes": [1, 2]}, "attributes"),
        ("c", {"alias": ["typo"]}, "alias"),
        ("c", {"id": "other"}, "id"),
        ("x" * 257, {}, "id"),
        ("tab%09id", {}, "id"),
        ("%20%20", {}, "id"),
    ],
)
def test_invalid_customers_are_400_naming_the_field(
    client: TestClient,  # type: ignore[type-arg]
    path: str,
    body: dict[str, Any],
    param: str,
) -> None:
    error_of(put(client, path, body), 400, "parameter_invalid", param)
    assert client.get("/v1/customers").json()["customers"] == []


def test_bodies_must_be_strict_json_objects(client: TestClient) -> None:  # type: ignore[type-arg]
    for raw in [
        b"{",
        b"[1]",
        b'{"attributes": {"n": NaN}}',
        b'{"attributes": {"n": 1e999}}',
        b'{"attributes": {"n": ' + b"1" * 1001 + b"}}",  # the core's bound on number literals
        b'{"email": null, "email": null}',
        b'{"aliases": ["\\ud800"]}',  # an unpaired surrogate: no encoder can write it back
        b'{"attributes": ' + b'{"a": ' * 64 + b"1" + b"}" * 64 + b"}",  # 65 levels deep
        b'{"id": "c"} {}',
        b"\xff{}",
    ]:
        error_of(put(client, "c", raw), 400, "invalid_json")
    deepest = b'{"attributes": ' + b'{"a": ' * 63 + b"1" + b"}" * 63 + b"}"
    assert put(client, "deep", deepest).status_code == 201
    assert client.delete("/v1/customers/deep").status_code == 204
    big = {"attributes": {"blob": "x" * 262_144}}
    error_of(put(client, "c", big), 413, "request_too_large")
    response = client.put("/v1/customers/c", content=b"{}", headers={"Content-Type": "text/plain"})
    error_of(response, 415, "unsupported_media_type")
    assert client.get("/v1/customers").json()["customers"] == []


def test_a_taken_alias_or_email_is_409(client: TestClient) -> None:  # type: ignore[type-arg]
    put(client, "ann", {"aliases": ["shared"], "email": "Ann@Example.com"})
    error_of(put(client, "bob", {"aliases": ["shared"]}), 409, "resource_conflict", "aliases")
    error_of(put(client, "bob", {"email": "ann@example.COM"}), 409, "resource_conflict", "email")
    error_of(client.get("/v1/customers/bob"), 404, "resource_not_found")


def test_every_route_needs_a_key(client: TestClient) -> None:  # type: ignore[type-arg]
    client.headers.pop("Authorization")
    for header in [None, "Bearer sk_0000_nope", "Basic abc"]:
        headers = {} if header is None else {"Authorization": header}
        for method, path in [
            ("PUT", "/v1/customers/c"),
            ("GET", "/v1/customers/c"),
            ("DELETE", "/v1/customers/c"),
            ("GET", "/v1/customers"),
        ]:
            response = client.request(method, path, headers=headers, content=b"{}")
            error_of(response, 401, "authentication_failed")


def test_tenants_are_isolated(client: TestClient, data_dir: Path) -> None:  # type: ignore[type-arg]
    globex = {"Authorization": f"Bearer {mint_key(data_dir, 'globex')}"}
    ours = put(client, "c1", {"aliases": ["a1"], "email": "x@example.com"}).json()
    error_of(client.get("/v1/customers/c1", headers=globex), 404, "resource_not_found")
    assert client.get("/v1/customers", headers=globex).json()["customers"] == []
    error_of(client.delete("/v1/customers/c1", headers=globex), 404, "resource_not_found")
    # The same id, alias and email are free in another tenant.
    theirs = put(client, "c1", {"aliases": ["a1"], "email": "x@example.com"}, headers=globex)
    assert theirs.status_code == 201
    assert client.get("/v1/customers/c1").json() == ours
    assert client.delete("/v1/customers/c1", headers=globex).status_code == 204
    assert client.get("/v1/customers/c1").json() == ours


def test_a_store_outage_is_503_with_retry_after(
    client: TestClient,  # type: ignore[type-arg]
    gateway: Gateway,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def down(*_args: Any) -> None:
        raise StoreUnavailable("sqlite: disk I/O error", retry_after=2)

    store = gateway.store
    monkeypatch.setattr(store, "get_customer", down)
    monkeypatch.setattr(store, "put_customer", down)
    for response in [client.get("/v1/customers/c"), put(client, "c")]:
        error_of(response, 503, "service_unavailable")
        assert response.headers["retry-after"] == "2"


def test_a_bug_is_a_500_that_tells_nothing_and_is_logged(
    client: TestClient,  # type: ignore[type-arg]
    gateway: Gateway,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(*_args: Any) -> None:
        raise RuntimeError("the secret internals of a bug")

    monkeypatch.setattr(gateway.store, "get_customer", broken)
    response = client.get("/v1/customers/c")
    assert response.status_code == 500
    assert response.json() == {
        "type": "api_error",
        "code": "internal_error",
        "message": "Internal server error.",
    }
    assert "secret" not in response.text
    assert "unhandled error in GET /v1/customers/c" in caplog.text


def test_operations_have_stable_ids(client: TestClient) -> None:  # type: ignore[type-arg]
    paths = client.app.openapi_schema.to_schema()["paths"]
    operations = {op["operationId"] for path in paths.values() for op in path.values()}
    assert {"putCustomer", "getCustomer", "deleteCustomer", "listCustomers"} <= operations
