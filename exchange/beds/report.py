"""The shelter channel's core, without sockets or a database.

`decode` turns one frame into a `Report` or an `Error` naming exactly what is wrong;
`apply` takes a shelter's known state and a report and returns what changes: the new
state, the event to record and the ack — or the ack/error alone when nothing changes.
The writer (`beds.ingest`) reads the state under a row lock, calls `apply`, and
persists the result; the handlers (`beds.channel`) decode, submit and send.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from exchange.beds.model import BedState, NewEvent, ShelterState
from schema.wire import (
    MAX_BEDS,
    WORD_PATTERN,
    Ack,
    BedCounts,
    ClientMessage,
    Decide,
    Error,
    Report,
)

_DECODER: msgspec.json.Decoder[Report | Decide] = msgspec.json.Decoder(ClientMessage)
_ANY = msgspec.json.Decoder()
_DECIDE = msgspec.json.Decoder(Decide)
_BED_TYPE = re.compile(WORD_PATTERN)
_COUNT_FIELDS = ("total", "occupied", "out_of_service")
_MAX_SEQ = 2**62
MAX_SEQ_JUMP = 10**9
"""The most a report's seq may pass the last applied one: far more than a shelter sends in
its life, so one wild seq (a buggy agent, a stolen token) cannot push last_seq to where
every later report is out of range."""

CLIENT_TYPES = frozenset({"report", "decide"})


class Applied(msgspec.Struct, frozen=True, kw_only=True):
    """A report that changes the shelter: write `state` and `event`, then send `ack`."""

    state: ShelterState
    event: NewEvent
    ack: Ack


Outcome = Applied | Ack | Error


class Unnumbered(msgspec.Struct, frozen=True, kw_only=True):
    """A report the exchange numbers itself: the writer gives it the last applied seq + 1,
    read under the shelter's row lock, so it can never be `duplicate` or `stale`.

    For people, not agents: the operator's page, and a PUT body with `"seq": "next"`.
    `after`, when set, is the last seq the person saw; if another report was applied since,
    this one is refused (`counts_changed`) rather than overwrite counts she never saw.
    """

    beds: dict[str, BedCounts]
    after: int | None = None


def error(seq: int | None, code: str, message: str) -> Error:
    return Error(seq=seq, code=code, message=message)


def decode(frame: str | bytes, *, typed: bool = False) -> Report | Decide | Unnumbered | Error:
    """One inbound frame as a Report or a Decide, or the Error that says precisely why not.

    The typed decoder handles every good frame; only a frame it refuses is decoded a
    second time, loosely, to name the offending field (msgspec's own path would say
    `$.beds[...]` rather than the bed type). `typed` frames (the websocket's) must carry
    the `type` the contract gives every message; a PUT body may leave it out and is read
    as a report, and may say `"seq": "next"` to have the exchange number it (`Unnumbered`).
    Never raises, whatever the bytes: invalid UTF-8 and nesting deeper than the decoder
    follows are `invalid_json` too.
    """
    try:
        return _DECODER.decode(frame)
    except (msgspec.DecodeError, UnicodeError, RecursionError):
        pass
    try:
        obj = _ANY.decode(frame)
    except msgspec.DecodeError:
        return error(None, "invalid_json", "frame is not valid JSON")
    except UnicodeError:
        return error(None, "invalid_json", "frame is not valid UTF-8")
    except RecursionError:
        return _too_deep(None)
    if not isinstance(obj, dict):
        return error(None, "invalid_message", f"message must be a JSON object, not {_kind(obj)}")
    seq = obj.get("seq")
    echo = seq if isinstance(seq, int) and not isinstance(seq, bool) else None
    if "type" in obj:
        kind = obj["type"]
    elif typed:
        return error(echo, "invalid_message", 'type: required, e.g. {"type": "report", ...}')
    else:
        kind = "report"
    # A type that is not a string (a list, an object) cannot be looked up in a set.
    if not isinstance(kind, str) or kind not in CLIENT_TYPES:
        return error(echo, "unknown_type", f"unknown message type {_short(kind)}")
    try:
        if kind == "decide":
            return _explain_decide(obj)
        if not typed and obj.get("seq") == "next":
            report = _explain_report({**obj, "seq": 1}, None)
            return report if isinstance(report, Error) else Unnumbered(beds=report.beds)
        return _explain_report(obj, echo)
    except RecursionError:  # a value nested just shallower than the decoder's limit
        return _too_deep(echo)


def _too_deep(echo: int | None) -> Error:
    return error(echo, "invalid_json", "frame is nested too deeply")


def _explain_decide(obj: dict[str, Any]) -> Decide | Error:
    try:
        return _DECIDE.decode(msgspec.json.encode(obj))
    except msgspec.ValidationError as exc:
        return error(None, "invalid_message", f"decide: {str(exc).lower()}")


def _explain_report(obj: dict[str, Any], echo: int | None) -> Report | Error:
    def bad(message: str) -> Error:
        return error(echo, "invalid_report", message)

    unknown = sorted(set(obj) - {"type", "seq", "beds"})
    if unknown:
        return bad(f"report: unknown field {_short(unknown[0])}")
    if "seq" not in obj:
        return bad("seq: required")
    seq = obj["seq"]
    if not isinstance(seq, int) or isinstance(seq, bool):
        return bad(f"seq: must be an integer, got {_short(seq)}")
    if seq < 1:
        return bad(f"seq: must be >= 1, got {seq}")
    if seq > _MAX_SEQ:
        return bad(f"seq: must be <= {_MAX_SEQ}, got {seq}")
    if "beds" not in obj:
        return bad("beds: required")
    beds = obj["beds"]
    if not isinstance(beds, dict):
        return bad(f"beds: must be an object, not {_kind(beds)}")
    for name, counts in beds.items():
        if not _BED_TYPE.match(name):
            return error(echo, "unknown_bed_type", f"beds.{_short(name)}: no such bed type")
        problem = _explain_counts(counts)
        if problem:
            return bad(f"beds.{name}{problem}")
    try:
        return msgspec.convert({**obj, "type": "report"}, Report)
    except msgspec.ValidationError as exc:  # a case the checks above do not name
        return bad(str(exc).lower())


def _explain_counts(counts: object) -> str | None:
    """`.field: problem` for the first bad count, or None."""
    if not isinstance(counts, dict):
        return f": must be an object, not {_kind(counts)}"
    unknown = sorted(set(counts) - set(_COUNT_FIELDS))
    if unknown:
        return f": unknown field {_short(unknown[0])}"
    for field in _COUNT_FIELDS:
        if field not in counts:
            return f".{field}: required"
        value = counts[field]
        if not isinstance(value, int) or isinstance(value, bool):
            return f".{field}: must be an integer, got {_short(value)}"
        if value < 0:
            return f".{field}: must be >= 0, got {value}"
        if value > MAX_BEDS:
            return f".{field}: must be <= {MAX_BEDS}, got {value}"
    return None


def number(state: ShelterState, report: Unnumbered) -> Report | Error:
    """The report numbered last applied seq + 1, or `counts_changed` when a report was
    applied after the one the person saw."""
    if report.after is not None and report.after != state.last_seq:
        return error(
            None,
            "counts_changed",
            f"another report was applied since seq {report.after} (now {state.last_seq}); "
            "read the current counts and send again",
        )
    return Report(seq=state.last_seq + 1, beds=report.beds)


def apply(state: ShelterState, report: Report) -> Outcome:
    """What `report` does to a shelter in `state`.

    Checks, in order: every named bed type exists here; each one's counts are
    consistent; seq is not more than `MAX_SEQ_JUMP` past the last applied one; then seq
    against the last applied one (duplicate, stale, or applied).
    """
    if not report.beds:
        return error(report.seq, "invalid_report", "beds: must name at least one bed type")
    for name, counts in sorted(report.beds.items()):
        if name not in state.beds:
            have = ", ".join(sorted(state.beds)) or "none"
            return error(
                report.seq,
                "unknown_bed_type",
                f"beds.{name}: this shelter has no such bed type (has {have})",
            )
        if counts.occupied + counts.out_of_service > counts.total:
            return error(
                report.seq,
                "invalid_report",
                f"beds.{name}: occupied + out_of_service ({counts.occupied} + "
                f"{counts.out_of_service}) > total ({counts.total})",
            )
    if report.seq > state.last_seq + MAX_SEQ_JUMP:
        return error(
            report.seq,
            "invalid_report",
            f"seq: {report.seq} is more than {MAX_SEQ_JUMP} past the last applied seq "
            f"{state.last_seq}; number reports on from hello's last_seq",
        )
    if report.seq == state.last_seq:
        return Ack(seq=report.seq, status="duplicate")
    if report.seq < state.last_seq:
        return Ack(seq=report.seq, status="stale")
    changed = {name: _state(counts, state.beds[name].held) for name, counts in report.beds.items()}
    new = ShelterState(
        shelter_id=state.shelter_id, last_seq=report.seq, beds={**state.beds, **changed}
    )
    event = NewEvent(
        shelter_id=state.shelter_id, kind="report", beds=changed, report_seq=report.seq
    )
    return Applied(state=new, event=event, ack=Ack(seq=report.seq, status="applied"))


def _state(counts: BedCounts, held: int) -> BedState:
    return BedState(
        total=counts.total,
        occupied=counts.occupied,
        out_of_service=counts.out_of_service,
        held=held,
    )


def _kind(value: object) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "a number" if isinstance(value, int | float) else "null"
    )


def _short(value: object) -> str:
    # Never echo a container: it may be large or nested deeper than the encoder follows.
    if isinstance(value, dict | list):
        return "{...}" if isinstance(value, dict) else "[...]"
    text = msgspec.json.encode(value).decode()
    return text if len(text) <= 40 else text[:37] + "..."
