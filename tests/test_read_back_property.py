"""Property (issue 12): every event the API accepts reads back as sent on every surface.

Hypothesis generates Vayu events (names, refs, customers, instants across the whole range
written with offsets, fractions and separators, and nested data with integers, floats,
strings and unicode), sends each batch through `POST /events`, and reads every event back
through Vayu `GET /events/{ref}` and `GET /events`, gRPC GetEvent, QueryEvents and
Subscribe, and the NATS body, comparing each with what was sent as that surface represents
it (Vayu: milliseconds; gRPC: microseconds and a Struct of doubles; NATS: microseconds).

On PostgreSQL with NATS when the machine has them (the outbox relay runs in-process),
else on SQLite without the NATS surface.
"""

from __future__ import annotations

import asyncio
import datetime
import itertools
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import grpc
import pytest
from google.protobuf.json_format import MessageToDict
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sluice.readable import MAX_US, MIN_US
from sluice.v1 import events_pb2, events_pb2_grpc
from tests.scaleout.engines import NATS_URL, postgres_missing
from tests.surfaces import Surfaces, open_surfaces

EXAMPLES = 200  # batches per run, of 1 to 4 events each (about 500 events)
_YEAR_1 = datetime.datetime(1, 1, 1)
_serial = itertools.count()
# Instants up to the start of the run (the API refuses more than an hour ahead); fixed once so
# that Hypothesis replays the same examples.
NOW_US = time.time_ns() // 1000


def _nats_missing() -> bool:
    import socket

    port = int(NATS_URL.rsplit(":", 1)[1])
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) != 0


class Reader:
    """A NATS consumer of the test's own stream (None where NATS or PostgreSQL is absent)."""

    def __init__(self, surfaces: Surfaces, stream: str, prefix: str) -> None:
        self.surfaces, self.stream, self.prefix = surfaces, stream, prefix
        self._client: Any = None
        self._sub: Any = None

    async def open(self) -> None:
        import nats
        from nats.js.api import AckPolicy, ConsumerConfig

        self._client = await nats.connect(NATS_URL)
        js = self._client.jetstream()
        deadline = time.monotonic() + 10
        while True:  # the relay makes the stream on its first round
            try:
                await js.stream_info(self.stream)
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.05)
        config = ConsumerConfig(ack_policy=AckPolicy.NONE)
        self._sub = await js.pull_subscribe(f"{self.prefix}.>", stream=self.stream, config=config)

    async def take(self, count: int) -> dict[int, dict[str, Any]]:
        """The next `count` messages' bodies by offset."""
        got: dict[int, dict[str, Any]] = {}
        deadline = time.monotonic() + 10
        while len(got) < count and time.monotonic() < deadline:
            try:
                messages = await self._sub.fetch(count - len(got), timeout=2)
            except Exception:
                continue
            for message in messages:
                got[int(message.headers["Sluice-Offset"])] = json.loads(message.data)
        return got

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Surfaces, Reader | None]]:
    tmp_path: Path = tmp_path_factory.mktemp("read-back")
    with_nats = postgres_missing() is None and not _nats_missing()
    tag = uuid.uuid4().hex[:10]
    stream, prefix = f"SLUICE_PROP_{tag}", f"sluice_prop_{tag}"
    backend = "postgresql" if with_nats else "sqlite"
    with open_surfaces(backend, tmp_path, (stream, prefix) if with_nats else None) as surfaces:
        reader = Reader(surfaces, stream, prefix) if with_nats else None
        if reader is not None:
            surfaces.run(reader.open())
        try:
            yield surfaces, reader
        finally:
            if reader is not None:
                surfaces.run(reader.close())
                surfaces.run(_delete_stream(stream))
        assert surfaces.metric("sluice_unreadable_events_total") == 0.0
        print(f"read back {next(_serial)} generated events on {backend}")  # shown with -s


async def _delete_stream(stream: str) -> None:
    import nats

    client = await nats.connect(NATS_URL)
    try:
        await client.jetstream().delete_stream(stream)
    finally:
        await client.close()


# ---- what is generated ----

# Identifiers: not blank, no control characters (the API refuses those), any other unicode.
identifiers = st.text(
    st.characters(exclude_categories=("Cc", "Cs")), min_size=1, max_size=12
).filter(lambda text: any(not c.isspace() for c in text))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.integers(min_value=-(10**300), max_value=10**300),
    st.floats(allow_nan=False, allow_infinity=False),  # subnormals, -0.0 and 1.8e308 included
    st.text(max_size=10),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)
offsets_minutes = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59)


@dataclass(frozen=True)
class Sent:
    name: str
    ref: str
    customer: str
    timestamp: str  # as written
    instant_us: int  # what it means in UTC, to the microsecond
    data: dict[str, Any]

    def body(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "timestamp": self.timestamp,
            "customerAlias": self.customer,
            "ref": self.ref,
            "data": self.data,
        }


@st.composite
def instants(draw: st.DrawFn) -> tuple[str, int]:
    """(RFC 3339 text with an offset and 0-9 fraction digits, its UTC microseconds)."""
    now_us = NOW_US
    instant = draw(
        st.one_of(
            st.integers(min_value=MIN_US, max_value=now_us),
            st.sampled_from([MIN_US, MIN_US + 999_999, 0, -1, now_us - 1]),
        )
    )
    offset = draw(offsets_minutes | st.just(0))
    local_us = instant + offset * 60_000_000
    if not MIN_US <= local_us <= MAX_US:  # the local time must be writable with 4-digit years
        offset, local_us = 0, instant
    local = _YEAR_1 + datetime.timedelta(microseconds=local_us - MIN_US)
    digits = draw(st.sampled_from([0, 1, 3, 6, 9]))
    shown = local.microsecond // 10 ** (6 - min(digits, 6))
    fraction = ""
    if digits:
        fraction = "." + (
            f"{shown:06d}{draw(st.integers(0, 999)):03d}" if digits == 9 else f"{shown:0{digits}d}"
        )
    kept_us = local.microsecond - shown * 10 ** (6 - min(digits, 6)) if digits < 6 else 0
    sign = "+" if offset >= 0 else "-"
    hours, minutes = divmod(abs(offset), 60)
    zones = [f"{sign}{hours:02d}:{minutes:02d}", f"{sign}{hours:02d}{minutes:02d}"]
    if offset == 0:
        zones += ["Z", "z", ""]
    zone = draw(st.sampled_from(zones))
    separator = draw(st.sampled_from(["T", "T", " ", "t"]))
    text = (
        f"{local.year:04d}-{local.month:02d}-{local.day:02d}{separator}"
        f"{local.hour:02d}:{local.minute:02d}:{local.second:02d}{fraction}{zone}"
    )
    return text, instant - kept_us


@st.composite
def events(draw: st.DrawFn) -> Sent:
    timestamp, instant_us = draw(instants())
    return Sent(
        name=draw(identifiers),
        ref=f"{draw(identifiers)}~{next(_serial)}",  # unique in the run: get acts on the first
        customer=draw(identifiers),
        timestamp=timestamp,
        instant_us=instant_us,
        data=draw(st.dictionaries(st.text(max_size=6), json_values, max_size=4)),
    )


# ---- how each surface represents what was sent ----


def vayu_time(us: int) -> str:
    t = _YEAR_1 + datetime.timedelta(microseconds=us - MIN_US)
    return f"{t:%m-%dT%H:%M:%S}".join([f"{t.year:04d}-", f".{t.microsecond // 1000:03d}Z"])


def rfc3339_us(us: int) -> str:
    t = _YEAR_1 + datetime.timedelta(microseconds=us - MIN_US)
    return f"{t.year:04d}-{t:%m-%dT%H:%M:%S}.{t.microsecond:06d}Z"


def as_doubles(value: Any) -> Any:
    """A JSON value as google.protobuf.Struct carries it: every number a double."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, list):
        return [as_doubles(item) for item in value]
    return {key: as_doubles(item) for key, item in value.items()}


def check_vayu(event: dict[str, Any], sent: Sent) -> None:
    assert (event["name"], event["ref"], event["customerAlias"]) == (
        sent.name,
        sent.ref,
        sent.customer,
    )
    assert event["timestamp"] == vayu_time(sent.instant_us)
    assert event["data"] == sent.data
    assert json.dumps(event["data"], sort_keys=True) == json.dumps(sent.data, sort_keys=True)


def check_grpc(event: events_pb2.StoredEvent, sent: Sent) -> None:
    assert (event.name, event.id, event.customer_id) == (sent.name, sent.ref, sent.customer)
    assert event.timestamp.ToMicroseconds() == sent.instant_us
    assert MessageToDict(event.data) == as_doubles(sent.data)


def check_nats(body: dict[str, Any], sent: Sent) -> None:
    assert (body["name"], body["id"], body["customer"]) == (sent.name, sent.ref, sent.customer)
    moment = datetime.datetime.fromisoformat(body["timestamp"].replace("Z", "+00:00"))
    naive = moment.replace(tzinfo=None)
    assert (naive - _YEAR_1) // datetime.timedelta(microseconds=1) + MIN_US == sent.instant_us
    assert body["data"] == sent.data


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(batch=st.lists(events(), min_size=1, max_size=4))
def test_every_accepted_event_reads_back_as_sent_on_every_surface(
    world: tuple[Surfaces, Reader | None], batch: list[Sent]
) -> None:
    surfaces, reader = world
    answer = surfaces.http("POST", "/events", json={"events": [sent.body() for sent in batch]})
    assert answer.status_code == 200, answer.text
    assert answer.json()["invalidEvents"] == [], answer.text
    channel = grpc.insecure_channel(surfaces.target)
    stub = events_pb2_grpc.EventServiceStub(channel)
    md = surfaces.metadata
    offsets = {}
    for sent in batch:
        got = surfaces.http("GET", f"/events/{quote(sent.ref, safe='')}")
        assert got.status_code == 200, (sent, got.text)
        check_vayu(got.json()["event"], sent)
        offsets[int(got.json()["event"]["id"])] = sent

        window = {
            "startTime": rfc3339_us(sent.instant_us),
            "endTime": rfc3339_us(sent.instant_us + 1),
            "eventName": sent.name,
            "limit": 1000,
        }
        page = surfaces.http("GET", "/events", params=window).json()["events"]
        [queried] = [event for event in page if event["ref"] == sent.ref]
        check_vayu(queried, sent)

        one = stub.GetEvent(events_pb2.GetEventRequest(id=sent.ref, name=sent.name), metadata=md)
        check_grpc(one.event, sent)
        request = events_pb2.QueryEventsRequest(name=sent.name)
        request.start_time.FromMicroseconds(sent.instant_us)
        request.end_time.FromMicroseconds(sent.instant_us + 1)
        [streamed] = [
            reply.event
            for reply in stub.QueryEvents(request, metadata=md)
            if reply.event.id == sent.ref
        ]
        check_grpc(streamed, sent)

    subscription = stub.Subscribe(
        events_pb2.SubscribeRequest(after_offset=min(offsets) - 1), metadata=md
    )
    for _ in batch:
        event = next(subscription).event
        check_grpc(event, offsets[event.offset])
    subscription.cancel()
    channel.close()

    if reader is not None:
        published = surfaces.run(reader.take(len(batch)))
        assert set(published) == set(offsets)
        for offset, body in published.items():
            check_nats(body, offsets[offset])
