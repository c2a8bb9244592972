"""Haven's own words as every page says them: bed types and request statuses.

The wire keeps its codes (`family`, `no_show`); a page shows the words, in the reader's
language. A bed type a shelter registered under a name of its own is shown as written.
"""

from __future__ import annotations

from exchange.pages.i18n import N_, Translator

BED_TYPES = {
    "single": N_("Single beds"),
    "family": N_("Family rooms"),
    "accessible": N_("Accessible beds"),
}
STATUS = {
    "open": N_("waiting for a bed"),
    "offered": N_("offered to a shelter"),
    "accepted": N_("accepted"),
    "arrived": N_("arrived"),
    "withdrawn": N_("withdrawn"),
    "no_show": N_("did not arrive"),
}


def bed_label(_: Translator, bed_type: str) -> str:
    return _(BED_TYPES[bed_type]) if bed_type in BED_TYPES else bed_type


def status_label(_: Translator, status: str) -> str:
    return _(STATUS[status]) if status in STATUS else status
