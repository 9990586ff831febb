"""base64url without padding (RFC 4648 §5), as JWTs and our opaque cursors spell it."""

from __future__ import annotations

import base64


def b64url_encode(data: bytes) -> str:
    """`data` as unpadded base64url text."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    """The bytes of base64url text, padded or not; ValueError (binascii.Error) for anything
    else, including characters outside the alphabet."""
    padded = text + "=" * (-len(text) % 4)
    return base64.b64decode(padded, altchars=b"-_", validate=True)
