"""Form fields and CSV lines as the API's request: the same type, the same refusals."""

from __future__ import annotations

import datetime as dt

import msgspec

from exchange.pages import forms
from schema.placements import NewRequest

RELEASE = (dt.date.today() + dt.timedelta(days=5)).isoformat()
FIELDS = {
    "ref": "OH-DRC-4471",
    "region": "OH",
    "release_date": RELEASE,
    "origin_lat": "39.96",
    "origin_lon": "-83.0",
    "bed_type": "family",
    "age": "34",
    "max_km": "150",
    "children": "2",
    "mat": "yes",
    "language": "ES",
    "needs": "trafficking, sud",
    "contacts": "k7Qm2vXc9a0TQ1rL\nZZQm2vXc9a0TQ1rL",
    "home_lat": "41.2",
    "home_lon": "-81.6",
}


def test_form_fields_make_the_request_the_api_would_decode() -> None:
    """Typed text becomes exactly the NewRequest the same JSON body decodes to."""
    body = {
        "ref": "OH-DRC-4471",
        "region": "OH",
        "release_date": RELEASE,
        "origin": {"lat": 39.96, "lon": -83.0},
        "home": {"lat": 41.2, "lon": -81.6},
        "bed_type": "family",
        "children": 2,
        "age": 34,
        "mat": True,
        "language": "es",
        "needs": ["trafficking", "sud"],
        "max_km": 150,
        "contacts": ["k7Qm2vXc9a0TQ1rL", "ZZQm2vXc9a0TQ1rL"],
    }
    assert forms.parse(FIELDS) == msgspec.json.decode(msgspec.json.encode(body), type=NewRequest)


def test_a_refusal_names_the_pages_field() -> None:
    """The API's path (`origin.lat`, `contacts[1]`) becomes the field on the page."""
    bad = forms.parse({**FIELDS, "origin_lat": "95"})
    assert isinstance(bad, forms.Problem) and bad.column == "origin_lat"
    bad = forms.parse({**FIELDS, "contacts": "k7Qm2vXc9a0TQ1rL short"})
    assert isinstance(bad, forms.Problem) and (bad.field, bad.column) == ("contacts[1]", "contacts")
    bad = forms.parse({**FIELDS, "mat": "perhaps"})
    assert isinstance(bad, forms.Problem) and bad.column == "mat"
    missing = forms.parse({k: v for k, v in FIELDS.items() if k != "age"})
    assert isinstance(missing, forms.Problem) and (missing.column, missing.message) == (
        "age",
        "required",
    )


def test_a_csv_is_read_whole_or_its_first_bad_line_is_named() -> None:
    """Every line, blank ones skipped and a BOM allowed; or the first bad line (header
    problems are line 1)."""
    head = "ref,region,release_date,origin_lat,origin_lon,bed_type,age,max_km,needs\n"
    line = f"A-{{n}},OH,{RELEASE},39.9,-83,single,{{age}},100,trafficking;sud\n"
    good = head + line.format(n=1, age=30) + "\n" + line.format(n=2, age=41)
    found = forms.read_csv(("\ufeff" + good).encode())
    assert not isinstance(found, forms.Problem)
    assert [(n, r.ref, r.needs) for n, r in found] == [
        (2, "A-1", ["trafficking", "sud"]),
        (4, "A-2", ["trafficking", "sud"]),
    ]
    bad = forms.read_csv((good + line.format(n=3, age="old")).encode())
    assert isinstance(bad, forms.Problem) and (bad.line, bad.column) == (5, "age")
    unknown = forms.read_csv(head.replace("needs", "shoe_size").encode())
    assert isinstance(unknown, forms.Problem) and "shoe_size" in unknown.message
    missing = forms.read_csv(head.replace(",age", "").encode())
    assert isinstance(missing, forms.Problem) and missing.message == "missing column 'age'"
    assert isinstance(forms.read_csv("\xff".encode("latin-1")), forms.Problem)
