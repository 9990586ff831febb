"""UsageService.QueryUsage through a real channel: the same usage as Vayu's aggregation."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2

from sluice.v1 import ingest_pb2, usage_pb2, usage_pb2_grpc
from tests.rpc.conftest import RpcServer
from tests.rpc.test_events import at, ingest
from tests.rpc.test_status import details
from tests.test_server import grpc_event


def event(id_: str, when: str, customer: str, **data: object) -> ingest_pb2.Event:
    message = grpc_event(id_, data=data)
    message.customer_id = customer
    message.timestamp.CopyFrom(at(when))
    return message


def test_query_usage_by_day_with_filters_and_a_stored_meter(
    rpc: RpcServer, channel: grpc.Channel
) -> None:
    ingest(
        rpc,
        channel,
        event("a", "2024-05-01T10:00:00Z", "c1", units=2, region="eu"),
        event("b", "2024-05-01T11:00:00Z", "c1", units=3, region="us"),
        event("c", "2024-05-02T09:00:00Z", "c1", units=4, region="eu"),
        event("d", "2024-05-02T09:00:00Z", "c2", units=100, region="eu"),
    )
    stored = rpc.run(
        rpc.gateway.metering.create_meter(
            "acme",
            {
                "name": "max",
                "eventName": "api_call",
                "aggregationMethod": {"operator": "Max", "field": "units"},
            },
        )
    )
    stub = usage_pb2_grpc.UsageServiceStub(channel)
    request = usage_pb2.QueryUsageRequest(
        customer_id="c1",
        group_by=usage_pb2.GROUP_BY_DAY,
        meters=[
            usage_pb2.Meter(key="calls", event_name="api_call", operator="Count"),
            usage_pb2.Meter(
                key="eu_units",
                event_name="api_call",
                operator="Sum",
                field="units",
                filters=[usage_pb2.MeterFilter(field="region", operator="eq", text=["eu"])],
            ),
        ],
        meter_ids=[stored.id],
    )
    request.start_time.CopyFrom(at("2024-05-01T00:00:00Z"))
    request.end_time.CopyFrom(at("2024-05-04T00:00:00Z"))
    request.fill_dates = True
    reply = stub.QueryUsage(request, metadata=rpc.metadata)
    assert [(p.group, dict(p.values)) for p in reply.data_points] == [
        ("2024-05-01T00:00:00.000Z", {"calls": 2, "eu_units": 2, stored.id: 3}),
        ("2024-05-02T00:00:00.000Z", {"calls": 1, "eu_units": 4, stored.id: 4}),
        ("2024-05-03T00:00:00.000Z", {"calls": 0, "eu_units": 0, stored.id: 0}),
    ]
    assert reply.data_points[1].start.ToJsonString() == "2024-05-02T00:00:00Z"


@pytest.mark.parametrize(
    "request_",
    [
        usage_pb2.QueryUsageRequest(
            customer_id="c1", meters=[usage_pb2.Meter(key="k", event_name="e")]
        ),
        usage_pb2.QueryUsageRequest(customer_id="c1", group_by=usage_pb2.GROUP_BY_DAY),
        usage_pb2.QueryUsageRequest(
            customer_id="c1",
            group_by=usage_pb2.GROUP_BY_DAY,
            meters=[usage_pb2.Meter(key="k", event_name="e", operator="Median", field="x")],
        ),
        usage_pb2.QueryUsageRequest(
            customer_id="c1", group_by=usage_pb2.GROUP_BY_DAY, meter_ids=["nope"]
        ),
    ],
)
def test_bad_usage_queries_are_invalid_argument(
    rpc: RpcServer, channel: grpc.Channel, request_: usage_pb2.QueryUsageRequest
) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        usage_pb2_grpc.UsageServiceStub(channel).QueryUsage(request_, metadata=rpc.metadata)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize(
    ("request_", "field", "says"),
    [
        (
            usage_pb2.QueryUsageRequest(customer_id="c1"),
            "group_by",
            "group_by is required",
        ),
        (
            usage_pb2.QueryUsageRequest(
                customer_id="c1",
                group_by=usage_pb2.GROUP_BY_DAY,
                meters=[
                    usage_pb2.Meter(
                        key="k",
                        event_name="e",
                        filters=[usage_pb2.MeterFilter(field="region", operator="eq")],
                    )
                ],
            ),
            "filters",
            "a filter needs a text or a number",
        ),
    ],
)
def test_a_bad_usage_query_names_its_field_and_says_what_is_wrong(
    rpc: RpcServer,
    channel: grpc.Channel,
    request_: usage_pb2.QueryUsageRequest,
    field: str,
    says: str,
) -> None:
    """A client fixes its request from the BadRequest's field and the status message."""
    with pytest.raises(grpc.RpcError) as refused:
        usage_pb2_grpc.UsageServiceStub(channel).QueryUsage(request_, metadata=rpc.metadata)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert says in (refused.value.details() or "")
    [bad_request] = details(refused.value)
    assert isinstance(bad_request, error_details_pb2.BadRequest)
    assert [v.field for v in bad_request.field_violations] == [field]


def test_usage_needs_a_key(channel: grpc.Channel) -> None:
    request = usage_pb2.QueryUsageRequest(customer_id="c1", group_by=usage_pb2.GROUP_BY_DAY)
    with pytest.raises(grpc.RpcError) as refused:
        usage_pb2_grpc.UsageServiceStub(channel).QueryUsage(request)
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_the_python_clients_query_usage(rpc: RpcServer, channel: grpc.Channel) -> None:
    import asyncio
    import datetime

    from sluice.client import AsyncSluiceClient, Meter, SluiceClient

    ingest(
        rpc,
        channel,
        event("a", "2024-05-01T10:00:00Z", "c1", units=2, region="eu"),
        event("b", "2024-06-03T11:00:00Z", "c1", units=5, region="us"),
    )
    meters = [
        Meter("calls", "api_call"),
        Meter("units", "api_call", "Sum", "units", filters=[("region", "in", ["eu", "us"])]),
    ]
    start = datetime.datetime(2024, 5, 1, tzinfo=datetime.UTC)
    expected = [
        (
            "2024-05-01T00:00:00.000Z",
            datetime.datetime(2024, 5, 1, tzinfo=datetime.UTC),
            {"calls": 1, "units": 2},
        ),
        (
            "2024-06-01T00:00:00.000Z",
            datetime.datetime(2024, 6, 1, tzinfo=datetime.UTC),
            {"calls": 1, "units": 5},
        ),
    ]
    with SluiceClient(rpc.target, rpc.key) as client:
        points = client.query_usage("c1", meters, "month", start)
    assert [(p.group, p.start, p.values) for p in points] == expected

    async def through_asyncio() -> list[tuple[str, datetime.datetime, dict[str, float]]]:
        async with AsyncSluiceClient(rpc.target, rpc.key) as client:
            points = await client.query_usage("c1", meters, "month", start, fill_dates=False)
        return [(p.group, p.start, p.values) for p in points]

    assert asyncio.run(through_asyncio()) == expected
