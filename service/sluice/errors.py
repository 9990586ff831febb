"""The exceptions that cross Sluice's rooms; each transport maps them to its own wire shape."""

from sluice._core import CoreError, InvalidBatch, InvalidJson, InvalidTimestamp, PayloadTooLarge

__all__ = [
    "CoreError",
    "InvalidBatch",
    "InvalidJson",
    "InvalidTimestamp",
    "PayloadTooLarge",
    "SluiceError",
    "StoreUnavailable",
    "Unauthenticated",
    "UnsupportedMediaType",
]


class SluiceError(Exception):
    """Base of the service's own (non-core) errors."""


class Unauthenticated(SluiceError):
    """Missing, malformed, unknown or revoked credentials."""


class UnsupportedMediaType(SluiceError):
    """The request's Content-Type is not JSON."""


class StoreUnavailable(SluiceError):
    """The store cannot take or give data right now (down, locked, disk full, I/O error).

    Nothing was acknowledged; the client should retry after `retry_after` seconds.
    """

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after
