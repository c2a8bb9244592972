"""Logs are JSON lines and never carry a token or a contact token."""

from __future__ import annotations

import json
import logging

from exchange.ops.logs import JsonFormatter, scrub


def test_scrub_removes_tokens_and_contact_tokens() -> None:
    """Haven tokens and contact tokens are replaced wherever they appear."""
    assert scrub("tok hvn_AbC-12_x contact c000017 shelter s00001") == (
        "tok [redacted] contact [redacted] shelter s00001"
    )


def test_formatter_writes_json_with_extra_fields_scrubbed() -> None:
    """Extra fields are kept, secrets in them are scrubbed, output is one JSON object."""
    record = logging.makeLogRecord(
        {
            "name": "haven.t",
            "levelno": 20,
            "levelname": "INFO",
            "msg": "hello %s",
            "args": ("hvn_secret",),
            "shelter": "s00002",
            "why": "c123456",
        }
    )
    entry = json.loads(JsonFormatter().format(record))
    assert entry["msg"] == "hello [redacted]" and entry["shelter"] == "s00002"
    assert entry["why"] == "[redacted]" and entry["level"] == "info"


def test_refused_handshake_noise_is_filtered() -> None:
    """uvicorn's error for a handshake denied with an HTTP response is not logged."""
    from exchange.ops.logs import _not_denial_noise

    noise = logging.makeLogRecord({"msg": "ASGI callable returned without completing handshake."})
    other = logging.makeLogRecord({"msg": "Exception in ASGI application\n"})
    assert not _not_denial_noise(noise) and _not_denial_noise(other)
