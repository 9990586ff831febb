"""What a batch of customer puts does to a tenant's registry, decided in memory.

Every store fetches what the batch's ids, aliases and emails hold (`Holdings`), lets
`replay` play the puts one after another exactly as single puts would go, and then writes the
outcome (`Plan`) in a few statements. The rows' own shape (JSON text for aliases and
attributes, the casefolded email key) is shared here too, so both stores read and write alike.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sluice.errors import CustomerConflict
from sluice.model import Customer

# Column order of every customer read (after the tenant).
FIELDS = ("id", "aliases", "email", "attributes", "created_at", "updated_at")

# Built once: json.dumps with options builds a new encoder per call, a third of a row's cost.
to_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


class RolledBack(Exception):
    """Raised inside a batch's transaction to undo it (all or nothing, or a dry run); carries
    the refusals the batch would have had."""

    def __init__(self, refused: dict[int, CustomerConflict]) -> None:
        super().__init__(f"{len(refused)} refused")
        self.refused = refused


def undo_unless_kept(
    refused: dict[int, CustomerConflict], *, all_or_nothing: bool, dry_run: bool
) -> dict[int, CustomerConflict]:
    """put_customers' modes, decided inside the transaction: raise RolledBack to undo it."""
    if dry_run or (all_or_nothing and refused):
        raise RolledBack(refused)
    return refused


def customer_from_row(row: Sequence[Any]) -> Customer:
    id_, aliases, email, attributes, created_at, updated_at = row
    return Customer(id_, json.loads(aliases), email, json.loads(attributes), created_at, updated_at)


def email_key(email: str | None) -> str | None:
    """Emails are unique per tenant whatever their case."""
    return None if email is None else email.casefold()


def row_values(tenant: str, customer: Customer) -> tuple[Any, ...]:
    """(tenant, id, email, email_key, aliases, attributes, created_at, updated_at)."""
    return (
        tenant,
        customer.id,
        customer.email,
        email_key(customer.email),
        to_json(customer.aliases),
        to_json(customer.attributes),
        customer.created_at,
        customer.updated_at,
    )


def merged(attributes: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A shallow merge where a None value removes its key (profiles' update and login)."""
    result = dict(attributes)
    for key, value in changes.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = value
    return result


@dataclass
class Holdings:
    """What the stored registry holds of the names a batch touches."""

    aliases: dict[str, list[str]] = field(default_factory=dict)  # batch id -> its aliases
    emails: dict[str, str | None] = field(default_factory=dict)  # batch id -> its email key
    alias_owners: dict[str, str] = field(default_factory=dict)  # batch alias -> holder id
    email_owners: dict[str, str] = field(default_factory=dict)  # batch email key -> holder id


@dataclass
class Plan:
    """What to write: the puts to upsert (by index, in order) and the alias index's changes."""

    stored: list[int] = field(default_factory=list)
    refused: dict[int, CustomerConflict] = field(default_factory=dict)
    freed_aliases: list[str] = field(default_factory=list)  # held before, by someone else now
    taken_aliases: list[tuple[str, str]] = field(default_factory=list)  # (alias, new holder)


def replay(customers: Sequence[Customer], holdings: Holdings) -> Plan:
    """Play the puts in order, refusing one (which then changes nothing) whose new alias or
    email another customer holds at that point. Upserting `plan.stored` in order then never
    trips a unique index, as each of those puts was checked against everything before it."""
    held = dict(holdings.aliases)
    emails = dict(holdings.emails)
    alias_owner: dict[str, str | None] = dict(holdings.alias_owners)
    alias_owner.update((alias, id_) for id_, aliases in held.items() for alias in aliases)
    email_owner: dict[str, str | None] = dict(holdings.email_owners)
    email_owner.update((key, id_) for id_, key in emails.items() if key is not None)
    before = dict(alias_owner)
    plan = Plan()
    for index, customer in enumerate(customers):
        old = held.get(customer.id, [])
        added = [alias for alias in dict.fromkeys(customer.aliases) if alias not in old]
        taken = next((a for a in added if alias_owner.get(a) not in (None, customer.id)), None)
        if taken is not None:
            plan.refused[index] = CustomerConflict(
                "aliases", f"Alias {taken!r} belongs to customer {alias_owner[taken]!r}."
            )
            continue
        key = email_key(customer.email)
        holder = None if key is None else email_owner.get(key)
        if holder not in (None, customer.id):
            plan.refused[index] = CustomerConflict(
                "email", f"Email {customer.email!r} belongs to customer {holder!r}."
            )
            continue
        old_key = emails.get(customer.id)
        if old_key is not None and old_key != key:
            email_owner[old_key] = None
        if key is not None:
            email_owner[key] = customer.id
        emails[customer.id] = key
        alias_owner.update((alias, None) for alias in old if alias not in customer.aliases)
        alias_owner.update((alias, customer.id) for alias in added)
        held[customer.id] = customer.aliases
        plan.stored.append(index)
    for alias, owner in alias_owner.items():
        if before.get(alias) == owner:
            continue
        if before.get(alias) is not None:
            plan.freed_aliases.append(alias)
        if owner is not None:
            plan.taken_aliases.append((alias, owner))
    return plan
