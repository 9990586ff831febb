"""The composition root: builds every service of one Sluice process from its settings and store.

Transports receive the gateway's services as arguments (web.app.create_app, rpc.server); no
service reaches for another through the gateway.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sluice import _core
from sluice.access import AccessControl
from sluice.admission import StoreAdmission
from sluice.api_keys import ApiKeys
from sluice.dialects import Dialects
from sluice.eventlog import EventLog
from sluice.ingest import IngestService
from sluice.metering import Metering
from sluice.metrics import Metrics
from sluice.profiles import ProfileEvents
from sluice.ratelimit import RateLimiter
from sluice.readable import UnreadableEvents
from sluice.readiness import Readiness
from sluice.registry import CustomerRegistry
from sluice.rejections import RejectionLog
from sluice.settings import Settings
from sluice.storage import Store
from sluice.tokens import AccessTokens, load_secret
from sluice.usage import UsageService


def wall_clock_us() -> int:
    return time.time_ns() // 1000


class Gateway:
    """One per process: the store and every service over it."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        clock_us: Callable[[], int] = wall_clock_us,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """`clock_us` is the wall clock events are stamped with; `monotonic` paces rate limits.
        Tests pass their own to move time."""
        self.store = store
        self.settings = settings
        limits = settings.limits()
        self.metrics = Metrics()
        store.observe_commits(self.metrics.record_commit)
        self.index = _core.IdempotencyIndex()
        self.readiness = Readiness(store)
        self.unreadable = UnreadableEvents(self.metrics)
        self.events = EventLog(store, clock_us, self.unreadable)
        self.customers = CustomerRegistry(store, clock_us)
        self.metering = Metering(store, clock_us)
        self.usage = UsageService(store, store, self.customers)
        self.dialects = Dialects.build(limits, store, settings.collect_event_types)
        self.rejections = RejectionLog(store, self.metrics, clock_us)
        self.admission = StoreAdmission(settings.store_queue_limit, settings.tenant_queue_share)
        self.metrics.watch_store_queue(lambda: self.admission.waiting, self.admission.limit)
        self.ingest = IngestService(
            store,
            self.index,
            self.admission,
            self.readiness,
            self.events,
            self.metrics,
            clock_us,
            self.rejections,
        )
        self.profiles = ProfileEvents(
            store,
            self.ingest.commit,
            limits,
            clock_us,
            settings.bot_user_agents,
            settings.email_open_window_seconds,
        )
        limiter = RateLimiter(monotonic)
        shared_limiter = None
        if settings.redis_url:
            # Shared by every instance; the local limiter decides while Redis is unreachable.
            from sluice.ratelimit_redis import RedisRateLimiter

            shared_limiter = RedisRateLimiter(settings.redis_url, limiter)
        self.access = AccessControl(
            ApiKeys(store, settings.key_cache_seconds),
            AccessTokens(load_secret(settings.data_dir, settings.jwt_secret)),
            settings.rate_limit,
            limiter,
            self.metrics,
            shared_limiter,
            on_rate_limited=self.rejections.count,
        )

    async def start(self) -> None:
        await self.store.open()
        # Rebuild the in-memory index from the authoritative keys in the store.
        self.index.load(await self.store.committed_keys())
        self.rejections.start()

    async def stop(self) -> None:
        await self.access.close()
        await self.rejections.stop()
        await self.store.close()
