"""The JSON log lines, and the access log's own fast path (sluice.logs.access)."""

from __future__ import annotations

import asyncio
import datetime
import io
import json
import logging
import threading
from collections.abc import Iterator

import pytest

from sluice import logs


@pytest.fixture
def access_stream() -> Iterator[io.StringIO]:
    """logs.access writing to a buffer, as configure() points it at stderr."""
    stream = io.StringIO()
    before, level = logs._access_stream, logging.getLogger("sluice.access").level
    logs._access_stream = stream
    logging.getLogger("sluice.access").setLevel(logging.INFO)  # as configure("INFO") makes it
    try:
        yield stream
    finally:
        logs._access_stream = before
        logging.getLogger("sluice.access").setLevel(level)


@pytest.mark.parametrize("timestamp", [0.0, 1_700_000_000.0, 1_763_900_000.9996, 1_763_900_001.25])
def test_iso_time_matches_isoformat_to_the_millisecond(timestamp: float) -> None:
    expected = datetime.datetime.fromtimestamp(timestamp, datetime.UTC).isoformat(
        timespec="milliseconds"
    )
    assert logs.iso_time(timestamp) == expected


def test_access_lines_of_one_loop_turn_are_written_together_at_its_end(
    access_stream: io.StringIO,
) -> None:
    async def serve_three() -> list[str]:
        for status in (200, 400, 503):
            logs.access({"route": "ingest_events", "status": status, "request_id": f"r{status}"})
        written_during_the_turn = access_stream.getvalue()
        await asyncio.sleep(0)  # the turn ends
        return [written_during_the_turn, access_stream.getvalue()]

    during, after = asyncio.run(serve_three())
    assert during == ""
    lines = [json.loads(line) for line in after.splitlines()]
    assert [(line["status"], line["request_id"]) for line in lines] == [
        (200, "r200"),
        (400, "r400"),
        (503, "r503"),
    ]
    assert {line["logger"] for line in lines} == {"sluice.access"}
    assert {line["message"] for line in lines} == {"request"}
    assert all(line["time"].endswith("+00:00") for line in lines)


def test_the_access_loggers_level_still_turns_the_lines_off(access_stream: io.StringIO) -> None:
    logging.getLogger("sluice.access").setLevel(logging.WARNING)
    logs.access({"status": 200})  # outside a loop: would be written at once
    assert access_stream.getvalue() == ""
    logging.getLogger("sluice.access").setLevel(logging.INFO)
    logs.access({"status": 201})
    assert json.loads(access_stream.getvalue())["status"] == 201


def test_two_event_loops_in_two_threads_keep_their_own_lines(access_stream: io.StringIO) -> None:
    async def serve(name: str) -> None:
        for turn in range(50):
            for n in range(3):
                logs.access({"request_id": f"{name}-{turn}-{n}"})
            await asyncio.sleep(0)

    threads = [threading.Thread(target=asyncio.run, args=(serve(name),)) for name in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [json.loads(line)["request_id"] for line in access_stream.getvalue().splitlines()]
    assert sorted(ids) == sorted(
        f"{name}-{t}-{n}" for name in "ab" for t in range(50) for n in range(3)
    )


def test_a_loop_writes_its_own_turns_lines_while_another_loops_turn_is_open(
    access_stream: io.StringIO,
) -> None:
    """Loop A logs and holds its turn open; loop B's turn ends meanwhile and writes B's line
    alone (with one buffer for both, B would write A's line too, or A would lose B's)."""
    a_logged, b_done = threading.Event(), threading.Event()
    written_at_b_end: list[list[str]] = []

    def ids() -> list[str]:
        return [json.loads(line)["request_id"] for line in access_stream.getvalue().splitlines()]

    async def a() -> None:
        logs.access({"request_id": "a"})
        a_logged.set()
        b_done.wait(5)  # A's turn is still open
        await asyncio.sleep(0)

    async def b() -> None:
        a_logged.wait(5)
        logs.access({"request_id": "b"})
        await asyncio.sleep(0)  # B's turn ends: its lines are written
        written_at_b_end.append(ids())
        b_done.set()

    threads = [threading.Thread(target=asyncio.run, args=(serve(),)) for serve in (a, b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert written_at_b_end == [["b"]]
    assert sorted(ids()) == ["a", "b"]
