"""The PostgreSQL path: events/s through one `sluice serve` and through two on the same
PostgreSQL, in one run; and, in the same run, the store's group insert measured both ways it
could be written (one INSERT over arrays, which the store uses, and COPY into a staging table).

Load comes from wrk with bench/wrk_vayu.lua (fresh refs every request, batches of 100), one
wrk per instance, all at once. Each part runs in a fresh schema of the PostgreSQL at --url.

    .venv/bin/python -m bench.bench_postgres [--seconds 10] [--url postgresql://…] [--smoke]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench import servers
from bench.bench_http import Load, require_wrk, template, wrk
from bench.report import Figure, common_arguments, finish, rate

DEFAULT_URL = os.environ.get("SLUICE_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1/test")
BATCH = 1000  # events per request (issue 15's target is for 1000-event batches)
CONNECTIONS = 16  # wrk connections per instance


@contextlib.contextmanager
def fresh_schema(url: str) -> Iterator[str]:
    """A store URL in a new schema of its own (dropped after)."""
    import psycopg

    schema = f"sluice_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def postgres_missing(url: str) -> str | None:
    """Why there is no PostgreSQL to measure at `url`, or None."""
    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=3):
            return None
    except ImportError:
        return "psycopg is not installed"
    except Exception as exc:  # any connection failure: say it, skip the suite
        return f"no PostgreSQL at {url}: {str(exc).splitlines()[0]}"


# The group insert, both ways.


def store_inserting_by(way: str, url: str) -> Any:
    """The PostgreSQL store with every group inserted one way: "copy" or "arrays"."""
    from sluice.storage.postgres import PostgresStore

    store = PostgresStore(url)
    store.copy_from_rows = 0 if way == "copy" else sys.maxsize
    return store


async def insert_rate(store: Any, group_rows: int, groups: int) -> float:
    """Rows/s of `groups` appends of `group_rows` fresh rows each, one group per commit."""
    from sluice import _core

    payload = '{"k":"processing_duration","n":1}'
    groups_of_rows = [
        [
            _core.EventRow(
                index=i,
                key=key,
                name="api_call",
                id=id_,
                customer="c1",
                timestamp_us=1_700_000_000_000_000,
                value=None,
                payload=payload,
                content_hash=key,
            )
            for i in range(group_rows)
            for id_ in [f"g{group}-{i}"]
            for key in [_core.idempotency_key("bench", "api_call", id_)]
        ]
        for group in range(groups)
    ]
    await store.open()
    try:
        started = time.perf_counter()  # the commits alone, not the making of the rows
        for rows in groups_of_rows:
            await store.append("bench", "vayu", 1, rows)
        return group_rows * groups / (time.perf_counter() - started)
    finally:
        await store.close()


def insert_figures(url: str, group_sizes: list[int], rows: int) -> list[Figure]:

    from sluice.storage.postgres.writer import COPY_FROM_ROWS

    figures = []
    for size in group_sizes:
        rates: dict[str, list[float]] = {"copy": [], "arrays": []}
        for _round in range(3):  # alternated, the best of three: the machine may be shared
            for way in rates:
                with fresh_schema(url) as schema_url:
                    store = store_inserting_by(way, schema_url)
                    groups = max(1, rows // size)
                    rates[way].append(asyncio.run(insert_rate(store, size, groups)))
        copy, arrays = max(rates["copy"]), max(rates["arrays"])
        kept = "COPY" if size >= COPY_FROM_ROWS else "arrays"
        figures.append(
            Figure(
                f"group commit of {size} rows: COPY into staging vs INSERT over arrays "
                f"(the store uses {kept})",
                f"COPY {rate(copy, 'rows/s')}",
                f"arrays {rate(arrays, 'rows/s')}",
                copy / arrays,
            )
        )
    return figures


# Events/s through one and two instances.


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) a live process has used so far (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# The window in which efficiency is measured, as fractions of the load's duration. The edges are
# not steady: at the start nothing is in flight yet, and when wrk stops, the requests in flight
# (a group commit of several 1000-event requests per instance, ~0.3 s each here) have spent
# CPU and are dropped unacknowledged. Two instances hold twice as many in flight, so counting
# the whole run charged them more CPU per event: on the same 8 alternated runs, 0.93x whole
# against 0.97x in this window (docs/decisions.md, "Scale-out efficiency").
WINDOW = (0.2, 0.9)


def accepted_events(url: str) -> float:
    """Events the instance has acknowledged so far (its `sluice_events_total`, accepted)."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
        text = response.read().decode()
    return sum(
        float(value)
        for labels, value in re.findall(r"^sluice_events_total\{([^}]*)\} (\S+)$", text, re.M)
        if 'outcome="accepted"' in labels
    )


def snapshot(instances: list[servers.Sluice]) -> tuple[float, float]:
    """(CPU seconds, acknowledged events) summed over the instances, read together."""
    cpu = sum(cpu_seconds(instance.process.proc.pid) for instance in instances)
    return cpu, sum(accepted_events(instance.http_url) for instance in instances)


def through(
    instances: int, url: str, seconds: float, work: Path
) -> tuple[Load, tuple[float, float]]:
    """Events/s through `instances` Sluice processes on one fresh schema, loaded at once, and
    (events acknowledged, CPU seconds spent) by those processes in the load's steady part
    (WINDOW)."""
    with fresh_schema(url) as store_url, contextlib.ExitStack() as running:
        env = {
            "SLUICE_STORE": store_url,
            "SLUICE_JWT_SECRET": "bench",
            "SLUICE_LOG_LEVEL": "WARNING",
        }
        started = [
            running.enter_context(servers.sluice(work / f"i{instances}-{n}" / "data", env))
            for n in range(instances)
        ]
        for instance in started:
            servers.wait_ready(instance.http_url)
        key = started[0].key  # the first start on an empty store printed it; all share it
        body = template(work, BATCH)
        with ThreadPoolExecutor(instances) as pool:
            running_loads = [
                pool.submit(
                    wrk, started[n].http_url, body, key, f"i{instances}n{n}", BATCH,
                    CONNECTIONS, seconds,
                )
                for n in range(instances)
            ]  # fmt: skip
            time.sleep(seconds * WINDOW[0])
            cpu_before, events_before = snapshot(started)
            time.sleep(seconds * (WINDOW[1] - WINDOW[0]))
            cpu_after, events_after = snapshot(started)
            loads = [future.result() for future in running_loads]
    load = Load(
        batch=BATCH,
        connections=CONNECTIONS * instances,
        requests=sum(load.requests for load in loads),
        seconds=max(load.seconds for load in loads),
        errors=sum(load.errors for load in loads),
        p50_ms=max(load.p50_ms for load in loads),
        p99_ms=max(load.p99_ms for load in loads),
        mean_ms=max(load.mean_ms for load in loads),
    )
    return load, (events_after - events_before, cpu_after - cpu_before)


def run(
    url: str, seconds: float, group_sizes: list[int], insert_rows: int, rounds: int = 2
) -> list[Figure]:
    require_wrk()
    figures = insert_figures(url, group_sizes, insert_rows)
    # Rounds alternate (one, two, two, one, ...): the machine's other load drifts, and one
    # window holds only a few dozen group commits. Rates: the best round; efficiency: the
    # events and CPU seconds of all rounds pooled.
    loads: dict[int, list[Load]] = {1: [], 2: []}
    spent: dict[int, list[tuple[float, float]]] = {1: [], 2: []}
    with tempfile.TemporaryDirectory(prefix="sluice-bench-pg-") as directory:
        for n in range(rounds):
            for instances in (1, 2) if n % 2 == 0 else (2, 1):
                load, used = through(instances, url, seconds, Path(directory) / f"r{n}")
                loads[instances].append(load)
                spent[instances].append(used)
    one, two = (max(loads[i], key=lambda load: load.eps) for i in (1, 2))
    one_per_cpu, two_per_cpu = (
        sum(events for events, _ in spent[i]) / sum(cpu for _, cpu in spent[i]) for i in (1, 2)
    )
    # Issue 15's targets: one instance >= 100k events/s; scale-out costs no efficiency (events
    # per CPU second of the Sluice processes with two >= 0.9x with one; on two cores the sum of
    # two is capped by the CPU, not the design, so the rate alone cannot show it).
    figures.append(
        Figure(
            f"POST /events x{BATCH}, one instance",
            one.describe(),
            target=">= 100k ev/s",
            met=one.eps >= 100_000 and one.errors == 0,
        )
    )
    figures.append(
        Figure(
            f"POST /events x{BATCH}, two instances on one PostgreSQL",
            two.describe(),
            f"one instance: {rate(one.eps)}",
            two.eps / one.eps,
        )
    )
    figures.append(
        Figure(
            "events per CPU second of the Sluice processes, two instances",
            f"{rate(two_per_cpu, 'ev/CPU-s')} (acknowledged in 20-90% of each load, "
            f"{rounds} rounds pooled)",
            f"one instance: {rate(one_per_cpu, 'ev/CPU-s')}",
            two_per_cpu / one_per_cpu,
            ">= 0.9x",
            two_per_cpu / one_per_cpu >= 0.9,
        )
    )
    return figures


def main(argv: list[str] | None = None) -> list[Figure]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common_arguments(parser)
    parser.add_argument("--seconds", type=float, default=10.0, help="load per measurement")
    parser.add_argument("--url", default=DEFAULT_URL, help="PostgreSQL to run on (a database)")
    parser.add_argument("--rounds", type=int, default=2, help="alternated (1, 2), (2, 1), ...")
    args = parser.parse_args(argv)
    reason = postgres_missing(args.url)
    if reason is not None:
        figures = [Figure("PostgreSQL", f"skipped: {reason}")]
    elif args.smoke:
        figures = run(args.url, 3.0, [100], 200, rounds=1)
    else:
        figures = run(args.url, args.seconds, [100, 1000, 5000], 50_000, args.rounds)
    finish(
        figures, args.json, "PostgreSQL: one instance and two, group insert both ways", args.smoke
    )
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])
