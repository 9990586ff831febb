"""Every SDK operation whose route Sluice does not serve gets Vayu's 404, which the SDK's
NotFoundErrorResponse parses (not Litestar's default body, not a 405)."""

from __future__ import annotations

import datetime
import enum
import inspect
import types
import typing
from typing import Any

import httpx
import openapi.api
import pytest
from openapi.api_client import ApiClient
from openapi.exceptions import NotFoundException
from openapi.models import NotFoundErrorResponse
from pydantic import BaseModel

from tests.vayu_sdk.conftest import conforms

# The SDK operations Sluice serves, each driven by its own test in this package.
IMPLEMENTED = {
    "login",
    "create_customer",
    "get_customer",
    "get_customer_by_external_id",
    "get_customer_by_name",
    "list_customers",
    "update_customer",
    "delete_customer",
    "get_meter",
    "list_meters",
    "update_meter",
    "delete_meter",
    "create_measurement",
    "get_measurement",
    "list_measurements",
    "delete_measurement",
    "v2_query_events_aggregation",
    *(
        f"{prefix}{op}"
        for prefix in ("", "v2_")
        for op in (
            "send_events",
            "send_events_dry_run",
            "query_events",
            "get_event_by_ref_id",
            "delete_event_by_ref_id",
            "delete_events_by_refs",
        )
    ),
}
HEX24 = "5f0c3b9e2a1d4c6b8e7f9a01"


def _value(annotation: Any) -> Any:
    """Something of this type the SDK's client-side validation accepts."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _value(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return _value(typing.get_args(annotation)[0])
    if origin is list:
        return [_value(typing.get_args(annotation)[0])]
    if origin is dict:
        return {}
    if inspect.isclass(annotation):
        if issubclass(annotation, BaseModel):
            required = {
                name: _value(field.annotation)
                for name, field in annotation.model_fields.items()
                if field.is_required()
            }
            return annotation.model_construct(**required)
        if issubclass(annotation, enum.Enum):
            return next(iter(annotation))
        if issubclass(annotation, datetime.datetime):
            return datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
        if issubclass(annotation, bool):
            return True
        if issubclass(annotation, (int, float)):
            return 1
    return HEX24


def operations() -> list[tuple[str, type, str]]:
    found = []
    for api_name, api in inspect.getmembers(openapi.api, inspect.isclass):
        if not api_name.endswith("Api"):
            continue
        for name, _member in inspect.getmembers(api, inspect.isfunction):
            if name.startswith("_") or name.endswith(
                ("_with_http_info", "_without_preload_content")
            ):
                continue
            found.append((f"{api_name}.{name}", api, name))
    return found


def test_the_sdk_has_the_operations_this_suite_expects() -> None:
    names = {name for _, _, name in operations()}
    assert names >= IMPLEMENTED
    assert len(names) >= 60  # the SDK's operations were all found


@pytest.mark.parametrize(
    ("api", "name"),
    [(api, name) for _, api, name in operations() if name not in IMPLEMENTED],
    ids=[qualified for qualified, _, name in operations() if name not in IMPLEMENTED],
)
def test_an_unimplemented_operation_gets_a_404_the_sdk_parses(
    sdk: ApiClient, api: type, name: str
) -> None:
    method = getattr(api(sdk), name)
    hints = typing.get_type_hints(getattr(api, name), include_extras=True)
    arguments = {
        param: _value(hints[param])
        for param, spec in inspect.signature(method).parameters.items()
        if spec.default is inspect.Parameter.empty
    }
    with pytest.raises(NotFoundException) as raised:
        method(**arguments)
    parsed = raised.value.data
    if parsed is None:
        # The SDK declares no 404 model for this operation (e.g. list_meters): the body must
        # still be the one its error model reads.
        parsed = NotFoundErrorResponse.from_json(raised.value.body)
    assert isinstance(parsed, NotFoundErrorResponse), raised.value.body
    assert parsed.code == "resource_not_found"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PATCH", "/events"),  # a known path, another method
        ("PUT", "/login"),
        ("PUT", "/events/dry-run"),
        ("GET", "/nowhere"),
        ("POST", "/v2/events/some-ref"),
    ],
)
def test_unknown_routes_and_methods_answer_vayus_404(
    raw: httpx.Client, method: str, path: str
) -> None:
    response = raw.request(method, path, json={})
    parsed = conforms(NotFoundErrorResponse, response, 404)
    assert parsed.type == "invalid_request_error"
    assert response.json()["error"] == {
        "type": "invalid_request_error",
        "code": "resource_not_found",
        "message": parsed.message,
    }
