"""The PostgreSQL store's customer registry.

Writes run in a transaction that first takes the tenant's registry lock, so the check a put
makes (who holds this alias, this email) and the write it guards are not split by another
instance writing the same tenant's registry. Reads need no lock.
"""

from __future__ import annotations

import json
import time
from collections.abc import Collection, Sequence
from typing import Any

from psycopg import AsyncConnection

from sluice.errors import CustomerConflict
from sluice.model import Customer
from sluice.storage.customer_batches import (
    FIELDS,
    Holdings,
    RolledBack,
    customer_from_row,
    email_key,
    merged,
    replay,
    row_values,
    to_json,
    undo_unless_kept,
)
from sluice.storage.postgres.database import PostgresDatabase

_COLUMNS = ", ".join(FIELDS)

# Advisory lock per (schema, tenant): registry writers of one tenant take turns.
REGISTRY_LOCK_CLASS = 0x51CE0003

_UPSERT = """
    INSERT INTO customers (tenant, id, email, email_key, aliases, attributes, created_at,
                           updated_at)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
    ON CONFLICT (tenant, id) DO UPDATE SET
        email = excluded.email, email_key = excluded.email_key, aliases = excluded.aliases,
        attributes = excluded.attributes, updated_at = excluded.updated_at
"""

# An id wins over an alias: a customer whose id is X is the match for X even if another
# customer lists X among its aliases.
_FIND_BY_ALIAS = f"""
    SELECT {_COLUMNS} FROM (
        SELECT {_COLUMNS}, 0 AS rank FROM customers WHERE tenant = %(tenant)s AND id = %(alias)s
        UNION ALL
        SELECT {", ".join("c." + name for name in FIELDS)}, 1 AS rank
        FROM customer_aliases AS a
        JOIN customers AS c ON c.tenant = a.tenant AND c.id = a.customer_id
        WHERE a.tenant = %(tenant)s AND a.alias = %(alias)s
    ) AS found ORDER BY rank LIMIT 1
"""


async def lock_registry(conn: AsyncConnection[Any], tenant: str) -> None:
    await conn.execute(
        "SELECT pg_advisory_xact_lock(%s, hashtext(current_schema() || '/' || %s))",
        [REGISTRY_LOCK_CLASS, tenant],
    )


async def put(conn: AsyncConnection[Any], tenant: str, customer: Customer) -> Customer:
    refused = await put_many(conn, tenant, [customer])
    if refused:
        raise refused[0]
    stored = await get(conn, tenant, customer.id)
    assert stored is not None
    return stored


async def put_many(
    conn: AsyncConnection[Any], tenant: str, customers: Sequence[Customer]
) -> dict[int, CustomerConflict]:
    """Upsert customers in order, as one put after another would (customer_batches.replay).

    Runs inside the caller's transaction, which holds the tenant's registry lock.
    """
    await lock_registry(conn, tenant)
    plan = replay(customers, await _holdings(conn, tenant, customers))
    async with conn.cursor() as cursor:
        rows = [row_values(tenant, customers[index]) for index in plan.stored]
        if rows:
            await cursor.executemany(_UPSERT, rows)
        if plan.freed_aliases:
            await cursor.execute(
                "DELETE FROM customer_aliases WHERE tenant = %s AND alias = ANY(%s)",
                [tenant, plan.freed_aliases],
            )
        if plan.taken_aliases:
            await cursor.execute(
                "INSERT INTO customer_aliases (tenant, alias, customer_id) "
                "SELECT %s, alias, owner FROM unnest(%s::text[], %s::text[]) AS t (alias, owner)",
                [tenant, *map(list, zip(*plan.taken_aliases, strict=True))],
            )
    return plan.refused


async def _holdings(
    conn: AsyncConnection[Any], tenant: str, customers: Sequence[Customer]
) -> Holdings:
    holdings = Holdings()
    ids = [customer.id for customer in customers]
    cursor = await conn.execute(
        "SELECT id, aliases, email_key FROM customers WHERE tenant = %s AND id = ANY(%s)",
        [tenant, ids],
    )
    for id_, aliases, key in await cursor.fetchall():
        holdings.aliases[id_] = json.loads(aliases)
        holdings.emails[id_] = key
    aliases = [alias for customer in customers for alias in customer.aliases]
    cursor = await conn.execute(
        "SELECT alias, customer_id FROM customer_aliases WHERE tenant = %s AND alias = ANY(%s)",
        [tenant, aliases],
    )
    holdings.alias_owners = dict(await cursor.fetchall())
    keys = [email_key(c.email) for c in customers if c.email is not None]
    cursor = await conn.execute(
        "SELECT email_key, id FROM customers WHERE tenant = %s AND email_key = ANY(%s)",
        [tenant, keys],
    )
    holdings.email_owners = dict(await cursor.fetchall())
    return holdings


async def delete(conn: AsyncConnection[Any], tenant: str, id: str) -> bool:
    await lock_registry(conn, tenant)
    cursor = await conn.execute(
        "DELETE FROM customers WHERE tenant = %s AND id = %s RETURNING aliases", [tenant, id]
    )
    row = await cursor.fetchone()
    if row is None:
        return False
    await conn.execute(
        "DELETE FROM customer_aliases WHERE tenant = %s AND alias = ANY(%s) AND customer_id = %s",
        [tenant, json.loads(row[0]), id],
    )
    return True


async def get(conn: AsyncConnection[Any], tenant: str, id: str) -> Customer | None:
    cursor = await conn.execute(
        f"SELECT {_COLUMNS} FROM customers WHERE tenant = %s AND id = %s", [tenant, id]
    )
    row = await cursor.fetchone()
    return None if row is None else customer_from_row(row)


async def page(
    conn: AsyncConnection[Any], tenant: str, after_id: str | None, limit: int
) -> list[Customer]:
    # customers.id is COLLATE "C": by code point, as the SQLite store lists them.
    if after_id is None:
        sql = f"SELECT {_COLUMNS} FROM customers WHERE tenant = %s ORDER BY id LIMIT %s"
        params: list[Any] = [tenant, limit]
    else:
        sql = f"SELECT {_COLUMNS} FROM customers WHERE tenant = %s AND id > %s ORDER BY id LIMIT %s"
        params = [tenant, after_id, limit]
    cursor = await conn.execute(sql, params)
    return [customer_from_row(row) for row in await cursor.fetchall()]


async def find(
    conn: AsyncConnection[Any], tenant: str, email: str | None, alias: str | None
) -> Customer | None:
    if (email is None) == (alias is None):
        raise ValueError("find_customer takes exactly one of email and alias")
    if email is not None:
        cursor = await conn.execute(
            f"SELECT {_COLUMNS} FROM customers WHERE tenant = %s AND email_key = %s",
            [tenant, email_key(email)],
        )
    else:
        cursor = await conn.execute(_FIND_BY_ALIAS, {"tenant": tenant, "alias": alias})
    row = await cursor.fetchone()
    return None if row is None else customer_from_row(row)


async def known_ids(conn: AsyncConnection[Any], tenant: str, ids: Collection[str]) -> set[str]:
    cursor = await conn.execute(
        "SELECT id FROM customers WHERE tenant = %s AND id = ANY(%s)", [tenant, list(ids)]
    )
    return {id_ for (id_,) in await cursor.fetchall()}


async def count(conn: AsyncConnection[Any], tenant: str) -> int:
    cursor = await conn.execute("SELECT count(*) FROM customers WHERE tenant = %s", [tenant])
    row = await cursor.fetchone()
    assert row is not None
    total: int = row[0]
    return total


async def by_attribute(
    conn: AsyncConnection[Any], tenant: str, key: str, value: str
) -> Customer | None:
    # attributes is JSON text (key order kept for reads); parsed here for the lookup only.
    sql = (
        f"SELECT {_COLUMNS} FROM customers WHERE tenant = %(tenant)s "
        "AND jsonb_typeof(attributes::jsonb -> %(key)s) = 'string' "
        "AND attributes::jsonb ->> %(key)s = %(value)s ORDER BY id LIMIT 1"
    )
    cursor = await conn.execute(sql, {"tenant": tenant, "key": key, "value": value})
    row = await cursor.fetchone()
    return None if row is None else customer_from_row(row)


async def merge_attributes(
    conn: AsyncConnection[Any], tenant: str, id: str, changes: dict[str, Any], now_us: int
) -> Customer | None:
    """Read-modify-write under the row's lock (FOR UPDATE), so concurrent merges serialise."""
    cursor = await conn.execute(
        "SELECT attributes FROM customers WHERE tenant = %s AND id = %s FOR UPDATE", [tenant, id]
    )
    row = await cursor.fetchone()
    if row is None:
        return None
    attributes = merged(json.loads(row[0]), changes)
    cursor = await conn.execute(
        f"UPDATE customers SET attributes = %s, updated_at = %s WHERE tenant = %s AND id = %s "
        f"RETURNING {_COLUMNS}",
        [to_json(attributes), now_us, tenant, id],
    )
    updated = await cursor.fetchone()
    assert updated is not None
    return customer_from_row(updated)


class PostgresCustomerStore(PostgresDatabase):
    """CustomerStore over PostgreSQL: each call one pooled connection, writes in a transaction."""

    async def put_customer(self, tenant: str, customer: Customer) -> Customer:
        async with self._connection() as conn, conn.transaction():
            return await put(conn, tenant, customer)

    async def put_customers(
        self,
        tenant: str,
        customers: Sequence[Customer],
        *,
        all_or_nothing: bool = False,
        dry_run: bool = False,
    ) -> dict[int, CustomerConflict]:
        try:
            async with self._connection() as conn, conn.transaction():
                refused = await put_many(conn, tenant, customers)
                return undo_unless_kept(refused, all_or_nothing=all_or_nothing, dry_run=dry_run)
        except RolledBack as undone:
            return undone.refused

    async def get_customer(self, tenant: str, id: str) -> Customer | None:
        async with self._connection() as conn:
            return await get(conn, tenant, id)

    async def delete_customer(self, tenant: str, id: str) -> bool:
        async with self._connection() as conn, conn.transaction():
            return await delete(conn, tenant, id)

    async def list_customers(self, tenant: str, after_id: str | None, limit: int) -> list[Customer]:
        async with self._connection() as conn:
            return await page(conn, tenant, after_id, limit)

    async def find_customer(
        self, tenant: str, *, email: str | None = None, alias: str | None = None
    ) -> Customer | None:
        async with self._connection() as conn:
            return await find(conn, tenant, email, alias)

    async def known_customer_ids(self, tenant: str, ids: Collection[str]) -> set[str]:
        async with self._connection() as conn:
            return await known_ids(conn, tenant, ids)

    async def count_customers(self, tenant: str) -> int:
        async with self._connection() as conn:
            return await count(conn, tenant)

    async def find_customer_by_attribute(
        self, tenant: str, key: str, value: str
    ) -> Customer | None:
        async with self._connection() as conn:
            return await by_attribute(conn, tenant, key, value)

    async def merge_customer_attributes(
        self, tenant: str, id: str, changes: dict[str, Any], now_us: int | None = None
    ) -> Customer | None:
        at = time.time_ns() // 1000 if now_us is None else now_us
        async with self._connection() as conn, conn.transaction():
            return await merge_attributes(conn, tenant, id, changes, at)
