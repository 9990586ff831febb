"""Fault injection helpers: a client-side ledger of what the server answered, the store check
that holds the server to it, a small tmpfs to fill, and an fsync that fails on demand."""

from __future__ import annotations

import collections
import contextlib
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.conftest import stored_rows
from tests.test_server import vayu_event


def invalid_event(ref: str) -> dict[str, str]:
    """An event the server must refuse on its own (bad timestamp) inside an accepted batch."""
    return {"name": "api_call", "timestamp": "not a time", "customerAlias": "c1", "ref": ref}


@dataclass
class Ledger:
    """What the client knows about every ref it sent: acked (200, in validEvents), refused
    (a definitive non-2xx answer, or in invalidEvents), or unknown (no answer: may be stored)."""

    acked: set[str] = field(default_factory=set)
    refused: set[str] = field(default_factory=set)
    unknown: set[str] = field(default_factory=set)
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def send(
        self,
        client: httpx.Client,
        refs: Sequence[str],
        invalid_refs: Sequence[str] = (),
        pad: int = 0,
    ) -> httpx.Response | None:
        """POST /events with one event per ref (`invalid_refs` refused one by one) and record
        the answer. None when the connection failed: those refs are unknown."""
        data = {"k": "v", "pad": "x" * pad}
        events = [vayu_event(ref, data=data) for ref in refs]
        events += [invalid_event(ref) for ref in invalid_refs]
        try:
            response = client.post("/events", json={"events": events})
        except httpx.TransportError:
            self.unanswered([*refs, *invalid_refs])
            return None
        self.record(response, [*refs, *invalid_refs])
        return response

    def unanswered(self, refs: Sequence[str]) -> None:
        with self._lock:
            self.unknown.update(refs)

    def record(self, response: httpx.Response, refs: Sequence[str]) -> None:
        with self._lock:
            self.statuses[response.status_code] += 1
            if response.status_code != 200:
                self.refused.update(refs)
                return
            body = response.json()
            valid = {event["ref"] for event in body["validEvents"]}
            invalid = {entry["event"]["ref"] for entry in body["invalidEvents"]}
            assert valid | invalid == set(refs), "every event is answered exactly once"
            self.acked.update(valid)
            self.refused.update(invalid)

    def forget_refused(self, refs: Sequence[str]) -> None:
        """Refs re-sent after a refusal: their new answer is recorded afresh."""
        with self._lock:
            self.refused.difference_update(refs)


def assert_store_holds(data_dir: Path, ledger: Ledger, context: str = "") -> None:
    """The store, read as an operator would after the fact, agrees with the client's ledger:
    intact, every acked event exactly once, no refused event at all."""
    assert stored_rows(data_dir, "PRAGMA integrity_check") == [("ok",)], context
    counts = collections.Counter(
        ref for (ref,) in stored_rows(data_dir, "SELECT id FROM events WHERE name = 'api_call'")
    )
    twice = sorted(ref for ref, n in counts.items() if n > 1)
    assert not twice, f"{context}: stored more than once: {twice[:5]}"
    lost = sorted(ledger.acked - counts.keys())
    assert not lost, f"{context}: {len(lost)} acknowledged events lost, e.g. {lost[:5]}"
    invented = sorted(ledger.refused & counts.keys())
    assert not invented, f"{context}: {len(invented)} refused events stored, e.g. {invented[:5]}"


def authorized(http_url: str, token: str, timeout: float = 10.0) -> httpx.Client:
    return httpx.Client(
        base_url=http_url, timeout=timeout, headers={"Authorization": f"Bearer {token}"}
    )


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs as the data directory, so that it can really be filled."""
    mount_point = tmp_path / "data"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): {mounted.stderr}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=True)


@pytest.fixture
def failing_fsync(tmp_path: Path) -> Path:
    """failing_fsync.c built as an LD_PRELOAD library.

    Without a C compiler this skips, except in CI (`make test` installs gcc), where it fails:
    CI must never pass without this test having run."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        reason = (
            "no C compiler (cc or gcc) on PATH to build the failing-fsync LD_PRELOAD shim"
            " (tests/faults/failing_fsync.c); `make test` installs gcc"
        )
        if os.environ.get("CI"):
            pytest.fail(f"{reason}, yet CI is running without it")
        pytest.skip(reason)
    library = tmp_path / "failing_fsync.so"
    source = Path(__file__).with_name("failing_fsync.c")
    subprocess.run(
        [compiler, "-shared", "-fPIC", "-O2", "-o", str(library), str(source), "-ldl"], check=True
    )
    return library


def fill(directory: Path) -> Path:
    """Write a filler file until the file system is full; delete it to give the space back."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        for size in (1 << 16, 1 << 12, 1):  # big writes first, then whatever still fits
            with contextlib.suppress(OSError):  # ENOSPC
                while os.write(fd, bytes(size)):
                    pass
        os.fsync(fd)
    finally:
        os.close(fd)
    return filler
