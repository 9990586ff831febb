"""Reading a request body under the size limit, after the content type is checked."""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import AsyncIterator
from typing import Any

from litestar import Request
from litestar.exceptions import InternalServerException

from sluice.errors import (
    ClientDisconnected,
    InvalidEncoding,
    PayloadTooLarge,
    RequestTimeout,
    UnsupportedMediaType,
)
from sluice.settings import Settings
from sluice.web.headers import scope_header


def check_json_content_type(request: Request[Any, Any, Any]) -> None:
    """A missing Content-Type is read as JSON; anything but application/json is refused."""
    content_type = scope_header(request.scope, b"content-type")
    if content_type is None:
        return
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise UnsupportedMediaType(f"Content-Type must be application/json, not {media_type!r}.")


class BodyReader:
    """Reads JSON request bodies under one size limit and one deadline."""

    def __init__(self, max_bytes: int, timeout_seconds: float) -> None:
        self.max_bytes = max_bytes
        self.timeout_seconds = timeout_seconds

    @classmethod
    def from_settings(cls, settings: Settings) -> BodyReader:
        return cls(settings.max_body_bytes, settings.body_timeout_seconds)

    async def read(self, request: Request[Any, Any, Any]) -> bytes:
        """The whole body, decoded, refusing (413) as soon as it is known to exceed the limit,
        and (408) when it has not all arrived by the body deadline.

        A gzip body is inflated as it arrives and never past `limit` + 1 bytes, so a zip bomb
        costs one small buffer; its compressed size is held to the same limit.
        """
        check_json_content_type(request)
        deadline = self.timeout_seconds
        try:
            async with asyncio.timeout(deadline):
                return await _read(request, self.max_bytes)
        except TimeoutError as exc:
            raise RequestTimeout(f"The request body did not arrive within {deadline:g} s.") from exc


async def _read(request: Request[Any, Any, Any], limit: int) -> bytes:
    too_large = f"Request body is larger than the limit of {limit} bytes."
    declared = scope_header(request.scope, b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(too_large)
    encoding = (scope_header(request.scope, b"content-encoding") or "identity").strip().lower()
    if encoding not in ("identity", "gzip"):
        raise UnsupportedMediaType(f"Content-Encoding {encoding!r} is not supported; use gzip.")
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS) if encoding == "gzip" else None
    chunks: list[bytes] = []
    received = size = 0
    async for chunk in _chunks(request):
        received += len(chunk)
        if received > limit:
            raise PayloadTooLarge(too_large)
        if inflater is not None:
            try:
                chunk = inflater.decompress(chunk, limit + 1 - size)
            except zlib.error as exc:
                raise InvalidEncoding(f"The gzip body does not decode: {exc}.") from exc
            if inflater.unconsumed_tail:
                raise PayloadTooLarge(too_large)
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(too_large)
        chunks.append(chunk)
    if inflater is not None and (not inflater.eof or inflater.unused_data):
        raise InvalidEncoding("The gzip body is truncated or followed by extra bytes.")
    return b"".join(chunks)


async def _chunks(request: Request[Any, Any, Any]) -> AsyncIterator[bytes]:
    """The body's chunks as the server hands them over.

    Litestar's request.stream() does the same but first builds the request's whole header
    multidict to check a Content-Length against its own (larger) limit; _read checks ours.
    """
    if not request.is_connected:
        raise InternalServerException("stream consumed")  # read twice: a bug, as in Litestar
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected("The client disconnected before sending the whole body.")
        if message["type"] == "http.request":
            if message["body"]:
                yield message["body"]
            if not message.get("more_body", False):
                request.is_connected = False  # consumed: as Litestar marks it
                return
