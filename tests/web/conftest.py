from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient

from sluice.gateway import Gateway
from sluice.settings import Settings
from sluice.storage.sqlite import SqliteStore
from sluice.web.app import create_app
from tests.conftest import mint_key


class ManualClock:
    """The gateway's clocks: real time unless a test sets one of them."""

    def __init__(self) -> None:
        self.now_us: int | None = None  # the wall clock events are stamped with
        self.monotonic_s: float | None = None  # what rate limits are paced by

    def us(self) -> int:
        return self.now_us if self.now_us is not None else time.time_ns() // 1000

    def monotonic(self) -> float:
        return self.monotonic_s if self.monotonic_s is not None else time.monotonic()


@pytest.fixture
def token(data_dir: Path) -> str:
    return mint_key(data_dir, "acme")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def gateway(data_dir: Path, clock: ManualClock) -> Gateway:
    settings = Settings(data_dir=data_dir)
    return Gateway(SqliteStore(data_dir / "sluice.db"), settings, clock.us, clock.monotonic)


@pytest.fixture
def client(gateway: Gateway, token: str) -> Iterator[TestClient]:  # type: ignore[type-arg]
    with TestClient(create_app(gateway, own_gateway=True)) as test_client:
        test_client.headers["Authorization"] = f"Bearer {token}"
        yield test_client
