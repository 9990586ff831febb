"""bench/bench_postgres.py completes a tiny run on the machine's PostgreSQL and prints its table
(no timing is asserted: a smoke run is far too short to mean anything)."""

from __future__ import annotations

import shutil
import urllib.request
from pathlib import Path

import pytest

from bench import bench_postgres, servers
from tests.bench.test_smoke import smoke
from tests.scaleout.engines import POSTGRES_URL, require_postgres
from tests.test_ingest import vayu_body

pytestmark = pytest.mark.slow


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_bench_postgres_smoke(monkeypatch: pytest.MonkeyPatch) -> None:
    require_postgres()
    monkeypatch.setenv("SLUICE_BENCH_POSTGRES_URL", POSTGRES_URL)
    out = smoke("bench_postgres")
    assert "group commit of 100 rows: COPY into staging vs INSERT over arrays" in out
    assert "POST /events x1000, one instance" in out
    assert "two instances on one PostgreSQL" in out
    assert "events per CPU second of the Sluice processes, two instances" in out


def test_efficiency_counts_what_the_servers_acknowledged(tmp_path: Path) -> None:
    """The scale-out efficiency divides events the instances acknowledged (their own
    `sluice_events_total`, accepted) by their CPU seconds in the same window: a repeat is not
    counted, and the count is read from the server, not from what a load generator sent."""
    with servers.sluice(tmp_path / "data") as sluice:
        servers.wait_ready(sluice.http_url)
        before_cpu, before = bench_postgres.snapshot([sluice])
        for body in (vayu_body("a", "b", "c"), vayu_body("c", "d")):
            request = urllib.request.Request(
                f"{sluice.http_url}/events",
                data=body,
                headers={
                    "Authorization": f"Bearer {sluice.key}",
                    "Content-Type": "application/json",
                },
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                assert response.status in (200, 201, 202)
        after_cpu, after = bench_postgres.snapshot([sluice])
    assert after - before == 4  # a, b, c, d: the repeated c is a duplicate
    assert after_cpu >= before_cpu
