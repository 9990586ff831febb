"""The baseline the core is measured against: the same batch work in plain Python.

orjson parses, Python checks each field by the core's rules, hashlib makes the 128-bit keys
and content hashes, and each event is re-serialized for the echo (orjson gives no spans).
It produces the same rows as `_core.Batch.events` (as plain tuples, in `EventRow`'s field
order), so both sides do the same job.
"""

from __future__ import annotations

import hashlib
import struct
from datetime import UTC, datetime
from typing import Any

import orjson

MAX_FIELD_BYTES = 512
MAX_FUTURE_US = 3600 * 1_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Row = tuple[int, bytes, str, str, str, int, float | None, str, bytes]
Rejection = tuple[int, str, str, str]


class FieldError(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _hash(*fields: bytes) -> bytes:
    """128 bits over length-prefixed fields, like keys.rs (blake2b instead of xxh3)."""
    digest = hashlib.blake2b(digest_size=16)
    for field in fields:
        digest.update(struct.pack("<Q", len(field)))
        digest.update(field)
    return digest.digest()


def _text(event: dict[str, Any], field: str) -> str:
    text = event.get(field)
    if not isinstance(text, str) or not text.strip():
        raise FieldError(field, f"{field} is required and must be a non-empty string.")
    if len(text.encode()) > MAX_FIELD_BYTES:
        raise FieldError(field, f"{field} must be at most {MAX_FIELD_BYTES} bytes.")
    if not text.isprintable():
        raise FieldError(field, f"{field} must not contain control characters.")
    return text


def _timestamp(event: dict[str, Any], now_us: int, default: int | None) -> int:
    text = event.get("timestamp")
    if text is None and default is not None:
        return default
    try:
        moment = datetime.fromisoformat(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise FieldError("timestamp", "timestamp must be an ISO 8601 date-time.") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    micros = (moment - _EPOCH) // _MICRO
    if micros > now_us + MAX_FUTURE_US:
        raise FieldError("timestamp", "timestamp must not be more than 1 hour in the future.")
    return micros


_MICRO = datetime.resolution


def _object(event: dict[str, Any], field: str) -> dict[str, Any]:
    value = event.get(field)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise FieldError(field, f"{field} must be an object.")
    return value


def _vayu_event(event: Any, now_us: int) -> tuple[str, str, str, int, float | None, dict[str, Any]]:
    if not isinstance(event, dict):
        raise FieldError("", "Event must be a JSON object.")
    name = _text(event, "name")
    timestamp = _timestamp(event, now_us, None)
    customer = _text(event, "customerAlias")
    ref = _text(event, "ref")
    return name, ref, customer, timestamp, None, _object(event, "data")


def _enso_event(event: Any, now_us: int) -> tuple[str, str, str, int, float | None, dict[str, Any]]:
    if not isinstance(event, dict):
        raise FieldError("", "Event must be a JSON object.")
    customer = _text(event, "CustomerEntityId")
    metric = _text(event, "metric")
    value = event.get("value")
    if not isinstance(value, int | float) or isinstance(value, bool) or value != value:
        raise FieldError("value", "value must be a finite number.")
    timestamp = _timestamp(event, now_us, now_us)
    payload: dict[str, Any] = {"metadata": _object(event, "metadata")}
    event_id = _text(event, "eventId")
    job_id = event.get("JobId", event.get("jobId"))
    if job_id is not None:
        if not isinstance(job_id, str):
            raise FieldError("JobId", "JobId must be a string.")
        payload["JobId"] = job_id
    return metric, event_id, customer, timestamp, float(value), payload


def parse_batch(
    body: bytes, tenant: str, now_us: int, dialect: str = "vayu"
) -> tuple[list[Row], list[Rejection], list[bytes]]:
    """(rows, rejections, each event's JSON for the echo), as the core's parse_*_batch."""
    document = orjson.loads(body)
    events = document.get("events") if isinstance(document, dict) else None
    if not isinstance(events, list) or not 1 <= len(events) <= 1000:
        raise ValueError("events must be an array of 1 to 1000 events")
    validate = _enso_event if dialect == "enso" else _vayu_event
    tenant_bytes = tenant.encode()
    rows: list[Row] = []
    rejected: list[Rejection] = []
    seen: dict[bytes, bytes] = {}
    echoes = [orjson.dumps(event) for event in events]
    for index, event in enumerate(events):
        try:
            name, id_, customer, timestamp, value, payload = validate(event, now_us)
        except FieldError as error:
            rejected.append((index, "INVALID", error.field, str(error)))
            continue
        key = _hash(tenant_bytes, name.encode(), id_.encode())
        canonical = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)
        value_bytes = b"\0" if value is None else b"\1" + struct.pack("<d", value + 0.0)
        content = _hash(
            name.encode(), customer.encode(), struct.pack("<q", timestamp), value_bytes, canonical
        )
        first = seen.get(key)
        if first is not None:
            reason = "DUPLICATE" if first == content else "CONFLICT"
            rejected.append((index, reason, "ref", "Event ref already exists."))
            continue
        seen[key] = content
        compact = orjson.dumps(payload).decode()
        rows.append((index, key, name, id_, customer, timestamp, value, compact, content))
    return rows, rejected, echoes
