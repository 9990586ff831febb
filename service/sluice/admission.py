"""Admission to the store: how many requests may wait on it at once, in all and per tenant.

Past what the store can commit, requests would queue in memory without bound and every client
would wait longer and longer. Instead a request that finds the queue full is refused at once
(503 + Retry-After, nothing claimed, nothing stored), which bounds memory and keeps latency
near one commit. The per-tenant share keeps one flooding tenant from holding every place, so
the others are still admitted.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from sluice.errors import StoreUnavailable


class Overloaded(StoreUnavailable):
    """The store's queue (or the tenant's share of it) is full; nothing was done. A
    StoreUnavailable, so every transport answers it as a transient outage (503, UNAVAILABLE)."""


class StoreAdmission:
    """Counts requests waiting on the store. One per process; used from the event loop only."""

    def __init__(self, limit: int, tenant_share: float) -> None:
        if limit < 1 or not 0 < tenant_share <= 1:
            raise ValueError("limit must be >= 1 and tenant_share in (0, 1]")
        self.limit = limit
        # At least one place each, so a tiny limit still lets every tenant in.
        self.tenant_limit = max(1, math.floor(limit * tenant_share))
        self.waiting = 0
        self._by_tenant: dict[str, int] = {}

    def check(self, tenant: str) -> None:
        """Raise Overloaded if a request of `tenant` would be refused now. Called before a batch
        is parsed too, so that refusing a flood costs little; reserve() decides."""
        if self.waiting >= self.limit:
            raise Overloaded(f"the store has {self.waiting} requests waiting (the limit)")
        held = self._by_tenant.get(tenant, 0)
        if held >= self.tenant_limit:
            raise Overloaded(f"tenant {tenant!r} has {held} requests waiting (its share)")

    def reserve(self, tenant: str) -> Callable[[], None]:
        """Take a place for one request of `tenant`; returns the call that gives it back.

        Raises Overloaded, taking nothing, when the store or the tenant's share is full.
        """
        self.check(tenant)
        self.waiting += 1
        self._by_tenant[tenant] = self._by_tenant.get(tenant, 0) + 1
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            self.waiting -= 1
            left = self._by_tenant[tenant] - 1
            if left:
                self._by_tenant[tenant] = left
            else:
                del self._by_tenant[tenant]  # idle tenants cost nothing

        return release
