"""The MeterStore and UsageStore contracts, run over every backend (see conftest.BACKENDS)."""

from __future__ import annotations

import pytest

from sluice import _core
from sluice.model import EventRow, Measurement, Meter
from sluice.storage import EventStore, MeterStore, Store, UsageStore

pytestmark = pytest.mark.anyio

DAY = 86_400_000_000


def meter(id_: str, event_name: str = "api_call", at: int = 1_000) -> Meter:
    document = {
        "name": f"m {id_}",
        "eventName": event_name,
        "aggregationMethod": {"operator": "Count"},
    }
    return Meter(id_, event_name, document, at, at)


def measurement(id_: str, customer: str = "c1", meter_id: str = "m1", day: int = 0) -> Measurement:
    return Measurement(id_, customer, meter_id, day * DAY, 2.5, 1_000, 1_000)


async def test_meters_round_trip_list_by_id_and_are_found_by_event(store: MeterStore) -> None:
    for id_, name in (("b", "api_call"), ("a", "api_call"), ("c", "upload")):
        await store.put_meter("acme", meter(id_, name))
    await store.put_meter("globex", meter("z"))
    assert await store.get_meter("acme", "a") == meter("a")
    assert [m.id for m in await store.list_meters("acme", None, 2)] == ["a", "b"]
    assert [m.id for m in await store.list_meters("acme", "b", 10)] == ["c"]
    assert await store.count_meters("acme") == 3
    assert [m.id for m in await store.meters_for_events("acme", ["api_call"])] == ["a", "b"]
    replaced = Meter("a", "upload", {"name": "x", "eventName": "upload"}, 1_000, 2_000)
    await store.put_meter("acme", replaced)
    assert await store.get_meter("acme", "a") == replaced
    assert await store.get_meter("globex", "a") is None


async def test_deleting_a_meter_deletes_its_measurements(store: MeterStore) -> None:
    await store.put_meter("acme", meter("m1"))
    await store.put_measurement("acme", measurement("x1"))
    await store.put_measurement("acme", measurement("x2", meter_id="m2"))
    assert await store.delete_meter("acme", "m1")
    assert not await store.delete_meter("acme", "m1")
    assert await store.get_meter("acme", "m1") is None
    assert await store.get_measurement("acme", "x1") is None
    assert [m.id for m in await store.list_measurements("acme", None, 10)] == ["x2"]


async def test_measurements_round_trip_and_are_read_by_customer_and_day(store: Store) -> None:
    for i, (customer, day) in enumerate([("c1", 0), ("c1", 5), ("c2", 5), ("c1", 9)]):
        await store.put_measurement("acme", measurement(f"x{i}", customer, day=day))
    assert await store.get_measurement("acme", "x1") == measurement("x1", "c1", day=5)
    assert await store.count_measurements("acme") == 4
    found = await store.usage_measurements("acme", ["c1"], 1 * DAY, 9 * DAY)
    assert [m.id for m in found] == ["x1"]
    assert len(await store.usage_measurements("acme", ["c1", "c2"], None, None)) == 4
    assert await store.delete_measurement("acme", "x0")
    assert not await store.delete_measurement("acme", "x0")
    assert await store.usage_measurements("globex", ["c1"], None, None) == []


def row(index: int, id_: str, customer: str, name: str, timestamp: int) -> EventRow:
    return EventRow(
        index=index,
        key=_core.idempotency_key("acme", name, id_),
        name=name,
        id=id_,
        customer=customer,
        timestamp_us=timestamp,
        value=None,
        payload='{"n":1}',
        content_hash=bytes(16),
    )


async def test_usage_reads_live_events_by_customer_name_and_time(store: Store) -> None:
    rows = [
        row(0, "e0", "alice", "api_call", 10),
        row(1, "e1", "alice", "api_call", 20),
        row(2, "e2", "alice", "upload", 20),
        row(3, "e3", "bob", "api_call", 20),
        row(4, "e4", "alice-alias", "api_call", 30),
        row(5, "e5", "alice", "api_call", 40),
    ]
    await store.append("acme", "vayu", 1, rows)
    await store.delete_events_by_id("acme", ["e5"], 50)

    async def refs(
        customers: list[str], names: list[str], start: int | None, end: int | None
    ) -> list[str]:
        return sorted(e.id for e in await store.usage_events("acme", customers, names, start, end))

    assert await refs(["alice"], ["api_call"], None, None) == ["e0", "e1"]  # e5 is deleted
    assert await refs(["alice", "alice-alias"], ["api_call", "upload"], 20, 31) == [
        "e1",
        "e2",
        "e4",
    ]
    assert await refs(["alice"], ["api_call"], 11, 20) == []
    assert await refs([], ["api_call"], None, None) == []
    assert await store.usage_events("globex", ["alice"], ["api_call"], None, None) == []


async def test_usage_reads_more_customers_than_one_statement_takes(store: UsageStore) -> None:
    assert isinstance(store, EventStore)
    await store.append("acme", "vayu", 1, [row(i, f"e{i}", f"c{i}", "n", i) for i in range(1200)])
    customers = [f"c{i}" for i in range(1200)]
    assert len(await store.usage_events("acme", customers, ["n"], None, None)) == 1200
