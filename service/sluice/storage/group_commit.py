"""Group commit, whatever the database: appends queued while one transaction commits are
written together in the next, so N concurrent requests cost one commit (one fsync).

The SQLite store drains its queue on a writer thread, the PostgreSQL store in an asyncio task;
both take their groups and deliver their answers through this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sluice.model import EventRow

# Rows per transaction, at most; beyond this a waiting request goes into the next group.
MAX_GROUP_ROWS = 20_000


@dataclass
class PendingAppend:
    """One request's rows waiting for a group commit, and where its answer goes."""

    tenant: str
    source: str
    received_at: int
    rows: Sequence[EventRow]
    future: asyncio.Future[list[int | None]]
    loop: asyncio.AbstractEventLoop
    queued_at: float = field(default_factory=time.monotonic)

    @classmethod
    def create(
        cls, tenant: str, source: str, received_at: int, rows: Sequence[EventRow]
    ) -> PendingAppend:
        """A pending append answered on the running event loop."""
        loop = asyncio.get_running_loop()
        return cls(tenant, source, received_at, rows, loop.create_future(), loop)


def next_group(
    first: PendingAppend, take: Callable[[], object | None]
) -> tuple[list[PendingAppend], object | None]:
    """`first` and every append already waiting behind it, in order, up to MAX_GROUP_ROWS rows
    or the first job that is not an append.

    `take()` returns the next waiting job, or None when there is none. Returns the group, and
    the job that ended it (to run next) or None.
    """
    group = [first]
    rows = len(first.rows)
    while rows < MAX_GROUP_ROWS:
        more = take()
        if not isinstance(more, PendingAppend):
            return group, more
        group.append(more)
        rows += len(more.rows)
    return group, None


def deliver(
    future: asyncio.Future[Any], *, result: Any = None, error: BaseException | None = None
) -> None:
    """Answer a waiting request on its own loop's thread."""
    if future.done():  # the awaiting request was cancelled; the store outcome stands
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def settle(
    loop: asyncio.AbstractEventLoop,
    future: asyncio.Future[Any],
    *,
    result: Any = None,
    error: BaseException | None = None,
) -> None:
    """deliver() from any thread."""
    # A loop already closed at shutdown has nobody waiting any more.
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(lambda: deliver(future, result=result, error=error))


def settle_group(
    outcomes: Sequence[tuple[PendingAppend, Any]], *, error: BaseException | None = None
) -> None:
    """settle() for every append of a group: one wake-up per event loop, not one per request
    (each call_soon_threadsafe writes to the loop's self-pipe while holding the GIL)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any]]] = {}
    for job, result in outcomes:
        by_loop.setdefault(job.loop, []).append((job.future, result))

    def deliver_all(answers: list[tuple[asyncio.Future[Any], Any]]) -> None:
        for future, result in answers:
            deliver(future, result=result, error=error)

    for loop, answers in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a loop closed at shutdown
            loop.call_soon_threadsafe(deliver_all, answers)
