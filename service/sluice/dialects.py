"""The ingest dialects: what differs between the APIs that carry events in, as one record each.

Adding an API is a record here (and its parser in the core) plus a transport module; the
ingest path itself (ingest.py) names no API.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from google.protobuf.json_format import MessageToJson

from sluice import _core
from sluice.errors import BatchRejected, SluiceError
from sluice.model import INVALID, UNKNOWN_CUSTOMER, Batch, EventRow, Rejection
from sluice.rejections import EventJson
from sluice.storage import CustomerStore
from sluice.v1 import ingest_pb2

# (body, tenant, now_us, receipt) -> the parsed batch. The receipt is an id the transport gives
# the client for this request and stores with its events (collect's pingId); others ignore it.
Parse = Callable[[bytes, str, int, str], Batch]
# (tenant, valid rows) -> (the rows to store, rejections for the others): checks that need the
# store, made after parsing and before anything is claimed.
Screen = Callable[[str, Sequence[EventRow]], Awaitable[tuple[list[EventRow], list[Rejection]]]]
# The error that refuses a whole batch holding these invalid events (all-or-nothing APIs).
RefuseBatch = Callable[[list[Rejection]], SluiceError]

# What a repeat of a stored key is told, where the API documents nothing of its own.
ALREADY_ACCEPTED = "an event with this name and id was already accepted"
ACCEPTED_DIFFERENTLY = "an event with this name and id was already accepted with different content"


@dataclass(frozen=True, slots=True)
class Dialect:
    source: str  # the API's name, stored with each event ("vayu", "enso", ...)
    parse: Parse
    key_field: str  # the idempotency id as the API spells it ("ref", "eventId", "id")
    duplicate_message: str  # a repeat of an event already stored
    # A repeat whose content differs from the stored event: reported as a CONFLICT with this
    # message (costs a read of the stored event); None reports every repeat as a DUPLICATE.
    conflict_message: str | None = None
    screen: Screen | None = None
    refuse_batch: RefuseBatch | None = None  # set: any invalid event refuses the whole batch
    name_field: str = "name"  # the event's name as the API spells it (kept refusals)
    # Reads refused events' JSON from a body without byte spans (protobuf); see rejections.py.
    event_json: EventJson | None = None


@dataclass(frozen=True, slots=True)
class Dialects:
    """Every ingest dialect, bound to this process's limits and stores."""

    vayu: Dialect
    enso: Dialect
    collect: Dialect
    grpc: Dialect
    grpc_stream: Dialect

    @classmethod
    def build(
        cls,
        limits: _core.Limits,
        customers: CustomerStore,
        collect_event_types: Mapping[str, tuple[str, ...]],
    ) -> Dialects:
        def vayu(body: bytes, tenant: str, now: int, _receipt: str) -> Batch:
            return _core.parse_vayu_batch(body, tenant, now, limits)

        def enso(body: bytes, tenant: str, now: int, _receipt: str) -> Batch:
            return _core.parse_enso_batch(body, tenant, now, limits)

        def collect(body: bytes, tenant: str, now: int, ping_id: str) -> Batch:
            allowed = collect_event_types.get(tenant)
            return _core.parse_collect_batch(
                body, tenant, now, limits, ping_id, list(allowed) if allowed else None
            )

        def grpc(body: bytes, tenant: str, now: int, _receipt: str) -> Batch:
            return _core.parse_ingest_request(body, tenant, now, limits)

        def grpc_stream(body: bytes, tenant: str, now: int, _receipt: str) -> Batch:
            # One IngestStream message; the batch carries the client's sequence for its ack.
            return _core.parse_ingest_stream_request(body, tenant, now, limits)

        async def known_customers(
            tenant: str, rows: Sequence[EventRow]
        ) -> tuple[list[EventRow], list[Rejection]]:
            """Enso: each record's CustomerEntityId must be a customer of the tenant."""
            known = await customers.known_customer_ids(tenant, {row.customer for row in rows})
            unknown = [
                Rejection(
                    row.index, UNKNOWN_CUSTOMER, "CustomerEntityId", "Customer entity not found"
                )
                for row in rows
                if row.customer not in known
            ]
            return [row for row in rows if row.customer in known], unknown

        return cls(
            vayu=Dialect(
                "vayu", vayu, "ref", "Event ref already exists.", screen=_addressable_refs
            ),
            enso=Dialect(
                "enso",
                enso,
                "eventId",
                "duplicate eventId",
                screen=known_customers,
                name_field="metric",
            ),
            collect=Dialect(
                "collect",
                collect,
                "eventId",
                ALREADY_ACCEPTED,
                refuse_batch=_collect_refusal,
                name_field="eventType",
            ),
            grpc=Dialect(
                "grpc",
                grpc,
                "id",
                ALREADY_ACCEPTED,
                ACCEPTED_DIFFERENTLY,
                event_json=_protobuf_events(ingest_pb2.IngestRequest),
            ),
            grpc_stream=Dialect(
                "grpc",
                grpc_stream,
                "id",
                ALREADY_ACCEPTED,
                ACCEPTED_DIFFERENTLY,
                event_json=_protobuf_events(ingest_pb2.IngestStreamRequest),
            ),
        )


# URL paths cannot carry these as a segment: clients (the SDK's urllib3 among them) resolve
# `/events/..` to `/` before sending, so such a ref could never be read or deleted by ref.
_DOT_SEGMENTS = frozenset({".", ".."})


async def _addressable_refs(
    _tenant: str, rows: Sequence[EventRow]
) -> tuple[list[EventRow], list[Rejection]]:
    """Vayu: every accepted ref can be read and deleted at `/events/{ref}`."""
    refused = [
        Rejection(
            row.index, INVALID, "ref", "ref must not be '.' or '..' (a URL cannot address it)."
        )
        for row in rows
        if row.id in _DOT_SEGMENTS
    ]
    return [row for row in rows if row.id not in _DOT_SEGMENTS], refused


def _collect_refusal(invalid: list[Rejection]) -> SluiceError:
    type_failed = any(rejection.field == "eventType" for rejection in invalid)
    return BatchRejected(
        "invalid event type" if type_failed else "invalid event",
        [(rejection.index, rejection.field, rejection.message) for rejection in invalid],
    )


def _protobuf_events(
    message: type[ingest_pb2.IngestRequest | ingest_pb2.IngestStreamRequest],
) -> EventJson:
    """Refused events of a gRPC request as JSON (protobuf's JSON mapping), for kept refusals."""

    def read(body: bytes, indices: Sequence[int]) -> list[str]:
        events = message.FromString(body).events
        return [MessageToJson(events[i], indent=None) if i < len(events) else "" for i in indices]

    return read
