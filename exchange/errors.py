"""Every error Haven reports, drawn once.

    HavenError(code, message)        what went wrong, in a code and a sentence that says
     │                               what to do; `status` maps the code to HTTP once
     ├── AuthError                   a token is missing, unknown, revoked or not allowed
     ├── Unavailable                 the database cannot be reached: retry
     ├── ImportFileError             a record of a shelter import file is bad (nothing imported)
     ├── SettingsError               an environment variable holds an unusable value
     ├── MigrationError              migration files or history are inconsistent
     └── CliError                    a command was used wrongly

Messages are lower-case, specific, and quote the offending value; they never hold a
token, a contact token, a ref or an address. The wire's `error` frames carry the same
codes in-band (`schema.wire.Error`); `refuse` turns one into a refused websocket
handshake. The data layer raises these and never sees a web exception.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal

import asyncpg
import msgspec

from schema.wire import Error

ErrorCode = Literal[
    # access
    "missing_token",
    "bad_token",
    "revoked_token",
    "bad_session",
    "forbidden_role",
    "forbidden_region",
    "forbidden_origin",
    "wrong_shelter",
    "not_found",
    # frames and bodies
    "invalid_json",
    "invalid_message",
    "unknown_type",
    "invalid_report",
    "unknown_bed_type",
    "unknown_shelter",
    "counts_changed",
    "frame_too_large",
    "bad_since",
    # placements
    "invalid_request",
    "unknown_offer",
    "no_placement",
    "offer_expired",
    "already_decided",
    "not_accepted",
    "already_ended",
    "duplicate_ref",
    "run_in_progress",
    "conflict",
    # operations
    "unavailable",
    "too_many_connections",
    "internal",
    "invalid_import",
    "bad_setting",
    "migration",
    "usage",
]

STATUS: Mapping[str, int] = {
    "missing_token": 401,
    "bad_token": 401,
    "revoked_token": 401,
    "bad_session": 401,
    "forbidden_role": 403,
    "forbidden_region": 403,
    "forbidden_origin": 403,
    "wrong_shelter": 403,
    "not_found": 404,
    "invalid_json": 400,
    "invalid_message": 400,
    "unknown_type": 400,
    "bad_since": 400,
    "invalid_report": 422,
    "unknown_bed_type": 422,
    "unknown_shelter": 404,
    "counts_changed": 409,
    "frame_too_large": 413,
    "unavailable": 503,
    # placements
    "invalid_request": 400,
    "unknown_offer": 404,
    "no_placement": 404,
    "offer_expired": 409,
    "already_decided": 409,
    "not_accepted": 409,
    "already_ended": 409,
    "duplicate_ref": 409,
    "run_in_progress": 409,
    "conflict": 409,
    "too_many_connections": 429,
    "internal": 500,
}
"""HTTP status for each code; any code not listed is a 400 (the client's request)."""

DB_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    TimeoutError,
)
"""What reaching the database can raise: a lost network, a server error, a dead
connection, one a timeout left mid-operation (asyncpg's InternalClientError: "cannot switch
to state …; another operation is in progress"), a timeout. Callers turn these into
`Unavailable` or a log line."""


def status(code: str) -> int:
    return STATUS.get(code, 400)


class HavenError(Exception):
    """A failure with a machine-readable code and a message for the person who sees it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def status(self) -> int:
        return status(self.code)

    def frame(self, seq: int | None = None) -> Error:
        """This error as the wire's `error` message."""
        return Error(seq=seq, code=self.code, message=self.message)


class AuthError(HavenError):
    """A token was missing, unknown, revoked, or not allowed to do this."""


class Unavailable(HavenError):
    """The database could not be reached; nothing was acknowledged: retry."""

    def __init__(self, message: str) -> None:
        super().__init__("unavailable", message)


class ImportFileError(HavenError):
    """A record of an import file is not a valid shelter; nothing was imported.

    `line` is a line number, or where the record is when a line is not enough
    (`Inventory.csv line 4 (InventoryID I-7)`, `services.json $[2]`).
    """

    def __init__(self, line: int | str, message: str) -> None:
        where = f"line {line}" if isinstance(line, int) else line
        super().__init__("invalid_import", f"{where}: {message}")
        self.line = line


class SettingsError(HavenError):
    """An environment variable holds a value Haven cannot use."""

    def __init__(self, message: str) -> None:
        super().__init__("bad_setting", message)


class MigrationError(HavenError):
    """The migrations directory or the database's migration history is inconsistent."""

    def __init__(self, message: str) -> None:
        super().__init__("migration", message)


class CliError(HavenError):
    """A user-facing command failure: printed as `haven: <message>`, exit code 2."""

    def __init__(self, message: str) -> None:
        super().__init__("usage", message)


_ENCODE = msgspec.json.Encoder()

Send = Callable[[Any], Awaitable[None]]


async def refuse(send: Send, scope: Mapping[str, Any], error: HavenError) -> None:
    """Refuse a websocket handshake with the error's HTTP status and an `error` body.

    Servers without the websocket denial extension get a close before accept instead
    (code 4000 + status), which clients see as a failed handshake.
    """
    if "websocket.http.response" in (scope.get("extensions") or {}):
        body = _ENCODE.encode(error.frame())
        await send(
            {
                "type": "websocket.http.response.start",
                "status": error.status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "websocket.http.response.body", "body": body, "more_body": False})
    else:
        await send({"type": "websocket.close", "code": 4000 + error.status, "reason": ""})
