"""Per-key rate limits shared through Redis: one window across instances, and failing open to
each instance's own limiter while Redis is down (a throwaway redis-server that we stop)."""

from __future__ import annotations

import asyncio
import collections
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from sluice import ratelimit_redis
from sluice.errors import RateLimited
from sluice.ratelimit import RateLimiter
from sluice.ratelimit_redis import RedisRateLimiter
from tests.conftest import ServerProcess
from tests.faults.conftest import authorized
from tests.scaleout.conftest import mint_key
from tests.scaleout.engines import REDIS_URL, ThrowawayRedis, require_server
from tests.test_server import vayu_event

LIMIT = 20
PER_CLIENT = 20  # requests each of six clients sends: 120 in all


def test_a_key_s_limit_holds_across_two_instances_within_one_window(
    postgres_url: str, start_instance: Callable[..., ServerProcess]
) -> None:
    require_server("Redis", REDIS_URL, int(REDIS_URL.rsplit(":", 1)[1].split("/")[0]), "redis")
    env = {"SLUICE_STORE": postgres_url, "SLUICE_REDIS_URL": REDIS_URL}
    instances = [start_instance("a", **env), start_instance("b", **env)]
    token = mint_key(postgres_url, rate_limit=LIMIT)
    statuses: dict[int, collections.Counter[int]] = {
        0: collections.Counter(),
        1: collections.Counter(),
    }
    lock = threading.Lock()
    go = threading.Barrier(6)

    def client(number: int) -> None:
        which = number % 2
        with authorized(instances[which].http_url, token) as http:
            go.wait()
            for i in range(PER_CLIENT):
                body = {"events": [vayu_event(f"c{number}-{i}")]}
                status = http.post("/events", json=body).status_code
                with lock:
                    statuses[which][status] += 1

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    elapsed = time.monotonic() - started
    accepted = statuses[0][200] + statuses[1][200]
    # One burst (LIMIT) plus what the rate refilled meanwhile, across both instances together;
    # counted per instance, each would have let through a burst and a refill of its own.
    shared_bound = LIMIT + int(elapsed * LIMIT) + 1
    assert LIMIT <= accepted <= shared_bound, (statuses, elapsed)
    # The bound means something only while it is below what limits counted per instance would
    # have let through: a slow machine (more refill) needs more requests, not a tighter clock.
    per_instance = min(6 * PER_CLIENT, 2 * (LIMIT + int(elapsed * LIMIT)))
    assert shared_bound < per_instance, f"too slow to tell the limits apart: {elapsed:.1f} s"
    assert statuses[0][429] and statuses[1][429]


@pytest.fixture
def redis_server() -> Iterator[ThrowawayRedis]:
    pytest.importorskip("redis", reason="the redis client is not installed (.[redis])")
    server = ThrowawayRedis().start()
    try:
        yield server
    finally:
        server.stop()


async def admits(limiter: RedisRateLimiter, key: str, tries: int) -> int:
    """How many of `tries` requests at once the limiter lets through at 5 per second."""
    count = 0
    for _ in range(tries):
        try:
            await limiter.take(key, 5)
            count += 1
        except RateLimited:
            pass
    return count


@pytest.mark.anyio
async def test_with_redis_down_limits_fail_open_to_each_instance_and_come_back(
    redis_server: ThrowawayRedis,
) -> None:
    local = RateLimiter()
    # Two instances' limiters: they share each key's five requests per second.
    first = RedisRateLimiter(redis_server.url, local)
    second = RedisRateLimiter(redis_server.url, RateLimiter())
    try:
        assert await admits(first, "k1", 4) + await admits(second, "k1", 4) == 5
        assert "k1" not in local._tat  # Redis decided; the local limiter was not asked

        redis_server.stop()
        started = time.monotonic()
        assert await admits(first, "k2", 8) == 5  # still limited, by this instance alone
        assert time.monotonic() - started < 4 * ratelimit_redis.TIMEOUT_SECONDS
        assert first.degraded and "k2" in local._tat

        redis_server.start()  # on the same port
        await asyncio.sleep(ratelimit_redis.RETRY_SECONDS)
        assert await admits(first, "k3", 8) == 5 and not first.degraded
        assert "k3" not in local._tat  # shared again
    finally:
        await first.close()
        await second.close()
