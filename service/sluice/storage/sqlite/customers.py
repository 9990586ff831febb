"""The SQLite store's customer registry.

Each function runs on the connection SqliteCustomerStore hands it: writes inside the writer
thread's transaction (so a check and the write it guards cannot be split by another writer),
reads on a WAL reader.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Collection, Sequence
from typing import Any

from sluice.errors import CustomerConflict
from sluice.model import Customer
from sluice.storage.customer_batches import (
    FIELDS,
    Holdings,
    RolledBack,
    email_key,
    merged,
    replay,
    row_values,
    to_json,
    undo_unless_kept,
)
from sluice.storage.customer_batches import customer_from_row as _customer
from sluice.storage.sqlite.database import SqliteDatabase

_COLUMNS = ", ".join(FIELDS)

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
        SELECT {", ".join("c." + name for name in FIELDS)}, 1 AS rank
        FROM customer_aliases AS a
        JOIN customers AS c ON c.tenant = a.tenant AND c.id = a.customer_id
        WHERE a.tenant = ?1 AND a.alias = ?2
    ) ORDER BY rank LIMIT 1
"""

# Lookups of many keys in one query. CROSS JOIN keeps the given keys (a JSON array) as the
# outer loop: one index probe per key, never a scan of the tenant's customers.
_BY_IDS = """
    SELECT c.id, c.aliases, c.email_key FROM json_each(?1) AS given CROSS JOIN customers AS c
    WHERE c.tenant = ?2 AND c.id = given.value
"""
_ALIAS_OWNERS = """
    SELECT a.alias, a.customer_id FROM json_each(?1) AS given CROSS JOIN customer_aliases AS a
    WHERE a.tenant = ?2 AND a.alias = given.value
"""
_EMAIL_OWNERS = """
    SELECT c.email_key, c.id FROM json_each(?1) AS given CROSS JOIN customers AS c
    WHERE c.tenant = ?2 AND c.email_key = given.value
"""


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
    for) one whose alias or email another customer holds at that point (customer_batches).

    Three queries fetch what the batch's ids, aliases and emails hold; one executemany
    upserts the customers that were not refused, and the aliases' final owners are written.
    """
    plan = replay(customers, _holdings(conn, tenant, customers))
    conn.executemany(_UPSERT, [row_values(tenant, customers[index]) for index in plan.stored])
    _free_aliases(conn, tenant, plan.freed_aliases)
    conn.executemany(
        "INSERT INTO customer_aliases (tenant, alias, customer_id) VALUES (?, ?, ?)",
        [(tenant, alias, owner) for alias, owner in plan.taken_aliases],
    )
    return plan.refused


def _holdings(conn: sqlite3.Connection, tenant: str, customers: Sequence[Customer]) -> Holdings:
    holdings = Holdings()
    ids = to_json([customer.id for customer in customers])
    for id_, aliases, key in conn.execute(_BY_IDS, (ids, tenant)):
        holdings.aliases[id_] = json.loads(aliases)
        holdings.emails[id_] = key
    wanted = to_json([alias for customer in customers for alias in customer.aliases])
    holdings.alias_owners = dict(conn.execute(_ALIAS_OWNERS, (wanted, tenant)))
    keys = to_json([email_key(c.email) for c in customers if c.email is not None])
    holdings.email_owners = dict(conn.execute(_EMAIL_OWNERS, (keys, tenant)))
    return holdings


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
        row = conn.execute(sql, (tenant, email_key(email))).fetchone()
    else:
        row = conn.execute(_FIND_BY_ALIAS, (tenant, alias)).fetchone()
    return None if row is None else _customer(row)


def known_ids(conn: sqlite3.Connection, tenant: str, ids: Collection[str]) -> set[str]:
    return {id_ for id_, _aliases, _key in conn.execute(_BY_IDS, (to_json(list(ids)), tenant))}


def count(conn: sqlite3.Connection, tenant: str) -> int:
    total: int = conn.execute(
        "SELECT count(*) FROM customers WHERE tenant = ?", (tenant,)
    ).fetchone()[0]
    return total


def by_attribute(conn: sqlite3.Connection, tenant: str, key: str, value: str) -> Customer | None:
    path = "$." + json.dumps(key)  # a quoted key: any characters, no path syntax
    sql = (
        f"SELECT {_COLUMNS} FROM customers WHERE tenant = ? AND json_type(attributes, ?) = 'text' "
        "AND json_extract(attributes, ?) = ? ORDER BY id LIMIT 1"
    )
    row = conn.execute(sql, (tenant, path, path, value)).fetchone()
    return None if row is None else _customer(row)


def merge_attributes(
    conn: sqlite3.Connection, tenant: str, id: str, changes: dict[str, Any], now_us: int
) -> Customer | None:
    row = conn.execute(
        "SELECT attributes FROM customers WHERE tenant = ? AND id = ?", (tenant, id)
    ).fetchone()
    if row is None:
        return None
    attributes = merged(json.loads(row[0]), changes)
    (updated,) = conn.execute(
        f"UPDATE customers SET attributes = ?, updated_at = ? WHERE tenant = ? AND id = ? "
        f"RETURNING {_COLUMNS}",
        (to_json(attributes), now_us, tenant, id),
    ).fetchall()
    return _customer(updated)


class SqliteCustomerStore(SqliteDatabase):
    """CustomerStore over SQLite: writes on the writer thread, reads on WAL readers."""

    async def put_customer(self, tenant: str, customer: Customer) -> Customer:
        return await self._writer.call(lambda conn: put(conn, tenant, customer))

    async def put_customers(
        self,
        tenant: str,
        customers: Sequence[Customer],
        *,
        all_or_nothing: bool = False,
        dry_run: bool = False,
    ) -> dict[int, CustomerConflict]:
        def put(conn: sqlite3.Connection) -> dict[int, CustomerConflict]:
            refused = put_many(conn, tenant, customers)
            return undo_unless_kept(refused, all_or_nothing=all_or_nothing, dry_run=dry_run)

        try:
            return await self._writer.call(put)
        except RolledBack as undone:
            return undone.refused

    async def get_customer(self, tenant: str, id: str) -> Customer | None:
        return await self._read(lambda conn: get(conn, tenant, id))

    async def delete_customer(self, tenant: str, id: str) -> bool:
        return await self._writer.call(lambda conn: delete(conn, tenant, id))

    async def list_customers(self, tenant: str, after_id: str | None, limit: int) -> list[Customer]:
        return await self._read(lambda conn: page(conn, tenant, after_id, limit))

    async def find_customer(
        self, tenant: str, *, email: str | None = None, alias: str | None = None
    ) -> Customer | None:
        return await self._read(lambda conn: find(conn, tenant, email, alias))

    async def known_customer_ids(self, tenant: str, ids: Collection[str]) -> set[str]:
        return await self._read(lambda conn: known_ids(conn, tenant, ids))

    async def count_customers(self, tenant: str) -> int:
        return await self._read(lambda conn: count(conn, tenant))

    async def find_customer_by_attribute(
        self, tenant: str, key: str, value: str
    ) -> Customer | None:
        return await self._read(lambda conn: by_attribute(conn, tenant, key, value))

    async def merge_customer_attributes(
        self, tenant: str, id: str, changes: dict[str, Any], now_us: int | None = None
    ) -> Customer | None:
        at = time.time_ns() // 1000 if now_us is None else now_us
        return await self._writer.call(lambda conn: merge_attributes(conn, tenant, id, changes, at))
