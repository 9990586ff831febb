"""JSON documents outside the event batches (customers, login, refs, imports), read with the
core's strict parser: the same rules as every request body."""

from __future__ import annotations

from typing import Any

from sluice._core import loads_strict
from sluice.errors import InvalidJson

__all__ = ["json_object", "loads_strict"]


def json_object(body: bytes, *, empty_is_nothing: bool = False) -> dict[str, Any]:
    """The body as a JSON object; InvalidJson when it is not strict JSON or not an object.

    With empty_is_nothing, a body of only whitespace is `{}` (a PUT that sets nothing)."""
    if empty_is_nothing and not body.strip():
        return {}
    parsed = loads_strict(body)
    if not isinstance(parsed, dict):
        raise InvalidJson("the request body must be a JSON object")
    return parsed
