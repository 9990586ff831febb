"""Usage equals a brute-force recomputation from the stored events, on every store: random
events (some deleted, under a customer's id, its aliases or others), meters (every operator,
filters, instance keys), measurements and periods. The oracle below shares no code with
aggregation.py."""

from __future__ import annotations

import asyncio
import datetime
import json
import math
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sluice import _core
from sluice.model import Criterion, Customer, EventRow, Measurement, MeterSpec
from sluice.registry import CustomerRegistry
from sluice.storage import Store
from sluice.usage import UsageRequest, UsageService
from tests.storage.conftest import BACKENDS

DAY = 86_400_000_000
T0 = 1_735_689_600_000_000  # 2025-01-01T00:00:00Z
SPAN = 120 * DAY  # four months: groups hold several events
OPERATORS = ("Count", "Sum", "Distinct", "Max", "Min", "Average", "First", "Last")
NAMES = ("api_call", "upload")
WHO = ("cust", "alias-1", "alias-2", "other")  # the customer is "cust" with two aliases


@dataclass(frozen=True)
class Ev:
    ref: str
    name: str
    customer: str
    timestamp: int
    data: dict[str, Any]
    deleted: bool


events_st = st.lists(
    st.builds(
        lambda i, name, who, t, units, region, ws, deleted: Ev(
            f"e{i}",
            name,
            who,
            T0 + t,
            {k: v for k, v in (("units", units), ("region", region), ("ws", ws)) if v is not None},
            deleted,
        ),
        st.integers(0, 10**9),
        st.sampled_from(NAMES),
        st.sampled_from(WHO),
        st.integers(0, SPAN),
        st.none()
        | st.integers(-5, 50)
        | st.floats(-10, 10, allow_nan=False).map(lambda x: round(x, 2)),
        st.none() | st.sampled_from(("eu", "us", "apac")),
        st.none() | st.sampled_from(("w1", "w2")),
        st.booleans(),
    ),
    min_size=5,
    max_size=60,
    unique_by=lambda e: e.ref,
)
filter_st = st.one_of(
    st.tuples(
        st.just("region"), st.sampled_from(("Equals", "DoesntEqual")), st.sampled_from(("eu", "us"))
    ),
    st.tuples(st.just("region"), st.just("In"), st.just(("eu", "apac"))),
    st.tuples(
        st.just("units"),
        st.sampled_from(
            ("LargerThan", "LargerEqualTo", "LowerThan", "LowerEqualTo", "Equals", "DoesntEqual")
        ),
        st.integers(-5, 50).map(float),
    ),
)
meter_st = st.builds(
    lambda i, name, operator, field, instance, filters: MeterSpec(
        f"m{i}",
        name,
        operator,
        None if operator == "Count" else field,
        instance,
        None,
        (tuple(Criterion(*f) for f in filters),) if filters else (),
    ),
    st.integers(0, 3),
    st.sampled_from(NAMES),
    st.sampled_from(OPERATORS),
    st.sampled_from(("units", "region")),
    st.none() | st.just("ws"),
    st.lists(filter_st, max_size=2),
)
measurement_st = st.lists(
    st.builds(
        lambda i, who, meter, day, value: Measurement(
            f"x{i}", who, meter, T0 + day * DAY, value, 1, 1
        ),
        st.integers(0, 10**6),
        st.sampled_from(("cust", "other")),
        st.sampled_from(("m0", "m1", "m2", "m3")),
        st.integers(0, 120),
        st.integers(0, 9).map(float),
    ),
    max_size=5,
    unique_by=lambda m: m.id,
)
period_st = st.tuples(
    st.none() | st.integers(-DAY, SPAN), st.none() | st.integers(0, SPAN + DAY)
).map(lambda p: (None if p[0] is None else T0 + p[0], None if p[1] is None else T0 + p[1]))


def _holds(field: str, operator: str, wanted: Any, data: dict[str, Any]) -> bool:
    found = data.get(field)
    numeric = isinstance(found, int | float)
    if operator == "Equals":
        return found is not None and found == wanted and (numeric == isinstance(wanted, float))
    if operator == "DoesntEqual":
        return not _holds(field, "Equals", wanted, data)
    if operator == "In":
        return found in wanted
    if not numeric:
        return False
    return {
        "LargerThan": found > wanted,
        "LargerEqualTo": found >= wanted,
        "LowerThan": found < wanted,
        "LowerEqualTo": found <= wanted,
    }[operator]


def _start(timestamp: int, group_by: str) -> int:
    if group_by == "day":
        return timestamp - timestamp % DAY
    moment = datetime.datetime.fromtimestamp(timestamp // 10**6, datetime.UTC)
    month = {"month": moment.month, "quarter": (moment.month - 1) // 3 * 3 + 1, "year": 1}[group_by]
    first = datetime.datetime(moment.year, month, 1, tzinfo=datetime.UTC)
    return int(first.timestamp()) * 10**6


def oracle(
    events: list[Ev],
    meters: list[MeterSpec],
    measurements: list[Measurement],
    period: tuple[int | None, int | None],
    group_by: str,
) -> dict[str, dict[str, float]]:
    start, end = period
    inside = [
        (offset, e)
        for offset, e in enumerate(events)
        if not e.deleted
        and e.customer in ("cust", "alias-1", "alias-2")
        and (start is None or e.timestamp >= start)
        and (end is None or e.timestamp < end)
    ]
    # group -> meter -> instance -> [(timestamp, offset, value, is a measurement)]
    cells: dict[Any, dict[str, dict[Any, list[tuple[int, int, Any, bool]]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list))
    )
    for offset, e in inside:
        for m in meters:
            if m.event_name != e.name:
                continue
            if m.conditions and not all(
                _holds(c.field, c.operator, c.value, e.data) for c in m.conditions[0]
            ):
                continue
            if m.operator == "Count":
                value: Any = 1
            elif m.field not in e.data:
                continue
            elif m.operator == "Distinct":
                value = json.dumps(e.data[m.field])
            elif isinstance(e.data[m.field], int | float):
                value = e.data[m.field]
            else:
                continue
            instance = None if m.instance_key is None else e.data.get(m.instance_key, "<none>")
            group = (
                (e.timestamp, offset, e.ref)
                if group_by == "event"
                else _start(e.timestamp, group_by)
            )
            cells[group][m.key][instance].append((e.timestamp, offset, value, False))
    if group_by != "event":
        for x in measurements:
            if (
                x.customer_id != "cust"
                or (start is not None and x.day_us < start)
                or (end is not None and x.day_us >= end)
            ):
                continue
            for m in meters:
                if m.key == x.meter_id:
                    instance = None if m.instance_key is None else "<measurements>"
                    cells[_start(x.day_us, group_by)][m.key][instance].append(
                        (x.day_us, -1, x.value, True)
                    )
    answer = {}
    for group, by_meter in cells.items():
        label = group[2] if group_by == "event" else group
        answer[label] = {
            m.key: math.fsum(_reduce(m.operator, obs) for obs in by_meter.get(m.key, {}).values())
            for m in meters
        }
    return answer


def _reduce(operator: str, obs: list[tuple[int, int, Any, bool]]) -> float:
    events = [o for o in obs if not o[3]]
    extra = math.fsum(o[2] for o in obs if o[3])
    if operator == "Count":
        return len(events) + extra
    if operator == "Distinct":
        return len({o[2] for o in events}) + extra
    values = [o[2] for o in obs]
    if not values:
        return 0.0
    if operator == "Sum":
        return math.fsum(values)
    if operator == "Average":
        return math.fsum(values) / len(values)
    if operator in ("Max", "Min"):
        return float(max(values) if operator == "Max" else min(values))
    ordered = sorted(obs, key=lambda o: (o[0], o[1]))
    return float(ordered[0 if operator == "First" else -1][2])


@pytest.fixture(params=sorted(BACKENDS))
def opened(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Store, asyncio.AbstractEventLoop]]:
    loop = asyncio.new_event_loop()
    store = BACKENDS[request.param](tmp_path, request)
    loop.run_until_complete(store.open())
    try:
        yield store, loop
    finally:
        loop.run_until_complete(store.close())
        loop.close()


def test_usage_equals_a_recomputation_from_the_stored_events(
    opened: tuple[Store, asyncio.AbstractEventLoop],
) -> None:
    store, loop = opened
    service = UsageService(store, store, CustomerRegistry(store))

    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        events_st,
        st.lists(meter_st, min_size=1, max_size=4, unique_by=lambda m: m.key),
        measurement_st,
        period_st,
        st.sampled_from(("event", "day", "month", "quarter", "year")),
    )
    def check(
        events: list[Ev],
        meters: list[MeterSpec],
        measurements: list[Measurement],
        period: tuple[int | None, int | None],
        group_by: str,
    ) -> None:
        tenant = uuid.uuid4().hex  # a fresh tenant per example: nothing left over

        async def run() -> dict[str, dict[str, float]]:
            await store.put_customer(
                tenant, Customer("cust", ["alias-1", "alias-2"], None, {}, 1, 1)
            )
            rows = [
                EventRow(
                    index=i,
                    key=_core.idempotency_key(tenant, e.name, e.ref),
                    name=e.name,
                    id=e.ref,
                    customer=e.customer,
                    timestamp_us=e.timestamp,
                    value=None,
                    payload=json.dumps(e.data),
                    content_hash=bytes(16),
                )
                for i, e in enumerate(events)
            ]
            await store.append(tenant, "vayu", 1, rows)
            await store.delete_events_by_id(tenant, [e.ref for e in events if e.deleted], 2)
            for x in measurements:
                await store.put_measurement(tenant, x)
            request = UsageRequest("cust", None, tuple(meters), (), group_by, *period)
            if period[0] is not None and period[1] is not None and period[0] >= period[1]:
                return {}
            points = await service.query(tenant, request)
            return {
                (p.group if group_by == "event" else p.start): p.values
                for p in points  # type: ignore[misc]
            }

        got = loop.run_until_complete(run())
        if period[0] is not None and period[1] is not None and period[0] >= period[1]:
            return
        expected = oracle(events, meters, measurements, period, group_by)
        assert got == expected

    check()
