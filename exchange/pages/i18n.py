"""English and Spanish on every page: gettext catalogs read with Babel, chosen per request.

Messages are written in English in the source, as `_("…")` with `{name}` placeholders
(or `N_("…")` where a message is only marked, to be translated later); the catalogs under
`locale/` hold the translations. After changing a message:

    uv run python -m exchange.pages.i18n

(Babel's extraction, with a method that also reads f-strings, into `locale/messages.pot`;
then each language's `.po` updated from it) and translate the new entries in
`locale/es/LC_MESSAGES/messages.po`: a test fails while any message of the pages has no
translation. The `.po` files are read at start-up (no
compiled `.mo`, no build step).

The language is the `haven_lang` cookie (the switch on every page sets it), else the best
of `Accept-Language`, else English.
"""

from __future__ import annotations

import ast
import datetime as dt
import functools
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from babel.messages.pofile import read_po

LANGUAGES = ("en", "es")
NAMES = {"en": "English", "es": "Español"}
COOKIE = "haven_lang"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "messages"


def N_(message: str) -> str:
    """Mark a message for the catalogs without translating it here."""
    return message


@functools.cache
def catalog(lang: str) -> Mapping[str, str]:
    """msgid → translation of one language (empty for English, the source language)."""
    path = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    if lang == "en" or not path.exists():
        return {}
    with path.open("rb") as f:
        po = read_po(f, locale=lang)
    return {
        str(m.id): str(m.string)
        for m in po
        if m.id and isinstance(m.id, str) and m.string and not m.fuzzy
    }


def moment(lang: str, iso: str) -> str:
    """A UTC time from the API (`2026-12-11T14:00:00Z`) as the reader writes it, in UTC
    (a page cannot know the reader's zone without a script); the text as given if it is
    not such a time."""
    from babel.dates import format_datetime

    try:
        at = dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(dt.UTC)
    except ValueError:
        return iso
    return f"{format_datetime(at, 'd MMM, HH:mm', tzinfo=dt.UTC, locale=lang)} UTC"


class Translator:
    """`_(message, **values)` in one language; falls back to the English source."""

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGUAGES else "en"
        self._catalog = catalog(self.lang)

    def __call__(self, message: str, **values: object) -> str:
        text = self._catalog.get(message) or message
        return text.format(**values) if values else text

    def moment(self, iso: str) -> str:
        """A time from the API in this language (`moment`)."""
        return moment(self.lang, iso)

    def table(self, messages: list[str]) -> dict[str, str]:
        """These messages and their translations (for a page's script)."""
        return {m: self(m) for m in messages}


def choose(cookie: str | None, accept_language: str | None) -> str:
    """The page language: the switch's cookie, else `Accept-Language`, else English."""
    if cookie in LANGUAGES:
        assert cookie is not None
        return cookie
    best, best_q = "en", 0.0
    for n, part in enumerate((accept_language or "").split(",")[:32]):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        # Earlier entries win ties, as the header lists them by preference.
        q -= n * 1e-6
        if primary in LANGUAGES and q > best_q:
            best, best_q = primary, q
    return best


def translator(cookies: Mapping[str, str], headers: Mapping[str, str]) -> Translator:
    """The translator for a request."""
    return Translator(choose(cookies.get(COOKIE), headers.get("accept-language")))


MARKERS = ("_", "N_")


def extract(
    fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: Any
) -> Iterator[tuple[int, str, str, list[str]]]:
    """Babel's extraction method for the pages: every `_("…")` and `N_("…")`, including
    those inside f-strings, which Babel's own Python method skips."""
    tree = ast.parse(fileobj.read())
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in MARKERS
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.lineno, node.func.id, node.args[0].value, []


def source_messages() -> list[str]:
    """Every message the pages' source marks, sorted."""
    from babel.messages.extract import extract_from_dir

    found = extract_from_dir(str(LOCALE_DIR.parent), method_map=[("**.py", f"{__name__}:extract")])
    return sorted({str(message) for _file, _line, message, _comments, _context in found})


def update_catalogs() -> None:
    """Write `messages.pot` from the source and bring each language's `.po` up to date
    (new messages untranslated, gone ones dropped, translations kept)."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import write_po

    template = Catalog(project="Haven", charset="utf-8")
    for message in source_messages():
        template.add(message)
    with (LOCALE_DIR / f"{DOMAIN}.pot").open("wb") as f:
        write_po(f, template, omit_header=True, sort_output=True)
    for lang in LANGUAGES[1:]:
        path = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
        with path.open("rb") as f:
            po = read_po(f, locale=lang)
        po.update(template, no_fuzzy_matching=True)
        po.obsolete.clear()
        with path.open("wb") as f:
            write_po(f, po, omit_header=True, sort_output=True, width=100)


if __name__ == "__main__":
    update_catalogs()
