"""Vayu's own SDK (`vayu-py`, package `openapi`) against a real Sluice server process."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import ServerProcess

openapi = pytest.importorskip("openapi", reason="vayu-py is not installed (the dev extra)")
from openapi.api_client import ApiClient  # noqa: E402
from vayu_sdk.clients.vayu_client import VayuClient  # noqa: E402

_refs = itertools.count()


def unique(prefix: str) -> str:
    """A ref (or name) no other test of the session uses: the server is shared."""
    return f"{prefix}-{next(_refs)}"


@pytest.fixture(scope="session")
def vayu_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("vayu_sdk") / "data"
    data_dir.mkdir()
    proc = ServerProcess(data_dir).start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="session")
def api_key(vayu_server: ServerProcess) -> str:
    assert vayu_server.bootstrap_key is not None
    return vayu_server.bootstrap_key


@pytest.fixture(scope="session")
def sdk(vayu_server: ServerProcess, api_key: str) -> ApiClient:
    """The SDK's own authenticated client: it logs in with the key and sends the JWT."""
    client: ApiClient = VayuClient(api_key, vayu_server.http_url).client
    return client


@pytest.fixture(scope="session")
def raw(vayu_server: ServerProcess, api_key: str) -> Iterator[httpx.Client]:
    """Plain HTTP with the API key, to read the bodies the SDK parses."""
    with httpx.Client(
        base_url=vayu_server.http_url, headers={"Authorization": f"Bearer {api_key}"}
    ) as client:
        yield client


def conforms(model: Any, response: httpx.Response, status: int = 200) -> Any:
    """The raw body parses as the SDK's model (its from_dict validates every field)."""
    assert response.status_code == status, response.text
    parsed = model.from_dict(response.json())
    assert parsed is not None
    return parsed
