"""Admission to the store: the queue limit, each tenant's share, and places that always return."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from sluice.admission import Overloaded, StoreAdmission
from sluice.errors import StoreUnavailable
from sluice.gateway import Gateway
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
