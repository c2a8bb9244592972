"""What a page says when Haven refuses something, in the reader's language.

The rules live where the API keeps them (the msgspec types, `placements.rules`,
`beds.report`); their messages are English sentences that quote values. A page shows
them next to the field at fault, translated here by their shape: each pattern below is
one of those sentences, and its template says the same in words a tired person reads
right the first time. A message no pattern knows is shown as the API says it (a test
feeds every refusal the pages can meet through `explain` and requires a match).
"""

from __future__ import annotations

import re

from exchange.pages.i18n import N_, Translator

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p), t)
    for p, t in [
        # msgspec, as rules.field_error reports it
        (r"^required$", N_("is required")),
        (r"^unknown field$", N_("is not a field Haven knows")),
        (r"^expected `(?:int|float)` >= (?P<n>-?[\d.]+)$", N_("must be at least {n}")),
        (r"^expected `(?:int|float)` > (?P<n>-?[\d.]+)$", N_("must be more than {n}")),
        (r"^expected `(?:int|float)` <= (?P<n>-?[\d.]+)$", N_("must be at most {n}")),
        (r"^expected `(?:int|float)` < (?P<n>-?[\d.]+)$", N_("must be less than {n}")),
        (r"^expected `str` of length >= 1$", N_("is required")),
        (r"^expected `str` of length <= (?P<n>\d+)$", N_("must be at most {n} characters")),
        (r"^expected `array` of length <= (?P<n>\d+)$", N_("may list at most {n}")),
        (r"^expected `int`, got `\w+`$", N_("must be a whole number")),
        (r"^expected `float`, got `\w+`$", N_("must be a number")),
        (r"^expected `bool`, got `\w+`$", N_("must be yes or no")),
        (
            r"^(?:expected `date`, got `\w+`|invalid RFC3339 encoded date)$",
            N_("must be a date, like 2026-12-11"),
        ),
        (
            r"^expected `str` matching regex '\^\[A-Z\]",
            N_("must be a region code in capitals, like OH"),
        ),
        (
            r"^expected `str` matching regex '\^\[a-z\]\{2,3\}",
            N_("must be a language code, like es"),
        ),
        (
            r"^expected `str` matching regex '\^\[A-Za-z0-9_-\]\{16,128\}",
            N_("must be 16 to 128 letters, digits, - or _ (see Contact tokens)"),
        ),
        (r"^expected `str` matching regex '\^r\[0-9\]", N_("must be request ids, like r000123")),
        (
            r"^expected `str` matching regex '\^\[a-z\]\[a-z0-9_\]",
            N_("must be lower-case words (letters, digits, _), like family"),
        ),
        (r"^expected `str` matching regex", N_("is not in the expected form")),
        # placements.rules.check_request and placements.requests
        (
            r"^must not be more than (?P<n>\d+) days ago, got (?P<got>[\d-]+)$",
            N_("must not be more than {n} days ago (it says {got})"),
        ),
        (
            r"^must be within (?P<n>\d+) days, got (?P<got>[\d-]+)$",
            N_("must be within {n} days from today (it says {got})"),
        ),
        (r"^lists the same contact token twice$", N_("lists the same contact token twice")),
        (r"^must be one of her contacts", N_("must be one of her contact tokens")),
        (r"^lists the same request twice$", N_("lists the same request twice")),
        (r"^no request (?P<id>r\d+) of your agency$", N_("your agency has no request {id}")),
        (
            r"^must be between (?P<early>\d+) days? before and (?P<late>\d+) days after her "
            r"release on (?P<release>[\d-]+), got (?P<got>[\d-]+)$",
            N_(
                "must be from {early} day before to {late} days after her release on "
                "{release} (it says {got})"
            ),
        ),
        # pages.forms (a CSV upload)
        (r"^is larger than (?P<n>\d+) bytes$", N_("is larger than {n} bytes")),
        (r"^is not UTF-8 text", N_("is not UTF-8 text: save it as “CSV UTF-8”")),
        (r"^is empty$", N_("is empty")),
        (r"^unknown column '(?P<name>[^']*)'$", N_("has a column Haven does not know: {name}")),
        (r"^missing column '(?P<name>[^']*)'$", N_("lacks the column {name}")),
        (r"^has more than (?P<n>\d+) lines$", N_("has more than {n} lines")),
        (r"^has more values than columns$", N_("has more values than columns")),
        (r"^has no requests$", N_("has no requests")),
        # beds.report (the operator's counts)
        (r"^must be >= 0, got -?\d+$", N_("must be 0 or more")),
        (r"^must be <= (?P<n>\d+), got \d+$", N_("must be at most {n}")),
        (r"^must be an integer, got .*$", N_("must be a whole number")),
        (
            r"^occupied \+ out_of_service \((?P<occupied>\d+) \+ (?P<out>\d+)\) > total "
            r"\((?P<total>\d+)\)$",
            N_(
                "occupied ({occupied}) and out of service ({out}) add up to more than the "
                "{total} beds"
            ),
        ),
    ]
]

_CODES = {
    "duplicate_ref": N_(
        "Your agency already has a live request with this ref: withdraw that one first, "
        "or use another ref."
    ),
    "forbidden_region": N_("Your token creates requests only for your own regions."),
    "counts_changed": N_(
        "Someone else reported your beds since this page showed them. The counts below are "
        "the current ones: make your change again and save."
    ),
    "unknown_offer": N_("That offer is not one of yours (or no longer exists)."),
    "offer_expired": N_(
        "That offer expired: its bed is released and it can no longer be answered."
    ),
    "already_decided": N_("That offer was already answered."),
    "not_accepted": N_("Accept the offer before marking her arrived."),
    "no_placement": N_("No shelter has accepted her yet, so there is no address to show."),
    "already_ended": N_("That request has already ended."),
    "not_found": N_("No such request for your agency."),
    "unavailable": N_(
        "Haven cannot reach its database right now. Nothing was saved: try again in a minute."
    ),
    "conflict": N_("Someone else changed this at the same moment. Nothing was saved: try again."),
    "forbidden_origin": N_("That form came from another site, so Haven ignored it."),
    "missing_token": N_("Enter a token."),
    "bad_token": N_("That token is not recognised."),
    "revoked_token": N_("That token has been revoked."),
    "bad_session": N_("Sign in again."),
    "forbidden_role": N_("This token cannot open that page."),
    "invalid_report": N_("Those counts cannot be saved."),
    "invalid_request": N_("Some fields need attention."),
    "invalid_csv": N_("The file was not imported."),
}


def explain(_: Translator, message: str) -> str:
    """A field's problem, as the API words it, in the reader's language."""
    text = message.strip()
    lowered = text[:1].lower() + text[1:]
    for pattern, template in _PATTERNS:
        found = pattern.search(lowered)
        if found:
            return _(template, **found.groupdict())
    return text


def known(message: str) -> bool:
    """Whether `explain` has words of its own for this message (the tests use it)."""
    lowered = message.strip()
    lowered = lowered[:1].lower() + lowered[1:]
    return any(p.search(lowered) for p, _ in _PATTERNS)


def refusal(_: Translator, code: str, message: str = "") -> str:
    """A whole-form refusal (a code of `exchange.errors`) in the reader's language."""
    template = _CODES.get(code)
    return _(template) if template else (message or code)
