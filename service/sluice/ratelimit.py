"""Per-API-key request rates: GCRA, in process (the embedded default; ratelimit_redis.py shares
them between instances).

GCRA keeps one number per key, the theoretical arrival time (TAT) of the next request: each
request moves it on by 1/rate, and a request is refused when that would put the TAT more than
one second (the burst) ahead of now. Equivalent to a token bucket of `rate` tokens refilled
continuously, without a timer.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from sluice.errors import RateLimited
from sluice.model import Quota

BURST_SECONDS = 1.0
_MAX_KEYS = 100_000  # forget idle keys beyond this many rather than grow without bound


UNLIMITED = Quota(0, 0, 0.0)


def within_burst(limit: int, backlog: float) -> bool:
    """GCRA's test: may one more request go, when the key's TAT is `backlog` s ahead of now?

    ratelimit_redis.py's script makes the same test on Redis.
    """
    return backlog + 1.0 / limit <= BURST_SECONDS + 1e-9


def quota_after(limit: int, backlog: float, admitted: bool) -> Quota:
    """What the rate-limit headers say after a request that found the key's TAT `backlog` s
    ahead of now; raises RateLimited when it was not admitted."""
    interval = 1.0 / limit
    ahead = backlog + interval  # how far the TAT runs ahead of now with this request counted
    if not admitted:
        raise RateLimited(max(0.0, ahead - BURST_SECONDS), Quota(limit, 0, backlog))
    remaining = math.floor((BURST_SECONDS - ahead) / interval + 1e-9)
    return Quota(limit, max(0, remaining), ahead)


class RateLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._tat: dict[str, float] = {}

    def take(self, key: str, limit: int) -> Quota:
        """Count one request for `key`; RateLimited (counting nothing) when over `limit`/s."""
        if limit <= 0:
            return UNLIMITED
        now = self._clock()
        backlog = max(self._tat.get(key, now) - now, 0.0)
        admitted = within_burst(limit, backlog)
        quota = quota_after(limit, backlog, admitted)  # raises when not admitted
        if len(self._tat) >= _MAX_KEYS:
            self._forget_idle(now)
        self._tat[key] = now + backlog + 1.0 / limit
        return quota

    def _forget_idle(self, now: float) -> None:
        # A key whose TAT is in the past has its whole burst back: its entry carries nothing.
        self._tat = {key: tat for key, tat in self._tat.items() if tat > now}
