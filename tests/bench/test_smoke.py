"""Each benchmark script completes a tiny run and prints its table, so bench/ cannot rot.

No timing is asserted: these runs are far too short to mean anything (see bench/README.md).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench import bench_layout
from bench.bench_store import parsed_batches
from sluice.storage.sqlite.connection import connect

ROOT = Path(__file__).resolve().parents[2]
needs_wrk = pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
needs_granian = pytest.mark.skipif(
    importlib.util.find_spec("granian") is None,
    reason="granian is not installed (the dev extra pins it: make build)",
)

pytestmark = pytest.mark.slow


def smoke(module: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{module}", "--smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| figure"))
    rows = [line for line in lines[header + 2 :] if line.startswith("| ")]
    assert rows, done.stdout
    return done.stdout


def test_core() -> None:
    out = smoke("bench_core")
    for corpus in ("vayu", "vayu_dup10", "enso"):
        assert f"core {corpus} (binding) vs serde_json Value" in out
        assert f"core {corpus} (binding) vs pure Python" in out


@needs_wrk
def test_http() -> None:
    out = smoke("bench_http")
    assert "HTTP POST /events, 1-event batches" in out
    assert "p99 at half the peak rate" in out


@needs_wrk
@needs_granian
def test_servers() -> None:
    out = smoke("bench_servers")
    assert "| 1-event | Sluice        | granian |" in out
    assert "Sluice on granian vs uvicorn, 1-event batches" in out
    assert "Sluice vs bare on uvicorn, 1-event batches" in out


@needs_wrk
def test_grpc() -> None:
    out = smoke("bench_grpc")
    assert "gRPC Ingest, 100-event batches" in out
    assert "gRPC IngestStream, 100-event batches" in out


@needs_wrk
def test_durability() -> None:
    out = smoke("bench_durability")
    assert "NORMAL, group commit off" in out


def test_startup() -> None:
    out = smoke("bench_startup")
    assert "resident bytes/key" in out
    assert "start to ready" in out


def test_usage() -> None:
    out = smoke("bench_usage")
    assert "usage query p50, 1 customer x 1 month by day, 3 meters" in out
    assert "ingest with 10 meters defined" in out


def test_store() -> None:
    out = smoke("bench_store")
    assert "SQLite store alone, 1000-event appends, store of 5,000 events" in out
    assert "(usage index inline, no projection)" in out
    assert "usage read p50, 1 customer" in out


def test_layout() -> None:
    out = smoke("bench_layout")
    assert "SQLite 1000-event commits, layout: rows only" in out
    assert "SQLite 1000-event commits, layout: one row per request" in out
    assert "SQLite 1000-event commits, layout: log, rows projected after" in out
    rust = next(line for line in out.splitlines() if "rows bound in Rust" in line)
    if "skipped" in rust:
        missing_writer(rust)


def missing_writer(reason: str) -> None:
    """The Rust writer needs cargo and libsqlite3's headers (`make test` installs them): CI
    must have it; elsewhere its tests skip, saying why."""
    if os.environ.get("CI"):
        pytest.fail(f"CI must build the Rust writer: {reason}")
    pytest.skip(reason)


def test_the_rust_writer_stores_what_the_store_would(tmp_path: Path) -> None:
    """bench_layout's Rust row is only a fair baseline if the Rust writer stores the same rows
    as the store's INSERT from Python: every column of every row, read back, is equal."""
    reason = bench_layout.rust_writer_missing()
    if reason is not None:
        missing_writer(reason)
    work = parsed_batches(3, bench_layout.TENANT, "r")
    by_rust, by_python = tmp_path / "rust.db", tmp_path / "python.db"
    for db in (by_rust, by_python):
        bench_layout._store(connect(db, 2000))
    events, wall, cpu = bench_layout.write_with_rust(by_rust, work)
    assert events == 3000 and wall > 0 and cpu >= 0
    conn = connect(by_python, 2000)
    offset = 1
    for rows in work:
        conn.execute("BEGIN IMMEDIATE")
        bench_layout._insert_rows(conn, offset, rows)
        conn.execute("COMMIT")
        offset += len(rows)
    read = "SELECT * FROM events ORDER BY seq"
    python_rows = conn.execute(read).fetchall()
    assert connect(by_rust, 2000).execute(read).fetchall() == python_rows
    assert len(python_rows) == 3000


def test_the_log_layout_pays_for_its_projection(tmp_path: Path) -> None:
    """The log layout's figure counts the per-event rows it builds later: a row per request in
    the log, and every event as the store's row once PROJECT_EVERY of them wait."""
    conn = connect(tmp_path / "x.db", 2000)
    bench_layout._log_and_store(conn)
    project = bench_layout._Projector()
    offset = 1
    for rows in parsed_batches(5, bench_layout.TENANT, "t"):
        conn.execute("BEGIN IMMEDIATE")
        project(conn, offset, rows)
        conn.execute("COMMIT")
        offset += len(rows)
        logged = conn.execute("SELECT count(*) FROM requests").fetchone()[0]
        stored = conn.execute("SELECT count(*) FROM events").fetchone()[0]
        waiting = offset - 1 - stored
        assert logged * 1000 == offset - 1
        assert 0 <= waiting < bench_layout.PROJECT_EVERY
    assert stored == 5000  # the fifth batch took the waiting ones past PROJECT_EVERY


@needs_wrk
def test_ab_commits_compares_checkouts() -> None:
    """bench/ab_commits.py (issue 11's before/after runs) completes one round of an arm and
    prints its figures: here the checkout against itself, so the ratios are of one build."""
    arms = ["--arm", f"a={ROOT}", "--arm", f"b={ROOT}"]
    done = subprocess.run(
        [sys.executable, "-m", "bench.ab_commits", *arms, "--rounds", "1", "--seconds", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert sorted(row["arm"] for row in rows) == ["a", "b"]
    for row in rows:
        assert row["errors"] == 0
        assert row["store_eps"] > 0 and row["store_us"] > 0
        assert row["http1_rps"] > 0 and row["http1000_eps"] > 0
    assert "http1000_eps median: a" in done.stdout
