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

            # Each operation shows its summary; opened, its description, its answer with
            # an example, each documented error status with its codes, and the example body.
            for block in blocks.all():
                method = block.locator(".opblock-summary-method").inner_text().strip()
                path = block.locator(".opblock-summary-path").get_attribute("data-path")
                op = spec["paths"][path][method.lower()]
                expect(block.locator(".opblock-summary-description")).to_have_text(op["summary"])
                block.locator(".opblock-summary").click()
                first_line = op["description"].splitlines()[0].split("`")[0]
                expect(block.locator(".opblock-description-wrapper").first).to_contain_text(
                    first_line
                )
                for code, response in op["responses"].items():
                    row = block.locator(f"tr.response[data-code='{code}']")
                    expect(row).to_be_visible()
                    examples = response["content"]["application/json"]["examples"].values()
                    names = [e["summary"] for e in examples]
                    expect(row.locator(".examples-select-element option")).to_have_text(names)
                    if code[0] in "45":
                        described = row.locator(".response-col_description__inner")
                        for name in names:
                            expect(described).to_contain_text(name)
                        expect(row.locator(".highlight-code")).to_contain_text(f'"{names[0]}"')
                    else:
                        expect(row.locator(".highlight-code")).to_be_visible()
                if "requestBody" in op:
                    body = op["requestBody"]["content"]["application/json"]["examples"]
                    first_key = next(iter(body["example"]["value"]))
                    expect(block.locator(".opblock-section-request-body")).to_contain_text(
                        first_key
                    )
                block.locator(".opblock-summary").click()
            opened = blocks.filter(
                has=tab.locator(".opblock-summary-path[data-path='/api/requests']")
            ).filter(has=tab.locator(".opblock-summary-method", has_text="POST"))
            opened.locator(".opblock-summary").click()
            expect(opened.locator("tr.response[data-code='409']")).to_contain_text("duplicate_ref")
            opened.locator("tr.response[data-code='201']").scroll_into_view_if_needed()
            tab.screenshot(path=str(ARTIFACTS / "swagger-operation.png"), full_page=False)

            tab.goto(server.url + "/asyncapi")
            for name, channel in asyncapi.CHANNELS.items():
                expect(tab.locator(f"#channel-{name}")).to_contain_text(channel.address)
                for t in (*channel.receives, *channel.sends):
                    expect(tab.locator(f"#message-{name}-{asyncapi.key(t)}")).to_be_visible()
            tab.screenshot(path=str(ARTIFACTS / "asyncapi.png"), full_page=False)
            assert errors == []
        finally:
            browser.close()
    assert foreign == []
