"""The API's docs as a person meets them: Swagger UI renders the OpenAPI 3.1 document
with every operation, and the AsyncAPI page shows every channel and message, in the
real chromium, with nothing fetched from outside this server."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from exchange.ops import asyncapi

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
METHODS = {"get", "put", "post", "delete", "patch"}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"
    ),
]


def test_swagger_ui_and_the_asyncapi_page_render_every_operation(serve: Any) -> None:
    """Swagger UI shows each operation of /schema/openapi.json (no "Unable to render"),
    and /asyncapi shows each channel and message; no request leaves this host."""
    from playwright.sync_api import Route, expect, sync_playwright

    server = serve()
    spec = httpx.get(server.url + "/schema/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    operations = [(m.upper(), p) for p, item in spec["paths"].items() for m in item if m in METHODS]
    assert len(operations) > 10
    host = urlsplit(server.url).hostname
    foreign: list[str] = []

    def guard(route: Route) -> None:
        if urlsplit(route.request.url).hostname not in (host, "localhost"):
            foreign.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            context = browser.new_context()
            context.route("**/*", guard)
            tab = context.new_page()
            errors: list[str] = []
            tab.on("pageerror", lambda exc: errors.append(str(exc)))
            tab.goto(server.url + "/schema/swagger")
            blocks = tab.locator(".opblock")
            expect(blocks).to_have_count(len(operations), timeout=20000)
            assert "Unable to render this definition" not in tab.content()
            shown = {
                (
                    b.locator(".opblock-summary-method").inner_text().strip(),
                    b.locator(".opblock-summary-path").get_attribute("data-path"),
                )
                for b in blocks.all()
            }
            assert shown == set(operations)
            expect(tab.get_by_role("link", name="read them")).to_have_attribute("href", "/asyncapi")
            tab.screenshot(path=str(ARTIFACTS / "swagger.png"), full_page=False)

            # One operation opens and shows its responses, errors included.
            first = blocks.first
            first.locator(".opblock-summary").click()
            expect(first.locator(".responses-wrapper")).to_be_visible()

            tab.goto(server.url + "/asyncapi")
            for name, channel in asyncapi.CHANNELS.items():
                expect(tab.locator(f"#channel-{name}")).to_contain_text(channel.address)
            for t in asyncapi.documented():
                expect(tab.locator(f"#message-{asyncapi.tag(t)}").first).to_be_visible()
            tab.screenshot(path=str(ARTIFACTS / "asyncapi.png"), full_page=False)
            assert errors == []
        finally:
            browser.close()
    assert foreign == []
