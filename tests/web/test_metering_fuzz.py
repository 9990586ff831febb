"""Vayu's customers, meters, measurements and usage query fuzzed: parameters, path segments
and bodies. The only acceptable answers are 2xx and 4xx; 5xx means a bug."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from hypothesis import given
from hypothesis import strategies as st

from tests.web.test_parameter_fuzz import FUZZ, TEXT, answered, cursor_like

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
OPERATORS = st.sampled_from(
    ["Count", "Sum", "Distinct", "Max", "Min", "Average", "First", "Last", "x"]
)


@FUZZ
@given(
    path=st.sampled_from(["/customers", "/meters", "/measurements"]),
    limit=st.none() | TEXT,
    cursor=st.none() | cursor_like(),
)
def test_list_parameters(client: Any, path: str, limit: Any, cursor: Any) -> None:
    params = {k: v for k, v in {"limit": limit, "cursor": cursor}.items() if v is not None}
    answered(client.get(path, params=params))


@FUZZ
@given(
    prefix=st.sampled_from(
        ["/customers/", "/customers/name/", "/customers/externalId/", "/meters/", "/measurements/"]
    ),
    segment=st.text(min_size=1, max_size=30),
    method=st.sampled_from(["GET", "PUT", "DELETE"]),
)
def test_path_segments(client: Any, prefix: str, segment: str, method: str) -> None:
    answered(client.request(method, prefix + quote(segment, safe=""), json={}))


@FUZZ
@given(alias=TEXT)
def test_customer_alias_filter(client: Any, alias: str) -> None:
    answered(client.get("/events", params={"customerAlias": alias}))


@FUZZ
@given(
    path=st.sampled_from(["/customers", "/meters", "/measurements", "/v2/events/aggregation"]),
    body=JSON,
)
def test_any_json_body(client: Any, path: str, body: Any) -> None:
    answered(client.post(path, json=body))


@FUZZ
@given(
    operator=OPERATORS,
    field=st.none() | TEXT,
    filters=st.lists(
        st.fixed_dictionaries({"field": TEXT, "operator": TEXT, "value": JSON}), max_size=2
    ),
    group_by=st.sampled_from(["event", "day", "month", "quarter", "year", "week"]),
    start=st.none() | TEXT,
    end=st.none() | TEXT,
    fill=st.none() | st.booleans(),
    pattern=st.none() | TEXT,
)
def test_usage_queries(
    client: Any,
    operator: str,
    field: Any,
    filters: Any,
    group_by: str,
    start: Any,
    end: Any,
    fill: Any,
    pattern: Any,
) -> None:
    aggregation = {"operator": operator, **({} if field is None else {"field": field})}
    body: dict[str, Any] = {
        "customerId": "c1",
        "period": {"startTime": start, "endTime": end},
        "groupBy": group_by,
        "meters": [
            {"key": "k", "eventName": "api_call", "aggregation": aggregation, "filters": filters}
        ],
    }
    if fill is not None:
        body["fillDates"] = fill
    if pattern is not None:
        body["customerIdPattern"] = pattern
    answered(client.post("/v2/events/aggregation", json=body))


@FUZZ
@given(
    criterion=st.fixed_dictionaries({"field": TEXT, "operator": TEXT, "value": JSON}),
    operator=OPERATORS,
    field=st.none() | JSON,
    instance=st.none() | JSON,
)
def test_meter_documents(
    client: Any, criterion: Any, operator: str, field: Any, instance: Any
) -> None:
    method = {"operator": operator, "field": field, "instanceKey": instance}
    document = {
        "name": "m",
        "eventName": "api_call",
        "aggregationMethod": {k: v for k, v in method.items() if v is not None},
        "filter": {"conditions": [{"criterions": [criterion]}]},
    }
    answered(client.post("/meters", json=document))
