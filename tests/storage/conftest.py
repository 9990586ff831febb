"""Store fixtures: `store` is parametrized over every backend, so one contract suite runs on all."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sluice import _core
from sluice.storage import EventRow, Store
from sluice.storage.sqlite import SqliteStore


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def event_row(
    index: int, id_: str, name: str = "api_call", tenant: str = "acme", payload: str = "{}"
) -> EventRow:
    key = _core.idempotency_key(tenant, name, id_)
    return (index, key, name, id_, "cust", 1_700_000_000_000_000, None, payload, bytes(16))


def _sqlite(tmp_path: Path) -> Store:
    return SqliteStore(tmp_path / "sluice.db")


BACKENDS = {"sqlite": _sqlite}


@pytest.fixture(params=sorted(BACKENDS))
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    backend = BACKENDS[request.param](tmp_path)
    await backend.open()
    try:
        yield backend
    finally:
        await backend.close()
