"""Two Sluice instances on one PostgreSQL: one idempotency authority, nothing acknowledged lost
when one dies, and every accepted event published to NATS exactly once by id."""

from __future__ import annotations

import collections
import random
import threading
import time
from collections.abc import Callable

import httpx
import pytest

from tests.conftest import ServerProcess
from tests.faults.conftest import Ledger, authorized
from tests.scaleout.conftest import mint_key, query, stream_msg_ids
from tests.scaleout.engines import NATS_URL, spare_port
from tests.test_server import vayu_event

pytestmark = pytest.mark.slow


def test_64_clients_racing_the_same_keys_across_two_instances_store_each_once(
    postgres_url: str, start_instance: Callable[..., ServerProcess]
) -> None:
    first = start_instance("a", SLUICE_STORE=postgres_url, SLUICE_RATE_LIMIT="0")
    second = start_instance("b", SLUICE_STORE=postgres_url, SLUICE_RATE_LIMIT="0")
    token = mint_key(postgres_url)
    refs = [f"race-{i}" for i in range(300)]
    accepted: collections.Counter[str] = collections.Counter()
    statuses: collections.Counter[int] = collections.Counter()
    lock = threading.Lock()
    go = threading.Barrier(64)

    def client(number: int) -> None:
        server = (first, second)[number % 2]
        rng = random.Random(number)
        mine = rng.sample(refs, len(refs))  # every client sends every key, in its own order
        with authorized(server.http_url, token, timeout=30) as http:
            go.wait()
            for start in range(0, len(mine), 50):
                batch = mine[start : start + 50]
                response = http.post("/events", json={"events": [vayu_event(r) for r in batch]})
                with lock:
                    statuses[response.status_code] += 1
                    if response.status_code == 200:
                        body = response.json()
                        accepted.update(event["ref"] for event in body["validEvents"])
                        errors = {entry["error"] for entry in body["invalidEvents"]}
                        assert errors <= {"Event ref already exists."}

    threads = [threading.Thread(target=client, args=(n,)) for n in range(64)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert statuses == {200: 64 * 6}
    assert accepted == dict.fromkeys(refs, 1), "each key is accepted exactly once"
    rows = query(postgres_url, "SELECT id, count(*) FROM events GROUP BY id")
    assert dict(rows) == dict.fromkeys(refs, 1)


def test_kill_9_under_load_loses_nothing_and_publishes_each_event_once(
    postgres_url: str,
    start_instance: Callable[..., ServerProcess],
    nats_stream: tuple[str, str],
) -> None:
    stream, prefix = nats_stream
    env = {
        "SLUICE_STORE": postgres_url,
        "SLUICE_RATE_LIMIT": "0",
        "SLUICE_NATS_URL": NATS_URL,
        "SLUICE_NATS_STREAM": stream,
        "SLUICE_NATS_SUBJECT_PREFIX": prefix,
    }
    doomed = start_instance("doomed", **env)
    survivor = start_instance("survivor", **env)
    token = mint_key(postgres_url)
    ledger = Ledger()
    stop = threading.Event()
    killed = threading.Event()

    def producer(worker: int, server: ServerProcess) -> None:
        with authorized(server.http_url, token, timeout=10) as http:
            for batch_no in range(10_000):
                if stop.is_set():
                    return
                refs = [f"w{worker}-b{batch_no}-e{i}" for i in range(20)]
                answered = ledger.send(http, refs) is not None
                if server is doomed and killed.is_set():
                    return
                assert answered or server is doomed, "the surviving instance dropped a request"

    threads = [
        threading.Thread(target=producer, args=(w, doomed if w % 2 else survivor)) for w in range(8)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while len(ledger.acked) < 3000 and time.monotonic() < deadline:
        time.sleep(0.01)
    killed.set()
    doomed.kill9()  # mid-request for its producers: their last batches are unknown
    time.sleep(1.0)  # the survivor keeps taking load
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    assert len(ledger.acked) >= 3000 and ledger.statuses.keys() <= {200}

    stored = collections.Counter(ref for (ref,) in query(postgres_url, "SELECT id FROM events"))
    assert not [ref for ref, n in stored.items() if n > 1]
    lost = ledger.acked - stored.keys()
    assert not lost, f"{len(lost)} acknowledged events lost"

    # The survivor's relay publishes what the dead instance committed but never published.
    deadline = time.monotonic() + 30
    while query(postgres_url, "SELECT count(*) FROM outbox")[0][0] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert query(postgres_url, "SELECT count(*) FROM outbox") == [(0,)]
    keys = {key.hex() for (key,) in query(postgres_url, "SELECT key_hash FROM events")}
    published = stream_msg_ids(stream, prefix)
    assert published.keys() == keys, "every stored event is in the stream"
    assert max(published.values()) == 1, "and each exactly once by Nats-Msg-Id"


def test_an_instance_restarted_after_kill_9_publishes_what_it_left_behind(
    postgres_url: str,
    start_instance: Callable[..., ServerProcess],
    nats_stream: tuple[str, str],
) -> None:
    stream, prefix = nats_stream
    publish_to = {"SLUICE_STORE": postgres_url, "SLUICE_NATS_STREAM": stream}
    publish_to["SLUICE_NATS_SUBJECT_PREFIX"] = prefix
    # NATS unreachable at first: events are committed and queued, but cannot be published.
    nowhere = f"nats://127.0.0.1:{spare_port()}"
    token = mint_key(postgres_url)
    lone = start_instance("lone", SLUICE_NATS_URL=nowhere, **publish_to)
    with httpx.Client(base_url=lone.http_url, headers={"Authorization": f"Bearer {token}"}) as c:
        body = {"events": [vayu_event(f"left-{i}") for i in range(50)]}
        assert len(c.post("/events", json=body).json()["validEvents"]) == 50
    lone.kill9()
    assert query(postgres_url, "SELECT count(*) FROM outbox") == [(50,)]
    restarted = start_instance("lone-again", SLUICE_NATS_URL=NATS_URL, **publish_to)
    deadline = time.monotonic() + 20
    while query(postgres_url, "SELECT count(*) FROM outbox")[0][0] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sum(stream_msg_ids(stream, prefix).values()) == 50
    restarted.stop()
