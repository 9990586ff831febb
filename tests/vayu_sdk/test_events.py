"""Every events operation of Vayu's SDK against a real server, and every raw body of those
routes validated against the SDK's models (docs/contracts.md §3)."""

from __future__ import annotations

import datetime
from typing import Any

import httpx
import pytest
from openapi.api.auth_api import AuthApi
from openapi.api.events_api import EventsApi
from openapi.api_client import ApiClient
from openapi.exceptions import BadRequestException, NotFoundException
from openapi.models import (
    DeleteEventResponse,
    DeleteEventsByRefsRequest,
    DeleteEventsByRefsResponse,
    Event,
    EventsDryRunRequest,
    EventsDryRunResponse,
    GetEventResponse,
    LoginRequest,
    LoginResponse,
    NotFoundErrorResponse,
    QueryEventsResponse,
    SendEventsRequest,
    SendEventsResponse,
    V2DeleteEventResponse,
    V2DeleteEventsByRefsRequest,
    V2DeleteEventsByRefsResponse,
    V2EventsDryRunRequest,
    V2EventsDryRunResponse,
    V2GetEventResponse,
    V2QueryEventsResponse,
    V2SendEventsRequest,
    V2SendEventsResponse,
)

from sluice.vayu_ids import account_id
from sluice.web.vayu_events import NO_CUSTOMER, ROUTE_WORDS
from tests.vayu_sdk.conftest import conforms, unique

UTC = datetime.UTC
WHEN = datetime.datetime(2026, 3, 4, 5, 6, 7, 890000, tzinfo=UTC)
WINDOW = {
    "start_time": WHEN - datetime.timedelta(days=1),
    "end_time": WHEN + datetime.timedelta(days=1),
}
RAW_WINDOW = {"startTime": "2026-03-03T00:00:00Z", "endTime": "2026-03-06T00:00:00Z"}


def event(ref: str, customer: str = "cust-a", name: str = "api_call", **data: Any) -> Event:
    return Event(name=name, timestamp=WHEN, customer_alias=customer, ref=ref, data=data or None)


def wire(ref: str, customer: str = "cust-a", name: str = "api_call") -> dict[str, Any]:
    return {
        "name": name,
        "timestamp": "2026-03-04T05:06:07.890Z",
        "customerAlias": customer,
        "ref": ref,
    }


def test_login_answers_a_token_the_sdk_uses(
    sdk: ApiClient, raw: httpx.Client, api_key: str
) -> None:
    token = AuthApi(sdk).login(LoginRequest(refresh_token=api_key)).access_token
    assert token.count(".") == 2
    conforms(LoginResponse, raw.post("/login", json={"refreshToken": api_key}))


@pytest.mark.parametrize("v2", [False, True])
def test_send_get_delete_round_trip_through_the_sdk(
    sdk: ApiClient, raw: httpx.Client, v2: bool
) -> None:
    api = EventsApi(sdk)
    ref = unique("round")
    if v2:
        sent = api.v2_send_events(V2SendEventsRequest(events=[event(ref, units=3)]))
    else:
        sent = api.send_events(SendEventsRequest(events=[event(ref, units=3)]))
    assert [e.ref for e in sent.valid_events] == [ref] and sent.invalid_events == []
    repeat = raw.post("/v2/events" if v2 else "/events", json={"events": [wire(ref)]})
    body = conforms(V2SendEventsResponse if v2 else SendEventsResponse, repeat)
    assert body.invalid_events[0].error == "Event ref already exists."

    got = (api.v2_get_event_by_ref_id if v2 else api.get_event_by_ref_id)(ref).event
    assert (got.ref, got.customer_alias, got.data, got.timestamp) == (
        ref,
        "cust-a",
        {"units": 3},
        WHEN,
    )
    prefix = "/v2/events/" if v2 else "/events/"
    conforms(V2GetEventResponse if v2 else GetEventResponse, raw.get(prefix + ref))

    deleted = (api.v2_delete_event_by_ref_id if v2 else api.delete_event_by_ref_id)(ref).event
    assert deleted.ref == ref and deleted.deleted_at
    with pytest.raises(NotFoundException) as missing:
        api.get_event_by_ref_id(ref)
    assert isinstance(missing.value.data, NotFoundErrorResponse)
    gone = raw.delete(prefix + ref)
    conforms(NotFoundErrorResponse, gone, 404)
    assert gone.json()["error"]["code"] == "resource_not_found"


def test_deleted_event_body_conforms(raw: httpx.Client) -> None:
    for prefix, model in (
        ("/events/", DeleteEventResponse),
        ("/v2/events/", V2DeleteEventResponse),
    ):
        ref = unique("del")
        raw.post("/events", json={"events": [wire(ref)]}).raise_for_status()
        conforms(model, raw.delete(prefix + ref))


@pytest.mark.parametrize("v2", [False, True])
def test_delete_by_refs(sdk: ApiClient, raw: httpx.Client, v2: bool) -> None:
    api = EventsApi(sdk)
    refs = [unique("bulk"), unique("bulk"), unique("bulk")]
    api.send_events(SendEventsRequest(events=[event(ref) for ref in refs]))
    if v2:
        out = api.v2_delete_events_by_refs(V2DeleteEventsByRefsRequest(refs=refs[:2]))
    else:
        out = api.delete_events_by_refs(DeleteEventsByRefsRequest(refs=refs[:2]))
    assert sorted(e.ref for e in out.events) == sorted(refs[:2])
    path = "/v2/events/delete-by-refs" if v2 else "/events/delete-by-refs"
    model = V2DeleteEventsByRefsResponse if v2 else DeleteEventsByRefsResponse
    assert [e.ref for e in conforms(model, raw.post(path, json={"refs": refs[2:]})).events] == refs[
        2:
    ]


@pytest.mark.parametrize("v2", [False, True])
def test_dry_run_answers_a_24_hex_account_id(sdk: ApiClient, raw: httpx.Client, v2: bool) -> None:
    api = EventsApi(sdk)
    ref = unique("dry")
    if v2:
        out = api.v2_send_events_dry_run(V2EventsDryRunRequest(events=[event(ref)]))
    else:
        out = api.send_events_dry_run(EventsDryRunRequest(events=[event(ref)]))
    assert out.events[0].event.account_id == account_id("default")
    assert out.events[0].event.ref == ref and out.events[0].meter_with_values == []
    path = "/v2/events/dry-run" if v2 else "/events/dry-run"
    body = conforms(
        V2EventsDryRunResponse if v2 else EventsDryRunResponse,
        raw.post(path, json={"events": [wire(ref)]}),
    )
    assert body.events[0].event.account_id == account_id("default")
    with pytest.raises(NotFoundException):  # a dry run stores nothing
        api.get_event_by_ref_id(ref)


def test_account_ids_are_stable_distinct_and_24_hex() -> None:
    assert account_id("acme") == account_id("acme") != account_id("globex")
    assert len(account_id("x")) == 24 and int(account_id("x"), 16) >= 0


@pytest.mark.parametrize("v2", [False, True])
def test_query_filters_by_customer_alias(sdk: ApiClient, raw: httpx.Client, v2: bool) -> None:
    api = EventsApi(sdk)
    name = unique("filtered")
    api.send_events(
        SendEventsRequest(
            events=[
                event(unique("f"), "alice", name),
                event(unique("f"), "bob", name),
                event(unique("f"), "alice", name),
            ]
        )
    )
    query = api.v2_query_events if v2 else api.query_events
    page = query(event_name=name, customer_alias="alice", limit=10, **WINDOW)
    assert [e.customer_alias for e in page.events] == ["alice", "alice"] and page.total == 2
    path = "/v2/events" if v2 else "/events"
    body = conforms(
        V2QueryEventsResponse if v2 else QueryEventsResponse,
        raw.get(path, params={**RAW_WINDOW, "eventName": name, "customerAlias": "bob"}),
    )
    assert [e.customer_alias for e in body.events] == ["bob"] and body.total == 1


def test_an_event_without_a_customer_reads_back_through_vayu(
    sdk: ApiClient, raw: httpx.Client
) -> None:
    """Collect without `userId`: stored with no customer, read through Vayu as NO_CUSTOMER."""
    name = unique("anon")
    sent = raw.post(
        "/collect/event",
        json={
            "messageBody": [
                {"eventType": name, "eventId": "e1", "timestamp": "2026-03-04T05:06:07Z"}
            ]
        },
    )
    assert sent.status_code == 201, sent.text
    page = EventsApi(sdk).query_events(event_name=name, **WINDOW)
    assert [e.customer_alias for e in page.events] == [NO_CUSTOMER]
    filtered = raw.get(
        "/events", params={**RAW_WINDOW, "customerAlias": NO_CUSTOMER, "eventName": name}
    )
    assert [e.ref for e in conforms(QueryEventsResponse, filtered).events] == ["e1"]
    assert EventsApi(sdk).get_event_by_ref_id("e1").event.customer_alias == NO_CUSTOMER


# Refs a URL path must carry with care: slashes (leading, trailing, doubled), route words,
# characters that need percent-encoding, non-ASCII.
AWKWARD_REFS = [
    "a/b",
    "/lead",
    "trail/",
    "a//b",
    *ROUTE_WORDS,
    "100%",
    "q?x=1",
    "h#f",
    " spaced ",
    "ünï/cödé",
    "%2F",
    "...",
]


@pytest.mark.parametrize("ref", AWKWARD_REFS)
def test_every_accepted_ref_is_read_and_deleted_by_ref(sdk: ApiClient, ref: str) -> None:
    api = EventsApi(sdk)
    name = unique("awkward")  # refs repeat across tests' names; get/delete act on the first
    sent = api.send_events(SendEventsRequest(events=[event(ref, name=name)]))
    assert [e.ref for e in sent.valid_events] == [ref], sent.invalid_events
    assert api.get_event_by_ref_id(ref).event.name == name
    assert api.v2_get_event_by_ref_id(ref).event.name == name
    assert api.delete_event_by_ref_id(ref).event.name == name
    with pytest.raises(NotFoundException):
        api.v2_delete_event_by_ref_id(ref)


@pytest.mark.parametrize("ref", [".", ".."])
def test_dot_segment_refs_are_refused_at_ingest(
    sdk: ApiClient, raw: httpx.Client, ref: str
) -> None:
    """No client can address `/events/..` (it resolves to `/`): such a ref is invalid."""
    sent = EventsApi(sdk).send_events(SendEventsRequest(events=[event(ref)]))
    assert sent.valid_events == [] and "ref" in sent.invalid_events[0].error
    with pytest.raises(BadRequestException):
        EventsApi(sdk).send_events_dry_run(EventsDryRunRequest(events=[event(ref)]))
    body = raw.post("/events/dry-run", json={"events": [wire(ref)]}).json()
    assert body["params"][0]["param"] == "events[0].ref"
