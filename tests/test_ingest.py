"""The transport-agnostic ingest path: exactly-once under races, restarts and failed writes."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from sluice import _core
from sluice.errors import StoreUnavailable
from sluice.gateway import Gateway
from sluice.model import (
    CONFLICT,
    DUPLICATE,
    UNKNOWN_CUSTOMER,
    Customer,
    IngestOutcome,
    Rejection,
)
from sluice.settings import Settings
from sluice.storage.sqlite import SqliteStore
from sluice.v1 import ingest_pb2
from tests.conftest import stored_rows
from tests.storage.conftest import fill_disk, free_disk
from tests.test_server import grpc_event


def vayu_body(*refs: str, name: str = "api_call", pad: int = 0) -> bytes:
    events = [
        {
            "name": name,
            "timestamp": "2024-05-01T10:00:00Z",
            "customerAlias": "c1",
            "ref": ref,
            "data": {"pad": "x" * pad},
        }
        for ref in refs
    ]
    return json.dumps({"events": events}).encode()


def make_gateway(data_dir: Path) -> Gateway:
    return Gateway(SqliteStore(data_dir / "sluice.db"), Settings(data_dir=data_dir))


async def ingest_vayu(gateway: Gateway, tenant: str, body: bytes) -> IngestOutcome:
    return await gateway.ingest.ingest(gateway.dialects.vayu, tenant, body)


def test_32_concurrent_requests_on_one_ref_accept_it_once(data_dir: Path) -> None:
    async def scenario() -> list[int]:
        gateway = make_gateway(data_dir)
        await gateway.start()
        try:
            results = await asyncio.gather(
                *(ingest_vayu(gateway, "acme", vayu_body("race")) for _ in range(32))
            )
            return [len(r.accepted) for r in results]
        finally:
            await gateway.stop()

    accepted = asyncio.run(scenario())
    assert sorted(accepted) == [0] * 31 + [1]
    assert stored_rows(data_dir) == [("acme", "api_call", "race")]


def test_duplicates_are_caught_after_a_restart(data_dir: Path) -> None:
    async def ingest_once(refs: tuple[str, ...]) -> tuple[list[int], list[Rejection]]:
        gateway = make_gateway(data_dir)
        await gateway.start()
        try:
            result = await ingest_vayu(gateway, "acme", vayu_body(*refs))
            return result.accepted, result.rejected
        finally:
            await gateway.stop()

    assert asyncio.run(ingest_once(("a", "b"))) == ([0, 1], [])
    accepted, rejected = asyncio.run(ingest_once(("b", "c", "a")))
    assert accepted == [1]
    assert [(r.index, r.reason) for r in rejected] == [(0, "DUPLICATE"), (2, "DUPLICATE")]
    assert len(stored_rows(data_dir)) == 3


def test_a_failed_write_leaves_no_key_claimed(data_dir: Path) -> None:
    async def scenario() -> None:
        gateway = make_gateway(data_dir)
        await gateway.start()
        store = gateway.store
        assert isinstance(store, SqliteStore)
        try:
            await fill_disk(store)
            body = vayu_body("retry-me", pad=50_000)
            try:
                await ingest_vayu(gateway, "acme", body)
                raise AssertionError("a write to a full disk was acknowledged")
            except StoreUnavailable:
                pass
            await free_disk(store)
            retried = await ingest_vayu(gateway, "acme", body)
            assert retried.accepted == [0], retried.rejected
        finally:
            await gateway.stop()

    asyncio.run(scenario())
    assert stored_rows(data_dir) == [("acme", "api_call", "retry-me")]


def test_a_racer_behind_a_failed_writer_is_accepted(data_dir: Path) -> None:
    """Two requests race on one key and the first one's transaction fails. The second, which
    found the key in flight, must not be told 'duplicate' for an event that was never stored."""

    async def scenario() -> tuple[str, list[int]]:
        gateway = make_gateway(data_dir)
        await gateway.start()
        store = gateway.store
        assert isinstance(store, SqliteStore)
        try:
            await fill_disk(store)
            # Writer queue, in order: [busy] [first's doomed write] [free disk] [second's write]
            busy = store._writer.call(lambda conn: time.sleep(0.3))
            first = asyncio.ensure_future(ingest_vayu(gateway, "acme", vayu_body("k", pad=50_000)))
            await asyncio.sleep(0.02)
            freed = asyncio.ensure_future(free_disk(store))
            await asyncio.sleep(0.02)
            second = await ingest_vayu(gateway, "acme", vayu_body("k", pad=10))
            await asyncio.gather(busy, freed)
            try:
                await first
                first_outcome = "accepted"
            except StoreUnavailable:
                first_outcome = "unavailable"
            return first_outcome, second.accepted
        finally:
            await gateway.stop()

    assert asyncio.run(scenario()) == ("unavailable", [0])
    assert stored_rows(data_dir) == [("acme", "api_call", "k")]


def test_a_validation_screens_in_the_caller_s_tenant_and_stores_nothing(data_dir: Path) -> None:
    """validate (the dry run) applies the dialect's screen for the tenant it was given: Enso's
    customer check looks in that tenant's registry only."""

    def enso_body(*customers: str) -> bytes:
        events = [
            {
                "CustomerEntityId": customer,
                "metric": "api_calls",
                "value": 3,
                "timestamp": "2023-11-07T05:31:56Z",
                "eventId": f"e-{i}",
            }
            for i, customer in enumerate(customers)
        ]
        return json.dumps({"events": events}).encode()

    async def scenario() -> tuple[IngestOutcome, IngestOutcome]:
        gateway = make_gateway(data_dir)
        await gateway.start()
        try:
            await gateway.store.put_customer("acme", Customer("ent_1", [], None, {}, 0, 0))
            body = enso_body("ent_1", "ent_404")
            mine = await gateway.ingest.validate(gateway.dialects.enso, "acme", body)
            theirs = await gateway.ingest.validate(gateway.dialects.enso, "globex", body)
            return mine, theirs
        finally:
            await gateway.stop()

    mine, theirs = asyncio.run(scenario())
    assert mine.accepted == [0]
    assert [(r.index, r.reason) for r in mine.rejected] == [(1, UNKNOWN_CUSTOMER)]
    assert theirs.accepted == []
    assert [(r.index, r.reason) for r in theirs.rejected] == [
        (0, UNKNOWN_CUSTOMER),
        (1, UNKNOWN_CUSTOMER),
    ]
    assert stored_rows(data_dir) == []


def test_a_cancelled_write_leaves_no_key_claimed(data_dir: Path) -> None:
    """A store write cancelled under the request (the store shutting down) settles like a
    failed one: its keys are released, not left in flight for every later request."""

    async def scenario() -> tuple[bool, list[int]]:
        gateway = make_gateway(data_dir)
        await gateway.start()
        try:

            async def cancelled(*_args: object) -> list[int | None]:
                raise asyncio.CancelledError

            body = vayu_body("cut-off")
            now = time.time_ns() // 1000
            key = gateway.dialects.vayu.parse(body, "acme", now, "").events[0].key
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(gateway.store, "append", cancelled)
                try:
                    await ingest_vayu(gateway, "acme", body)
                    raised = False
                except asyncio.CancelledError:
                    raised = True
            await asyncio.sleep(0)  # the done callbacks run on the next turn of the loop
            return raised, gateway.index.claim([key])
        finally:
            await gateway.stop()

    raised, states = asyncio.run(scenario())
    assert raised
    assert states == [_core.CLAIMED]  # free again: the cancelled write's claim was released


def test_every_repeat_of_a_request_is_reported_after_a_conflict(data_dir: Path) -> None:
    """A request repeating several stored events gets one rejection for each: a conflict
    among them does not end the reporting of those after it."""

    def request(*events: ingest_pb2.Event) -> bytes:
        return ingest_pb2.IngestRequest(events=list(events)).SerializeToString()

    async def scenario() -> IngestOutcome:
        gateway = make_gateway(data_dir)
        await gateway.start()
        try:
            grpc = gateway.dialects.grpc
            await gateway.ingest.ingest(grpc, "acme", request(grpc_event("a"), grpc_event("b")))
            changed_a = grpc_event("a", data={"k": "other"})
            return await gateway.ingest.ingest(
                grpc, "acme", request(changed_a, grpc_event("b"), grpc_event("c"))
            )
        finally:
            await gateway.stop()

    outcome = asyncio.run(scenario())
    assert outcome.accepted == [2]
    # Each names the API's key field, as every rejection names the field it is about.
    assert [(r.index, r.reason, r.field) for r in outcome.rejected] == [
        (0, CONFLICT, "id"),
        (1, DUPLICATE, "id"),
    ]


def test_commit_counts_rows_whose_key_is_stored_as_duplicates(data_dir: Path) -> None:
    """commit on its own (count_repeats left on) counts the repeats it finds as duplicates;
    ingest turns that off only because it tells duplicates from conflicts itself."""

    async def scenario() -> tuple[tuple[list[int], int], tuple[list[int], int], float | None]:
        gateway = make_gateway(data_dir)
        await gateway.start()
        try:
            now = time.time_ns() // 1000
            rows = gateway.dialects.vayu.parse(vayu_body("a", "b"), "acme", now, "").events
            first, repeats = await gateway.ingest.commit("acme", "vayu", rows, now)
            again, repeated = await gateway.ingest.commit("acme", "vayu", rows, now)
            counted = gateway.metrics.registry.get_sample_value(
                "sluice_events_total", {"source": "vayu", "outcome": "duplicate"}
            )
            return (first, len(repeats)), (again, len(repeated)), counted
        finally:
            await gateway.stop()

    first, again, counted = asyncio.run(scenario())
    assert first == ([0, 1], 0)
    assert again == ([], 2)
    assert counted == 2.0
