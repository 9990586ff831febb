"""The operator console (`/console`): one static page, its script and stylesheet, shipped in
the package. The page holds no data and no key: it signs in with an API key kept in the tab's
sessionStorage and calls the same APIs as any client, each call with that key as its bearer."""

from __future__ import annotations

from pathlib import Path

from litestar import Response, Router, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

STATIC = Path(__file__).parent / "static" / "console"
# name -> media type (Litestar adds the charset); nothing else under /console/ is served.
ASSETS = {
    "console.js": "text/javascript",
    "console.css": "text/css",
}
# Only our own script, style and API: no inline script for an injected string to become, no
# framing, and no Referer carrying the console's address elsewhere.
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def router(static: Path = STATIC) -> Router:
    """Read once, at start-up: the files are small and fixed for the life of the process."""
    page = (static / "index.html").read_bytes()
    assets = {name: (static / name).read_bytes() for name in ASSETS}

    @get(["/console", "/console/"], operation_id="console", include_in_schema=False)
    async def console_page() -> Response[bytes]:
        return Response(page, media_type="text/html", headers=HEADERS)

    @get("/console/{name:str}", operation_id="consoleAsset", include_in_schema=False)
    async def console_asset(name: FromPath[str]) -> Response[bytes]:
        if name not in assets:
            raise NotFoundException(f"No console file {name!r}.")
        return Response(assets[name], media_type=ASSETS[name], headers=HEADERS)

    return Router(path="/", route_handlers=[console_page, console_asset], tags=["console"])
