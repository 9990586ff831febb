"""The domain's named types, defined once: what transports, services and stores pass around."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# One event that passed validation, ready to be claimed and stored: a named, immutable row
# built by the Rust core (Batch.events), or in Python for events no parser produced.
from sluice._core import Batch, EventRow

__all__ = [
    "AGGREGATION_OPERATORS",
    "CONFLICT",
    "CRITERION_OPERATORS",
    "DUPLICATE",
    "GROUP_BY",
    "INVALID",
    "RATE_LIMITED",
    "UNKNOWN_CUSTOMER",
    "ApiKeyRecord",
    "Arithmetic",
    "Batch",
    "Criterion",
    "Customer",
    "DataPoint",
    "EventQuery",
    "EventRow",
    "IngestOutcome",
    "Measurement",
    "Meter",
    "MeterSpec",
    "Quota",
    "RejectedEvent",
    "Rejection",
    "RejectionQuery",
    "StoredEvent",
    "UsageQuery",
]


@dataclass(frozen=True, slots=True)
class Quota:
    """What the rate-limit headers say after one request."""

    limit: int  # requests per second; 0 = unlimited
    remaining: int
    reset_after: float  # seconds until the full burst is available again


@dataclass(frozen=True, slots=True)
class StoredEvent:
    tenant: str
    offset: int
    id: str
    source: str
    name: str
    customer: str
    timestamp: int  # UTC microseconds
    value: float | None
    payload: str  # JSON object text
    received_at: int  # UTC microseconds
    deleted_at: int | None
    content_hash: bytes


@dataclass(frozen=True, slots=True)
class EventQuery:
    """Filters and a keyset position for reading events in (timestamp, offset) order."""

    start: int | None = None  # UTC microseconds, inclusive
    end: int | None = None  # UTC microseconds, exclusive
    name: str | None = None
    customer: str | None = None
    after: tuple[int, int] | None = None  # (timestamp, offset) of the last event already read
    limit: int = 100


@dataclass(frozen=True, slots=True)
class Customer:
    """One entry of a tenant's customer registry (docs/contracts.md §1); the tenant is the
    caller's."""

    id: str
    aliases: list[str]  # unique within the tenant, in the order given
    email: str | None  # unique within the tenant, compared case-insensitively
    attributes: dict[str, Any]  # a JSON object
    created_at: int  # UTC microseconds
    updated_at: int  # UTC microseconds


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    key_id: str
    tenant: str
    secret_hash: bytes  # sha256 of the whole token; the token itself is never stored
    created_at: int
    revoked_at: int | None = None
    rate_limit: int | None = None  # requests per second; None = the server default, 0 = none


# Why an event of a batch was not stored; the core uses the first three for in-batch repeats.
INVALID = "INVALID"
DUPLICATE = "DUPLICATE"
CONFLICT = "CONFLICT"  # a repeated key whose content differs from the stored event's
UNKNOWN_CUSTOMER = "UNKNOWN_CUSTOMER"  # Enso: the CustomerEntityId is not in the registry
RATE_LIMITED = "RATE_LIMITED"  # a request refused for its key's rate (counted, not kept)


@dataclass(frozen=True, slots=True, order=True)
class Rejection:
    """One event of a batch that was not stored, as every transport renders it."""

    index: int  # the event's position in the request
    reason: str  # INVALID, DUPLICATE, CONFLICT or UNKNOWN_CUSTOMER
    field: str  # the offending field as the dialect spells it ("" for the whole event)
    message: str


@dataclass(frozen=True, slots=True)
class RejectedEvent:
    """A refused event as kept for its tenant to look up (rejections.py): what the client was
    told, the request, the API and the event itself (JSON text, cut to a bounded size)."""

    at: int  # when the request was received, UTC microseconds
    request_id: str  # the X-Request-Id (HTTP) or x-request-id metadata (gRPC) answered
    source: str  # the API: vayu, enso, collect, grpc
    name: str  # the event's name when it could be read, else ""
    reason: str  # INVALID, CONFLICT or UNKNOWN_CUSTOMER
    field: str
    message: str
    event: str  # the offending event's JSON text, truncated past rejections.MAX_EVENT_CHARS
    seq: int = 0  # the store's position for it (newest highest); 0 before it is stored


@dataclass(frozen=True, slots=True)
class RejectionQuery:
    """Filters and a keyset position for reading a tenant's kept refusals, newest first."""

    source: str | None = None
    name: str | None = None
    reason: str | None = None
    since: int | None = None  # UTC microseconds, inclusive
    before: int | None = None  # seq of the last refusal already read
    limit: int = 100


@dataclass(frozen=True, slots=True)
class IngestOutcome:
    """What became of one ingest request's events."""

    batch: Batch  # the parsed request: its size, spans and (for a dry run) its valid rows
    accepted: list[int]  # indices of the events this request stored (or would, in a dry run)
    rejected: list[Rejection]  # by ascending index


# Metering (docs/decisions.md, "Meters and usage").
AGGREGATION_OPERATORS = ("Count", "Sum", "Distinct", "Max", "Min", "Average", "First", "Last")
# Vayu's meter filter operators; a usage query's inline `eq`/`neq`/`gt`/`gte`/`lt`/`lte`/`in`
# are read as the matching ones.
CRITERION_OPERATORS = (
    "Equals",
    "DoesntEqual",
    "Has",
    "In",
    "Contains",
    "DoesntContain",
    "LargerThan",
    "LowerThan",
    "LowerEqualTo",
    "LargerEqualTo",
    "Exists",
    "DoesntExists",
)
GROUP_BY = ("event", "day", "month", "quarter", "year")


@dataclass(frozen=True, slots=True)
class Criterion:
    """One test of an event's data: `field` (a dotted path into the payload) `operator` value."""

    field: str
    operator: str  # one of CRITERION_OPERATORS
    value: str | float | tuple[str | float, ...]


@dataclass(frozen=True, slots=True)
class Arithmetic:
    """`field <operator> other field` as a meter's measured value (`+ - * /`)."""

    operator: str
    field: str


@dataclass(frozen=True, slots=True)
class MeterSpec:
    """What the usage engine evaluates: a stored meter, or one sent inline with a query."""

    key: str  # names the meter's value in results; a stored meter's id
    event_name: str
    operator: str  # one of AGGREGATION_OPERATORS
    field: str | None = None  # the measured data field (every operator but Count)
    instance_key: str | None = None  # aggregate per value of this field, then add them up
    arithmetic: Arithmetic | None = None
    # Any condition (an alternative) whose criteria all hold admits an event; () admits all.
    conditions: tuple[tuple[Criterion, ...], ...] = ()


@dataclass(frozen=True, slots=True)
class Meter:
    """A stored meter: Vayu's meter document (`name`, `eventName`, `aggregationMethod`,
    `filter`), kept as sent (metering.spec_of reads it)."""

    id: str  # 24 hex digits
    event_name: str  # the document's eventName, stored apart for lookups by event
    document: dict[str, Any]
    created_at: int
    updated_at: int


@dataclass(frozen=True, slots=True)
class Measurement:
    """A pre-aggregated value of one meter for one customer on one UTC day."""

    id: str  # 24 hex digits
    customer_id: str
    meter_id: str
    day_us: int  # UTC microseconds of the day's midnight
    value: float
    created_at: int
    updated_at: int


@dataclass(frozen=True, slots=True)
class UsageQuery:
    """Usage of some customers' events (and measurements) by meter, in time groups."""

    customers: tuple[str, ...]  # the event customer strings counted (ids and their aliases)
    customer_ids: tuple[str, ...]  # registry ids whose measurements count
    meters: tuple[MeterSpec, ...]
    group_by: str  # one of GROUP_BY
    start: int | None = None  # UTC microseconds, inclusive
    end: int | None = None  # exclusive
    fill_dates: bool = False


@dataclass(frozen=True, slots=True)
class DataPoint:
    group: str  # the group's start (`YYYY-MM-DDT00:00:00.000Z`), or the event's ref
    start: int  # the group's start in UTC microseconds (the event's timestamp for "event")
    values: dict[str, float]  # meter key -> usage
