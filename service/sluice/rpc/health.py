"""grpc.health.v1 kept in step with the store: NOT_SERVING for every service while it is down."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

from grpc_health.v1 import health_pb2
from grpc_health.v1.health import aio as health_aio  # type: ignore[attr-defined]  # stubs lack it

from sluice.errors import StoreUnavailable
from sluice.readiness import Readiness

# How often the store is asked when no failed write prompts a check sooner.
CHECK_SECONDS = 1.0
# A store that does not answer a ping within this long counts as down.
PING_TIMEOUT_SECONDS = 5.0

_SERVING = health_pb2.HealthCheckResponse.SERVING
_NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class StoreHealth:
    """Publishes SERVING while the store is ready (it answers, no recent failed write)."""

    def __init__(
        self, readiness: Readiness, services: Sequence[str], interval: float = CHECK_SECONDS
    ) -> None:
        self.servicer = health_aio.HealthServicer()
        self._readiness = readiness
        self._services = ("", *services)  # "" is the whole server
        self._interval = interval
        self._serving: bool | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def serving(self) -> bool:
        return bool(self._serving)

    async def refresh(self) -> bool:
        """Ask the store now and publish the answer; True when serving."""
        try:
            await asyncio.wait_for(self._readiness.ready(), PING_TIMEOUT_SECONDS)
        except (StoreUnavailable, TimeoutError):
            serving = False
        else:
            serving = True
        if serving != self._serving:
            self._serving = serving
            for service in self._services:
                await self.servicer.set(service, _SERVING if serving else _NOT_SERVING)
        return serving

    async def start(self) -> None:
        """Publish the store's state now, then keep it current until stop()."""
        await self.refresh()
        self._watcher = asyncio.create_task(self._watch(), name="sluice-health")

    async def stop(self) -> None:
        """NOT_SERVING for good: the server is going away."""
        if self._watcher is not None:
            # The flag as well as the cancel: on Python 3.11 `asyncio.wait_for` can swallow a
            # cancellation that arrives as its inner wait completes (gh-86296), and the watch
            # loop would then run on forever. The flag ends it within one interval regardless.
            self._stopping = True
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None
        self._serving = False
        await self.servicer.enter_graceful_shutdown()

    async def _watch(self) -> None:
        failed = self._readiness.write_failed
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(failed.wait(), self._interval)
            failed.clear()
            await self.refresh()
