"""A small typed client for Sluice's gRPC IngestService, sync and asyncio.

It batches single events (by count, bytes and linger time), retries only what may succeed
later (UNAVAILABLE, DEADLINE_EXCEEDED, and RESOURCE_EXHAUSTED when the server says when) with
exponential backoff and full jitter, never sooner than the server's retry delay, and is
idempotent by construction: an event without an id gets a uuid4 once, before its first
attempt, so every retry of it carries the same (name, id) and the server stores it once.

    with SluiceClient("localhost:50051", api_key) as client:
        client.send(Event(name="api_call", customer_id="c1", data={"ms": 12}))
    # leaving the block closes the client, which flushes what is still batched
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import random
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self, TypedDict, Unpack

import grpc
from google.rpc import error_details_pb2, status_pb2

from sluice.v1 import ingest_pb2

__all__ = [
    "AsyncSluiceClient",
    "ClientOptions",
    "DeliveryFailed",
    "Event",
    "IngestReport",
    "RetryPolicy",
    "SluiceClient",
]

INGEST_METHOD = "/sluice.v1.IngestService/Ingest"
# The server's default limits: a batch built here never exceeds them.
DEFAULT_MAX_BATCH_EVENTS = 1000
DEFAULT_MAX_BATCH_BYTES = 262_144
DEFAULT_LINGER_SECONDS = 0.05
# An Event's field tag and length prefix inside IngestRequest: at most 1 + 5 bytes.
_EVENT_FRAMING = 6
_RETRYABLE = frozenset(
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
        code, metadata = _status(error)
        server_delay = retry_delay(metadata)
        if attempt >= self.max_attempts or code not in _RETRYABLE:
            return None
        if code == grpc.StatusCode.RESOURCE_EXHAUSTED and server_delay is None:
            return None  # a size limit, not a rate limit: sending it again cannot help
        cap = min(self.max_backoff, self.initial_backoff * self.multiplier ** (attempt - 1))
        return max(server_delay or 0.0, rng.uniform(0.0, cap))  # full jitter


def _status(error: grpc.RpcError) -> tuple[grpc.StatusCode, Sequence[tuple[str, Any]]]:
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


class _Batcher:
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


class ClientOptions(TypedDict, total=False):
    """The keyword options of both clients; each has a default."""

    credentials: grpc.ChannelCredentials  # TLS; without it the channel is plaintext
    max_batch_events: int  # send() sends a batch at this many events (1000)
    max_batch_bytes: int  # ... or before it would grow past this many bytes (262,144)
    linger: float  # ... or this many seconds after its first event (0.05)
    retry: RetryPolicy  # RetryPolicy()
    timeout: float  # seconds per attempt (10)
    channel_options: Sequence[tuple[str, Any]]  # grpc channel arguments


class _ClientBase:
    def __init__(self, api_key: str, options: ClientOptions) -> None:
        self._metadata = (("authorization", f"Bearer {api_key}"),)
        self._batcher = _Batcher(
            options.get("max_batch_events", DEFAULT_MAX_BATCH_EVENTS),
            options.get("max_batch_bytes", DEFAULT_MAX_BATCH_BYTES),
            options.get("linger", DEFAULT_LINGER_SECONDS),
        )
        self._retry = options.get("retry", RetryPolicy())
        self._timeout = options.get("timeout", 10.0)
        self._channel_options = list(options.get("channel_options", ()))
        self._rng = random.Random()
        self._failure: DeliveryFailed | None = None  # from a lingered batch, raised next call
        self._closed = False

    def _raise_failure(self) -> None:
        failure, self._failure = self._failure, None
        if failure is not None:
            raise failure

    def _give_up(
        self, batch: list[ingest_pb2.Event], error: grpc.RpcError, attempts: int
    ) -> DeliveryFailed:
        code, _metadata = _status(error)
        details = error.details() if isinstance(error, grpc.aio.AioRpcError | grpc.Call) else ""
        return DeliveryFailed(batch, code, details or "", attempts)


def _report(
    batch: list[ingest_pb2.Event], reply: ingest_pb2.IngestResponse, attempts: int
) -> IngestReport:
    return IngestReport([e.id for e in batch], reply.accepted, list(reply.rejected), attempts)


class SluiceClient(_ClientBase):
    """Blocking client; thread-safe. A thread sends batches whose linger time has passed."""

    def __init__(self, target: str, api_key: str, **options: Unpack[ClientOptions]) -> None:
        super().__init__(api_key, options)
        credentials = options.get("credentials")
        self._channel = (
            grpc.secure_channel(target, credentials, self._channel_options)
            if credentials is not None
            else grpc.insecure_channel(target, self._channel_options)
        )
        self._call = self._channel.unary_unary(
            INGEST_METHOD,
            request_serializer=ingest_pb2.IngestRequest.SerializeToString,
            response_deserializer=ingest_pb2.IngestResponse.FromString,
        )
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._lingering = threading.Lock()  # held while a lingered batch is being delivered
        self._linger_thread = threading.Thread(
            target=self._linger_loop, name="sluice-client-linger", daemon=True
        )
        self._linger_thread.start()

    def send(self, event: Event | ingest_pb2.Event) -> str:
        """Queue one event for the next batch; returns its id. Delivers a full batch before
        returning, so a slow server slows the caller down. Raises DeliveryFailed for this
        batch, or for an earlier lingered one (the event given is queued either way)."""
        message = to_proto(event)
        with self._lock:
            if self._closed:
                raise RuntimeError("the client is closed")
            due = self._batcher.add(message)
            self._changed.notify()
        for batch in due:
            self._deliver(batch)
        with self._lock:
            self._raise_failure()
        return message.id

    def ingest(
        self, events: Iterable[Event | ingest_pb2.Event], *, dry_run: bool = False
    ) -> IngestReport:
        """Send these events as one batch now, with retries."""
        return self._deliver([to_proto(event) for event in events], dry_run)

    def flush(self) -> None:
        """Deliver everything sent so far; raises DeliveryFailed for a batch that failed."""
        with self._lock:
            batch = self._batcher.take()
        if batch:
            self._deliver(batch)
        with self._lingering:  # a lingered batch still in flight is part of "so far"
            pass
        with self._lock:
            self._raise_failure()

    def close(self) -> None:
        """Flush, then close the channel."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._changed.notify_all()
        self._linger_thread.join()
        try:
            self.flush()
        finally:
            self._channel.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _deliver(self, batch: list[ingest_pb2.Event], dry_run: bool = False) -> IngestReport:
        request = ingest_pb2.IngestRequest(events=batch, dry_run=dry_run)
        attempt = 1
        while True:
            try:
                reply = self._call(request, metadata=self._metadata, timeout=self._timeout)
            except grpc.RpcError as error:
                delay = self._retry.delay(attempt, error, self._rng)
                if delay is None:
                    raise self._give_up(batch, error, attempt) from error
                time.sleep(delay)
                attempt += 1
                continue
            return _report(batch, reply, attempt)

    def _linger_loop(self) -> None:
        while True:
            with self._lock:
                while not self._closed and not (batch := self._batcher.take_if_due()):
                    deadline = self._batcher.deadline
                    self._changed.wait(None if deadline is None else deadline - time.monotonic())
                if self._closed:
                    return  # close() flushes what is left
                self._lingering.acquire()
            try:
                self._deliver(batch)
            except DeliveryFailed as failure:
                with self._lock:
                    self._failure = self._failure or failure
            finally:
                self._lingering.release()


class AsyncSluiceClient(_ClientBase):
    """asyncio client; use it from one event loop. A task sends lingered batches."""

    def __init__(self, target: str, api_key: str, **options: Unpack[ClientOptions]) -> None:
        super().__init__(api_key, options)
        credentials = options.get("credentials")
        self._channel = (
            grpc.aio.secure_channel(target, credentials, self._channel_options)
            if credentials is not None
            else grpc.aio.insecure_channel(target, self._channel_options)
        )
        self._call = self._channel.unary_unary(
            INGEST_METHOD,
            request_serializer=ingest_pb2.IngestRequest.SerializeToString,
            response_deserializer=ingest_pb2.IngestResponse.FromString,
        )
        self._linger_task: asyncio.Task[None] | None = None
        self._lingering = asyncio.Lock()  # held while a lingered batch is being delivered
        self._closing = asyncio.Event()

    async def send(self, event: Event | ingest_pb2.Event) -> str:
        """Queue one event for the next batch; returns its id. Delivers a full batch before
        returning, so a slow server slows the caller down. Raises DeliveryFailed for this
        batch, or for an earlier lingered one (the event given is queued either way)."""
        if self._closed:
            raise RuntimeError("the client is closed")
        message = to_proto(event)
        for batch in self._batcher.add(message):
            await self._deliver(batch)
        if self._linger_task is None and self._batcher.deadline is not None:
            self._linger_task = asyncio.create_task(self._linger(), name="sluice-client-linger")
        self._raise_failure()
        return message.id

    async def ingest(
        self, events: Iterable[Event | ingest_pb2.Event], *, dry_run: bool = False
    ) -> IngestReport:
        """Send these events as one batch now, with retries."""
        return await self._deliver([to_proto(event) for event in events], dry_run)

    async def flush(self) -> None:
        """Deliver everything sent so far; raises DeliveryFailed for a batch that failed."""
        batch = self._batcher.take()
        if batch:
            await self._deliver(batch)
        async with self._lingering:  # a lingered batch still in flight is part of "so far"
            pass
        self._raise_failure()

    async def close(self) -> None:
        """Flush, then close the channel."""
        if self._closed:
            return
        self._closed = True
        self._closing.set()
        if self._linger_task is not None:
            await self._linger_task
        try:
            await self.flush()
        finally:
            await self._channel.close(grace=None)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def _deliver(self, batch: list[ingest_pb2.Event], dry_run: bool = False) -> IngestReport:
        request = ingest_pb2.IngestRequest(events=batch, dry_run=dry_run)
        attempt = 1
        while True:
            try:
                reply = await self._call(request, metadata=self._metadata, timeout=self._timeout)
            except grpc.RpcError as error:
                delay = self._retry.delay(attempt, error, self._rng)
                if delay is None:
                    raise self._give_up(batch, error, attempt) from error
                await asyncio.sleep(delay)
                attempt += 1
                continue
            return _report(batch, reply, attempt)

    async def _linger(self) -> None:
        try:
            while not self._closed and (deadline := self._batcher.deadline) is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), deadline - time.monotonic())
                batch = [] if self._closed else self._batcher.take_if_due()
                if not batch:
                    continue
                async with self._lingering:
                    try:
                        await self._deliver(batch)
                    except DeliveryFailed as failure:
                        self._failure = self._failure or failure
        finally:
            self._linger_task = None
