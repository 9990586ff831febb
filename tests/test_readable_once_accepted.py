"""Issue 12: what Sluice accepts, every reader can read; a stored row no reader can carry is
skipped and reported, never a stuck read; an identical retry is always a duplicate.

Each test runs on both stores (PostgreSQL where the machine has it).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from sluice import _core
from sluice.model import EventRow
from sluice.readable import MAX_US, MIN_US
from sluice.v1 import events_pb2, events_pb2_grpc, ingest_pb2, ingest_pb2_grpc
from tests.storage.conftest import event_row
from tests.surfaces import Surfaces, open_surfaces

BACKENDS = ["sqlite", "postgresql"]
HUGE = "1" + "0" * 400  # an integer no double carries
YEAR_ZERO = "0001-01-01T00:00:00+14:00"  # year 1 as written, year 0 in UTC


@pytest.fixture(params=BACKENDS)
def surfaces(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Surfaces]:
    with open_surfaces(request.param, tmp_path) as opened:
        yield opened


def vayu_event(ref: str, timestamp: str = "2024-01-02T03:04:05Z", data: str = "{}") -> str:
    return (
        f'{{"name":"api_call","timestamp":"{timestamp}","customerAlias":"c1",'
        f'"ref":"{ref}","data":{data}}}'
    )


def post_vayu(surfaces: Surfaces, *events: str) -> dict:
    response = surfaces.http("POST", "/events", content=f'{{"events":[{",".join(events)}]}}')
    assert response.status_code == 200, response.text
    return response.json()


def stored_count(surfaces: Surfaces) -> int:
    stub = events_pb2_grpc.EventServiceStub(grpc.insecure_channel(surfaces.target))
    return len(list(stub.QueryEvents(events_pb2.QueryEventsRequest(), metadata=surfaces.metadata)))


def register_customer(surfaces: Surfaces, customer: str = "ent_1") -> None:
    assert surfaces.http("PUT", f"/v1/customers/{customer}", json={}).status_code in (200, 201)


# ---- observation 1: poison events are refused at ingest, in each dialect's shape ----


def test_an_instant_before_year_1_in_utc_is_refused_by_every_json_api(surfaces: Surfaces) -> None:
    answer = post_vayu(surfaces, vayu_event("v1", YEAR_ZERO))
    assert answer["validEvents"] == []
    assert "0001-01-01T00:00:00Z" in answer["invalidEvents"][0]["error"]

    register_customer(surfaces)
    enso = surfaces.http(
        "POST",
        "/events/batch",
        json={
            "events": [
                {"CustomerEntityId": "ent_1", "metric": "m", "value": 1, "timestamp": YEAR_ZERO}
            ]
        },
    )
    assert enso.status_code == 200, enso.text
    failed = enso.json()["data"]["failedRecords"]
    assert [(r["index"], r["code"]) for r in failed] == [(0, 2006)]

    collect = surfaces.http(
        "POST",
        "/collect/event",
        json={"messageBody": [{"eventType": "click", "eventId": "c1", "timestamp": YEAR_ZERO}]},
    )
    assert collect.status_code == 400, collect.text
    assert [(d["index"], d["field"]) for d in collect.json()["details"]] == [(0, "timestamp")]
    assert stored_count(surfaces) == 0
    # The documented extremes themselves are accepted, and read back with four-digit years.
    post_vayu(surfaces, vayu_event("first", "0001-01-01T00:00:00Z"))
    got = surfaces.http("GET", "/events/first").json()["event"]
    assert got["timestamp"] == "0001-01-01T00:00:00.000Z"


def test_numbers_a_double_cannot_carry_are_refused_per_event(surfaces: Surfaces) -> None:
    answer = post_vayu(
        surfaces,
        vayu_event("huge", data=f'{{"n":{HUGE}}}'),
        vayu_event("tiny", data='{"deep":[{"n":1e-400}]}'),
        vayu_event("fine", data='{"n":1e308,"m":4.9e-324,"z":0e-400}'),
    )
    assert [v["ref"] for v in answer["validEvents"]] == ["fine"]
    errors = [invalid["error"] for invalid in answer["invalidEvents"]]
    assert errors[0].startswith("data holds the number 1000") and "64-bit float" in errors[0]
    assert errors[1].startswith("data holds the number 1e-400")

    register_customer(surfaces)
    records = [
        {"CustomerEntityId": "ent_1", "metric": "m", "value": 1e-400, "eventId": "a"},
        {"CustomerEntityId": "ent_1", "metric": "m", "value": 1, "eventId": "b"},
    ]
    body = json.dumps({"events": records}).replace("0.0", "1e-400")  # json writes 1e-400 as 0.0
    body = body.replace('"value": 1,', f'"value": 1, "metadata": {{"n": {HUGE}}},')
    enso = surfaces.http("POST", "/events/batch", content=body)
    failed = enso.json()["data"]["failedRecords"]
    assert [(r["index"], r["code"]) for r in failed] == [(0, 2005), (1, 2008)], enso.text

    collect = surfaces.http(
        "POST",
        "/collect/event",
        content=(
            '{"messageBody":[{"eventType":"a","properties":{"n":1e-400}},'
            f'{{"eventType":"b","extra":[{HUGE}]}},{{"eventType":"c"}}]}}'
        ),
    )
    assert collect.status_code == 400, collect.text
    details = collect.json()["details"]
    assert [(d["index"], d["field"]) for d in details] == [(0, "properties"), (1, "")]
    assert details[1]["reason"].startswith("extra holds the number")
    assert stored_count(surfaces) == 1  # "fine" alone


def test_year_1_is_written_with_four_digits() -> None:
    from sluice.web.times import iso_millis

    assert iso_millis(MIN_US) == "0001-01-01T00:00:00.000Z"
    assert iso_millis(_core.parse_timestamp("0099-01-27T00:00:00.0015Z")) == (
        "0099-01-27T00:00:00.001Z"
    )
    assert iso_millis(MAX_US) == "9999-12-31T23:59:59.999Z"


# ---- readers skip a stored row no reader can carry, and go on ----


def bad_rows() -> list[EventRow]:
    """Rows as an older version accepted them, written straight into the store."""

    def row(index: int, ref: str, timestamp_us: int, payload: str) -> EventRow:
        return event_row(index, ref, payload=payload, timestamp_us=timestamp_us)

    at = 1_704_164_645_000_000
    return [
        row(0, "good-1", at, '{"n":1}'),
        row(1, "year-zero", MIN_US - 14 * 3_600_000_000, "{}"),
        row(2, "huge", at + 1, f'{{"n":{HUGE}}}'),
        row(3, "good-2", at + 2, '{"n":2}'),
    ]


def test_readers_skip_an_unreadable_row_report_it_once_and_go_on(surfaces: Surfaces) -> None:
    surfaces.run(surfaces.store.append("acme", "vayu", 1_704_164_645_000_000, bad_rows()))
    good = ["good-1", "good-2"]

    page = surfaces.http("GET", "/events", params={"limit": 1000})
    assert page.status_code == 200, page.text
    assert [event["ref"] for event in page.json()["events"]] == good
    paged, cursor = [], None  # pages of one: the cursor walks past the skipped rows
    while True:
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        answer = surfaces.http("GET", "/events", params=params).json()
        paged += [event["ref"] for event in answer["events"]]
        if not answer["hasMore"]:
            break
        cursor = answer["nextCursor"]
    assert paged == good
    assert surfaces.http("GET", "/events/good-2").json()["event"]["data"] == {"n": 2}
    for ref in ["year-zero", "huge"]:
        one = surfaces.http("GET", f"/events/{ref}")
        assert one.status_code == 500, one.text
        assert one.json()["code"] == "event_unreadable"
        assert "cannot be read back" in one.json()["message"]

    channel = grpc.insecure_channel(surfaces.target)
    stub = events_pb2_grpc.EventServiceStub(channel)
    md = surfaces.metadata
    for ref in ["year-zero", "huge"]:
        with pytest.raises(grpc.RpcError) as caught:
            stub.GetEvent(events_pb2.GetEventRequest(id=ref), metadata=md)
        assert caught.value.code() == grpc.StatusCode.DATA_LOSS
        assert "cannot be read back" in caught.value.details()
    assert stub.GetEvent(events_pb2.GetEventRequest(id="good-1"), metadata=md).event.id == "good-1"
    query = stub.QueryEvents(events_pb2.QueryEventsRequest(), metadata=md)
    assert [reply.event.id for reply in query] == good
    stream = stub.Subscribe(events_pb2.SubscribeRequest(after_offset=0), metadata=md)
    assert [next(stream).event.id for _ in good] == good
    stream.cancel()

    # Each bad row is counted once however often it was skipped.
    assert surfaces.metric("sluice_unreadable_events_total") == 2.0
    channel.close()


# ---- observation 2: identical retries are duplicates, never conflicts or second rows ----


def test_grpc_retries_without_a_timestamp_are_duplicates(surfaces: Surfaces) -> None:
    channel = grpc.insecure_channel(surfaces.target)
    stub = ingest_pb2_grpc.IngestServiceStub(channel)
    event = ingest_pb2.Event(id="r1", name="api_call", customer_id="c1", value=2.5)
    event.data.update({"k": "v"})
    request = ingest_pb2.IngestRequest(events=[event])
    assert stub.Ingest(request, metadata=surfaces.metadata).accepted == 1
    again = stub.Ingest(request, metadata=surfaces.metadata)
    assert [r.reason for r in again.rejected] == [ingest_pb2.REJECT_REASON_DUPLICATE]

    streamed = ingest_pb2.IngestStreamRequest(events=[event], sequence=7)
    acks = list(stub.IngestStream(iter([streamed, streamed]), metadata=surfaces.metadata))
    assert [[r.reason for r in ack.rejected] for ack in acks] == [
        [ingest_pb2.REJECT_REASON_DUPLICATE]
    ] * 2
    assert stored_count(surfaces) == 1
    assert surfaces.metric('sluice_events_total{outcome="duplicate",source="grpc"}') == 3.0
    assert surfaces.metric('sluice_events_total{outcome="conflict",source="grpc"}') == 0.0
    channel.close()


def test_http_retries_are_duplicates_and_stored_once(surfaces: Surfaces) -> None:
    vayu = f'{{"events":[{vayu_event("v1", data="""{"a":1}""")}]}}'
    assert len(surfaces.http("POST", "/events", content=vayu).json()["validEvents"]) == 1
    again = surfaces.http("POST", "/events", content=vayu).json()
    assert [i["error"] for i in again["invalidEvents"]] == ["Event ref already exists."]

    register_customer(surfaces)
    enso = '{"events":[{"CustomerEntityId":"ent_1","metric":"api_calls","value":3}]}'
    first = surfaces.http("POST", "/events/batch", content=enso).json()["data"]["summary"]
    assert first == {"success": 1, "failed": 0, "total": 1}
    retry = surfaces.http("POST", "/events/batch", content=enso).json()["data"]
    assert [(r["code"], r["statusCode"]) for r in retry["failedRecords"]] == [(2007, 409)]

    collect = '{"messageBody":[{"eventType":"click","eventId":"k1","properties":{"x":1}}]}'
    assert surfaces.http("POST", "/collect/event", content=collect).status_code == 201
    assert surfaces.http("POST", "/collect/event", content=collect).status_code == 201
    assert stored_count(surfaces) == 3


def test_conflicts_have_their_own_outcome_in_metrics(surfaces: Surfaces) -> None:
    channel = grpc.insecure_channel(surfaces.target)
    stub = ingest_pb2_grpc.IngestServiceStub(channel)

    def send(value: float) -> ingest_pb2.IngestResponse:
        event = ingest_pb2.Event(id="same", name="api_call", customer_id="c1", value=value)
        return stub.Ingest(ingest_pb2.IngestRequest(events=[event]), metadata=surfaces.metadata)

    assert send(1).accepted == 1
    assert [r.reason for r in send(2).rejected] == [ingest_pb2.REJECT_REASON_CONFLICT]
    assert [r.reason for r in send(1).rejected] == [ingest_pb2.REJECT_REASON_DUPLICATE]
    assert surfaces.metric('sluice_events_total{outcome="conflict",source="grpc"}') == 1.0
    assert surfaces.metric('sluice_events_total{outcome="duplicate",source="grpc"}') == 1.0
    channel.close()


def test_the_utc_range_is_what_readers_hold() -> None:
    assert _core.parse_timestamp("0001-01-01T00:00:00Z") == MIN_US
    assert _core.parse_timestamp("9999-12-31T23:59:59.999999Z") == MAX_US
