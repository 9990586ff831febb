"""How HTTP responses write instants: Vayu's `YYYY-MM-DDTHH:MM:SS.sssZ`, used by every route."""

from __future__ import annotations

import datetime

_EPOCH = datetime.datetime(1970, 1, 1)


def iso_millis(us: int) -> str:
    """UTC microseconds as `YYYY-MM-DDTHH:MM:SS.sssZ`, the year always four digits (strftime's
    `%Y` writes year 1 as `1` on glibc)."""
    t = _EPOCH + datetime.timedelta(microseconds=us)
    return (
        f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}"
        f".{t.microsecond // 1000:03d}Z"
    )
