"""The exceptions that cross Sluice's rooms; each transport maps them to its own wire shape."""

from __future__ import annotations

from sluice._core import CoreError, InvalidBatch, InvalidJson, InvalidTimestamp, PayloadTooLarge
from sluice.model import Quota

__all__ = [
    "BatchRejected",
    "ClientDisconnected",
    "ConfigurationError",
    "CoreError",
    "CustomerConflict",
    "InvalidBatch",
    "InvalidCustomer",
    "InvalidEncoding",
    "InvalidEvents",
    "InvalidJson",
    "InvalidParameter",
    "InvalidTimestamp",
    "PayloadTooLarge",
    "RateLimited",
    "RequestTimeout",
    "SluiceError",
    "StoreUnavailable",
    "Unauthenticated",
    "UnknownUser",
    "UnsupportedMediaType",
]


class SluiceError(Exception):
    """Base of the service's own (non-core) errors."""


class ConfigurationError(SluiceError, ValueError):
    """An operator's mistake a process cannot start or run with (a bad setting, a port in use,
    an unusable data directory or store URL): shown as one line, without a traceback. A
    ValueError too: most are a value that cannot be used."""


class Unauthenticated(SluiceError):
    """Missing, malformed, unknown or revoked credentials."""


class UnsupportedMediaType(SluiceError):
    """The request's Content-Type is not JSON, or its Content-Encoding is not gzip/identity."""


class RequestTimeout(SluiceError):
    """The client did not send the whole request in time (a slow or stalled client)."""


class ClientDisconnected(SluiceError):
    """The client went away before its request had all arrived: nobody is left to answer, and
    nothing was done for it. Not a server error."""


class InvalidEncoding(SluiceError):
    """A gzip body that does not decode (corrupt, truncated, or trailing bytes)."""


class InvalidParameter(SluiceError):
    """A query or body parameter outside the JSON batch is missing or malformed."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


class InvalidCustomer(InvalidParameter):
    """A customer document breaks the registry's rules; `param` names the field."""


class CustomerConflict(SluiceError):
    """Another customer of the tenant already holds this alias or email (`param` says which)."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


class BatchRejected(SluiceError):
    """An all-or-nothing batch (collect) had invalid events: (index, field, reason) each."""

    def __init__(self, message: str, details: list[tuple[int, str, str]]) -> None:
        super().__init__(message)
        self.details = details


class InvalidEvents(SluiceError):
    """Events failed validation where the API answers for the whole request (Vayu dry-run).

    `params` is one {"param": "events[i].field", "message": ...} per problem.
    """

    def __init__(self, params: list[dict[str, str]]) -> None:
        super().__init__(f"{len(params)} event(s) are invalid.")
        self.params = params


class UnknownUser(SluiceError):
    """The profiles API names a user that is not in the tenant's customer registry."""


class RateLimited(SluiceError):
    """The API key is over its request rate; nothing was done. Retry after `retry_after` s."""

    def __init__(self, retry_after: float, quota: Quota) -> None:
        super().__init__(f"Rate limit of {quota.limit} requests per second exceeded.")
        self.retry_after = retry_after
        self.quota = quota


class StoreUnavailable(SluiceError):
    """The store cannot take or give data right now (down, locked, disk full, I/O error).

    Nothing was acknowledged; the client should retry after `retry_after` seconds.
    """

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UnreadableEvent(SluiceError):
    """A stored event no reader can carry back (accepted before today's rules, or written
    around them): reads of many events skip it; a read of this one event ends with this."""

    def __init__(self, offset: int, reason: str) -> None:
        super().__init__(f"The stored event at offset {offset} cannot be read back: {reason}.")
        self.offset = offset
        self.reason = reason
