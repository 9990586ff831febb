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


async def test_each_tenant_numbers_its_own_log_from_1_without_gaps(store: EventStore) -> None:
    """Offsets are the tenant's own log position (docs/contracts.md §1): two tenants writing in
    turn, with repeated keys that store nothing, each see 1..n and nothing of the other."""
    expected: dict[str, list[str]] = {"acme": [], "globex": []}
    for turn in range(6):
        for tenant in ("acme", "globex") if turn % 2 else ("globex", "acme"):
            ids = [f"{tenant}-{turn}-{i}" for i in range(turn + 1)]
            # A key stored before and a key repeated within the batch take no offset.
            repeat = expected[tenant][-1:] + ids[:1]
            rows = [event_row(i, id_, tenant=tenant) for i, id_ in enumerate([*ids, *repeat])]
            offsets = await store.append(tenant, "vayu", turn, rows)
            first = len(expected[tenant]) + 1
            assert offsets == [*range(first, first + len(ids)), *[None] * len(repeat)]
            expected[tenant] += ids
    for tenant, ids in expected.items():
        log = await store.read_log(tenant, 0, 100)
        assert [(e.offset, e.id) for e in log] == list(enumerate(ids, start=1))
        assert {e.tenant for e in log} == {tenant}


async def test_racing_appends_of_two_tenants_number_each_log_in_commit_order(
    store: EventStore,
) -> None:
    appends = [
        store.append(tenant, "vayu", 1, [event_row(i, f"{n}-{i}", tenant=tenant) for i in range(3)])
        for n in range(20)
        for tenant in ("acme", "globex")
    ]
    results = await asyncio.gather(*appends)
    for tenant in ("acme", "globex"):
        offsets = sorted(o for r in results[tenant == "globex" :: 2] for o in r if o is not None)
        assert offsets == list(range(1, 61))
        log = await store.read_log(tenant, 0, 100)
        assert [e.offset for e in log] == list(range(1, 61))
        # Each append's rows are consecutive, in the order sent.
        by_id = {e.id: e.offset for e in log}
        for n in range(20):
            assert [by_id[f"{n}-{i}"] for i in range(3)] == [by_id[f"{n}-0"] + i for i in range(3)]


async def test_a_delete_marks_only_the_tenant_s_own_event(store: EventStore) -> None:
    """Offsets repeat across tenants; a delete by offset must stay within the tenant."""
    await store.append("acme", "vayu", 1, [event_row(0, "mine")])
    await store.append("globex", "vayu", 1, [event_row(0, "theirs", tenant="globex")])
    deleted = await store.delete_events_by_id("acme", ["mine"], 5)
    assert [(e.tenant, e.offset) for e in deleted] == [("acme", 1)]
    (theirs,) = await store.read_log("globex", 0, 10)
    assert theirs.offset == 1 and theirs.deleted_at is None
