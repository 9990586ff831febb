"""kill -9 at random moments under concurrent load, cycle after cycle, against a client ledger.

Rerun a failure with the seed it printed: SLUICE_FAULT_SEED=<seed> pytest tests/faults/test_crash.py
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.conftest import ServerProcess, mint_key
from tests.faults.conftest import Ledger, assert_store_holds, authorized
from tests.test_server import vayu_event

pytestmark = pytest.mark.slow

CYCLES = 10
PRODUCERS = 4
BATCH = 20  # events per request: BATCH - 1 valid ones and one the server must refuse
MALFORMED_EVERY = 7  # every 7th request is refused whole (400): its refs must never appear


def produce(client: httpx.Client, ledger: Ledger, prefix: str, stop: threading.Event) -> None:
    """Send batches of fresh refs until the server dies (or `stop`), recording every answer."""
    batch = 0
    while not stop.is_set():
        refs = [f"{prefix}-b{batch}-e{i}" for i in range(BATCH)]
        batch += 1
        if batch % MALFORMED_EVERY == 0:
            # Valid events in a body with trailing garbage: the whole request is refused.
            events = [vayu_event(ref) for ref in refs]
            body = json.dumps({"events": events}).encode() + b" ]"
            try:
                response = client.post(
                    "/events", content=body, headers={"Content-Type": "application/json"}
                )
            except httpx.TransportError:
                ledger.unanswered(refs)
                return
            assert response.status_code == 400, response.text
            ledger.record(response, refs)
            continue
        if ledger.send(client, refs[:-1], invalid_refs=refs[-1:]) is None:
            return  # the server is gone


def resend_acked(server: ServerProcess, token: str, acked: set[str]) -> None:
    """After a restart every acknowledged ref is still taken: re-sending it is a duplicate."""
    refs = sorted(acked)
    with authorized(server.http_url, token) as client:
        for start in range(0, len(refs), 1000):
            chunk = refs[start : start + 1000]
            response = client.post("/events", json={"events": [vayu_event(r) for r in chunk]})
            body = response.json()
            assert body["validEvents"] == [], "an acknowledged ref was accepted again"
            assert {e["error"] for e in body["invalidEvents"]} == {"Event ref already exists."}


def test_kill_9_at_random_moments_loses_nothing_and_invents_nothing(data_dir: Path) -> None:
    seed = int(os.environ.get("SLUICE_FAULT_SEED") or random.randrange(2**32))
    rng = random.Random(seed)
    print(f"SLUICE_FAULT_SEED={seed}")  # shown with a failure, to replay the same kill times
    token = mint_key(data_dir)
    ledger = Ledger()  # over every cycle: what was acked once stays acked
    for cycle in range(CYCLES):
        acked_before = len(ledger.acked)
        server = ServerProcess(data_dir).start()
        stop = threading.Event()
        with ThreadPoolExecutor(PRODUCERS) as pool:
            try:
                resend_acked(server, token, ledger.acked)
                clients = [authorized(server.http_url, token) for _ in range(PRODUCERS)]
                producers = [
                    pool.submit(produce, client, ledger, f"c{cycle}-p{p}", stop)
                    for p, client in enumerate(clients)
                ]
                # Anywhere from mid-first-request to deep into the load.
                time.sleep(rng.uniform(0.02, 1.2))
            finally:
                server.kill9()
                stop.set()
            for producer in producers:
                producer.result(timeout=20)  # re-raises a producer's failed assertion
        for client in clients:
            client.close()
        assert_store_holds(data_dir, ledger, f"cycle {cycle}, seed {seed}")
        new_acks = len(ledger.acked) - acked_before
        print(f"cycle {cycle}: {new_acks} acked, {len(ledger.unknown)} unknown, {ledger.statuses}")

    # The last cycle's acknowledgements also hold after one more restart.
    server = ServerProcess(data_dir).start()
    try:
        resend_acked(server, token, ledger.acked)
    finally:
        server.kill9()
    assert ledger.acked and ledger.refused, f"seed {seed}: nothing was tested"
