"""One request header straight from the ASGI scope.

`request.headers` builds a multidict of every header on first use, a visible share of a
1-event request's cost; the hot path reads three or four headers by name, which a scan of the
scope's short list does for a fraction of that.
"""

from __future__ import annotations

from litestar.types import Scope


def scope_header(scope: Scope, name: bytes) -> str | None:
    """The first value of header `name` (lower case, as ASGI gives names), or None."""
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def request_id_of(scope: Scope) -> str:
    """The request's id as its response carries it (app.py fixes it before the handler runs)."""
    return str(scope.get("sluice.request_id", ""))
