"""Latency thresholds of the suite, scaled by one factor for slow or loaded machines."""

from __future__ import annotations

import os

TIME_FACTOR = float(os.environ.get("HAVEN_TEST_TIME_FACTOR") or 1)
"""Set HAVEN_TEST_TIME_FACTOR > 1 where the machine is slow; every threshold scales by it."""


def within(seconds: float) -> float:
    """A latency threshold in seconds, scaled by HAVEN_TEST_TIME_FACTOR."""
    return seconds * TIME_FACTOR
