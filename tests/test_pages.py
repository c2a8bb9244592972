"""The regional dashboard page: rendering, sign-in, and the live page in headless chromium."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest
import screens
from dashboards import dashboard_token
from timing import within

from exchange.access import tokens as auth
from exchange.beds import registry
from exchange.pages import dashboard as page
from exchange.pages import shell
from exchange.pages.i18n import Translator
from schema.registry import NewShelter
from schema.wire import BedTotals, Region, Snapshot

CHROMIUM = Path("/usr/bin/chromium")

NOW = datetime(2026, 12, 1, 10, 15, tzinfo=UTC)


def snapshot() -> Snapshot:
    return Snapshot(
        seq=7,
        regions=[
            Region(
                region="OH",
                shelters=3,
                stale=1,
                suppressed=False,
                as_of="2026-12-01T10:03:00Z",
                beds={
                    "family": BedTotals(total=9, available=0),
                    "single": BedTotals(total=80, available=7),
                },
            ),
            Region(region="WV", shelters=0, stale=0, suppressed=True, as_of=None),
        ],
    )


def test_each_region_is_a_card_with_its_numbers_and_bars() -> None:
    """A region shows its beds by type (numbers and a bar with the same figures), who
    reports and when, once per region; a suppressed region shows only its name."""
    html = page.render_regions(snapshot(), NOW)
    assert '<td class="available" data-region="OH" data-bed="single">7</td>' in html
    assert '<td class="total" data-region="OH" data-bed="single">80</td>' in html
    assert 'aria-label="7 available of 80"' in html and 'aria-label="0 available of 9"' in html
    assert 'class="suppressed" data-region="WV"' in html
    assert "2 of 3 shelters reporting" in html
    assert html.count("updated 12 min ago") == 1  # once per region, not on every row
    assert "filled part is available" in html  # the legend


def test_each_bed_type_has_its_own_scale() -> None:
    """Family rooms are drawn against the largest family total, not against single beds."""
    two = Snapshot(
        seq=1,
        regions=[
            Region(
                region=r,
                shelters=3,
                stale=0,
                suppressed=False,
                as_of="2026-12-01T10:03:00Z",
                beds={
                    "single": BedTotals(total=t, available=0),
                    "family": BedTotals(total=f, available=f),
                },
            )
            for r, t, f in (("OH", 200, 4), ("PA", 100, 8))
        ],
    )
    html = page.render_regions(two, NOW)
    family = re.findall(r'<tr data-bed="family">.*?</tr>', html)
    assert len(family) == 2
    half, full = page.BAR_W // 2, page.BAR_W
    assert f'class="total" x="1" y="1" width="{half}"' in family[0]  # OH: 4 of 8
    assert f'class="total" x="1" y="1" width="{full}"' in family[1]  # PA: 8 of 8


def test_a_region_whose_shelters_are_all_stale_says_unknown_not_zero() -> None:
    """No contributing shelter: no numbers at all, and a sentence saying they are unknown."""
    stale = Region(region="OH", shelters=3, stale=3, suppressed=False, as_of=None, beds={})
    html = page.render_regions(Snapshot(seq=1, regions=[stale]), NOW)
    assert "availability is unknown, not zero" in html
    assert "0 of 3 shelters reporting" in html
    assert '<td class="available"' not in html


def test_updated_ago_reads_naturally() -> None:
    """as_of becomes `updated N min ago`, hours past two hours, and says when nothing reported."""
    assert page.ago("2026-12-01T10:15:00Z", NOW) == "updated 0 min ago"
    assert page.ago("2026-12-01T07:00:00Z", NOW) == "updated 3 h ago"
    assert page.ago(None, NOW) == "no current reports"


def test_the_dashboard_embeds_its_snapshot_safely() -> None:
    """The initial snapshot rides in a JSON script block that markup cannot break out of."""
    region = Region(region="OH", shelters=3, stale=0, suppressed=False, as_of=None, beds={})
    hostile = Snapshot(seq=1, regions=[region])
    html = page.render_dashboard(hostile, "viewer</script><script>alert(1)</script>", NOW)
    assert "<script>alert(1)" not in html
    assert html.count("<script") == 4  # the external script and the three JSON blocks


def test_bed_types_are_named_in_the_readers_language() -> None:
    """The server's rows and the script's (from the bed-names block) say "Camas
    individuales", not the wire's `single`; a type of a shelter's own keeps its name."""
    region = Region(
        region="OH",
        shelters=3,
        stale=0,
        suppressed=False,
        as_of="2026-12-01T10:00:00Z",
        beds={
            "single": BedTotals(total=4, available=1),
            "respite": BedTotals(total=2, available=2),
        },
    )
    html = page.render_dashboard(
        Snapshot(seq=1, regions=[region]), "viewer", NOW, _=Translator("es")
    )
    assert '<tr data-bed="single"><th scope="row">Camas individuales</th>' in html
    assert '<tr data-bed="respite"><th scope="row">respite</th>' in html
    names = re.search(r'<script type="application/json" id="bed-names">(.*?)</script>', html)
    assert names is not None and '"single":"Camas individuales"' in names.group(1)


def test_the_dashboard_says_when_its_numbers_may_be_out_of_date() -> None:
    """The alert region is always on the page (so filling it is announced); it holds the
    sentence only while the exchange cannot read its database."""
    live = page.render_dashboard(snapshot(), "viewer", NOW)
    stale = page.render_dashboard(snapshot(), "viewer", NOW, degraded=True)
    assert '<div id="degraded" class="degraded" role="alert"></div>' in live
    assert f'role="alert"><p>{page.DEGRADED}</p></div>' in stale
    spanish = page.render_dashboard(snapshot(), "viewer", NOW, degraded=True, _=Translator("es"))
    assert "Las cifras pueden no estar al día" in spanish and 'lang="es"' in spanish
    script = (shell.STATIC_DIR / "dashboard.js").read_text()
    assert f'"{page.DEGRADED}"' in script  # the live page says the same sentence


async def test_sign_in_sets_a_strict_httponly_cookie_and_shows_the_dashboard(
    conn: asyncpg.Connection[Any], serve: Any
) -> None:
    """A token posted once becomes an HttpOnly, SameSite=Strict session; the page then shows
    the dashboard with its CSP; a shelter token goes to its own page, never the dashboard;
    unknown tokens stay on the sign-in form; sign-out
    ends the session; assets are served by Haven."""
    added = await registry.add_shelters(
        conn,
        [
            NewShelter(name=f"S{i}", region="OH", lat=40, lon=-83, beds={"single": 5})
            for i in range(3)
        ],
    )
    _, viewer = await auth.create_token(conn, "viewer")
    server = serve()
    async with httpx.AsyncClient(base_url=server.url) as http:
        first = await http.get("/")
        assert first.status_code == 200 and 'action="/session"' in first.text
        assert "default-src 'none'" in first.headers["content-security-policy"]
        bad = await http.post("/session", data={"token": "hvn_wrong"})
        assert bad.status_code == 303 and bad.headers["location"] == "/?error=bad_token"
        assert "not recognised" in (await http.get("/?error=bad_token")).text
        assert "set-cookie" not in bad.headers
        async with httpx.AsyncClient(base_url=server.url) as shelter:
            signed = await shelter.post("/session", data={"token": added[0][1]})
            assert signed.headers["location"] == "/shelter"  # her own page, not the dashboard
            assert (await shelter.get("/")).headers["location"] == "/shelter"
            assert (await shelter.get("/api/regions")).status_code == 403
            await shelter.post("/session/end")
        good = await http.post("/session", data={"token": viewer})
        cookie = good.headers["set-cookie"]
        assert re.search(r"haven_session=[\w-]{40,};", cookie)
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
        session_id = good.cookies["haven_session"]
        stored = await conn.fetchval("select array_agg(digest) from sessions")
        assert stored == [hashlib.sha256(session_id.encode()).digest()]  # only a digest is kept
        dashboard = await http.get("/")
        assert 'id="regions"' in dashboard.text and 'data-region="OH"' in dashboard.text
        for asset in ("/static/dashboard.js", "/static/dashboard.css", "/static/favicon.svg"):
            assert (await http.get(asset)).status_code == 200
        assert (await http.get("/api/regions")).json()["type"] == "snapshot"
        await http.post("/session/end")
        assert await conn.fetchval("select count(*) from sessions") == 0
        http.cookies.set("haven_session", session_id)
        assert 'action="/session"' in (await http.get("/")).text


async def test_a_revoked_token_ends_its_sessions(conn: asyncpg.Connection[Any], serve: Any) -> None:
    """Revoking the token a session was made from signs that session out."""
    _, planner = await dashboard_token(conn, "planner")
    server = serve()
    async with httpx.AsyncClient(base_url=server.url) as http:
        await http.post("/session", data={"token": planner})
        assert (await http.get("/api/regions")).status_code == 200
        await auth.revoke_token(conn, token=planner)
        assert (await http.get("/api/regions")).status_code == 401
        assert 'action="/session"' in (await http.get("/")).text


# -- the page in a real browser ----------------------------------------------------------------


async def _seed(dsn: str) -> tuple[list[tuple[str, str]], str]:
    conn = await asyncpg.connect(dsn)
    try:
        shelters = await registry.add_shelters(
            conn,
            [
                NewShelter(
                    name=f"Shelter {i}", region=r, lat=40, lon=-83, beds={"single": 10, "family": 4}
                )
                for i, r in enumerate(["OH", "OH", "OH", "PA", "PA", "PA", "WV"])
            ],
        )
        _, token = await auth.create_token(conn, "viewer")
        return shelters, token
    finally:
        await conn.close()


@contextlib.contextmanager
def events_locked(dsn: str) -> Iterator[None]:
    """Hold an exclusive lock on the event table (the fan-out's catch-up then times out)."""
    locked, release = threading.Event(), threading.Event()

    async def hold() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            async with conn.transaction():
                await conn.execute("lock table bed_events in access exclusive mode")
                locked.set()
                await asyncio.to_thread(release.wait)
        finally:
            await conn.close()

    thread = threading.Thread(target=asyncio.run, args=(hold(),))
    thread.start()
    try:
        assert locked.wait(10), "could not lock bed_events"
        yield
    finally:
        release.set()
        thread.join(10)


def _report(server_url: str, shelter: tuple[str, str], seq: int, occupied: int) -> None:
    body = {
        "type": "report",
        "seq": seq,
        "beds": {"single": {"total": 10, "occupied": occupied, "out_of_service": 0}},
    }
    reply = httpx.put(
        f"{server_url}/api/shelters/{shelter[0]}/beds",
        json=body,
        headers={"Authorization": f"Bearer {shelter[1]}"},
    )
    assert reply.json()["status"] == "applied", reply.text


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_the_page_in_a_headless_browser(dsn: str, serve: Any) -> None:
    """Chromium signs in, shows the seeded numbers, shows a pushed report within 2 s, shows
    an alert while the exchange cannot read its database, and never requests anything that
    is not on this host."""
    from playwright.sync_api import Route, expect, sync_playwright

    shelters, token = asyncio.run(_seed(dsn))
    server = serve()
    for i, shelter in enumerate(shelters[:6]):
        _report(server.url, shelter, 1, 2 + i % 3)  # OH: 8+7+6 = 21 free singles; PA too
    host = urlsplit(server.url).hostname
    foreign: list[str] = []

    def guard(route: Route) -> None:
        if urlsplit(route.request.url).hostname not in (host, "localhost"):
            foreign.append(route.request.url)
            route.abort()
        else:
            route.continue_()

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
            tab.goto(server.url + "/")
            tab.fill("#token", token)
            tab.click("main button[type=submit]")
            single = tab.locator('td.available[data-region="OH"][data-bed="single"]')
            expect(single).to_have_text("21")
            expect(tab.locator('td.total[data-region="OH"][data-bed="single"]')).to_have_text("30")
            expect(tab.locator('td.available[data-region="PA"][data-bed="single"]')).to_have_text(
                "21"
            )
            expect(tab.locator('section.suppressed[data-region="WV"]')).to_be_visible()
            expect(tab.locator("#link")).to_have_text("live")
            bar = tab.locator('section[data-region="OH"] tr[data-bed="single"] svg.bar')
            expect(bar).to_have_attribute("aria-label", "21 available of 30")
            expect(tab.locator("#updated")).to_contain_text("min ago")

            started = time.monotonic()
            _report(server.url, shelters[0], 2, 10)  # OH loses 8 free singles
            expect(single).to_have_text("13", timeout=2000)
            assert time.monotonic() - started < within(2.0)
            expect(bar).to_have_attribute("aria-label", "13 available of 30")

            # The exchange cannot read its events: the page says its numbers may be old.
            alert = tab.locator('#degraded[role="alert"]')
            with events_locked(dsn):
                expect(alert).to_have_text(page.DEGRADED, timeout=15000)
                expect(alert).to_be_visible()
                screens.save(tab, "dashboard-degraded")
            expect(alert).to_have_text("", timeout=10000)

            # A dropped connection resumes: restart the server, report meanwhile, see it arrive.
            server.stop()
            expect(tab.locator("#link")).to_have_text("reconnecting…")
            server.start()
            _report(server.url, shelters[1], 2, 10)  # OH: 13 - 7 = 6
            expect(single).to_have_text("6", timeout=15000)
            assert "Shelter " not in tab.content()  # regions only, never a shelter
            assert errors == []
        finally:
            browser.close()
    assert foreign == []
