"""PostgreSQL stopped under load (a throwaway cluster, never the machine's own): Sluice answers
503 with Retry-After, never a 500, loses nothing it acknowledged, and recovers by itself."""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable

import httpx
import pytest

from tests.conftest import ServerProcess
from tests.faults.conftest import Ledger, authorized
from tests.scaleout.conftest import mint_key, query
from tests.scaleout.engines import ThrowawayPostgres

pytestmark = pytest.mark.slow


def test_postgres_stopped_mid_load_is_503_then_recovers_without_a_restart(
    cluster: ThrowawayPostgres, start_instance: Callable[..., ServerProcess]
) -> None:
    sluice = start_instance("outage", SLUICE_STORE=cluster.url, SLUICE_RATE_LIMIT="0")
    token = mint_key(cluster.url)
    ledger = Ledger()
    retry_after: collections.Counter[str] = collections.Counter()
    phase = {"name": "before"}
    seen: dict[str, collections.Counter[int]] = collections.defaultdict(collections.Counter)
    stop = threading.Event()

    def producer(worker: int) -> None:
        with authorized(sluice.http_url, token, timeout=15) as http:
            for batch_no in range(100_000):
                if stop.is_set():
                    return
                refs = [f"w{worker}-b{batch_no}-e{i}" for i in range(10)]
                response = ledger.send(http, refs)
                assert response is not None, "Sluice dropped a connection"
                seen[phase["name"]][response.status_code] += 1
                if response.status_code == 503:
                    retry_after[response.headers.get("Retry-After", "")] += 1
                    time.sleep(0.05)

    threads = [threading.Thread(target=producer, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    cluster.stop("immediate")
    phase["name"] = "down"
    time.sleep(3.0)
    readiness = httpx.get(f"{sluice.http_url}/readyz", timeout=10)
    cluster.start()
    phase["name"] = "after"
    deadline = time.monotonic() + 20
    while seen["after"][200] < 20 and time.monotonic() < deadline:
        time.sleep(0.1)
    stop.set()
    for thread in threads:
        thread.join(timeout=30)

    assert readiness.status_code == 503
    assert seen["before"][200] > 0 and seen["after"][200] >= 20, seen
    assert seen["down"][503] > 0, seen
    assert set(ledger.statuses) <= {200, 503}, "an outage is never a 500"
    assert retry_after and "" not in retry_after
    assert sluice.proc is not None and sluice.proc.poll() is None  # the same process throughout

    stored = collections.Counter(ref for (ref,) in query(cluster.url, "SELECT id FROM events"))
    assert not [ref for ref, n in stored.items() if n > 1]
    lost = ledger.acked - stored.keys()
    assert not lost, f"{len(lost)} acknowledged events lost"
