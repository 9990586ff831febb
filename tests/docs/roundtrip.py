"""What a round trip through the generated client must show: the operation each request hit,
and that the model the client parsed says exactly what the server sent."""

from __future__ import annotations

import datetime
import json
import re
from typing import Any

import attrs
import httpx

# An ISO 8601 date-time as the server writes it (`…T…Z`) or the client (`…T…+00:00`).
_DATE_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")


class Operations:
    """The document's operations by (method, path template), and which of them requests hit."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.templates: list[tuple[str, re.Pattern[str], int, str]] = []
        for path, item in document["paths"].items():
            for method, operation in item.items():
                if method in ("get", "post", "put", "delete", "patch"):
                    pattern = re.escape(path).replace(r"\{", "{").replace(r"\}", "}")
                    pattern = re.sub(r"{[^}]+}", "[^/]+", pattern)
                    holes = path.count("{")
                    self.templates.append(
                        (method.upper(), re.compile(pattern), holes, operation["operationId"])
                    )
        self.all = {operation_id for *_, operation_id in self.templates}
        self.hit: set[str] = set()

    def record(self, request: httpx.Request) -> None:
        """An httpx request hook: the operation of this request (a literal path such as
        `/events/dry-run` wins over a template that also matches it, `/events/{ref}`)."""
        path = request.url.raw_path.decode().split("?")[0]
        matches = [
            (holes, operation_id)
            for method, pattern, holes, operation_id in self.templates
            if method == request.method and pattern.fullmatch(path)
        ]
        assert matches, f"{request.method} {path} is no operation of the document"
        self.hit.add(min(matches)[1])


def _plain(value: Any) -> Any:
    """JSON values with each date-time as a datetime, so that `…000Z` equals `…+00:00`."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, str) and _DATE_TIME.match(value):
        return datetime.datetime.fromisoformat(value)
    return value


def _undeclared(model: Any, where: str = "") -> list[str]:
    """Fields the server sent that the parsed model's class does not declare: a generated class
    with declared fields keeps the others in `additional_properties`. (A class with none but
    that, the document's free-form objects such as an event's `data`, holds them by design.)"""
    if isinstance(model, list):
        return [
            found for i, item in enumerate(model) for found in _undeclared(item, f"{where}[{i}]")
        ]
    if not attrs.has(type(model)):
        return []
    declared = [field.name for field in attrs.fields(type(model))]
    extra = getattr(model, "additional_properties", {})
    found = [f"{where}.{key}" for key in extra] if declared != ["additional_properties"] else []
    for name in declared:
        if name != "additional_properties":
            found += _undeclared(getattr(model, name), f"{where}.{name}")
    return found


def answered(response: Any, status: int = 200) -> Any:
    """The parsed answer of a generated `sync_detailed` call, after checking its status and
    that it holds every field the server sent, each with the value sent."""
    assert response.status_code == status, (response.status_code, response.content)
    if status == 204:
        assert response.content == b"" and response.parsed is None
        return None
    parsed = response.parsed
    if response.headers.get("content-type", "").startswith("text/"):
        assert parsed == response.content.decode()
        return parsed
    sent = json.loads(response.content)
    assert not _undeclared(parsed), _undeclared(parsed)
    assert _plain(parsed.to_dict()) == _plain(sent)
    return parsed
