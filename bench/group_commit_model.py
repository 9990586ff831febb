"""What latency one group-committing writer allows, by simulation: requests arrive at random
(Poisson) at `rate` a second; the writer takes every request waiting when it becomes free as one
group, spends `service` seconds per request of it plus `fixed` for the commit, and answers the
whole group at the end. The response time of a request is its group's end minus its arrival.

It is the best case of Sluice's SQLite path (one writer thread, group commit; no CPU shared
with a load generator, no bursts): issue 15's "1000-event p99 <= 50 ms at half the peak" asks
what service time per request that needs (bench/README.md).

    .venv/bin/python -m bench.group_commit_model [--service-ms 17 12 10 8] [--load 0.5]
"""

from __future__ import annotations

import argparse
import random
import sys


def response_times(
    rate: float, service: float, fixed: float = 0.0004, requests: int = 200_000, seed: int = 15
) -> list[float]:
    """Sorted response times (seconds) of `requests` Poisson arrivals at one group writer."""
    rng = random.Random(seed)
    arrivals, now = [], 0.0
    for _ in range(requests):
        now += rng.expovariate(rate)
        arrivals.append(now)
    times: list[float] = []
    first, free = 0, 0.0
    while first < len(arrivals):
        start = max(free, arrivals[first])
        last = first + 1  # the group: the first waiting request and all queued by `start`
        while last < len(arrivals) and arrivals[last] <= start:
            last += 1
        free = start + (last - first) * service + fixed
        times += [free - arrival for arrival in arrivals[first:last]]
        first = last
    return sorted(times)


def percentile(times: list[float], fraction: float) -> float:
    return times[min(len(times) - 1, int(len(times) * fraction))]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--service-ms", type=float, nargs="+", default=[17, 12, 10, 8])
    parser.add_argument("--load", type=float, default=0.5, help="fraction of the peak rate")
    args = parser.parse_args(argv)
    print("| service per request | peak | load | p50 | p99 |")
    print("|---|---|---|---|---|")
    for ms in args.service_ms:
        peak = 1000 / ms
        times = response_times(peak * args.load, ms / 1000)
        p50, p99 = (percentile(times, f) * 1000 for f in (0.5, 0.99))
        print(f"| {ms:g} ms | {peak:.0f} req/s | {args.load:g} | {p50:.1f} ms | {p99:.1f} ms |")


if __name__ == "__main__":
    main(sys.argv[1:])
