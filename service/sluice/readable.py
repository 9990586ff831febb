"""Which stored events every read surface can carry back, and the report of those it cannot.

Ingestion accepts only what every reader carries (the core's rules), but a store may hold rows
accepted before those rules, or written around the parsers. Readers skip such a row instead of
failing on it: it is logged once per process with its tenant and offset, and counted.
"""

from __future__ import annotations

import logging
import math

from sluice import _core
from sluice.errors import UnreadableEvent
from sluice.metrics import Metrics
from sluice.model import StoredEvent

log = logging.getLogger(__name__)

# The instants every reader carries: 0001-01-01T00:00:00Z..9999-12-31T23:59:59.999999Z in UTC
# microseconds (the core's timestamp::MIN_US and MAX_US).
MIN_US = -62_135_596_800_000_000
MAX_US = 253_402_300_799_999_999
# Rows reported (logged and counted) by this process; past this many the set starts again,
# so a store full of bad rows costs bounded memory and at worst repeats a log line.
_REMEMBERED = 10_000


def problem(event: StoredEvent) -> str | None:
    """Why no reader can carry `event` back, or None when every one can."""
    instants = (
        ("timestamp", event.timestamp),
        ("received_at", event.received_at),
        ("deleted_at", event.deleted_at),
    )
    for field, us in instants:
        if us is not None and not MIN_US <= us <= MAX_US:
            return f"{field} {us} µs is outside 0001-01-01..9999-12-31 UTC"
    if event.value is not None and not math.isfinite(event.value):
        return f"value {event.value} is not a finite number"
    return _core.payload_problem(event.payload)


class UnreadableEvents:
    """One per process: decides whether a stored event can be read, reporting those that
    cannot (a log line and `sluice_unreadable_events_total`, once per event)."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self._reported: set[tuple[str, int]] = set()

    def readable(self, event: StoredEvent) -> bool:
        reason = problem(event)
        if reason is None:
            return True
        self._report(event, reason)
        return False

    def check(self, event: StoredEvent) -> StoredEvent:
        """`event` itself, or UnreadableEvent (for a read of that one event)."""
        reason = problem(event)
        if reason is None:
            return event
        self._report(event, reason)
        raise UnreadableEvent(event.offset, reason)

    def _report(self, event: StoredEvent, reason: str) -> None:
        key = (event.tenant, event.offset)
        if key in self._reported:
            return
        if len(self._reported) >= _REMEMBERED:
            self._reported.clear()
        self._reported.add(key)
        self._metrics.unreadable_events.inc()
        log.error(
            "skipping stored event tenant=%r offset=%d: it cannot be read back (%s)",
            event.tenant,
            event.offset,
            reason,
        )
