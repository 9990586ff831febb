"""Vayu's read/delete/login surface and the common body rules (gzip, encodings)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import hmac
import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from sluice.encoding import b64url_encode
from sluice.errors import Unauthenticated
from sluice.gateway import Gateway
from sluice.settings import Settings
from sluice.storage.sqlite import SqliteStore
from sluice.tokens import AccessTokens
from sluice.vayu_ids import account_id
from sluice.web.app import create_app
from sluice.web.vayu_events import NO_CUSTOMER
from tests.conftest import mint_key, stored_rows
from tests.web.test_vayu import event, post


def ingest(client: Any, *events: dict[str, Any]) -> dict[str, Any]:
    response = post(client, {"events": list(events)})
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    assert body["invalidEvents"] == []
    return body


def jwt_claims(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return claims


def test_login_returns_a_real_jwt_that_authenticates(client: Any, token: str) -> None:
    client.headers.pop("Authorization")
    response = client.post("/login", json={"refreshToken": token})
    assert response.status_code == 200
    access = response.json()["accessToken"]
    header = json.loads(base64.urlsafe_b64decode(access.split(".")[0] + "=="))
    assert header["alg"] == "HS256"
    assert abs(jwt_claims(access)["exp"] - (time.time() + 3600)) < 60
    accepted = post(
        client, {"events": [event("jwt-1")]}, headers={"Authorization": f"Bearer {access}"}
    )
    assert accepted.json()["validEvents"] == [event("jwt-1")]
    assert client.post("/v2/login", json={"refreshToken": token}).status_code == 200


def test_bad_refresh_tokens_and_forged_or_expired_access_tokens_are_401(
    client: Any, token: str, data_dir: Path
) -> None:
    client.headers.pop("Authorization")
    assert client.post("/login", json={"refreshToken": "sk_x_y"}).status_code == 401
    assert client.post("/login", json={}).status_code == 400
    access = client.post("/login", json={"refreshToken": token}).json()["accessToken"]
    head, claims, _sig = access.split(".")
    forged = f"{head}.{claims}.{'A' * 43}"
    expired = AccessTokens(b"other-secret", clock=lambda: time.time() - 7200).mint("k", "acme")
    secret = (data_dir / "jwt-secret").read_bytes()  # the server's own signing secret
    stale = AccessTokens(secret, clock=lambda: time.time() - 7200)
    for bad in (forged, expired, stale.mint(jwt_claims(access)["sub"], "acme")):
        response = client.get("/events", headers={"Authorization": f"Bearer {bad}"})
        assert response.status_code == 401, bad
        assert response.json()["type"] == "authentication_error"


def signed(secret: bytes, header: bytes, claims: bytes) -> str:
    """A token of these two parts (JSON text, or not) signed with `secret`."""
    signing_input = f"{b64url_encode(header)}.{b64url_encode(claims)}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url_encode(signature)}"


def as_json(value: Any) -> bytes:
    return json.dumps(value).encode()


def refusal(client: Any, access: str) -> str:
    """The message of the 401 a read with this access token gets."""
    response = client.get("/events", headers={"Authorization": f"Bearer {access}"})
    assert response.status_code == 401, access
    assert response.json()["type"] == "authentication_error"
    message: str = response.json()["message"]
    return message


def test_an_access_token_names_its_key_and_tenant_and_lives_an_hour(
    client: Any, token: str
) -> None:
    client.headers.pop("Authorization")
    before = int(time.time())
    claims = jwt_claims(client.post("/login", json={"refreshToken": token}).json()["accessToken"])
    assert claims["sub"] == token.removeprefix("sk_").partition("_")[0]
    assert claims["tenant"] == "acme"
    assert before <= claims["iat"] <= time.time()
    assert claims["exp"] == claims["iat"] + 3600


def test_a_tenant_with_a_long_name_can_use_its_access_token(data_dir: Path) -> None:
    """An access token names its tenant, so it grows with the name: past 17 characters it was
    longer than the 200 an API key may be, and refused as a malformed Authorization header."""
    token = mint_key(data_dir, "acme-corporation-production-eu-west-1")
    gateway = Gateway(SqliteStore(data_dir / "sluice.db"), Settings(data_dir=data_dir))
    with TestClient(create_app(gateway, own_gateway=True)) as client:
        access = client.post("/login", json={"refreshToken": token}).json()["accessToken"]
        assert len(access) > 200
        bearer = {"Authorization": f"Bearer {access}"}
        accepted = post(client, {"events": [event("long-tenant")]}, headers=bearer)
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["validEvents"] == [event("long-tenant")]


def test_an_access_token_expires_at_the_second_its_exp_names() -> None:
    now = [1_000_000.0]
    tokens = AccessTokens(b"secret", clock=lambda: now[0])
    access = tokens.mint("key-1", "acme")
    now[0] += 3599.5
    assert tokens.verify(access) == "key-1"
    now[0] += 0.5
    with pytest.raises(Unauthenticated) as expired:
        tokens.verify(access)
    assert str(expired.value) == "Access token expired; log in again."


def test_each_unusable_access_token_is_told_why(client: Any, token: str, data_dir: Path) -> None:
    client.headers.pop("Authorization")
    access = client.post("/login", json={"refreshToken": token}).json()["accessToken"]
    head, claims, signature = access.split(".")
    secret = (data_dir / "jwt-secret").read_bytes()  # the server's own signing secret
    key_id = jwt_claims(access)["sub"]
    hs256 = as_json({"alg": "HS256", "typ": "JWT"})
    far = 2**40  # an exp long after the test
    # Made with the server's secret the way it mints: accepted, so the refusals below are for
    # what each changes.
    good = signed(secret, hs256, as_json({"sub": key_id, "exp": far}))
    assert client.get("/events", headers={"Authorization": f"Bearer {good}"}).status_code == 200
    later = as_json({**jwt_claims(access), "exp": far})
    invalid = [
        "not-a-jwt",
        f"{head}.{claims}",
        f"{head}.{claims}.{signature[:8]}.{signature[8:]}",
        f"{head}.{b64url_encode(later)}.{signature}",  # claims changed under a real signature
        signed(secret, b"{not json", as_json({"sub": key_id, "exp": far})),
        signed(secret, hs256, b"\xff"),
        signed(
            secret, as_json({"alg": "none", "typ": "JWT"}), as_json({"sub": key_id, "exp": far})
        ),
        signed(secret, hs256, as_json({"sub": 7, "exp": far})),
    ]
    for bad in invalid:
        assert refusal(client, bad) == "Invalid access token.", bad
    stale = AccessTokens(secret, clock=lambda: time.time() - 7200).mint(key_id, "acme")
    assert refusal(client, stale) == "Access token expired; log in again."


def test_a_gateway_makes_its_data_dir_and_a_private_signing_secret(tmp_path: Path) -> None:
    """Even under a loose umask (a process that did not set Sluice's own), the secret is 0600;
    and it outlives the gateway, so access tokens survive a restart."""
    data_dir = tmp_path / "not" / "yet"
    previous = os.umask(0o022)
    try:
        first = Gateway(SqliteStore(data_dir / "sluice.db"), Settings(data_dir=data_dir))
    finally:
        os.umask(previous)
    assert stat.S_IMODE((data_dir / "jwt-secret").stat().st_mode) == 0o600
    token = mint_key(data_dir)
    with TestClient(create_app(first, own_gateway=True)) as client:
        access = client.post("/login", json={"refreshToken": token}).json()["accessToken"]
    again = Gateway(SqliteStore(data_dir / "sluice.db"), Settings(data_dir=data_dir))
    with TestClient(create_app(again, own_gateway=True)) as client:
        response = client.get("/events", headers={"Authorization": f"Bearer {access}"})
        assert response.status_code == 200, response.text


def test_query_pages_through_every_match_once(client: Any) -> None:
    ingest(client, *[event(f"q{i}", timestamp=f"2024-01-01T00:00:{i:02d}Z") for i in range(25)])
    ingest(client, event("other", name="other_call"))
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"eventName": "api_call", "limit": 10}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/events", params=params).json()
        assert page["total"] == 25
        seen += [e["ref"] for e in page["events"]]
        if not page["hasMore"]:
            assert page["nextCursor"] is None
            break
        cursor = page["nextCursor"]
    assert seen == [f"q{i}" for i in range(25)]


def test_query_time_range_accepts_the_sdk_forms(client: Any) -> None:
    ingest(client, *[event(f"t{i}", timestamp=f"2026-11-23T1{i}:00:00Z") for i in range(5)])
    # Vayu's SDK sends `+0000` unencoded in the query string: '+' arrives as a space.
    url = "/events?startTime=2026-11-23T11:00:00.000000+0000&endTime=2026-11-23T13:00:00Z"
    page = client.get(url).json()
    assert [e["ref"] for e in page["events"]] == ["t1", "t2"]
    first = page["events"][0]
    assert first["timestamp"] == "2026-11-23T11:00:00.000Z"
    assert set(first) == {
        "name",
        "timestamp",
        "customerAlias",
        "ref",
        "data",
        "id",
        "createdAt",
        "updatedAt",
    }
    bad = client.get("/events?startTime=yesterday")
    assert bad.status_code == 400 and bad.json()["param"] == "startTime"
    assert client.get("/events?limit=1001").json()["param"] == "limit"
    assert client.get("/events?cursor=%%%").status_code == 400


def test_get_and_soft_delete_by_ref(client: Any, data_dir: Path) -> None:
    ingest(client, event("d1"), event("d1", name="second_name"), event("d2"))
    got = client.get("/events/d1").json()["event"]
    assert (got["ref"], got["name"]) == ("d1", "api_call")  # the first one stored
    deleted = client.delete("/events/d1")
    assert deleted.status_code == 200
    assert deleted.json()["event"]["deletedAt"]
    # The next live event with that ref is now the one a get acts on.
    assert client.get("/events/d1").json()["event"]["name"] == "second_name"
    assert [e["ref"] for e in client.get("/events").json()["events"]] == ["d1", "d2"]
    # The deleted (name, ref) stays taken.
    again = post(client, {"events": [event("d1")]}).json()
    assert again["invalidEvents"][0]["error"] == "Event ref already exists."
    missing = client.get("/v2/events/nope")
    assert missing.status_code == 404 and missing.json()["code"] == "resource_not_found"
    assert client.delete("/events/nope").status_code == 404
    assert len(stored_rows(data_dir)) == 3  # soft: nothing removed from the log


def test_delete_by_refs(client: Any) -> None:
    ingest(client, event("a"), event("b"), event("c"))
    response = client.post("/events/delete-by-refs", json={"refs": ["a", "c", "zzz"]})
    assert sorted(e["ref"] for e in response.json()["events"]) == ["a", "c"]
    assert [e["ref"] for e in client.get("/events").json()["events"]] == ["b"]
    assert client.post("/events/delete-by-refs", json={"refs": []}).status_code == 400
    assert client.post("/events/delete-by-refs", json={"refs": ["x"] * 1001}).status_code == 400


def test_reads_are_tenant_scoped(client: Any, data_dir: Path) -> None:
    from tests.conftest import mint_key

    ingest(client, event("mine"))
    other = {"Authorization": f"Bearer {mint_key(data_dir, 'globex')}"}
    assert client.get("/events", headers=other).json()["total"] == 0
    assert client.get("/events/mine", headers=other).status_code == 404
    assert client.delete("/events/mine", headers=other).status_code == 404


def test_gzip_bodies_are_decoded_within_the_limit(client: Any, data_dir: Path) -> None:
    body = gzip.compress(json.dumps({"events": [event("gz")]}).encode())
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    assert client.post("/events", content=body, headers=headers).json()["validEvents"]
    bomb = gzip.compress(b'{"events":[' + b" " * 50_000_000 + b"]}")
    assert len(bomb) < 100_000
    response = client.post("/events", content=bomb, headers=headers)
    assert response.status_code == 413 and response.json()["code"] == "request_too_large"
    corrupt = client.post("/events", content=body[:-8] + b"garbage!", headers=headers)
    assert corrupt.status_code == 400 and corrupt.json()["code"] == "invalid_encoding"
    truncated = client.post("/events", content=body[: len(body) // 2], headers=headers)
    assert truncated.status_code == 400
    brotli = client.post("/events", content=body, headers={**headers, "Content-Encoding": "br"})
    assert brotli.status_code == 415
    assert stored_rows(data_dir, "SELECT id FROM events") == [("gz",)]


def test_dry_run_validates_matches_and_stores_nothing(client: Any, data_dir: Path) -> None:
    put = client.put("/v1/customers/cust-1", json={"aliases": ["customer_12345"]})
    assert put.status_code in (200, 201)
    response = post_to(
        client, "/events/dry-run", {"events": [event("dry-1"), event("dry-2", customerAlias="x")]}
    )
    assert response.status_code == 200
    items = response.json()["events"]
    assert [i["matchedCustomer"] for i in items] == ["cust-1", None]
    assert items[0]["meterWithValues"] == []
    assert items[0]["event"] == {
        "timestamp": "2023-09-13T18:25:43.511Z",
        "customerAlias": "customer_12345",
        "accountId": account_id("acme"),
        "data": event("dry-1")["data"],
        "ref": "dry-1",
        "name": "api_call",
    }
    assert stored_rows(data_dir) == []
    # No ref was reserved: the real call accepts it.
    assert post(client, {"events": [event("dry-1")]}).json()["validEvents"]


def test_dry_run_with_an_invalid_event_is_400_with_params(client: Any) -> None:
    bad = {"events": [event("ok"), event("bad", timestamp="nope"), event("", name="")]}
    response = post_to(client, "/v2/events/dry-run", bad)
    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "invalid_request_error"
    assert [p["param"] for p in body["params"]] == ["events[1].timestamp", "events[2].name"]
    assert all(p["message"] for p in body["params"])


def post_to(client: Any, path: str, body: Any) -> Any:
    return client.post(
        path, content=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )


def test_an_access_token_dies_with_its_revoked_key(data_dir: Path, token: str) -> None:
    """`sluice keys revoke` ends the key's access tokens too, once the key cache has lapsed."""
    cache_seconds = 0.3
    settings = Settings(data_dir=data_dir, key_cache_seconds=cache_seconds)
    gateway = Gateway(SqliteStore(data_dir / "sluice.db"), settings)
    with TestClient(create_app(gateway, own_gateway=True)) as client:
        access = client.post("/login", json={"refreshToken": token}).json()["accessToken"]
        bearer = {"Authorization": f"Bearer {access}"}
        assert post(client, {"events": [event("before")]}, headers=bearer).status_code == 200
        key_id = token.removeprefix("sk_").partition("_")[0]
        revoke = [sys.executable, "-m", "sluice", "keys", "revoke", key_id]
        subprocess.run([*revoke, "--data-dir", str(data_dir)], check=True, capture_output=True)
        time.sleep(cache_seconds + 0.2)
        refused = post(client, {"events": [event("after")]}, headers=bearer)
        assert refused.status_code == 401, refused.text
        assert refused.json()["type"] == "authentication_error"
        assert client.get("/events", headers=bearer).status_code == 401
        with_key = post(
            client, {"events": [event("key")]}, headers={"Authorization": f"Bearer {token}"}
        )
        assert with_key.status_code == 401
    assert stored_rows(data_dir, "SELECT id FROM events") == [("before",)]


def test_every_route_word_after_events_is_readable_as_a_ref(client: Any) -> None:
    """A fixed path `/events/<word>` (or `/v2/events/<word>`) of any API shadows the ref
    `<word>` unless the word is in ROUTE_WORDS: a new route must be added there too."""
    from sluice.web.vayu_events import ROUTE_WORDS

    words = {
        path.rsplit("/", 1)[1]
        for route in client.app.routes
        for path in [route.path]
        if path.startswith(("/events/", "/v2/events/")) and "{" not in path
    }
    assert words and words <= set(ROUTE_WORDS), words - set(ROUTE_WORDS)
    for word in sorted(words):
        ingest(client, event(word, name=f"word_{word}"))
        for prefix in ("/events/", "/v2/events/"):
            got = client.get(prefix + word)
            assert got.status_code == 200 and got.json()["event"]["ref"] == word, (prefix, word)


def test_events_without_a_customer_are_listed_under_the_no_customer_alias(client: Any) -> None:
    """Collect without `userId` stores an event with no customer; Vayu reads it back with the
    alias NO_CUSTOMER, and filtering by that alias finds it (and only it)."""
    ingest(client, event("with-bob", customerAlias="bob"))
    sent = client.post(
        "/collect/event",
        json={
            "messageBody": [
                {"eventType": "api_call", "eventId": "anon", "timestamp": "2026-03-04T05:06:07Z"}
            ]
        },
    )
    assert sent.status_code == 201, sent.text
    window = {"startTime": "2000-01-01T00:00:00Z", "endTime": "2030-01-01T00:00:00Z"}
    everything = client.get("/events", params=window).json()["events"]
    assert {e["ref"]: e["customerAlias"] for e in everything} == {
        "with-bob": "bob",
        "anon": NO_CUSTOMER,
    }
    page = client.get("/events", params={**window, "customerAlias": NO_CUSTOMER}).json()
    assert [e["ref"] for e in page["events"]] == ["anon"]
    assert page["total"] == 1
