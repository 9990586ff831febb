"""Whether the store can take writes now: it answers, and no write has failed recently."""

from __future__ import annotations

import asyncio
import time

from sluice.errors import StoreUnavailable
from sluice.storage import StoreLifecycle


class Readiness:
    """Readiness asks two things because a store can answer reads while refusing writes (a full
    disk): a ping, and the last write's fate as the ingest path reported it."""

    def __init__(self, store: StoreLifecycle) -> None:
        self._store = store
        # The last failed write, as (monotonic time it stops counting, message, retry_after).
        self._write_outage: tuple[float, str, int] | None = None
        # Set on each failed write, so a health reporter can re-check at once (rpc/health.py).
        self.write_failed = asyncio.Event()

    async def ready(self) -> None:
        """Raise StoreUnavailable while the store does not answer, or for `retry_after` seconds
        after a write failed on it (until a write succeeds)."""
        await self._store.ping()
        outage = self._write_outage
        if outage is not None and time.monotonic() < outage[0]:
            raise StoreUnavailable(f"the last write failed: {outage[1]}", outage[2])

    def write_succeeded(self) -> None:
        self._write_outage = None

    def write_refused(self, error: StoreUnavailable) -> None:
        until = time.monotonic() + error.retry_after
        self._write_outage = (until, str(error), error.retry_after)
        self.write_failed.set()
