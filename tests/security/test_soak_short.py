"""A short soak (`bench/soak.py` for one minute, small): nothing acked is lost, the rate
is held, and the server's memory and file descriptors stay flat."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.mark.slow
def test_a_one_minute_soak_loses_nothing_and_does_not_grow() -> None:
    """1 minute at 50 reports/s from 30 shelters with 5 dashboards: lost 0, every
    interval near the rate, RSS within 20 MB and fds within 20 of the first sample."""
    done = subprocess.run(
        [
            sys.executable,
            "bench/soak.py",
            *("--minutes", "1", "--every", "15", "--rate", "50"),
            *("--shelters", "30", "--dashboards", "5"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert re.search(r"\blost 0;", done.stdout) and "unanswered 0;" in done.stdout
    lines = re.findall(r"rss +([\d.]+) MB +fds +(\d+) \| applied +(\d+)", done.stdout)
    assert len(lines) >= 3, done.stdout
    rss = [float(r) for r, _, _ in lines]
    fds = [int(f) for _, f, _ in lines]
    # The whole output on failure: each line says what the load sent and what is
    # unanswered, and a short interval adds the server log's last lines.
    assert all(int(a) >= 0.8 * 50 * 15 for _, _, a in lines[:-1]), done.stdout[-6000:]
    assert max(rss) - rss[0] < 20 and max(fds) - fds[0] < 20, done.stdout[-6000:]
