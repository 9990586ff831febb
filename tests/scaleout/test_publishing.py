"""The outbox relay against the machine's NATS: subjects, message shape, and a relay that dies
between publishing and marking republishes without a duplicate in the stream."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from sluice.model import StoredEvent
from sluice.publishing import OutboxRelay, message_body, subject_for
from tests.scaleout.conftest import stream_msg_ids
from tests.scaleout.engines import NATS_URL, ThrowawayNats
from tests.storage.conftest import event_row

pytestmark = pytest.mark.anyio


def test_subjects_are_one_safe_token_per_name_and_never_collide() -> None:
    assert subject_for("sluice", "acme", "api_call") == "sluice.acme.api_call"
    assert subject_for("sluice", "acme", "page.view") == "sluice.acme.page%2Eview"
    assert subject_for("s", "a b", "x*>") == "s.a%20b.x%2A%3E"
    assert subject_for("s", "t", "café") == "s.t.caf%C3%A9"
    assert subject_for("s", "t", "a.b") != subject_for("s", "t", "a_b")
    assert subject_for("s", "t", "%2E") != subject_for("s", "t", ".")


def test_a_message_carries_the_event_and_its_payload_byte_for_byte() -> None:
    event = StoredEvent(
        "acme", 7, "r1", "vayu", "api_call", "c1", 1_700_000_000_123_456, 2.5,
        '{"k": [1, 2.50]}', 1_700_000_001_000_000, None, bytes(16),
    )  # fmt: skip
    body = message_body(event)
    assert body.endswith(b',"data":{"k": [1, 2.50]}}')
    assert json.loads(body) == {
        "tenant": "acme",
        "offset": 7,
        "id": "r1",
        "source": "vayu",
        "name": "api_call",
        "customer": "c1",
        "timestamp": "2023-11-14T22:13:20.123456Z",
        "value": 2.5,
        "receivedAt": "2023-11-14T22:13:21Z",
        "data": {"k": [1, 2.5]},
    }


class DiesBeforeMarking:
    """The store's outbox, except that the first claim is published and then the instance
    "dies" before the claim commits: its events stay queued."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.died = False

    def on_outbox_rows(self, callback: Callable[[], None]) -> None:
        self.store.on_outbox_rows(callback)

    @contextlib.asynccontextmanager
    async def unpublished(self, limit: int) -> AsyncIterator[list[tuple[bytes, StoredEvent]]]:
        async with self.store.unpublished(limit) as claimed:
            yield claimed
            if claimed and not self.died:
                self.died = True
                raise ConnectionResetError("the instance died between publish and mark")


async def test_a_relay_that_dies_before_marking_republishes_without_a_duplicate(
    postgres_url: str, nats_stream: tuple[str, str]
) -> None:
    from sluice.storage.postgres import PostgresStore

    stream, prefix = nats_stream
    store = PostgresStore(postgres_url, outbox=True)
    await store.open()
    outbox = DiesBeforeMarking(store)
    relay = OutboxRelay(outbox, NATS_URL, stream, prefix, poll_seconds=0.1)
    try:
        rows = [event_row(i, f"e{i}", name="page.view") for i in range(120)]
        await store.append("acme", "vayu", 1, rows)
        relay.start()
        deadline = time.monotonic() + 15
        while await store.outbox_depth() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert outbox.died and await store.outbox_depth() == 0
        assert relay.published == 120  # only the second, marked, claim counts
    finally:
        await relay.stop()
        await store.close()
    published = await asyncio.to_thread(stream_msg_ids, stream, prefix)
    assert len(published) == 120 and set(published.values()) == {1}


async def test_events_accepted_while_nats_is_down_are_published_when_it_is_back(
    postgres_url: str,
) -> None:
    from sluice.storage.postgres import PostgresStore

    nats_server = ThrowawayNats().start()
    store = PostgresStore(postgres_url, outbox=True)
    await store.open()
    relay = OutboxRelay(store, nats_server.url, "OUTAGE", "outage", poll_seconds=0.1)
    try:
        relay.start()
        await store.append("acme", "vayu", 1, [event_row(0, "before")])
        await wait_for_empty_outbox(store)
        nats_server.stop()  # its stream goes with it
        await store.append("acme", "vayu", 1, [event_row(i, f"during-{i}") for i in range(30)])
        await asyncio.sleep(1.0)
        assert await store.outbox_depth() == 30  # accepted, waiting
        nats_server.start()  # same port; the relay reconnects and makes the stream again
        await wait_for_empty_outbox(store, seconds=20)
        published = await asyncio.to_thread(stream_msg_ids, "OUTAGE", "outage", nats_server.url)
        assert len(published) == 30 and set(published.values()) == {1}
    finally:
        await relay.stop()
        await store.close()
        nats_server.stop()


async def wait_for_empty_outbox(store: Any, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while await store.outbox_depth():
        assert time.monotonic() < deadline, "the outbox was not emptied"
        await asyncio.sleep(0.05)
