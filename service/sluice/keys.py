"""API keys: minted once, stored only as a hash, verified in constant time, cached briefly."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from sluice.errors import Unauthenticated
from sluice.storage import ApiKeyRecord, Store

TOKEN_PREFIX = "sk_"
# Anything longer is rejected before it costs a hash or a lookup (a 100 KB header is an attack).
MAX_TOKEN_LENGTH = 200
_CACHE_LIMIT = 10_000


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header value."""
    if not authorization or len(authorization) > MAX_TOKEN_LENGTH + 7:
        raise Unauthenticated("Missing or invalid Authorization header: expected 'Bearer <key>'.")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("Missing or invalid Authorization header: expected 'Bearer <key>'.")
    return token


@dataclass
class _Cached:
    tenant: str
    expires: float


class ApiKeys:
    """Creates and verifies keys of the form `sk_<key id>_<secret>`."""

    def __init__(self, store: Store, cache_seconds: float = 5.0) -> None:
        self._store = store
        self._cache_seconds = cache_seconds
        self._cache: dict[bytes, _Cached] = {}

    async def create(self, tenant: str) -> tuple[str, ApiKeyRecord]:
        """Mint a key for a tenant (created if new). The token is returned once, never stored."""
        now_us = time.time_ns() // 1000
        await self._store.ensure_tenant(tenant, now_us)
        key_id = secrets.token_hex(8)
        token = f"{TOKEN_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        record = ApiKeyRecord(key_id, tenant, _digest(token), now_us)
        await self._store.add_api_key(record)
        return token, record

    def _cached(self, cache_key: bytes) -> str | None:
        cached = self._cache.get(cache_key)
        if cached is not None and cached.expires > time.monotonic():
            return cached.tenant
        return None

    def _remember(self, cache_key: bytes, tenant: str) -> None:
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[cache_key] = _Cached(tenant, time.monotonic() + self._cache_seconds)

    async def tenant_for(self, token: str) -> str:
        """The tenant a live key belongs to; Unauthenticated otherwise."""
        if len(token) > MAX_TOKEN_LENGTH or not token.startswith(TOKEN_PREFIX):
            raise Unauthenticated("Invalid API key.")
        digest = _digest(token)
        tenant = self._cached(digest)
        if tenant is not None:
            return tenant
        key_id = key_id_of(token)
        record = await self._store.find_api_key(key_id) if key_id else None
        # compare_digest even when the id is unknown, so timing does not reveal which ids exist.
        expected = record.secret_hash if record is not None else bytes(32)
        if not hmac.compare_digest(expected, digest) or record is None or record.revoked_at:
            raise Unauthenticated("Invalid API key.")
        self._remember(digest, record.tenant)
        return record.tenant

    async def tenant_for_key_id(self, key_id: str) -> str:
        """The tenant of a live key, by id (access tokens name the key they came from)."""
        cache_key = b"id:" + key_id.encode()
        tenant = self._cached(cache_key)
        if tenant is not None:
            return tenant
        record = await self._store.find_api_key(key_id)
        if record is None or record.revoked_at:
            raise Unauthenticated("The API key behind this access token is no longer valid.")
        self._remember(cache_key, record.tenant)
        return record.tenant


def key_id_of(token: str) -> str:
    """The id part of `sk_<key id>_<secret>` ("" if the token has no such shape)."""
    key_id, sep, _secret = token[len(TOKEN_PREFIX) :].partition("_")
    return key_id if sep and token.startswith(TOKEN_PREFIX) else ""
