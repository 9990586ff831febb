"""What an SRE reads: one access line per HTTP request and gRPC call, no ANSI escapes, grpc's
DEBUG noise off unless asked, and a Grafana dashboard whose every metric /metrics has."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import grpc
import httpx
import pytest

from sluice import logs
from sluice.v1 import ingest_pb2, ingest_pb2_grpc
from tests.conftest import ServerProcess

DASHBOARD = Path(__file__).resolve().parents[1] / "docs" / "grafana-dashboard.json"


def test_json_lines_drop_uvicorns_coloured_copy_of_the_message() -> None:
    record = logging.makeLogRecord(
        {"msg": "Started", "levelname": "INFO", "color_message": "\x1b[32mStarted\x1b[0m"}
    )
    line = logs.JsonFormatter().format(record)
    assert "\x1b" not in line and "color_message" not in json.loads(line)


def test_grpc_and_asyncio_loggers_have_their_own_level() -> None:
    before = {name: logging.getLogger(name).level for name in ("", *logs.GRPC_LOGGERS)}
    try:
        logs.configure("DEBUG")
        assert logging.getLogger().level == logging.DEBUG
        assert {logging.getLogger(n).level for n in logs.GRPC_LOGGERS} == {logging.WARNING}
        logs.configure("DEBUG", "DEBUG")
        assert {logging.getLogger(n).level for n in logs.GRPC_LOGGERS} == {logging.DEBUG}
    finally:
        for name, level in before.items():
            logging.getLogger(name).setLevel(level)


def dashboard_metrics() -> set[str]:
    """The metric names every panel's queries use (a histogram's by its base name)."""
    names = set()
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            found = re.findall(r"\bsluice_[a-z_]+", target["expr"])
            assert found, target["expr"]
            names.update(re.sub(r"_(bucket|sum|count)$", "", name) for name in found)
    return names


def exposed_metrics(text: str) -> set[str]:
    return set(re.findall(r"^# TYPE (\w+) ", text, re.MULTILINE))


@pytest.mark.slow
def test_access_lines_metrics_and_the_dashboard_after_real_traffic(data_dir: Path) -> None:
    server = ServerProcess(data_dir, env={"SLUICE_LOG_LEVEL": "debug"}).start()
    try:
        key = server.bootstrap_key
        event = {
            "name": "api_call",
            "timestamp": "2024-05-01T10:00:00Z",
            "customerAlias": "c1",
            "ref": "h1",
            "data": {},
        }
        response = httpx.post(
            f"{server.http_url}/events",
            json={"events": [event, {**event, "ref": ""}]},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert response.status_code == 200
        assert httpx.get(f"{server.http_url}/docs/openapi.json").status_code == 200
        with grpc.insecure_channel(server.grpc_target) as channel:
            one = ingest_pb2.Event(id="g1", name="api_call", customer_id="c1")
            one.timestamp.FromJsonString("2024-05-01T10:00:00Z")
            reply = ingest_pb2_grpc.IngestServiceStub(channel).Ingest(
                ingest_pb2.IngestRequest(events=[one, one]),
                metadata=(("authorization", f"Bearer {key}"),),
            )
        assert reply.accepted == 1
        metrics = httpx.get(f"{server.http_url}/metrics").text
    finally:
        assert server.stop() == 0
    log = (data_dir.parent / "server.log").read_text()
    assert "\x1b" not in log and "color_message" not in log
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    loggers = {line["logger"] for line in lines}
    assert not {name for name in loggers if name.startswith(("grpc", "asyncio"))}, loggers

    access = [line for line in lines if line["logger"] == "sluice.access"]
    http_ingest = next(line for line in access if line.get("route") == "ingest_events")
    assert http_ingest["status"] == 200 and http_ingest["duration_ms"] > 0
    assert http_ingest["tenant"] == "default" and len(http_ingest["key_id"]) == 16
    assert http_ingest["client"].startswith("127.0.0.1:")
    assert (http_ingest["events_in"], http_ingest["events_accepted"]) == (2, 1)
    assert http_ingest["events_rejected"] == 1
    grpc_ingest = next(line for line in access if line.get("protocol") == "grpc")
    assert grpc_ingest["method"] == "Ingest" and grpc_ingest["status"] == "OK"
    assert grpc_ingest["tenant"] == "default" and grpc_ingest["key_id"] == http_ingest["key_id"]
    assert grpc_ingest["client"].startswith("ipv4:127.0.0.1:") and grpc_ingest["duration_ms"] > 0
    assert (grpc_ingest["events_in"], grpc_ingest["events_accepted"]) == (2, 1)
    docs = next(line for line in access if line.get("path") == "/docs/openapi.json")
    assert docs["route"] == "/docs/openapi.json" and "tenant" not in docs

    assert 'sluice_request_duration_seconds_count{protocol="grpc",route="Ingest"} 1.0' in metrics
    missing = dashboard_metrics() - exposed_metrics(metrics)
    assert not missing, f"the dashboard uses metrics /metrics does not have: {sorted(missing)}"
