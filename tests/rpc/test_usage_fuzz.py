"""UsageService.QueryUsage fuzzed: every field, and arbitrary bytes as the request. The only
acceptable answers are OK and the client-error statuses, never UNKNOWN or INTERNAL."""

from __future__ import annotations

from typing import Any

import grpc
from hypothesis import given
from hypothesis import strategies as st

from sluice.v1 import usage_pb2, usage_pb2_grpc
from tests.rpc.conftest import RpcServer
from tests.rpc.test_parameter_fuzz import ACCEPTABLE, FUZZ, INT32, INT64, status_of

TEXT = st.one_of(
    st.sampled_from(["", "Count", "Sum", "eq", "in", "units", "*"]), st.text(max_size=12)
)
FILTERS = st.lists(
    st.builds(
        usage_pb2.MeterFilter,
        field=TEXT,
        operator=st.sampled_from(["eq", "neq", "gt", "gte", "lt", "lte", "in", "like", ""]),
        text=st.lists(TEXT, max_size=3),
        number=st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=3),
    ),
    max_size=2,
)
METERS = st.lists(
    st.builds(
        usage_pb2.Meter,
        key=TEXT,
        event_name=TEXT,
        operator=st.sampled_from(
            ["Count", "Sum", "Distinct", "Max", "Min", "Average", "First", "Last", "", "x"]
        ),
        field=TEXT,
        instance_key=TEXT,
        filters=FILTERS,
    ),
    max_size=3,
)


@FUZZ
@given(
    customer=TEXT,
    pattern=TEXT,
    start=st.one_of(st.none(), st.tuples(INT64, INT32)),
    end=st.one_of(st.none(), st.tuples(INT64, INT32)),
    meters=METERS,
    meter_ids=st.lists(TEXT, max_size=2),
    group_by=st.integers(min_value=-(2**31), max_value=2**31 - 1) | st.integers(0, 6),
    fill=st.booleans(),
)
def test_query_usage_fields(
    rpc: RpcServer,
    channel: grpc.Channel,
    customer: str,
    pattern: str,
    start: Any,
    end: Any,
    meters: list[usage_pb2.Meter],
    meter_ids: list[str],
    group_by: int,
    fill: bool,
) -> None:
    request = usage_pb2.QueryUsageRequest(
        customer_id=customer,
        customer_id_pattern=pattern,
        meters=meters,
        meter_ids=meter_ids,
        group_by=group_by,  # type: ignore[arg-type]
        fill_dates=fill,
    )
    if start is not None:
        request.start_time.seconds, request.start_time.nanos = start
    if end is not None:
        request.end_time.seconds, request.end_time.nanos = end
    stub = usage_pb2_grpc.UsageServiceStub(channel)
    code = status_of(lambda: stub.QueryUsage(request, metadata=rpc.metadata, timeout=10))
    assert code in ACCEPTABLE, (code, request)


@FUZZ
@given(raw=st.binary(max_size=64))
def test_any_bytes_as_a_request(rpc: RpcServer, channel: grpc.Channel, raw: bytes) -> None:
    call = channel.unary_unary("/sluice.v1.UsageService/QueryUsage")
    code = status_of(lambda: call(raw, metadata=rpc.metadata, timeout=10))
    assert code in ACCEPTABLE, (code, raw)
