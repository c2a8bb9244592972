"""ZIP codes to places, from the `zipcodes` package's bundled data (no network).

HMIS CSV holds no coordinates and many HSDS directories leave them out; a ZIP code's
centre is close enough for Haven's distances (tens of kilometres), and the import
reports every shelter placed this way.
"""

from __future__ import annotations

import functools

from exchange.interop.geography import Place


@functools.cache
def zip_place(code: str) -> Place | None:
    """The centre and state of a US ZIP code (`44308` or `44308-1234`), or None."""
    import zipcodes  # loads ~40k ZIP codes on first use: only when an import needs it

    five = code.strip()[:5]
    if len(five) != 5 or not five.isdigit():
        return None
    try:
        found = zipcodes.matching(five)  # type: ignore[no-untyped-call]
    except (TypeError, ValueError):
        return None
    if not found:
        return None
    z = found[0]
    return Place(lat=float(z["lat"]), lon=float(z["long"]), state=str(z["state"]))
