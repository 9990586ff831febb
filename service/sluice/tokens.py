"""Vayu access tokens: HS256 JWTs that POST /login mints from an API key, valid for an hour.

Vayu's own SDK decodes `exp` from the token to refresh it, so it must be a real JWT.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sluice.encoding import b64url_decode, b64url_encode
from sluice.errors import Unauthenticated

ACCESS_TOKEN_SECONDS = 3600
_HEADER = {"alg": "HS256", "typ": "JWT"}


def load_secret(data_dir: Path, configured: str) -> bytes:
    """The signing secret: configured (shared by every instance), else made once per data dir."""
    if configured:
        return configured.encode()
    path = data_dir / "jwt-secret"
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_bytes(32)
    # O_EXCL: two processes starting together keep whichever secret was written first.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    with os.fdopen(fd, "wb") as file:
        file.write(secret)
        file.flush()
        os.fsync(file.fileno())
    return secret


class AccessTokens:
    def __init__(self, secret: bytes, clock: Callable[[], float] = time.time) -> None:
        self._secret = secret
        self._clock = clock

    def _sign(self, signing_input: str) -> str:
        digest = hmac.new(self._secret, signing_input.encode(), hashlib.sha256).digest()
        return b64url_encode(digest)

    def mint(self, key_id: str, tenant: str) -> str:
        now = int(self._clock())
        claims = {"sub": key_id, "tenant": tenant, "iat": now, "exp": now + ACCESS_TOKEN_SECONDS}
        signing_input = (
            b64url_encode(json.dumps(_HEADER, separators=(",", ":")).encode())
            + "."
            + b64url_encode(json.dumps(claims, separators=(",", ":")).encode())
        )
        return f"{signing_input}.{self._sign(signing_input)}"

    def verify(self, token: str) -> str:
        """The key id a valid, unexpired token was minted from; Unauthenticated otherwise."""
        parts = token.split(".")
        if len(parts) != 3:
            raise Unauthenticated("Invalid access token.")
        header_part, claims_part, signature = parts
        if not hmac.compare_digest(self._sign(f"{header_part}.{claims_part}"), signature):
            raise Unauthenticated("Invalid access token.")
        try:
            header = json.loads(b64url_decode(header_part))
            claims: dict[str, Any] = json.loads(b64url_decode(claims_part))
        except ValueError as exc:
            raise Unauthenticated("Invalid access token.") from exc
        if header.get("alg") != "HS256" or not isinstance(claims.get("sub"), str):
            raise Unauthenticated("Invalid access token.")
        exp = claims.get("exp")
        if not isinstance(exp, int) or exp <= self._clock():
            raise Unauthenticated("Access token expired; log in again.")
        key_id: str = claims["sub"]
        return key_id
