"""Every read surface of one gateway, in one process: Vayu's HTTP routes (through the ASGI
app), gRPC (a real server on 127.0.0.1:0) and, on PostgreSQL, the NATS relay; over either store.

Tests use it to send events through one API and read them back through all the others.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from sluice.publishing import OutboxRelay
from sluice.storage import Store
from sluice.storage.sqlite import SqliteStore
from sluice.web.app import create_app
from tests.rpc.conftest import RpcServer
from tests.scaleout.engines import NATS_URL, fresh_schema, require_postgres


class Surfaces(RpcServer):
    """An RpcServer whose gateway also answers HTTP (`http`) and may run an outbox relay."""

    def __init__(self, data_dir: Path, store: Store, relay_to: tuple[str, str] | None = None):
        super().__init__(data_dir, store)
        self.relay_to = relay_to  # (stream, subject prefix) on the machine's NATS
        self.relay: OutboxRelay | None = None
        self._http: httpx.AsyncClient | None = None

    def start(self) -> Surfaces:
        super().start()

        async def begin() -> None:
            transport = httpx.ASGITransport(app=create_app(self.gateway))
            self._http = httpx.AsyncClient(
                transport=transport,
                base_url="http://sluice.test",
                headers={"Authorization": f"Bearer {self.key}"},
            )
            if self.relay_to is not None:
                stream, prefix = self.relay_to
                self.relay = OutboxRelay(
                    self.store,  # type: ignore[arg-type]  # a PostgresStore with its outbox
                    NATS_URL,
                    stream,
                    prefix,
                    poll_seconds=0.05,
                    unreadable=self.gateway.unreadable,
                )
                self.relay.start()

        self.run(begin())
        return self

    def http(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        assert self._http is not None
        return self.run(self._http.request(method, path, **kwargs))

    def metric(self, line_start: str) -> float:
        """The value of the first /metrics sample starting with `line_start`, 0 if none."""
        for line in self.http("GET", "/metrics").text.splitlines():
            if line.startswith(line_start):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def close(self) -> None:
        async def end() -> None:
            if self.relay is not None:
                await self.relay.stop()
            if self._http is not None:
                await self._http.aclose()

        self.run(end())
        super().close()


@contextlib.contextmanager
def open_surfaces(
    backend: str, tmp_path: Path, relay_to: tuple[str, str] | None = None
) -> Iterator[Surfaces]:
    """Surfaces over `backend` ("sqlite" or "postgresql", each in a place of its own)."""
    data_dir = tmp_path / f"surfaces-{backend}"
    data_dir.mkdir()
    with contextlib.ExitStack() as stack:
        store: Store
        if backend == "sqlite":
            store = SqliteStore(data_dir / "sluice.db")
        else:
            require_postgres()
            from sluice.storage.postgres import PostgresStore

            store = PostgresStore(stack.enter_context(fresh_schema()), outbox=relay_to is not None)
        surfaces = Surfaces(data_dir, store, relay_to).start()
        try:
            yield surfaces
        finally:
            surfaces.close()
            shutil.rmtree(data_dir, ignore_errors=True)
