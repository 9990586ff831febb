"""Access for every HTTP route that needs a key: authenticate, then count the request against
its key's rate. The quota is kept on the request so every response reports it."""

from __future__ import annotations

import math
import time
from typing import Any

from litestar import Request
from litestar.datastructures import MutableScopeHeaders
from litestar.types import Scope

from sluice.access import AccessControl, Grant
from sluice.errors import RateLimited
from sluice.model import Quota
from sluice.web.headers import scope_header
from sluice.web.observe import note_grant

_QUOTA = "sluice.quota"


async def authorize(request: Request[Any, Any, Any], access: AccessControl) -> Grant:
    """The request's grant (its tenant); raises Unauthenticated or RateLimited."""
    try:
        grant = await access.authorize(scope_header(request.scope, b"authorization"))
    except RateLimited as exc:
        request.scope[_QUOTA] = exc.quota  # type: ignore[literal-required]
        raise
    request.scope[_QUOTA] = grant.quota  # type: ignore[literal-required]
    note_grant(request.scope, grant)  # for the access line
    return grant


def rate_limit_headers(quota: Quota) -> dict[str, str]:
    """The de facto X-RateLimit-* fields and the IETF draft's RateLimit/RateLimit-Policy."""
    reset_seconds = max(0, math.ceil(quota.reset_after))
    return {
        "X-RateLimit-Limit": str(quota.limit),
        "X-RateLimit-Remaining": str(quota.remaining),
        "X-RateLimit-Reset": str(math.ceil(time.time() + quota.reset_after)),
        "RateLimit-Policy": f'"per-key";q={quota.limit};w=1',
        "RateLimit": f'"per-key";r={quota.remaining};t={reset_seconds}',
    }


def add_rate_limit_headers(headers: MutableScopeHeaders, scope: Scope) -> None:
    """The request's quota as response headers (app.py calls it on every response start)."""
    quota: Quota | None = scope.get(_QUOTA)  # type: ignore[assignment]
    if quota is not None and quota.limit > 0:
        for name, value in rate_limit_headers(quota).items():
            headers[name] = value
