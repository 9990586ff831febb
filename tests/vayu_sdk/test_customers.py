"""Vayu's customers API through the SDK, on the one registry Enso, profiles and Vayu's
`customerAlias` resolve against."""

from __future__ import annotations

import httpx
import pytest
from openapi.api.customers_api import CustomersApi
from openapi.api.events_api import EventsApi
from openapi.api_client import ApiClient
from openapi.exceptions import ApiException, NotFoundException
from openapi.models import (
    ConflictErrorResponse,
    CreateCustomerRequest,
    CreateCustomerResponse,
    DeleteCustomerResponse,
    Event,
    EventsDryRunRequest,
    GetCustomerByNameResponse,
    GetCustomerResponse,
    ListCustomersResponse,
    UpdateCustomerRequest,
    UpdateCustomerResponse,
    ValidationErrorResponse,
)

from sluice.vayu_ids import is_vayu_id
from tests.vayu_sdk.conftest import conforms, unique
from tests.vayu_sdk.test_events import WHEN


def test_create_get_update_delete_through_the_sdk(sdk: ApiClient, raw: httpx.Client) -> None:
    api = CustomersApi(sdk)
    alias, external = unique("alias"), unique("ext")
    created = api.create_customer(
        CreateCustomerRequest(
            name="Ann Corp", aliases=[alias], external_id=external, currency="EUR"
        )
    ).customer
    assert is_vayu_id(created.id) and created.aliases == [alias] and created.currency == "EUR"
    got = api.get_customer(created.id).customer
    assert (got.name, got.external_id, got.created_at) == ("Ann Corp", external, created.created_at)
    assert api.get_customer_by_external_id(external).customer.id == created.id
    assert api.get_customer_by_name("Ann Corp").customer.id == created.id

    updated = api.update_customer(
        UpdateCustomerRequest(legal_name="Ann Corporation Ltd"), created.id
    ).customer
    assert (updated.name, updated.legal_name, updated.aliases) == (
        "Ann Corp",
        "Ann Corporation Ltd",
        [alias],
    )
    conforms(GetCustomerResponse, raw.get(f"/customers/{created.id}"))
    conforms(GetCustomerByNameResponse, raw.get("/customers/name/Ann Corp"))
    conforms(GetCustomerResponse, raw.get(f"/customers/externalId/{external}"))
    conforms(UpdateCustomerResponse, raw.put(f"/customers/{created.id}", json={"subsidiary": "EU"}))

    deleted = api.delete_customer(created.id).customer
    assert deleted.id == created.id and deleted.deleted_at
    with pytest.raises(NotFoundException):
        api.get_customer(created.id)
    with pytest.raises(NotFoundException):
        api.delete_customer(created.id)


def test_raw_create_and_delete_bodies_conform(raw: httpx.Client) -> None:
    body = conforms(CreateCustomerResponse, raw.post("/customers", json={"name": unique("n")}))
    conforms(DeleteCustomerResponse, raw.delete(f"/customers/{body.customer.id}"))


def test_customers_page_through_every_one_once(sdk: ApiClient, raw: httpx.Client) -> None:
    api = CustomersApi(sdk)
    made = {
        api.create_customer(CreateCustomerRequest(name=unique("page"))).customer.id
        for _ in range(7)
    }
    seen: list[str] = []
    cursor = None
    while True:
        page = api.list_customers(limit=3, cursor=cursor)
        assert len(page.customers) <= 3 and page.total >= 7
        seen += [customer.id for customer in page.customers]
        if not page.has_more:
            break
        cursor = page.next_cursor
    assert len(seen) == len(set(seen)) and made <= set(seen)
    conforms(ListCustomersResponse, raw.get("/customers", params={"limit": "2.0"}))


def test_one_registry_for_vayu_enso_and_profiles(sdk: ApiClient, raw: httpx.Client) -> None:
    alias = unique("shared")
    created = (
        CustomersApi(sdk)
        .create_customer(CreateCustomerRequest(name="Shared", aliases=[alias]))
        .customer
    )
    # Vayu's customerAlias resolves by alias and by id.
    dry = EventsApi(sdk).send_events_dry_run(
        EventsDryRunRequest(
            events=[
                Event(name="n", timestamp=WHEN, customer_alias=alias, ref=unique("r")),
                Event(name="n", timestamp=WHEN, customer_alias=created.id, ref=unique("r")),
            ]
        )
    )
    assert [e.matched_customer for e in dry.events] == [created.id, created.id]
    # Enso's CustomerEntityId is the registry id.
    enso = raw.post(
        "/events/batch",
        json={"events": [{"CustomerEntityId": created.id, "metric": "m", "value": 1}]},
    )
    assert enso.json()["data"]["summary"]["success"] == 1, enso.text
    # The profiles API updates the same customer; a Vayu field it sets reads through Vayu.
    profile = raw.post(
        "/v1/event/", json={"user": {"_id": created.id}, "event": {"update": {"name": "Renamed"}}}
    )
    assert profile.status_code == 200, profile.text
    assert CustomersApi(sdk).get_customer(created.id).customer.name == "Renamed"
    # And a customer made through /v1/customers reads through Vayu (its id as its name).
    raw.put("/v1/customers/legacy-1", json={"aliases": [unique("legacy")]}).raise_for_status()
    legacy = CustomersApi(sdk).get_customer("legacy-1").customer
    assert (legacy.id, legacy.name) == ("legacy-1", "legacy-1")


def test_a_taken_alias_is_a_conflict_and_bad_fields_are_400(raw: httpx.Client) -> None:
    alias = unique("taken")
    raw.post("/customers", json={"name": "a", "aliases": [alias]}).raise_for_status()
    conflict = conforms(
        ConflictErrorResponse, raw.post("/customers", json={"name": "b", "aliases": [alias]}), 409
    )
    assert conflict.code == "resource_already_exists"
    for body in ({}, {"name": 5}, {"name": "x", "currency": "XXX"}, {"name": "x", "colour": "red"}):
        conforms(ValidationErrorResponse, raw.post("/customers", json=body), 400)


def test_the_sdk_reports_a_missing_customer(sdk: ApiClient) -> None:
    with pytest.raises(ApiException) as missing:
        CustomersApi(sdk).get_customer_by_name(unique("nobody"))
    assert missing.value.status == 404
