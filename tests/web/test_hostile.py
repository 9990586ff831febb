"""Hostile input over HTTP: every case answers the documented 4xx in Vayu's shape, never a 500,
and a refused request stores nothing. See docs/decisions.md, "Hostile input"."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sluice.gateway import Gateway
from tests.conftest import stored_rows

GOOD = {"name": "api_call", "timestamp": "2024-01-01T00:00:00Z", "customerAlias": "c", "ref": "r"}


def raw(events: str) -> bytes:
    return ('{"events":[' + events + "]}").encode()


def good(**fields: Any) -> str:
    return json.dumps({**GOOD, **fields})


# (case, body): the whole request is refused with 400.
REQUEST_400 = [
    ("empty body", b""),
    ("truncated", b'{"events":[{"name":'),
    ("top-level scalar", b"42"),
    ("top-level array", b"[]"),
    ("byte order mark", b"\xef\xbb\xbf" + raw(good())),
    ("invalid utf-8", raw(good()).replace(b'"c"', b'"\xff\xfe"')),
    ("lone high surrogate", raw(good(ref="x")).replace(b'"x"', b'"\\ud800"')),
    ("lone low surrogate", raw(good(ref="x")).replace(b'"x"', b'"\\udc00x"')),
    ("raw control char", raw(good(ref="x")).replace(b'"x"', b'"a\x01b"')),
    ("deep nesting", b'{"events":[{"data":' + b"[" * 100_000 + b"]" * 100_000 + b"}]}"),
    ("nesting 65", b'{"events":[{"data":' + b"[" * 62 + b"]" * 62 + b"}]}"),
    ("duplicate keys", b'{"events":[{"name":"a","name":"b"}]}'),
    (
        "5000-digit integer",
        raw(good(ref="x")).replace(b'"x"}', b'"x","data":{"n":' + b"9" * 5000 + b"}}"),
    ),
    ("1e400", raw(good()).replace(b"}", b',"data":{"n":1e400}}')),
    ("NaN", raw(good()).replace(b"}", b',"data":{"n":NaN}}')),
    ("Infinity", raw(good()).replace(b"}", b',"data":{"n":-Infinity}}')),
    ("comment", b'{"events":[' + good().encode() + b"] // done\n}"),
    ("trailing comma", b'{"events":[' + good().encode() + b",]}"),
    ("trailing garbage", raw(good()) + b"x"),
    ("two documents", raw(good()) + raw(good())),
    ("empty array", b'{"events":[]}'),
    ("events null", b'{"events":null}'),
    ("1001 events", raw(",".join(good(ref=str(i)) for i in range(1001)))),
]


@pytest.mark.parametrize(("case", "body"), REQUEST_400, ids=[c for c, _ in REQUEST_400])
def test_malformed_requests_are_400(client: Any, data_dir: Path, case: str, body: bytes) -> None:
    response = client.post("/events", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["type"] == "invalid_request_error" and error["message"]
    assert stored_rows(data_dir) == []


# (case, event JSON, field named in the error): the event is refused, the request is not.
EVENT_INVALID = [
    (
        "every field null",
        '{"name":null,"timestamp":null,"customerAlias":null,"ref":null,"data":null}',
        "name",
    ),
    ("empty ref", good(ref=""), "ref"),
    ("whitespace ref", good(ref="  \t "), "ref"),
    ("10,000-char ref", good(ref="x" * 10_000), "ref"),
    ("numeric ref", good(ref=123), "ref"),
    ("NUL in ref", good(ref="a\u0000b"), "ref"),
    ("control char in name", good(name="a\u0007b"), "name"),
    ("year 3000", good(timestamp="3000-01-01T00:00:00Z"), "timestamp"),
    ("24:00", good(timestamp="2024-01-01T24:00:00Z"), "timestamp"),
    ("Feb 30", good(timestamp="2024-02-30T00:00:00Z"), "timestamp"),
    ("date only", good(timestamp="2024-01-01"), "timestamp"),
    ("data array", good(data=[1]), "data"),
    ("event is a string", '"hello"', "object"),
]


@pytest.mark.parametrize(
    ("case", "event", "field"), EVENT_INVALID, ids=[c for c, _, _ in EVENT_INVALID]
)
def test_invalid_events_are_reported_one_by_one(
    client: Any, data_dir: Path, case: str, event: str, field: str
) -> None:
    body = raw(good(ref="keeper") + "," + event)
    response = client.post("/events", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 200
    result = response.json()
    assert [e["ref"] for e in result["validEvents"]] == ["keeper"]
    (invalid,) = result["invalidEvents"]
    assert invalid["event"] == json.loads(event)
    assert field in invalid["error"], invalid["error"]
    assert stored_rows(data_dir, "SELECT id FROM events") == [("keeper",)]


def test_what_is_accepted_is_kept_exactly(client: Any) -> None:
    data = {
        "big": 12345678901234567890123,  # above 2**53: kept exact, not rounded to a double
        "nul\u0000key": "nul\u0000value",  # free-form data may hold any character
        "unicode": "é😀\u2028",
        "wide": {f"k{i}": i for i in range(10_000)},  # 10,000 property keys
    }
    event = {
        **GOOD,
        "ref": "exact",
        "timestamp": "2024-01-01T05:30:00+05:30",
        "data": data,
        "unknownField": {"kept": True},
    }
    body = json.dumps({"events": [event]}).encode()
    response = client.post("/events", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 200
    assert response.json()["validEvents"] == [event]  # echoed as sent, unknown field included
    stored = client.get("/events/exact").json()["event"]
    assert stored["data"] == data
    assert stored["timestamp"] == "2024-01-01T00:00:00.000Z"
    assert "unknownField" not in stored  # not part of Vayu's record: echoed, not stored


def test_long_authorization_header_is_refused_before_any_lookup(
    client: Any, gateway: Gateway
) -> None:
    lookups = []
    original = gateway.store.find_api_key

    async def counting(key_id: str) -> Any:
        lookups.append(key_id)
        return await original(key_id)

    gateway.store.find_api_key = counting  # type: ignore[method-assign]
    response = client.post(
        "/events", content=raw(good()), headers={"Authorization": "Bearer sk_" + "a" * 100_000}
    )
    assert response.status_code == 401
    assert lookups == []
