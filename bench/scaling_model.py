"""How Sluice grows past one machine, as arithmetic: a capacity model fed by the per-event and
per-request costs measured on this machine (bench/RESULTS.md), answering "what saturates first
at 1x, 10x and 100x today's load, with today's design and with tenants partitioned across
PostgreSQL clusters". docs/scaling.md explains the model and what it leaves out.

.venv/bin/python -m bench.scaling_model [--results bench/RESULTS.md] [--load 100000]
"""

from __future__ import annotations

import argparse
import math
import re
from dataclasses import dataclass
from pathlib import Path

from bench.report import ROOT


@dataclass(frozen=True)
class Costs:
    """What one event and one request cost, in CPU microseconds of one core."""

    request_us: float  # fixed per request: HTTP, auth, rate limit, JSON framing, response
    event_us: float  # per event in an instance: parse, validate, hash, claim, hand to the store
    commit_us_per_event: float  # in the store's serialized commit path (index insert, WAL)
    commit_fixed_us: float  # per group commit: fsync and round trips, also serialized


def measured(results: Path) -> Costs:
    """Costs derived from one `make bench` run: the 1-event ceiling gives the per-request cost,
    the 1000-event in-process pipeline the per-event one, the store alone its serialized part.
    Both cores ran the load generator too, so these overstate Sluice's own cost (safe side)."""
    text = results.read_text()

    def figure(row: str) -> float:
        match = re.search(re.escape(row) + r"\s*\|\s*([\d.]+)([kM]?) ev/s", text)
        if match is None:
            raise SystemExit(f"{results} has no row {row!r}; run make bench first")
        return float(match[1]) * {"": 1, "k": 1e3, "M": 1e6}[match[2]]

    cores = 2.0
    one_event = figure("HTTP POST /events, 1-event batches")  # requests/s == events/s
    batched = figure("HTTP POST /events, 1000-event batches")
    store_alone = figure("pipeline without HTTP vs the store alone, 1000-event batches")
    alone = re.search(r"SqliteStore\.append alone ([\d.]+)([kM]?) ev/s", text)
    store = float(alone[1]) * {"": 1, "k": 1e3, "M": 1e6}[alone[2]] if alone else store_alone
    request_us = cores * 1e6 / one_event
    event_us = cores * 1e6 / batched
    commit_us = 1e6 / store  # one writer: the store's rate is its serialized cost per event
    return Costs(request_us, event_us, commit_us, commit_fixed_us=2000.0)


@dataclass(frozen=True)
class Design:
    name: str
    clusters: int  # PostgreSQL clusters (tenants partitioned across them)
    global_log_lock: bool  # one commit at a time per cluster across all tenants (today)


@dataclass(frozen=True)
class Load:
    events_per_second: float
    events_per_request: float  # the mean batch size clients send
    tenants: int
    largest_tenant_share: float  # of all events


def plan(costs: Costs, design: Design, load: Load, cores_per_instance: int) -> dict[str, str]:
    """Instances needed, each cluster's commit-path utilisation, and what saturates first."""
    requests = load.events_per_second / load.events_per_request
    instance_cpu = requests * costs.request_us + load.events_per_second * costs.event_us
    instances = math.ceil(instance_cpu / 1e6 / (cores_per_instance * 0.7))  # 70% target
    # Group commit: requests arriving during one commit share the next, so a cluster pays the
    # fixed cost per group, not per request; with a global log lock every instance's group
    # takes a turn, so the fixed cost is paid per instance per turn.
    per_cluster = load.events_per_second / design.clusters
    hottest = max(per_cluster, load.events_per_second * load.largest_tenant_share)
    # Per-tenant commit order: groups of different tenants commit side by side, bounded by the
    # cluster's cores (assume 8) instead of taking turns on one lock.
    serial_share = 1.0 if design.global_log_lock else 1 / 8
    turns_per_second = min(instances, 1000)  # each instance's group is one turn
    commit_busy = (
        (hottest * costs.commit_us_per_event + turns_per_second * costs.commit_fixed_us)
        * serial_share
        / 1e6
    )
    bottleneck = "none"
    if commit_busy >= 1:
        bottleneck = "the commit path of one cluster (log lock / WAL)"
    elif load.events_per_second * load.largest_tenant_share * costs.commit_us_per_event / 1e6 >= 1:
        bottleneck = "the largest tenant alone (one tenant's log is one commit order)"
    return {
        "design": design.name,
        "load": f"{load.events_per_second / 1e3:,.0f}k ev/s",
        "instances": str(instances),
        "clusters": str(design.clusters),
        "commit path busy": f"{commit_busy:.0%}",
        "saturates first": bottleneck,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "RESULTS.md")
    parser.add_argument("--load", type=float, default=100_000, help="today's load, events/s")
    parser.add_argument("--batch", type=float, default=50, help="mean events per request")
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--largest-share", type=float, default=0.05)
    parser.add_argument("--cores", type=int, default=8, help="cores per instance")
    args = parser.parse_args(argv)
    costs = measured(args.results)
    print(
        f"measured here: {costs.request_us:.0f} µs per request, {costs.event_us:.1f} µs per event "
        f"in an instance, {costs.commit_us_per_event:.1f} µs per event in the serialized commit "
        f"path, {costs.commit_fixed_us:.0f} µs per group commit (assumed)"
    )
    rows = []
    for factor in (1, 10, 100):
        load = Load(args.load * factor, args.batch, args.tenants, args.largest_share)
        today = Design("today: one cluster, global log lock", 1, True)
        per_tenant = Design("per-tenant log order, one cluster", 1, False)
        clusters = max(1, math.ceil(factor / 2))
        partitioned = Design(f"per-tenant order, {clusters} clusters", clusters, False)
        for design in (today, per_tenant, partitioned):
            rows.append(plan(costs, design, load, args.cores))
    header = list(rows[0])
    widths = [max(len(h), *(len(r[h]) for r in rows)) for h in header]
    print(" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("-|-".join("-" * w for w in widths))
    for row in rows:
        print(" | ".join(row[h].ljust(w) for h, w in zip(header, widths, strict=True)))


if __name__ == "__main__":
    main()
