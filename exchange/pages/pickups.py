"""How the pickup at the gate reads on a page (the operator's offer, the planner's
placement): who meets her, when, and whether it was flagged for a second look."""

from __future__ import annotations

from exchange.pages.i18n import N_, Translator
from schema.wire import Pickup

BY = {
    "shelter": N_("the shelter"),
    "agency": N_("her agency"),
    "verified_family": N_("verified family"),
    "other": N_("someone else"),
}


def pickup_text(_: Translator, pickup: Pickup) -> str:
    text = _(
        "Pickup at the gate: {who}, {when}",
        who=_(BY.get(pickup.who, pickup.who)),
        when=_.moment(pickup.at),
    )
    return text + (" " + _("(flagged for a second look)") if pickup.flagged else "")
