"""English and Spanish on the pages: the catalogs, the choice of language, the words for
every refusal a page shows."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from exchange.beds import report as core
from exchange.pages import explanations, forms, i18n
from exchange.pages.i18n import Translator
from exchange.placements import rules

PLACEHOLDER = re.compile(r"\{(\w+)\}")


def problems(messages: list[str], translations: dict[str, str]) -> list[str]:
    """Every message without a translation, or whose translation drops or invents a
    placeholder."""
    out = []
    for m in messages:
        got = translations.get(m, "")
        if not got.strip():
            out.append(f"untranslated: {m!r}")
        elif set(PLACEHOLDER.findall(got)) != set(PLACEHOLDER.findall(m)):
            out.append(f"placeholders differ: {m!r} -> {got!r}")
    return out


def test_every_message_of_the_pages_has_a_spanish_translation() -> None:
    """Each `_()`/`N_()` message in exchange/pages (f-strings included) is translated in
    the Spanish catalog, with the same placeholders."""
    messages = i18n.source_messages()
    assert len(messages) > 150, "the extraction found too few messages"
    assert problems(messages, dict(i18n.catalog("es"))) == []


def test_a_message_without_a_translation_is_caught() -> None:
    """The check reports a message added to the source but not to the catalog, and a
    translation that loses a placeholder."""
    catalog = dict(i18n.catalog("es"))
    found = problems([*i18n.source_messages(), "A planted message"], catalog)
    assert found == ["untranslated: 'A planted message'"]
    catalog["Age {age}"] = "Edad"
    assert problems(["Age {age}"], catalog) == ["placeholders differ: 'Age {age}' -> 'Edad'"]


def test_the_template_is_in_step_with_the_source() -> None:
    """locale/messages.pot lists exactly the source's messages (run
    `uv run python -m exchange.pages.i18n` after changing one)."""
    pot = (i18n.LOCALE_DIR / "messages.pot").read_text()
    listed = {
        m.encode().decode("unicode_escape").encode("latin-1").decode()
        for m in re.findall(r'^msgid "(.+)"$', pot, re.M)
    }
    # Long messages are wrapped over lines in the .pot; compare the short ones exactly.
    short = {m for m in i18n.source_messages() if len(m) < 60 and '"' not in m}
    assert short <= listed


@pytest.mark.parametrize(
    ("cookie", "header", "expected"),
    [
        (None, None, "en"),
        (None, "es-MX,es;q=0.9,en;q=0.8", "es"),
        (None, "en-US,en;q=0.9,es;q=0.8", "en"),
        (None, "fr-FR,fr;q=0.9,es;q=0.5", "es"),
        (None, "de", "en"),
        (None, "en;q=0.2, es;q=0.7", "es"),
        ("en", "es", "en"),
        ("es", "en", "es"),
        ("xx", "es", "es"),
        (None, "es;q=nonsense, en", "en"),
    ],
)
def test_the_language_is_the_switch_then_accept_language(
    cookie: str | None, header: str | None, expected: str
) -> None:
    """The switch's cookie wins; else the best Accept-Language we have; else English."""
    assert i18n.choose(cookie, header) == expected


def test_a_translator_fills_placeholders_and_falls_back_to_english() -> None:
    """Spanish where the catalog has it, the English source where not."""
    es = Translator("es")
    assert es("Age {age}", age=34) == "Edad: 34"
    assert es("Not a message of the catalog") == "Not a message of the catalog"
    assert Translator("en")("Age {age}", age=34) == "Age 34"
    assert Translator("zz").lang == "en"


BAD_FIELDS = [
    {"ref": ""},
    {"ref": "x" * 65},
    {"region": "oh"},
    {"release_date": "11/12/2026"},
    {"release_date": "2001-01-01"},
    {"release_date": "2090-01-01"},
    {"origin_lat": "north"},
    {"origin_lat": "91"},
    {"origin_lon": "-181"},
    {"bed_type": "Family Room"},
    {"age": "thirty"},
    {"age": "12"},
    {"age": "34.5"},
    {"max_km": "0"},
    {"max_km": "9000"},
    {"children": "-1"},
    {"children": "21"},
    {"mat": "maybe"},
    {"language": "spanish"},
    {"needs": "Trafficking"},
    {"urgency": "9"},
    {"contacts": "short"},
    {"contacts": "k7Qm2vXc9a0TQ1rL k7Qm2vXc9a0TQ1rL"},
    {"avoid_km": "-3"},
    {"exclude_with": "42"},
    {"exclude_with": "r000001 r000001"},
    {"home_lat": "40"},
]
GOOD = {
    "ref": "OH-DRC-1",
    "region": "OH",
    "release_date": (dt.date.today() + dt.timedelta(days=5)).isoformat(),
    "origin_lat": "39.96",
    "origin_lon": "-83.0",
    "bed_type": "single",
    "age": "34",
    "max_km": "150",
}


@pytest.mark.parametrize(
    "bad", BAD_FIELDS, ids=lambda b: "-".join(f"{k}={v}" for k, v in b.items())
)
def test_each_refusal_of_the_request_form_has_words_in_both_languages(
    bad: dict[str, str],
) -> None:
    """A form value the API refuses is refused here with the API's field and message, and
    the page has words for that message (in Spanish too)."""
    parsed = forms.parse({**GOOD, **bad})
    if not isinstance(parsed, forms.Problem):
        invalid = rules.check_request(parsed, today=dt.date.today())
        assert invalid is not None, f"{bad} was accepted"
        parsed = forms.Problem(field=invalid.field, message=invalid.message)
    assert parsed.column in {*bad, "home_lon"}, parsed
    assert explanations.known(parsed.message), parsed.message
    assert explanations.explain(Translator("es"), parsed.message) != parsed.message


@pytest.mark.parametrize(
    "counts",
    [
        {"total": 12, "occupied": -1, "out_of_service": 0},
        {"total": 12, "occupied": "lots", "out_of_service": 0},
        {"total": 12, "occupied": 10001, "out_of_service": 0},
    ],
)
def test_each_refusal_of_the_counts_has_words_in_both_languages(counts: dict[str, object]) -> None:
    """The report core's refusals of an operator's counts are explained in Spanish."""
    import msgspec

    error = core.decode(msgspec.json.encode({"seq": "next", "beds": {"single": counts}}))
    assert isinstance(error, core.Error)
    message = error.message.partition(": ")[2]
    assert explanations.known(message), message
    assert explanations.explain(Translator("es"), message) != message


def test_the_over_total_rule_is_explained() -> None:
    """`occupied + out_of_service > total`, as the core says it, reads as a sentence."""
    es = explanations.explain(Translator("es"), "occupied + out_of_service (9 + 4) > total (12)")
    assert es == "ocupadas (9) y fuera de servicio (4) suman más que las 12 camas"
