"""The CustomerStore contract (the customer registry, CONTRACTS §1), run over every backend
(see conftest.BACKENDS)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from sluice.errors import CustomerConflict
from sluice.storage import Customer, CustomerStore

pytestmark = pytest.mark.anyio


def customer(
    id_: str,
    *aliases: str,
    email: str | None = None,
    attributes: dict[str, Any] | None = None,
    at: int = 1_000,
) -> Customer:
    return Customer(id_, list(aliases), email, attributes or {}, at, at)


async def test_a_customer_round_trips_and_a_replacement_keeps_created_at(
    store: CustomerStore,
) -> None:
    first = customer("c1", "a1", "a2", email="Ann@Example.com", attributes={"plan": "pro"})
    assert await store.put_customer("acme", first) == first
    assert await store.get_customer("acme", "c1") == first
    replaced = await store.put_customer("acme", customer("c1", "a3", at=2_000))
    assert replaced == Customer("c1", ["a3"], None, {}, 1_000, 2_000)
    assert await store.get_customer("acme", "c1") == replaced
    assert await store.find_customer("acme", alias="a1") is None  # dropped aliases are freed
    assert await store.find_customer("acme", email="ann@example.com") is None
    assert await store.get_customer("acme", "nobody") is None


async def test_customers_are_listed_in_id_order_by_keyset_pages(store: CustomerStore) -> None:
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


async def test_find_customer_by_email_any_case_and_by_id_or_alias(store: CustomerStore) -> None:
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


async def test_an_alias_or_email_names_one_customer_per_tenant(store: CustomerStore) -> None:
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


async def test_put_customers_replays_a_batch_in_order_and_refuses_conflicts(
    store: CustomerStore,
) -> None:
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


async def test_known_customer_ids_checks_a_whole_batch(store: CustomerStore) -> None:
    await store.put_customers("acme", [customer(f"c{i}") for i in range(0, 3000, 2)])
    asked = [f"c{i}" for i in range(3000)] + ["c0", "c2"]  # repeats are harmless
    assert await store.known_customer_ids("acme", asked) == {f"c{i}" for i in range(0, 3000, 2)}
    assert await store.known_customer_ids("acme", []) == set()


async def test_merge_customer_attributes_is_shallow_and_atomic(store: CustomerStore) -> None:
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


async def test_tenants_never_see_or_match_each_others_customers(store: CustomerStore) -> None:
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


async def test_customers_are_counted_and_found_by_a_string_attribute(store: CustomerStore) -> None:
    await store.put_customer("acme", customer("c2", attributes={"externalId": "ext-1", "n": 5}))
    await store.put_customer("acme", customer("c1", attributes={"externalId": "ext-1"}))
    await store.put_customer("acme", customer("c3", attributes={"name": "Ann", "n": "5"}))
    await store.put_customer("globex", customer("g1", attributes={"externalId": "ext-1"}))
    assert await store.count_customers("acme") == 3
    assert await store.count_customers("nobody") == 0
    found = await store.find_customer_by_attribute("acme", "externalId", "ext-1")
    assert found is not None and found.id == "c1"  # the first by id
    by_name = await store.find_customer_by_attribute("acme", "name", "Ann")
    assert by_name is not None and by_name.id == "c3"
    # A string only: the number 5 is not "5"; a key with path syntax is just a key.
    five = await store.find_customer_by_attribute("acme", "n", "5")
    assert five is not None and five.id == "c3"
    assert await store.find_customer_by_attribute("acme", "a.b", "x") is None
    assert await store.find_customer_by_attribute("globex", "name", "Ann") is None
