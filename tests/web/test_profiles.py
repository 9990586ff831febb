"""Profiles `POST /v1/event/`: users from the registry, attribute merges, kept/discarded rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import stored_rows
from tests.web.conftest import ManualClock
from tests.web.test_enso import put_customer

CREATED = {
    "results": {"message": "Event created", "email": "Event was created for the specified user"}
}


def send(client: Any, body: Any, **headers: str) -> Any:
    return client.post("/v1/event/", json=body, headers=headers)


def test_seed_update_merges_attributes(client: Any, data_dir: Path) -> None:
    put_customer(client, "u1", email="ann@example.com", attributes={"plan": "pro", "age": 30})
    body = {
        "user": {"email": "ann@example.com"},
        "event": {"update": {"firstname": "alexandru", "age": None}},
    }
    response = send(client, body)
    assert response.status_code == 200 and response.json() == CREATED
    profile = client.get("/v1/customers/u1").json()
    assert profile["attributes"] == {"plan": "pro", "firstname": "alexandru"}
    assert stored_rows(data_dir, "SELECT source, name, customer FROM events") == [
        ("profiles", "update", "u1")
    ]


def test_generic_events_use_event_name_and_id_users(client: Any, data_dir: Path) -> None:
    put_customer(client, "u1")
    body = {
        "user": {"_id": "u1"},
        "event": {"generic": {"generic": {"event_name": "my_event", "firstname": "a"}}},
    }
    response = client.post("/v1/event", json=body)  # without the trailing slash too
    assert response.json() == {
        "results": {"message": "Event created", "_id": "Event was created for the specified user"}
    }
    assert stored_rows(data_dir, "SELECT name FROM events") == [("my_event",)]
    nameless = {"user": {"_id": "u1"}, "event": {"generic": {"generic": {"firstname": "a"}}}}
    assert send(client, nameless).status_code == 400


def test_missing_parts_and_unknown_users(client: Any, data_dir: Path) -> None:
    no_event = send(client, {"user": {"email": "ann@example.com"}})
    assert no_event.status_code == 400
    assert no_event.json() == {
        "errors": [
            {
                "message": "Missing event information",
                "description": "Please send event information along with user",
            }
        ]
    }
    no_user = send(client, {"event": {"update": {}}})
    assert no_user.json()["errors"][0]["message"] == "Missing user information"
    unknown = send(client, {"user": {"email": "nobody@example.com"}, "event": {"update": {}}})
    assert unknown.status_code == 404 and unknown.json()["errors"][0]["message"]
    description = unknown.json()["errors"][0]["description"]
    assert "nobody@example.com" in description and "create it first" in description
    assert stored_rows(data_dir) == []


def test_a_second_confirmation_of_an_order_is_discarded(client: Any, data_dir: Path) -> None:
    put_customer(client, "u1", email="ann@example.com")
    body = {
        "user": {"email": "ann@example.com"},
        "event": {"confirmation": {"orderId": "o-1", "total": 10}},
    }
    assert send(client, body).json() == CREATED
    second = send(client, body).json()["results"]
    assert second["message"] == "Event discarded" and second["email"]
    assert len(stored_rows(data_dir)) == 1


def test_email_opens_are_kept_once_per_window(
    client: Any, clock: ManualClock, data_dir: Path
) -> None:
    put_customer(client, "u1", email="ann@example.com")
    clock.now_us = 1_800_000_000_000_000
    body = {"user": {"email": "ann@example.com"}, "event": {"email_open": {"campaign": "c"}}}
    assert send(client, body).json() == CREATED
    clock.now_us += 19 * 60 * 1_000_000
    assert send(client, body).json()["results"]["message"] == "Event discarded"
    clock.now_us += 2 * 60 * 1_000_000  # 21 minutes after the first
    assert send(client, body).json() == CREATED
    assert len(stored_rows(data_dir)) == 2


def test_bot_traffic_is_discarded(client: Any, data_dir: Path) -> None:
    put_customer(client, "u1", email="ann@example.com")
    body = {"user": {"email": "ann@example.com"}, "event": {"login": {"plan": "x"}}}
    bot = send(client, body, **{"User-Agent": "Mozilla/5.0 (compatible; Googlebot/2.1)"})
    assert bot.json()["results"]["message"] == "Event discarded"
    assert stored_rows(data_dir) == []
    assert send(client, body, **{"User-Agent": "Mozilla/5.0 (X11; Linux)"}).json() == CREATED


def test_bot_user_agents_match_in_any_case(client: Any, data_dir: Path) -> None:
    """The default bot pattern is searched case-insensitively, with each of its kinds."""
    put_customer(client, "u1", email="ann@example.com")
    body = {"user": {"email": "ann@example.com"}, "event": {"login": {"plan": "x"}}}
    for agent in [
        "MY-BOT/1.0",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/120.0 Safari/537.36",
        "crawler.example (+https://example.com/crawler)",
        "Mozilla/5.0 (compatible; Spider/3.0)",
        "Yahoo! SLURP",
    ]:
        discarded = send(client, body, **{"User-Agent": agent}).json()
        assert discarded == {
            "results": {"message": "Event discarded", "email": "Events from bots are discarded"}
        }, agent
    assert stored_rows(data_dir) == []
    browser = (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
    )
    assert send(client, body, **{"User-Agent": browser}).json() == CREATED
    assert len(stored_rows(data_dir)) == 1
