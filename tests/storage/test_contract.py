"""The store contract, run over every backend (see conftest.BACKENDS)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from sluice.errors import CustomerConflict, Unauthenticated
from sluice.keys import ApiKeys
from sluice.model import Customer
from sluice.storage import Store
from tests.storage.conftest import event_row

pytestmark = pytest.mark.anyio


async def test_offsets_increase_and_the_key_is_unique(store: Store) -> None:
    first = await store.append("acme", "vayu", 1, [event_row(0, "a"), event_row(1, "b")])
    assert first[0] is not None and first[1] is not None and first[1] > first[0]
    again = await store.append("acme", "vayu", 2, [event_row(0, "b"), event_row(1, "c")])
    assert again[0] is None
    assert again[1] is not None and again[1] > first[1]
    log = await store.read_log("acme", 0, 10)
    assert [e.id for e in log] == ["a", "b", "c"]
    assert [e.offset for e in log] == sorted(e.offset for e in log)
    assert [e.id for e in await store.read_log("acme", log[0].offset, 10)] == ["b", "c"]


async def test_keys_are_scoped_by_tenant_and_name(store: Store) -> None:
    results = await store.append(
        "acme", "vayu", 1, [event_row(0, "a"), event_row(1, "a", name="other")]
    )
    assert None not in results
    assert (await store.append("globex", "vayu", 1, [event_row(0, "a", tenant="globex")]))[0]
    assert [e.tenant for e in await store.read_log("globex", 0, 10)] == ["globex"]
    assert len(await store.committed_keys()) == 16 * 3


async def test_a_stored_event_keeps_every_field(store: Store) -> None:
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


async def test_id_lookups_and_deletes_can_be_narrowed_to_one_name(store: Store) -> None:
    await store.append("acme", "vayu", 1, [event_row(0, "r"), event_row(1, "r", name="other")])
    assert [e.name for e in await store.live_events_by_id("acme", ["r"])] == ["api_call"]
    assert [e.name for e in await store.live_events_by_id("acme", ["r"], "other")] == ["other"]
    deleted = await store.delete_events_by_id("acme", ["r"], 5, "other")
    assert [(e.name, e.deleted_at) for e in deleted] == [("other", 5)]
    assert await store.live_events_by_id("acme", ["r"], "other") == []
    assert [e.name for e in await store.live_events_by_id("acme", ["r"])] == ["api_call"]


async def test_racing_appends_store_each_key_once(store: Store) -> None:
    results = await asyncio.gather(
        *(store.append("acme", "vayu", 1, [event_row(0, "same")]) for _ in range(16))
    )
    assert sum(r[0] is not None for r in results) == 1
    assert len(await store.read_log("acme", 0, 100)) == 1


async def test_api_keys_are_hashed_and_revocable(store: Store) -> None:
    keys = ApiKeys(store, cache_seconds=0)
    token, record = await keys.create("acme")
    assert token.startswith("sk_") and record.secret_hash != token.encode()
    assert (await keys.verify(token)).tenant == "acme"
    listed = await store.list_api_keys()
    assert [(r.key_id, r.tenant) for r in listed] == [(record.key_id, "acme")]
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    with pytest.raises(Unauthenticated):
        await keys.verify(tampered)
    assert await store.revoke_api_key(record.key_id, 5)
    assert not await store.revoke_api_key(record.key_id, 6)
    with pytest.raises(Unauthenticated):
        await keys.verify(token)


# The customer registry (CONTRACTS §1).


def customer(
    id_: str,
    *aliases: str,
    email: str | None = None,
    attributes: dict[str, Any] | None = None,
    at: int = 1_000,
) -> Customer:
    return Customer(id_, list(aliases), email, attributes or {}, at, at)


async def test_a_customer_round_trips_and_a_replacement_keeps_created_at(store: Store) -> None:
    first = customer("c1", "a1", "a2", email="Ann@Example.com", attributes={"plan": "pro"})
    assert await store.put_customer("acme", first) == first
    assert await store.get_customer("acme", "c1") == first
    replaced = await store.put_customer("acme", customer("c1", "a3", at=2_000))
    assert replaced == Customer("c1", ["a3"], None, {}, 1_000, 2_000)
    assert await store.get_customer("acme", "c1") == replaced
    assert await store.find_customer("acme", alias="a1") is None  # dropped aliases are freed
    assert await store.find_customer("acme", email="ann@example.com") is None
    assert await store.get_customer("acme", "nobody") is None


async def test_customers_are_listed_in_id_order_by_keyset_pages(store: Store) -> None:
    ids = ["m", "b", "z", "a", "k", "c", "y"]
    for id_ in ids:
        await store.put_customer("acme", customer(id_))
    seen: list[str] = []
    after: str | None = None
    while page := await store.list_customers("acme", after, 3):
        assert len(page) <= 3
        seen += [c.id for c in page]
        after = page[-1].id
    assert seen == sorted(ids)
    assert [c.id for c in await store.list_customers("acme", "k", 2)] == ["m", "y"]


async def test_find_customer_by_email_any_case_and_by_id_or_alias(store: Store) -> None:
    ann = await store.put_customer("acme", customer("ann", "ann-legacy", email="Ann@Example.COM"))
    bob = await store.put_customer("acme", customer("bob", "ann"))  # an alias equal to an id
    assert await store.find_customer("acme", email="ann@example.com") == ann
    assert await store.find_customer("acme", email="ANN@EXAMPLE.COM") == ann
    assert await store.find_customer("acme", alias="ann-legacy") == ann
    assert await store.find_customer("acme", alias="bob") == bob
    # An id wins over another customer's alias, so matching stays unambiguous.
    assert await store.find_customer("acme", alias="ann") == ann
    assert await store.find_customer("acme", alias="nobody") is None
    assert await store.find_customer("acme", email="nobody@example.com") is None


async def test_an_alias_or_email_names_one_customer_per_tenant(store: Store) -> None:
    await store.put_customer("acme", customer("c1", "shared", email="x@example.com"))
    with pytest.raises(CustomerConflict) as alias_taken:
        await store.put_customer("acme", customer("c2", "free", "shared"))
    assert alias_taken.value.param == "aliases"
    with pytest.raises(CustomerConflict) as email_taken:
        await store.put_customer("acme", customer("c2", "free", email="X@EXAMPLE.com"))
    assert email_taken.value.param == "email"
    # A refused customer wrote nothing, not even its free alias.
    assert await store.get_customer("acme", "c2") is None
    assert await store.find_customer("acme", alias="free") is None
    # Once the holder lets go (by replacement or deletion), another customer may take them.
    await store.put_customer("acme", customer("c1"))
    await store.put_customer("acme", customer("c2", "shared"))
    assert await store.delete_customer("acme", "c2")
    assert not await store.delete_customer("acme", "c2")
    await store.put_customer("acme", customer("c3", "shared", email="x@example.com"))
    assert (await store.find_customer("acme", alias="shared")) == customer(
        "c3", "shared", email="x@example.com"
    )


async def test_put_customers_replays_a_batch_in_order_and_refuses_conflicts(store: Store) -> None:
    await store.put_customer("acme", customer("held", "h1", email="held@example.com"))
    batch = [
        customer("a", "a1", "moving", email="a@example.com"),
        customer("b", "moving"),  # 1: refused, "a" holds it at this point
        customer("a", "a1", email="a@example.com", at=2_000),  # replaces "a", frees "moving"
        customer("b", "moving", email="held@example.com"),  # 3: refused, the email is taken
        customer("b", "moving", "b1"),  # takes the alias "a" let go
        customer("c", "h1"),  # 5: refused, held by a customer stored before the batch
        customer("held", email="swap@example.com", at=2_000),  # lets go of its email and h1
        customer("c", "h1", email="held@example.com"),  # takes both
    ]
    refused = await store.put_customers("acme", batch)
    assert sorted(refused) == [1, 3, 5]
    assert {refused[1].param, refused[3].param, refused[5].param} == {"aliases", "email"}
    assert await store.get_customer("acme", "a") == Customer(
        "a", ["a1"], "a@example.com", {}, 1_000, 2_000
    )
    assert (await store.find_customer("acme", alias="moving")) == customer("b", "moving", "b1")
    assert (await store.find_customer("acme", alias="h1")) == customer(
        "c", "h1", email="held@example.com"
    )
    assert [c.id for c in await store.list_customers("acme", None, 10)] == ["a", "b", "c", "held"]
    assert await store.put_customers("acme", []) == {}


async def test_known_customer_ids_checks_a_whole_batch(store: Store) -> None:
    await store.put_customers("acme", [customer(f"c{i}") for i in range(0, 3000, 2)])
    asked = [f"c{i}" for i in range(3000)] + ["c0", "c2"]  # repeats are harmless
    assert await store.known_customer_ids("acme", asked) == {f"c{i}" for i in range(0, 3000, 2)}
    assert await store.known_customer_ids("acme", []) == set()


async def test_merge_customer_attributes_is_shallow_and_atomic(store: Store) -> None:
    await store.put_customer(
        "acme", customer("c1", attributes={"plan": "free", "nested": {"a": 1}})
    )
    merged = await store.merge_customer_attributes(
        "acme", "c1", {"plan": "pro", "nested": {"b": 2}, "gone": None}, now_us=5_000
    )
    assert merged is not None and merged.updated_at == 5_000 and merged.created_at == 1_000
    assert merged.attributes == {"plan": "pro", "nested": {"b": 2}}
    merged = await store.merge_customer_attributes("acme", "c1", {"plan": None})
    assert merged is not None and merged.attributes == {"nested": {"b": 2}}
    # Concurrent merges of different keys all land: none reads a stale copy of another's.
    await asyncio.gather(
        *(store.merge_customer_attributes("acme", "c1", {f"k{i}": i}) for i in range(20))
    )
    stored = await store.get_customer("acme", "c1")
    assert stored is not None and len(stored.attributes) == 21
    assert await store.merge_customer_attributes("acme", "nobody", {"k": 1}) is None


async def test_tenants_never_see_or_match_each_others_customers(store: Store) -> None:
    acme = await store.put_customer("acme", customer("c1", "a1", email="x@example.com"))
    # The same id, alias and email in another tenant are another customer, not a conflict.
    globex = await store.put_customer(
        "globex", customer("c1", "a1", email="x@example.com", attributes={"t": "globex"})
    )
    await store.put_customer("globex", customer("only-globex", "g1", email="g@example.com"))
    assert await store.get_customer("acme", "c1") == acme
    assert await store.get_customer("globex", "c1") == globex
    assert await store.get_customer("acme", "only-globex") is None
    assert await store.find_customer("acme", alias="g1") is None
    assert await store.find_customer("acme", email="g@example.com") is None
    assert await store.known_customer_ids("acme", ["c1", "only-globex"]) == {"c1"}
    assert [c.id for c in await store.list_customers("acme", None, 10)] == ["c1"]
    assert await store.merge_customer_attributes("acme", "only-globex", {"k": 1}) is None
    assert not await store.delete_customer("acme", "only-globex")
    assert await store.delete_customer("acme", "c1")
    assert await store.get_customer("globex", "c1") == globex
    assert await store.find_customer("globex", alias="a1") == globex
