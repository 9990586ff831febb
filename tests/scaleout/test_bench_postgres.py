"""bench/bench_postgres.py completes a tiny run on the machine's PostgreSQL and prints its table
(no timing is asserted: a smoke run is far too short to mean anything)."""

from __future__ import annotations

import shutil

import pytest

from tests.bench.test_smoke import smoke
from tests.scaleout.engines import POSTGRES_URL, require_postgres

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
