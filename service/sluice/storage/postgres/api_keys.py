"""The PostgreSQL store's tenants and API keys."""

from __future__ import annotations

import dataclasses

from sluice.model import ApiKeyRecord
from sluice.storage.api_key_sql import API_KEY_COLUMNS
from sluice.storage.postgres.database import PostgresDatabase


class PostgresKeyStore(PostgresDatabase):
    """KeyStore over PostgreSQL: each write one autocommitted statement."""

    async def ensure_tenant(self, tenant: str, now_us: int) -> None:
        await self._write(
            "INSERT INTO tenants (name, created_at) VALUES (%s, %s) ON CONFLICT DO NOTHING",
            [tenant, now_us],
        )

    async def add_api_key(self, record: ApiKeyRecord) -> None:
        await self._write(
            f"INSERT INTO api_keys ({API_KEY_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s)",
            dataclasses.astuple(record),
        )

    async def find_api_key(self, key_id: str) -> ApiKeyRecord | None:
        rows = await self._fetch(
            f"SELECT {API_KEY_COLUMNS} FROM api_keys WHERE key_id = %s", [key_id]
        )
        return ApiKeyRecord(*rows[0]) if rows else None

    async def set_api_key_rate_limit(self, key_id: str, rate_limit: int | None) -> bool:
        changed = await self._write(
            "UPDATE api_keys SET rate_limit = %s WHERE key_id = %s", [rate_limit, key_id]
        )
        return changed == 1

    async def list_tenants(self) -> list[tuple[str, int]]:
        rows = await self._fetch("SELECT name, created_at FROM tenants ORDER BY name")
        return [(name, created_at) for name, created_at in rows]

    async def list_api_keys(self) -> list[ApiKeyRecord]:
        rows = await self._fetch(
            f"SELECT {API_KEY_COLUMNS} FROM api_keys ORDER BY created_at, key_id"
        )
        return [ApiKeyRecord(*row) for row in rows]

    async def revoke_api_key(self, key_id: str, now_us: int) -> bool:
        changed = await self._write(
            "UPDATE api_keys SET revoked_at = %s WHERE key_id = %s AND revoked_at IS NULL",
            [now_us, key_id],
        )
        return changed == 1
