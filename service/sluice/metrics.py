"""Prometheus metrics. One registry per pipeline, so several pipelines in one process (tests)
never mix their counts."""

from __future__ import annotations

from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest

CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
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

        # Labelled children by (metric, label values): prometheus_client's labels() validates
        # and locks on every call, and each request makes several.
        self._children: dict[tuple[object, ...], Any] = {}

    def child(self, metric: Counter | Histogram, *values: str) -> Any:
        """metric.labels(*values), looked up once per distinct label values."""
        key = (metric, *values)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*values)
        return found

    def record_commit(self, rows: int, seconds: float) -> None:
        self.group_commit_rows.observe(rows)
        self.commit_seconds.observe(seconds)

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)
