"""Stable OpenAPI operation ids for handlers also served under `/v2/…` (Vayu's aliases)."""

from __future__ import annotations

from typing import Any

from litestar.types.callable_types import OperationIDCreator


def operation_id(name: str) -> OperationIDCreator:
    """`name` for the plain path, `name` + "V2" for its `/v2` alias (ids must be unique)."""

    def create(route_handler: Any, http_method: Any, path_components: list[Any]) -> str:
        return name + "V2" if path_components and str(path_components[0]) == "v2" else name

    return create
