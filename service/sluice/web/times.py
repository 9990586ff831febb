"""How HTTP responses write instants: Vayu's `YYYY-MM-DDTHH:MM:SS.sssZ`, used by every route."""

from __future__ import annotations

import datetime


def iso_millis(us: int) -> str:
    """UTC microseconds as `YYYY-MM-DDTHH:MM:SS.sssZ`."""
    moment = datetime.datetime(1970, 1, 1) + datetime.timedelta(microseconds=us)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
