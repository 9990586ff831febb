"""Type stubs for the Rust extension `sluice._core` (checked against the binary by stubtest)."""

from typing import Final, final

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
    "idempotency_key",
    "parse_ingest_request",
    "parse_timestamp",
    "parse_vayu_batch",
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
    """Base of every error raised by the core."""

class PayloadTooLarge(CoreError):
    """The body is larger than Limits.max_body_bytes."""

class InvalidJson(CoreError):
    """The body is not strict RFC 8259 JSON (or too deeply nested). str() says what and where."""

class InvalidBatch(CoreError):
    """The body parsed but is not a batch: `events` missing or not an array, or 0 / too many events.

    `param` names the offending field ("events").
    """

    param: str

class InvalidTimestamp(CoreError):
    """parse_timestamp was given something that is not an RFC 3339 / ISO 8601 date-time."""

@final
class Limits:
    max_body_bytes: int
    max_events: int
    max_depth: int
    max_future_us: int
    def __init__(
        self,
        max_body_bytes: int = 262_144,
        max_events: int = 1000,
        max_depth: int = 64,
        max_future_us: int = 3_600_000_000,
    ) -> None: ...

# One accepted-by-validation event, ready to be claimed and stored:
# (index, key, name, id, customer, timestamp_us, value, payload_json, content_hash)
EventRow = tuple[int, bytes, str, str, str, int, float | None, str, bytes]

@final
class Batch:
    """A parsed, validated batch. Events are in request order; `index` is the position in it."""

    @property
    def total(self) -> int: ...
    @property
    def events(self) -> list[EventRow]: ...
    @property
    def rejected(self) -> list[tuple[int, str, str]]:
        """(index, reason, message) for events that failed validation or repeat a key in-batch."""
    @property
    def spans(self) -> list[tuple[int, int]]:
        """Byte range [start, end) of every event element in the JSON body (empty for protobuf)."""
    @property
    def dry_run(self) -> bool: ...

def parse_vayu_batch(body: bytes, tenant: str, now_us: int, limits: Limits) -> Batch:
    """Parse and validate a Vayu `POST /events` body. Releases the GIL while it works."""

def parse_ingest_request(body: bytes, tenant: str, now_us: int, limits: Limits) -> Batch:
    """Decode and validate a serialized sluice.v1.IngestRequest. Releases the GIL while it works."""

def parse_timestamp(text: str) -> int:
    """RFC 3339 / ISO 8601 date-time -> UTC microseconds since the epoch (no offset means UTC)."""

def idempotency_key(tenant: str, name: str, id: str) -> bytes:
    """The 16-byte idempotency key hash of (tenant, name, id)."""

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
