"""The data directory is private by default: 0700, and 0600 for the files Sluice writes there,
whether Sluice creates the directory or finds it with looser modes."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import ServerProcess

pytestmark = pytest.mark.slow


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def send_one(server: ServerProcess) -> None:
    assert server.bootstrap_key is not None
    event = {"name": "n", "timestamp": "2024-01-01T00:00:00Z", "customerAlias": "c", "ref": "r"}
    response = httpx.post(
        f"{server.http_url}/events",
        json={"events": [event]},
        headers={"Authorization": f"Bearer {server.bootstrap_key}"},
    )
    assert response.json()["validEvents"], response.text


def assert_private(data_dir: Path) -> None:
    assert mode(data_dir) == 0o700
    names = sorted(path.name for path in data_dir.iterdir())
    assert {"sluice.db", "jwt-secret"} <= set(names), names
    for path in data_dir.iterdir():
        assert mode(path) & 0o077 == 0, f"{path.name} is {oct(mode(path))}"


def test_a_data_dir_sluice_creates_is_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"  # not there yet: Sluice makes it
    previous = os.umask(0o022)  # the usual login umask: Sluice must not rely on a strict one
    try:
        server = ServerProcess(data_dir).start()
    finally:
        os.umask(previous)
    try:
        send_one(server)
        assert_private(data_dir)  # the WAL and shared-memory files included, while running
    finally:
        server.stop()


def test_a_loose_existing_data_dir_is_tightened_at_start(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o755)
    os.chmod(data_dir, 0o755)
    keys = subprocess.run(
        [sys.executable, "-m", "sluice", "keys", "create", "--tenant", "t", "--data-dir", data_dir],
        capture_output=True,
        text=True,
        check=True,
    )
    assert keys.stdout.strip()
    assert mode(data_dir / "sluice.db") == 0o600  # the CLI creates private files too
    os.chmod(data_dir / "sluice.db", 0o644)  # as an older version left it
    server = ServerProcess(data_dir).start()
    try:
        assert_private(data_dir)
    finally:
        server.stop()
