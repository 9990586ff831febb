"""`make wheel` ships: one abi3 manylinux wheel (and an sdist) that installs into a fresh
virtualenv with no Rust toolchain on PATH and runs `sluice serve`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
# Kept between sessions and rebuilt only when a source is newer than the wheel: a release
# build of the extension takes minutes on two cores.
DIST = ROOT / "target" / "wheel-test"
SOURCES = [ROOT / "pyproject.toml", ROOT / "core_rs", ROOT / "service" / "sluice"]


def newest_source() -> float:
    times = [
        path.stat().st_mtime
        for root in SOURCES
        for path in ([root] if root.is_file() else root.rglob("*"))
        if path.is_file() and "target" not in path.parts and "__pycache__" not in path.parts
    ]
    return max(times)


@pytest.fixture(scope="session")
def wheel() -> Path:
    built = sorted(DIST.glob("sluice-*.whl"))
    if not built or built[-1].stat().st_mtime < newest_source():
        shutil.rmtree(DIST, ignore_errors=True)
        subprocess.run(
            ["nice", "-n", "10", "make", "--no-print-directory", "wheel", f"DIST={DIST}"],
            cwd=ROOT,
            check=True,
            capture_output=True,
            timeout=1800,
        )
        built = sorted(DIST.glob("sluice-*.whl"))
    assert len(built) == 1, built
    assert list(DIST.glob("sluice-*.tar.gz")), "make wheel builds the sdist too"
    return built[0]


def test_the_wheel_is_abi3_for_311_and_manylinux(wheel: Path) -> None:
    assert re.fullmatch(r"sluice-[\d.]+-cp311-abi3-manylinux_2_\d+_\w+\.whl", wheel.name), wheel


def test_the_wheel_serves_from_a_fresh_venv_without_cargo(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    path = os.pathsep.join([str(venv / "bin"), "/usr/bin", "/bin"])
    assert shutil.which("cargo", path=path) is None and shutil.which("rustc", path=path) is None
    env = {"PATH": path, "HOME": os.environ.get("HOME", str(tmp_path)), "LANG": "C.UTF-8"}
    # pip's own settings (index, certificates) and any proxy carry over; nothing else does.
    env.update(
        (name, value)
        for name, value in os.environ.items()
        if name.startswith("PIP_") or name.lower().endswith("_proxy")
    )
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", str(wheel)],
        check=True,
        env=env,
        timeout=600,
    )
    server = subprocess.Popen(
        [str(venv / "bin" / "sluice"), "serve", "--http-port", "0", "--grpc-port", "0"],
        cwd=tmp_path,  # the checkout's service/ is nowhere on its path
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        url = ""
        deadline = time.monotonic() + 60
        while not url and time.monotonic() < deadline:
            line = server.stdout.readline()
            if not line:
                break
            if line.startswith("sluice: http listening on "):
                url = line.split()[-1]
        assert url, "the installed sluice did not start"
        assert httpx.get(f"{url}/healthz", timeout=10).json() == {"status": "ok"}
        site = subprocess.run(
            [str(venv / "bin" / "python"), "-c", "import sluice._core as c; print(c.__file__)"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        assert str(venv) in site.stdout and site.stdout.strip().endswith(".abi3.so")
    finally:
        server.terminate()
        assert server.wait(timeout=30) == 0


def test_the_wheel_ships_the_console_s_files(wheel: Path) -> None:
    import zipfile

    names = set(zipfile.ZipFile(wheel).namelist())
    for asset in ("index.html", "console.js", "console.css"):
        assert f"sluice/web/static/console/{asset}" in names, asset
