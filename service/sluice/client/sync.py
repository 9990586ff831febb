"""The blocking client."""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import Any, Self, Unpack

import grpc

from sluice.client.base import ClientBase, ClientOptions, report
from sluice.client.batching import INGEST_METHOD, DeliveryFailed, Event, IngestReport, to_proto
from sluice.client.usage import USAGE_METHOD, Meter, UsagePoint, usage_points, usage_request
from sluice.v1 import ingest_pb2, usage_pb2


class SluiceClient(ClientBase):
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
        self._usage_call = self._channel.unary_unary(
            USAGE_METHOD,
            request_serializer=usage_pb2.QueryUsageRequest.SerializeToString,
            response_deserializer=usage_pb2.QueryUsageResponse.FromString,
        )
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._lingering = threading.Lock()  # held while a lingered batch is being delivered
        self._linger_thread = threading.Thread(
            target=self._linger_loop, name="sluice-client-linger", daemon=True
        )
        self._linger_thread.start()

    def query_usage(
        self,
        customer_id: str,
        meters: Sequence[Meter],
        group_by: str,
        start: datetime.datetime | None = None,
        end: datetime.datetime | None = None,
        **options: Any,
    ) -> list[UsagePoint]:
        """Usage by meter in `group_by` groups (event, day, month, quarter, year); `options`:
        customer_id_pattern, meter_ids (stored meters), fill_dates. Raises grpc.RpcError."""
        request = usage_request(customer_id, meters, group_by, start, end, **options)
        response = self._usage_call(request, metadata=self._metadata, timeout=self._timeout)
        return usage_points(response)

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
            return report(batch, reply, attempt)

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
