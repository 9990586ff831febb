"""Usage queries: a customer's (or a pattern of customers') usage by meter, in time groups.

Computed at query time from the stored events (SQL narrows them through the
(tenant, customer, name, timestamp) index; aggregation.py evaluates the meters), so a meter
counts events that arrived before it existed, a deleted event stops counting at once, and the
answer equals a recomputation from the stored events (docs/decisions.md, "Usage engine").
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass

from sluice import aggregation
from sluice.errors import InvalidParameter
from sluice.metering import spec_of
from sluice.model import DataPoint, MeterSpec, UsageQuery
from sluice.registry import CustomerRegistry
from sluice.storage import MeterStore, UsageStore

MAX_METERS = 50
# fillDates over a longer span would answer more groups than anyone reads.
MAX_FILLED_GROUPS = 20_000
_DAY_US = 86_400_000_000


@dataclass(frozen=True, slots=True)
class UsageRequest:
    """A usage query before its customers and stored meters are resolved."""

    customer_id: str
    customer_pattern: str | None  # a glob over registry ids; wins over customer_id
    meters: tuple[MeterSpec, ...]  # inline meters
    meter_ids: tuple[str, ...]  # stored meters, keyed by their id
    group_by: str
    start: int | None
    end: int | None
    fill_dates: bool = False


class UsageService:
    def __init__(self, store: UsageStore, meters: MeterStore, customers: CustomerRegistry) -> None:
        self._store = store
        self._meters = meters
        self._customers = customers

    async def specs(self, tenant: str, meter_ids: Sequence[str]) -> list[MeterSpec]:
        specs = []
        for id_ in meter_ids:
            meter = await self._meters.get_meter(tenant, id_)
            if meter is None:
                raise InvalidParameter("meters", f"No meter with id {id_!r}.")
            specs.append(spec_of(meter))
        return specs

    async def customers(
        self, tenant: str, customer_id: str, pattern: str | None
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(the event customer strings to count, the registry ids whose measurements count).

        A registry customer counts the events sent under its id and under each alias; an id
        the registry does not know counts the events sent under it as is."""
        if pattern is None:
            customer = await self._customers.get(tenant, customer_id)
            if customer is None:
                return (customer_id,), (customer_id,)
            return (customer.id, *customer.aliases), (customer.id,)
        keys: list[str] = []
        ids: list[str] = []
        async for customer in self._customers.each(tenant):
            if fnmatch.fnmatchcase(customer.id, pattern):
                ids.append(customer.id)
                keys += [customer.id, *customer.aliases]
        return tuple(dict.fromkeys(keys)), tuple(ids)

    async def query(self, tenant: str, request: UsageRequest) -> list[DataPoint]:
        meters = (*request.meters, *await self.specs(tenant, request.meter_ids))
        if not 1 <= len(meters) <= MAX_METERS:
            raise InvalidParameter("meters", f"A query has 1 to {MAX_METERS} meters.")
        if len({spec.key for spec in meters}) != len(meters):
            raise InvalidParameter("meters", "Each meter of a query needs its own key.")
        if request.start is not None and request.end is not None and request.start >= request.end:
            raise InvalidParameter("period", "The period's startTime must be before its endTime.")
        if (
            request.fill_dates
            and request.start is not None
            and request.end is not None
            and (request.end - request.start) // _DAY_US > MAX_FILLED_GROUPS
        ):
            raise InvalidParameter(
                "fillDates", f"fillDates covers at most {MAX_FILLED_GROUPS} days."
            )
        keys, ids = await self.customers(tenant, request.customer_id, request.customer_pattern)
        query = UsageQuery(
            keys, ids, meters, request.group_by, request.start, request.end, request.fill_dates
        )
        names = sorted({spec.event_name for spec in meters})
        events = await self._store.usage_events(tenant, keys, names, request.start, request.end)
        measurements = await self._store.usage_measurements(tenant, ids, request.start, request.end)
        return aggregation.evaluate(query, events, measurements)
