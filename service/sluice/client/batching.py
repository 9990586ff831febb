"""What both clients build on: the events, reports and failures, batching, and which errors are
retried (and after how long)."""

from __future__ import annotations

import datetime
import random
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.rpc import error_details_pb2, status_pb2

from sluice.v1 import ingest_pb2

INGEST_METHOD = "/sluice.v1.IngestService/Ingest"
# The server's default limits: a batch built here never exceeds them.
DEFAULT_MAX_BATCH_EVENTS = 1000
DEFAULT_MAX_BATCH_BYTES = 262_144
DEFAULT_LINGER_SECONDS = 0.05
# An Event's field tag and length prefix inside IngestRequest: at most 1 + 5 bytes.
_EVENT_FRAMING = 6
RETRYABLE = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    }
)


@dataclass(frozen=True, slots=True)
class Event:
    name: str
    customer_id: str
    data: Mapping[str, Any] = field(default_factory=dict)
    id: str | None = None  # the idempotency key; None: a uuid4 assigned once by the client
    timestamp: datetime.datetime | None = None  # None: when the server receives it
    value: float | None = None


@dataclass(frozen=True, slots=True)
class IngestReport:
    ids: list[str]  # of every event of the batch, in order (assigned ones included)
    accepted: int
    # Per event not stored. After a retry, events an earlier attempt stored come back as
    # REJECT_REASON_DUPLICATE: stored once, as intended.
    rejected: list[ingest_pb2.Rejection]
    attempts: int


class DeliveryFailed(Exception):
    """A batch was not delivered: a final status, or retries used up. `events` are the batch
    with their ids assigned, so sending them again cannot store anything twice."""

    def __init__(
        self, events: list[ingest_pb2.Event], code: grpc.StatusCode, details: str, attempts: int
    ) -> None:
        super().__init__(f"{code.name} after {attempts} attempt(s): {details}")
        self.events = events
        self.code = code
        self.attempts = attempts


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 5
    initial_backoff: float = 0.1  # seconds
    max_backoff: float = 5.0
    multiplier: float = 2.0

    def delay(self, attempt: int, error: grpc.RpcError, rng: random.Random) -> float | None:
        """Seconds to wait before attempt + 1, or None when the error is final."""
        code, metadata = status_of(error)
        server_delay = retry_delay(metadata)
        if attempt >= self.max_attempts or code not in RETRYABLE:
            return None
        if code == grpc.StatusCode.RESOURCE_EXHAUSTED and server_delay is None:
            return None  # a size limit, not a rate limit: sending it again cannot help
        cap = min(self.max_backoff, self.initial_backoff * self.multiplier ** (attempt - 1))
        return max(server_delay or 0.0, rng.uniform(0.0, cap))  # full jitter


def status_of(error: grpc.RpcError) -> tuple[grpc.StatusCode, Sequence[tuple[str, Any]]]:
    # The asyncio API raises AioRpcError; the sync API raises errors that are also grpc.Call.
    if isinstance(error, grpc.aio.AioRpcError | grpc.Call):
        # Typed by grpc-stubs as objects; at runtime both APIs give (key, value) pairs.
        metadata: Any = error.trailing_metadata() or ()
        return error.code(), tuple((key, value) for key, value in metadata)
    return grpc.StatusCode.UNKNOWN, ()


def retry_delay(metadata: Iterable[tuple[str, Any]]) -> float | None:
    """The server's retry delay in seconds: google.rpc.RetryInfo, else `retry-after-ms`."""
    fallback = None
    for key, value in metadata:
        if key == "grpc-status-details-bin" and isinstance(value, bytes):
            info = error_details_pb2.RetryInfo()
            for detail in status_pb2.Status.FromString(value).details:
                if detail.Unpack(info):  # False for any other kind of detail
                    return info.retry_delay.ToNanoseconds() / 1e9
        elif key == "retry-after-ms" and str(value).isdigit():
            fallback = int(value) / 1000
    return fallback


def to_proto(event: Event | ingest_pb2.Event) -> ingest_pb2.Event:
    """A new protobuf event carrying an id: the event's own, else a fresh uuid4."""
    message = ingest_pb2.Event()
    if isinstance(event, ingest_pb2.Event):
        message.CopyFrom(event)
    else:
        message.name, message.customer_id = event.name, event.customer_id
        message.id = event.id or ""
        message.data.update(event.data)
        if event.timestamp is not None:
            message.timestamp.FromDatetime(event.timestamp)  # naive means UTC
        if event.value is not None:
            message.value = event.value
    if not message.id:
        message.id = str(uuid.uuid4())
    return message


class Batcher:
    """Single events into batches by count and bytes; `deadline` is when linger sends it."""

    def __init__(self, max_events: int, max_bytes: int, linger: float) -> None:
        self.max_events, self.max_bytes, self.linger = max_events, max_bytes, linger
        self._events: list[ingest_pb2.Event] = []
        self._bytes = 0
        self.deadline: float | None = None  # time.monotonic() when the batch is due

    def add(self, event: ingest_pb2.Event) -> list[list[ingest_pb2.Event]]:
        """Buffer the event; return the batches that are now due (full)."""
        size = event.ByteSize() + _EVENT_FRAMING
        due = [self.take()] if self._events and self._bytes + size > self.max_bytes else []
        self._events.append(event)
        self._bytes += size
        if self.deadline is None:
            self.deadline = time.monotonic() + self.linger
        if len(self._events) >= self.max_events or self._bytes >= self.max_bytes:
            due.append(self.take())
        return due

    def take(self) -> list[ingest_pb2.Event]:
        events, self._events, self._bytes, self.deadline = self._events, [], 0, None
        return events

    def take_if_due(self) -> list[ingest_pb2.Event]:
        due = self.deadline is not None and self.deadline <= time.monotonic()
        return self.take() if due else []
