"""The pages for people in real chromium: a shelter operator and a release planner, on a
desktop and on a 390x844 phone, with JavaScript and without, in English and Spanish; axe
on every page; nothing requested from another host; screenshots in test-artifacts/."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest
import screens

from exchange.access import tokens as auth
from exchange.beds import registry
from schema.registry import NewShelter

CHROMIUM = Path("/usr/bin/chromium")
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"
    ),
]


class World:
    def __init__(self, tokens: dict[str, str], shelters: list[str]) -> None:
        self.tokens = tokens
        self.shelters = shelters


async def _seed(dsn: str) -> World:
    """Three OH shelters (only the first has single beds, an address and a phone), a
    planner of agency DRC for OH, and the first shelter's token."""
    conn = await asyncpg.connect(dsn)
    try:
        added = await registry.add_shelters(
            conn,
            [
                NewShelter(
                    name="Casa Esperanza",
                    region="OH",
                    lat=40.0,
                    lon=-83.0,
                    beds={"single": 10, "family": 2},
                    address="12 Elm St, Columbus",
                    intake_phone="+1 614 555 0100",
                ),
                NewShelter(name="House B", region="OH", lat=40.1, lon=-83.1, beds={"family": 3}),
                NewShelter(name="House C", region="OH", lat=40.2, lon=-83.2, beds={"family": 3}),
            ],
        )
        # Twelve recorded days of OH (the scheduler records one a day; seeded here).
        for back in range(12, 0, -1):
            await conn.execute(
                "insert into region_days (region, day, shelters, contributing, confidential,"
                " beds, open, offered, accepted, unplaced)"
                " values ('OH', current_date - $1::int, 3, 3, false, $2::jsonb, $3, 1, 2, 0)",
                back,
                f'{{"single": {{"total": 10, "available": {2 + back % 5}}}}}',
                1 + (12 - back) // 2,
            )
        _, planner = await auth.create_token(conn, "planner", regions=["OH"], agency="DRC")
        _, admin = await auth.create_token(conn, "admin")
        tokens = {"shelter": added[0][1], "planner": planner, "admin": admin}
        return World(tokens, [sid for sid, _ in added])
    finally:
        await conn.close()


def _report_all(url: str, world: World, dsn: str) -> None:
    """Every shelter reports once (fresh, so matching may offer its beds)."""

    async def tokens_of() -> list[str]:
        conn = await asyncpg.connect(dsn)
        try:
            # The other shelters' tokens were printed once; make fresh ones for the seed.
            out = []
            for sid in world.shelters[1:]:
                out.append((await auth.create_token(conn, "shelter", shelter_id=sid))[1])
            return out
        finally:
            await conn.close()

    others = asyncio.run(tokens_of())
    bodies = [
        {"single": {"total": 10, "occupied": 2, "out_of_service": 0}},
        {"family": {"total": 3, "occupied": 1, "out_of_service": 0}},
        {"family": {"total": 3, "occupied": 1, "out_of_service": 0}},
    ]
    for sid, token, beds in zip(
        world.shelters, [world.tokens["shelter"], *others], bodies, strict=True
    ):
        reply = httpx.put(
            f"{url}/api/shelters/{sid}/beds",
            json={"seq": "next", "beds": beds},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert reply.json()["status"] == "applied", reply.text


def _run(url: str, world: World) -> dict[str, Any]:
    reply = httpx.post(
        f"{url}/api/matching/runs",
        json={"regions": ["OH"]},
        headers={"Authorization": f"Bearer {world.tokens['planner']}"},
        timeout=60,
    )
    assert reply.status_code == 201, reply.text
    result: dict[str, Any] = reply.json()
    return result


def audit_log(dsn: str) -> list[tuple[str, str, str]]:
    """The audit log's kinds, subjects and details (read in a thread of its own: the sync
    playwright API runs an event loop in this one)."""

    async def read() -> list[tuple[str, str, str]]:
        conn = await asyncpg.connect(dsn)
        try:
            rows = await conn.fetch("select kind, subject, detail from audit_log order by id")
            return [(r["kind"], r["subject"], r["detail"]) for r in rows]
        finally:
            await conn.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, read()).result()


@contextmanager
def browser(url: str) -> Iterator[tuple[Any, list[str]]]:
    """Chromium, with every request to another host refused and recorded."""
    from playwright.sync_api import sync_playwright

    host = urlsplit(url).hostname
    foreign: list[str] = []
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:

            def context(**options: Any) -> Any:
                ctx = b.new_context(**options)

                def guard(route: Any) -> None:
                    if urlsplit(route.request.url).hostname not in (host, "localhost"):
                        foreign.append(route.request.url)
                        route.abort()
                    else:
                        route.continue_()

                ctx.route("**/*", guard)
                return ctx

            yield context, foreign
        finally:
            b.close()


def axe_check(tab: Any, name: str) -> None:
    """axe-core in the page: no serious or critical violation."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(tab)
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} — "
        + "; ".join(n["target"][0] for n in v["nodes"][:3])
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert bad == [], f"{name}: {bad}"


shot = screens.save


def sign_in(tab: Any, url: str, token: str, page: str) -> None:
    tab.goto(f"{url}{page}")
    tab.fill("#token", token)
    tab.locator("main form button[type=submit]").click()
    tab.wait_for_url(f"{url}{page}")


def fill_request(tab: Any, ref: str, age: str) -> None:
    release = (dt.date.today() + dt.timedelta(days=4)).isoformat()
    tab.fill("#f-ref", ref)
    tab.fill("#f-release_date", release)
    tab.fill("#f-origin_lat", "39.96")
    tab.fill("#f-origin_lon", "-83.0")
    tab.fill("#f-bed_type", "single")
    tab.fill("#f-age", age)
    tab.fill("#f-max_km", "150")


@pytest.mark.parametrize(
    ("size", "js"),
    [("desktop", True), ("phone", True), ("phone", False), ("desktop", False)],
)
def test_an_operator_and_a_planner_place_a_woman(dsn: str, serve: Any, size: str, js: bool) -> None:
    """The planner asks for a bed (a refused age shown next to its field first) and the
    release-day board puts her at risk; a run offers it; the operator updates a count in
    three taps at most and the dashboard shows it; she accepts and the planner's page says
    accepted (live, with JavaScript: over /ws/planner), the risk cleared; the planner
    arranges the pickup on the board (a missing time refused next to its field; a pickup by
    family flagged, then her agency), typed in her own time zone with JavaScript and in UTC
    without, and the shelter sees it (live over /ws/shelter with JavaScript); the planner
    reads the address after one deliberate, audited click; she arrives."""
    from playwright.sync_api import expect

    world = asyncio.run(_seed(dsn))
    server = serve(env={"HAVEN_MATCH_EVERY_S": "0", "HAVEN_MATCH_EXECUTOR": "thread"})
    url = server.url
    _report_all(url, world, dsn)
    viewport = PHONE if size == "phone" else DESKTOP
    tag = f"{size}{'' if js else '-nojs'}"

    def shot(tab: Any, name: str) -> None:
        # Without JavaScript the pages look as with it: the phone's pictures are enough.
        if js or size == "phone":
            screens.save(tab, name)

    with browser(url) as (context, foreign):
        options = {
            "viewport": viewport,
            "java_script_enabled": js,
            "locale": "en-US",
            "timezone_id": "America/Chicago",
        }
        planner_ctx, shelter_ctx, board_ctx = (
            context(**options),
            context(**options),
            context(**options),
        )
        planner, shelter, board = (
            planner_ctx.new_page(),
            shelter_ctx.new_page(),
            board_ctx.new_page(),
        )
        errors: list[str] = []
        for tab in (planner, shelter, board):
            tab.on("pageerror", lambda exc: errors.append(str(exc)))

        # The sign-in form, then her agency's (empty) page.
        planner.goto(f"{url}/planner")
        expect(planner.locator("#token")).to_be_visible()
        if js:
            axe_check(planner, f"sign-in {tag}")
        shot(planner, f"sign-in-{tag}")
        sign_in(planner, url, world.tokens["planner"], "/planner")
        expect(planner.locator("#request-list")).to_contain_text("No requests yet")

        # A refused value is named next to its field, with what she typed kept.
        fill_request(planner, "OH-DRC-4471", "12")
        planner.get_by_role("button", name="Send request").click()
        expect(planner.locator("#f-age-error")).to_have_text("must be at least 16")
        expect(planner.locator("#f-age")).to_have_attribute("aria-invalid", "true")
        expect(planner.locator('#alert a[href="#f-age"]')).to_have_text("Age: must be at least 16")
        expect(planner.locator("#f-ref")).to_have_value("OH-DRC-4471")
        if js:
            axe_check(planner, f"planner with errors {tag}")
        planner.fill("#f-age", "34")
        planner.get_by_role("button", name="Send request").click()
        expect(planner.locator("#notice")).to_contain_text("sent")
        status = planner.locator("tr[data-request] .status")
        expect(status).to_have_attribute("data-status", "open")
        request_id = planner.locator("tr[data-request]").get_attribute("data-request")
        assert request_id is not None

        # The release-day board: released in four days with no bed yet, she is at risk.
        card = planner.locator(f'li.ready[data-ready="{request_id}"]')
        expect(card).to_have_attribute("data-risk", "no_bed")
        expect(card.locator(".risk-badge")).to_have_text("At risk")
        expect(card).to_contain_text("No shelter has accepted her yet.")
        expect(card).to_contain_text("released in 4 days")

        # Matching offers her to the only shelter with a single bed.
        assert _run(url, world)["offers"] == 1

        # The dashboard, as the planner's agency sees it.
        sign_in(board, url, world.tokens["planner"], "/planner")
        board.goto(f"{url}/")
        free = board.locator('td.available[data-region="OH"][data-bed="single"]')
        expect(free).to_have_text("7")  # 10 - 2 occupied - 1 held
        expect(board.locator("section.demand, p.demand")).to_contain_text("offered: 1")
        trend = board.locator('section.trend[aria-labelledby="t-OH"]')
        expect(trend.locator("polyline.supply")).to_have_count(1)
        expect(trend.locator("table.trend tbody tr")).to_have_count(12)

        # The operator: the offer is there; one count in three taps or fewer.
        sign_in(shelter, url, world.tokens["shelter"], "/shelter")
        offer = shelter.locator("li.offer")
        expect(offer).to_have_count(1)
        expect(offer).to_contain_text("Age 34")
        if js:
            axe_check(shelter, f"operator {tag}")
        shot(shelter, f"operator-{tag}")
        taps = 0
        single = shelter.locator('fieldset[data-bed="single"]')
        plus = single.get_by_role("button", name="Occupied: one more")
        assert plus.is_visible() and plus.bounding_box()["y"] < viewport["height"]
        plus.click()
        taps += 1
        occupied = shelter.locator("#single-occupied")
        expect(occupied).to_have_value("3")
        if not js:
            expect(shelter.locator("#notice")).to_contain_text("Not saved yet")
        shelter.get_by_role("button", name="Save", exact=True).last.click()
        taps += 1
        assert taps <= 3
        expect(shelter.locator("#notice")).to_have_text("Saved.")
        expect(occupied).to_have_value("3")
        if js:
            expect(free).to_have_text("6", timeout=5000)  # live on the dashboard
        else:
            board.reload()
            expect(free).to_have_text("6")

        # Still accurate restates the counts: a new report, nothing changed.
        shelter.get_by_role("button", name="Still accurate").click()
        expect(shelter.locator("#notice")).to_have_text("Saved.")
        expect(shelter.locator("#age")).to_have_text("Last report 0 min ago")

        # She accepts; the planner's page says so, and the risk clears (live with JavaScript).
        offer.get_by_role("button", name="Accept").click()
        expect(shelter.locator("#notice")).to_contain_text("Offer accepted")
        if js:
            expect(status).to_have_attribute("data-status", "accepted", timeout=8000)
        else:
            planner.reload()
            expect(status).to_have_attribute("data-status", "accepted")
        expect(card.locator(".status")).to_have_attribute("data-status", "accepted")
        expect(card).to_have_attribute("data-risk", "")
        expect(card).to_contain_text("Nothing needs doing now.")
        expect(planner.locator("body")).not_to_contain_text("12 Elm St")

        # Her agency arranges the pickup on the board: a time left out is refused next to
        # its field (what she chose is kept), then saved; family meeting her is flagged.
        release = dt.date.today() + dt.timedelta(days=4)
        card.get_by_text("Arrange the pickup…").click()
        card.get_by_label("Who meets her at the gate").select_option("verified_family")
        card.get_by_label("Day", exact=True).fill(release.isoformat())
        card.get_by_role("button", name="Save the pickup").click()
        expect(card.locator(f"#{request_id}-time-error")).to_have_text("must be a time, like 09:30")
        expect(card.get_by_label("Who meets her at the gate")).to_have_value("verified_family")
        expect(planner.locator("#alert")).to_contain_text("The pickup was not saved")
        if js:
            expect(card.locator(f"#{request_id}-time-zone")).to_have_text(
                re.compile(r"your computer’s time \(UTC−0[56]:00\)")
            )
            axe_check(planner, f"planner pickup error {tag}")
        card.get_by_label("Time", exact=True).fill("09:00")
        card.get_by_role("button", name="Save the pickup").click()
        expect(planner.locator("#notice")).to_contain_text(f"Pickup for request {request_id}")
        expect(card).to_have_attribute("data-risk", "pickup_flagged")
        expect(card).to_contain_text("check who it is")
        # 09:00 in Chicago with JavaScript (15:00 UTC in winter), 09:00 UTC without.
        utc = "15:00 UTC" if js else "09:00 UTC"
        expect(card.locator(".pickup")).to_contain_text(f"verified family, {release.day} ")
        expect(card.locator(".pickup")).to_contain_text(utc)
        if js:
            expect(offer).to_contain_text("Pickup at the gate: verified family", timeout=8000)
        else:
            shelter.reload()
            expect(offer).to_contain_text("Pickup at the gate: verified family")
        expect(offer).to_contain_text(utc)
        card.get_by_text("Change the pickup…").click()
        card.get_by_label("Who meets her at the gate").select_option("agency")
        card.get_by_role("button", name="Save the pickup").click()
        expect(card).to_have_attribute("data-risk", "")
        if js:
            axe_check(planner, f"planner {tag}")
        shot(planner, f"planner-{tag}")
        if js:
            expect(offer).to_contain_text("Pickup at the gate: her agency", timeout=8000)
        else:
            shelter.reload()
            expect(offer).to_contain_text("Pickup at the gate: her agency")

        # One deliberate click shows the address, and the read is audited.
        planner.get_by_role("button", name="Show where she goes").click()
        placement = planner.locator("section.placement")
        expect(placement).to_contain_text("12 Elm St, Columbus")
        expect(placement).to_contain_text("+1 614 555 0100")
        expect(placement).to_contain_text("Pickup at the gate: her agency")
        if js:
            axe_check(planner, f"placement {tag}")
        shot(planner, f"planner-placement-{tag}")
        kinds = [k for k, _, _ in audit_log(dsn)]
        assert kinds.count("placement.read") == 1

        # She arrives: the held bed becomes an occupied one.
        shelter.reload()
        shelter.get_by_role("button", name="She arrived").click()
        expect(shelter.locator("#notice")).to_contain_text("Marked arrived")
        expect(occupied).to_have_value("4")
        expect(shelter.locator("li.offer")).to_have_count(0)

        if js:
            axe_check(board, f"dashboard {tag}")
        shot(board, f"dashboard-{tag}")
        assert errors == []
    assert foreign == []


def test_a_decline_with_a_reason_and_a_csv_upload(dsn: str, serve: Any) -> None:
    """A CSV with a bad line imports nothing and names the line; a good one imports every
    line; the shelter declines one offer with a reason, recorded in the audit log."""
    from playwright.sync_api import expect

    world = asyncio.run(_seed(dsn))
    server = serve(env={"HAVEN_MATCH_EVERY_S": "0", "HAVEN_MATCH_EXECUTOR": "thread"})
    url = server.url
    _report_all(url, world, dsn)
    release = (dt.date.today() + dt.timedelta(days=6)).isoformat()
    head = "ref,region,release_date,origin_lat,origin_lon,bed_type,age,max_km,children,needs\n"
    good = f"A-1,OH,{release},39.96,-83.0,single,30,150,0,\n"
    bad = head + good + f"A-2,OH,{release},39.96,-83.0,single,thirty,150,0,\n"
    with browser(url) as (context, foreign):
        tab = context(viewport=PHONE).new_page()
        sign_in(tab, url, world.tokens["planner"], "/planner")
        tab.set_input_files(
            "#csv-file",
            files=[{"name": "list.csv", "mimeType": "text/csv", "buffer": bad.encode()}],
        )
        tab.get_by_role("button", name="Import").click()
        expect(tab.locator("#alert")).to_have_text(
            "Nothing was imported. line 3: age must be a whole number"
        )
        expect(tab.locator("#request-list")).to_contain_text("No requests yet")
        again = head + good + f"A-2,OH,{release},39.9,-83.1,single,41,150,0,\n"
        tab.set_input_files(
            "#csv-file",
            files=[{"name": "list.csv", "mimeType": "text/csv", "buffer": again.encode()}],
        )
        tab.get_by_role("button", name="Import").click()
        expect(tab.locator("#notice")).to_have_text("2 requests imported.")
        expect(tab.locator("tr[data-request]")).to_have_count(2)
        # Released in six days without a bed: both at risk on the release-day board.
        expect(tab.locator('li.ready.at-risk[data-risk="no_bed"]')).to_have_count(2)
        expect(tab.locator(".risk-summary")).to_have_text("2 of 2 need attention.")
        shot(tab, "planner-release-day-phone")

        assert _run(url, world)["offers"] == 2
        operator = context(viewport=PHONE).new_page()
        sign_in(operator, url, world.tokens["shelter"], "/shelter")
        first = operator.locator("li.offer").first
        first.get_by_text("Decline…").click()
        first.get_by_label("Reason").select_option("full")
        first.get_by_role("button", name="Decline this offer").click()
        expect(operator.locator("#notice")).to_contain_text("Offer declined")
        expect(operator.locator("li.offer")).to_have_count(1)
    assert foreign == []
    declined = [d for k, _, d in audit_log(dsn) if k == "offer.declined"]
    assert len(declined) == 1 and declined[0].endswith("reason=full")


def test_the_pages_in_spanish(dsn: str, serve: Any) -> None:
    """Accept-Language: es gives Spanish pages; the switch turns one back to English and
    the choice persists; a refused value is explained in Spanish; axe passes in Spanish."""
    from playwright.sync_api import expect

    world = asyncio.run(_seed(dsn))
    server = serve(env={"HAVEN_MATCH_EVERY_S": "0", "HAVEN_MATCH_EXECUTOR": "thread"})
    url = server.url
    _report_all(url, world, dsn)
    with browser(url) as (context, foreign):
        for size, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
            ctx = context(
                viewport=viewport,
                locale="es-MX",
                extra_http_headers={"Accept-Language": "es-MX,es;q=0.9"},
            )
            tab = ctx.new_page()
            tab.goto(f"{url}/shelter")
            expect(tab.locator("html")).to_have_attribute("lang", "es")
            expect(tab.get_by_role("button", name="Entrar")).to_be_visible()
            axe_check(tab, f"sign-in es {size}")
            shot(tab, f"sign-in-es-{size}")
            tab.fill("#token", world.tokens["shelter"])
            tab.get_by_role("button", name="Entrar").click()
            tab.wait_for_url(f"{url}/shelter")
            expect(tab.get_by_role("button", name="Sigue igual")).to_be_visible()
            expect(tab.locator("#age")).to_contain_text("Último informe hace")
            tab.fill("#single-occupied", "11")
            tab.get_by_role("button", name="Guardar", exact=True).last.click()
            expect(tab.locator("#single-error")).to_have_text(
                "ocupadas (11) y fuera de servicio (0) suman más que las 10 camas"
            )
            axe_check(tab, f"operator es {size}")
            shot(tab, f"operator-es-{size}")

            planner = context(
                viewport=viewport, locale="es-MX", extra_http_headers={"Accept-Language": "es"}
            ).new_page()
            sign_in(planner, url, world.tokens["planner"], "/planner")
            fill_request(planner, f"ES-{size}", "ciento")
            planner.get_by_role("button", name="Enviar solicitud").click()
            expect(planner.locator("#f-age-error")).to_have_text("debe ser un número entero")
            expect(planner.locator("#ready-h")).to_have_text(
                "Días de salida: quién necesita atención"
            )
            axe_check(planner, f"planner es {size}")
            shot(planner, f"planner-es-{size}")
            planner.goto(f"{url}/")
            expect(planner.get_by_role("heading", level=1)).to_have_text("Camas por región")
            axe_check(planner, f"dashboard es {size}")
            shot(planner, f"dashboard-es-{size}")

            # The switch: English now, and still English on the next page load.
            tab.get_by_role("button", name="English").click()
            expect(tab.get_by_role("button", name="Still accurate")).to_be_visible()
            tab.goto(f"{url}/shelter")
            expect(tab.locator("html")).to_have_attribute("lang", "en")
    assert foreign == []


def test_contact_tokens_are_derived_in_the_browser(dsn: str, serve: Any) -> None:
    """The page's Web Crypto HMAC equals the documented one (HMAC-SHA-256, base64url, of
    the normalised identity), fills the contacts field, and neither the passphrase nor
    the identity is ever sent."""
    from playwright.sync_api import expect

    world = asyncio.run(_seed(dsn))
    server = serve(env={"HAVEN_MATCH_EVERY_S": "0"})
    url = server.url
    passphrase, identity = "agency secret phrase 7", "  Maria   LOPEZ 1990-04-02 "
    digest = hmac.new(passphrase.encode(), b"maria lopez 1990-04-02", hashlib.sha256).digest()
    expected = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    sent: list[str] = []
    with browser(url) as (context, foreign):
        ctx = context(viewport=PHONE)
        tab = ctx.new_page()
        tab.on("request", lambda r: sent.append(f"{r.url} {r.post_data or ''}"))
        sign_in(tab, url, world.tokens["planner"], "/planner")
        tab.fill("#derive-key", passphrase)
        tab.fill("#derive-who", identity)
        tab.get_by_role("button", name="Make token").click()
        expect(tab.locator("#derive-out")).to_have_text(expected)
        tab.get_by_role("button", name="Add to contacts").click()
        expect(tab.locator("#f-contacts")).to_have_value(expected)
        fill_request(tab, "OH-DRC-9", "29")
        tab.get_by_role("button", name="Send request").click()
        expect(tab.locator("#notice")).to_contain_text("sent")
    assert foreign == []
    assert all(passphrase not in s and "Maria" not in s and "maria" not in s for s in sent)
    assert any(expected in s for s in sent)  # the token itself is what the request carries


def test_the_operator_page_works_with_the_keyboard_alone(dsn: str, serve: Any) -> None:
    """Tab reaches `+` and Save, Enter presses them, and the focused control shows a
    visible focus ring."""
    from playwright.sync_api import expect

    world = asyncio.run(_seed(dsn))
    server = serve(env={"HAVEN_MATCH_EVERY_S": "0"})
    url = server.url
    _report_all(url, world, dsn)
    with browser(url) as (context, foreign):
        tab = context(viewport=PHONE).new_page()
        sign_in(tab, url, world.tokens["shelter"], "/shelter")

        def tab_to(label: str) -> None:
            for _ in range(60):
                tab.keyboard.press("Tab")
                name, bed = tab.evaluate(
                    "(() => { const e = document.activeElement, f = e.closest('fieldset');"
                    " return [(e.getAttribute('aria-label') || e.textContent || '').trim(),"
                    " f ? f.dataset.bed : '']; })()"
                )
                if name == label and bed in ("", "single"):
                    outline = tab.evaluate("getComputedStyle(document.activeElement).outlineStyle")
                    assert outline != "none", f"{label} has no visible focus"
                    return
            raise AssertionError(f"Tab never reached {label}")

        tab_to("Occupied: one more")
        tab.keyboard.press("Enter")
        expect(tab.locator("#single-occupied")).to_have_value("3")
        tab_to("Save")
        tab.keyboard.press("Enter")
        expect(tab.locator("#notice")).to_have_text("Saved.")
    assert foreign == []


def test_the_pages_listen_on_the_channels_and_poll_only_without_them(dsn: str, serve: Any) -> None:
    """With its channel the planner's page re-reads only when /ws/planner tells of a
    change (no polling); with the channels refused, both pages say they are not connected
    and still follow changes by polling: a request made elsewhere reaches the planner's
    list and board, an offer the operator's page. Connected, the operator's page shows
    counts reported by her agent at once."""
    from playwright.sync_api import expect

    world = asyncio.run(_seed(dsn))
    server = serve(env={"HAVEN_MATCH_EVERY_S": "0", "HAVEN_MATCH_EXECUTOR": "thread"})
    url = server.url
    _report_all(url, world, dsn)
    headers = {"Authorization": f"Bearer {world.tokens['planner']}"}
    release = (dt.date.today() + dt.timedelta(days=5)).isoformat()

    def create(ref: str) -> None:
        body = {
            "ref": ref,
            "region": "OH",
            "release_date": release,
            "origin": {"lat": 39.96, "lon": -83.0},
            "bed_type": "single",
            "age": 30,
            "max_km": 150,
        }
        made = httpx.post(f"{url}/api/requests", json=body, headers=headers)
        assert made.status_code == 201, made.text

    with browser(url) as (context, foreign):
        live: list[str] = []
        tab = context(viewport=PHONE).new_page()
        tab.on("request", lambda r: live.append(r.url) if "/planner/live" in r.url else None)
        sign_in(tab, url, world.tokens["planner"], "/planner")
        tab.wait_for_timeout(1000)  # connected, and whatever the connection brought read
        live.clear()
        create("LIVE-1")
        expect(tab.locator("tr[data-request]")).to_have_count(1, timeout=8000)
        expect(tab.locator('li.ready[data-risk="no_bed"]')).to_have_count(1)
        tab.wait_for_timeout(6000)  # longer than the fallback's poll
        assert live and all("changed=1" in u for u in live), live
        expect(tab.locator("#offline")).to_have_text("")

        refused = context(viewport=PHONE)
        refused.route_web_socket("**/ws/*", lambda ws: ws.close())
        planner = refused.new_page()
        sign_in(planner, url, world.tokens["planner"], "/planner")
        expect(planner.locator("#offline")).to_contain_text("Not connected to Haven", timeout=8000)
        create("POLL-2")
        expect(planner.locator("tr[data-request]")).to_have_count(2, timeout=12000)
        expect(planner.locator('li.ready[data-risk="no_bed"]')).to_have_count(2)
        axe_check(planner, "planner not connected")

        # Connected, the operator's page shows counts her agent reports at once (its
        # slow refresh is once a minute): the channel tells a page `beds_changed`.
        operator = context(viewport=PHONE).new_page()
        sign_in(operator, url, world.tokens["shelter"], "/shelter")
        free = operator.locator('fieldset[data-bed="single"] .free-count')
        expect(free).to_have_text("8")
        operator.wait_for_timeout(1000)  # connected
        reply = httpx.put(
            f"{url}/api/shelters/{world.shelters[0]}/beds",
            json={
                "seq": "next",
                "beds": {"single": {"total": 10, "occupied": 6, "out_of_service": 0}},
            },
            headers={"Authorization": f"Bearer {world.tokens['shelter']}"},
        )
        assert reply.json()["status"] == "applied", reply.text
        expect(free).to_have_text("4", timeout=5000)
        operator.close()

        other = context(viewport=PHONE)
        other.route_web_socket("**/ws/*", lambda ws: ws.close())
        shelter = other.new_page()
        sign_in(shelter, url, world.tokens["shelter"], "/shelter")
        expect(shelter.locator("li.offer")).to_have_count(0)
        shelter.wait_for_timeout(2000)  # refused twice: polling
        assert _run(url, world)["offers"] >= 1
        expect(shelter.locator("li.offer").first).to_be_visible(timeout=12000)
        expect(shelter.locator("#notice")).to_have_text("A new offer arrived.")
    assert foreign == []
