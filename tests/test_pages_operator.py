"""The shelter operator's page, rendered: her counts, her offers, safely escaped."""

from __future__ import annotations

import datetime as dt
import re

import msgspec

from exchange.beds.model import BedState, ShelterCounts
from exchange.pages import operator
from exchange.pages.i18n import Translator
from schema.wire import Offer, Pickup

NOW = dt.datetime(2026, 12, 1, 10, 15, tzinfo=dt.UTC)
STALE = dt.timedelta(hours=8)


def counts(reported: dt.datetime | None, name: str = "Casa Esperanza") -> ShelterCounts:
    return ShelterCounts(
        id="s00001",
        name=name,
        last_seq=16,
        reported_at=reported,
        beds={"single": BedState(total=10, occupied=2, out_of_service=1, held=1)},
        reported={"single"},
    )


OFFER = Offer(
    offer="o000001",
    status="offered",
    bed_type="single",
    children=2,
    mat=True,
    language="es",
    needs=["trafficking"],
    age=34,
    release_date="2026-12-11",
    expires_at="2026-12-02T10:00:00Z",
)


def test_the_counts_form_saves_on_enter_and_carries_the_seq_it_showed() -> None:
    """Enter in a count presses Save (the form's first submit button), and the report
    will be numbered after the seq the page showed."""
    html = operator.render_page(Translator("en"), counts(NOW), [], now=NOW, stale_after=STALE)
    form = html[html.index('<form id="counts"') :]
    first = re.search(r'<button type="submit" name="step" value="([^"]+)"', form)
    assert first is not None and first.group(1) == "save"
    assert '<input type="hidden" name="after" value="16">' in form
    assert '<span class="free-count">6</span>' in html and "1 held for placements" in html
    assert "Last report 0 min ago" in html and "not offered" not in html


def test_a_shelter_that_has_not_reported_is_told_its_beds_are_not_offered() -> None:
    """Never reported (or stale): the page says her beds are not offered until she reports."""
    for reported in (None, NOW - dt.timedelta(hours=9)):
        html = operator.render_page(
            Translator("en"), counts(reported), [], now=NOW, stale_after=STALE
        )
        assert "Your beds are not offered to planners until you report." in html


def test_an_offer_shows_what_she_needs_and_decline_takes_a_second_step() -> None:
    """The summary a shelter decides on; Accept at once, Decline behind a disclosure."""
    html = operator.render_offers(Translator("en"), [OFFER])
    for fact in ("Age 34", "With 2 children", "(MAT)", "Language: es", "Needs: trafficking"):
        assert fact in html
    assert 'action="/shelter/offers/o000001/accept"' in html
    assert '<details class="decline"><summary>Decline…</summary>' in html
    es = operator.render_offers(Translator("es"), [OFFER])
    assert "Aceptar" in es and "Con 2 hijos" in es


def test_names_are_escaped() -> None:
    """A shelter's name is text, never markup."""
    html = operator.render_page(
        Translator("en"), counts(NOW, "<script>x</script>"), [], now=NOW, stale_after=STALE
    )
    assert "<script>x" not in html and "&lt;script&gt;x" in html


def test_an_accepted_offer_shows_the_pickup_her_agency_arranged() -> None:
    """Accepted: the pickup at the gate (who, when, flagged) or that none is arranged yet."""
    accepted = msgspec.structs.replace(OFFER, status="accepted")
    assert "No pickup at the gate arranged yet." in operator.render_offers(
        Translator("en"), [accepted]
    )
    picked = msgspec.structs.replace(
        accepted, pickup=Pickup(who="other", at="2026-12-11T14:00:00Z", flagged=True)
    )
    html = operator.render_offers(Translator("en"), [picked])
    assert "Pickup at the gate: someone else, 11 Dec, 14:00 UTC (flagged" in html
    es = operator.render_offers(Translator("es"), [picked])
    assert "Recogida a la salida: otra persona, 11 dic, 14:00 UTC" in es


def test_a_bed_type_never_reported_says_haven_counts_none_of_it() -> None:
    """A registered type her reports never named is marked as not reported (the dashboard
    counts none of it); a reported one is not."""
    state = ShelterCounts(
        id="s00001",
        name="Casa Esperanza",
        last_seq=16,
        reported_at=NOW,
        beds={
            "family": BedState(total=2, occupied=0, out_of_service=0),
            "single": BedState(total=10, occupied=2, out_of_service=1),
        },
        reported={"single"},
    )
    html = operator.render_page(Translator("en"), state, [], now=NOW, stale_after=STALE)
    family, single = html.split('data-bed="family"')[1].split('data-bed="single"')
    assert "Not reported yet: Haven counts none of these beds" in family
    assert "Not reported yet" not in single
    spanish = operator.render_page(Translator("es"), state, [], now=NOW, stale_after=STALE)
    assert "Not reported yet" not in spanish and 'class="unreported"' in spanish
