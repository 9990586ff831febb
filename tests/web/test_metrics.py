"""`/metrics` in Prometheus text format counts what the service did."""

from __future__ import annotations

import re
from typing import Any

from tests.web.test_vayu import event, post


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample line, or 0 when it is absent."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split(" ")[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_requests_events_and_commits(client: Any) -> None:
    post(client, {"events": [event("m1"), event("m2"), event("m1"), event("", name="")]})
    post(client, {"events": [event("m2")]})
    post(client, b"{")
    client.headers.pop("Authorization")
    response = client.get("/metrics")  # no key needed, like the health probes
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert sample(text, "sluice_events_total", source="vayu", outcome="accepted") == 2
    assert sample(text, "sluice_events_total", source="vayu", outcome="duplicate") == 2
    assert sample(text, "sluice_events_total", source="vayu", outcome="invalid") == 1
    assert (
        sample(text, "sluice_requests_total", protocol="http", route="ingest_events", status="200")
        == 2
    )
    assert (
        sample(text, "sluice_requests_total", protocol="http", route="ingest_events", status="400")
        == 1
    )
    assert sample(text, "sluice_batch_events_count", source="vayu") == 2
    assert sample(text, "sluice_group_commit_rows_sum") >= 2
    assert sample(text, "sluice_commit_seconds_count") >= 1


def test_latency_in_flight_store_queue_and_fsync_metrics(client: Any, gateway: Any) -> None:
    post(client, {"events": [event("l1")]})
    release = gateway.admission.reserve("acme")  # one request waiting on the store
    try:
        text = client.get("/metrics").text
    finally:
        release()
    route = {"protocol": "http", "route": "ingest_events"}
    assert sample(text, "sluice_request_duration_seconds_count", **route) == 1
    assert sample(text, "sluice_request_duration_seconds_sum", **route) > 0
    # /metrics itself is the one request in flight while it renders.
    assert sample(text, "sluice_requests_in_flight", protocol="http") == 1
    assert sample(text, "sluice_store_queue_waiting") == 1
    assert sample(text, "sluice_store_queue_limit") == 128
    assert sample(text, "sluice_commit_fsync_seconds_count") >= 1
    after = client.get("/metrics").text
    assert sample(after, "sluice_store_queue_waiting") == 0


def test_docs_routes_are_labelled_by_their_path(client: Any) -> None:
    assert client.get("/docs/openapi.json").status_code == 200
    text = client.get("/metrics").text
    routes = set(re.findall(r'route="([^"]*)"', text))
    assert "/docs/openapi.json" in routes
    assert not {"_handler", "handle_schema_path_not_found"} & routes
