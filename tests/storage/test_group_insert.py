"""One group commit for several requests: each row's offset, and None for a stored key."""

from __future__ import annotations

import asyncio
import time

import pytest

from sluice.storage.sqlite import SqliteStore
from tests.storage.conftest import event_row

pytestmark = pytest.mark.anyio


async def grouped_appends(store: SqliteStore, batches: list[list[str]]) -> list[list[int | None]]:
    """Append each batch of ids as its own request, all queued behind a busy writer so they
    share one group commit."""
    busy = store._writer.call(lambda conn: time.sleep(0.2))
    await asyncio.sleep(0.05)
    appends = [
        store.append("acme", "vayu", 1, [event_row(i, id_) for i, id_ in enumerate(ids)])
        for ids in batches
    ]
    before = store._writer.commits
    results = await asyncio.gather(*appends)
    await busy
    assert store._writer.commits - before == 2  # the busy call, then one group
    return results


async def test_a_group_gets_consecutive_offsets_in_queue_order(sqlite_store: SqliteStore) -> None:
    await sqlite_store.append("acme", "vayu", 1, [event_row(0, "first")])  # offset 1
    results = await grouped_appends(sqlite_store, [["a", "b"], ["c"], ["d", "e", "f"]])
    assert results == [[2, 3], [4], [5, 6, 7]]


async def test_a_stored_key_in_the_group_is_none_and_the_rest_are_stored(
    sqlite_store: SqliteStore,
) -> None:
    await sqlite_store.append("acme", "vayu", 1, [event_row(0, "taken")])
    batches = [["a"], ["b", "taken", "c"], ["a", "d"]]
    results = await grouped_appends(sqlite_store, batches)
    assert [[offset is None for offset in offsets] for offsets in results] == [
        [False],
        [False, True, False],
        [True, False],
    ]
    # Offsets are unique and increasing; this does not rely on them being dense.
    stored = {event.id: event.offset for event in await sqlite_store.read_log("acme", 0, 100)}
    assert list(stored) == ["taken", "a", "b", "c", "d"]
    answered = {
        id_: offset
        for ids, offsets in zip(batches, results, strict=True)
        for id_, offset in zip(ids, offsets, strict=True)
        if offset is not None
    }
    assert answered == {id_: stored[id_] for id_ in ["a", "b", "c", "d"]}
