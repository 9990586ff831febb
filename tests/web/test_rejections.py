"""GET /v1/rejections: refused events kept with what the client was told, per tenant."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from litestar.testing import TestClient

from sluice.gateway import Gateway
from sluice.rejections import MAX_EVENT_CHARS
from tests.conftest import mint_key
from tests.web.conftest import ManualClock
from tests.web.test_vayu import event, post


def rejections(client: TestClient, want: int, **params: Any) -> dict[str, Any]:  # type: ignore[type-arg]
    """The listing once it holds `want` refusals (they are written in the background)."""
    deadline = time.monotonic() + 5
    while True:
        response = client.get("/v1/rejections", params=params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if len(body["rejections"]) >= want or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


def test_a_refused_event_is_kept_with_its_reason_request_id_api_and_json(client) -> None:
    bad = event("r1", name=...)  # no name: invalid
    sent = post(client, {"events": [event("ok"), bad]}, headers={"X-Request-Id": "req-42"})
    assert sent.status_code == 200
    body = rejections(client, 1)
    [kept] = body["rejections"]
    assert kept["requestId"] == "req-42"
    assert (kept["source"], kept["reason"]) == ("vayu", "INVALID")
    assert kept["message"] == sent.json()["invalidEvents"][0]["error"]
    assert '"ref": "r1"' in kept["event"] or '"ref":"r1"' in kept["event"]
    assert {"source": "vayu", "reason": "INVALID", "count": 1} in body["counts"]


def test_duplicates_are_counted_not_kept_and_filters_and_cursors_work(client) -> None:
    post(client, {"events": [event("d1")]})
    post(client, {"events": [event("d1"), event("x", name="upload", timestamp="nope")]})
    post(client, {"events": [event("y", name="api_call", timestamp="nope")]})
    body = rejections(client, 2)
    assert [r["name"] for r in body["rejections"]] == ["api_call", "upload"]  # newest first
    assert {"source": "vayu", "reason": "DUPLICATE", "count": 1} in body["counts"]
    only = rejections(client, 1, name="upload")["rejections"]
    assert [r["name"] for r in only] == ["upload"]
    first = rejections(client, 1, limit=1)
    assert first["hasMore"] is True
    rest = rejections(client, 1, cursor=first["nextCursor"])
    assert [r["name"] for r in rest["rejections"]] == ["upload"]
    assert rest["nextCursor"] is None


def test_an_oversized_event_is_kept_cut_to_a_bound(client) -> None:
    post(client, {"events": [event("big", name=..., data={"blob": "x" * 50_000})]})
    [kept] = rejections(client, 1)["rejections"]
    assert len(kept["event"]) <= MAX_EVENT_CHARS + 1
    assert kept["event"].endswith("…")


def test_another_tenant_sees_none_of_them(client, data_dir: Path) -> None:
    post(client, {"events": [event("r1", name=...)]})
    rejections(client, 1)
    other = {"Authorization": f"Bearer {mint_key(data_dir, 'globex')}"}
    body = client.get("/v1/rejections", headers=other).json()
    assert body["rejections"] == [] and body["counts"] == []


def test_bad_parameters_answer_in_sluice_s_error_shape(client) -> None:
    for params in ({"cursor": "!!"}, {"since": "yesterday"}, {"limit": "0"}):
        response = client.get("/v1/rejections", params=params)
        assert response.status_code == 400, params
        assert set(response.json()) >= {"type", "code", "message"}
    assert client.get("/v1/rejections", headers={"Authorization": ""}).status_code == 401


def test_a_failing_rejections_store_never_fails_an_ingest(client, gateway: Gateway) -> None:
    async def broken(*_args: Any) -> None:
        raise RuntimeError("disk on fire")

    gateway.store.record_rejections = broken  # type: ignore[method-assign]
    before = gateway.metrics.rejections_dropped._value.get()
    response = post(client, {"events": [event("ok"), event("r1", name=...)]})
    assert response.status_code == 200
    assert response.json()["validEvents"] and response.json()["invalidEvents"]
    deadline = time.monotonic() + 5
    while gateway.metrics.rejections_dropped._value.get() == before:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    metrics = client.get("/metrics").text
    assert "sluice_rejections_dropped_total 1.0" in metrics


def test_recorded_refusals_are_counted_in_metrics(client) -> None:
    post(client, {"events": [event("r1", name=...)]})
    rejections(client, 1)
    metrics = client.get("/metrics").text
    assert 'sluice_rejections_recorded_total{reason="INVALID",source="vayu"} 1.0' in metrics


def test_rate_limited_requests_are_counted_for_their_tenant(
    client, data_dir: Path, clock: ManualClock
) -> None:
    clock.monotonic_s = 1000.0  # frozen: the burst does not refill
    limited = {"Authorization": f"Bearer {mint_key(data_dir, 'acme', rate_limit=1)}"}
    statuses = [
        post(client, {"events": [event(f"e{i}")]}, headers=limited).status_code for i in range(3)
    ]
    assert 429 in statuses
    deadline = time.monotonic() + 5
    while True:
        counts = client.get("/v1/rejections").json()["counts"]
        found = [c for c in counts if c["reason"] == "RATE_LIMITED"]
        if found or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert found == [{"source": "", "reason": "RATE_LIMITED", "count": statuses.count(429)}]


def test_a_parsed_event_refused_after_parsing_keeps_its_name_when_its_text_is_cut(client) -> None:
    """A ref of '.' passes the parser and is refused by Vayu's screen: its name comes from the
    parsed row, since its kept text, cut to the bound, no longer parses as JSON."""
    post(client, {"events": [event(".", name="upload", data={"blob": "x" * 50_000})]})
    [kept] = rejections(client, 1)["rejections"]
    assert kept["event"].endswith("…")
    assert (kept["reason"], kept["field"], kept["name"]) == ("INVALID", "ref", "upload")


def test_a_refused_collect_batch_is_kept_for_its_tenant(client, data_dir: Path) -> None:
    """Collect refuses a whole request for one bad event (all or nothing); that refusal is
    kept under the caller's tenant, like every other, and no other tenant sees it."""
    sent = client.post(
        "/collect/event",
        json={"messageBody": [{"eventType": "9bad"}]},
        headers={"X-Request-Id": "req-7"},
    )
    assert sent.status_code == 400
    [kept] = rejections(client, 1)["rejections"]
    assert (kept["source"], kept["reason"], kept["field"]) == ("collect", "INVALID", "eventType")
    assert kept["requestId"] == "req-7"
    assert json.loads(kept["event"]) == {"eventType": "9bad"}
    other = {"Authorization": f"Bearer {mint_key(data_dir, 'globex')}"}
    assert client.get("/v1/rejections", headers=other).json()["rejections"] == []
