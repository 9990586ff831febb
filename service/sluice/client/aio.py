"""The asyncio client."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import time
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import Any, Self, Unpack

import grpc

from sluice.client.base import ClientBase, ClientOptions, report
from sluice.client.batching import INGEST_METHOD, DeliveryFailed, Event, IngestReport, to_proto
from sluice.client.usage import USAGE_METHOD, Meter, UsagePoint, usage_points, usage_request
from sluice.v1 import ingest_pb2, usage_pb2


class AsyncSluiceClient(ClientBase):
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
        self._usage_call = self._channel.unary_unary(
            USAGE_METHOD,
            request_serializer=usage_pb2.QueryUsageRequest.SerializeToString,
            response_deserializer=usage_pb2.QueryUsageResponse.FromString,
        )
        self._linger_task: asyncio.Task[None] | None = None
        self._lingering = asyncio.Lock()  # held while a lingered batch is being delivered
        self._closing = asyncio.Event()

    async def query_usage(
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
        response = await self._usage_call(request, metadata=self._metadata, timeout=self._timeout)
        return usage_points(response)

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
            return report(batch, reply, attempt)

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
