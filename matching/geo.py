"""Great-circle distance, exactly as the contract defines it."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

EARTH_RADIUS_KM = 6371.0088
TOLERANCE_KM = 1e-6
"""Slack on the boundary comparisons of rules 3 and 5."""

Floats = npt.NDArray[np.float64]


def haversine(lat1: Floats, lon1: Floats, lat2: Floats, lon2: Floats) -> Floats:
    """Distance in km between broadcastable arrays of points in decimal degrees."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp = p2 - p1
    dl = np.radians(lon2) - np.radians(lon1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.minimum(a, 1.0))))


def distance(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Distance in km between two points, in plain floats (the checker's own version)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2) - math.radians(lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(a, 1.0)))


def km_cost(d: float) -> int:
    """The distance cost of one placement: `floor(d + 0.5)`."""
    return math.floor(d + 0.5)
