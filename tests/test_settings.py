"""Settings come from the environment once, with clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from exchange.settings import SettingsError, from_env


def test_defaults_without_environment() -> None:
    """An empty environment gives the embedded database and documented defaults."""
    s = from_env({})
    assert s.database_url is None and s.data_dir == Path(".haven")
    assert (s.max_frame_bytes, s.stale_after_s, s.min_region_shelters) == (65536, 28800, 3)


def test_environment_and_overrides() -> None:
    """Variables are parsed to their types; explicit overrides win."""
    s = from_env({"HAVEN_PORT": "9001", "HAVEN_ALLOWED_ORIGINS": "http://a, http://b"}, port=9002)
    assert s.port == 9002 and s.allowed_origins == ("http://a", "http://b")


def test_bad_value_is_a_settings_error() -> None:
    """A value of the wrong type names the setting."""
    with pytest.raises(SettingsError, match="port"):
        from_env({"HAVEN_PORT": "eighty"})
