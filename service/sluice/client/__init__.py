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

from sluice.client.aio import AsyncSluiceClient
from sluice.client.base import ClientOptions
from sluice.client.batching import DeliveryFailed, Event, IngestReport, RetryPolicy
from sluice.client.sync import SluiceClient
from sluice.client.usage import Meter, UsagePoint

__all__ = [
    "AsyncSluiceClient",
    "ClientOptions",
    "DeliveryFailed",
    "Event",
    "IngestReport",
    "Meter",
    "RetryPolicy",
    "SluiceClient",
    "UsagePoint",
]
