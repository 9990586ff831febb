"""The Enso, collect and profiles parsers through the binding (rules: `cargo test`)."""

import json
import re

import pytest

from sluice import _core as core

NOW = core.parse_timestamp("2026-11-23T12:38:27Z")
PING = "c523aa41-9f0f-4fc2-bc96-5a8ff5520b78"
UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")

# Enso's documented request body, placeholders filled in.
ENSO_SEED = {
    "events": [
        {
            "CustomerEntityId": "ent_6CsgzAdRgTlzT_9O",
            "metric": "api_calls",
            "value": 123,
            "timestamp": "2023-11-07T05:31:56Z",
            "metadata": {},
            "eventId": "evt_1",
            "JobId": "job_xI_wWRvcLpZzhiJF",
            "jobId": "job_lower",
        }
    ]
}


def body(value: object) -> bytes:
    return json.dumps(value).encode()


def enso(value: object) -> core.Batch:
    return core.parse_enso_batch(body(value), "t", NOW, core.Limits())


def collect(value: object, allowed: list[str] | None = None) -> core.Batch:
    return core.parse_collect_batch(body(value), "t", NOW, core.Limits(), PING, allowed)


def profiles(value: object) -> core.ProfileEvent:
    return core.parse_profiles_event(body(value), NOW, core.Limits())


def test_enso_seed_example() -> None:
    batch = enso(ENSO_SEED)
    assert (batch.total, batch.rejected, len(batch.spans)) == (1, [], 1)
    [row] = batch.events
    assert (row.index, row.name, row.id, row.customer, row.value) == (
        0,
        "api_calls",
        "evt_1",
        "ent_6CsgzAdRgTlzT_9O",
        123.0,
    )
    assert row.timestamp_us == core.parse_timestamp("2023-11-07T05:31:56Z")
    assert row.payload == '{"metadata":{},"JobId":"job_xI_wWRvcLpZzhiJF"}'
    assert row.key == core.idempotency_key("t", "api_calls", "evt_1")
    assert row.content_hash == core.content_hash(
        row.name, row.customer, row.timestamp_us, row.value, row.payload
    )


def test_enso_rejections_and_derived_ids() -> None:
    record = {"CustomerEntityId": "c", "metric": "m", "value": 1.5}
    batch = enso(
        {
            "events": [
                record,
                record,
                {**record, "value": "1.5"},
                {**record, "CustomerEntityId": ""},
                {**record, "metadata": []},
                {**record, "timestamp": "N NaN:NaN:NaN.NaN"},
            ]
        }
    )
    [row] = batch.events
    assert re.fullmatch(r"enso-[0-9a-f]{32}", row.id)
    assert [(i, reason, field) for i, reason, field, _ in batch.rejected] == [
        (1, core.DUPLICATE, "eventId"),
        (2, core.INVALID, "value"),
        (3, core.INVALID, "CustomerEntityId"),
        (4, core.INVALID, "metadata"),
        (5, core.INVALID, "timestamp"),
    ]
    assert [message for *_, message in batch.rejected[:4]] == [
        "duplicate eventId",
        "value must be a finite number.",
        "CustomerEntityId is required.",
        "metadata must be an object.",
    ]
    # A 400-digit integer is valid JSON but overflows a double: invalid, not infinity.
    huge = b"1" + b"0" * 400
    overflow = b'{"events":[{"CustomerEntityId":"c","metric":"m","value":' + huge + b"}]}"
    rejected = core.parse_enso_batch(overflow, "t", NOW, core.Limits()).rejected
    assert rejected == [(0, core.INVALID, "value", "value must be a finite number.")]
    # An overflowing float literal is refused by the parser, for the whole request.
    with pytest.raises(core.InvalidJson):
        core.parse_enso_batch(overflow.replace(huge, b"1e400"), "t", NOW, core.Limits())


@pytest.mark.parametrize("events", [None, {}, [], "x"])
def test_enso_events_array_is_required(events: object) -> None:
    value = {} if events is None else {"events": events}
    with pytest.raises(core.InvalidBatch) as caught:
        enso(value)
    assert (caught.value.param, str(caught.value)) == ("events", "events array is required")


def test_enso_too_many_events_names_the_limit() -> None:
    record = ENSO_SEED["events"][0]
    with pytest.raises(core.InvalidBatch, match="1 to 2 events") as caught:
        core.parse_enso_batch(body({"events": [record] * 3}), "t", NOW, core.Limits(max_events=2))
    assert caught.value.param == "events"


def test_collect_seed_shape() -> None:
    request = {
        "messageHeaders": {"appVersion": "1.2.0"},
        "messageBody": [
            {"eventType": "page_view", "userId": "u1", "properties": {"path": "/"}, "ab": "b"},
            {"type": "click", "eventId": "e2", "timestamp": 1694629543511},
        ],
    }
    batch = collect(request)
    assert batch.rejected == []
    first, second = batch.events
    assert UUID4.fullmatch(first.id)
    assert (first.name, first.customer, first.timestamp_us) == ("page_view", "u1", NOW)
    assert json.loads(first.payload) == {
        "properties": {"path": "/"},
        "attributes": {"ab": "b"},
        "messageheader": {"appVersion": "1.2.0"},
        "pingId": PING,
    }
    assert (second.name, second.id, second.timestamp_us) == ("click", "e2", 1_694_629_543_511_000)


def test_collect_rejections_and_allow_list() -> None:
    events = [{"eventType": "signup"}, {"eventType": "9bad"}, {"eventType": "other"}, 1]
    batch = collect({"messageBody": events}, allowed=["signup", "9bad"])
    assert [(i, field, message) for i, _, field, message in batch.rejected] == [
        (1, "eventType", "invalid event type"),
        (2, "eventType", "invalid event type"),
        (3, "", "Event must be a JSON object."),
    ]
    repeat = collect({"messageBody": [{"eventType": "a", "eventId": "1"}] * 2})
    assert repeat.rejected == [(1, core.DUPLICATE, "eventId", "duplicate eventId")]


@pytest.mark.parametrize(
    ("request_body", "param"),
    [
        ({}, "messageBody"),
        ({"messageBody": []}, "messageBody"),
        ({"messageBody": {}}, "messageBody"),
        ({"messageBody": [{"eventType": "a"}], "messageheader": []}, "messageheader"),
    ],
)
def test_collect_request_errors(request_body: object, param: str) -> None:
    with pytest.raises(core.InvalidBatch) as caught:
        collect(request_body)
    assert caught.value.param == param


def test_profiles_seed_examples() -> None:
    update = profiles({"user": {"email": "a@example.com"}, "event": {"update": {"firstname": "a"}}})
    assert (update.user_field, update.user, update.type, update.name) == (
        "email",
        "a@example.com",
        "update",
        "update",
    )
    assert (update.order_id, update.timestamp_us) == (None, NOW)
    assert update.attributes_json == '{"firstname":"a"}'

    generic = profiles(
        {
            "user": {"email": "a@example.com", "_id": "u1"},
            "event": {"generic": {"generic": {"event_name": "my_event", "firstname": "a"}}},
        }
    )
    assert (generic.user_field, generic.user, generic.type, generic.name) == (
        "_id",
        "u1",
        "generic",
        "my_event",
    )
    assert json.loads(generic.attributes_json) == {"event_name": "my_event", "firstname": "a"}


def test_profiles_confirmation() -> None:
    event = profiles({"user": {"_id": "u1"}, "event": {"confirmation": {"orderId": 42}}})
    assert event.order_id == "42"
    assert event.name == "confirmation"  # the key is (name, order_id), as for any event
    assert "confirmation" in repr(event)


@pytest.mark.parametrize(
    ("request_body", "param", "message"),
    [
        ({"event": {"update": {}}}, "user", "Missing user information"),
        ({"user": {"email": ""}, "event": {"update": {}}}, "user", "Missing user information"),
        ({"user": {"_id": "u"}}, "event", "Missing event information"),
        ({"user": {"_id": "u"}, "event": {}}, "event", "Missing event information"),
        (
            {"user": {"_id": "u"}, "event": {"a": {}, "b": {}}},
            "event",
            "event must have exactly one type",
        ),
        ({"user": {"_id": "u"}, "event": {"a-b": {}}}, "event", "invalid event type"),
        ({"user": {"_id": "u"}, "event": {"update": 1}}, "event", "event.update must be an object"),
        (
            {"user": {"_id": "u"}, "event": {"generic": {"generic": {}}}},
            "event_name",
            "event_name is required.",
        ),
        (
            {"user": {"_id": "u"}, "event": {"confirmation": {}}},
            "orderId",
            "orderId is required.",
        ),
    ],
)
def test_profiles_errors(request_body: object, param: str, message: str) -> None:
    with pytest.raises(core.InvalidBatch) as caught:
        profiles(request_body)
    assert (caught.value.param, str(caught.value)) == (param, message)


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b" " * 262_145, core.PayloadTooLarge),
        (b"{", core.InvalidJson),
        (b'{"events":[NaN]}', core.InvalidJson),
        (b'{"a":1,"a":2}', core.InvalidJson),
    ],
)
def test_size_and_json_errors_everywhere(raw: bytes, error: type[core.CoreError]) -> None:
    limits = core.Limits()
    with pytest.raises(error):
        core.parse_enso_batch(raw, "t", NOW, limits)
    with pytest.raises(error):
        core.parse_collect_batch(raw, "t", NOW, limits, PING, None)
    with pytest.raises(error):
        core.parse_profiles_event(raw, NOW, limits)


def test_content_hash() -> None:
    a = core.content_hash("n", "c", 1, None, '{"x":1.0,"y":[1]}')
    assert a == core.content_hash("n", "c", 1, None, '{ "y": [1], "x": 1 }')
    assert len(a) == 16
    assert a != core.content_hash("n", "c", 1, 0.0, '{"x":1,"y":[1]}')
    with pytest.raises(core.InvalidJson):
        core.content_hash("n", "c", 1, None, "{")
    with pytest.raises(ValueError, match="object"):
        core.content_hash("n", "c", 1, None, "[]")
