"""Vayu `POST /events`: the seed's own exchange, dedupe, validation and request-level errors."""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from sluice import logs
from tests.conftest import FIXTURES, stored_rows

SEED_REQUEST = json.loads((FIXTURES / "vayu_seed_request.json").read_text())
SEED_RESPONSE = json.loads((FIXTURES / "vayu_seed_response.json").read_text())
SEED_EVENT = SEED_REQUEST["events"][0]


def event(ref: str, **fields: Any) -> dict[str, Any]:
    body = {**copy.deepcopy(SEED_EVENT), "ref": ref}
    body.update(fields)
    return {k: v for k, v in body.items() if v is not ...}


def post(client: TestClient, body: Any, **kwargs: Any) -> Any:  # type: ignore[type-arg]
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json", **kwargs.pop("headers", {})}
    return client.post("/events", content=content, headers=headers, **kwargs)


def test_seed_request_is_accepted_then_reported_as_existing(client, data_dir: Path) -> None:
    raw = (FIXTURES / "vayu_seed_request.json").read_bytes()  # the seed's bytes, newlines and all
    first = post(client, raw)
    assert first.status_code == 200
    assert first.json() == {"validEvents": [SEED_EVENT], "invalidEvents": []}

    second = post(client, raw)
    assert second.status_code == 200
    assert second.json() == {
        "validEvents": [],
        "invalidEvents": [{"event": SEED_EVENT, "error": "Event ref already exists."}],
    }
    # Together the two answers are exactly the seed's sample response.
    combined = {
        "validEvents": first.json()["validEvents"],
        "invalidEvents": second.json()["invalidEvents"],
    }
    assert combined == SEED_RESPONSE
    assert stored_rows(data_dir) == [("acme", "api_call", SEED_EVENT["ref"])]


def test_stored_row_has_the_contract_fields(client, data_dir: Path) -> None:
    assert post(client, {"events": [event("r-fields")]}).status_code == 200
    (row,) = stored_rows(
        data_dir, "SELECT source, customer, timestamp, payload, value, deleted_at FROM events"
    )
    # 2023-09-13T18:25:43.511Z in UTC microseconds.
    assert row == (
        "vayu",
        "customer_12345",
        1694629543511000,
        '{"key1":"processing_duration","key2":"api_url"}',
        None,
        None,
    )


def test_duplicate_within_one_batch(client, data_dir: Path) -> None:
    batch = {"events": [event("same"), event("other"), event("same")]}
    body = post(client, batch).json()
    assert body["validEvents"] == [event("same"), event("other")]
    assert body["invalidEvents"] == [{"event": event("same"), "error": "Event ref already exists."}]
    assert len(stored_rows(data_dir)) == 2


def test_same_ref_under_another_name_is_a_different_event(client, data_dir: Path) -> None:
    body = post(client, {"events": [event("r1"), event("r1", name="other_call")]}).json()
    assert len(body["validEvents"]) == 2
    assert len(stored_rows(data_dir)) == 2


def test_per_event_validation_errors_name_the_field(client, data_dir: Path) -> None:
    cases = [
        (event("v1", name=""), "name"),
        (event("v2", name=...), "name"),
        (event("v3", timestamp="yesterday"), "timestamp"),
        (event("v4", timestamp="2023-02-30T00:00:00Z"), "timestamp"),
        (event("v5", timestamp="2999-01-01T00:00:00Z"), "timestamp"),
        (event("v6", customerAlias=7), "customerAlias"),
        (
            event(
                "",
            ),
            "ref",
        ),
        (event("v8", data=[1, 2]), "data"),
        (42, "object"),
    ]
    good = event("v-good")
    body = post(client, {"events": [good] + [c for c, _ in cases]}).json()
    assert body["validEvents"] == [good]
    assert [item["event"] for item in body["invalidEvents"]] == [c for c, _ in cases]
    for item, (_case, field) in zip(body["invalidEvents"], cases, strict=True):
        assert field in item["error"], item
    assert stored_rows(data_dir, "SELECT id FROM events") == [("v-good",)]


def test_timestamps_in_every_form_the_vayu_sdk_sends(client, data_dir: Path) -> None:
    forms = [
        "2026-11-23T12:38:27.311250+00:00",
        "2024-01-02T03:04:05",
        "2026-11-23T11:38:27.311250+0000",
        "2024-01-02T05:04:05+02:00",
    ]
    batch = {"events": [event(f"ts{i}", timestamp=t) for i, t in enumerate(forms)]}
    assert post(client, batch).json()["invalidEvents"] == []
    stamps = dict(stored_rows(data_dir, "SELECT id, timestamp FROM events"))
    assert stamps["ts1"] == stamps["ts3"] == 1704164645000000  # 2024-01-02T03:04:05Z


def error_of(response: Any) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    assert set(body) <= {"type", "code", "message", "param", "params"}
    assert body["message"]
    return body


def test_malformed_json_is_400_and_stores_nothing(client, data_dir: Path) -> None:
    for raw in [
        b'{"events": [',
        b'{"events": []} trailing',
        b'{"events": [NaN]}',
        b'{"events":[{"a":1,"a":2}]}',
        b"\xff\xfe",
        b"",
    ]:
        response = post(client, raw)
        assert response.status_code == 400, raw
        body = error_of(response)
        assert body["type"] == "invalid_request_error"
    assert stored_rows(data_dir) == []


def test_batch_size_limits(client, data_dir: Path) -> None:
    empty = post(client, {"events": []})
    assert empty.status_code == 400
    assert error_of(empty)["param"] == "events"
    too_many = {"events": [event(f"b{i}", data=None) for i in range(1001)]}
    response = post(client, too_many)
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_batch"
    missing = post(client, {"event": [event("x")]})
    assert missing.status_code == 400
    assert stored_rows(data_dir) == []
    exactly = {
        "events": [
            {"name": "n", "timestamp": "2024-01-01T00:00:00Z", "customerAlias": "c", "ref": str(i)}
            for i in range(1000)
        ]
    }
    assert len(post(client, exactly).json()["validEvents"]) == 1000


def test_oversized_body_is_413(client, data_dir: Path) -> None:
    big = {"events": [event("big", data={"blob": "x" * 262_144})]}
    response = post(client, big)
    assert response.status_code == 413
    assert error_of(response) | {"message": ""} == {
        "type": "invalid_request_error",
        "code": "request_too_large",
        "message": "",
    }
    assert stored_rows(data_dir) == []


def test_missing_or_bad_auth_is_401(client, data_dir: Path) -> None:
    body = {"events": [event("auth")]}
    for header in [None, "Bearer", "Basic abc", "Bearer sk_0000_nope", "Bearer " + "x" * 100_000]:
        headers = {} if header is None else {"Authorization": header}
        client.headers.pop("Authorization", None)
        response = client.post("/events", json=body, headers=headers)
        assert response.status_code == 401, header
        assert error_of(response)["type"] == "authentication_error"
        assert error_of(response)["code"] == "authentication_failed"
    assert stored_rows(data_dir) == []


def test_each_authentication_failure_says_what_was_wrong(client: Any, token: str) -> None:
    header_message = "Missing or invalid Authorization header: expected 'Bearer <key>'."
    client.headers.pop("Authorization")
    wrong_secret = token[:-1] + ("A" if token[-1] != "A" else "B")
    said = {
        None: header_message,
        "Bearer": header_message,
        f"Basic {token}": header_message,  # a live key, but not as a bearer credential
        "Bearer " + "x" * 100_000: header_message,
        "Bearer sk_0000_nope": "Invalid API key.",
        f"Bearer {wrong_secret}": "Invalid API key.",
    }
    for header, message in said.items():
        headers = {} if header is None else {"Authorization": header}
        response = client.post("/events", json={"events": [event("auth")]}, headers=headers)
        assert response.status_code == 401, header
        assert error_of(response)["message"] == message, header[:20] if header else header
    for refresh_token in ["not-a-key", "sk_" + "x" * 300]:
        response = client.post("/login", json={"refreshToken": refresh_token})
        assert response.status_code == 401, refresh_token
        assert error_of(response)["message"] == "Invalid API key."


def test_an_authorization_header_is_read_up_to_bearer_and_1024_characters(
    client: Any, token: str
) -> None:
    """Spaces after "Bearer" count toward the header but not toward the credential; a header
    longer than "Bearer " and 1024 is refused before anything else is read."""
    client.headers.pop("Authorization")
    longest = "Bearer" + " " * (1031 - len("Bearer") - len(token)) + token
    assert len(longest) == 1031
    body = {"events": [event("long")]}
    accepted = client.post("/events", json=body, headers={"Authorization": longest})
    assert accepted.status_code == 200, accepted.text
    refused = client.post(
        "/events", json=body, headers={"Authorization": longest.replace(" ", "  ", 1)}
    )
    assert refused.status_code == 401
    assert error_of(refused)["message"] == (
        "Missing or invalid Authorization header: expected 'Bearer <key>'."
    )


def test_other_content_types_are_415(client, data_dir: Path) -> None:
    response = client.post("/events", content=b"name=x", headers={"Content-Type": "text/plain"})
    assert response.status_code == 415
    assert error_of(response)["type"] == "invalid_request_error"
    no_type = client.post("/events", content=json.dumps({"events": [event("nt")]}).encode())
    assert no_type.status_code == 200


def test_request_id_is_echoed_or_made(client) -> None:
    mine = post(client, {"events": [event("rid")]}, headers={"X-Request-Id": "abc-123"})
    assert mine.headers["x-request-id"] == "abc-123"
    made = client.get("/healthz")
    assert len(made.headers["x-request-id"]) == 32
    int(made.headers["x-request-id"], 16)  # hex, like a uuid4's
    made_ids = {client.get("/healthz").headers["x-request-id"] for _ in range(50)}
    assert len(made_ids) == 50 and made.headers["x-request-id"] not in made_ids
    failed = post(client, b"{", headers={"X-Request-Id": "err-1"})
    assert failed.headers["x-request-id"] == "err-1"


def test_v2_path_is_the_same_route(client, data_dir: Path) -> None:
    response = client.post("/v2/events", json={"events": [event("v2")]})
    assert response.json()["validEvents"] == [event("v2")]


def test_health_and_readiness_need_no_key(client) -> None:
    client.headers.pop("Authorization")
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}


def test_tenants_are_isolated(client, data_dir: Path) -> None:
    from tests.conftest import mint_key

    other = mint_key(data_dir, "globex")
    assert post(client, {"events": [event("shared-ref")]}).json()["validEvents"]
    theirs = post(
        client, {"events": [event("shared-ref")]}, headers={"Authorization": f"Bearer {other}"}
    ).json()
    assert theirs["validEvents"] == [event("shared-ref")]
    assert sorted(stored_rows(data_dir, "SELECT tenant FROM events")) == [("acme",), ("globex",)]


def test_the_access_line_names_the_tenant_and_key_of_the_request(
    client: Any, token: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Through the logging module, where caplog sees it: a test before this one may have run
    # logs.configure(), which sends access lines straight to stderr.
    monkeypatch.setattr(logs, "_access_stream", None)
    caplog.set_level(logging.INFO, logger="sluice.access")
    assert client.get("/events").status_code == 200
    [line] = [r for r in caplog.records if r.name == "sluice.access" and r.path == "/events"]
    assert (line.tenant, line.key_id) == ("acme", token.removeprefix("sk_").partition("_")[0])
