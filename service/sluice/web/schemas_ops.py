"""The wire shapes of the probes and of kept refusals (`/v1/rejections`), as OpenAPI documents
them.

Documentation only, like web/schemas.py: handlers write dicts.
"""

from __future__ import annotations

from datetime import datetime

from msgspec import Struct


class Health(Struct, kw_only=True):
    status: str  # "ok" (/healthz), "ready" (/readyz)


class Unready(Struct, kw_only=True):
    status: str  # "unavailable"
    reason: str


class Rejection(Struct, kw_only=True):
    at: datetime  # when the request was received
    requestId: str  # the X-Request-Id the client was answered with
    source: str  # the API: vayu, enso, collect, grpc
    name: str  # the event's name when it could be read, else ""
    reason: str  # INVALID, CONFLICT or UNKNOWN_CUSTOMER
    field: str
    message: str  # what the client was told
    event: str  # the event's JSON text, cut past a bounded size


class RejectionCount(Struct, kw_only=True):
    source: str
    reason: str
    count: int


class RejectionPage(Struct, kw_only=True):
    """Newest first; `counts` totals every refusal (duplicates and rate limits included)."""

    rejections: list[Rejection]
    nextCursor: str | None
    hasMore: bool
    counts: list[RejectionCount]
