"""The benchmark-only durability settings: SQLite synchronous=NORMAL and group commit off."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from sluice.settings import Settings
from sluice.storage import Store, open_store
from sluice.storage.sqlite import SqliteStore
from tests.storage.conftest import event_row

pytestmark = pytest.mark.anyio


def test_defaults_are_durable_and_quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLUICE_SQLITE_SYNCHRONOUS", raising=False)
    monkeypatch.delenv("SLUICE_GROUP_COMMIT", raising=False)
    settings = Settings.from_env()
    assert (settings.sqlite_synchronous, settings.group_commit) == ("FULL", True)
    assert settings.durability_warnings() == []


async def writer_pragma(store: Store, pragma: str) -> Any:
    """A PRAGMA as the store's writer connection, the one that commits, runs it."""
    writer = store._writer  # type: ignore[attr-defined]  # the single writer of a SQLite store
    return await writer.call(lambda conn: conn.execute(f"PRAGMA {pragma}").fetchone()[0])


async def test_the_writer_commits_at_full_in_wal_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default settings reach the connection that commits: synchronous=FULL (2), so each
    commit is fsynced before the reply, and WAL journaling."""
    monkeypatch.delenv("SLUICE_SQLITE_SYNCHRONOUS", raising=False)
    monkeypatch.delenv("SLUICE_GROUP_COMMIT", raising=False)
    monkeypatch.delenv("SLUICE_STORE", raising=False)
    settings = Settings.from_env()
    settings = dataclasses.replace(settings, data_dir=tmp_path)
    # Built the way `sluice serve` builds it from its settings.
    store = open_store(
        settings.store_url,
        synchronous=settings.sqlite_synchronous,
        group_commit=settings.group_commit,
    )
    await store.open()
    try:
        assert await writer_pragma(store, "synchronous") == 2
        assert await writer_pragma(store, "journal_mode") == "wal"
        await store.append("acme", "vayu", 1, [event_row(0, "k")])  # and still so after writing
        assert await writer_pragma(store, "synchronous") == 2
    finally:
        await store.close()
    assert stored_journal_mode(tmp_path / "sluice.db") == "wal"


async def test_a_store_opened_by_its_url_alone_is_durable(tmp_path: Path) -> None:
    """`open_store(url)` with no durability arguments (as tests/scaleout and library callers
    open a store) gets the durable defaults: synchronous=FULL on the writer."""
    store = open_store(f"sqlite:///{tmp_path / 'sluice.db'}")
    await store.open()
    try:
        assert await writer_pragma(store, "synchronous") == 2
    finally:
        await store.close()


def stored_journal_mode(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        mode: str = conn.execute("PRAGMA journal_mode").fetchone()[0]
        return mode
    finally:
        conn.close()


def test_lowered_durability_is_read_from_the_environment_and_warned_about(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SLUICE_SQLITE_SYNCHRONOUS", "normal")
    monkeypatch.setenv("SLUICE_GROUP_COMMIT", "off")
    settings = Settings.from_env()
    assert (settings.sqlite_synchronous, settings.group_commit) == ("NORMAL", False)
    warnings = settings.durability_warnings()
    assert len(warnings) == 2
    assert "SLUICE_SQLITE_SYNCHRONOUS=NORMAL" in warnings[0]
    assert "SLUICE_GROUP_COMMIT=off" in warnings[1]
    monkeypatch.setenv("SLUICE_GROUP_COMMIT", "sometimes")
    with pytest.raises(ValueError, match="on or off"):
        Settings.from_env()


def test_only_full_and_normal_are_accepted(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="synchronous"):
        SqliteStore(tmp_path / "sluice.db", synchronous="OFF")


async def test_normal_is_in_force_on_every_connection(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'sluice.db'}", synchronous="NORMAL")
    assert isinstance(store, SqliteStore)
    await store.open()
    try:
        writer_level = await store._writer.call(
            lambda conn: conn.execute("PRAGMA synchronous").fetchone()[0]
        )
        reader_level = await store._read(
            lambda conn: conn.execute("PRAGMA synchronous").fetchone()[0]
        )
        assert (writer_level, reader_level) == (1, 1)
    finally:
        await store.close()


async def test_without_group_commit_every_append_is_its_own_transaction(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "sluice.db", group_commit=False)
    await store.open()
    try:
        writer = store._writer
        before = writer.commits
        # Queue twenty appends behind a busy writer: with group commit they would share one.
        busy = writer.call(lambda conn: time.sleep(0.3))
        await asyncio.sleep(0.05)
        appends = [store.append("acme", "vayu", 1, [event_row(0, f"k{i}")]) for i in range(20)]
        results = await asyncio.gather(busy, *appends)
        assert all(r[0] is not None for r in results[1:])
        assert writer.commits - before == 21
    finally:
        await store.close()
    conn = sqlite3.connect(tmp_path / "sluice.db")
    assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 20
    conn.close()
