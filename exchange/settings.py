"""Haven's settings: one frozen Struct, read from the environment once by the CLI."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import msgspec

from exchange.errors import SettingsError


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    database_url: str | None = None
    """PostgreSQL DSN; None starts the embedded server in `data_dir`."""
    data_dir: Path = Path(".haven")
    host: str = "127.0.0.1"
    port: int = 8000
    max_frame_bytes: int = 64 * 1024
    heartbeat_s: int = 20
    stale_after_s: int = 8 * 3600
    min_region_shelters: int = 3
    """Regions with fewer shelters are sent `suppressed` to viewer tokens."""
    batch_max: int = 256
    """Most reports committed in one transaction by the ingest writer."""
    batch_wait_ms: float = 2.0
    """How long the writer lingers for more reports once a batch has started."""
    history_events: int = 100_000
    """Bed events kept for dashboard resume; older ones are pruned."""
    coalesce_ms: Annotated[int, msgspec.Meta(ge=0, le=250)] = 100
    """Dashboard updates to a region are sent at most once per this window (never above
    the contract's 250 ms), latest state winning."""
    allowed_origins: tuple[str, ...] = ()
    """Extra Origin values allowed on browser websockets (same-origin is always allowed)."""
    header_timeout_s: Annotated[float, msgspec.Meta(gt=0)] = 10.0
    """A request — its head (a websocket's handshake) and body — must arrive within this
    many seconds of connecting or of its first byte; else 408 and the connection closes."""
    log_level: str = "INFO"


_ENV: dict[str, str] = {
    "DATABASE_URL": "database_url",
    "HAVEN_DATA_DIR": "data_dir",
    "HAVEN_HOST": "host",
    "HAVEN_PORT": "port",
    "HAVEN_MAX_FRAME_BYTES": "max_frame_bytes",
    "HAVEN_HEARTBEAT_S": "heartbeat_s",
    "HAVEN_STALE_AFTER_S": "stale_after_s",
    "HAVEN_MIN_REGION_SHELTERS": "min_region_shelters",
    "HAVEN_BATCH_MAX": "batch_max",
    "HAVEN_BATCH_WAIT_MS": "batch_wait_ms",
    "HAVEN_HISTORY_EVENTS": "history_events",
    "HAVEN_COALESCE_MS": "coalesce_ms",
    "HAVEN_ALLOWED_ORIGINS": "allowed_origins",
    "HAVEN_HEADER_TIMEOUT_S": "header_timeout_s",
    "HAVEN_LOG_LEVEL": "log_level",
}


def _dec_hook(type_: type, value: object) -> object:
    # msgspec does not build a Path from a str, even with strict=False.
    if type_ is Path and isinstance(value, str):
        return Path(value)
    raise NotImplementedError(f"cannot convert to {type_}")


def from_env(env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Build Settings from HAVEN_* variables (and DATABASE_URL), then apply overrides."""
    env = os.environ if env is None else env
    raw: dict[str, object] = {}
    for var, field in _ENV.items():
        value = env.get(var)
        if value is None or value == "":
            continue
        raw[field] = (
            [o.strip() for o in value.split(",") if o.strip()]
            if field == "allowed_origins"
            else value
        )
    raw.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return msgspec.convert(raw, Settings, strict=False, dec_hook=_dec_hook)
    except msgspec.ValidationError as exc:
        raise SettingsError(f"bad setting: {exc}") from None
