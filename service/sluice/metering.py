"""Meters and measurements (Vayu's metering surface): what a valid one is, over the store.

A meter is Vayu's document `{name, eventName, aggregationMethod{operator, field, instanceKey},
filter{conditions[{criterions[{field, operator, value}]}]}}`, stored as sent; `spec_of` reads
it into the MeterSpec the usage engine evaluates. Conditions are alternatives: an event counts
when all criteria of at least one condition hold (no filter: every event of the name).
"""

from __future__ import annotations

import datetime
import math
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

from sluice.errors import InvalidParameter
from sluice.model import (
    AGGREGATION_OPERATORS,
    CRITERION_OPERATORS,
    Arithmetic,
    Criterion,
    Measurement,
    Meter,
    MeterSpec,
)
from sluice.storage import MeterStore
from sluice.vayu_ids import is_vayu_id, new_id

MAX_NAME = 256
MAX_CRITERIA = 100
# A usage query's inline filter operators, as the meter filter's operators.
INLINE_OPERATORS = {
    "eq": "Equals",
    "neq": "DoesntEqual",
    "gt": "LargerThan",
    "gte": "LargerEqualTo",
    "lt": "LowerThan",
    "lte": "LowerEqualTo",
    "in": "In",
}
_EPOCH = datetime.date(1970, 1, 1)
_DAY_US = 86_400_000_000


def _text(fields: Mapping[str, Any], key: str, param: str, *, required: bool = True) -> str | None:
    value = fields.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > MAX_NAME:
        raise InvalidParameter(param, f"{param} must be a non-empty string.")
    return value


def _object(value: Any, param: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise InvalidParameter(param, f"{param} must be an object.")
    return value


def _only(fields: Mapping[str, Any], allowed: Collection[str], param: str) -> None:
    for key in fields:
        if key not in allowed:
            raise InvalidParameter(f"{param}.{key}" if param else key, f"Unknown field {key!r}.")


def _list(value: Any, param: str) -> list[Any]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_CRITERIA:
        raise InvalidParameter(param, f"{param} must be an array of 1 to {MAX_CRITERIA} items.")
    return value


def _aggregation(method: Mapping[str, Any], param: str, extra: Collection[str] = ()) -> MeterSpec:
    _only(method, ("operator", "field", "instanceKey", *extra), param)
    operator = method.get("operator")
    if operator not in AGGREGATION_OPERATORS:
        raise InvalidParameter(
            f"{param}.operator", f"operator must be one of {', '.join(AGGREGATION_OPERATORS)}."
        )
    field = _text(method, "field", f"{param}.field", required=False)
    if field is None and operator != "Count":
        raise InvalidParameter(f"{param}.field", f"{operator} needs a field.")
    instance_key = _text(method, "instanceKey", f"{param}.instanceKey", required=False)
    return MeterSpec("", "", operator, field, instance_key)


def _conditions(filter_: Any, param: str) -> tuple[tuple[Criterion, ...], ...]:
    if filter_ is None:
        return ()
    filter_ = _object(filter_, param)
    _only(filter_, ("conditions",), param)
    conditions = []
    for i, condition in enumerate(_list(filter_.get("conditions"), f"{param}.conditions")):
        at = f"{param}.conditions[{i}]"
        condition = _object(condition, at)
        _only(condition, ("criterions",), at)
        criteria = []
        for j, criterion in enumerate(_list(condition.get("criterions"), f"{at}.criterions")):
            where = f"{at}.criterions[{j}]"
            criterion = _object(criterion, where)
            _only(criterion, ("field", "operator", "value"), where)
            operator = criterion.get("operator")
            if operator not in CRITERION_OPERATORS:
                raise InvalidParameter(
                    f"{where}.operator",
                    f"operator must be one of {', '.join(CRITERION_OPERATORS)}.",
                )
            field = _text(criterion, "field", f"{where}.field")
            value = _text(criterion, "value", f"{where}.value")
            assert field is not None and value is not None
            criteria.append(Criterion(field, operator, value))
        conditions.append(tuple(criteria))
    return tuple(conditions)


METER_FIELDS = ("name", "eventName", "aggregationMethod", "filter")


def spec_of(meter: Meter) -> MeterSpec:
    """The usage engine's view of a stored (already validated) meter."""
    return read_meter(meter.document, meter.id)


def read_meter(document: Mapping[str, Any], key: str) -> MeterSpec:
    """A meter document, checked field by field (InvalidParameter names the first bad one)."""
    _only(document, (*METER_FIELDS, "id", "createdAt", "updatedAt"), "")
    _text(document, "name", "name")
    event_name = _text(document, "eventName", "eventName")
    assert event_name is not None
    method = _aggregation(
        _object(document.get("aggregationMethod"), "aggregationMethod"), "aggregationMethod"
    )
    conditions = _conditions(document.get("filter"), "filter")
    return replace(method, key=key, event_name=event_name, conditions=conditions)


def inline_meter(fields: Mapping[str, Any], param: str) -> MeterSpec:
    """One meter of a usage query, as Vayu's SDK sends it: `{key, eventName, aggregation
    {operator, field, fieldArithmetic?}, filters[{field, operator eq..in, value}]}`."""
    fields = _object(fields, param)
    if fields.get("sqlSelect") is not None or fields.get("sqlFullQuery") is not None:
        raise InvalidParameter(param, "sqlSelect and sqlFullQuery are not supported.")
    _only(
        fields, ("key", "eventName", "aggregation", "filters", "sqlSelect", "sqlFullQuery"), param
    )
    key = _text(fields, "key", f"{param}.key")
    event_name = _text(fields, "eventName", f"{param}.eventName")
    assert key is not None and event_name is not None
    method = fields.get("aggregation") or {"operator": "Count"}
    spec = _aggregation(
        _object(method, f"{param}.aggregation"), f"{param}.aggregation", ("fieldArithmetic",)
    )
    arithmetic = method.get("fieldArithmetic")
    if arithmetic is not None:
        at = f"{param}.aggregation.fieldArithmetic"
        arithmetic = _object(arithmetic, at)
        if arithmetic.get("operator") not in ("+", "-", "*", "/"):
            raise InvalidParameter(f"{at}.operator", "operator must be one of + - * /.")
        other = _text(arithmetic, "field", f"{at}.field")
        assert other is not None
        spec = replace(spec, arithmetic=Arithmetic(arithmetic["operator"], other))
    filters = fields.get("filters") or []
    if not isinstance(filters, list) or len(filters) > MAX_CRITERIA:
        raise InvalidParameter(
            f"{param}.filters", f"filters must be an array of at most {MAX_CRITERIA}."
        )
    criteria = []
    for i, item in enumerate(filters):
        where = f"{param}.filters[{i}]"
        item = _object(item, where)
        named = item.get("operator")
        operator = INLINE_OPERATORS.get(named) if isinstance(named, str) else None
        if operator is None:
            raise InvalidParameter(
                f"{where}.operator", "operator must be eq, neq, gt, gte, lt, lte or in."
            )
        field = _text(item, "field", f"{where}.field")
        assert field is not None
        criteria.append(
            Criterion(field, operator, _filter_value(item.get("value"), f"{where}.value"))
        )
    conditions = (tuple(criteria),) if criteria else ()
    return replace(spec, key=key, event_name=event_name, conditions=conditions)


def _filter_value(value: Any, param: str) -> str | float | tuple[str | float, ...]:
    def scalar(item: Any) -> str | float:
        if isinstance(item, str):
            return item
        if isinstance(item, int | float) and not isinstance(item, bool) and math.isfinite(item):
            return float(item)
        raise InvalidParameter(param, f"{param} must be a string, a number or an array of them.")

    if isinstance(value, list):
        return tuple(scalar(item) for item in value)
    return scalar(value)


def read_day(value: Any, param: str = "usageDate") -> int:
    """`{year, month, day}` (a real date) as the UTC microseconds of its midnight."""
    fields = _object(value, param)
    _only(fields, ("year", "month", "day"), param)
    parts = [fields.get(key) for key in ("year", "month", "day")]
    if not all(isinstance(part, int) and not isinstance(part, bool) for part in parts):
        raise InvalidParameter(param, f"{param} needs whole numbers year, month and day.")
    try:
        date = datetime.date(*parts)  # type: ignore[arg-type]
    except ValueError as exc:
        raise InvalidParameter(param, f"{param} is not a date: {exc}.") from exc
    return (date - _EPOCH).days * _DAY_US


def day_of(day_us: int) -> dict[str, int]:
    date = _EPOCH + datetime.timedelta(microseconds=day_us)
    return {"year": date.year, "month": date.month, "day": date.day}


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    has_more: bool


class Metering:
    """The tenant's meters and measurements."""

    def __init__(
        self, store: MeterStore, clock_us: Callable[[], int] = lambda: time.time_ns() // 1000
    ) -> None:
        self._store = store
        self._clock_us = clock_us

    async def create_meter(self, tenant: str, document: Mapping[str, Any]) -> Meter:
        id_ = new_id()
        spec = read_meter(document, id_)
        now = self._clock_us()
        kept = {key: document[key] for key in METER_FIELDS if document.get(key) is not None}
        meter = Meter(id_, spec.event_name, kept, now, now)
        await self._store.put_meter(tenant, meter)
        return meter

    async def update_meter(self, tenant: str, id: str, changes: Mapping[str, Any]) -> Meter | None:
        """Replace the fields sent (a null `filter` removes the filter)."""
        current = await self._store.get_meter(tenant, id)
        if current is None:
            return None
        document = dict(current.document)
        for key, value in changes.items():
            if key in ("id", "createdAt", "updatedAt"):
                continue
            if value is None and key == "filter":
                document.pop(key, None)
            elif value is not None:
                document[key] = value
        spec = read_meter(document, id)
        meter = Meter(id, spec.event_name, document, current.created_at, self._clock_us())
        await self._store.put_meter(tenant, meter)
        return meter

    async def get_meter(self, tenant: str, id: str) -> Meter | None:
        return await self._store.get_meter(tenant, id)

    async def delete_meter(self, tenant: str, id: str) -> Meter | None:
        meter = await self._store.get_meter(tenant, id)
        if meter is None or not await self._store.delete_meter(tenant, id):
            return None
        return meter

    async def meters(self, tenant: str, after_id: str | None, limit: int) -> Page[Meter]:
        found = await self._store.list_meters(tenant, after_id, limit + 1)
        total = await self._store.count_meters(tenant)
        return Page(found[:limit], total, len(found) > limit)

    async def meters_for_events(self, tenant: str, names: Collection[str]) -> list[Meter]:
        return await self._store.meters_for_events(tenant, names)

    async def create_measurement(self, tenant: str, fields: Mapping[str, Any]) -> Measurement:
        _only(fields, ("customerId", "meterId", "usageDate", "value"), "")
        customer_id = _text(fields, "customerId", "customerId")
        meter_id = _text(fields, "meterId", "meterId")
        assert customer_id is not None and meter_id is not None
        if not is_vayu_id(customer_id):  # as Vayu's models require of every measurement
            raise InvalidParameter("customerId", "customerId must be 24 hex digits.")
        day_us = read_day(fields.get("usageDate"))
        value = fields.get("value")
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise InvalidParameter("value", "value must be a finite number.")
        if await self._store.get_meter(tenant, meter_id) is None:
            raise InvalidParameter("meterId", f"No meter with id {meter_id!r}.")
        now = self._clock_us()
        measurement = Measurement(new_id(), customer_id, meter_id, day_us, float(value), now, now)
        await self._store.put_measurement(tenant, measurement)
        return measurement

    async def get_measurement(self, tenant: str, id: str) -> Measurement | None:
        return await self._store.get_measurement(tenant, id)

    async def delete_measurement(self, tenant: str, id: str) -> Measurement | None:
        measurement = await self._store.get_measurement(tenant, id)
        if measurement is None or not await self._store.delete_measurement(tenant, id):
            return None
        return measurement

    async def measurements(
        self, tenant: str, after_id: str | None, limit: int
    ) -> Page[Measurement]:
        found = await self._store.list_measurements(tenant, after_id, limit + 1)
        total = await self._store.count_measurements(tenant)
        return Page(found[:limit], total, len(found) > limit)
