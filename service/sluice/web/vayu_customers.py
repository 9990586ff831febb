"""Vayu's customers API (`/customers`) over the one customer registry.

A Vayu customer is a registry customer: its `id` is the registry id (24 hex digits when Vayu
creates it), its `aliases` are the registry's (what Vayu's `customerAlias`, Enso's
`CustomerEntityId` and profiles' `_id` resolve against), and Vayu's other fields (`name`,
`externalId`, `contacts`, ...) are kept in the registry's attributes under their Vayu names.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from litestar import Request, Response, Router, delete, get, post, put
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from sluice.access import AccessControl
from sluice.documents import json_object
from sluice.errors import CustomerConflict, InvalidCustomer
from sluice.model import Customer
from sluice.registry import CustomerRegistry
from sluice.vayu_ids import new_id
from sluice.web import vayu_docs
from sluice.web.auth import authorize
from sluice.web.body import BodyReader
from sluice.web.customers import decode_cursor, encode_cursor
from sluice.web.errors import sluice_error
from sluice.web.openapi import BY_ID_ERRORS, SECURITY, WRITE_ERRORS, request_body
from sluice.web.schemas_registry import (
    NewVayuCustomer,
    VayuCustomerFields,
    VayuCustomerPage,
    VayuCustomerResult,
)
from sluice.web.times import iso_millis
from sluice.web.vayu_docs import Cursor, Limit
from sluice.web.vayu_events import limit_param


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _objects(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, dict) for item in value)


def _one_of(*choices: str) -> Callable[[Any], bool]:
    return lambda value: value in choices


def _text(value: Any) -> bool:
    return isinstance(value, str)


def _amount(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# Vayu's customer fields besides id and aliases, each with the check its SDK model makes.
FIELDS: dict[str, Callable[[Any], bool]] = {
    "name": _text,
    "contacts": _objects,
    "source": _one_of("Stripe", "VayuEventsApi", "Api", "Salesforce", "HubSpot"),
    "legalName": _text,
    "taxIds": _strings,
    "taxId": _text,
    "cloudProviderSettings": lambda value: isinstance(value, dict),
    "externalId": _text,
    "customerErpId": _text,
    "address": lambda value: isinstance(value, dict),
    "salesForceAccountId": _text,
    "dueDays": _one_of(
        "END_OF_MONTH", "SAME_DAY", "15_DAYS", "30_DAYS", "45_DAYS", "60_DAYS", "90_DAYS"
    ),
    "currency": _one_of("USD", "EUR", "GBP", "ILS", "CAD", "AUD", "COP", "BRL"),
    "customFields": _objects,
    "subsidiary": _text,
    "totalOutstandingAmount": _amount,
    "openAmount": _amount,
    "overdueAmount": _amount,
    "pendingPaymentAmount": _amount,
    "paidAmount": _amount,
}
READ_ONLY = ("id", "createdAt", "updatedAt", "deletedAt")


def render(customer: Customer) -> dict[str, Any]:
    """The customer as Vayu's models read it. Attributes other APIs set under a Vayu name but
    with another type are left out, so the SDK can always read the customer."""
    name = customer.attributes.get("name")
    body: dict[str, Any] = {
        "id": customer.id,
        "name": name if isinstance(name, str) else customer.id,
        "aliases": customer.aliases,
    }
    for field, valid in FIELDS.items():
        value = customer.attributes.get(field)
        if field != "name" and value is not None and valid(value):
            body[field] = value
    body["createdAt"] = iso_millis(customer.created_at)
    body["updatedAt"] = iso_millis(customer.updated_at)
    return body


def _fields(body: bytes) -> dict[str, Any]:
    fields = json_object(body, empty_is_nothing=True)
    for key, value in fields.items():
        if key in READ_ONLY or key == "aliases":
            continue
        check = FIELDS.get(key)
        if check is None:
            raise InvalidCustomer(key, f"Unknown field {key!r}.")
        if value is not None and not check(value):
            raise InvalidCustomer(key, f"{key} has the wrong type or value.")
    return fields


def _on_error(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    response = sluice_error(request, exc)
    if isinstance(exc, CustomerConflict):
        response.content["code"] = "resource_already_exists"  # the SDK's ConflictErrorResponse
    return response


def router(access: AccessControl, customers: CustomerRegistry, body_reader: BodyReader) -> Router:
    """Vayu's customer routes over the registry."""

    def document(id: str, fields: dict[str, Any], attributes: dict[str, Any]) -> dict[str, Any]:
        merged = dict(attributes)
        for key, value in fields.items():
            if key in FIELDS:
                if value is None:
                    merged.pop(key, None)
                else:
                    merged[key] = value
        return {"id": id, "aliases": fields.get("aliases"), "attributes": merged}

    def answers(example: Any, errors: tuple[int, ...], description: str = "Success.") -> Any:
        """A customer route's answers, its error examples dressed by this router's handler."""
        customer = {"customer": example}
        return vayu_docs.answers(VayuCustomerResult, customer, errors, description, _on_error)

    # Each route's failures: a body can also be too large, of the wrong type or in conflict
    # with another customer's aliases; a read by id or name can find nothing.
    writes = (*WRITE_ERRORS, 409)
    one = BY_ID_ERRORS

    @post(
        "/customers",
        operation_id="vayuCreateCustomer",
        status_code=200,
        dependencies=request_body(
            NewVayuCustomer, vayu_docs.NEW_CUSTOMER, "Vayu's customer fields; `name` required."
        ),
        responses=answers(vayu_docs.CUSTOMER, writes, "Created, with a new 24-hex-digit id."),
    )
    async def create_customer(request: Request[Any, Any, Any]) -> dict[str, Any]:
        grant = await authorize(request, access)
        fields = _fields(await body_reader.read(request))
        if not isinstance(fields.get("name"), str):
            raise InvalidCustomer("name", "name is required.")
        id = new_id()
        customer = customers.customer_from(document(id, fields, {}), id=id)
        stored, _created = await customers.put(grant.tenant, customer)
        return {"customer": render(stored)}

    def found(customer: Customer | None, what: str) -> Customer:
        if customer is None:
            raise NotFoundException(f"No customer with {what}.")
        return customer

    @get(
        "/customers/{customer_id:str}",
        operation_id="vayuGetCustomer",
        responses=answers(vayu_docs.CUSTOMER, one),
    )
    async def get_customer(
        request: Request[Any, Any, Any], customer_id: FromPath[str]
    ) -> dict[str, Any]:
        grant = await authorize(request, access)
        customer = await customers.get(grant.tenant, customer_id)
        return {"customer": render(found(customer, f"id {customer_id!r}"))}

    @get(
        "/customers/externalId/{external_id:str}",
        operation_id="vayuGetCustomerByExternalId",
        responses=answers(vayu_docs.CUSTOMER, one),
    )
    async def by_external_id(
        request: Request[Any, Any, Any], external_id: FromPath[str]
    ) -> dict[str, Any]:
        grant = await authorize(request, access)
        customer = await customers.find_by_attribute(grant.tenant, "externalId", external_id)
        what = f"externalId {external_id!r}"
        return {"customer": render(found(customer, what))}

    @get(
        "/customers/name/{name:str}",
        operation_id="vayuGetCustomerByName",
        responses=answers(vayu_docs.CUSTOMER, one),
    )
    async def by_name(request: Request[Any, Any, Any], name: FromPath[str]) -> dict[str, Any]:
        grant = await authorize(request, access)
        customer = await customers.find_by_attribute(grant.tenant, "name", name)
        return {"customer": render(found(customer, f"name {name!r}"))}

    @get(
        "/customers",
        operation_id="vayuListCustomers",
        responses=vayu_docs.answers(
            VayuCustomerPage, vayu_docs.CUSTOMER_PAGE, (400, 401, 429, 503), dresser=_on_error
        ),
    )
    async def list_customers(
        request: Request[Any, Any, Any], limit: Limit = None, cursor: Cursor = None
    ) -> dict[str, Any]:
        """In id order; `nextCursor` goes back as `cursor`. `total` counts every customer.
        (`limit` and `cursor` are declared for the document and read below, as Vayu's events
        query reads them.)"""
        grant = await authorize(request, access)
        cursor = request.query_params.get("cursor")
        page = await customers.page(
            grant.tenant, decode_cursor(cursor) if cursor else None, limit_param(request)
        )
        last = page.customers[-1].id if page.customers else None
        return {
            "customers": [render(customer) for customer in page.customers],
            "total": await customers.count(grant.tenant),
            "hasMore": page.has_more,
            "nextCursor": encode_cursor(last) if page.has_more and last is not None else None,
        }

    @put(
        "/customers/{customer_id:str}",
        operation_id="vayuUpdateCustomer",
        status_code=200,
        dependencies=request_body(
            VayuCustomerFields, vayu_docs.CUSTOMER_CHANGES, "The fields to change."
        ),
        responses=answers(
            {**vayu_docs.CUSTOMER, **vayu_docs.CUSTOMER_CHANGES}, (*writes, 404), "Changed."
        ),
    )
    async def update_customer(
        request: Request[Any, Any, Any], customer_id: FromPath[str]
    ) -> dict[str, Any]:
        """Change the fields sent (null removes one); `aliases`, when sent, replaces them."""
        grant = await authorize(request, access)
        fields = _fields(await body_reader.read(request))
        current = found(await customers.get(grant.tenant, customer_id), f"id {customer_id!r}")
        doc = document(customer_id, fields, current.attributes)
        if "aliases" not in fields:
            doc["aliases"] = current.aliases
        doc["email"] = current.email
        stored, _created = await customers.put(
            grant.tenant, customers.customer_from(doc, id=customer_id)
        )
        return {"customer": render(stored)}

    @delete(
        "/customers/{customer_id:str}",
        operation_id="vayuDeleteCustomer",
        status_code=200,
        responses=answers(
            {**vayu_docs.CUSTOMER, "deletedAt": "2023-09-14T09:00:00.000Z"}, one, "Deleted."
        ),
    )
    async def delete_customer(
        request: Request[Any, Any, Any], customer_id: FromPath[str]
    ) -> dict[str, Any]:
        grant = await authorize(request, access)
        current = found(await customers.get(grant.tenant, customer_id), f"id {customer_id!r}")
        if not await customers.delete(grant.tenant, customer_id):
            raise NotFoundException(f"No customer with id {customer_id!r}.")
        deleted_at = iso_millis(time.time_ns() // 1000)
        return {"customer": {**render(current), "deletedAt": deleted_at}}

    return Router(
        path="/",
        route_handlers=[
            create_customer,
            get_customer,
            by_external_id,
            by_name,
            list_customers,
            update_customer,
            delete_customer,
        ],
        exception_handlers={Exception: _on_error},
        security=SECURITY,
        tags=["vayu"],
    )
