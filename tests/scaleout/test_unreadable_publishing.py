"""The NATS relay skips a queued event no reader can carry (issue 12): it is reported and
left out of the stream, and everything queued behind it is published."""

from __future__ import annotations

import asyncio
import time

import pytest

from sluice import _core
from sluice.metrics import Metrics
from sluice.model import EventRow
from sluice.publishing import OutboxRelay
from sluice.readable import MIN_US, UnreadableEvents
from tests.scaleout.conftest import stream_msg_ids
from tests.scaleout.engines import NATS_URL
from tests.storage.conftest import event_row

pytestmark = pytest.mark.anyio


def row(index: int, ref: str, timestamp_us: int, payload: str = "{}") -> EventRow:
    return event_row(index, ref, payload=payload, timestamp_us=timestamp_us)


async def test_an_unreadable_queued_event_is_skipped_and_the_rest_published(
    postgres_url: str, nats_stream: tuple[str, str]
) -> None:
    from sluice.storage.postgres import PostgresStore

    stream, prefix = nats_stream
    store = PostgresStore(postgres_url, outbox=True)
    await store.open()
    metrics = Metrics()
    relay = OutboxRelay(
        store, NATS_URL, stream, prefix, poll_seconds=0.1, unreadable=UnreadableEvents(metrics)
    )
    at = 1_704_164_645_000_000
    rows = [
        row(0, "good-1", at),
        row(1, "year-zero", MIN_US - 1),
        row(2, "huge", at, '{"n":1' + "0" * 400 + "}"),
        row(3, "tiny", at, '{"n":1e-400}'),
        *(row(4 + i, f"after-{i}", at) for i in range(20)),
    ]
    try:
        await store.append("acme", "vayu", at, rows)
        relay.start()
        deadline = time.monotonic() + 15
        while await store.outbox_depth() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert await store.outbox_depth() == 0
    finally:
        await relay.stop()
        await store.close()
    published = await asyncio.to_thread(stream_msg_ids, stream, prefix)
    assert len(published) == len(rows) - 3 and set(published.values()) == {1}
    skipped = {
        _core.idempotency_key("acme", "api_call", ref).hex()
        for ref in ["year-zero", "huge", "tiny"]
    }
    assert not skipped & set(published)
    assert metrics.unreadable_events._value.get() == 3
