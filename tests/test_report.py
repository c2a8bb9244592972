"""The shelter channel's sans-I/O core: decoding frames and applying reports."""

from __future__ import annotations

import json

import msgspec
import pytest

from exchange.beds import report as board
from exchange.beds.model import BedState
from schema.wire import Ack, BedCounts, Error, Report


def frame(seq: object = 5, beds: object = None, **extra: object) -> str:
    if beds is None:
        beds = {"single": {"total": 12, "occupied": 9, "out_of_service": 1}}
    return json.dumps({"type": "report", "seq": seq, "beds": beds, **extra})


def counts(
    total: object = 12, occupied: object = 9, out_of_service: object = 1
) -> dict[str, object]:
    return {"total": total, "occupied": occupied, "out_of_service": out_of_service}


def test_good_frame_decodes_to_report() -> None:
    """A well-formed report decodes on the typed fast path."""
    assert board.decode(frame()) == Report(
        seq=5, beds={"single": BedCounts(total=12, occupied=9, out_of_service=1)}
    )


def test_missing_type_reads_as_report() -> None:
    """An object without `type` is read as a report, on both decode paths."""
    good = json.dumps({"seq": 2, "beds": {"single": counts()}})
    assert isinstance(board.decode(good), Report)
    assert board.decode('{"seq": 2}') == Error(
        seq=2, code="invalid_report", message="beds: required"
    )


@pytest.mark.parametrize(
    ("raw", "code", "seq", "message"),
    [
        ("not json", "invalid_json", None, "frame is not valid JSON"),
        (b"\x00\xff", "invalid_json", None, "frame is not valid JSON"),
        ("[]", "invalid_message", None, "message must be a JSON object, not an array"),
        ("17", "invalid_message", None, "message must be a JSON object, not a number"),
        ("null", "invalid_message", None, "message must be a JSON object, not null"),
        ('{"type": "ack", "seq": 3}', "unknown_type", 3, 'unknown message type "ack"'),
        ('{"type": 7}', "unknown_type", None, "unknown message type 7"),
        ('{"type": "report", "beds": {}}', "invalid_report", None, "seq: required"),
        (frame(seq=0), "invalid_report", 0, "seq: must be >= 1, got 0"),
        (frame(seq=-2), "invalid_report", -2, "seq: must be >= 1, got -2"),
        (frame(seq=1.5), "invalid_report", None, "seq: must be an integer, got 1.5"),
        (frame(seq="3"), "invalid_report", None, 'seq: must be an integer, got "3"'),
        (frame(seq=None), "invalid_report", None, "seq: must be an integer, got null"),
        (frame(seq=2**63), "invalid_report", 2**63, f"seq: must be <= {2**62}, got {2**63}"),
        ('{"type": "report", "seq": 4}', "invalid_report", 4, "beds: required"),
        (frame(beds=[1]), "invalid_report", 5, "beds: must be an object, not an array"),
        (frame(extra=1), "invalid_report", 5, 'report: unknown field "extra"'),
        (
            frame(beds={"single": counts(occupied=-1)}),
            "invalid_report",
            5,
            "beds.single.occupied: must be >= 0, got -1",
        ),
        (
            frame(beds={"single": counts(total=2.5)}),
            "invalid_report",
            5,
            "beds.single.total: must be an integer, got 2.5",
        ),
        (
            frame(beds={"single": counts(out_of_service="1")}),
            "invalid_report",
            5,
            'beds.single.out_of_service: must be an integer, got "1"',
        ),
        (
            frame(beds={"single": counts(total=10_001)}),
            "invalid_report",
            5,
            "beds.single.total: must be <= 10000, got 10001",
        ),
        (
            frame(beds={"single": {"total": 3, "occupied": 0}}),
            "invalid_report",
            5,
            "beds.single.out_of_service: required",
        ),
        (
            frame(beds={"single": {**counts(), "held": 2}}),
            "invalid_report",
            5,
            'beds.single: unknown field "held"',
        ),
        (
            frame(beds={"single": 3}),
            "invalid_report",
            5,
            "beds.single: must be an object, not a number",
        ),
        (
            frame(beds={"Single": counts()}),
            "unknown_bed_type",
            5,
            'beds."Single": no such bed type',
        ),
    ],
)
def test_bad_frames_are_named_precisely(
    raw: str | bytes, code: str, seq: int | None, message: str
) -> None:
    """Every unusable frame becomes an Error with its own code, the readable seq, and the field."""
    assert board.decode(raw) == Error(seq=seq, code=code, message=message)


STATE = board.ShelterState(
    shelter_id="s00001",
    last_seq=10,
    beds={
        "single": BedState(total=12, occupied=9, out_of_service=1, held=1),
        "family": BedState(total=3, occupied=3, out_of_service=0, held=0),
    },
)


def rep(seq: int, **beds: tuple[int, int, int]) -> Report:
    return Report(
        seq=seq,
        beds={t: BedCounts(total=a, occupied=b, out_of_service=c) for t, (a, b, c) in beds.items()},
    )


def test_applied_report_changes_named_types_and_keeps_held() -> None:
    """An applied report sets the named types (keeping held), leaves others, and makes an event."""
    outcome = board.apply(STATE, rep(11, single=(10, 2, 0)))
    assert isinstance(outcome, board.Applied)
    assert outcome.ack == Ack(seq=11, status="applied")
    assert outcome.state.last_seq == 11
    assert outcome.state.beds["single"] == BedState(total=10, occupied=2, out_of_service=0, held=1)
    assert outcome.state.beds["family"] == STATE.beds["family"]
    assert outcome.event.kind == "report" and outcome.event.report_seq == 11
    assert outcome.event.beds == {"single": outcome.state.beds["single"]}


def test_duplicate_and_stale_change_nothing() -> None:
    """seq == last applied is a duplicate; seq below it is stale."""
    assert board.apply(STATE, rep(10, single=(1, 0, 0))) == Ack(seq=10, status="duplicate")
    assert board.apply(STATE, rep(3, single=(1, 0, 0))) == Ack(seq=3, status="stale")


def test_unknown_bed_type_is_refused() -> None:
    """A bed type the shelter does not have is an unknown_bed_type error listing what it has."""
    assert board.apply(STATE, rep(11, suite=(1, 0, 0))) == Error(
        seq=11,
        code="unknown_bed_type",
        message="beds.suite: this shelter has no such bed type (has family, single)",
    )


def test_occupied_plus_out_of_service_over_total_is_refused() -> None:
    """occupied + out_of_service > total is an invalid_report naming the type and numbers."""
    assert board.apply(STATE, rep(11, single=(12, 10, 3))) == Error(
        seq=11,
        code="invalid_report",
        message="beds.single: occupied + out_of_service (10 + 3) > total (12)",
    )


def test_empty_report_is_refused() -> None:
    """A report naming no bed type is refused rather than silently bumping last_seq."""
    outcome = board.apply(STATE, rep(11))
    assert isinstance(outcome, Error) and outcome.code == "invalid_report"


def test_invalid_report_is_refused_even_when_stale() -> None:
    """Validation comes before the seq check, so a bad old frame still gets its error."""
    outcome = board.apply(STATE, rep(3, single=(1, 2, 0)))
    assert isinstance(outcome, Error) and outcome.code == "invalid_report"


# -- reports the exchange numbers (the operator's page, a PUT with "seq": "next") -------------


def test_a_put_body_may_ask_the_exchange_to_number_it() -> None:
    """`"seq": "next"` in an untyped (PUT) body is an Unnumbered report; a websocket frame,
    which has hello's last_seq to number from, still needs an integer seq."""
    body = json.dumps({"seq": "next", "beds": {"single": counts()}})
    assert board.decode(body) == board.Unnumbered(
        beds={"single": BedCounts(total=12, occupied=9, out_of_service=1)}
    )
    refused = board.decode(frame(seq="next"), typed=True)
    assert isinstance(refused, Error) and refused.message.startswith("seq: must be an integer")
    bad = board.decode(json.dumps({"seq": "next", "beds": {"single": counts(occupied=-1)}}))
    assert bad == Error(
        seq=None, code="invalid_report", message="beds.single.occupied: must be >= 0, got -1"
    )


def test_an_unnumbered_report_follows_the_last_applied_one() -> None:
    """The exchange numbers it last_seq + 1, so it is applied; `after` refuses it when another
    report was applied since the counts the person saw."""
    beds = {"single": BedCounts(total=12, occupied=3, out_of_service=0)}
    known = msgspec.structs.replace(STATE, last_seq=16)
    assert board.number(known, board.Unnumbered(beds=beds)) == Report(seq=17, beds=beds)
    assert board.number(known, board.Unnumbered(beds=beds, after=16)) == Report(seq=17, beds=beds)
    changed = board.number(known, board.Unnumbered(beds=beds, after=15))
    assert isinstance(changed, Error) and changed.code == "counts_changed"
