"""Sluice's own error object, the one Vayu documents: {"type","code","message","param"?}.

Vayu routes and Sluice's own routes (customers) answer errors in this shape.
"""

from __future__ import annotations

from typing import Any

from litestar import Response


def error_response(
    status: int,
    type_: str,
    code: str,
    message: str,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response[dict[str, Any]]:
    content: dict[str, Any] = {"type": type_, "code": code, "message": message}
    if param is not None:
        content["param"] = param
    return Response(content, status_code=status, headers=headers)
