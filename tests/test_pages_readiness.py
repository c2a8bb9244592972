"""The release-day board on the planner's page and its pickup form: without a server, the
order the API gives, each reason in a sentence in English and Spanish, the form's reading
of a day and time in the reader's zone, its refusals next to their fields; against a real
server, that the form acts for her own agency only."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from exchange.access import tokens as auth
from exchange.pages import planner
from exchange.pages import readiness as ready
from exchange.pages.explanations import explain
from exchange.pages.i18n import Translator
from exchange.placements import readiness, rules
from schema.placements import NewPickup, ReadinessRow
from schema.registry import Principal

TODAY = dt.date(2026, 12, 1)
NOW = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)


def board() -> list[ReadinessRow]:
    return readiness.board(
        [
            readiness.Facts(
                request="r000001",
                agency="DRC",
                region="OH",
                status="accepted",
                release_date=TODAY + dt.timedelta(days=5),
                ref="OH-READY",
                pickup_who="agency",
                pickup_at=NOW + dt.timedelta(days=5),
            ),
            readiness.Facts(
                request="r000002",
                agency="DRC",
                region="OH",
                status="open",
                release_date=TODAY + dt.timedelta(days=1),
                ref="OH-<b>RISK</b>",
            ),
        ],
        NOW,
        readiness.Policy(),
        14,
    )


def cards(html: str) -> list[tuple[str, str]]:
    return re.findall(r'data-ready="([^"]+)" data-risk="([^"]*)"', html)


def test_women_at_risk_come_first_with_each_reason_in_a_sentence() -> None:
    """The board keeps the API's order (at risk first), marks those at risk, says why in
    words, and a ready woman's card says nothing needs doing."""
    html = ready.render_board(Translator("en"), board())
    assert cards(html) == [("r000002", "no_bed no_pickup"), ("r000001", "")]
    assert "1 of 2 need attention." in html
    first, second = html.split('<li class="ready')[1:]
    assert "At risk" in first and "At risk" not in second
    assert "No shelter has accepted her yet." in first
    assert "Nobody is arranged to meet her at the gate." in first
    assert "released tomorrow" in first and "released in 5 days" in second
    assert "Nothing needs doing now." in second
    assert "Pickup at the gate: her agency, 6 Dec, 10:00 UTC" in second
    assert "OH-&lt;b&gt;RISK&lt;/b&gt;" in first and "<b>RISK" not in html


def test_the_board_reads_in_spanish() -> None:
    """Every reason and the days left in Spanish."""
    _ = Translator("es")
    html = ready.render_board(_, board())
    assert "Ningún albergue la ha aceptado todavía." in html
    assert "Nadie está organizado para recogerla a la salida." in html
    assert "sale mañana" in html and "En riesgo" in html
    for reason, sentence in ready.REASONS.items():
        assert _(sentence) != sentence, reason


@pytest.mark.parametrize(
    ("left", "en", "es"),
    [
        (0, "released today", "sale hoy"),
        (1, "released tomorrow", "sale mañana"),
        (9, "released in 9 days", "sale en 9 días"),
        (-1, "released yesterday", "salió ayer"),
        (-3, "released 3 days ago", "salió hace 3 días"),
    ],
)
def test_days_left_read_naturally(left: int, en: str, es: str) -> None:
    assert ready.released(Translator("en"), left) == en
    assert ready.released(Translator("es"), left) == es


def test_every_reason_the_api_gives_has_a_sentence() -> None:
    """A reason added to the readiness core without words on the page fails here."""
    assert set(ready.REASONS) == set(readiness.REASONS)


def test_the_pickup_form_reads_the_day_and_time_in_the_readers_zone() -> None:
    """Without a script the offset is 0 (UTC, as the form says); with one, the reader's
    own; the day she typed is the day the rules check."""
    plain = ready.parse_pickup({"who": "agency", "date": "2026-12-02", "time": "9:30"})
    assert plain == NewPickup(who="agency", at=dt.datetime(2026, 12, 2, 9, 30, tzinfo=dt.UTC))
    local = ready.parse_pickup(
        {"who": "shelter", "date": "2026-12-02", "time": "23:15", "offset": "-300"}
    )
    assert isinstance(local, NewPickup)
    assert local.at.astimezone(dt.UTC) == dt.datetime(2026, 12, 3, 4, 15, tzinfo=dt.UTC)
    assert rules.check_pickup(local.at, dt.date(2026, 12, 2)) is None


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"who": "cousin", "date": "2026-12-02", "time": "09:30"}, "who"),
        ({"who": "agency", "date": "2/12/2026", "time": "09:30"}, "date"),
        ({"who": "agency", "date": "2026-02-30", "time": "09:30"}, "date"),
        ({"who": "agency", "date": "2026-12-02", "time": "25:00"}, "time"),
        ({"who": "agency", "date": "2026-12-02", "time": ""}, "time"),
    ],
)
def test_a_pickup_that_cannot_be_read_names_its_field_in_both_languages(
    values: dict[str, str], field: str
) -> None:
    found = ready.parse_pickup(values)
    assert isinstance(found, tuple) and found[0] == field
    assert Translator("es")(found[1]) != found[1]


def test_a_pickup_on_the_wrong_day_is_explained() -> None:
    """The rules' refusal of a day too far from her release reads in both languages."""
    at = dt.datetime(2026, 12, 20, 9, 0, tzinfo=dt.UTC)
    invalid = rules.check_pickup(at, dt.date(2026, 11, 2))
    assert invalid is not None
    assert explain(Translator("en"), invalid.message) == (
        "must be from 1 day before to 30 days after her release on 2026-11-02 (it says 2026-12-20)"
    )
    assert explain(Translator("es"), invalid.message).startswith("debe estar entre 1 día antes")


def test_a_refused_pickup_keeps_what_was_typed_and_says_why_next_to_the_field() -> None:
    """The form of the row at fault opens, keeps her values, and ties the message to the
    field with aria-describedby and aria-invalid."""
    html = ready.render_board(
        Translator("en"),
        board(),
        pickup_for="r000002",
        values={"who": "other", "date": "2026-12-02", "time": "07:45", "offset": "0"},
        error=("time", "must be a time, like 09:30"),
    )
    form = html.split('data-ready="r000002"')[1].split("</details>")[0]
    assert '<details class="pickup-form" open>' in form
    assert 'value="other" selected' in form and 'value="07:45"' in form
    assert 'aria-describedby="r000002-time-zone r000002-time-error" aria-invalid="true"' in form
    assert 'id="r000002-time-error">must be a time, like 09:30<' in form


def test_each_refused_field_is_linked_from_the_alert() -> None:
    """On a phone the fields are far below the alert: it links to each one refused (the
    request form's, or the pickup form's on the board)."""
    who = Principal(token_id=1, role="planner", agency="DRC", regions=("OH",))
    html = planner.render_page(
        Translator("es"),
        who,
        [],
        "0",
        board=board(),
        errors={"age": "debe ser al menos 16"},
        alert="Hay campos que revisar.",
    )
    assert '<a href="#f-age">Edad: debe ser al menos 16</a>' in html
    html = planner.render_page(
        Translator("en"),
        who,
        [],
        "0",
        board=board(),
        pickup_for="r000002",
        pickup_error=("time", "must be a time, like 09:30"),
    )
    summary = html.split('class="error-summary">')[1].split("</ul>")[0]
    assert summary == '<li><a href="#r000002-time">must be a time, like 09:30</a></li>'
    assert 'id="r000002-time" name="time"' in html


@pytest.mark.slow
async def test_the_pickup_form_acts_for_her_own_agency_only(
    conn: asyncpg.Connection[Any], serve: Any
) -> None:
    """Her agency's planner arranges the pickup with the page's form (the API's rules, a
    refusal in her language next to its field); another agency's planner, or a form posted
    from another site, changes nothing."""
    _, drc = await auth.create_token(conn, "planner", regions=["OH"], agency="DRC")
    _, other = await auth.create_token(conn, "planner", regions=["OH"], agency="OTHER")
    server = serve()
    release = dt.date.today() + dt.timedelta(days=3)
    body = {
        "ref": "OH-1",
        "region": "OH",
        "release_date": release.isoformat(),
        "origin": {"lat": 39.96, "lon": -83.0},
        "bed_type": "single",
        "age": 30,
        "max_km": 150,
    }
    async with httpx.AsyncClient(base_url=server.url) as api:
        made = await api.post(
            "/api/requests", json=body, headers={"Authorization": f"Bearer {drc}"}
        )
        assert made.status_code == 201, made.text
    rid = made.json()["id"]
    form = {"who": "agency", "date": release.isoformat(), "time": "09:30", "offset": "-300"}

    @contextlib.asynccontextmanager
    async def signed(token: str, **headers: str) -> AsyncIterator[httpx.AsyncClient]:
        async with httpx.AsyncClient(base_url=server.url) as client:
            await client.post("/session", data={"token": token})
            client.headers.update(headers)
            yield client

    async def stored() -> list[tuple[str, dt.datetime]]:
        rows = await conn.fetch("select who, at from pickups where request_id = $1", rid)
        return [(r["who"], r["at"]) for r in rows]

    async with signed(other) as elsewhere:
        refused = await elsewhere.post(f"/planner/requests/{rid}/pickup", data=form)
        assert refused.status_code == 303
        assert refused.headers["location"] == "/planner?error=not_found"
    async with signed(drc, origin="https://evil.example") as forged:
        refused = await forged.post(f"/planner/requests/{rid}/pickup", data=form)
        assert refused.status_code == 303 and refused.headers["location"].startswith("/?next=")
    assert await stored() == []

    async with signed(drc, **{"accept-language": "es"}) as own:
        bad = await own.post(f"/planner/requests/{rid}/pickup", data={**form, "date": "2020-01-01"})
        assert bad.status_code == 400
        assert f'id="{rid}-date-error">debe estar entre 1 día antes' in bad.text
        assert f'id="{rid}-date" name="date" type="date" value="2020-01-01"' in bad.text
        assert await stored() == []
        saved = await own.post(f"/planner/requests/{rid}/pickup", data=form)
        assert saved.status_code == 303
        assert saved.headers["location"] == f"/planner?pickup={rid}#ready-h"
    at = dt.datetime.combine(release, dt.time(14, 30), tzinfo=dt.UTC)  # 09:30 at UTC-5
    assert await stored() == [("agency", at)]
