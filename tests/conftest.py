"""Shared fixtures: stores on a temp dir, an in-process app, and real server processes."""

from __future__ import annotations

import asyncio
import os
import queue
import resource
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sluice.api_keys import ApiKeys
from sluice.storage.sqlite import SqliteStore
from tests.scaleout.engines import ThrowawayPostgres

FIXTURES = Path(__file__).parent / "fixtures"


def mint_key(data_dir: Path, tenant: str = "acme", rate_limit: int | None = None) -> str:
    """Create a tenant key directly in the store under data_dir (as `sluice keys create` does)."""

    async def create() -> str:
        store = SqliteStore(data_dir / "sluice.db")
        await store.open()
        try:
            token, _record = await ApiKeys(store).create(tenant, rate_limit=rate_limit)
            return token
        finally:
            await store.close()

    return asyncio.run(create())


def stored_rows(data_dir: Path, sql: str = "SELECT tenant, name, id FROM events") -> list[tuple]:
    """Read the store's file directly, the way an operator would after a crash."""
    conn = sqlite3.connect(data_dir / "sluice.db")
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


class ServerProcess:
    """`python -m sluice serve` on ports chosen by the OS, in its own data directory."""

    def __init__(
        self, data_dir: Path, env: dict[str, str] | None = None, open_files: int | None = None
    ) -> None:
        self.data_dir = data_dir
        self.env = env
        self.open_files = open_files  # a soft limit on open files to start it under
        self.proc: subprocess.Popen[str] | None = None
        self.http_url = ""
        self.grpc_target = ""
        self.bootstrap_key: str | None = None
        self._log = (data_dir.parent / "server.log").open("a")

    def start(self, timeout: float = 30.0) -> ServerProcess:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sluice",
                "serve",
                "--http-port",
                "0",
                "--grpc-port",
                "0",
                "--data-dir",
                str(self.data_dir),
            ],
            env={**os.environ, **self.env} if self.env else None,
            preexec_fn=self._limit_open_files if self.open_files else None,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        lines: queue.Queue[str | None] = queue.Queue()

        def pump() -> None:
            assert self.proc is not None and self.proc.stdout is not None
            for line in self.proc.stdout:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + timeout
        expect_key = False
        while not (self.http_url and self.grpc_target):
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            if line is None:
                raise RuntimeError(f"server exited early; see {self._log.name}")
            line = line.strip()
            if expect_key:
                self.bootstrap_key, expect_key = line, False
            elif line.startswith("sluice: created tenant"):
                expect_key = True
            elif line.startswith("sluice: http listening on "):
                self.http_url = line.rsplit(" ", 1)[1]
            elif line.startswith("sluice: grpc listening on "):
                self.grpc_target = line.rsplit(" ", 1)[1]
        return self

    def _limit_open_files(self) -> None:
        assert self.open_files is not None
        _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (self.open_files, hard))

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=10)

    def stop(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.terminate()
        return self.proc.wait(timeout=20)


@pytest.fixture
def server(data_dir: Path) -> Iterator[ServerProcess]:
    proc = ServerProcess(data_dir).start()
    try:
        yield proc
    finally:
        if proc.proc is not None and proc.proc.poll() is None:
            proc.kill9()


@pytest.fixture
def cluster() -> Iterator[ThrowawayPostgres]:
    """A PostgreSQL server of the test's own (never the machine's), to stop and start."""
    pytest.importorskip("psycopg", reason="psycopg is not installed (.[postgres])")
    server = ThrowawayPostgres().start()
    try:
        yield server
    finally:
        server.remove()
