"""Who may call, and how often: a bearer credential becomes a tenant and a rate-limit quota."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sluice.api_keys import TOKEN_PREFIX, ApiKeys, Principal, bearer_token
from sluice.errors import RateLimited
from sluice.metrics import Metrics
from sluice.model import Quota
from sluice.ratelimit import RateLimiter
from sluice.tokens import AccessTokens

if TYPE_CHECKING:
    from sluice.ratelimit_redis import RedisRateLimiter


# How often an open stream re-checks its credential (rpc/auth.py).
STREAM_RECHECK_SECONDS = 1.0


def revocation_delay(key_cache_seconds: float) -> float:
    """The longest a revoked key keeps working on a running server: new requests see it when
    the key's cache entry expires; open streams at their next re-check after that."""
    return key_cache_seconds + STREAM_RECHECK_SECONDS


@dataclass(frozen=True, slots=True)
class Grant:
    """An authorized request: its tenant, its key and its key's quota after this request."""

    tenant: str
    key_id: str
    quota: Quota


class AccessControl:
    """Authenticates API keys and Vayu access tokens, then counts each request against its
    key's rate (in process, or shared through Redis when configured)."""

    def __init__(
        self,
        keys: ApiKeys,
        tokens: AccessTokens,
        default_rate_limit: int,
        limiter: RateLimiter,
        metrics: Metrics,
        shared_limiter: RedisRateLimiter | None = None,
        on_rate_limited: Callable[[str], None] | None = None,
    ) -> None:
        """`on_rate_limited(tenant)` hears of each request refused for its key's rate."""
        self.keys = keys
        self._tokens = tokens
        self._default_rate_limit = default_rate_limit
        self._limiter = limiter
        self._shared_limiter = shared_limiter
        self._metrics = metrics
        self._on_rate_limited = on_rate_limited

    async def authenticate(self, authorization: str | None) -> Principal:
        """The key behind an Authorization header value (an API key or an access token)."""
        token = bearer_token(authorization)
        if token.startswith(TOKEN_PREFIX):
            return await self.keys.verify(token)
        return await self.keys.verify_key_id(self._tokens.verify(token))

    async def authorize(self, authorization: str | None) -> Grant:
        """Authenticate, then count the request against its key's rate.

        Raises Unauthenticated, or RateLimited before any work is done for the request.
        """
        principal = await self.authenticate(authorization)
        limit = principal.rate_limit
        if limit is None:
            limit = self._default_rate_limit
        try:
            if self._shared_limiter is not None:
                quota = await self._shared_limiter.take(principal.key_id, limit)
            else:
                quota = self._limiter.take(principal.key_id, limit)
        except RateLimited:
            self._metrics.rate_limited.inc()
            if self._on_rate_limited is not None:
                self._on_rate_limited(principal.tenant)
            raise
        return Grant(principal.tenant, principal.key_id, quota)

    async def login(self, api_key: str) -> str:
        """An access token for a live API key (Vayu's POST /login)."""
        principal = await self.keys.verify(api_key)
        return self._tokens.mint(principal.key_id, principal.tenant)

    async def close(self) -> None:
        if self._shared_limiter is not None:
            await self._shared_limiter.close()
