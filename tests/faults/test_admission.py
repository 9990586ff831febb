"""Admission to the store: the queue limit, each tenant's share, and places that always return."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from sluice import _core
from sluice.admission import Overloaded, StoreAdmission
from sluice.errors import StoreUnavailable
from sluice.gateway import Gateway
from sluice.model import EventRow, Rejection
from sluice.settings import Settings
from sluice.storage.sqlite import SqliteStore
from tests.conftest import stored_rows
from tests.storage.conftest import fill_disk
from tests.test_ingest import ingest_vayu, vayu_body


def test_a_tenant_holds_at_most_its_share_and_all_at_most_the_limit() -> None:
    admission = StoreAdmission(limit=4, tenant_share=0.5)
    flooder = [admission.reserve("a"), admission.reserve("a")]
    with pytest.raises(Overloaded, match="its share"):
        admission.reserve("a")
    others = [admission.reserve("b"), admission.reserve("b")]
    with pytest.raises(Overloaded, match="the limit"):
        admission.reserve("c")
    flooder[0]()
    flooder[0]()  # giving a place back twice gives back one place
    admission.reserve("c")
    assert admission.waiting == 4
    for release in [flooder[1], *others]:
        release()
    assert admission.waiting == 1


def test_a_tiny_limit_still_admits_one_request_per_tenant() -> None:
    admission = StoreAdmission(limit=1, tenant_share=0.1)
    assert admission.tenant_limit == 1
    admission.reserve("a")()
    admission.reserve("b")


def make_gateway(data_dir: Path, limit: int) -> Gateway:
    settings = Settings(data_dir=data_dir, store_queue_limit=limit)
    return Gateway(SqliteStore(data_dir / "sluice.db"), settings)


def test_a_refused_request_claims_nothing_and_its_place_comes_back(data_dir: Path) -> None:
    async def scenario() -> None:
        gateway = make_gateway(data_dir, limit=1)
        await gateway.start()
        store = gateway.store
        assert isinstance(store, SqliteStore)
        try:
            busy = store._writer.call(lambda conn: time.sleep(0.3))  # the store is slow
            first = asyncio.ensure_future(ingest_vayu(gateway, "acme", vayu_body("a")))
            await asyncio.sleep(0.05)
            assert gateway.admission.waiting == 1
            for tenant in ("acme", "globex"):
                with pytest.raises(Overloaded):
                    await ingest_vayu(gateway, tenant, vayu_body("b"))
            await asyncio.gather(busy, first)
            assert gateway.admission.waiting == 0
            # "b" was refused before anything was claimed: accepted now, not a duplicate.
            assert (await ingest_vayu(gateway, "acme", vayu_body("b"))).accepted == [0]

            await fill_disk(store)  # a failed write gives its place back too
            with pytest.raises(StoreUnavailable):
                await ingest_vayu(gateway, "acme", vayu_body("c", pad=50_000))
            assert gateway.admission.waiting == 0
        finally:
            await gateway.stop()

    asyncio.run(scenario())
    assert sorted(stored_rows(data_dir)) == [("acme", "api_call", "a"), ("acme", "api_call", "b")]


def test_a_request_takes_its_place_in_its_own_tenant_s_share(data_dir: Path) -> None:
    """While a tenant's share of the store queue is held, its next request is refused and
    another tenant's is still admitted: the place is counted against the request's tenant."""

    async def scenario() -> list[int]:
        settings = Settings(data_dir=data_dir, store_queue_limit=2, tenant_queue_share=0.5)
        gateway = Gateway(SqliteStore(data_dir / "sluice.db"), settings)
        await gateway.start()
        store = gateway.store
        assert isinstance(store, SqliteStore)
        try:
            busy = store._writer.call(lambda conn: time.sleep(0.3))  # the store is slow
            first = asyncio.ensure_future(ingest_vayu(gateway, "acme", vayu_body("a")))
            await asyncio.sleep(0.05)
            assert gateway.admission.waiting == 1  # acme's share (1 of 2) is held
            with pytest.raises(Overloaded, match="its share"):
                await ingest_vayu(gateway, "acme", vayu_body("b"))
            # Refused before its body is parsed, so a flood costs little: even a body that
            # does not parse is answered as the overload it meets, not as a bad request.
            with pytest.raises(Overloaded, match="its share"):
                await ingest_vayu(gateway, "acme", b"{not json")
            other = await ingest_vayu(gateway, "globex", vayu_body("c"))
            await asyncio.gather(busy, first)
            return other.accepted
        finally:
            await gateway.stop()

    assert asyncio.run(scenario()) == [0]
    assert sorted(stored_rows(data_dir)) == [("acme", "api_call", "a"), ("globex", "api_call", "c")]


def test_a_request_refused_at_its_reservation_releases_the_keys_it_claimed(
    data_dir: Path,
) -> None:
    """Two requests pass the cheap check before parsing while the queue is free; the first to
    reserve takes the one place, and the other, refused then, leaves none of its keys claimed."""

    async def scenario() -> tuple[list[int], BaseException | None, list[int]]:
        gateway = make_gateway(data_dir, limit=1)
        await gateway.start()
        try:
            screened = asyncio.Event()

            async def held(
                _tenant: str, rows: Sequence[EventRow]
            ) -> tuple[list[EventRow], list[Rejection]]:
                await screened.wait()  # both requests are past admission.check here
                return list(rows), []

            vayu = replace(gateway.dialects.vayu, screen=held)
            late_body = vayu_body("late")
            now = time.time_ns() // 1000
            late_key = vayu.parse(late_body, "acme", now, "").events[0].key
            early = asyncio.ensure_future(gateway.ingest.ingest(vayu, "acme", vayu_body("early")))
            late = asyncio.ensure_future(gateway.ingest.ingest(vayu, "acme", late_body))
            await asyncio.sleep(0.05)
            screened.set()
            stored, refused = await asyncio.gather(early, late, return_exceptions=True)
            assert not isinstance(stored, BaseException)
            error = refused if isinstance(refused, BaseException) else None
            return stored.accepted, error, gateway.index.claim([late_key])
        finally:
            await gateway.stop()

    accepted, error, late_states = asyncio.run(scenario())
    assert accepted == [0]
    assert isinstance(error, Overloaded)
    assert late_states == [_core.CLAIMED]  # free: the refused request released its claim
