"""Per-API-key request rates shared by every instance: the same GCRA as ratelimit.py, kept in
Redis and decided by one Lua script, so a key's requests count alike whichever instance takes
them (`SLUICE_REDIS_URL`).

When Redis does not answer, the limiter fails *open to the local limiter*: each instance goes
on counting the key by itself (ratelimit.RateLimiter), so a key may get up to N times its rate
across N instances until Redis is back, but nobody is refused because of the outage, and no
flood goes unlimited. Rate limits protect the service; refusing every request while Redis is
down would turn a Redis outage into a Sluice outage. Redis is retried after RETRY_SECONDS.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from sluice.model import Quota
from sluice.ratelimit import BURST_SECONDS, UNLIMITED, RateLimiter, quota_after

log = logging.getLogger(__name__)

# Redis's own clock (TIME), so instances whose clocks differ still agree. The TAT is kept in
# microseconds since the epoch and expires once it is past (an idle key costs nothing).
# The test mirrors ratelimit.within_burst.
GCRA_SCRIPT = """
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local interval = tonumber(ARGV[1])
local backlog = math.max(tonumber(redis.call('GET', KEYS[1]) or now) - now, 0)
if (backlog + interval) / 1000000 > tonumber(ARGV[2]) + 1e-9 then
    return {0, backlog}
end
local ahead = backlog + interval
redis.call('SET', KEYS[1], string.format('%.0f', now + ahead), 'PX', math.ceil(ahead / 1000) + 1)
return {1, backlog}
"""

KEY_PREFIX = "sluice:rate:"
# A request waits at most this long for Redis before the local limiter decides.
TIMEOUT_SECONDS = 0.25
# After a failure, how long the local limiter decides alone before Redis is tried again.
RETRY_SECONDS = 1.0


class RedisRateLimiter:
    """The shared limiter; `fallback` decides while Redis is unreachable."""

    def __init__(
        self, url: str, fallback: RateLimiter, clock: Callable[[], float] = time.monotonic
    ) -> None:
        import redis.asyncio
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        self._redis = redis.asyncio.Redis.from_url(
            url,
            socket_timeout=TIMEOUT_SECONDS,
            socket_connect_timeout=TIMEOUT_SECONDS,
            # One retry, at once: a connection left broken by a Redis restart is replaced
            # rather than taken for an outage; no more, so a request never waits on retries.
            retry=Retry(NoBackoff(), 1),
        )
        self._script = self._redis.register_script(GCRA_SCRIPT)
        self._errors: tuple[type[Exception], ...] = (redis.RedisError, OSError)
        self.fallback = fallback
        self._clock = clock
        self._retry_at = 0.0  # monotonic time before which Redis is not asked

    @property
    def degraded(self) -> bool:
        """True while the local limiter decides alone (Redis failed recently)."""
        return self._clock() < self._retry_at

    async def take(self, key: str, limit: int) -> Quota:
        """Count one request for `key`; RateLimited (counting nothing) when over `limit`/s."""
        if limit <= 0:
            return UNLIMITED
        if self.degraded:
            return self.fallback.take(key, limit)
        try:
            admitted, backlog_us = await self._script(
                keys=[KEY_PREFIX + key], args=[1_000_000 / limit, BURST_SECONDS]
            )
        except self._errors as exc:
            if not self._retry_at:
                log.warning("redis unreachable, rate limits are per instance: %s", exc)
            self._retry_at = self._clock() + RETRY_SECONDS
            return self.fallback.take(key, limit)
        if self._retry_at:
            log.warning("redis is back, rate limits are shared again")
            self._retry_at = 0.0
        return quota_after(limit, int(backlog_us) / 1_000_000, bool(admitted))

    async def close(self) -> None:
        await self._redis.aclose()
