"""Collect `POST /collect/event`: 201 + pingId, all-or-nothing validation, silent dedupe."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from litestar.testing import TestClient

from sluice.gateway import Gateway
from sluice.settings import Settings
from sluice.storage.sqlite import SqliteStore
from sluice.web.app import create_app
from tests.conftest import mint_key, stored_rows


def send(client: Any, body: Any) -> Any:
    return client.post("/collect/event", json=body)


def test_events_are_collected_with_their_ping_id(client: Any, data_dir: Path) -> None:
    body = {
        "messageBody": [
            {
                "eventType": "page_view",
                "eventId": "p1",
                "userId": "u1",
                "properties": {"path": "/"},
                "channel": "web",
            }
        ],
        "messageHeaders": {"source": "sdk"},
    }
    response = send(client, body)
    assert response.status_code == 201
    assert set(response.json()) == {"headers", "value"} and response.json()["headers"] == {}
    value = response.json()["value"]
    assert value.startswith('{"pingId": "')  # a JSON string, spaced exactly so
    ping_id = json.loads(value)["pingId"]
    assert uuid.UUID(ping_id).version == 4
    ((source, name, id_, customer, payload),) = stored_rows(
        data_dir, "SELECT source, name, id, customer, payload FROM events"
    )
    assert (source, name, id_, customer) == ("collect", "page_view", "p1", "u1")
    stored = json.loads(payload)
    assert stored["pingId"] == ping_id
    assert stored["properties"] == {"path": "/"}
    assert stored["messageheader"] == {"source": "sdk"}
    assert stored["attributes"] == {"channel": "web"}


def test_one_bad_event_rejects_the_whole_request(client: Any, data_dir: Path) -> None:
    body = {
        "messageBody": [
            {"eventType": "ok_event"},
            {"eventType": "9bad"},
            {"type": "fine", "properties": "nope"},
        ]
    }
    response = send(client, body)
    assert response.status_code == 400
    payload = response.json()
    assert payload["error"] == "Bad Request" and payload["statusCode"] == 400
    assert payload["message"] == "invalid event type"
    assert [(d["index"], d["field"]) for d in payload["details"]] == [
        (1, "eventType"),
        (2, "properties"),
    ]
    assert stored_rows(data_dir) == []


def test_duplicates_are_dropped_silently(client: Any, data_dir: Path) -> None:
    event = {"eventType": "click", "eventId": "c1"}
    assert send(client, {"messageBody": [event, event]}).status_code == 201
    assert send(client, {"messageBody": [event]}).status_code == 201
    assert stored_rows(data_dir, "SELECT id FROM events") == [("c1",)]
    anonymous = {"eventType": "click"}  # no eventId: every one is a new event
    send(client, {"messageBody": [anonymous, anonymous]})
    assert len(stored_rows(data_dir)) == 3


def test_request_level_errors_use_the_collect_shape(client: Any) -> None:
    missing = send(client, {"messageheader": {}})
    assert missing.status_code == 400
    assert missing.json()["statusCode"] == 400 and missing.json()["error"] == "Bad Request"
    client.headers.pop("Authorization")
    denied = send(client, {"messageBody": [{"eventType": "x"}]})
    assert denied.status_code == 401
    assert denied.json() == {
        "error": "Unauthorized",
        "message": denied.json()["message"],
        "statusCode": 401,
    }


def test_a_tenant_s_allowed_event_types_refuse_any_other(data_dir: Path, token: str) -> None:
    """SLUICE_COLLECT_EVENT_TYPES: a tenant with a list takes only those types; one without
    takes any type."""
    settings = Settings(data_dir=data_dir, collect_event_types={"acme": ("signup", "click")})
    gateway = Gateway(SqliteStore(data_dir / "sluice.db"), settings)
    other = mint_key(data_dir, "globex")
    with TestClient(create_app(gateway, own_gateway=True)) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        assert send(client, {"messageBody": [{"eventType": "click"}]}).status_code == 201
        refused = send(client, {"messageBody": [{"eventType": "page_view"}]})
        assert refused.status_code == 400
        assert refused.json()["message"] == "invalid event type"
        assert [(d["index"], d["field"]) for d in refused.json()["details"]] == [(0, "eventType")]
        client.headers["Authorization"] = f"Bearer {other}"
        assert send(client, {"messageBody": [{"eventType": "page_view"}]}).status_code == 201
    assert sorted(stored_rows(data_dir, "SELECT tenant, name FROM events")) == [
        ("acme", "click"),
        ("globex", "page_view"),
    ]
