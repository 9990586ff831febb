"""Every gRPC request field fuzzed, and whole request messages as arbitrary bytes: the only
acceptable answers are OK, NOT_FOUND and the client-error statuses, never UNKNOWN or INTERNAL."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sluice.v1 import events_pb2, events_pb2_grpc
from tests.rpc.conftest import RpcServer

ACCEPTABLE = {
    grpc.StatusCode.OK,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.OUT_OF_RANGE,
}
INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
INT32 = st.integers(min_value=-(2**31), max_value=2**31 - 1)
FUZZ = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def status_of(call: Callable[[], Any]) -> grpc.StatusCode:
    try:
        result = call()
        if hasattr(result, "__iter__") and not hasattr(result, "SerializeToString"):
            list(result)
    except grpc.RpcError as error:
        return error.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


@pytest.fixture
def stub(channel: grpc.Channel) -> events_pb2_grpc.EventServiceStub:
    return events_pb2_grpc.EventServiceStub(channel)


@FUZZ
@given(
    start=st.one_of(st.none(), st.tuples(INT64, INT32)),
    end=st.one_of(st.none(), st.tuples(INT64, INT32)),
    name=st.text(max_size=20),
    customer=st.text(max_size=20),
    limit=st.integers(min_value=0, max_value=2**32 - 1),
    cursor=st.text(max_size=40),
)
def test_query_events_fields(
    rpc: RpcServer,
    stub: Any,
    start: Any,
    end: Any,
    name: str,
    customer: str,
    limit: int,
    cursor: str,
) -> None:
    request = events_pb2.QueryEventsRequest(
        name=name, customer_id=customer, limit=limit, cursor=cursor
    )
    if start is not None:
        request.start_time.seconds, request.start_time.nanos = start
    if end is not None:
        request.end_time.seconds, request.end_time.nanos = end
    code = status_of(lambda: stub.QueryEvents(request, metadata=rpc.metadata, timeout=10))
    assert code in ACCEPTABLE, (code, request)


@FUZZ
@given(
    method=st.sampled_from(["GetEvent", "QueryEvents", "DeleteEvents", "Subscribe"]),
    raw=st.binary(max_size=64),
)
def test_any_bytes_as_a_request(
    rpc: RpcServer, channel: grpc.Channel, method: str, raw: bytes
) -> None:
    """Undecodable messages (a string field that is not UTF-8, truncated varints) are the
    client's error."""
    path = f"/sluice.v1.EventService/{method}"
    streaming = method in ("QueryEvents", "Subscribe")
    if streaming:
        call = channel.unary_stream(path)
        # Subscribe never ends by itself: a short deadline ends a well-formed one.
        code = status_of(lambda: list(call(raw, metadata=rpc.metadata, timeout=0.5)))
        assert code in ACCEPTABLE | {grpc.StatusCode.DEADLINE_EXCEEDED}, (code, raw)
    else:
        code = status_of(lambda: channel.unary_unary(path)(raw, metadata=rpc.metadata, timeout=10))
        assert code in ACCEPTABLE, (code, raw)


def test_the_cases_that_were_unknown(rpc: RpcServer, stub: Any, channel: grpc.Channel) -> None:
    """Found before: a Timestamp beyond its range, negative nanos, a non-UTF-8 id, a cursor
    beyond 64 bits."""
    for seconds, nanos in [(2**63 - 1, 0), (0, -1), (-(2**63), 0)]:
        request = events_pb2.QueryEventsRequest()
        request.start_time.seconds, request.start_time.nanos = seconds, nanos
        code = status_of(lambda r=request: stub.QueryEvents(r, metadata=rpc.metadata))
        assert code == grpc.StatusCode.INVALID_ARGUMENT, (seconds, nanos)
    get = channel.unary_unary("/sluice.v1.EventService/GetEvent")
    not_utf8 = b"\x0a\x02\xff\xfe"  # field 1 (id), two bytes that are not UTF-8
    assert (
        status_of(lambda: get(not_utf8, metadata=rpc.metadata)) == grpc.StatusCode.INVALID_ARGUMENT
    )
    cursor = base64.urlsafe_b64encode(f"{2**70}:1".encode()).decode()
    request = events_pb2.QueryEventsRequest(cursor=cursor)
    code = status_of(lambda: stub.QueryEvents(request, metadata=rpc.metadata))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
