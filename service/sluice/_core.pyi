"""Type stubs for the Rust extension `sluice._core` (checked against the binary by stubtest)."""

from typing import Any, Final, final

__all__ = [
    "CLAIMED",
    "COMMITTED",
    "CONFLICT",
    "DUPLICATE",
    "INVALID",
    "IN_FLIGHT",
    "Batch",
    "CoreError",
    "EventRow",
    "IdempotencyIndex",
    "InvalidBatch",
    "InvalidJson",
    "InvalidTimestamp",
    "Limits",
    "PayloadTooLarge",
    "ProfileEvent",
    "content_hash",
    "idempotency_key",
    "loads_strict",
    "parse_collect_batch",
    "parse_enso_batch",
    "parse_ingest_request",
    "parse_ingest_stream_request",
    "parse_profiles_event",
    "parse_timestamp",
    "parse_vayu_batch",
    "payload_problem",
]

# Per-event rejection reasons, shared with the gRPC `RejectReason` enum (without its prefix).
INVALID: Final[str]  # "INVALID": a field failed validation; the message names it
DUPLICATE: Final[str]  # "DUPLICATE": same idempotency key earlier in the same batch
CONFLICT: Final[str]  # "CONFLICT": same key earlier in the batch, different content hash

# Claim states returned by IdempotencyIndex.claim, one per key.
CLAIMED: Final[int]  # 0: key was free; it is now reserved by the caller
COMMITTED: Final[int]  # 1: key is already committed: a duplicate
IN_FLIGHT: Final[int]  # 2: key is reserved by another request that has not settled yet

class CoreError(Exception):
    """Base of every error raised by the core.

    (An event id that needs randomness the OS cannot supply raises the builtin OSError.)
    """

class PayloadTooLarge(CoreError):
    """The body is larger than Limits.max_body_bytes."""

class InvalidJson(CoreError):
    """The body is not strict RFC 8259 JSON (or too deeply nested). str() says what and where."""

class InvalidBatch(CoreError):
    """The body parsed but is not a valid request: the event list missing, not an array, empty
    or too long, or (profiles, collect) a request-level field is missing or malformed.

    `param` names the offending field as the dialect spells it: "events" (Vayu, Enso, gRPC),
    "messageBody" / "messageheader" (collect), "user" / "event" / "event_name" / "orderId"
    (profiles).
    """

    param: str

class InvalidTimestamp(CoreError):
    """parse_timestamp was given something that is not an RFC 3339 / ISO 8601 date-time."""

@final
class Limits:
    """Request limits, checked when constructed (ValueError) and read-only after."""

    def __new__(
        cls,
        *,
        max_body_bytes: int = 262_144,
        max_events: int = 1000,
        max_depth: int = 64,
        max_future_us: int = 3_600_000_000,
    ) -> Limits: ...
    @property
    def max_body_bytes(self) -> int: ...
    @property
    def max_events(self) -> int: ...
    @property
    def max_depth(self) -> int: ...
    @property
    def max_future_us(self) -> int: ...

@final
class EventRow:
    """One event that passed validation, ready to be claimed and stored. Immutable."""

    def __new__(
        cls,
        *,
        index: int,
        key: bytes,
        name: str,
        id: str,
        customer: str,
        timestamp_us: int,
        value: float | None,
        payload: str,
        content_hash: bytes,
    ) -> EventRow:
        """A row made in Python; ValueError unless `key` and `content_hash` are 16 bytes."""
    @property
    def index(self) -> int:
        """Position in the request's event list."""
    @property
    def key(self) -> bytes:
        """16-byte idempotency key of (tenant, name, id)."""
    @property
    def name(self) -> str: ...
    @property
    def id(self) -> str: ...
    @property
    def customer(self) -> str: ...
    @property
    def timestamp_us(self) -> int: ...
    @property
    def value(self) -> float | None: ...
    @property
    def payload(self) -> str:
        """Compact JSON object text, keys in the order the client sent them."""
    @property
    def content_hash(self) -> bytes:
        """16-byte hash of what the client sent, to tell a retry from a conflict."""

@final
class Batch:
    """A parsed, validated batch. Events are in request order; `index` is the position in it."""

    @property
    def total(self) -> int: ...
    @property
    def events(self) -> list[EventRow]: ...
    @property
    def rejected(self) -> list[tuple[int, str, str, str]]:
        """(index, reason, field, message) for events that failed validation or repeat a key
        in-batch. `field` is the offending field as the dialect spells it ("" when the event is
        not an object); for DUPLICATE/CONFLICT it is the key field ("ref", "id", "eventId")."""
    @property
    def spans(self) -> list[tuple[int, int]]:
        """Byte range [start, end) of every event element in the JSON body (empty for protobuf)."""
    @property
    def dry_run(self) -> bool: ...
    @property
    def sequence(self) -> int:
        """The client's sequence number for an IngestStream message (its ack echoes it); else 0."""

def parse_vayu_batch(body: bytes, tenant: str, now_us: int, limits: Limits) -> Batch:
    """Parse and validate a Vayu `POST /events` body. Releases the GIL while it works."""

def parse_enso_batch(body: bytes, tenant: str, now_us: int, limits: Limits) -> Batch:
    """Parse and validate an Enso `POST /events/batch` body. Releases the GIL while it works.

    A record without `eventId` gets "enso-" + 32 hex digits derived from (metric, value,
    timestamp, CustomerEntityId); payload is `{"metadata":{...}}` plus `"JobId"` when sent.
    """

def parse_collect_batch(
    body: bytes,
    tenant: str,
    now_us: int,
    limits: Limits,
    ping_id: str,
    allowed_types: list[str] | None,
) -> Batch:
    """Parse and validate a `POST /collect/event` body. Releases the GIL while it works.

    `allowed_types` is the tenant's event-type allow-list (None: any valid type). An event
    without `eventId` gets a random UUIDv4. Payload is `{"properties","attributes",
    "messageheader","pingId"}`. The API is all or nothing: decide from `rejected`.
    """

@final
class ProfileEvent:
    """One validated profiles event (`POST /v1/event/`)."""

    @property
    def user_field(self) -> str:
        """How the user was identified: "_id" or "email" (`_id` wins when both are sent)."""
    @property
    def user(self) -> str: ...
    @property
    def type(self) -> str:
        """The event's type key: "update", "login", "generic", "confirmation", ..."""
    @property
    def name(self) -> str:
        """The name to store: `event_name` for a generic event, else the type."""
    @property
    def order_id(self) -> str | None:
        """A confirmation's orderId (a number as its canonical text); None for other types."""
    @property
    def attributes_json(self) -> str:
        """Compact JSON object of the type's object (for `generic`, the inner object)."""
    @property
    def timestamp_us(self) -> int:
        """The attributes' `timestamp` if a valid RFC 3339 date-time within the future window,
        else now_us."""

def parse_profiles_event(body: bytes, now_us: int, limits: Limits) -> ProfileEvent:
    """Parse and validate a profiles `POST /v1/event/` body. Releases the GIL while it works.

    Every problem raises (InvalidBatch with `param` "user", "event", "event_name" or "orderId").
    """

def parse_ingest_request(body: bytes, tenant: str, now_us: int, limits: Limits) -> Batch:
    """Decode and validate a serialized sluice.v1.IngestRequest. Releases the GIL while it works."""

def parse_ingest_stream_request(body: bytes, tenant: str, now_us: int, limits: Limits) -> Batch:
    """Decode and validate one serialized sluice.v1.IngestStreamRequest (the batch carries its
    sequence). Same checks and errors as parse_ingest_request. Releases the GIL while it works."""

def loads_strict(data: bytes) -> Any:
    """The value of a strict RFC 8259 JSON document, as `json.loads` would give it, under the
    request parsers' rules: UTF-8 only, no NaN/Infinity, no duplicate keys, numbers of at most
    1000 characters (floats finite), nesting of at most 64 levels. InvalidJson otherwise."""

def payload_problem(payload: str) -> str | None:
    """Why a stored payload (JSON object text) cannot be read back on every surface (not a
    strict JSON object, or a number no 64-bit float carries), or None when it can."""

def parse_timestamp(text: str) -> int:
    """RFC 3339 / ISO 8601 date-time -> UTC microseconds since the epoch (no offset means UTC)."""

def idempotency_key(tenant: str, name: str, id: str) -> bytes:
    """The 16-byte idempotency key hash of (tenant, name, id)."""

def content_hash(
    name: str, customer: str, timestamp_us: int | None, value: float | None, payload_json: str
) -> bytes:
    """The 16-byte content hash the parsers give a row; `payload_json` is a JSON object's text
    (hashed canonically: key order and number spelling do not count); `timestamp_us` is None
    when the server stamped the time (a stamped time stays out of the hash). InvalidJson if it
    is not JSON, ValueError if it is not an object."""

@final
class IdempotencyIndex:
    """Process-wide set of committed keys plus in-flight reservations. Thread-safe."""

    def __init__(self) -> None: ...
    def __len__(self) -> int: ...
    def load(self, keys: bytes) -> None:
        """Mark keys committed in bulk; `keys` is 16-byte keys concatenated (start-up rebuild)."""
    def claim(self, keys: list[bytes]) -> list[int]:
        """For each key: CLAIMED (now reserved by caller), COMMITTED, or IN_FLIGHT."""
    def confirm(self, keys: list[bytes]) -> None:
        """Mark keys committed (whatever their state): the store now holds them."""
    def release(self, keys: list[bytes]) -> None:
        """Forget reservations after a failed write. Committed keys are left alone."""
