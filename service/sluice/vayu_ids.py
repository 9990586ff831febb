"""Vayu's ids: 24 hex digits (a MongoDB ObjectId's shape), which the SDK's models check."""

from __future__ import annotations

import hashlib
import re
import secrets

_HEX24 = re.compile(r"[0-9a-fA-F]{24}")


def account_id(tenant: str) -> str:
    """The tenant's Vayu account id: derived, so it is stable across restarts and instances
    without being stored, and distinct per tenant (96 bits of SHA-256 of the name)."""
    return hashlib.sha256(b"sluice-account:" + tenant.encode()).hexdigest()[:24]


def new_id() -> str:
    """A fresh id for something created through Vayu's API (a customer, a meter, ...)."""
    return secrets.token_hex(12)


def is_vayu_id(text: str) -> bool:
    return _HEX24.fullmatch(text) is not None
