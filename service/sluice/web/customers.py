"""The customer registry over HTTP (`/v1/customers`), answering in Sluice's own error object."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, Router, delete, get, put
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery, QueryParameter

from sluice.access import AccessControl
from sluice.documents import json_object
from sluice.encoding import b64url_decode, b64url_encode
from sluice.errors import InvalidParameter
from sluice.model import Customer
from sluice.registry import MAX_PAGE, CustomerRegistry, document
from sluice.web.auth import authorize
from sluice.web.body import BodyReader
from sluice.web.errors import sluice_error
from sluice.web.openapi import (
    BY_ID_ERRORS,
    READ_ERRORS,
    SECURITY,
    WRITE_ERRORS,
    error_responses,
    ok,
    request_body,
    responses,
)
from sluice.web.schemas import SluiceError
from sluice.web.schemas_registry import Customer as CustomerShape
from sluice.web.schemas_registry import CustomerPage, CustomerRequest
from sluice.web.times import iso_millis

DEFAULT_PAGE = 100
# `:path` so that an id holding a slash (`org/42`, sent as is or as %2F) is addressable too.
_ONE = "/v1/customers/{customer_id:path}"


def render(customer: Customer) -> dict[str, Any]:
    return {
        **document(customer),
        "createdAt": iso_millis(customer.created_at),
        "updatedAt": iso_millis(customer.updated_at),
    }


def encode_cursor(after_id: str) -> str:
    return b64url_encode(after_id.encode())


def decode_cursor(cursor: str) -> str:
    try:
        after_id = b64url_decode(cursor).decode()
    except ValueError:  # so are binascii.Error and UnicodeDecodeError
        after_id = ""
    if not after_id:
        raise InvalidParameter("cursor", "cursor is not one this API returned.")
    return after_id


def _id(customer_id: str) -> str:
    return customer_id.removeprefix("/")  # a `:path` parameter keeps its leading slash


def router(access: AccessControl, customers: CustomerRegistry, body_reader: BodyReader) -> Router:
    """The customer registry's routes over the services they use."""

    example = {"aliases": ["ent_1"], "email": "ann@example.com", "attributes": {"plan": "pro"}}
    stored = {
        "id": "u1",
        **example,
        "createdAt": "2024-01-01T00:00:00.000Z",
        "updatedAt": "2024-01-01T00:00:00.000Z",
    }

    @put(
        _ONE,
        operation_id="putCustomer",
        dependencies=request_body(CustomerRequest, example, "The customer's fields."),
        responses=responses(
            sluice_error,
            SluiceError,
            (*WRITE_ERRORS, 409),
            {
                200: ok(CustomerShape, stored, "Replaced."),
                201: ok(CustomerShape, stored, "Created."),
            },
        ),
    )
    async def put_customer(
        request: Request[Any, Any, Any], customer_id: FromPath[str]
    ) -> Response[Any]:
        """Create or replace a customer: `{aliases?, email?, attributes?}`; 201 when created."""
        grant = await authorize(request, access)
        body = await body_reader.read(request)
        fields = json_object(body, empty_is_nothing=True)
        customer = customers.customer_from(fields, id=_id(customer_id))
        stored, created = await customers.put(grant.tenant, customer)
        return Response(render(stored), status_code=201 if created else 200)

    @get(
        _ONE,
        operation_id="getCustomer",
        responses=responses(
            sluice_error, SluiceError, BY_ID_ERRORS, {200: ok(CustomerShape, stored)}
        ),
    )
    async def get_customer(
        request: Request[Any, Any, Any], customer_id: FromPath[str]
    ) -> dict[str, Any]:
        grant = await authorize(request, access)
        customer = await customers.get(grant.tenant, _id(customer_id))
        if customer is None:
            raise NotFoundException(f"No customer with id {_id(customer_id)!r}.")
        return render(customer)

    @delete(
        _ONE,
        operation_id="deleteCustomer",
        status_code=204,
        responses=error_responses(sluice_error, SluiceError, BY_ID_ERRORS),
    )
    async def delete_customer(request: Request[Any, Any, Any], customer_id: FromPath[str]) -> None:
        """Delete a customer; its aliases and email become free for others."""
        grant = await authorize(request, access)
        if not await customers.delete(grant.tenant, _id(customer_id)):
            raise NotFoundException(f"No customer with id {_id(customer_id)!r}.")

    @get(
        "/v1/customers",
        operation_id="listCustomers",
        responses=responses(
            sluice_error,
            SluiceError,
            READ_ERRORS,
            # Litestar leaves out the nulls of examples: a page with more shows its cursor.
            {200: ok(CustomerPage, {"customers": [stored], "nextCursor": "dTE", "hasMore": True})},
        ),
    )
    async def list_customers(
        request: Request[Any, Any, Any],
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
        cursor: FromQuery[str | None] = None,
    ) -> dict[str, Any]:
        """The tenant's customers in id order; pass `nextCursor` back as `cursor` for the next
        page."""
        grant = await authorize(request, access)
        after_id = decode_cursor(cursor) if cursor else None
        page = await customers.page(grant.tenant, after_id, limit)
        last = page.customers[-1].id if page.customers else None
        return {
            "customers": [render(customer) for customer in page.customers],
            "nextCursor": encode_cursor(last) if page.has_more and last is not None else None,
            "hasMore": page.has_more,
        }

    return Router(
        path="/",
        route_handlers=[put_customer, get_customer, delete_customer, list_customers],
        exception_handlers={Exception: sluice_error},
        security=SECURITY,
        tags=["customers"],
    )
