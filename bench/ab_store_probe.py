"""The SQLite store alone, for bench/ab_commits.py: run by a checkout's own interpreter (its
venv, with the checkout on PYTHONPATH), so it names only what every checkout since before
issue 11 has: the Vayu parser, Settings, SqliteStore.append and bench.corpus.

Prints `events <n> wall_s <s> cpu_s <s>`: n pre-parsed 1000-event batches appended one after
another (durable), timed without the parsing; CPU is the whole process's (writer and
checkpointer threads included).

    <venv>/bin/python bench/ab_store_probe.py [batches]
"""

import asyncio
import resource
import sys
import tempfile
import time
from pathlib import Path

from bench import corpus
from sluice import _core
from sluice.settings import Settings
from sluice.storage.sqlite import SqliteStore


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def append_all(path: Path, batches: list) -> tuple[int, float, float]:
    store = SqliteStore(path)
    await store.open()
    try:
        stored = 0
        cpu, wall = cpu_seconds(), time.monotonic()
        for rows in batches:
            offsets = await store.append("bench", "vayu", corpus.NOW_US, rows)
            stored += sum(offset is not None for offset in offsets)
        return stored, time.monotonic() - wall, cpu_seconds() - cpu
    finally:
        await store.close()


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 150
    parts = corpus.templated_vayu_batch(1000)
    limits = Settings().limits()
    batches = [
        _core.parse_vayu_batch(f"s{n}".encode().join(parts), "bench", corpus.NOW_US, limits).events
        for n in range(count)
    ]
    with tempfile.TemporaryDirectory(prefix="sluice-ab-") as tmp:
        stored, wall, cpu = asyncio.run(append_all(Path(tmp) / "sluice.db", batches))
    print(f"events {stored} wall_s {wall:.6f} cpu_s {cpu:.6f}")


if __name__ == "__main__":
    main()
