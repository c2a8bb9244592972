"""Logs are JSON lines and never carry a token or a contact token."""

from __future__ import annotations

import json
import logging

from exchange.logs import JsonFormatter, scrub


def test_scrub_removes_tokens_and_contact_tokens() -> None:
    """Haven tokens and contact tokens are replaced wherever they appear."""
    assert scrub("tok hvn_AbC-12_x contact c000017 shelter s00001") == (
        "tok [redacted] contact [redacted] shelter s00001"
    )


def test_formatter_writes_json_with_extra_fields_scrubbed() -> None:
    """Extra fields are kept, secrets in them are scrubbed, output is one JSON object."""
    record = logging.makeLogRecord(
        {"name": "haven.t", "levelno": 20, "levelname": "INFO", "msg": "hello %s",
         "args": ("hvn_secret",), "shelter": "s00002", "why": "c123456"}
    )
    entry = json.loads(JsonFormatter().format(record))
    assert entry["msg"] == "hello [redacted]" and entry["shelter"] == "s00002"
    assert entry["why"] == "[redacted]" and entry["level"] == "info"
