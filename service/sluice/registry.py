"""The customer registry (docs/contracts.md §1): what a valid customer is, over the store."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sluice.errors import CustomerConflict, InvalidCustomer
from sluice.model import Customer
from sluice.storage import CustomerStore

MAX_ID_LENGTH = 256
MAX_ALIASES = 100
MAX_EMAIL_LENGTH = 254  # the longest address SMTP can carry (RFC 5321)
MAX_PAGE = 1000
FIELDS = ("id", "aliases", "email", "attributes")
# What a client read from us and may send back unchanged (GET, edit, PUT): accepted, ignored.
READ_ONLY_FIELDS = ("createdAt", "updatedAt")

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Plausible, not RFC 5322: one @, no whitespace, a dotted domain. Deliverability is not ours
# to judge; catching a name or a phone number typed into the email field is.
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)+")


@dataclass(frozen=True, slots=True)
class CustomerPage:
    customers: list[Customer]
    has_more: bool


def document(customer: Customer) -> dict[str, Any]:
    """A customer's own fields as JSON: the import format, and the start of the HTTP shape."""
    return {
        "id": customer.id,
        "aliases": customer.aliases,
        "email": customer.email,
        "attributes": customer.attributes,
    }


def _name(value: Any, param: str) -> str:
    """An id or alias: it must be matchable against the strings events carry."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidCustomer(param, f"{param} must be a non-empty string.")
    if len(value) > MAX_ID_LENGTH:
        raise InvalidCustomer(param, f"{param} must be at most {MAX_ID_LENGTH} characters.")
    if _CONTROL.search(value):
        raise InvalidCustomer(param, f"{param} must not contain control characters.")
    return value


def _aliases(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidCustomer("aliases", "aliases must be an array of strings.")
    # A repeated alias says nothing new; keep its first place.
    aliases = list(dict.fromkeys(_name(alias, f"aliases[{i}]") for i, alias in enumerate(value)))
    if len(aliases) > MAX_ALIASES:
        raise InvalidCustomer("aliases", f"A customer has at most {MAX_ALIASES} aliases.")
    return aliases


def _email(value: Any) -> str | None:
    if value is None:
        return None
    if (
        not isinstance(value, str)
        or len(value) > MAX_EMAIL_LENGTH
        or _CONTROL.search(value)
        or not _EMAIL.fullmatch(value)
    ):
        raise InvalidCustomer("email", "email must be an email address or null.")
    return value


def _attributes(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidCustomer("attributes", "attributes must be an object.")
    return value


class CustomerRegistry:
    def __init__(
        self, store: CustomerStore, clock_us: Callable[[], int] = lambda: time.time_ns() // 1000
    ) -> None:
        self._store = store
        self._clock_us = clock_us
        self._last_us = 0

    def _now(self) -> int:
        # Strictly increasing, so put() can tell a customer it created (the store kept the
        # created_at it was given) from one it replaced, even within one microsecond.
        self._last_us = max(self._clock_us(), self._last_us + 1)
        return self._last_us

    def customer_from(self, fields: Mapping[str, Any], id: str | None = None) -> Customer:
        """A valid customer from a JSON document; InvalidCustomer names the first bad field.

        `id` is the one the caller addressed (a URL path); the document may repeat it. Absent
        or null aliases, email and attributes mean none: the document is the whole customer.
        """
        for key in fields:
            if key not in FIELDS and key not in READ_ONLY_FIELDS:
                raise InvalidCustomer(
                    key, f"Unknown field {key!r}; a customer has {', '.join(FIELDS)}."
                )
        if id is None:
            id = fields.get("id")
        elif fields.get("id", id) != id:
            raise InvalidCustomer("id", "The id in the body differs from the one addressed.")
        now = self._now()
        return Customer(
            id=_name(id, "id"),
            aliases=_aliases(fields.get("aliases")),
            email=_email(fields.get("email")),
            attributes=_attributes(fields.get("attributes")),
            created_at=now,
            updated_at=now,
        )

    async def put(self, tenant: str, customer: Customer) -> tuple[Customer, bool]:
        """Store (insert or replace) a customer; the stored one, and whether it is new."""
        stored = await self._store.put_customer(tenant, customer)
        return stored, stored.created_at == customer.created_at

    async def put_many(
        self,
        tenant: str,
        customers: Sequence[Customer],
        *,
        all_or_nothing: bool = False,
        dry_run: bool = False,
    ) -> dict[int, CustomerConflict]:
        return await self._store.put_customers(
            tenant, customers, all_or_nothing=all_or_nothing, dry_run=dry_run
        )

    async def get(self, tenant: str, id: str) -> Customer | None:
        return await self._store.get_customer(tenant, id)

    async def delete(self, tenant: str, id: str) -> bool:
        return await self._store.delete_customer(tenant, id)

    async def count(self, tenant: str) -> int:
        return await self._store.count_customers(tenant)

    async def find_by_attribute(self, tenant: str, key: str, value: str) -> Customer | None:
        return await self._store.find_customer_by_attribute(tenant, key, value)

    async def match_aliases(self, tenant: str, aliases: Sequence[str]) -> dict[str, str | None]:
        """alias -> the id of the customer it names (its id or one of its aliases), or None."""
        matched: dict[str, str | None] = {}
        for alias in dict.fromkeys(aliases):
            customer = await self._store.find_customer(tenant, alias=alias)
            matched[alias] = customer.id if customer is not None else None
        return matched

    async def page(self, tenant: str, after_id: str | None, limit: int) -> CustomerPage:
        # One extra row tells whether another page exists without a second query.
        customers = await self._store.list_customers(tenant, after_id, limit + 1)
        return CustomerPage(customers[:limit], len(customers) > limit)

    async def each(self, tenant: str, limit: int | None = None) -> AsyncIterator[Customer]:
        """Every customer of a tenant (up to limit), in id order, a page at a time."""
        after: str | None = None
        remaining = limit
        while remaining is None or remaining > 0:
            size = MAX_PAGE if remaining is None else min(MAX_PAGE, remaining)
            customers = await self._store.list_customers(tenant, after, size)
            for customer in customers:
                yield customer
            if len(customers) < size:
                return
            after = customers[-1].id
            if remaining is not None:
                remaining -= len(customers)
