"""Meters, measurements, dry-run values and usage queries through Vayu's SDK."""

from __future__ import annotations

import datetime
from typing import Any

import httpx
import pytest
from openapi.api.customers_api import CustomersApi
from openapi.api.events_api import EventsApi
from openapi.api.measurements_api import MeasurementsApi
from openapi.api.meters_api import MetersApi
from openapi.api_client import ApiClient
from openapi.exceptions import NotFoundException
from openapi.models import (
    CreateCustomerRequest,
    CreateMeasurementRequest,
    CreateMeasurementResponse,
    DeleteMeasurementResponse,
    DeleteMeterResponse,
    Event,
    EventsDryRunRequest,
    GetMeasurementResponse,
    GetMeterResponse,
    ListMeasurementsResponse,
    ListMetersResponse,
    SendEventsRequest,
    UpdateMeterRequest,
    UpdateMeterResponse,
    V2QueryEventsAggregationRequest,
    V2QueryEventsAggregationResponse,
    ValidationErrorResponse,
)

from tests.vayu_sdk.conftest import conforms, unique

UTC = datetime.UTC


def at(day: int, hour: int = 12) -> datetime.datetime:
    return datetime.datetime(2026, 5, day, hour, tzinfo=UTC)


def make_meter(
    raw: httpx.Client, event_name: str, operator: str = "Count", **extra: Any
) -> dict[str, Any]:
    document = {
        "name": unique("meter"),
        "eventName": event_name,
        "aggregationMethod": {"operator": operator, **extra.pop("method", {})},
        **extra,
    }
    response = raw.post("/meters", json=document)
    return conforms(GetMeterResponse, response).to_dict()["meter"]  # type: ignore[no-any-return]


def usage(sdk: ApiClient, raw: httpx.Client, body: dict[str, Any]) -> dict[str, dict[str, float]]:
    """The SDK's call and the raw body, which must agree: group -> meter key -> value."""
    answer = EventsApi(sdk).v2_query_events_aggregation(
        V2QueryEventsAggregationRequest.from_dict(body)
    )
    parsed = conforms(
        V2QueryEventsAggregationResponse, raw.post("/v2/events/aggregation", json=body)
    )
    assert parsed.to_dict() == answer.to_dict()
    return {point.group: point.values for point in answer.data_points}


def test_meters_through_the_sdk(sdk: ApiClient, raw: httpx.Client) -> None:
    api = MetersApi(sdk)
    make_meter(raw, "api_call")  # so that a page of one has more after it
    created = make_meter(
        raw,
        "api_call",
        "Sum",
        method={"field": "units", "instanceKey": "workspace"},
        filter={
            "conditions": [
                {"criterions": [{"field": "region", "operator": "Equals", "value": "eu"}]}
            ]
        },
    )
    got = api.get_meter(created["id"]).meter
    assert (got.name, got.event_name, got.aggregation_method.var_field) == (
        created["name"],
        "api_call",
        "units",
    )
    assert got.filter.conditions[0].criterions[0].value == "eu"
    updated = api.update_meter(UpdateMeterRequest(name="renamed"), created["id"]).meter
    assert updated.name == "renamed" and updated.created_at == got.created_at
    conforms(UpdateMeterResponse, raw.put(f"/meters/{created['id']}", json={"filter": None}))
    assert api.get_meter(created["id"]).meter.filter is None
    listed = conforms(ListMetersResponse, raw.get("/meters", params={"limit": 1000}))
    assert created["id"] in [meter.id for meter in listed.meters]
    assert api.list_meters(limit=1).has_more
    conforms(DeleteMeterResponse, raw.delete(f"/meters/{created['id']}"))
    with pytest.raises(NotFoundException):
        api.get_meter(created["id"])


@pytest.mark.parametrize(
    "bad",
    [
        {"name": "m", "eventName": "e", "aggregationMethod": {"operator": "Median", "field": "x"}},
        {"name": "m", "eventName": "e", "aggregationMethod": {"operator": "Sum"}},
        {"name": "", "eventName": "e", "aggregationMethod": {"operator": "Count"}},
        {
            "name": "m",
            "eventName": "e",
            "aggregationMethod": {"operator": "Count"},
            "filter": {"conditions": []},
        },
        {"name": "m", "eventName": "e", "aggregationMethod": {"operator": "Count"}, "colour": 1},
    ],
)
def test_invalid_meters_are_400(raw: httpx.Client, bad: dict[str, Any]) -> None:
    conforms(ValidationErrorResponse, raw.post("/meters", json=bad), 400)


def test_dry_run_shows_the_meters_an_event_counts_toward(sdk: ApiClient, raw: httpx.Client) -> None:
    name = unique("dry_metered")
    counted = make_meter(raw, name)
    summed = make_meter(raw, name, "Sum", method={"field": "units", "instanceKey": "ws"})
    make_meter(
        raw,
        name,
        filter={
            "conditions": [
                {"criterions": [{"field": "region", "operator": "Equals", "value": "us"}]}
            ]
        },
    )
    event = Event(
        name=name,
        timestamp=at(1),
        customer_alias="c",
        ref=unique("r"),
        data={"units": 4, "ws": "w1", "region": "eu"},
    )
    out = EventsApi(sdk).send_events_dry_run(EventsDryRunRequest(events=[event])).events[0]
    values = {m.name: (m.value, m.instance_value) for m in out.meter_with_values}
    assert values == {counted["name"]: (1, None), summed["name"]: (4, "w1")}


def test_usage_counts_events_sent_before_the_meter_and_forgets_deleted_ones(
    sdk: ApiClient, raw: httpx.Client
) -> None:
    alias = unique("usage-alias")
    customer = (
        CustomersApi(sdk)
        .create_customer(CreateCustomerRequest(name=unique("u"), aliases=[alias]))
        .customer
    )
    name = unique("metered")
    refs = [unique("u") for _ in range(5)]
    events = [
        Event(
            name=name,
            timestamp=at(1),
            customer_alias=alias,
            ref=refs[0],
            data={"units": 2, "region": "eu"},
        ),
        Event(
            name=name,
            timestamp=at(1, 18),
            customer_alias=customer.id,
            ref=refs[1],
            data={"units": 3, "region": "us"},
        ),
        Event(
            name=name,
            timestamp=at(3),
            customer_alias=alias,
            ref=refs[2],
            data={"units": 5, "region": "eu"},
        ),
        Event(
            name=name,
            timestamp=at(3),
            customer_alias="someone-else",
            ref=refs[3],
            data={"units": 100},
        ),
        Event(
            name=name,
            timestamp=at(20),
            customer_alias=alias,
            ref=refs[4],
            data={"units": 7.5, "region": "apac"},
        ),
    ]
    EventsApi(sdk).send_events(SendEventsRequest(events=events))
    body: dict[str, Any] = {
        "customerId": customer.id,
        "period": {"startTime": "2026-05-01T00:00:00.000Z", "endTime": "2026-05-04T00:00:00.000Z"},
        "groupBy": "day",
        "fillDates": True,
        "meters": [
            {"key": "calls", "eventName": name, "aggregation": {"operator": "Count"}},
            {
                "key": "units",
                "eventName": name,
                "aggregation": {"operator": "Sum", "field": "units"},
            },
            {
                "key": "eu_max",
                "eventName": name,
                "aggregation": {"operator": "Max", "field": "units"},
                "filters": [{"field": "region", "operator": "in", "value": ["eu", "apac"]}],
            },
        ],
    }
    assert usage(sdk, raw, body) == {
        "2026-05-01T00:00:00.000Z": {"calls": 2, "units": 5, "eu_max": 2},
        "2026-05-02T00:00:00.000Z": {"calls": 0, "units": 0, "eu_max": 0},
        "2026-05-03T00:00:00.000Z": {"calls": 1, "units": 5, "eu_max": 5},
    }
    month = {
        **body,
        "groupBy": "month",
        "period": {"startTime": None, "endTime": None},
        "fillDates": False,
    }
    assert usage(sdk, raw, month) == {
        "2026-05-01T00:00:00.000Z": {"calls": 4, "units": 17.5, "eu_max": 7.5}
    }
    EventsApi(sdk).delete_event_by_ref_id(refs[4])
    assert usage(sdk, raw, month) == {
        "2026-05-01T00:00:00.000Z": {"calls": 3, "units": 10, "eu_max": 5}
    }
    pattern = {**month, "customerId": "ignored", "customerIdPattern": customer.id[:20] + "*"}
    assert usage(sdk, raw, pattern) == usage(sdk, raw, month)


def test_measurements_through_the_sdk_count_in_usage(sdk: ApiClient, raw: httpx.Client) -> None:
    customer = CustomersApi(sdk).create_customer(CreateCustomerRequest(name=unique("m"))).customer
    meter = make_meter(raw, unique("measured"), "Sum", method={"field": "units"})
    request = CreateMeasurementRequest.from_dict(
        {
            "customerId": customer.id,
            "meterId": meter["id"],
            "usageDate": {"year": 2026, "month": 5, "day": 2},
            "value": 40,
        }
    )
    created = MeasurementsApi(sdk).create_measurement(request).measurement
    assert (created.customer_id, created.value, created.usage_date.day) == (customer.id, 40, 2)
    assert MeasurementsApi(sdk).get_measurement(created.id).measurement.meter_id == meter["id"]
    conforms(GetMeasurementResponse, raw.get(f"/measurements/{created.id}"))
    conforms(ListMeasurementsResponse, raw.get("/measurements", params={"limit": 5}))
    EventsApi(sdk).send_events(
        SendEventsRequest(
            events=[
                Event(
                    name=meter["eventName"],
                    timestamp=at(2),
                    customer_alias=customer.id,
                    ref=unique("m"),
                    data={"units": 2},
                )
            ]
        )
    )
    body = {
        "customerId": customer.id,
        "period": {"startTime": "2026-05-01T00:00:00Z", "endTime": "2026-06-01T00:00:00Z"},
        "groupBy": "month",
        "meters": [
            {
                "key": meter["id"],
                "eventName": meter["eventName"],
                "aggregation": {"operator": "Sum", "field": "units"},
            }
        ],
    }
    assert usage(sdk, raw, body) == {"2026-05-01T00:00:00.000Z": {meter["id"]: 42}}
    second = raw.post("/measurements", json={**request.to_dict(), "value": 1.5})
    conforms(
        DeleteMeasurementResponse,
        raw.delete(f"/measurements/{conforms(CreateMeasurementResponse, second).measurement.id}"),
    )
    MeasurementsApi(sdk).delete_measurement(created.id)
    assert usage(sdk, raw, body) == {"2026-05-01T00:00:00.000Z": {meter["id"]: 2}}
    bad = raw.post("/measurements", json={**request.to_dict(), "customerId": "alice"})
    conforms(ValidationErrorResponse, bad, 400)


def test_bad_usage_queries_are_400(raw: httpx.Client) -> None:
    good = {
        "customerId": "c",
        "period": {"startTime": None, "endTime": None},
        "groupBy": "day",
        "meters": [{"key": "k", "eventName": "e"}],
    }
    for change in (
        {"groupBy": "week"},
        {"meters": []},
        {"meters": [{"key": "k", "eventName": "e", "sqlSelect": "SELECT 1"}]},
        {
            "meters": [
                {
                    "key": "k",
                    "eventName": "e",
                    "filters": [{"field": "f", "operator": "like", "value": "x"}],
                }
            ]
        },
        {"meters": [{"key": "k", "eventName": "e", "filters": 5}]},
        {
            "meters": [
                {
                    "key": "k",
                    "eventName": "e",
                    "filters": [{"field": "f", "operator": ["eq"], "value": "x"}],
                }
            ]
        },
        {"period": {"startTime": "yesterday", "endTime": None}},
        {"period": {"startTime": "2026-02-01T00:00:00Z", "endTime": "2026-01-01T00:00:00Z"}},
    ):
        conforms(
            ValidationErrorResponse,
            raw.post("/v2/events/aggregation", json={**good, **change}),
            400,
        )


def test_the_last_representable_groups_are_filled(raw: httpx.Client) -> None:
    for group_by in ("day", "month", "quarter", "year"):
        body = {
            "customerId": "c",
            "period": {"startTime": "9999-12-30T00:00:00Z", "endTime": "9999-12-31T23:59:59Z"},
            "groupBy": group_by,
            "fillDates": True,
            "meters": [{"key": "k", "eventName": "e"}],
        }
        answer = conforms(
            V2QueryEventsAggregationResponse, raw.post("/v2/events/aggregation", json=body)
        )
        assert len(answer.data_points) == (2 if group_by == "day" else 1)
