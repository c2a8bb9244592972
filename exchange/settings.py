"""Haven's settings: one frozen Struct, read from the environment once by the CLI."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal

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
    """Regions with fewer contributing (not stale) shelters are sent `suppressed` to viewer
    tokens, and to planner tokens when one of them is confidential."""
    confidential_interval_s: Annotated[int, msgspec.Meta(ge=1, le=3600)] = 60
    """A region with a contributing confidential shelter is updated at most this often
    (except for admin tokens)."""
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
    max_connections_per_token: Annotated[int, msgspec.Meta(ge=1)] = 8
    """Open `/ws/shelter` connections one shelter token may hold; more are refused (429)."""
    max_connections_per_address: Annotated[int, msgspec.Meta(ge=1)] = 1000
    """Open websockets (either channel) one client address may hold; more are refused (429)."""
    metrics_token: str | None = None
    """When set, `/metrics` answers only `Authorization: Bearer <this>`."""
    log_level: str = "INFO"
    match_every_s: Annotated[float, msgspec.Meta(ge=0)] = 300.0
    """Scheduled matching runs per region with open requests (0 turns them off)."""
    match_horizon_days: Annotated[int, msgspec.Meta(ge=0, le=365)] = 21
    """Requests releasing within this many days are matched."""
    match_time_limit_s: Annotated[float, msgspec.Meta(gt=0)] = 20.0
    match_workers: Annotated[int, msgspec.Meta(ge=1, le=64)] = 2
    match_executor: Literal["process", "thread"] = "process"
    """Where the solver runs off the event loop: a worker process (default) or thread."""
    offer_lifetime_s: Annotated[float, msgspec.Meta(gt=0)] = 24 * 3600.0
    """An offer not answered within this expires and its bed is released."""
    no_show_grace_days: Annotated[int, msgspec.Meta(ge=0, le=60)] = 2
    """An accepted offer with no arrival by release date + this becomes a no-show."""
    sweep_every_s: Annotated[float, msgspec.Meta(gt=0)] = 30.0
    """How often each process looks for expired offers and no-shows."""
    alert_bed_days: Annotated[int, msgspec.Meta(ge=0, le=365)] = 7
    """A request with no accepted bed this many days before release is at risk (`no_bed`)."""
    alert_pickup_days: Annotated[int, msgspec.Meta(ge=0, le=365)] = 2
    """…with no pickup arranged this many days before release (`no_pickup`)."""
    alert_offer_s: Annotated[float, msgspec.Meta(ge=0)] = 6 * 3600.0
    """…with an unanswered offer expiring within this many seconds (`offer_expiring`)."""
    alert_every_s: Annotated[float, msgspec.Meta(gt=0)] = 15.0
    """How often at-risk reasons are re-evaluated and changes announced (one process)."""
    webhook_timeout_s: Annotated[float, msgspec.Meta(gt=0, le=60)] = 5.0
    """A webhook that does not answer within this is tried again later."""
    webhook_attempts: Annotated[int, msgspec.Meta(ge=1, le=100)] = 12
    """Attempts per delivery (backoff 5 s doubling to at most 1 h) before giving up."""
    retention_days: Annotated[int, msgspec.Meta(ge=1, le=3650)] = 30
    """A request that ended (arrived, withdrawn, no-show) is purged this many days later."""
    stay_days: Annotated[int, msgspec.Meta(ge=1, le=3650)] = 730
    """The longest stay a shelter allows: an arrived woman counts as a resident (her
    contacts keep others apart, rule 6) this long, so her request is purged no sooner than
    this many days after she arrived (or `retention_days`, if longer). 730 is HUD's
    24-month limit on transitional housing."""


_ENV: dict[str, str] = {
    "DATABASE_URL": "database_url",
    "HAVEN_DATA_DIR": "data_dir",
    "HAVEN_HOST": "host",
    "HAVEN_PORT": "port",
    "HAVEN_MAX_FRAME_BYTES": "max_frame_bytes",
    "HAVEN_HEARTBEAT_S": "heartbeat_s",
    "HAVEN_STALE_AFTER_S": "stale_after_s",
    "HAVEN_MIN_REGION_SHELTERS": "min_region_shelters",
    "HAVEN_CONFIDENTIAL_INTERVAL_S": "confidential_interval_s",
    "HAVEN_BATCH_MAX": "batch_max",
    "HAVEN_BATCH_WAIT_MS": "batch_wait_ms",
    "HAVEN_HISTORY_EVENTS": "history_events",
    "HAVEN_COALESCE_MS": "coalesce_ms",
    "HAVEN_ALLOWED_ORIGINS": "allowed_origins",
    "HAVEN_HEADER_TIMEOUT_S": "header_timeout_s",
    "HAVEN_MAX_CONNECTIONS_PER_TOKEN": "max_connections_per_token",
    "HAVEN_MAX_CONNECTIONS_PER_ADDRESS": "max_connections_per_address",
    "HAVEN_METRICS_TOKEN": "metrics_token",
    "HAVEN_LOG_LEVEL": "log_level",
    "HAVEN_MATCH_EVERY_S": "match_every_s",
    "HAVEN_MATCH_HORIZON_DAYS": "match_horizon_days",
    "HAVEN_MATCH_TIME_LIMIT_S": "match_time_limit_s",
    "HAVEN_MATCH_WORKERS": "match_workers",
    "HAVEN_MATCH_EXECUTOR": "match_executor",
    "HAVEN_OFFER_LIFETIME_S": "offer_lifetime_s",
    "HAVEN_NO_SHOW_GRACE_DAYS": "no_show_grace_days",
    "HAVEN_SWEEP_EVERY_S": "sweep_every_s",
    "HAVEN_ALERT_BED_DAYS": "alert_bed_days",
    "HAVEN_ALERT_PICKUP_DAYS": "alert_pickup_days",
    "HAVEN_ALERT_OFFER_S": "alert_offer_s",
    "HAVEN_ALERT_EVERY_S": "alert_every_s",
    "HAVEN_WEBHOOK_TIMEOUT_S": "webhook_timeout_s",
    "HAVEN_WEBHOOK_ATTEMPTS": "webhook_attempts",
    "HAVEN_RETENTION_DAYS": "retention_days",
    "HAVEN_STAY_DAYS": "stay_days",
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
