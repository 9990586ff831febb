from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient

from sluice.pipeline import Pipeline
from sluice.settings import Settings
from sluice.storage.sqlite import SqliteStore
from sluice.web.app import create_app
from tests.conftest import mint_key


@pytest.fixture
def token(data_dir: Path) -> str:
    return mint_key(data_dir, "acme")


@pytest.fixture
def client(data_dir: Path, token: str) -> Iterator[TestClient]:  # type: ignore[type-arg]
    settings = Settings(data_dir=data_dir)
    pipeline = Pipeline(SqliteStore(data_dir / "sluice.db"), settings)
    with TestClient(create_app(pipeline, own_pipeline=True)) as test_client:
        test_client.headers["Authorization"] = f"Bearer {token}"
        yield test_client
