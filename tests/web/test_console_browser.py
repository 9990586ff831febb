"""/console in headless Chromium (Debian's `chromium`, driven by Playwright) against a real
`sluice serve`: sign in, live events from HTTP and gRPC, a refusal's reason, a customer, and a
usage chart whose numbers are the aggregation API's. Screenshots go to target/test-artifacts/."""

from __future__ import annotations

import datetime
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest

from sluice.v1 import ingest_pb2, ingest_pb2_grpc
from tests.conftest import ServerProcess, mint_key

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


def now_iso() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")


class Tenant:
    def __init__(self, server: ServerProcess, key: str) -> None:
        self.server, self.key = server, key
        self.http = httpx.Client(
            base_url=server.http_url, headers={"Authorization": f"Bearer {key}"}, timeout=5
        )

    def send(self, ref: str, name: str | None = "api_call", customer: str = "c1") -> Any:
        event: dict[str, Any] = {"timestamp": now_iso(), "customerAlias": customer, "ref": ref}
        if name is not None:
            event["name"] = name
        event["data"] = {"n": 1}
        response = self.http.post("/events", json={"events": [event]})
        assert response.status_code == 200, response.text
        return response.json()

    def send_grpc(self, id_: str, customer: str = "c1") -> None:
        event = ingest_pb2.Event(id=id_, name="api_call", customer_id=customer)
        event.timestamp.FromDatetime(datetime.datetime.now(datetime.UTC))
        with grpc.insecure_channel(self.server.grpc_target) as channel:
            reply = ingest_pb2_grpc.IngestServiceStub(channel).Ingest(
                ingest_pb2.IngestRequest(events=[event]),
                metadata=[("authorization", f"Bearer {self.key}")],
                timeout=5,
            )
        assert reply.accepted == 1, reply


@pytest.fixture(scope="module")
def tenants(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Tenant, Tenant]]:
    data_dir = tmp_path_factory.mktemp("console") / "data"
    data_dir.mkdir()
    acme_key, globex_key = mint_key(data_dir, "acme"), mint_key(data_dir, "globex")
    server = ServerProcess(data_dir).start()
    try:
        yield Tenant(server, acme_key), Tenant(server, globex_key)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox"], headless=True
        )
        try:
            yield launched
        finally:
            launched.close()


def signed_in(browser: Any, tenant: Tenant, width: int = 1280, height: int = 900) -> Any:
    page = browser.new_context(viewport={"width": width, "height": height}).new_page()
    page.goto(f"{tenant.server.http_url}/console")
    page.get_by_label("API key").fill(tenant.key)
    page.get_by_role("button", name="Sign in").click()
    sync_api.expect(page.locator("#stream-status")).to_contain_text("Live from offset")
    return page


def event_row(page: Any, ref: str) -> Any:
    return page.locator("#events li.event summary", has_text=ref)


def appears_within_a_second(page: Any, ref: str, send: Any) -> float:
    started = time.monotonic()
    send()
    event_row(page, ref).wait_for(timeout=1000)
    return time.monotonic() - started


def shot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"console-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def test_live_events_refusals_customer_and_usage(tenants, browser) -> None:
    acme, _globex = tenants  # the module's server (set up before the browser's loop)
    page = signed_in(browser, acme)
    assert appears_within_a_second(page, "http-1", lambda: acme.send("http-1")) < 1
    assert appears_within_a_second(page, "grpc-1", lambda: acme.send_grpc("grpc-1")) < 1
    # Newest first, and each expands to its stored JSON.
    rows = page.locator("#events li.event summary")
    assert "grpc-1" in rows.nth(0).inner_text() and "http-1" in rows.nth(1).inner_text()
    rows.nth(1).click()
    sync_api.expect(page.locator("#events li.event pre").nth(1)).to_contain_text('"ref": "http-1"')

    refused = acme.send("bad-1", name=None)
    reason = refused["invalidEvents"][0]["error"]
    sync_api.expect(page.locator("#rejections .reason").first).to_contain_text(reason)
    sync_api.expect(page.locator("#rejections .reason").first).to_be_visible()  # not folded
    shot(page, "live")

    # Filters and pause/resume: paused, nothing new is shown; resumed, it arrives from the
    # last offset.
    page.get_by_label("Event name").fill("nothing-matches")
    sync_api.expect(page.locator("#events li.event")).to_have_count(0)
    page.get_by_label("Event name").fill("")
    page.get_by_role("button", name="Pause").click()
    acme.send("while-paused")
    page.wait_for_timeout(300)
    assert event_row(page, "while-paused").count() == 0
    page.get_by_role("button", name="Resume").click()
    event_row(page, "while-paused").wait_for(timeout=2000)

    # A customer, its aliases and latest events, then its usage.
    acme.http.post(
        "/meters",
        json={"name": "calls", "eventName": "api_call", "aggregationMethod": {"operator": "Count"}},
    ).raise_for_status()
    acme.http.put("/v1/customers/cust-1", json={"aliases": ["c1"], "email": "ann@example.com"})
    page.get_by_role("button", name="Customers").click()
    page.get_by_label("Search customers").fill("cust")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("button", name="cust-1").click()
    detail = page.locator("#customer-detail")
    sync_api.expect(detail).to_contain_text("c1")
    sync_api.expect(detail.locator("li.event summary", has_text="http-1")).to_have_count(1)
    page.get_by_role("button", name="Usage of the last 7 days").click()
    total = page.locator("#usage-table tfoot td.total[data-meter='calls']")
    total.wait_for()

    today = datetime.datetime.now(datetime.UTC).date()
    asked = acme.http.post(
        "/v2/events/aggregation",
        json={
            "customerId": "cust-1",
            "period": {
                "startTime": f"{today - datetime.timedelta(days=6)}T00:00:00Z",
                "endTime": f"{today + datetime.timedelta(days=1)}T00:00:00.000Z",
            },
            "meters": [{"key": "calls", "eventName": "api_call"}],
            "groupBy": "day",
            "fillDates": True,
        },
    ).json()
    per_day = {p["group"][:10]: float(p["values"].get("calls", 0)) for p in asked["dataPoints"]}
    shown = {
        row.locator("th").inner_text(): float(row.locator("td").inner_text())
        for row in page.locator("#usage-table tbody tr").all()
    }
    assert shown == per_day
    assert float(total.inner_text()) == sum(per_day.values()) == 3  # http-1, grpc-1, while-paused
    bars = page.locator("figure.usage-chart[data-meter='calls'] rect")
    assert [float(v) for v in bars.evaluate_all("bs => bs.map(b => b.dataset.value)")] == list(
        per_day.values()
    )
    shutil.copyfile(shot(page, "usage"), ROOT / "docs" / "console.png")

    phone = signed_in(browser, acme, width=390, height=844)
    event_row(phone, "http-1").wait_for(timeout=2000)
    shot(phone, "phone")


def test_two_tenants_pages_never_show_each_other_s_events(tenants, browser) -> None:
    acme, globex = tenants
    acme_page, globex_page = signed_in(browser, acme), signed_in(browser, globex)
    acme.send("only-acme")
    globex.send("only-globex")
    globex.send("bad-globex", name=None)
    event_row(acme_page, "only-acme").wait_for(timeout=2000)
    event_row(globex_page, "only-globex").wait_for(timeout=2000)
    sync_api.expect(globex_page.locator("#rejections li")).to_have_count(1)
    acme_page.wait_for_timeout(1500)  # a refusal poll and any stray event would have landed
    assert event_row(acme_page, "globex").count() == 0
    assert acme_page.locator("#rejections li", has_text="bad-globex").count() == 0
    refs = globex_page.locator("#events li.event summary").all_inner_texts()
    assert refs and all("globex" in text for text in refs)
