"""Several `sluice serve` processes on one PostgreSQL (and Redis, NATS), and ways to look at
what the engines hold afterwards, as an operator would."""

from __future__ import annotations

import asyncio
import collections
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sluice.api_keys import ApiKeys
from tests.conftest import ServerProcess
from tests.scaleout.engines import NATS_URL, fresh_schema, require_postgres, require_server

# One JWT secret for every instance: access tokens minted by one are good at the others.
SHARED_ENV = {"SLUICE_JWT_SECRET": "scale-out-tests", "SLUICE_LOG_LEVEL": "WARNING"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A store URL on the machine's PostgreSQL, in a fresh schema of this test's own."""
    require_postgres()
    with fresh_schema() as url:
        yield url


def mint_key(store_url: str, tenant: str = "acme", rate_limit: int | None = None) -> str:
    """A key made straight in the shared store, as `sluice keys create --store URL` does."""
    from sluice.storage import open_store

    async def create() -> str:
        store = open_store(store_url)
        await store.open()
        try:
            token, _record = await ApiKeys(store).create(tenant, rate_limit=rate_limit)
            return token
        finally:
            await store.close()

    return asyncio.run(create())


def query(store_url: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(store_url) as conn:
        cursor = conn.execute(sql, params)
        return cursor.fetchall() if cursor.description is not None else []


@pytest.fixture
def start_instance(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start `sluice serve` processes, each in its own data directory; all killed at the end."""
    started: list[ServerProcess] = []

    def start(name: str, **env: str) -> ServerProcess:
        data_dir = tmp_path / name / "data"
        data_dir.mkdir(parents=True, exist_ok=True)
        process = ServerProcess(data_dir, env={**SHARED_ENV, **env})
        started.append(process)
        return process.start()

    yield start
    for process in started:
        if process.proc is not None and process.proc.poll() is None:
            process.kill9()


@pytest.fixture
def nats_stream() -> Iterator[tuple[str, str]]:
    """(stream name, subject prefix) of this test's own on the machine's NATS; deleted after."""
    require_server("NATS", NATS_URL, int(NATS_URL.rsplit(":", 1)[1]), "nats")
    tag = uuid.uuid4().hex[:10]
    stream, prefix = f"SLUICE_TEST_{tag}", f"sluice_test_{tag}"
    yield stream, prefix

    async def delete() -> None:
        import nats

        client = await nats.connect(NATS_URL)
        try:
            await client.jetstream().delete_stream(stream)
        except Exception:  # never made: nothing to delete
            pass
        finally:
            await client.close()

    asyncio.run(delete())


def stream_msg_ids(stream: str, prefix: str, url: str = NATS_URL) -> collections.Counter[str]:
    """How many messages the stream holds under each Nats-Msg-Id, read with a plain consumer."""

    async def read() -> collections.Counter[str]:
        import nats
        import nats.errors
        from nats.js.api import AckPolicy, ConsumerConfig

        client = await nats.connect(url)
        try:
            js = client.jetstream()
            info = await js.stream_info(stream)
            counts: collections.Counter[str] = collections.Counter()
            # No acks: a read-only look, not held back by max_ack_pending.
            config = ConsumerConfig(ack_policy=AckPolicy.NONE)
            consumer = await js.pull_subscribe(f"{prefix}.>", stream=stream, config=config)
            while sum(counts.values()) < info.state.messages:
                try:
                    messages = await consumer.fetch(1000, timeout=2)
                except nats.errors.TimeoutError:
                    break
                for message in messages:
                    counts[(message.headers or {}).get("Nats-Msg-Id", "")] += 1
            return counts
        finally:
            await client.close()

    return asyncio.run(read())
