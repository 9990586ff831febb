"""What the blocking and the asyncio client share: options, batching, reports."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any, TypedDict

import grpc

from sluice.client.batching import (
    DEFAULT_LINGER_SECONDS,
    DEFAULT_MAX_BATCH_BYTES,
    DEFAULT_MAX_BATCH_EVENTS,
    Batcher,
    DeliveryFailed,
    IngestReport,
    RetryPolicy,
    status_of,
)
from sluice.v1 import ingest_pb2


class ClientOptions(TypedDict, total=False):
    """The keyword options of both clients; each has a default."""

    credentials: grpc.ChannelCredentials  # TLS; without it the channel is plaintext
    max_batch_events: int  # send() sends a batch at this many events (1000)
    max_batch_bytes: int  # ... or before it would grow past this many bytes (262,144)
    linger: float  # ... or this many seconds after its first event (0.05)
    retry: RetryPolicy  # RetryPolicy()
    timeout: float  # seconds per attempt (10)
    channel_options: Sequence[tuple[str, Any]]  # grpc channel arguments


class ClientBase:
    def __init__(self, api_key: str, options: ClientOptions) -> None:
        self._metadata = (("authorization", f"Bearer {api_key}"),)
        self._batcher = Batcher(
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
        code, _metadata = status_of(error)
        details = error.details() if isinstance(error, grpc.aio.AioRpcError | grpc.Call) else ""
        return DeliveryFailed(batch, code, details or "", attempts)


def report(
    batch: list[ingest_pb2.Event], reply: ingest_pb2.IngestResponse, attempts: int
) -> IngestReport:
    return IngestReport([e.id for e in batch], reply.accepted, list(reply.rejected), attempts)
