"""The customer registry's SQL for the SQLite store.

Each function runs on the connection SqliteStore hands it: writes inside the writer thread's
transaction (so a check and the write it guards cannot be split by another writer), reads on
a WAL reader.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Sequence
from typing import Any

from sluice.errors import CustomerConflict
from sluice.storage import Customer

_FIELDS = ("id", "aliases", "email", "attributes", "created_at", "updated_at")
_COLUMNS = ", ".join(_FIELDS)

_UPSERT = """
    INSERT INTO customers (tenant, id, email, email_key, aliases, attributes, created_at,
                           updated_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (tenant, id) DO UPDATE SET
        email = excluded.email, email_key = excluded.email_key, aliases = excluded.aliases,
        attributes = excluded.attributes, updated_at = excluded.updated_at
"""

# An id wins over an alias: a customer whose id is X is the match for X even if another
# customer lists X among its aliases.
_FIND_BY_ALIAS = f"""
    SELECT {_COLUMNS} FROM (
        SELECT {_COLUMNS}, 0 AS rank FROM customers WHERE tenant = ?1 AND id = ?2
        UNION ALL
        SELECT {", ".join("c." + name for name in _FIELDS)}, 1 AS rank
        FROM customer_aliases AS a
        JOIN customers AS c ON c.tenant = a.tenant AND c.id = a.customer_id
        WHERE a.tenant = ?1 AND a.alias = ?2
    ) ORDER BY rank LIMIT 1
"""

# Lookups of many keys in one query. CROSS JOIN keeps the given keys (a JSON array) as the
# outer loop: one index probe per key, never a scan of the tenant's customers.
_BY_IDS = """
    SELECT c.id, c.aliases FROM json_each(?1) AS given CROSS JOIN customers AS c
    WHERE c.tenant = ?2 AND c.id = given.value
"""
_ALIAS_OWNERS = """
    SELECT a.alias, a.customer_id FROM json_each(?1) AS given CROSS JOIN customer_aliases AS a
    WHERE a.tenant = ?2 AND a.alias = given.value
"""


# Built once: json.dumps with options builds a new encoder per call, a third of a row's cost.
_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


def _customer(row: Sequence[Any]) -> Customer:
    id_, aliases, email, attributes, created_at, updated_at = row
    return Customer(id_, json.loads(aliases), email, json.loads(attributes), created_at, updated_at)


def _email_key(email: str | None) -> str | None:
    return None if email is None else email.casefold()


def put(conn: sqlite3.Connection, tenant: str, customer: Customer) -> Customer:
    refused = put_many(conn, tenant, [customer])
    if refused:
        raise refused[0]
    stored = get(conn, tenant, customer.id)
    assert stored is not None
    return stored


def put_many(
    conn: sqlite3.Connection, tenant: str, customers: Sequence[Customer]
) -> dict[int, CustomerConflict]:
    """Upsert customers in order, as one put after another would, refusing (writing nothing
    for) one whose alias or email another customer holds at that point.

    Two queries fetch what the batch's ids hold and who holds its aliases; the alias checks
    are then replayed in memory, so each customer costs one upsert (whose email index still
    catches email conflicts in order), and the aliases' final owners are written at the end.
    """
    ids = _json([customer.id for customer in customers])
    held: dict[str, list[str]] = {
        id_: json.loads(aliases) for id_, aliases in conn.execute(_BY_IDS, (ids, tenant))
    }
    wanted = _json([alias for customer in customers for alias in customer.aliases])
    owners: dict[str, str | None] = dict(conn.execute(_ALIAS_OWNERS, (wanted, tenant)))
    owners.update((alias, id_) for id_, aliases in held.items() for alias in aliases)
    before = dict(owners)
    refused: dict[int, CustomerConflict] = {}
    for index, customer in enumerate(customers):
        old = held.get(customer.id, [])
        added = [alias for alias in dict.fromkeys(customer.aliases) if alias not in old]
        taken = next((a for a in added if owners.get(a) not in (None, customer.id)), None)
        if taken is not None:
            refused[index] = CustomerConflict(
                "aliases", f"Alias {taken!r} belongs to customer {owners[taken]!r}."
            )
            continue
        try:
            conn.execute(_UPSERT, _row(tenant, customer))
        except sqlite3.IntegrityError as exc:
            refused[index] = _email_conflict(conn, tenant, customer, exc)
            continue
        owners.update((alias, None) for alias in old if alias not in customer.aliases)
        owners.update((alias, customer.id) for alias in added)
        held[customer.id] = customer.aliases
    changed = [(alias, owner) for alias, owner in owners.items() if before.get(alias) != owner]
    _free_aliases(conn, tenant, [alias for alias, _ in changed if before.get(alias) is not None])
    conn.executemany(
        "INSERT INTO customer_aliases (tenant, alias, customer_id) VALUES (?, ?, ?)",
        [(tenant, alias, owner) for alias, owner in changed if owner is not None],
    )
    return refused


def _row(tenant: str, customer: Customer) -> tuple[Any, ...]:
    return (
        tenant,
        customer.id,
        customer.email,
        _email_key(customer.email),
        _json(customer.aliases),
        _json(customer.attributes),
        customer.created_at,
        customer.updated_at,
    )


def _email_conflict(
    conn: sqlite3.Connection, tenant: str, customer: Customer, error: sqlite3.IntegrityError
) -> CustomerConflict:
    # An upsert on (tenant, id) can only trip the email's unique index; anything else is a
    # bug and is raised as the IntegrityError it is.
    key = _email_key(customer.email)
    row = conn.execute(
        "SELECT id FROM customers WHERE tenant = ? AND email_key = ?", (tenant, key)
    ).fetchone()
    if row is None:
        raise error
    return CustomerConflict("email", f"Email {customer.email!r} belongs to customer {row[0]!r}.")


def _free_aliases(conn: sqlite3.Connection, tenant: str, aliases: Collection[str]) -> None:
    conn.executemany(
        "DELETE FROM customer_aliases WHERE tenant = ? AND alias = ?",
        [(tenant, alias) for alias in aliases],
    )


def delete(conn: sqlite3.Connection, tenant: str, id: str) -> bool:
    row = conn.execute(
        "DELETE FROM customers WHERE tenant = ? AND id = ? RETURNING aliases", (tenant, id)
    ).fetchall()
    if not row:
        return False
    _free_aliases(conn, tenant, json.loads(row[0][0]))
    return True


def get(conn: sqlite3.Connection, tenant: str, id: str) -> Customer | None:
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM customers WHERE tenant = ? AND id = ?", (tenant, id)
    ).fetchone()
    return None if row is None else _customer(row)


def page(conn: sqlite3.Connection, tenant: str, after_id: str | None, limit: int) -> list[Customer]:
    if after_id is None:
        sql = f"SELECT {_COLUMNS} FROM customers WHERE tenant = ? ORDER BY id LIMIT ?"
        params: tuple[Any, ...] = (tenant, limit)
    else:
        sql = f"SELECT {_COLUMNS} FROM customers WHERE tenant = ? AND id > ? ORDER BY id LIMIT ?"
        params = (tenant, after_id, limit)
    return [_customer(row) for row in conn.execute(sql, params)]


def find(
    conn: sqlite3.Connection, tenant: str, email: str | None, alias: str | None
) -> Customer | None:
    if (email is None) == (alias is None):
        raise ValueError("find_customer takes exactly one of email and alias")
    if email is not None:
        sql = f"SELECT {_COLUMNS} FROM customers WHERE tenant = ? AND email_key = ?"
        row = conn.execute(sql, (tenant, _email_key(email))).fetchone()
    else:
        row = conn.execute(_FIND_BY_ALIAS, (tenant, alias)).fetchone()
    return None if row is None else _customer(row)


def known_ids(conn: sqlite3.Connection, tenant: str, ids: Collection[str]) -> set[str]:
    return {id_ for id_, _aliases in conn.execute(_BY_IDS, (_json(list(ids)), tenant))}


def merge_attributes(
    conn: sqlite3.Connection, tenant: str, id: str, changes: dict[str, Any], now_us: int
) -> Customer | None:
    row = conn.execute(
        "SELECT attributes FROM customers WHERE tenant = ? AND id = ?", (tenant, id)
    ).fetchone()
    if row is None:
        return None
    attributes: dict[str, Any] = json.loads(row[0])
    for key, value in changes.items():
        if value is None:
            attributes.pop(key, None)
        else:
            attributes[key] = value
    (updated,) = conn.execute(
        f"UPDATE customers SET attributes = ?, updated_at = ? WHERE tenant = ? AND id = ? "
        f"RETURNING {_COLUMNS}",
        (_json(attributes), now_us, tenant, id),
    ).fetchall()
    return _customer(updated)
