"""Reading a request body under the size limit, after the content type is checked."""

from __future__ import annotations

from typing import Any

from litestar import Request

from sluice.errors import PayloadTooLarge, UnsupportedMediaType


def check_json_content_type(request: Request[Any, Any, Any]) -> None:
    """A missing Content-Type is read as JSON; anything but application/json is refused."""
    content_type = request.headers.get("content-type")
    if content_type is None:
        return
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise UnsupportedMediaType(f"Content-Type must be application/json, not {media_type!r}.")


async def read_body(request: Request[Any, Any, Any], limit: int) -> bytes:
    """The whole body, refusing (413) as soon as it is known to exceed `limit` bytes."""
    check_json_content_type(request)
    too_large = f"Request body is larger than the limit of {limit} bytes."
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(too_large)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(too_large)
        chunks.append(chunk)
    return b"".join(chunks)
