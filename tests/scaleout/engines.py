"""The real engines tests talk to: the machine's shared PostgreSQL, Redis and NATS (each test
run in its own schema, key space or stream), and throwaway servers for tests that stop one."""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

POSTGRES_URL = os.environ.get(
    "SLUICE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("SLUICE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
NATS_URL = os.environ.get("SLUICE_TEST_NATS_URL", "nats://127.0.0.1:4222")


def spare_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _listening(url_port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, url_port), timeout=timeout):
            return True
    except OSError:
        return False


@functools.cache
def postgres_missing() -> str | None:
    """Why the shared PostgreSQL cannot be used (None: it can)."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install -e '.[postgres]')"
    try:
        psycopg.connect(POSTGRES_URL, connect_timeout=3).close()
    except psycopg.Error as exc:
        return f"no PostgreSQL at {POSTGRES_URL} (SLUICE_TEST_POSTGRES_URL): {exc}"
    return None


def require_postgres() -> None:
    reason = postgres_missing()
    if reason:
        pytest.skip(reason)


def require_server(name: str, url: str, port: int, module: str) -> None:
    """Skip unless the Python client is installed and something listens on the port."""
    try:
        __import__(module)
    except ImportError:
        pytest.skip(f"the {module} client is not installed")
    if not _listening(port):
        pytest.skip(f"no {name} at {url}")


def with_search_path(url: str, schema: str) -> str:
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options=-csearch_path%3D{schema}"


@contextlib.contextmanager
def fresh_schema(url: str = POSTGRES_URL) -> Iterator[str]:
    """A new, empty schema for one test; yields a store URL that uses it. Dropped after."""
    import psycopg

    schema = f"sluice_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield with_search_path(url, schema)
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def _postgres_command(name: str, *args: str) -> list[str]:
    """A PostgreSQL server program (initdb, pg_ctl) as a command line. They refuse to run as
    root, so as root they run as the postgres user."""
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    program = str(found[-1]) if found else shutil.which(name)
    if program is None:
        pytest.skip(f"{name} not found (PostgreSQL server binaries are needed to stop one)")
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    return [*as_postgres, program, *args]


class ThrowawayPostgres:
    """A PostgreSQL cluster of its own (initdb + pg_ctl on a spare port) that a test may stop
    and start, never the machine's shared server."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="sluice-pg-"))
        self.data = self.dir / "data"
        self.port = spare_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
        subprocess.run(
            _postgres_command(
                "initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync"
            ),
            check=True,
            capture_output=True,
        )

    def start(self) -> ThrowawayPostgres:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1"
        log = str(self.dir / "log")
        subprocess.run(
            _postgres_command(
                "pg_ctl", "-D", str(self.data), "-o", options, "-l", log, "-w", "start"
            ),
            check=True,
            capture_output=True,
        )
        return self

    def stop(self, mode: str = "immediate") -> None:
        """`immediate` is a crash: the server dies without a checkpoint and recovers on start."""
        subprocess.run(
            _postgres_command("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop"),
            check=False,
            capture_output=True,
        )

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class ThrowawayRedis:
    """A redis-server of its own on a spare port, without persistence."""

    def __init__(self) -> None:
        if shutil.which("redis-server") is None:
            pytest.skip("redis-server not found (needed for a Redis that a test can stop)")
        self.port = spare_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ThrowawayRedis:
        self.proc = subprocess.Popen(
            [
                *("redis-server", "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no"),
            ],
            stdout=subprocess.DEVNULL,
        )
        _wait_for_port(self.port)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


class ThrowawayNats:
    """A nats-server with JetStream of its own, storing under a temp dir."""

    def __init__(self) -> None:
        if shutil.which("nats-server") is None:
            pytest.skip("nats-server not found")
        self.dir = Path(tempfile.mkdtemp(prefix="sluice-nats-"))
        self.port = spare_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ThrowawayNats:
        self.proc = subprocess.Popen(
            ["nats-server", "-js", "-a", "127.0.0.1", "-p", str(self.port), "-sd", str(self.dir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for_port(self.port)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


def _wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not _listening(port, timeout=0.2):
        if time.monotonic() > deadline:
            raise RuntimeError(f"nothing listens on port {port} after {timeout} s")
        time.sleep(0.05)
