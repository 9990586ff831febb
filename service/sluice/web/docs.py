"""The API documentation at `/docs`: Swagger UI from assets shipped in the package, so the page
works without internet, over the OpenAPI document at `/docs/openapi.json`."""

from __future__ import annotations

from pathlib import Path

from litestar import Router
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.static_files import create_static_files_router

from sluice import __version__
from sluice.web.openapi import COMPONENTS

DOCS_PATH = "/docs"
# swagger-ui-dist, vendored unmodified with its licence (static/swagger-ui/VERSION).
ASSETS = Path(__file__).parent / "static" / "swagger-ui"
_ASSETS_PATH = f"{DOCS_PATH}/assets"


def assets_router() -> Router:
    return create_static_files_router(
        path=_ASSETS_PATH, directories=[ASSETS], include_in_schema=False, name="docs-assets"
    )


def openapi_config() -> OpenAPIConfig:
    swagger = SwaggerRenderPlugin(
        path=["/", "/swagger"],
        js_url=f"{_ASSETS_PATH}/swagger-ui-bundle.js",
        css_url=f"{_ASSETS_PATH}/swagger-ui.css",
        standalone_preset_js_url=f"{_ASSETS_PATH}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/png' href='{_ASSETS_PATH}/favicon-32x32.png'>",
    )
    return OpenAPIConfig(
        title="Sluice",
        version=__version__,
        description="Event ingestion gateway: Vayu, Enso, profiles and collect ingest APIs, "
        "Vayu's reads, customers, meters and usage. Every route but the probes takes "
        "`Authorization: Bearer <key>`.",
        path=DOCS_PATH,
        render_plugins=[swagger],
        components=COMPONENTS,
    )
