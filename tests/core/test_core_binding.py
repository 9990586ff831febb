"""The binding surface of sluice._core (the pure logic is covered by `cargo test`)."""

import json

import pytest

from sluice import _core as core

NOW = core.parse_timestamp("2026-11-23T12:38:27Z")
SEED_EVENT = {
    "name": "api_call",
    "timestamp": "2023-09-13T18:25:43.511Z",
    "customerAlias": "customer_12345",
    "ref": "4f6cf35x-2c4y-483z-a0a9-158621f77a21",
    "data": {"key1": "processing_duration", "key2": "api_url"},
}


def vayu(*events: object) -> bytes:
    return json.dumps({"events": list(events)}, indent=1).encode()


def test_constants() -> None:
    assert (core.INVALID, core.DUPLICATE, core.CONFLICT) == ("INVALID", "DUPLICATE", "CONFLICT")
    assert (core.CLAIMED, core.COMMITTED, core.IN_FLIGHT) == (0, 1, 2)


def test_vayu_seed_event() -> None:
    body = vayu(SEED_EVENT)
    batch = core.parse_vayu_batch(body, "default", NOW, core.Limits())
    assert (batch.total, batch.rejected, batch.dry_run) == (1, [], False)
    [row] = batch.events
    assert (row.index, row.name, row.id, row.customer, row.value) == (
        0,
        "api_call",
        SEED_EVENT["ref"],
        "customer_12345",
        None,
    )
    assert row.timestamp_us == 1_694_629_543_511_000
    assert json.loads(row.payload) == SEED_EVENT["data"]
    assert row.key == core.idempotency_key("default", "api_call", row.id)
    assert len(row.key) == len(row.content_hash) == 16
    assert "EventRow(index=0, name='api_call'" in repr(row)
    with pytest.raises(AttributeError):
        row.name = "other"  # type: ignore[misc]
    [(start, end)] = batch.spans
    assert json.loads(body[start:end]) == SEED_EVENT


def test_repeat_in_batch() -> None:
    changed = {**SEED_EVENT, "customerAlias": "other"}
    batch = core.parse_vayu_batch(vayu(SEED_EVENT, SEED_EVENT, changed), "t", NOW, core.Limits())
    assert batch.rejected == [
        (1, core.DUPLICATE, "ref", "Event ref already exists."),
        (2, core.CONFLICT, "ref", "Event ref already exists."),
    ]


def test_rejections_name_the_field() -> None:
    bad = [{**SEED_EVENT, "ref": f"r{i}", field: None} for i, field in enumerate(["name", "data"])]
    body = vayu(*bad, {**SEED_EVENT, "timestamp": "soon"}, 7)
    batch = core.parse_vayu_batch(body, "t", NOW, core.Limits())
    assert [(index, field) for index, _reason, field, _message in batch.rejected] == [
        (0, "name"),
        (2, "timestamp"),
        (3, ""),
    ]
    assert batch.rejected[1][3].startswith("timestamp must be an ISO 8601 date-time")


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b" " * 262_145, core.PayloadTooLarge),
        (b'{"events":[1,]}', core.InvalidJson),
        (b"\xef\xbb\xbf{}", core.InvalidJson),
        (b'{"events":{}}', core.InvalidBatch),
        (b'{"events":[]}', core.InvalidBatch),
    ],
)
def test_request_errors(body: bytes, error: type[core.CoreError]) -> None:
    with pytest.raises(error) as caught:
        core.parse_vayu_batch(body, "t", NOW, core.Limits())
    assert isinstance(caught.value, core.CoreError)
    if error is core.InvalidBatch:
        assert caught.value.param == "events"  # type: ignore[attr-defined]


def test_ingest_request() -> None:
    # IngestRequest{events: [Event{id: "e1", name: "n", customer_id: "c"}], dry_run: true}
    event = b"\x0a\x02e1\x12\x01n\x1a\x01c"
    body = b"\x0a" + bytes([len(event)]) + event + b"\x10\x01"
    batch = core.parse_ingest_request(body, "t", NOW, core.Limits())
    assert batch.dry_run and batch.spans == []
    [row] = batch.events
    assert (row.name, row.id, row.customer, row.timestamp_us, row.value, row.payload) == (
        "n",
        "e1",
        "c",
        NOW,
        None,
        "{}",
    )
    with pytest.raises(core.InvalidBatch, match="malformed IngestRequest"):
        core.parse_ingest_request(b"\xff\xff", "t", NOW, core.Limits())


def test_timestamps() -> None:
    assert core.parse_timestamp("2026-11-23T12:38:27.311250+00:00") == 1_795_437_507_311_250
    assert core.parse_timestamp("2026-11-23T11:38:27.311250+0000") == 1_795_433_907_311_250
    assert core.parse_timestamp("2024-01-02T03:04:05") == 1_704_164_645_000_000
    with pytest.raises(core.InvalidTimestamp):
        core.parse_timestamp("2023-02-30T00:00:00Z")


def test_limits() -> None:
    limits = core.Limits(max_events=2)
    assert (limits.max_body_bytes, limits.max_events, limits.max_depth) == (262_144, 2, 64)
    assert limits.max_future_us == 3_600_000_000
    deeper = core.Limits(max_events=2, max_depth=10)
    assert (deeper.max_events, deeper.max_depth) == (2, 10)
    with pytest.raises(ValueError):
        core.Limits(max_depth=0)
    with pytest.raises(AttributeError):  # settled once, when constructed
        limits.max_depth = 10  # type: ignore[misc]
    assert limits.max_depth == 64


def test_rows_made_in_python() -> None:
    key = core.idempotency_key("t", "n", "i")
    fields = {"index": 0, "key": key, "name": "n", "id": "i", "customer": "c"}
    row = core.EventRow(
        **fields, timestamp_us=NOW, value=None, payload="{}", content_hash=bytes(16)
    )
    assert (row.index, row.key, row.name, row.id, row.customer) == tuple(fields.values())
    assert (row.timestamp_us, row.value, row.payload, row.content_hash) == (
        NOW,
        None,
        "{}",
        bytes(16),
    )
    with pytest.raises(ValueError, match="content_hash must be 16 bytes"):
        core.EventRow(**fields, timestamp_us=NOW, value=1.5, payload="{}", content_hash=b"x")


def test_index() -> None:
    index = core.IdempotencyIndex()
    a, b, c = (core.idempotency_key("t", "n", str(i)) for i in range(3))
    assert index.claim([a, b, a]) == [core.CLAIMED, core.CLAIMED, core.IN_FLIGHT]
    index.confirm([a])
    index.release([a, b])
    assert len(index) == 1
    assert index.claim([a, b]) == [core.COMMITTED, core.CLAIMED]
    index.load(c + b)
    assert len(index) == 3
    with pytest.raises(ValueError):
        index.load(b"x" * 17)
    with pytest.raises(ValueError):
        index.claim([b"short"])
