"""The SQLite store's tenants and API keys."""

from __future__ import annotations

import dataclasses
import sqlite3

from sluice.model import ApiKeyRecord
from sluice.storage.api_key_sql import API_KEY_COLUMNS
from sluice.storage.sqlite.database import SqliteDatabase


class SqliteKeyStore(SqliteDatabase):
    """KeyStore over SQLite: writes on the writer thread, lookups on WAL readers."""

    async def ensure_tenant(self, tenant: str, now_us: int) -> None:
        await self._writer.call(
            lambda conn: conn.execute(
                "INSERT INTO tenants (name, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (tenant, now_us),
            )
        )

    async def add_api_key(self, record: ApiKeyRecord) -> None:
        await self._writer.call(
            lambda conn: conn.execute(
                f"INSERT INTO api_keys ({API_KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                dataclasses.astuple(record),
            )
        )

    async def find_api_key(self, key_id: str) -> ApiKeyRecord | None:
        row = await self._read(
            lambda conn: conn.execute(
                f"SELECT {API_KEY_COLUMNS} FROM api_keys WHERE key_id = ?",
                (key_id,),
            ).fetchone()
        )
        return None if row is None else ApiKeyRecord(*row)

    async def set_api_key_rate_limit(self, key_id: str, rate_limit: int | None) -> bool:
        def update(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "UPDATE api_keys SET rate_limit = ? WHERE key_id = ?", (rate_limit, key_id)
            )
            return cursor.rowcount == 1

        return await self._writer.call(update)

    async def list_tenants(self) -> list[tuple[str, int]]:
        rows = await self._read(
            lambda conn: conn.execute(
                "SELECT name, created_at FROM tenants ORDER BY name"
            ).fetchall()
        )
        return [(name, created_at) for name, created_at in rows]

    async def list_api_keys(self) -> list[ApiKeyRecord]:
        rows = await self._read(
            lambda conn: conn.execute(
                f"SELECT {API_KEY_COLUMNS} FROM api_keys ORDER BY created_at, key_id"
            ).fetchall()
        )
        return [ApiKeyRecord(*row) for row in rows]

    async def revoke_api_key(self, key_id: str, now_us: int) -> bool:
        def revoke(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL",
                (now_us, key_id),
            )
            return cursor.rowcount == 1

        return await self._writer.call(revoke)
