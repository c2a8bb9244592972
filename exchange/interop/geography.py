"""US states and postal addresses, shared by the HSDS and HUD mappings.

Haven keeps an address as one line of text (`12 Elm St, Akron, OH 44308`); HSDS and HMIS
split it into parts. `join_address` and `split_address` convert between the two so that
an address exported and imported again comes back as the same text.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import msgspec

Geocoder = Callable[[str], "Place | None"]
"""A ZIP code to its place (the CLI's is `exchange.interop.geocode.zip_place`); a seam
so the pure mappings never read a data file themselves."""


class Place(msgspec.Struct, frozen=True):
    """Where a ZIP code is: its centroid and its state."""

    lat: float
    lon: float
    state: str


STATES = {
    "alabama": "AL",
    "alaska": "AK",
    "arizona": "AZ",
    "arkansas": "AR",
    "california": "CA",
    "colorado": "CO",
    "connecticut": "CT",
    "delaware": "DE",
    "district of columbia": "DC",
    "florida": "FL",
    "georgia": "GA",
    "hawaii": "HI",
    "idaho": "ID",
    "illinois": "IL",
    "indiana": "IN",
    "iowa": "IA",
    "kansas": "KS",
    "kentucky": "KY",
    "louisiana": "LA",
    "maine": "ME",
    "maryland": "MD",
    "massachusetts": "MA",
    "michigan": "MI",
    "minnesota": "MN",
    "mississippi": "MS",
    "missouri": "MO",
    "montana": "MT",
    "nebraska": "NE",
    "nevada": "NV",
    "new hampshire": "NH",
    "new jersey": "NJ",
    "new mexico": "NM",
    "new york": "NY",
    "north carolina": "NC",
    "north dakota": "ND",
    "ohio": "OH",
    "oklahoma": "OK",
    "oregon": "OR",
    "pennsylvania": "PA",
    "rhode island": "RI",
    "south carolina": "SC",
    "south dakota": "SD",
    "tennessee": "TN",
    "texas": "TX",
    "utah": "UT",
    "vermont": "VT",
    "virginia": "VA",
    "washington": "WA",
    "west virginia": "WV",
    "wisconsin": "WI",
    "wyoming": "WY",
    "puerto rico": "PR",
    "guam": "GU",
    "virgin islands": "VI",
    "american samoa": "AS",
    "northern mariana islands": "MP",
}
"""State and territory names to their USPS codes (HUD's CoC codes start with these)."""

_CODES = set(STATES.values())


def state_code(text: str | None) -> str | None:
    """`OH`, `oh` or `Ohio` → `OH`; anything else → None."""
    if not text:
        return None
    text = text.strip()
    if text.upper() in _CODES:
        return text.upper()
    return STATES.get(text.lower())


def join_address(
    line1: str | None,
    line2: str | None = None,
    city: str | None = None,
    state: str | None = None,
    postal_code: str | None = None,
) -> str | None:
    """The parts of a postal address as Haven's one line, empty parts left out."""
    tail = " ".join(p for p in (state, postal_code) if p)
    parts = [p.strip() for p in (line1, line2, city, tail) if p and p.strip()]
    return ", ".join(parts) or None


_STATE_ZIP = re.compile(r"^(?P<state>[A-Za-z][A-Za-z ]*?)(?: (?P<zip>[0-9]{5}(?:-[0-9]{4})?))?$")


class AddressParts(msgspec.Struct, frozen=True):
    """An address line split for a structured format; `city`, `state` and `postal_code`
    are None when the line did not end in them."""

    line1: str
    city: str | None
    state: str | None
    postal_code: str | None


def split_address(text: str) -> AddressParts:
    """`12 Elm St, Akron, OH 44308` → its street, city, state and ZIP.

    The state is kept as written (`OH` or `Ohio`). A line not of that shape stays whole
    in `line1`, so that `join_address` gives it back unchanged.
    """
    parts = [p.strip() for p in text.split(",")]
    if len(parts) >= 3 and (m := _STATE_ZIP.match(parts[-1])) and state_code(m["state"]):
        return AddressParts(", ".join(parts[:-2]), parts[-2], m["state"], m["zip"])
    return AddressParts(text, None, None, None)
