"""An in-process gRPC server on 127.0.0.1:0 with its own event loop thread.

Tests reach it only through real channels, and can still reach into its store to make real
faults (a busy writer, a full disk) that a separate process would hide.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pytest

from sluice.gateway import Gateway
from sluice.rpc.health import StoreHealth
from sluice.rpc.server import create_server, stop_server
from sluice.settings import Settings
from sluice.storage import Store
from sluice.storage.sqlite import SqliteStore

T = TypeVar("T")


class RpcServer:
    def __init__(self, data_dir: Path, store: Store | None = None, **settings: Any) -> None:
        """On the SQLite store under data_dir unless given another (not yet opened) store;
        hold_writer needs the SQLite one."""
        self.settings = Settings(data_dir=data_dir, **{"rate_limit": 0, **settings})
        self.store: Any = SqliteStore(data_dir / "sluice.db") if store is None else store
        self.gateway = Gateway(self.store, self.settings)
        self.port = 0
        self.key = ""
        self._server: grpc.aio.Server | None = None
        self.health: StoreHealth | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def metadata(self) -> tuple[tuple[str, str]]:
        return (("authorization", f"Bearer {self.key}"),)

    def run(self, work: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Run a coroutine on the server's loop and wait for its result."""
        return self.submit(work).result(timeout)

    def submit(self, work: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Start a coroutine on the server's loop without waiting for it."""
        return asyncio.run_coroutine_threadsafe(work, self._loop)

    def hold_writer(self, release: threading.Event) -> concurrent.futures.Future[Any]:
        """Keep the store's single writer busy until `release` is set: a real slow store, as
        every commit queues behind it."""

        async def hold() -> Any:
            return await self.store._writer.call(lambda conn: release.wait(30))

        return self.submit(hold())

    def start(self) -> RpcServer:
        self._thread.start()

        async def begin() -> str:
            await self.gateway.start()
            token, _record = await self.gateway.access.keys.create("acme")
            return token

        self.key = self.run(begin())
        self.start_grpc()
        return self

    def start_grpc(self) -> None:
        """(Re)start the gRPC server, on the same port after a stop_grpc()."""

        async def begin() -> None:
            server, health = create_server(self.gateway)
            self.port = server.add_insecure_port(self.target)
            await server.start()
            await health.start()
            self._server, self.health = server, health

        self.run(begin())

    def stop_grpc(self) -> None:
        """Drop the gRPC server at once (calls in progress are cancelled); the gateway and
        store stay up, so start_grpc() brings the same service back."""
        assert self._server is not None and self.health is not None
        self.run(self.health.stop())
        self.run(self._server.stop(grace=None))
        self._server = None

    def key_for(self, tenant: str) -> tuple[tuple[str, str]]:
        token, _record = self.run(self.gateway.access.keys.create(tenant))
        return (("authorization", f"Bearer {token}"),)

    def shutdown(self) -> None:
        """Stop the gRPC server the way `sluice serve` does on SIGTERM."""
        assert self._server is not None and self.health is not None
        self.run(stop_server(self._server, self.health, self.gateway))
        self._server = None

    def close(self) -> None:
        if self._server is not None:
            self.shutdown()
        self.run(self.gateway.stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


@pytest.fixture
def rpc(data_dir: Path) -> Iterator[RpcServer]:
    server = RpcServer(data_dir).start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def channel(rpc: RpcServer) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(rpc.target) as chan:
        yield chan
