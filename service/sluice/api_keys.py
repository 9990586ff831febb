"""API keys: minted once, stored only as a hash, verified in constant time, cached briefly."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from sluice.errors import Unauthenticated
from sluice.model import ApiKeyRecord
from sluice.storage import KeyStore

TOKEN_PREFIX = "sk_"
# Anything longer is rejected before it costs a hash or a lookup (a 100 KB header is an attack).
MAX_TOKEN_LENGTH = 200
# A Bearer credential: an API key, or a Vayu access token, which names its tenant and so grows
# with the name (177 characters, and 4 more for every 3 of an ASCII name): 200 refused the
# tokens of every tenant named with more than 17 characters.
MAX_CREDENTIAL_LENGTH = 1024
_CACHE_LIMIT = 10_000


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header value."""
    if not authorization or len(authorization) > MAX_CREDENTIAL_LENGTH + 7:
        raise Unauthenticated("Missing or invalid Authorization header: expected 'Bearer <key>'.")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("Missing or invalid Authorization header: expected 'Bearer <key>'.")
    return token


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request is: a live API key, its tenant and its own rate limit (None: default)."""

    tenant: str
    key_id: str
    rate_limit: int | None


@dataclass
class _Cached:
    principal: Principal
    expires: float


class ApiKeys:
    """Creates and verifies keys of the form `sk_<key id>_<secret>`."""

    def __init__(self, store: KeyStore, cache_seconds: float = 5.0) -> None:
        self._store = store
        self._cache_seconds = cache_seconds
        self._cache: dict[bytes, _Cached] = {}

    async def create(self, tenant: str, rate_limit: int | None = None) -> tuple[str, ApiKeyRecord]:
        """Mint a key for a tenant (created if new). The token is returned once, never stored."""
        now_us = time.time_ns() // 1000
        await self._store.ensure_tenant(tenant, now_us)
        key_id = secrets.token_hex(8)
        token = f"{TOKEN_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        record = ApiKeyRecord(key_id, tenant, _digest(token), now_us, rate_limit=rate_limit)
        await self._store.add_api_key(record)
        return token, record

    async def any(self) -> bool:
        """Whether any key (live or revoked) exists: false only before the very first start."""
        return bool(await self._store.list_api_keys())

    def _cached(self, cache_key: bytes) -> Principal | None:
        cached = self._cache.get(cache_key)
        if cached is not None and cached.expires > time.monotonic():
            return cached.principal
        return None

    def _remember(self, cache_key: bytes, record: ApiKeyRecord) -> Principal:
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        principal = Principal(record.tenant, record.key_id, record.rate_limit)
        self._cache[cache_key] = _Cached(principal, time.monotonic() + self._cache_seconds)
        return principal

    async def verify(self, token: str) -> Principal:
        """The live key a token is; Unauthenticated otherwise."""
        if len(token) > MAX_TOKEN_LENGTH or not token.startswith(TOKEN_PREFIX):
            raise Unauthenticated("Invalid API key.")
        digest = _digest(token)
        principal = self._cached(digest)
        if principal is not None:
            return principal
        key_id = key_id_of(token)
        record = await self._store.find_api_key(key_id) if key_id else None
        # compare_digest even when the id is unknown, so timing does not reveal which ids exist.
        expected = record.secret_hash if record is not None else bytes(32)
        if not hmac.compare_digest(expected, digest) or record is None or record.revoked_at:
            raise Unauthenticated("Invalid API key.")
        return self._remember(digest, record)

    async def verify_key_id(self, key_id: str) -> Principal:
        """The live key with this id (access tokens name the key they came from)."""
        cache_key = b"id:" + key_id.encode()
        principal = self._cached(cache_key)
        if principal is not None:
            return principal
        record = await self._store.find_api_key(key_id)
        if record is None or record.revoked_at:
            raise Unauthenticated("The API key behind this access token is no longer valid.")
        return self._remember(cache_key, record)


def key_id_of(token: str) -> str:
    """The id part of `sk_<key id>_<secret>` ("" if the token has no such shape)."""
    key_id, sep, _secret = token[len(TOKEN_PREFIX) :].partition("_")
    return key_id if sep and token.startswith(TOKEN_PREFIX) else ""
