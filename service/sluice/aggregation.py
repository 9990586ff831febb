"""The usage engine: what meters make of events and measurements. Pure: no store, no clock.

An event counts toward a meter when its name is the meter's event name and one of the
meter's conditions holds (all of its criteria). Its measured value is the meter's `field` of
the event's data (a dotted path; `value` falls back to the event's own value, as Enso and
gRPC send it), optionally combined with another field (`arithmetic`). Usage is exact: sums
are correctly rounded (math.fsum), so it does not depend on the order events are read in.
"""

from __future__ import annotations

import datetime
import json
import math
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sluice.model import Criterion, DataPoint, Measurement, MeterSpec, StoredEvent, UsageQuery

_EPOCH = datetime.datetime(1970, 1, 1)
_MISSING = object()


def lookup(data: dict[str, Any], value: float | None, path: str) -> Any:
    """The data field at a dotted path, or _MISSING."""
    node: Any = data
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return value if path == "value" and value is not None else _MISSING
        node = node[part]
    return node


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _parse_number(text: Any) -> float | None:
    if isinstance(text, str):
        try:
            number = float(text)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return _number(text)


def _equals(found: Any, wanted: Any) -> bool:
    if isinstance(found, str):
        return isinstance(wanted, str) and found == wanted
    number = _number(found)
    if number is not None:
        return number == _parse_number(wanted)
    if isinstance(found, bool):
        return isinstance(wanted, str) and wanted == ("true" if found else "false")
    return False


def _compare(found: Any, wanted: Any) -> int | None:
    number, limit = _number(found), _parse_number(wanted)
    if number is None or limit is None:
        return None
    return (number > limit) - (number < limit)


def _choices(wanted: Any) -> tuple[Any, ...]:
    if isinstance(wanted, tuple | list):
        return tuple(wanted)
    if isinstance(wanted, str):
        return tuple(choice.strip() for choice in wanted.split(","))
    return (wanted,)


def holds(criterion: Criterion, data: dict[str, Any], value: float | None) -> bool:
    found = lookup(data, value, criterion.field)
    operator, wanted = criterion.operator, criterion.value
    if operator == "Exists":
        return found is not _MISSING and found is not None
    if operator == "DoesntExists":
        return found is _MISSING or found is None
    if operator == "DoesntEqual":
        return not _equals(found, wanted)
    if operator == "DoesntContain":
        return not _contains(found, wanted)
    if found is _MISSING:
        return False
    if operator == "Equals":
        return _equals(found, wanted)
    if operator == "In":
        return any(_equals(found, choice) for choice in _choices(wanted))
    if operator in ("Has", "Contains"):
        return _contains(found, wanted)
    order = _compare(found, wanted)
    if order is None:
        return False
    return {
        "LargerThan": order > 0,
        "LargerEqualTo": order >= 0,
        "LowerThan": order < 0,
        "LowerEqualTo": order <= 0,
    }[operator]


def _contains(found: Any, wanted: Any) -> bool:
    """A string holding `wanted` as a substring, or an array holding it as an element."""
    if isinstance(found, str):
        return isinstance(wanted, str) and wanted in found
    if isinstance(found, list):
        return any(_equals(item, wanted) for item in found)
    return False


def admits(spec: MeterSpec, data: dict[str, Any], value: float | None) -> bool:
    if not spec.conditions:
        return True
    return any(all(holds(c, data, value) for c in condition) for condition in spec.conditions)


def measure(spec: MeterSpec, data: dict[str, Any], value: float | None) -> Any:
    """What one admitted event gives the meter: 1 for Count, the field's JSON text for
    Distinct, a number for the others; None when the event carries no usable value."""
    if spec.operator == "Count":
        return 1.0
    if spec.field is None:
        return None
    found = lookup(data, value, spec.field)
    if spec.operator == "Distinct":
        return None if found is _MISSING else json.dumps(found, sort_keys=True)
    number = _number(found)
    if number is None or spec.arithmetic is None:
        return number
    other = _number(lookup(data, value, spec.arithmetic.field))
    if other is None:
        return None
    match spec.arithmetic.operator:
        case "+":
            result = number + other
        case "-":
            result = number - other
        case "*":
            result = number * other
        case _:
            result = number / other if other != 0 else math.nan
    return result if math.isfinite(result) else None


# One observation: (timestamp, offset, measured value, is a measurement).
Observation = tuple[int, int, Any, bool]


def reduce(operator: str, observations: list[Observation]) -> float:
    """A meter's usage over one group's observations (0 when there are none)."""
    if operator == "Count":
        return math.fsum(x if is_measurement else 1.0 for _t, _o, x, is_measurement in observations)
    if operator == "Distinct":
        seen = {x for _t, _o, x, is_measurement in observations if not is_measurement}
        return len(seen) + math.fsum(x for _t, _o, x, m in observations if m)
    numbers = [x for _t, _o, x, _m in observations]
    if not numbers:
        return 0.0
    if operator == "Sum":
        return math.fsum(numbers)
    if operator == "Max":
        return float(max(numbers))
    if operator == "Min":
        return float(min(numbers))
    if operator == "Average":
        return math.fsum(numbers) / len(numbers)
    ordered = sorted(observations, key=lambda o: (o[0], o[1]))
    return float(ordered[0][2] if operator == "First" else ordered[-1][2])


def group_start(timestamp_us: int, group_by: str) -> int:
    moment = _EPOCH + datetime.timedelta(microseconds=timestamp_us)
    match group_by:
        case "day":
            start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        case "month":
            start = datetime.datetime(moment.year, moment.month, 1)
        case "quarter":
            start = datetime.datetime(moment.year, (moment.month - 1) // 3 * 3 + 1, 1)
        case _:
            start = datetime.datetime(moment.year, 1, 1)
    return (start - _EPOCH) // datetime.timedelta(microseconds=1)


def _next_group(start_us: int, group_by: str) -> int:
    moment = _EPOCH + datetime.timedelta(microseconds=start_us)
    months = {"month": 1, "quarter": 3, "year": 12}.get(group_by, 0)
    index = moment.year * 12 + moment.month - 1 + months
    if index // 12 > 9999 or (months == 0 and moment.date() == datetime.date.max):
        return start_us + 2**62  # past the last representable group
    if months == 0:
        following = moment + datetime.timedelta(days=1)
    else:
        following = datetime.datetime(index // 12, index % 12 + 1, 1)
    return (following - _EPOCH) // datetime.timedelta(microseconds=1)


def label(start_us: int) -> str:
    moment = _EPOCH + datetime.timedelta(microseconds=start_us)
    return f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T00:00:00.000Z"


def evaluate(
    query: UsageQuery, events: Iterable[StoredEvent], measurements: Iterable[Measurement] = ()
) -> list[DataPoint]:
    """Every meter's usage per group. The caller passes the live events of the query's
    customers and meters' event names within the period (more are harmless: each is checked)."""
    customers = set(query.customers)
    by_event = query.group_by == "event"
    # (group start, ref or "") -> meter key -> instance -> observations
    groups: dict[tuple[int, int, str], dict[str, dict[Any, list[Observation]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list))
    )
    for event in events:
        if event.deleted_at is not None or event.customer not in customers:
            continue
        if not _in_period(query, event.timestamp):
            continue
        data: dict[str, Any] | None = None
        for spec in query.meters:
            if spec.event_name != event.name:
                continue
            if data is None:
                parsed = json.loads(event.payload)
                data = parsed if isinstance(parsed, dict) else {}
            if not admits(spec, data, event.value):
                continue
            measured = measure(spec, data, event.value)
            if measured is None:
                continue
            instance = (
                None
                if spec.instance_key is None
                else json.dumps(lookup(data, event.value, spec.instance_key), sort_keys=True)
                if lookup(data, event.value, spec.instance_key) is not _MISSING
                else "\0missing"
            )
            key = (
                (event.timestamp, event.offset, event.id)
                if by_event
                else (group_start(event.timestamp, query.group_by), 0, "")
            )
            groups[key][spec.key][instance].append((event.timestamp, event.offset, measured, False))
    if not by_event:
        _add_measurements(query, measurements, groups)
        if query.fill_dates:
            _fill(query, groups)
    points = []
    for key in sorted(groups):
        values = {}
        for spec in query.meters:
            instances = groups[key].get(spec.key, {})
            values[spec.key] = math.fsum(reduce(spec.operator, obs) for obs in instances.values())
        points.append(DataPoint(key[2] if by_event else label(key[0]), key[0], values))
    return points


def _in_period(query: UsageQuery, timestamp: int) -> bool:
    return (query.start is None or timestamp >= query.start) and (
        query.end is None or timestamp < query.end
    )


def _add_measurements(
    query: UsageQuery,
    measurements: Iterable[Measurement],
    groups: dict[tuple[int, int, str], dict[str, dict[Any, list[Observation]]]],
) -> None:
    ids = set(query.customer_ids)
    specs = {spec.key: spec for spec in query.meters}
    for measurement in measurements:
        spec = specs.get(measurement.meter_id)
        if spec is None or measurement.customer_id not in ids:
            continue
        if not _in_period(query, measurement.day_us):
            continue
        key = (group_start(measurement.day_us, query.group_by), 0, "")
        instance = None if spec.instance_key is None else "\0measurements"
        groups[key][spec.key][instance].append((measurement.day_us, -1, measurement.value, True))


def _fill(
    query: UsageQuery, groups: dict[tuple[int, int, str], dict[str, dict[Any, list[Observation]]]]
) -> None:
    """Add the empty groups between the period's ends (or the first and last group)."""
    starts = [key[0] for key in groups]
    first = group_start(query.start, query.group_by) if query.start is not None else None
    last = group_start(query.end - 1, query.group_by) if query.end is not None else None
    first = first if first is not None else min(starts, default=None)
    last = last if last is not None else max(starts, default=None)
    if first is None or last is None:
        return
    start = first
    for _ in range(100_000):  # a bound on the answer's size: 273 years of days
        if start > last:
            return
        groups[(start, 0, "")]
        start = _next_group(start, query.group_by)


def one_event(
    spec: MeterSpec, data: dict[str, Any], value: float | None
) -> tuple[float | None, Any]:
    """What a single event would give a meter that admits it (Vayu's dry run): its value
    (1 for Count and for a Distinct field it carries) and its instance key's value."""
    measured = measure(spec, data, value)
    if spec.operator == "Distinct":
        measured = None if measured is None else 1.0
    instance = None
    if spec.instance_key is not None:
        found = lookup(data, value, spec.instance_key)
        instance = None if found is _MISSING else found
    return measured, instance
