"""The wire shapes of customers, meters, measurements and usage, as OpenAPI documents them.

Documentation only, like web/schemas.py: handlers read bytes and write dicts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from msgspec import Struct

# Sluice's own registry: /v1/customers.


class CustomerRequest(Struct, kw_only=True):
    aliases: list[str] | None = None
    email: str | None = None
    attributes: dict[str, Any] | None = None


class Customer(Struct, kw_only=True):
    id: str
    aliases: list[str]
    email: str | None
    attributes: dict[str, Any]
    createdAt: datetime
    updatedAt: datetime


class CustomerPage(Struct, kw_only=True):
    customers: list[Customer]
    nextCursor: str | None
    hasMore: bool


# Vayu's customers: /customers (web/vayu_customers.py FIELDS checks each field).


class VayuCustomerFields(Struct, kw_only=True):
    name: str | None = None
    aliases: list[str] | None = None
    externalId: str | None = None
    contacts: list[dict[str, Any]] | None = None
    source: str | None = None  # Stripe, VayuEventsApi, Api, Salesforce, HubSpot
    legalName: str | None = None
    taxIds: list[str] | None = None
    taxId: str | None = None
    cloudProviderSettings: dict[str, Any] | None = None
    customerErpId: str | None = None
    address: dict[str, Any] | None = None
    salesForceAccountId: str | None = None
    dueDays: str | None = None  # END_OF_MONTH, SAME_DAY, 15_DAYS, ...
    currency: str | None = None  # USD, EUR, GBP, ILS, CAD, AUD, COP, BRL
    customFields: list[dict[str, Any]] | None = None
    subsidiary: str | None = None
    totalOutstandingAmount: float | None = None
    openAmount: float | None = None
    overdueAmount: float | None = None
    pendingPaymentAmount: float | None = None
    paidAmount: float | None = None


class NewVayuCustomer(VayuCustomerFields, kw_only=True):
    """`POST /customers`: the fields of `PUT`, `name` required."""

    name: str


class VayuCustomer(VayuCustomerFields, kw_only=True):
    id: str
    createdAt: datetime
    updatedAt: datetime
    deletedAt: datetime | None = None


class VayuCustomerResult(Struct, kw_only=True):
    customer: VayuCustomer


class VayuCustomerPage(Struct, kw_only=True):
    customers: list[VayuCustomer]
    total: int
    hasMore: bool
    nextCursor: str | None


# Meters and measurements: /meters, /measurements.


class AggregationMethod(Struct, kw_only=True):
    operator: str  # Count, Sum, Max, Min, Avg, UniqueCount, Median, ...
    field: str | None = None  # required by every operator but Count
    instanceKey: str | None = None


class Criterion(Struct, kw_only=True):
    field: str
    operator: str  # Equals, NotEquals, GreaterThan, ... (metering.CRITERION_OPERATORS)
    value: str


class Condition(Struct, kw_only=True):
    """Every criterion must hold."""

    criterions: list[Criterion]


class MeterFilter(Struct, kw_only=True):
    """An event counts when any condition holds."""

    conditions: list[Condition]


class MeterFields(Struct, kw_only=True):
    name: str
    eventName: str
    aggregationMethod: AggregationMethod
    filter: MeterFilter | None = None


class MeterChanges(Struct, kw_only=True):
    """`PUT /meters/{id}`: the fields sent replace the meter's; a null `filter` removes it."""

    name: str | None = None
    eventName: str | None = None
    aggregationMethod: AggregationMethod | None = None
    filter: MeterFilter | None = None


class Meter(MeterFields, kw_only=True):
    id: str
    createdAt: datetime
    updatedAt: datetime
    deletedAt: datetime | None = None


class MeterResult(Struct, kw_only=True):
    meter: Meter


class MeterPage(Struct, kw_only=True):
    meters: list[Meter]
    total: int
    hasMore: bool
    nextCursor: str | None


class UsageDate(Struct, kw_only=True):
    year: int
    month: int
    day: int


class MeasurementRequest(Struct, kw_only=True):
    customerId: str
    meterId: str
    usageDate: UsageDate
    value: float


class Measurement(MeasurementRequest, kw_only=True):
    id: str
    createdAt: datetime
    updatedAt: datetime
    deletedAt: datetime | None = None


class MeasurementResult(Struct, kw_only=True):
    measurement: Measurement


class MeasurementPage(Struct, kw_only=True):
    measurements: list[Measurement]
    total: int
    hasMore: bool
    nextCursor: str | None


# Usage: POST /v2/events/aggregation.


class Period(Struct, kw_only=True):
    startTime: datetime | None = None
    endTime: datetime | None = None


class FieldArithmetic(Struct, kw_only=True):
    operator: str  # + - * /
    field: str


class InlineAggregation(Struct, kw_only=True):
    operator: str  # as AggregationMethod's
    field: str | None = None
    instanceKey: str | None = None
    fieldArithmetic: FieldArithmetic | None = None  # the field combined with another first


class InlineFilter(Struct, kw_only=True):
    field: str
    operator: str  # eq, neq, gt, gte, lt, lte, in
    value: str | float | list[str | float]


class InlineMeter(Struct, kw_only=True):
    """One meter of a usage query, as Vayu's SDK sends it (metering.inline_meter)."""

    key: str  # names the meter's value in each data point's `values`
    eventName: str
    aggregation: InlineAggregation | None = None  # Count when absent
    filters: list[InlineFilter] | None = None  # all must hold


class UsageRequest(Struct, kw_only=True):
    customerId: str
    period: Period
    meters: list[InlineMeter]
    groupBy: str  # model.GROUP_BY: event, day, month, quarter, year
    customerIdPattern: str | None = None
    fillDates: bool | None = None


class DataPoint(Struct, kw_only=True):
    group: str
    values: dict[str, float]


class UsageResult(Struct, kw_only=True):
    dataPoints: list[DataPoint]
    period: Period
    groupBy: str
