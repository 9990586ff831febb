"""The EventStore contract, run over every backend (see conftest.BACKENDS)."""

from __future__ import annotations

import asyncio

import pytest

from sluice.storage import EventStore
from tests.storage.conftest import event_row

pytestmark = pytest.mark.anyio


async def test_offsets_increase_and_the_key_is_unique(store: EventStore) -> None:
    first = await store.append("acme", "vayu", 1, [event_row(0, "a"), event_row(1, "b")])
    assert first[0] is not None and first[1] is not None and first[1] > first[0]
    again = await store.append("acme", "vayu", 2, [event_row(0, "b"), event_row(1, "c")])
    assert again[0] is None
    assert again[1] is not None and again[1] > first[1]
    log = await store.read_log("acme", 0, 10)
    assert [e.id for e in log] == ["a", "b", "c"]
    assert [e.offset for e in log] == sorted(e.offset for e in log)
    assert [e.id for e in await store.read_log("acme", log[0].offset, 10)] == ["b", "c"]


async def test_keys_are_scoped_by_tenant_and_name(store: EventStore) -> None:
    results = await store.append(
        "acme", "vayu", 1, [event_row(0, "a"), event_row(1, "a", name="other")]
    )
    assert None not in results
    assert (await store.append("globex", "vayu", 1, [event_row(0, "a", tenant="globex")]))[0]
    assert [e.tenant for e in await store.read_log("globex", 0, 10)] == ["globex"]
    assert len(await store.committed_keys()) == 16 * 3


async def test_a_stored_event_keeps_every_field(store: EventStore) -> None:
    row = event_row(0, "full", payload='{"k":[1,2.5,"x"]}')
    await store.append("acme", "grpc", 1234, [row])
    stored = await store.get_event("acme", "api_call", "full")
    assert stored is not None
    assert (stored.tenant, stored.id, stored.source, stored.name, stored.customer) == (
        "acme",
        "full",
        "grpc",
        "api_call",
        "cust",
    )
    assert (stored.timestamp, stored.value, stored.payload, stored.received_at) == (
        1_700_000_000_000_000,
        None,
        '{"k":[1,2.5,"x"]}',
        1234,
    )
    assert stored.deleted_at is None and stored.content_hash == bytes(16)
    assert await store.get_event("globex", "api_call", "full") is None


async def test_id_lookups_and_deletes_can_be_narrowed_to_one_name(store: EventStore) -> None:
    await store.append("acme", "vayu", 1, [event_row(0, "r"), event_row(1, "r", name="other")])
    assert [e.name for e in await store.live_events_by_id("acme", ["r"])] == ["api_call"]
    assert [e.name for e in await store.live_events_by_id("acme", ["r"], "other")] == ["other"]
    deleted = await store.delete_events_by_id("acme", ["r"], 5, "other")
    assert [(e.name, e.deleted_at) for e in deleted] == [("other", 5)]
    assert await store.live_events_by_id("acme", ["r"], "other") == []
    assert [e.name for e in await store.live_events_by_id("acme", ["r"])] == ["api_call"]


async def test_racing_appends_store_each_key_once(store: EventStore) -> None:
    results = await asyncio.gather(
        *(store.append("acme", "vayu", 1, [event_row(0, "same")]) for _ in range(16))
    )
    assert sum(r[0] is not None for r in results) == 1
    assert len(await store.read_log("acme", 0, 100)) == 1
