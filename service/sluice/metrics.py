"""Prometheus metrics. One registry per pipeline, so several pipelines in one process (tests)
never mix their counts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest
from prometheus_client.gc_collector import GCCollector

CONTENT_TYPE = CONTENT_TYPE_LATEST
# From a cached 1-event request (~0.5 ms) to a store that stalls past a client's patience.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        # python_gc_*: how often the collector runs while serving (startup.settle_collector).
        GCCollector(registry=registry)
        self.requests = Counter(
            "sluice_requests_total",
            "Requests answered, by protocol, route and status.",
            ["protocol", "route", "status"],
            registry=registry,
        )
        self.events = Counter(
            "sluice_events_total",
            "Events by the API they came through and what became of them: accepted, "
            "duplicate (a repeat of the same content), conflict (a repeated key with different "
            "content), or the rejection reason.",
            ["source", "outcome"],
            registry=registry,
        )
        self.request_seconds = Histogram(
            "sluice_request_duration_seconds",
            "Time from a request's arrival to its response (HTTP: the response's start; gRPC: "
            "the call's end, so a stream's whole life), by protocol and route or method.",
            ["protocol", "route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.in_flight = Gauge(
            "sluice_requests_in_flight",
            "Requests (HTTP) and calls (gRPC, streams included) being served now.",
            ["protocol"],
            registry=registry,
        )
        self.store_queue = Gauge(
            "sluice_store_queue_waiting",
            "Requests waiting on the store now (admission.py); past the limit, 503/UNAVAILABLE.",
            registry=registry,
        )
        self.store_queue_limit = Gauge(
            "sluice_store_queue_limit",
            "The most requests that may wait on the store at once (SLUICE_STORE_QUEUE_LIMIT).",
            registry=registry,
        )
        self.batch_events = Histogram(
            "sluice_batch_events",
            "Events per ingest request.",
            ["source"],
            buckets=(1, 10, 50, 100, 250, 500, 1000),
            registry=registry,
        )
        self.commit_seconds = Histogram(
            "sluice_commit_seconds",
            "Time to write and durably commit one group of appends.",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
            registry=registry,
        )
        self.commit_fsync_seconds = Histogram(
            "sluice_commit_fsync_seconds",
            "The COMMIT of one group alone: what waits for the write-ahead log to reach the "
            "disk (SQLite: the local fsync; PostgreSQL: the server's flush and a round trip).",
            buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 1.0),
            registry=registry,
        )
        self.group_commit_rows = Histogram(
            "sluice_group_commit_rows",
            "Rows written by one group commit (requests share a transaction).",
            buckets=(1, 10, 100, 1000, 5000, 20000),
            registry=registry,
        )
        self.unreadable_events = Counter(
            "sluice_unreadable_events_total",
            "Stored events that reads skipped because a reader cannot carry them back "
            "(each counted once per process).",
            registry=registry,
        )
        self.rate_limited = Counter(
            "sluice_rate_limited_total",
            "Requests refused because their API key was over its rate.",
            registry=registry,
        )

        self.rejections_recorded = Counter(
            "sluice_rejections_recorded_total",
            "Refusals written to the rejections store (GET /v1/rejections), by API and reason; "
            "duplicates and rate limits as counts only.",
            ["source", "reason"],
            registry=registry,
        )
        self.rejections_dropped = Counter(
            "sluice_rejections_dropped_total",
            "Refusals not recorded because the queue was full or the store failed (the "
            "requests themselves were answered as usual).",
            registry=registry,
        )

        # Labelled children by (metric, label values): prometheus_client's labels() validates
        # and locks on every call, and each request makes several.
        self._children: dict[tuple[object, ...], Any] = {}

    def child(self, metric: Counter | Histogram | Gauge, *values: str) -> Any:
        """metric.labels(*values), looked up once per distinct label values."""
        key = (metric, *values)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*values)
        return found

    def record_commit(self, rows: int, seconds: float, fsync_seconds: float) -> None:
        """A group commit of `rows` took `seconds`, of which its COMMIT `fsync_seconds`."""
        self.group_commit_rows.observe(rows)
        self.commit_seconds.observe(seconds)
        self.commit_fsync_seconds.observe(fsync_seconds)

    def watch_store_queue(self, waiting: Callable[[], float], limit: int) -> None:
        """The store-queue gauge reads `waiting()` at each scrape (nothing per request)."""
        self.store_queue.set_function(waiting)
        self.store_queue_limit.set(limit)

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)
