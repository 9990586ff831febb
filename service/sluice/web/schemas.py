"""The wire shapes of the ingest dialects and Vayu's event reads, as OpenAPI documents them.

Documentation only: handlers read bodies as bytes (the Rust core parses them) and write dicts;
these Structs give the schema its names and fields (docs/decisions.md, "OpenAPI").
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from msgspec import Struct

from sluice.web.schemas_registry import MeterFields

# Error objects, one per dialect (web/errors.py, enso.py, collect.py, profiles.py).


class SluiceErrorDetail(Struct, kw_only=True):
    param: str
    message: str


class SluiceErrorCore(Struct, kw_only=True):
    type: str
    code: str
    message: str


class SluiceError(Struct, kw_only=True):
    """Sluice's and Vayu's error object; a 404 also nests it under `error`."""

    type: str
    code: str
    message: str
    param: str | None = None
    params: list[SluiceErrorDetail] | None = None
    # Only on a 404: Vayu's SDK reads the fields at the top level, its documentation under
    # `error` (web/errors.py sluice_error), so both are sent.
    error: SluiceErrorCore | None = None


class EnsoError(Struct, kw_only=True):
    status: str
    message: str
    code: int


class CollectErrorDetail(Struct, kw_only=True):
    index: int
    field: str
    reason: str


class CollectError(Struct, kw_only=True):
    error: str
    message: str
    statusCode: int
    details: list[CollectErrorDetail] | None = None


class ProfilesErrorItem(Struct, kw_only=True):
    message: str
    description: str


class ProfilesError(Struct, kw_only=True):
    errors: list[ProfilesErrorItem]


# Vayu: POST /events, /events/dry-run, /login, reads and deletes.


class VayuEvent(Struct, kw_only=True):
    name: str
    timestamp: datetime
    customerAlias: str
    ref: str
    data: dict[str, Any] | None = None


class VayuIngestRequest(Struct, kw_only=True):
    events: list[VayuEvent]


class VayuInvalidEvent(Struct, kw_only=True):
    event: dict[str, Any]  # echoed exactly as sent
    error: str


class VayuIngestResult(Struct, kw_only=True):
    """Each event echoed byte for byte as it was sent, unknown fields included."""

    validEvents: list[VayuEvent]
    invalidEvents: list[VayuInvalidEvent]


class StoredEvent(Struct, kw_only=True):
    name: str
    timestamp: datetime
    customerAlias: str
    ref: str
    data: dict[str, Any]
    id: str
    createdAt: datetime
    updatedAt: datetime
    deletedAt: datetime | None = None


class EventPage(Struct, kw_only=True):
    events: list[StoredEvent]
    total: int
    hasMore: bool
    nextCursor: str | None


class EventResult(Struct, kw_only=True):
    event: StoredEvent


class EventList(Struct, kw_only=True):
    events: list[StoredEvent]


class DeleteByRefsRequest(Struct, kw_only=True):
    refs: list[str]


class LoginRequest(Struct, kw_only=True):
    refreshToken: str


class LoginResult(Struct, kw_only=True):
    accessToken: str


class DryRunEvent(Struct, kw_only=True):
    timestamp: datetime
    customerAlias: str
    accountId: str
    data: dict[str, Any]
    ref: str
    name: str


class MeterWithValue(MeterFields, kw_only=True):
    """A meter that admits the event (its document, without id or times), with what the event
    alone would add to it."""

    value: float | None  # 1 for Count; None when the event lacks the measured field
    instanceValue: Any  # the event's value at the meter's instanceKey, if it has one


class DryRunItem(Struct, kw_only=True):
    event: DryRunEvent
    matchedCustomer: str | None  # the registry id the customerAlias resolves to, if any
    meterWithValues: list[MeterWithValue]


class DryRunResult(Struct, kw_only=True):
    events: list[DryRunItem]


# Enso: POST /events/batch.


class EnsoRecord(Struct, kw_only=True):
    CustomerEntityId: str
    metric: str
    value: float
    timestamp: datetime | None = None
    metadata: dict[str, Any] | None = None
    eventId: str | None = None
    JobId: str | None = None
    jobId: str | None = None


class EnsoBatchRequest(Struct, kw_only=True):
    events: list[EnsoRecord]


class EnsoSummary(Struct, kw_only=True):
    success: int
    failed: int
    total: int


class EnsoFailedRecord(Struct, kw_only=True):
    index: int
    error: str
    code: int
    statusCode: int


class EnsoBatchData(Struct, kw_only=True):
    summary: EnsoSummary
    failedRecords: list[EnsoFailedRecord]


class EnsoBatchResult(Struct, kw_only=True):
    status: str
    message: str
    data: EnsoBatchData


# Profiles: POST /v1/event.


class ProfilesUser(Struct, kw_only=True, rename={"id": "_id"}):
    """The user, by registry id (`_id`) or email: one of the two."""

    id: str | None = None
    email: str | None = None


class ProfilesRequest(Struct, kw_only=True):
    """`event` holds one event type as its only key: `update`, `generic`, `confirmation`,
    `email_open`, ... (docs/contracts.md)."""

    user: ProfilesUser
    event: dict[str, Any]


class ProfilesResult(Struct, kw_only=True):
    """`results`: `message` ("Event created" or "Event discarded") and, under the user field
    the request used (`email` or `_id`), what happened to the event."""

    results: dict[str, str]


# Collect: POST /collect/event.


class CollectEvent(Struct, kw_only=True):
    eventType: str
    eventId: str | None = None
    userId: str | None = None
    timestamp: int | None = None  # epoch milliseconds
    properties: dict[str, Any] | None = None
    channel: str | None = None


class CollectRequest(Struct, kw_only=True):
    messageBody: list[CollectEvent]
    messageHeaders: dict[str, Any] | None = None


class CollectResult(Struct, kw_only=True):
    """`value` is a JSON *string*: `{"pingId": "<uuid>"}`."""

    headers: dict[str, Any]
    value: str
