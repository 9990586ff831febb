"""Every expected operator mistake ends as one clear line on stderr and a non-zero exit, with
no traceback unless --debug (README "Troubleshooting": one test per row)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ServerProcess


def sluice(*argv: str, env: dict[str, str] | None = None, timeout: float = 30) -> tuple[int, str]:
    """`python -m sluice argv...`: (exit status, stderr)."""
    done = subprocess.run(
        [sys.executable, "-m", "sluice", *argv],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return done.returncode, done.stderr


def one_line(stderr: str) -> str:
    """The error line, asserting it is the only thing on stderr and no traceback."""
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("sluice: "), stderr
    return lines[0]


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port some other process listens on."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def serve(data_dir: Path, *argv: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    if data_dir.is_dir():
        data_dir.chmod(0o700)  # else serve says on stderr that it made it private
    base = ["serve", "--data-dir", str(data_dir), "--http-port", "0", "--grpc-port", "0"]
    return sluice(*base, *argv, env=env)


def test_http_port_in_use(data_dir: Path, taken_port: int) -> None:
    code, err = serve(data_dir, "--http-port", str(taken_port))
    assert code == 1
    assert one_line(err) == (
        f"sluice: cannot listen for HTTP on 127.0.0.1:{taken_port}: Address already in use "
        "(another process (a second sluice?) holds it; stop it or choose another with "
        "--http-port)"
    )


def test_grpc_port_in_use(data_dir: Path, taken_port: int) -> None:
    code, err = serve(data_dir, "--grpc-port", str(taken_port))
    assert code == 1
    assert f"cannot listen for gRPC on 127.0.0.1:{taken_port}: Address" in one_line(err)


@pytest.mark.slow
def test_a_second_server_on_the_same_ports_refuses_to_start(data_dir: Path, tmp_path) -> None:
    first = ServerProcess(data_dir).start()
    try:
        other = tmp_path / "other"
        http_port = first.http_url.rsplit(":", 1)[1]
        code, err = serve(other, "--http-port", http_port)
        assert code == 1 and "cannot listen for HTTP" in one_line(err)
        # gRPC's port too: grpc's default SO_REUSEPORT would have let it share the port.
        grpc_port = first.grpc_target.rsplit(":", 1)[1]
        code, err = serve(other, "--grpc-port", grpc_port)
        assert code == 1 and "cannot listen for gRPC" in one_line(err)
    finally:
        first.stop()


def test_an_address_the_host_does_not_have(data_dir: Path) -> None:
    code, err = serve(data_dir, "--host", "192.0.2.1")  # TEST-NET-1, never local
    assert code == 1
    assert "cannot listen for HTTP on 192.0.2.1:0: Cannot assign requested address" in one_line(err)


def test_a_postgresql_that_refuses_connections_fails_at_once(data_dir: Path) -> None:
    pytest.importorskip("psycopg", reason="psycopg is not installed (.[postgres])")
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    started = time.monotonic()
    code, err = serve(data_dir, "--store", f"postgresql://sluice:secret@127.0.0.1:{closed}/db")
    assert code == 1
    line = one_line(err)
    assert line.startswith(
        f"sluice: cannot open the store postgresql://sluice:***@127.0.0.1:{closed}"
    )
    assert "Connection refused" in line and "secret" not in line
    assert time.monotonic() - started < 8  # not the pool's 10 s wait


def test_a_store_url_of_no_known_kind(data_dir: Path) -> None:
    code, err = serve(data_dir, "--store", "mysql://db/sluice")
    assert code == 1
    assert one_line(err) == (
        "sluice: unsupported store URL 'mysql://db/sluice' "
        "(expected sqlite:///PATH or postgresql://...)"
    )


@pytest.mark.parametrize("where", ["/proc/nope", "file"])
def test_an_unusable_data_dir(tmp_path: Path, where: str) -> None:
    path = tmp_path / where if where == "file" else Path(where)
    if where == "file":
        path.write_text("not a directory")
    code, err = serve(path)
    assert code == 1
    line = one_line(err)
    assert line.startswith(f"sluice: data directory '{path}' ")
    assert line.endswith("(choose another with --data-dir or SLUICE_DATA_DIR)")


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("SLUICE_HTTP_PORT", "abc", "expected a port, 0-65535"),
        ("SLUICE_GRPC_PORT", "70000", "expected a port, 0-65535"),
        ("SLUICE_RATE_LIMIT", "-1", "expected a whole number >= 0"),
        ("SLUICE_BODY_TIMEOUT_SECONDS", "soon", "expected a number of seconds >= 0"),
        ("SLUICE_STORE_QUEUE_LIMIT", "0", "expected a whole number >= 1"),
        ("SLUICE_LOG_LEVEL", "loud", "expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
        ("SLUICE_GROUP_COMMIT", "maybe", "expected on or off"),
        ("SLUICE_COLLECT_EVENT_TYPES", "[1]", 'expected JSON like {"tenant": ["type"]}'),
    ],
)
def test_a_bad_environment_value(data_dir: Path, name: str, value: str, expected: str) -> None:
    code, err = serve(data_dir, env={name: value})
    assert code == 1
    assert one_line(err) == f"sluice: {name}={value!r}: {expected}"


def test_a_bad_flag_value_is_a_usage_error(data_dir: Path) -> None:
    code, err = sluice("keys", "limit", "k1", "abc", "--data-dir", str(data_dir))
    assert code == 2 and "Traceback" not in err
    assert err.splitlines()[-1] == (
        "sluice keys limit: error: argument rate: 'abc' is not a rate: a whole number of "
        "requests per second (0 for unlimited) or 'default'"
    )
    code, err = serve(data_dir, "--http-port", "http")
    assert code == 2 and "argument --http-port: invalid port value: 'http'" in err


def test_an_unknown_tenant(data_dir: Path) -> None:
    code, err = sluice("customers", "list", "--tenant", "nosuch", "--data-dir", str(data_dir))
    assert code == 1
    assert one_line(err).startswith("sluice: no tenant 'nosuch' (")


def test_debug_shows_the_traceback(data_dir: Path) -> None:
    code, err = serve(data_dir, "--store", "mysql://db/sluice", "--debug")
    assert code == 1
    assert "Traceback" in err and "ConfigurationError: unsupported store URL" in err
