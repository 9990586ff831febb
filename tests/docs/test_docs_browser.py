"""/docs in headless Chromium (Debian's `chromium`, driven by Playwright) with every request to a
host other than the server refused: the page must come up from the package's own assets and
list the operations. A screenshot goes to target/test-artifacts/docs.png."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.conftest import ServerProcess

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "target" / "test-artifacts"
CHROMIUM = shutil.which("chromium")

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extra")
if CHROMIUM is None:  # `make test` installs it (Makefile: chromium); elsewhere it may not exist
    pytest.skip(
        "no `chromium` on PATH (apt-get install chromium; `make test` does)",
        allow_module_level=True,
    )


@pytest.fixture
def server(data_dir: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(data_dir).start()
    try:
        yield process
    finally:
        process.stop()


def test_the_docs_page_works_offline_and_lists_the_operations(server: ServerProcess) -> None:
    own = urlsplit(server.http_url).netloc
    refused: list[str] = []

    def only_our_server(route: Any) -> None:
        if urlsplit(route.request.url).netloc == own:
            route.continue_()
        else:  # a CDN, a font host, anything else: the page must not need it
            refused.append(route.request.url)
            route.abort()

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox"], headless=True
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.route("**/*", only_our_server)
            page.goto(f"{server.http_url}/docs", wait_until="networkidle")
            operations = page.locator(".opblock-summary-path")
            operations.first.wait_for(timeout=15_000)
            paths = set(operations.all_inner_texts())
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "docs.png"), full_page=False)
        finally:
            browser.close()
    # The ingest routes of every dialect, Vayu's reads and the registry are listed.
    for expected in ("/events", "/events/batch", "/collect/event", "/v1/customers"):
        assert any(path.replace("\u200b", "") == expected for path in paths), (expected, paths)
    assert refused == [], f"the page asked other hosts: {refused}"
